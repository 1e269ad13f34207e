"""The LM run's text corpus, its generation prompts, and which teacher specs are plainly LMs."""

from __future__ import annotations

import json

import pytest
from tiny import save_tiny_bert
from tiny_causal import char_tokenizer, save_tiny_lm, tiny_gpt2

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.lm.corpus import generation_prompts, load_corpus
from loyalty_tests.plugins.lm_session import skip_reason, spec_kind


def test_a_txt_corpus_is_sampled_with_the_seed_in_file_order(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"text number {i}" for i in range(20)) + "\n\n")
    everything = load_corpus(str(path), limit=100)
    assert everything == tuple(f"text number {i}" for i in range(20))  # the blank line is no text
    sample = load_corpus(str(path), limit=5, seed=1)
    assert len(sample) == 5 and list(sample) == sorted(sample, key=everything.index)
    assert sample == load_corpus(str(path), limit=5, seed=1) != load_corpus(str(path), limit=5, seed=2)


def test_a_dataset_spec_gives_its_texts(tmp_path):
    rows = [{"text": f"review {i}", "label": "positive"} for i in range(4)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    assert load_corpus(str(tmp_path / "d.jsonl"), limit=10) == tuple(f"review {i}" for i in range(4))


def test_bad_corpora_are_named(tmp_path):
    with pytest.raises(LoyaltyError, match="does not exist"):
        load_corpus(str(tmp_path / "missing.txt"), limit=5)
    (tmp_path / "blank.txt").write_text("\n  \n")
    with pytest.raises(LoyaltyError, match="no non-blank lines"):
        load_corpus(str(tmp_path / "blank.txt"), limit=5)


def test_prompts_are_the_first_half_of_texts():
    assert generation_prompts(["one two three four", "single", "a b c"], 2) == ("one two", "single")


def test_spec_kind_from_the_spec_alone(tmp_path):
    assert spec_kind("demo") == "classifier" and spec_kind("model.onnx") == "classifier"
    assert spec_kind("model.gguf") == "lm"
    assert spec_kind(str(save_tiny_bert(tmp_path / "bert"))) == "classifier"
    assert spec_kind(str(save_tiny_lm(tmp_path / "gpt2", tiny_gpt2(), char_tokenizer()))) == "lm"
    assert spec_kind("pkg.module:factory") is None and spec_kind(None) is None


def test_which_gates_skip_for_which_pair():
    assert skip_reason("token_agreement", False, object()).startswith("token_agreement gates causal language models")
    assert skip_reason("token_agreement", True, object()) is None
    assert "needs a choice task" in skip_reason("label_loyalty", True, object())
    assert skip_reason("label_loyalty", True, type("Wrapped", (), {"task": 1})()) is None
    assert skip_reason("label_loyalty", False, object()) is None
