"""Issue 7, "fail closed" (the model, prediction and cache side): a gate never passes on garbage,
a crash never reads as a pass, bad input never ends in INTERNALERROR. One regression test (or
more) per item, each failing on the code before the fix; tiny BERTs and CSV data, no network."""

from __future__ import annotations

import json
import shutil
import sys
import time

import numpy as np
import pytest
from conftest import NEGATIVE, POSITIVE, write_csv
from test_demo import tiny_demo  # noqa: F401  (the demo builder on a tiny BERT)
from tiny import tiny_bert, tiny_tokenizer

from loyalty_tests import cache, demo, models
from loyalty_tests.cache import fingerprint
from loyalty_tests.data import load_dataset
from loyalty_tests.errors import LoyaltyCacheWarning, LoyaltyError
from loyalty_tests.loyalty_report import compare_predictions
from loyalty_tests.models import CallableClassifier, HFClassifier
from loyalty_tests.predictions import predict
from loyalty_tests.specs import ModelOptions, load_model


class Fixed:
    """A predict_proba object returning fixed rows (cycled), counting its calls."""

    def __init__(self, rows):
        self.rows = np.asarray(rows, dtype=float)
        self.calls = 0

    def predict_proba(self, texts):
        self.calls += 1
        return np.resize(self.rows, (len(texts), self.rows.shape[1]))


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Whatever reads the default cache folder reads this one, never the user's."""
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "env-cache"))
    return tmp_path / "env-cache"


@pytest.fixture
def data(sentiment_csv):
    return load_dataset(str(sentiment_csv))


