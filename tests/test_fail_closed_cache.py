"""Issue 7, "fail closed" (the cache): an entry is served only when it holds its key; a corrupt,
truncated or empty entry, a read-only or vanishing cache folder, or a writer killed mid-write
never crashes a run and never serves wrong numbers: it warns (LoyaltyCacheWarning) and recomputes.
Each test failed on the code before the fix (the kill test excepted: writes were atomic already)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from faults import DAMAGE, Fixed, cached_files, damaged, make_read_only, make_writable
from test_demo import tiny_demo  # noqa: F401  (the demo builder on a tiny BERT)
from tiny import tiny_bert

from loyalty_tests.data import load_dataset
from loyalty_tests.errors import LoyaltyCacheWarning
from loyalty_tests.infra import cache
from loyalty_tests.models import demo
from loyalty_tests.models.classifiers import CallableClassifier
from loyalty_tests.predictions import predict, prediction_key


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Whatever reads the default cache folder reads this one, never the user's."""
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "env-cache"))
    return tmp_path / "env-cache"


@pytest.fixture
def data(sentiment_csv):
    return load_dataset(str(sentiment_csv))


@pytest.fixture
def read_only():
    made = []

    def make(folder):
        make_read_only(folder, made)
        return folder

    yield make
    make_writable(made)


# ---- 5. a cache file is verified against its key ---------------------------------------------------


def test_a_prediction_file_of_another_model_is_not_served(data, tmp_path):
    a = CallableClassifier(Fixed([[0.9, 0.1]]), "a", ("negative", "positive"), fingerprint="model-a")
    b_source = Fixed([[0.2, 0.8]])
    b = CallableClassifier(b_source, "b", ("negative", "positive"), fingerprint="model-b")
    predict(a, data, cache_dir=tmp_path)
    a_file = tmp_path / "predictions" / f"{prediction_key(a, data)}.npz"
    b_file = a_file.with_name(f"{prediction_key(b, data)}.npz")
    shutil.copy(a_file, b_file)  # a valid file, placed under b's key
    with pytest.warns(LoyaltyCacheWarning, match=rf"{b_file.name} belongs to another entry"):
        served = predict(b, data, cache_dir=tmp_path)
    assert not served.from_cache and b_source.calls == 1
    np.testing.assert_allclose(served.probabilities[:, 1], 0.8)
    again = predict(b, data, cache_dir=tmp_path)  # the file was replaced by b's own
    assert again.from_cache and b_source.calls == 1
    np.testing.assert_allclose(again.probabilities, served.probabilities)


def test_a_student_file_of_another_key_is_not_loaded(tmp_path):
    from loyalty_tests.compress.context import BuildContext
    from loyalty_tests.compress.student_cache import load_or_train

    context = BuildContext(cache_dir=tmp_path)
    load_or_train(tiny_bert(seed=1), "k" * 64, lambda: None, context)
    first = tmp_path / "students" / f"{'k' * 32}.safetensors"
    second = first.with_name(f"{'j' * 32}.safetensors")
    shutil.copy(first, second)  # seed-1 weights under another student's key
    model, trained = tiny_bert(seed=2), []
    with pytest.warns(LoyaltyCacheWarning, match=rf"{second.name} belongs to another entry"):
        load_or_train(model, "j" * 64, lambda: trained.append(True), context)
    assert trained == [True]
    assert (model.classifier.weight == tiny_bert(seed=2).classifier.weight).all()


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
        info_file.write_text(
            json.dumps(
                {**info, "key": "0" * 64} if damage == "another key" else {k: v for k, v in info.items() if k != "key"}
            )
        )
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


# ---- 9. corrupt, truncated or empty cache files; read-only and vanishing cache folders -------------


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
    from loyalty_tests.compress.context import BuildContext
    from loyalty_tests.compress.student_cache import load_or_train

    context = BuildContext(cache_dir=tmp_path)
    load_or_train(tiny_bert(seed=1), "k" * 64, lambda: None, context)
    [entry] = (tmp_path / "students").glob("*.safetensors")
    damaged(entry, how)
    trained = []
    with pytest.warns(LoyaltyCacheWarning, match=rf"{entry.name} is unreadable"):
        load_or_train(tiny_bert(seed=1), "k" * 64, lambda: trained.append(True), context)
    model = tiny_bert(seed=3)
    load_or_train(model, "k" * 64, lambda: trained.append(True), context)  # the replaced file serves
    assert trained == [True] and (model.classifier.weight == tiny_bert(seed=1).classifier.weight).all()


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
    from loyalty_tests.compress.context import BuildContext
    from loyalty_tests.compress.student_cache import load_or_train

    context = BuildContext(cache_dir=read_only(tmp_path / "cache"))
    trained = []
    with pytest.warns(LoyaltyCacheWarning, match="cannot be written"):
        load_or_train(tiny_bert(), "k" * 64, lambda: trained.append(True), context)
    assert trained == [True] and cached_files(tmp_path / "cache") == []


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
    folder = tmp_path / "predictions"
    folder.mkdir()
    old, young = folder / ".x.npz.abc.tmp", folder / ".y.npz.def.tmp"
    old.write_bytes(b"left by a killed writer")
    young.write_bytes(b"another worker, writing now")
    two_hours_ago = time.time() - 7200
    os.utime(old, (two_hours_ago, two_hours_ago))
    predict(
        CallableClassifier(Fixed([[0.7, 0.3]]), "m", ("negative", "positive"), fingerprint="abc"),
        data,
        cache_dir=tmp_path,
    )
    assert not old.exists() and young.exists()


KILLED_WRITER = """
import os, signal, sys
import numpy as np
from loyalty_tests.data import load_dataset
from loyalty_tests.models.classifiers import CallableClassifier
from loyalty_tests.predictions import predict, prediction_key

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
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(cache.Path(cache.__file__).parents[1]), os.environ.get("PYTHONPATH")) if p
        ),
    }
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(sentiment_csv), str(tmp_path), when],
        env=env,
        capture_output=True,
        text=True,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    assert list((tmp_path / "predictions").glob(".*.tmp")), "the writer died before writing anything"
    model = CallableClassifier(Rows(), "m", ("negative", "positive"), fingerprint="killed")
    after = predict(model, data, cache_dir=tmp_path)
    np.testing.assert_array_equal(after.probabilities, predict(model, data).probabilities)
    assert not after.from_cache  # the half-written entry was never published
    assert predict(model, data, cache_dir=tmp_path).from_cache
