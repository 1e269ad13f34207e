"""Recipes, the method registry, and int8 on a tiny BERT."""

from __future__ import annotations

import dataclasses
import warnings
from typing import ClassVar, Literal

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tiny import tiny_bert, tiny_tokenizer

from loyalty_tests.compress import (
    Int8Config,
    MethodConfig,
    compress,
    config_to_recipe,
    known_method_names,
    parse_recipe,
    register,
    registered_methods,
    registry,
)
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.metrics import probability_loyalty
from loyalty_tests.models.classifiers import HFClassifier

SENTENCES = ["a good movie", "awful film", "the film is great", "not good at all", "very bad", "great"] * 2


@dataclasses.dataclass(frozen=True)
class ToyConfig(MethodConfig):
    """Every field type a recipe can express, for parser tests (registered only while they run)."""

    method: ClassVar[str] = "toy"
    family: ClassVar[str] = "pruning"
    sparsity: float = 0.5
    layers: int = 3
    schedule: Literal["constant", "linear"] = "constant"
    label: str = "x"
    alpha: float | None = None
    exact: bool = False

    def __post_init__(self):
        if not 0 <= self.sparsity <= 1:
            raise LoyaltyError(f"sparsity must be in [0, 1], got {self.sparsity}")


@pytest.fixture(scope="module", autouse=True)
def toy_method():
    # registered by hand (not through monkeypatch) so hypothesis tests may use it too
    registry._CONFIG_TYPES["toy"] = ToyConfig
    registry._HANDLERS[ToyConfig] = lambda teacher, config, data, seed, context: teacher
    yield
    del registry._CONFIG_TYPES["toy"], registry._HANDLERS[ToyConfig]


@pytest.fixture
def teacher(tmp_path):
    model = tiny_bert()
    with torch.no_grad():  # spread the outputs away from 0.5 so loyalty is a real test
        model.classifier.weight.mul_(40)
    return HFClassifier(model, tiny_tokenizer(tmp_path / "tok"), "tiny", batch_size=4)


# ---- recipes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "recipe, expected",
    [
        ("int8", (Int8Config(),)),
        (" int8 ", (Int8Config(),)),
        ("int8:per_channel=true", (Int8Config(per_channel=True),)),
        ("int8:per-channel=yes", (Int8Config(per_channel=True),)),
        ("int8:1", (Int8Config(per_channel=True),)),  # a bare value fills the first field
        ("int8+int8:per_channel=false", (Int8Config(), Int8Config())),
        ("toy:0.25", (ToyConfig(sparsity=0.25),)),
        ("toy:0.25,layers=2", (ToyConfig(sparsity=0.25, layers=2),)),
        (
            "toy:schedule=LINEAR,label=abc,alpha=0.3,exact=on",
            (ToyConfig(schedule="linear", label="abc", alpha=0.3, exact=True),),
        ),
        ("toy:alpha=none+int8", (ToyConfig(), Int8Config())),
    ],
)
def test_parse_recipe(recipe, expected):
    assert parse_recipe(recipe) == expected


@pytest.mark.parametrize(
    "configs, recipe",
    [
        ((Int8Config(),), "int8"),
        ((Int8Config(per_channel=True),), "int8:per_channel=true"),
        ((ToyConfig(layers=2), Int8Config()), "toy:layers=2+int8"),
        ((ToyConfig(sparsity=1e-05, alpha=0.1),), "toy:sparsity=1e-05,alpha=0.1"),
    ],
)
def test_config_to_recipe(configs, recipe):
    assert config_to_recipe(configs) == recipe
    assert parse_recipe(recipe) == configs


@given(
    sparsity=st.floats(0, 1),
    layers=st.integers(-5, 50),
    schedule=st.sampled_from(["constant", "linear"]),
    label=st.text("abcxyz_-.", min_size=1, max_size=8),
    alpha=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    exact=st.booleans(),
    then_int8=st.booleans(),
)
def test_config_to_recipe_round_trips(sparsity, layers, schedule, label, alpha, exact, then_int8):
    configs = (ToyConfig(sparsity, layers, schedule, label, alpha, exact),) + ((Int8Config(),) if then_int8 else ())
    assert parse_recipe(config_to_recipe(configs)) == configs