def cached_files(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock")) if folder.exists() else []


# ---- 1. a negative batch size scored uninitialised memory and cached it ---------------------------

@pytest.mark.parametrize("field, value", [("batch_size", -1), ("batch_size", 0), ("max_length", 1)])
def test_batch_size_and_max_length_out_of_range_are_refused_naming_the_value(tmp_path, field, value):
    with pytest.raises(LoyaltyError, match=rf"{field} must be a whole number >= \d.*got {value}"):
        HFClassifier(tiny_bert(), tiny_tokenizer(tmp_path), "tiny", **{field: value})


def test_a_negative_batch_size_through_the_spec_scores_nothing_and_caches_nothing(tiny_dir, tmp_path):
    with pytest.raises(LoyaltyError, match="batch_size.*-1"):
        load_model(str(tiny_dir), options=ModelOptions(batch_size=-1, cache_dir=tmp_path / "cache"))
    assert cached_files(tmp_path / "cache") == []


def test_a_batch_size_changed_after_loading_never_yields_garbage_or_a_cache_entry(tiny_hf, data, tmp_path):
    tiny_hf.batch_size = -1  # what --loyalty-batch-size -1 did before options were checked
    with pytest.raises(LoyaltyError, match="batch_size.*-1"):
        predict(tiny_hf, data, cache_dir=tmp_path / "cache")
    assert cached_files(tmp_path / "cache") == []


def test_a_row_no_batch_filled_is_named_not_scored(tiny_hf, monkeypatch):
    real = models._tokenized_batches

    def all_but_the_last_batch(*args):
        return list(real(*args))[:-1]

    monkeypatch.setattr(models, "_tokenized_batches", all_but_the_last_batch)
    with pytest.raises(LoyaltyError, match=r"left 2 rows \(first: row \d+\) of 6 unscored"):
        tiny_hf.predict_proba(["a", "bb", "ccc", "dddd", "eeeee", "ffffff"])  # batch_size 4: batches of 4 and 2


# ---- 5. a cache file is verified against its key ---------------------------------------------------

def test_a_prediction_file_of_another_model_is_not_served(data, tmp_path):
    a = CallableClassifier(Fixed([[0.9, 0.1]]), "a", ("negative", "positive"), fingerprint="model-a")
    b_source = Fixed([[0.2, 0.8]])
    b = CallableClassifier(b_source, "b", ("negative", "positive"), fingerprint="model-b")
    predict(a, data, cache_dir=tmp_path)
    a_file = tmp_path / "predictions" / f"{fingerprint('predictions', 'model-a', data.fingerprint)}.npz"
    b_file = a_file.with_name(f"{fingerprint('predictions', 'model-b', data.fingerprint)}.npz")
    shutil.copy(a_file, b_file)  # a valid file, placed under b's key
    with pytest.warns(LoyaltyCacheWarning, match=rf"{b_file.name} belongs to another entry"):
        served = predict(b, data, cache_dir=tmp_path)
    assert not served.from_cache and b_source.calls == 1
    np.testing.assert_allclose(served.probabilities[:, 1], 0.8)
    again = predict(b, data, cache_dir=tmp_path)  # the file was replaced by b's own
    assert again.from_cache and b_source.calls == 1
    np.testing.assert_allclose(again.probabilities, served.probabilities)


def test_a_student_file_of_another_key_is_not_loaded(tmp_path):
    from loyalty_tests.compress.student_cache import CACHE_DIR, load_or_train

    token = CACHE_DIR.set(tmp_path)
    try:
        load_or_train(tiny_bert(seed=1), "k" * 64, lambda: None)
        first = tmp_path / "students" / f"{'k' * 32}.safetensors"
        second = first.with_name(f"{'j' * 32}.safetensors")
        shutil.copy(first, second)  # seed-1 weights under another student's key
        model, trained = tiny_bert(seed=2), []
        with pytest.warns(LoyaltyCacheWarning, match=rf"{second.name} belongs to another entry"):
            load_or_train(model, "j" * 64, lambda: trained.append(True))
        assert trained == [True]
        assert (model.classifier.weight == tiny_bert(seed=2).classifier.weight).all()
    finally:
        CACHE_DIR.reset(token)


@pytest.mark.parametrize("damage", ["another key", "no key", "bad JSON", "corrupt weights"])
def test_a_demo_teacher_folder_that_does_not_verify_is_rebuilt(tiny_demo, damage):  # noqa: F811
    folder = demo.build_demo_teacher(tiny_demo, progress=lambda message: None)
    info_file, weights = folder / "demo.json", folder / "model.safetensors"
    info = demo.read_demo_info(folder)
    if damage == "corrupt weights":
        damaged(weights, "truncated")
    elif damage == "bad JSON":
        info_file.write_text('{"held_out_accuracy": 0.8')
    else:
        info_file.write_text(json.dumps({**info, "key": "0" * 64} if damage == "another key" else
                                        {k: v for k, v in info.items() if k != "key"}))
    messages = []
    with pytest.warns(LoyaltyCacheWarning, match=rf"{folder}"):
        teacher = demo.load_demo_teacher(tiny_demo, progress=messages.append)
    assert any(message.startswith("building demo teacher") for message in messages)
    assert demo.read_demo_info(folder)["key"] == info["key"]
    assert teacher.predict_proba(["a good movie"]).shape == (1, 2)


def test_a_read_only_cache_builds_the_demo_teacher_outside_it(tiny_demo, read_only):  # noqa: F811
    read_only(tiny_demo)
    with pytest.warns(LoyaltyCacheWarning, match="cannot be written"):
        teacher = demo.load_demo_teacher(tiny_demo, progress=lambda message: None)
    assert teacher.predict_proba(["a good movie"]).shape == (1, 2) and cached_files(tiny_demo) == []


@pytest.mark.parametrize("damage", ["another key", "corrupt model"])
def test_an_onnx_int8_folder_that_does_not_verify_is_rebuilt(tiny_hf, tmp_path, damage):
    pytest.importorskip("onnxruntime")
    from loyalty_tests.compress import compress

    first = compress(tiny_hf, "onnx-int8", cache_dir=tmp_path, progress=lambda message: None)
    folder = cache.Path(first.path).parent
    if damage == "another key":
        (folder / "student.json").write_text(json.dumps({"key": "0" * 64}))
    else:
        damaged(folder / "model-int8.onnx", "truncated")
    with pytest.warns(LoyaltyCacheWarning, match=rf"{folder}"):
        again = compress(tiny_hf, "onnx-int8", cache_dir=tmp_path, progress=lambda message: None)
    assert json.loads((folder / "student.json").read_text())["key"] == first.fingerprint
    np.testing.assert_allclose(again.predict_proba(["a good movie"]), first.predict_proba(["a good movie"]), atol=1e-6)


# ---- 6. a path typo never becomes a hub download ---------------------------------------------------

def hub_forbidden(monkeypatch):
    import transformers

    def refuse(*args, **kwargs):
        raise AssertionError(f"went to transformers/the hub with {args}")

    for name in ("AutoTokenizer", "AutoModelForSequenceClassification"):
        monkeypatch.setattr(getattr(transformers, name), "from_pretrained", refuse)


def test_a_missing_folder_under_an_existing_one_is_a_path_not_a_hub_id(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    hub_forbidden(monkeypatch)
    with pytest.raises(LoyaltyError, match=r"model path 'models/my-student' does not exist.*relative to"):
        load_model("models/my-student")


@pytest.mark.parametrize("offline", [False, True], ids=["endpoint-unreachable", "HF_HUB_OFFLINE"])
def test_a_hub_id_offline_fails_within_seconds_naming_both_readings(tmp_path, monkeypatch, offline):
    import transformers

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    if offline:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    calls = []
    real = transformers.AutoTokenizer.from_pretrained.__func__

    def spy(cls, *args, **kwargs):
        calls.append(kwargs)
        return real(cls, *args, **kwargs)

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", classmethod(spy))
    start = time.monotonic()
    with pytest.raises(LoyaltyError) as error:
        load_model("no-such-org/no-such-model")
    assert time.monotonic() - start < 20  # before: most of a minute of transformers' retries
    text = str(error.value)
    assert f"not a local folder: {tmp_path / 'no-such-org' / 'no-such-model'} does not exist" in text
    assert "as a hub model id it needs network" in text and "127.0.0.1" in text
    assert ("HF_HUB_OFFLINE" in text) == offline
    assert calls and all(call.get("local_files_only") for call in calls)  # only the local HF cache was tried


def closed_port() -> int:
    import socket

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_reachability_check_says_yes_to_a_listening_endpoint_and_no_to_a_closed_one(monkeypatch):
    import socket

    from loyalty_tests.network import hub_unreachable_reason

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
        assert hub_unreachable_reason(timeout=3) is None
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed_port()}")
    assert "no connection to 127.0.0.1" in hub_unreachable_reason(timeout=3)


# ---- 7. trained students follow --loyalty-cache-dir and --loyalty-no-cache -------------------------

def test_a_trained_student_lands_in_the_given_cache_dir_and_nowhere_else(tiny_hf, data, tmp_path, private_cache):
    options = ModelOptions(cache_dir=tmp_path / "given", train_data=data, progress=lambda message: None)
    load_model("distill:layers=1,epochs=1", teacher=tiny_hf, options=options)
    assert [p.suffix for p in (tmp_path / "given" / "students").iterdir() if p.is_file()
            and not p.name.endswith(".lock")] == [".safetensors"]
    assert cached_files(private_cache) == []


def test_no_cache_trains_afresh_and_writes_nothing(tiny_hf, data, tmp_path, private_cache):
    messages = []
    options = ModelOptions(cache_dir=tmp_path / "given", use_cache=False, train_data=data, progress=messages.append)
    first = load_model("distill:layers=1,epochs=1", teacher=tiny_hf, options=options)
    second = load_model("distill:layers=1,epochs=1", teacher=tiny_hf, options=options)
    assert cached_files(tmp_path / "given") == [] and cached_files(private_cache) == []
    assert not any("loading trained student" in message for message in messages)
    np.testing.assert_allclose(first.predict_proba(["a good movie"]), second.predict_proba(["a good movie"]))


def test_bench_cache_dir_and_no_cache_reach_the_students(tmp_path, private_cache):
    from tiny import save_tiny_bert

    from loyalty_tests import bench

    save_tiny_bert(tmp_path / "teacher")
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(tmp_path / "dev.csv", rows)
    common = ["--teacher", str(tmp_path / "teacher"), "--data", str(tmp_path / "dev.csv"), "--train-data",
              str(tmp_path / "dev.csv"), "--recipes", "distill:layers=1", "--latency-rounds", "1",
              "--out", str(tmp_path / "out")]
    assert bench.main([*common, "--cache-dir", str(tmp_path / "none"), "--no-cache"]) == 0
    assert cached_files(tmp_path / "none") == [] and cached_files(private_cache) == []
    assert bench.main([*common, "--cache-dir", str(tmp_path / "given")]) == 0
    assert len(list((tmp_path / "given" / "students").glob("*.safetensors"))) == 1
    assert cached_files(private_cache) == []


# ---- 10. a user's factory or model that raises is named, not an INTERNALERROR ----------------------

def broken_factory():
    raise RuntimeError("weights not found on the share")


class RaisingModel:
    label_names = ("negative", "positive")

    def predict_proba(self, texts):
        raise ZeroDivisionError("bug in the user's predict_proba")


def raising_model():
    return RaisingModel()


@pytest.fixture
def this_module_as(monkeypatch):
    monkeypatch.setitem(sys.modules, "fail_closed_factories", sys.modules[__name__])


def test_a_factory_that_raises_names_the_spec_and_the_exception(this_module_as):
    with pytest.raises(LoyaltyError, match=r"'fail_closed_factories:broken_factory' raised RuntimeError: "
                                           "weights not found") as error:
        load_model("fail_closed_factories:broken_factory")
    assert isinstance(error.value.__cause__, RuntimeError)


def test_a_model_whose_predict_proba_raises_is_named(this_module_as, data):
    model = load_model("fail_closed_factories:raising_model")
    with pytest.raises(LoyaltyError, match=r"model 'fail_closed_factories:raising_model' raised ZeroDivisionError "
                                           "while predicting 36 examples") as error:
        predict(model, data)
    assert isinstance(error.value.__cause__, ZeroDivisionError)


# ---- 11. max_length above the model's position limit ----------------------------------------------

def test_max_length_above_the_position_limit_is_refused_with_the_limit(tiny_dir):
    with pytest.raises(LoyaltyError, match=r"max_length 1024 is above model .* limit of 128 tokens.*"
                                           r"--loyalty-max-length 128 or less"):
        load_model(str(tiny_dir), options=ModelOptions(max_length=1024))
    at_the_limit = load_model(str(tiny_dir), options=ModelOptions(max_length=128))
    assert at_the_limit.predict_proba(["a very long text " * 60]).shape == (1, 2)


# ---- 14. negative entries are named as such --------------------------------------------------------

def test_negative_probabilities_are_named_by_row(data):
    rows = [[0.5, 0.5], [1.5, -0.5], [0.5, 0.5], [-0.25, 1.25]]  # every row sums to 1
    model = CallableClassifier(Fixed(rows), "logit-ish", ("negative", "positive"))
    with pytest.raises(LoyaltyError, match=r"model 'logit-ish' has negative values in 18 rows \(first: row 1\)"):
        predict(model, data)


# ---- 15. data with a subset of the model's labels --------------------------------------------------

@pytest.fixture
def positives_only(tmp_path):
    return load_dataset(str(write_csv(tmp_path / "positive.csv", [(text, "positive") for text in POSITIVE])))


def test_data_with_a_subset_of_the_labels_keeps_the_models_full_label_set(positives_only):
    model = CallableClassifier(Fixed([[0.7, 0.3], [0.2, 0.8]]), "m", ("negative", "positive"))
    predictions = predict(model, positives_only)
    assert predictions.label_names == ("positive", "negative")  # the data's labels first: its indices hold
    np.testing.assert_allclose(predictions.probabilities[:2], [[0.3, 0.7], [0.8, 0.2]])
    assert positives_only.label_names[positives_only.labels[0]] == predictions.label_names[0]


def test_the_extra_labels_come_in_one_order_whatever_the_models_order(positives_only):
    teacher = CallableClassifier(Fixed([[0.1, 0.6, 0.3]]), "t", ("neutral", "positive", "negative"))
    student = CallableClassifier(Fixed([[0.3, 0.1, 0.6]]), "s", ("negative", "neutral", "positive"))
    a, b = predict(teacher, positives_only), predict(student, positives_only)
    assert a.label_names == b.label_names == ("positive", "negative", "neutral")
    np.testing.assert_allclose(a.probabilities, b.probabilities)
    report = compare_predictions(positives_only, a, b, n_resamples=50)
    assert report.metrics["label_loyalty"].value == 1.0 and report.label_names == a.label_names


def test_a_label_the_model_does_not_know_is_named(data):
    model = CallableClassifier(Fixed([[0.5, 0.5]]), "m", ("negative", "neutral"))
    with pytest.raises(LoyaltyError, match=r"data .* has labels that model 'm' does not know: \['positive'\]"):
        predict(model, data)


def test_teacher_and_student_with_different_label_sets_name_both(positives_only):
    teacher = CallableClassifier(Fixed([[0.4, 0.6]]), "t", ("negative", "positive"))
    student = CallableClassifier(Fixed([[0.4, 0.6]]), "s", ("neutral", "positive"))
    with pytest.raises(LoyaltyError, match=r"teacher 't' has labels \['negative', 'positive'\] but student 's' "
                                           r"has \['neutral', 'positive'\]"):
        compare_predictions(positives_only, predict(teacher, positives_only), predict(student, positives_only))


def test_the_label_distribution_gate_sees_a_student_collapsing_onto_an_extra_label(positives_only):
    from loyalty_tests.gate_checks import gate_label_distribution
    from loyalty_tests.thresholds import Threshold

    teacher = predict(CallableClassifier(Fixed([[0.2, 0.8]]), "t", ("negative", "positive")), positives_only)
    student = predict(CallableClassifier(Fixed([[0.9, 0.1]]), "s", ("negative", "positive")), positives_only)
    report = compare_predictions(positives_only, teacher, student, n_resamples=50)
    result = gate_label_distribution(teacher.predicted_labels, student.predicted_labels, report.label_names,
                                     Threshold("min_label_share_ratio", 0.5, "test"))
    assert not result.passed and "label 'positive'" in result.message
    same = gate_label_distribution(teacher.predicted_labels, teacher.predicted_labels, report.label_names,
                                   Threshold("min_label_share_ratio", 0.5, "test"))
    assert same.passed


# ---- 9. corrupt, truncated or empty cache files; read-only and vanishing cache folders -------------

def damaged(path, how: str) -> None:
    content = path.read_bytes()
    path.write_bytes({"empty": b"", "garbage": b"not a cache file at all", "truncated": content[: len(content) // 2]}[how])


DAMAGE = ["empty", "garbage", "truncated"]


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_prediction_file_is_recomputed_and_replaced(data, tmp_path, how):
    source = Fixed([[0.7, 0.3]])
    model = CallableClassifier(source, "m", ("negative", "positive"), fingerprint="abc")
    expected = predict(model, data, cache_dir=tmp_path).probabilities
    [entry] = (tmp_path / "predictions").glob("*.npz")
    damaged(entry, how)
    with pytest.warns(LoyaltyCacheWarning, match=rf"cache file .*{entry.name} is unreadable"):
        again = predict(model, data, cache_dir=tmp_path)
    np.testing.assert_array_equal(again.probabilities, expected)
    third = predict(model, data, cache_dir=tmp_path)
    assert third.from_cache and source.calls == 2


@pytest.mark.parametrize("how", DAMAGE)
def test_a_damaged_student_file_is_retrained_and_replaced(tmp_path, how):
    from loyalty_tests.compress.student_cache import CACHE_DIR, load_or_train

    token = CACHE_DIR.set(tmp_path)
    try:
        load_or_train(tiny_bert(seed=1), "k" * 64, lambda: None)
        [entry] = (tmp_path / "students").glob("*.safetensors")
        damaged(entry, how)
        trained = []
        with pytest.warns(LoyaltyCacheWarning, match=rf"{entry.name} is unreadable"):
            load_or_train(tiny_bert(seed=1), "k" * 64, lambda: trained.append(True))
        model = tiny_bert(seed=3)
        load_or_train(model, "k" * 64, lambda: trained.append(True))  # the replaced file serves
        assert trained == [True] and (model.classifier.weight == tiny_bert(seed=1).classifier.weight).all()
    finally:
        CACHE_DIR.reset(token)


@pytest.fixture
def read_only(tmp_path):
    """Folders made read-only for real: chmod for a user; for root (whom chmod does not stop),
    the immutable flag; skipped where neither is possible."""
    import os
    import subprocess

    made = []

    def make(folder):
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            folder.chmod(0o555)
        elif shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
            pytest.skip("cannot make a folder read-only for root here (no chattr +i)")
        made.append(folder)
        return folder

    yield make
    for folder in made:
        folder.chmod(0o755) if os.geteuid() != 0 else subprocess.run(["chattr", "-i", str(folder)])


def test_a_read_only_cache_folder_runs_without_the_cache(data, tmp_path, read_only):
    model = CallableClassifier(Fixed([[0.7, 0.3]]), "m", ("negative", "positive"), fingerprint="abc")
    folder = read_only(tmp_path / "cache")
    with pytest.warns(LoyaltyCacheWarning, match="cannot be written; running without the cache"):
        predictions = predict(model, data, cache_dir=folder)
    np.testing.assert_allclose(predictions.probabilities[:, 0], 0.7)
    assert cached_files(folder) == []


def test_a_read_only_cache_still_serves_its_good_entries(data, tmp_path, read_only):
    source = Fixed([[0.7, 0.3]])
    model = CallableClassifier(source, "m", ("negative", "positive"), fingerprint="abc")
    predict(model, data, cache_dir=tmp_path)
    read_only(tmp_path / "predictions")
    assert predict(model, data, cache_dir=tmp_path).from_cache and source.calls == 1


def test_a_read_only_cache_trains_students_without_it(tmp_path, read_only):
    from loyalty_tests.compress.student_cache import CACHE_DIR, load_or_train

    token = CACHE_DIR.set(read_only(tmp_path / "cache"))
    try:
        trained = []
        with pytest.warns(LoyaltyCacheWarning, match="cannot be written"):
            load_or_train(tiny_bert(), "k" * 64, lambda: trained.append(True))
        assert trained == [True] and cached_files(tmp_path / "cache") == []
    finally:
        CACHE_DIR.reset(token)


def test_a_cache_folder_removed_during_the_write_does_not_crash(data, tmp_path, monkeypatch):
    model = CallableClassifier(Fixed([[0.7, 0.3]]), "m", ("negative", "positive"), fingerprint="abc")
    real_replace = cache.os.replace

    def remove_folder_first(source, target):
        shutil.rmtree(tmp_path / "predictions")  # e.g. `rm -rf ~/.cache/loyalty_tests` meanwhile
        return real_replace(source, target)

    monkeypatch.setattr(cache.os, "replace", remove_folder_first)
    with pytest.warns(LoyaltyCacheWarning, match="could not write cache file"):
        predictions = predict(model, data, cache_dir=tmp_path)
    np.testing.assert_allclose(predictions.probabilities[:, 0], 0.7)


def test_old_orphans_go_and_young_ones_stay(data, tmp_path):
    import os

    folder = tmp_path / "predictions"
    folder.mkdir()
    old, young = folder / ".x.npz.abc.tmp", folder / ".y.npz.def.tmp"
    old.write_bytes(b"left by a killed writer")
    young.write_bytes(b"another worker, writing now")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    predict(CallableClassifier(Fixed([[0.7, 0.3]]), "m", ("negative", "positive"), fingerprint="abc"),
            data, cache_dir=tmp_path)
    assert not old.exists() and young.exists()


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from loyalty_tests.data import load_dataset
from loyalty_tests.models import CallableClassifier
from loyalty_tests.predictions import predict

class Rows:
    def predict_proba(self, texts):
        return np.resize([[0.9, 0.1], [0.35, 0.65], [0.6, 0.4]], (len(texts), 2))

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

real_fdopen = os.fdopen

class HalfThenDie:
    def __init__(self, handle): self.handle = handle
    def __enter__(self): return self
    def __exit__(self, *exc): return False
    def write(self, data):
        self.handle.write(data[: len(data) // 2]); self.handle.flush(); die()

if sys.argv[3] == "before-rename":
    os.replace = die
else:
    os.fdopen = lambda fd, mode: HalfThenDie(real_fdopen(fd, mode))
predict(CallableClassifier(Rows(), "m", ("negative", "positive"), fingerprint="killed"),
        load_dataset(sys.argv[1]), cache_dir=sys.argv[2])
print("not killed")
"""


class Rows:
    def predict_proba(self, texts):
        return np.resize([[0.9, 0.1], [0.35, 0.65], [0.6, 0.4]], (len(texts), 2))


@pytest.mark.parametrize("when", ["mid-write", "before-rename"])
def test_a_writer_killed_mid_write_leaves_a_cache_that_reads_correctly(sentiment_csv, data, tmp_path, when):
    import os
    import signal
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(cache.Path(cache.__file__).parents[1]),
                                                                    os.environ.get("PYTHONPATH")) if p)}
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(sentiment_csv), str(tmp_path), when],
                            env=env, capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert list((tmp_path / "predictions").glob(".*.tmp")), "the writer died before writing anything"
    model = CallableClassifier(Rows(), "m", ("negative", "positive"), fingerprint="killed")
    after = predict(model, data, cache_dir=tmp_path)
    np.testing.assert_array_equal(after.probabilities, predict(model, data).probabilities)
    assert not after.from_cache  # the half-written entry was never published
    assert predict(model, data, cache_dir=tmp_path).from_cache
