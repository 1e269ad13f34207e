"""Causal LMs load from a folder, a .gguf file or a factory, are told apart from classifiers by
the model itself, and are refused next to a classifier or a different tokenizer."""

from __future__ import annotations

import sys

import pytest
import torch
from lm_tiny import save_tiny_llama, tiny_causal_lm, tiny_gpt2, tiny_lm_tokenizer
from tiny import save_tiny_bert

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.lm.loading import as_causal_lm
from loyalty_tests.lm.model import CausalLM, check_same_kind, check_same_tokenizer, model_kind
from loyalty_tests.models.spec_forms import check_spec
from loyalty_tests.models.specs import ModelOptions, load_model


def encode(lm, texts):
    batch = lm.tokenizer(texts, padding=True, return_tensors="pt")
    return batch["input_ids"], batch["attention_mask"]


def test_llama_folder_loads_as_a_causal_lm(tmp_path):
    folder = save_tiny_llama(tmp_path / "llama", scale=0.5)
    lm = load_model(str(folder))
    assert isinstance(lm, CausalLM) and model_kind(lm) == "lm" and lm.max_length == 256
    ids, mask = encode(lm, ["hello world", "hi"])
    logits = lm.logits(ids, mask)
    assert logits.dtype == torch.float32 and tuple(logits.shape) == (2, ids.shape[1], len(lm.tokenizer))
    again = load_model(str(folder))
    assert (again.fingerprint, again.tokenizer_fingerprint) == (lm.fingerprint, lm.tokenizer_fingerprint)
    assert torch.equal(again.logits(ids, mask), logits)


def test_classifier_folder_is_still_a_classifier(tmp_path):
    classifier = load_model(str(save_tiny_bert(tmp_path / "bert")))
    assert model_kind(classifier) == "classifier"


def test_factory_pair_of_gpt2_and_tokenizer_is_an_lm(tmp_path):
    tokenizer = tiny_lm_tokenizer(tmp_path / "tok")
    lm = as_causal_lm((tiny_gpt2(len(tokenizer)), tokenizer), "factory:gpt2")
    assert isinstance(lm, CausalLM) and lm.max_length == 256
    assert as_causal_lm(object(), "factory:other") is None  # not an LM: the classifier path decides


def test_factory_lm_like_object_without_fingerprint_is_refused(tmp_path):
    class Bare:
        tokenizer = None
        name = "bare"

        def logits(self, input_ids, attention_mask=None):
            return None

    with pytest.raises(LoyaltyError, match="fingerprint"):
        as_causal_lm(Bare(), "pkg:bare")


def test_gguf_spec_names_the_extra_when_gguf_is_missing(tmp_path, monkeypatch):
    file = tmp_path / "model.gguf"
    file.write_bytes(b"GGUF")
    monkeypatch.setitem(sys.modules, "gguf", None)  # import gguf now raises ImportError
    with pytest.raises(LoyaltyError, match=r"pytest-loyalty\[lm\]"):
        load_model(str(file))


def test_missing_gguf_file_is_refused_before_loading(tmp_path):
    with pytest.raises(LoyaltyError, match="does not exist"):
        check_spec(str(tmp_path / "nowhere.gguf"), "teacher")
    with pytest.raises(LoyaltyError, match="does not exist"):
        load_model(str(tmp_path / "nowhere.gguf"))


def test_kind_mismatch_names_both_models(tmp_path):
    lm = tiny_causal_lm(tmp_path / "lm")
    classifier = load_model(str(save_tiny_bert(tmp_path / "bert")))
    with pytest.raises(LoyaltyError, match=r"teacher '.*bert.*' is a text classifier but student 'tiny' is a causal"):
        check_same_kind(classifier, lm)
    check_same_kind(lm, lm)  # same kind: no error


