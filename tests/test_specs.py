"""Spec strings -> classifiers: folders, ONNX files, factories, recipes, and the errors for bad ones."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_bert, tiny_tokenizer

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.models.classifiers import CallableClassifier, HFClassifier, OnnxClassifier
from loyalty_tests.models.spec_forms import check_spec
from loyalty_tests.models.specs import ModelOptions, as_classifier, load_model

TEXTS = ["a good movie", "bad", "the film is not very good at all, really", "great", "awful film", "x"]


def test_local_directory_spec(tiny_dir):
    model = load_model(str(tiny_dir))
    assert isinstance(model, HFClassifier)
    assert model.label_names == ("negative", "positive")
    assert model.predict_proba(TEXTS).shape == (len(TEXTS), 2)
    assert model.fingerprint == load_model(str(tiny_dir)).fingerprint


def test_onnx_spec(tiny_dir, tmp_path):
    pytest.importorskip("onnxruntime")
    reference = load_model(str(tiny_dir))
    onnx_path = tiny_dir / "model.onnx"
    inputs = reference.tokenizer(["a good movie"], return_tensors="pt")
    # Positional inputs must follow forward()'s order (input_ids, attention_mask, token_type_ids),
    # not the tokenizer's.
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in inputs]
    torch.onnx.export(
        reference.model,
        tuple(inputs[n] for n in names),
        str(onnx_path),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
        dynamo=False,
    )
    model = load_model(str(onnx_path))
    assert isinstance(model, OnnxClassifier)
    assert model.label_names == ("negative", "positive")
    np.testing.assert_allclose(model.predict_proba(TEXTS), reference.predict_proba(TEXTS), atol=1e-4)


def test_onnx_without_tokenizer_names_the_fix(tmp_path):
    pytest.importorskip("onnxruntime")
    onnx_path = tmp_path / "lonely" / "model.onnx"
    onnx_path.parent.mkdir()
    onnx_path.write_bytes(b"not really onnx")
    with pytest.raises(LoyaltyError, match="--tokenizer"):
        load_model(str(onnx_path))


class Sklearnish:
    classes_ = np.array(["neg", "pos"])

    def predict_proba(self, texts):
        return np.tile([0.25, 0.75], (len(texts), 1))


def make_sklearnish():
    return Sklearnish()


def test_factory_spec(monkeypatch):
    monkeypatch.setattr(
        "sys.modules", {**__import__("sys").modules, "fake_factories": __import__("sys").modules[__name__]}
    )
    model = load_model("fake_factories:make_sklearnish")
    assert isinstance(model, CallableClassifier)
    assert model.label_names == ("neg", "pos")


def test_factory_returning_model_and_tokenizer(tmp_path):
    model = as_classifier((tiny_bert(), tiny_tokenizer(tmp_path)), "pair")
    assert isinstance(model, HFClassifier)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("./does-not-exist", "does not exist"),
        ("missing/deeper/path", "does not exist"),
        ("no such thing", "unknown model spec"),
        ("", "empty model spec"),
        ("./nothing.onnx", "does not exist"),
        ("os.path:not_a_function", "no callable"),
        ("not_a_module_xyz:factory", "cannot import"),
    ],
)
def test_bad_specs_name_the_input(spec, message):
    with pytest.raises(LoyaltyError, match=message):
        load_model(spec, options=ModelOptions())


def test_factory_object_without_label_names():
    class NoNames:
        def predict_proba(self, texts):
            return np.ones((len(texts), 2)) / 2

    with pytest.raises(LoyaltyError, match="label_names"):
        as_classifier(NoNames(), "x")


def test_recipe_without_teacher_asks_for_one():
    with pytest.raises(LoyaltyError, match="--teacher"):
        load_model("int8")


def test_int8_recipe_spec(tiny_hf):
    student = load_model("int8", teacher=tiny_hf)
    assert student.label_names == tiny_hf.label_names
    assert student.fingerprint != tiny_hf.fingerprint
    np.testing.assert_allclose(student.predict_proba(TEXTS).sum(axis=1), 1.0, atol=1e-6)


def test_remote_code_is_off_by_default():
    assert ModelOptions().trust_remote_code is False


def test_local_dir_without_model_names_it(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(LoyaltyError, match="no .safetensors weights"):
        load_model(str(tmp_path / "empty"))


def test_pickle_weights_need_the_flag(tmp_path):
    folder = tmp_path / "pickled"
    tiny_tokenizer(folder)
    # transformers 5 always writes safetensors, so write the pickle file by hand.
    model = tiny_bert()
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(LoyaltyError, match="--loyalty-allow-pickle"):
        load_model(str(folder))
    assert load_model(str(folder), options=ModelOptions(allow_pickle=True)).label_names == ("negative", "positive")


def test_a_folder_without_a_trained_head_is_refused_not_gated_at_random(tmp_path):
    from tiny import tiny_bert, tiny_tokenizer

    folder = tmp_path / "base-only"
    tiny_bert().bert.save_pretrained(folder)  # the encoder alone: no classifier weights
    tiny_tokenizer(folder)
    (folder / "config.json").write_text(
        (folder / "config.json").read_text().replace('"BertModel"', '"BertForSequenceClassification"')
    )
    with pytest.raises(LoyaltyError, match=r"lacks trained weights for .*classifier.*initialise at random"):
        load_model(str(folder))


def test_loading_prints_no_progress_bars(tiny_dir, capfd):
    load_model(str(tiny_dir))
    captured = capfd.readouterr()
    assert "Loading weights" not in captured.err + captured.out


@pytest.mark.parametrize("spec, hint", [("int9", "int8"), ("pune", "prune"), ("distil:layers=3", "distill")])
def test_a_spec_that_reads_like_a_misspelt_recipe_gets_the_recipe_suggestion(spec, hint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoyaltyError, match=rf"\(did you mean {hint}\?\)"):
        check_spec(spec, "student")
    if ":" not in spec:  # what a declared fixture's load_model("int9") says
        with pytest.raises(LoyaltyError, match=rf"unknown model spec '{spec}' \(did you mean {hint}\?\)"):
            load_model(spec)


def test_a_missing_path_gets_no_recipe_suggestion(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoyaltyError, match="model path './int9' does not exist") as error:
        check_spec("./int9", "student")
    assert "did you mean" not in str(error.value)
