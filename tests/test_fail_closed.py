"""Issue 7, "fail closed" (models, specs, predictions): a gate never passes on garbage, a crash
never reads as a pass, bad input never ends in INTERNALERROR. One regression test (or more) per
item, each failing on the code before the fix; tiny BERTs and CSV data, no network. The cache
items (5, 9, a writer killed mid-write) are in test_fail_closed_cache.py."""

from __future__ import annotations

import sys
import time

import numpy as np
import pytest
from faults import Fixed, cached_files
from tiny import tiny_bert, tiny_tokenizer

from conftest import NEGATIVE, POSITIVE, write_csv
from loyalty_tests.comparison import compare_predictions
from loyalty_tests.data import load_dataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.models import classifiers as models
from loyalty_tests.models.classifiers import CallableClassifier, HFClassifier
from loyalty_tests.models.specs import ModelOptions, load_model
from loyalty_tests.predictions import predict


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Whatever reads the default cache folder reads this one, never the user's."""
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "env-cache"))
    return tmp_path / "env-cache"


@pytest.fixture
def data(sentiment_csv):
    return load_dataset(str(sentiment_csv))


# ---- 1. a negative batch size scored uninitialised memory and cached it ---------------------------


@pytest.mark.parametrize("field, value", [("batch_size", -1), ("batch_size", 0), ("max_length", 1)])
def test_batch_size_and_max_length_out_of_range_are_refused_naming_the_value(tmp_path, field, value):
    with pytest.raises(LoyaltyError, match=rf"{field} must be a whole number >= \d.*got {value}"):
        HFClassifier(tiny_bert(), tiny_tokenizer(tmp_path), "tiny", **{field: value})


def test_a_negative_batch_size_in_the_options_is_refused_before_any_model_work():
    with pytest.raises(LoyaltyError, match=r"model options: batch_size must be a whole number >= 1, got -1"):
        ModelOptions(batch_size=-1)


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


def test_predictions_with_a_row_never_computed_are_never_cached(data, tmp_path, monkeypatch):
    from loyalty_tests import predictions as predictions_module

    model = CallableClassifier(Fixed([[0.7, 0.3]]), "m", ("negative", "positive"), fingerprint="abc")
    unchecked = predictions_module.Predictions("m", np.full((len(data), 2), 0.5), data.label_names, 0.0)
    unchecked.probabilities[3] = np.nan  # as if a path around the output checks had left a row unscored
    monkeypatch.setattr(predictions_module, "_run", lambda *args: unchecked)
    with pytest.raises(LoyaltyError, match=r"NaN in 1 row \(first: row 3\)"):
        predict(model, data, cache_dir=tmp_path / "cache")
    assert cached_files(tmp_path / "cache") == []


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

    from loyalty_tests.infra.network import hub_unreachable_reason

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
    assert [
        p.suffix for p in (tmp_path / "given" / "students").iterdir() if p.is_file() and not p.name.endswith(".lock")
    ] == [".safetensors"]
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

    from loyalty_tests.bench import run as bench

    save_tiny_bert(tmp_path / "teacher")
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(tmp_path / "dev.csv", rows)
    common = [
        "--teacher",
        str(tmp_path / "teacher"),
        "--data",
        str(tmp_path / "dev.csv"),
        "--train-data",
        str(tmp_path / "dev.csv"),
        "--recipes",
        "distill:layers=1",
        "--latency-rounds",
        "1",
        "--out",
        str(tmp_path / "out"),
    ]
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
    with pytest.raises(
        LoyaltyError,
        match=r"'fail_closed_factories:broken_factory' raised RuntimeError: "
        "weights not found",
    ) as error:
        load_model("fail_closed_factories:broken_factory")
    assert isinstance(error.value.__cause__, RuntimeError)


def test_a_model_whose_predict_proba_raises_is_named(this_module_as, data):
    model = load_model("fail_closed_factories:raising_model")
    with pytest.raises(
        LoyaltyError,
        match=r"model 'fail_closed_factories:raising_model' raised ZeroDivisionError "
        "while predicting 36 examples",
    ) as error:
        predict(model, data)
    assert isinstance(error.value.__cause__, ZeroDivisionError)


# ---- 11. max_length above the model's position limit ----------------------------------------------


def test_max_length_above_the_position_limit_is_refused_with_the_limit(tiny_dir):
    with pytest.raises(
        LoyaltyError,
        match=r"max_length 1024 is above model .* limit of 128 tokens.*"
        r"--loyalty-max-length 128 or less",
    ):
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
    with pytest.raises(
        LoyaltyError,
        match=r"teacher 't' has labels \['negative', 'positive'\] but student 's' "
        r"has \['neutral', 'positive'\]",
    ):
        compare_predictions(positives_only, predict(teacher, positives_only), predict(student, positives_only))


def test_the_label_distribution_gate_sees_a_student_collapsing_onto_an_extra_label(positives_only):
    from loyalty_tests.gates.checks import label_distribution_message, smallest_share_ratio

    teacher = predict(CallableClassifier(Fixed([[0.2, 0.8]]), "t", ("negative", "positive")), positives_only)
    student = predict(CallableClassifier(Fixed([[0.9, 0.1]]), "s", ("negative", "positive")), positives_only)
    report = compare_predictions(positives_only, teacher, student, n_resamples=50)
    names = report.label_names
    assert smallest_share_ratio(teacher.predicted_labels, student.predicted_labels, len(names)) == 0.0
    assert "label 'positive' shrank most" in label_distribution_message(
        teacher.predicted_labels, student.predicted_labels, names
    )
    assert smallest_share_ratio(teacher.predicted_labels, teacher.predicted_labels, len(names)) == 1.0