def test_tokenizer_mismatch_names_both_fingerprints(tmp_path):
    teacher = tiny_causal_lm(tmp_path / "a", name="teacher")
    tokenizer = tiny_lm_tokenizer(tmp_path / "b", extra_tokens=("<extra>",))
    student = CausalLM(teacher.model, tokenizer, "student")
    assert student.tokenizer_fingerprint != teacher.tokenizer_fingerprint
    both = rf"{teacher.tokenizer_fingerprint[:12]}.*{student.tokenizer_fingerprint[:12]}"
    with pytest.raises(LoyaltyError, match=both):
        check_same_tokenizer(teacher, student)
    check_same_tokenizer(teacher, CausalLM(teacher.model, tiny_lm_tokenizer(tmp_path / "c"), "copy"))


@pytest.mark.parametrize("kind", ["llama", "gpt2"])
@pytest.mark.parametrize(
    "recipe", ["int8", "int8:keep=lm_head", "int8-weight", "int8-weight:keep=lm_head/embed_tokens"]
)
def test_lm_recipes_make_lm_students_that_share_the_tokenizer(tmp_path, kind, recipe):
    if kind == "gpt2":  # GPT-2 calls its token embeddings wte
        recipe = recipe.replace("embed_tokens", "wte")
    teacher = tiny_causal_lm(tmp_path, kind=kind, scale=0.3)
    before = {key: value.clone() for key, value in teacher.model.state_dict().items()}
    student = load_model(recipe, teacher=teacher, options=ModelOptions())
    assert isinstance(student, CausalLM) and student.name == f"tiny+{recipe}"
    assert student.tokenizer_fingerprint == teacher.tokenizer_fingerprint
    assert student.fingerprint != teacher.fingerprint
    ids, mask = encode(teacher, ["the cat sat", "on a mat"])
    teacher_logits, student_logits = teacher.logits(ids, mask), student.logits(ids, mask)
    assert not torch.equal(teacher_logits, student_logits)  # it did quantize something
    assert all(torch.equal(before[key], value) for key, value in teacher.model.state_dict().items())
    if "keep=lm_head" in recipe:
        assert type(student.model.lm_head) is torch.nn.Linear


def test_weight_only_int8_is_closer_to_the_teacher_than_naive_int8(tmp_path):
    teacher = tiny_causal_lm(tmp_path, scale=0.3)
    ids, mask = encode(teacher, ["the quick brown fox jumps over the lazy dog"])
    reference = teacher.logits(ids, mask)
    error = {
        recipe: (load_model(recipe, teacher=teacher).logits(ids, mask) - reference).abs().mean().item()
        for recipe in ("int8", "int8-weight:keep=lm_head")
    }
    assert error["int8-weight:keep=lm_head"] < error["int8"]


def test_keep_naming_no_module_is_an_error(tmp_path):
    teacher = tiny_causal_lm(tmp_path)
    with pytest.raises(LoyaltyError, match="no module named 'lm_haed'"):
        load_model("int8-weight:keep=lm_haed", teacher=teacher)


def test_classifier_only_recipe_is_refused_for_an_lm(tmp_path):
    teacher = tiny_causal_lm(tmp_path)
    with pytest.raises(LoyaltyError, match=r"'prune.*cannot compress the causal LM 'tiny'.*int8-weight"):
        load_model("prune:0.5", teacher=teacher)


def test_factory_spec_returning_a_causal_lm_pair_loads_as_an_lm(tmp_path, monkeypatch):
    tiny_lm_tokenizer(tmp_path / "tok")
    (tmp_path / "my_lm_factory.py").write_text(
        "from transformers import AutoTokenizer\n"
        "from lm_tiny import tiny_llama\n"
        f"def make():\n    tokenizer = AutoTokenizer.from_pretrained({str(tmp_path / 'tok')!r})\n"
        "    return tiny_llama(len(tokenizer)), tokenizer\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    lm = load_model("my_lm_factory:make")
    assert isinstance(lm, CausalLM) and lm.name == "my_lm_factory:make" and model_kind(lm) == "lm"