@pytest.mark.parametrize(
    "recipe, message",
    [
        ("qat:fraction=0", r"fraction in \(0, 1\]"),
        ("prune:1.5", r"sparsity must lie in \[0, 1\)"),
        ("distill:layers=3,temp=2", r"unknown option 'temp'.*valid keys: layers, temperature, alpha"),
        ("theseus:schedule=cosine", r"bad value 'cosine' for theseus:schedule.*valid values: constant, linear"),
        ("quantise", r"unknown compression method 'quantise'; registered methods: .*int8"),
        ("", r"empty compression recipe.*int8"),
        ("int8++int8", r"empty step"),
        ("int8:", r"nothing after ':'"),
        ("int8:bits=4", r"unknown option 'bits'.*valid keys: per_channel"),
        ("int8:per_channel=maybe", r"bad value 'maybe' for int8:per_channel.*valid values: true, false"),
        ("toy:layers=1.5", r"bad value '1.5' for toy:layers.*whole number"),
        ("toy:sparsity=lots", r"bad value 'lots' for toy:sparsity.*number"),
        ("toy:sparsity=nan", r"finite number"),
        ("toy:schedule=cosine", r"bad value 'cosine' for toy:schedule.*valid values: constant, linear"),
        ("toy:layers=2,layers=3", r"'layers' is given twice"),
        ("toy:layers=2,0.5", r"option '0.5'.*needs a key.*sparsity, layers"),
        ("toy:sparsity=2", r"sparsity must be in \[0, 1\]"),
    ],
)
def test_bad_recipes_name_the_input_and_the_valid_choices(recipe, message):
    with pytest.raises(LoyaltyError, match=message):
        parse_recipe(recipe)


def test_config_to_recipe_rejects_what_a_recipe_cannot_hold():
    with pytest.raises(LoyaltyError, match="cannot be written in a recipe"):
        config_to_recipe(ToyConfig(label="a,b"))
    with pytest.raises(LoyaltyError, match="not a compression config"):
        config_to_recipe(object())
    with pytest.raises(LoyaltyError, match="empty sequence"):
        config_to_recipe(())


# ---- registry ---------------------------------------------------------------------------------


def test_registry_lists_registered_methods_with_their_keys():
    assert registered_methods()["int8"] == ("per_channel", "keep")
    for name in ("prune", "heads", "distill", "theseus", "qat", "onnx-int8", "int8-weight"):
        assert name in registered_methods() and name in known_method_names()


def test_a_misspelt_method_gets_a_suggestion_and_the_list():
    with pytest.raises(
        LoyaltyError,
        match=r"unknown compression method 'pune' \(did you mean prune\?\); "
        r"registered methods: .*int8 \(keys: per_channel\)",
    ):
        parse_recipe("pune:0.3")


def test_register_needs_a_frozen_config_with_a_method_name():
    @dataclasses.dataclass
    class Mutable:
        method: ClassVar[str] = "mutable"

    @dataclasses.dataclass(frozen=True)
    class Nameless(MethodConfig):
        x: int = 1

    @dataclasses.dataclass(frozen=True)
    class NotAMethodConfig:
        method: ClassVar[str] = "stray"

    @dataclasses.dataclass(frozen=True)
    class Familyless(MethodConfig):
        method: ClassVar[str] = "familyless"

    @dataclasses.dataclass(frozen=True)
    class TrainsBlind(MethodConfig):
        method: ClassVar[str] = "blind"
        family: ClassVar[str] = "distillation"
        trains: ClassVar[bool] = True

    with pytest.raises(TypeError, match="frozen dataclass"):
        register(Mutable)
    with pytest.raises(TypeError, match="method"):
        register(Nameless)
    with pytest.raises(TypeError, match="must derive from loyalty_tests.compress.MethodConfig"):
        register(NotAMethodConfig)
    with pytest.raises(TypeError, match="family must be one of"):
        register(Familyless)
    with pytest.raises(TypeError, match="trains, so it uses data"):
        register(TrainsBlind)

    @dataclasses.dataclass(frozen=True)
    class Impostor(MethodConfig):
        method: ClassVar[str] = "int8"
        family: ClassVar[str] = "quantization"

    with pytest.raises(TypeError, match="already taken by Int8Config"):
        register(Impostor)


