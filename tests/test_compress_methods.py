"""Every registered compression method on a tiny BERT: the contract all share, then each method's
own promise (sparsity, removed heads, successor-only Theseus, the KD loss by hand)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tiny import tiny_bert, tiny_tokenizer

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.compress import compress, config_to_recipe, parse_recipe, registered_methods
from loyalty_tests.compress.distill import kd_loss
from loyalty_tests.compress.prune import encoder_linear_weights, measured_sparsity
from loyalty_tests.compress.theseus import TheseusConfig, replacement_rate
from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.metrics import probability_loyalty
from loyalty_tests.models.classifiers import HFClassifier

# One small recipe per registered method; a method registered without one here fails the test below.
RECIPES = {
    "int8": "int8",
    "prune": "prune:0.4",
    "heads": "heads:0.5",
    "distill": "distill:layers=1",
    "theseus": "theseus:layers=1,rate=0.7",
    "qat": "qat:fraction=0.5",
    "onnx-int8": "onnx-int8",
    "int8-weight": "int8-weight:keep=classifier",
}
TEXTS = POSITIVE + NEGATIVE


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def teacher(tmp_path):
    return HFClassifier(tiny_bert(layers=2, heads=4), tiny_tokenizer(tmp_path / "tok"), "tiny")


@pytest.fixture
def train_data():
    return TextDataset("tiny-train", TEXTS, [1] * len(POSITIVE) + [0] * len(NEGATIVE), ("negative", "positive"))


def test_every_registered_method_has_a_contract_recipe():
    assert set(registered_methods()) == set(RECIPES)


@pytest.mark.parametrize("method", sorted(RECIPES))
def test_contract(method, teacher, train_data, tmp_path):
    if method == "onnx-int8":
        pytest.importorskip("onnxruntime", reason="onnx-int8 needs the [onnx] extra")
    recipe = RECIPES[method]
    before = {k: v.clone() for k, v in teacher.model.state_dict().items()}
    first = compress(teacher, recipe, train_data, seed=3, cache_dir=tmp_path / "first")
    after = teacher.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the teacher was changed"
    probabilities = first.predict_proba(TEXTS)
    assert probabilities.shape == (len(TEXTS), 2) and first.label_names == teacher.label_names
    # built again from scratch (another cache folder, so a trained student is not simply reloaded):
    # same seed, same student
    again = compress(teacher, recipe, train_data, seed=3, cache_dir=tmp_path / "again")
    np.testing.assert_allclose(again.predict_proba(TEXTS), probabilities, atol=1e-6)
    assert again.fingerprint == first.fingerprint
    configs = parse_recipe(recipe)
    assert parse_recipe(config_to_recipe(configs)) == configs
    assert first.name == f"tiny+{config_to_recipe(configs)}"


def test_onnx_int8_is_close_to_the_teacher_and_smaller(teacher):
    pytest.importorskip("onnxruntime")
    student = compress(teacher, "onnx-int8")
    assert student.path.endswith(".onnx")
    assert probability_loyalty(teacher.predict_proba(TEXTS), student.predict_proba(TEXTS)) >= 0.95


def test_qat_student_is_int8_and_loyal(teacher, train_data):
    student = compress(teacher, "qat:fraction=0.5", train_data)
    assert any("quantized" in type(m).__module__ for m in student.model.modules())
    assert not any("parametriz" in type(m).__module__ for m in student.model.modules())  # fake quant removed
    assert probability_loyalty(teacher.predict_proba(TEXTS), student.predict_proba(TEXTS)) >= 0.9


def test_prune_reaches_the_requested_sparsity_exactly(teacher):
    for scope in ("global", "layer"):
        student = compress(teacher, f"prune:0.3,scope={scope}")
        weights = encoder_linear_weights(student.model)
        total = sum(w.numel() for w in weights)
        assert abs(measured_sparsity(weights) * total - 0.3 * total) <= len(weights)  # rounding, per layer at most
        assert student.info["sparsity"] == pytest.approx(measured_sparsity(weights))
        assert not any(hasattr(m, "weight_orig") for m in student.model.modules())  # permanent: no masks left


def test_heads_are_gone_from_the_weights(teacher):
    student = compress(teacher, "heads:0.5")
    size = teacher.model.config.hidden_size // 4
    for layer in student.model.base_model.encoder.layer:
        heads = layer.attention.self.num_attention_heads
        assert layer.attention.self.query.weight.shape[0] == heads * size
        assert layer.attention.output.dense.weight.shape[1] == heads * size
    assert student.info["heads_removed"] == 4 and min(student.info["heads_per_layer"]) >= 1
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(student.model) < count(teacher.model)


@pytest.mark.parametrize("importance", ["gradient", "norm"])
def test_a_dead_head_goes_first_and_removing_it_changes_nothing(teacher, train_data, importance):
    # head 1 of layer 0 writes nothing (zero value projection): both scores must rank it last,
    # and cutting it out of the weights must leave every output as it was
    size = teacher.model.config.hidden_size // 4
    value = teacher.model.base_model.encoder.layer[0].attention.self.value
    with torch.no_grad():
        value.weight[size : 2 * size] = 0.0
        value.bias[size : 2 * size] = 0.0
    student = compress(teacher, f"heads:0.125,importance={importance}", train_data)
    assert student.info["importance"] == importance and student.info["heads_per_layer"] == [3, 4]
    np.testing.assert_allclose(student.predict_proba(TEXTS), teacher.predict_proba(TEXTS), atol=1e-5)


def test_head_importance_is_gradient_with_data_and_norm_without(teacher, train_data):
    messages = []
    assert compress(teacher, "heads:0.5", train_data, progress=messages.append).info["importance"] == "gradient"
    assert compress(teacher, "heads:0.5", progress=messages.append).info["importance"] == "norm"
    assert any("ranked by weight norm" in message for message in messages)  # the fallback is said out loud
    with pytest.raises(LoyaltyError, match="--loyalty-train-data"):
        compress(teacher, "heads:0.5,importance=gradient")


def test_theseus_at_rate_one_runs_only_successors(teacher, train_data, monkeypatch):
    layer_class = type(teacher.model.base_model.encoder.layer[0])
    original, calls = layer_class.forward, []

    def counting(self, *args, **kwargs):
        calls.append(id(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(layer_class, "forward", counting)
    steps = -(-len(train_data) // 32)
    student = compress(teacher, "theseus:layers=1,rate=1.0,finetune_epochs=0", train_data)
    # rate 1: each step ran one layer, the successor, never the block of two teacher layers
    assert len(calls) == steps and len(set(calls)) == 1
    assert len(student.model.base_model.encoder.layer) == 1 and student.model.config.num_hidden_layers == 1
    calls.clear()
    compress(teacher, "theseus:layers=1,rate=0.0,finetune_epochs=0", train_data)
    assert len(calls) == 2 * steps and len(set(calls)) == 2  # rate 0: only the two predecessors ran
    calls.clear()
    compress(teacher, "theseus:layers=1,rate=0.0,finetune_epochs=1", train_data)
    assert len(calls) == 3 * steps and len(set(calls)) == 3  # then the kept successor trains on its own


def test_linear_schedule_and_bad_config():
    config = TheseusConfig(schedule="linear", b=0.3)
    rates = [replacement_rate(config, t, 100) for t in (0, 40, 80, 100)]
    assert rates[0] == 0.3 and rates[1] < rates[2] == 1.0 == rates[3]
    with pytest.raises(LoyaltyError, match="cannot keep 4 of the teacher's 6 layers"):
        from loyalty_tests.compress.distill import kept_layers

        kept_layers(6, 4)


def test_training_methods_need_data(teacher):
    with pytest.raises(LoyaltyError, match="--loyalty-train-data"):
        compress(teacher, "distill:layers=1")


def test_kd_loss_equals_a_hand_computation():
    student = torch.tensor([[2.0, 0.0], [0.5, 1.5]])
    teacher = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    labels = torch.tensor([0, 1])
    t, alpha = 2.0, 0.25
    expected = 0.0
    for s_row, t_row, y in zip(student.tolist(), teacher.tolist(), labels.tolist()):
        s_log = np.log(np.exp(s_row) / np.exp(s_row).sum())
        ce = -s_log[y]
        p_t = np.exp(np.array(t_row) / t) / np.exp(np.array(t_row) / t).sum()
        p_s = np.exp(np.array(s_row) / t) / np.exp(np.array(s_row) / t).sum()
        kl = float((p_t * np.log(p_t / p_s)).sum())
        expected += (alpha * ce + (1 - alpha) * t * t * kl) / 2
    assert float(kd_loss(student, teacher, labels, t, alpha)) == pytest.approx(expected, rel=1e-6)


def test_int8_student_stays_loyal_on_the_tiny_model(teacher):
    student = compress(teacher, "int8")
    assert probability_loyalty(teacher.predict_proba(TEXTS), student.predict_proba(TEXTS)) >= 0.95


def test_prune_reports_the_achieved_sparsity(teacher):
    messages = []
    compress(teacher, "prune:0.25,scope=layer", progress=messages.append)
    assert any(message.startswith("prune: 0.2500 of") for message in messages)


def test_trained_students_go_to_the_given_cache_dir(teacher, train_data, tmp_path):
    compress(teacher, "distill:layers=1", train_data, cache_dir=tmp_path / "elsewhere")
    assert len(list((tmp_path / "elsewhere" / "students").glob("*.safetensors"))) == 1
    assert not (tmp_path / "cache" / "students").exists()


def test_trained_students_are_cached(teacher, train_data, monkeypatch):
    first = compress(teacher, "distill:layers=1", train_data, seed=1)
    import loyalty_tests.compress.distill as distill_module

    monkeypatch.setattr(distill_module, "train", lambda *a, **k: pytest.fail("trained again"))
    second = compress(teacher, "distill:layers=1", train_data, seed=1)
    np.testing.assert_allclose(second.predict_proba(TEXTS), first.predict_proba(TEXTS), atol=1e-6)


def test_student_fingerprint_changes_with_the_method_version(teacher, monkeypatch):
    # Regression: a method changed how it trains, but cached predictions of the old student were served.
    from loyalty_tests.compress.prune import PruneConfig

    before = compress(teacher, "prune:0.3").fingerprint
    assert compress(teacher, "prune:0.3").fingerprint == before
    monkeypatch.setattr(PruneConfig, "version", 2, raising=False)
    assert compress(teacher, "prune:0.3").fingerprint != before