def test_every_registered_method_declares_its_family():
    for name in known_method_names():
        config_type = registry.config_type_for(name)
        assert config_type.family in registry.FAMILIES, name
        assert config_type.uses_data or not config_type.trains, name


# ---- compress and int8 --------------------------------------------------------------------------


def test_int8_leaves_the_teacher_untouched_and_quantizes_every_linear(teacher):
    before = {key: value.clone() for key, value in teacher.model.state_dict().items()}
    teacher_fingerprint = teacher.fingerprint
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's deprecation warnings are silenced inside int8 only
        student = compress(teacher, "int8")
        student_probs = student.predict_proba(SENTENCES)

    after = teacher.model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    assert teacher.fingerprint == teacher_fingerprint and teacher.name == "tiny"
    assert not any("quantized" in type(module).__module__ for module in teacher.model.modules())

    quantized = [m for m in student.model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(quantized) == sum(isinstance(m, torch.nn.Linear) for m in teacher.model.modules())
    assert not any(type(m) is torch.nn.Linear for m in student.model.modules())

    teacher_probs = teacher.predict_proba(SENTENCES)
    assert student_probs.shape == teacher_probs.shape == (len(SENTENCES), 2)
    assert np.allclose(student_probs.sum(axis=1), 1)
    assert student.label_names == teacher.label_names
    assert student.name == "tiny+int8"
    assert student.fingerprint != teacher.fingerprint
    assert teacher_probs.max(axis=1).mean() > 0.6  # the outputs are spread, not all 0.5
    assert probability_loyalty(teacher_probs, student_probs) > 0.95


def test_int8_is_deterministic_and_recipes_equal_configs(teacher):
    by_recipe = compress(teacher, "int8:per_channel=true")
    by_config = compress(teacher, Int8Config(per_channel=True))
    assert by_recipe.fingerprint == by_config.fingerprint
    assert np.array_equal(by_recipe.predict_proba(SENTENCES), by_config.predict_proba(SENTENCES))
    assert by_recipe.fingerprint != compress(teacher, "int8").fingerprint


def test_label_names_follow_the_teacher_even_when_permuted(tmp_path):
    model = tiny_bert(("positive", "negative"))
    teacher = HFClassifier(model, tiny_tokenizer(tmp_path / "tok"), "swapped")
    student = compress(teacher, Int8Config())
    assert student.label_names == ("positive", "negative")


def test_pipelines_apply_left_to_right_and_name_the_student(teacher):
    seen = []
    registry._HANDLERS[ToyConfig] = lambda t, config, data, seed, context: (
        seen.append((t.name, config, data, seed)) or t
    )
    try:
        student = compress(teacher, (ToyConfig(layers=2), Int8Config()), data="DATA", seed=7)
    finally:
        registry._HANDLERS[ToyConfig] = lambda t, config, data, seed, context: t
    assert seen == [("tiny", ToyConfig(layers=2), "DATA", 7)]
    assert student.name == "tiny+toy:layers=2+int8"
    assert teacher.name == "tiny"
    assert compress(teacher, "toy").name == "tiny+toy" and teacher.name == "tiny"  # a no-op step


def test_compress_rejects_unregistered_configs_and_non_pytorch_teachers(teacher):
    with pytest.raises(LoyaltyError, match="no compression method is registered for object"):
        compress(teacher, object())
    with pytest.raises(LoyaltyError, match="no compression config given"):
        compress(teacher, ())
    with pytest.raises(LoyaltyError, match="put onnx-int8 last"):
        compress(teacher, "onnx-int8+int8")

    class OnnxLike:
        name, label_names = "model.onnx", ("negative", "positive")

    with pytest.raises(LoyaltyError, match="needs a PyTorch Hugging Face teacher.*'model.onnx'"):
        compress(OnnxLike(), "int8")
