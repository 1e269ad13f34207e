"""Generation agreement: greedy continuations of both models, compared prompt by prompt."""

from __future__ import annotations

import pytest
import torch
from tiny_causal import TinyLM, char_tokenizer, perturbed, tiny_gpt2, tiny_llama

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.lm.generation import first_divergence, generation_agreement, greedy_continuations

PROMPTS = ["The film was", "A", "Once upon a time there was a very long prompt", "Why?"]


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2])
def test_greedy_matches_hugging_face_generate_alone_and_batched(build):
    model, tokenizer = build(), char_tokenizer()
    lm = TinyLM(model, tokenizer)  # has .model: decoded with its key/value cache
    batched = greedy_continuations(lm, PROMPTS, 8, batch_size=4)
    alone = [greedy_continuations(lm, [prompt], 8, batch_size=1)[0] for prompt in PROMPTS]
    assert batched == alone
    for prompt, ours in zip(PROMPTS, batched):
        ids = torch.tensor([tokenizer(prompt)["input_ids"]])
        out = model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False, pad_token_id=0, eos_token_id=3
        )
        theirs = [t for t in out[0, ids.shape[1] :].tolist() if t != 3]
        assert ours == theirs[: len(ours)] and len(ours) == len(theirs)


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2])
def test_the_key_value_cache_path_gives_the_same_tokens(build):
    class LogitsOnly:  # a factory's LM: logits and nothing else, so the padded recomputing path runs
        def __init__(self, lm):
            self.name, self.tokenizer, self.max_length, self.logits = lm.name, lm.tokenizer, lm.max_length, lm.logits

    lm = TinyLM(build(), char_tokenizer())
    assert greedy_continuations(lm, PROMPTS, 8) == greedy_continuations(LogitsOnly(lm), PROMPTS, 8, batch_size=3)


def test_identical_models_agree_everywhere_and_a_perturbed_one_does_not():
    model = tiny_llama()
    teacher = TinyLM(model, char_tokenizer())
    same = generation_agreement(teacher, TinyLM(model, char_tokenizer()), PROMPTS, max_new_tokens=6)
    assert same.identical.value == 1.0 and same.mean_divergence.value == 1.0
    assert same.identical.ci_low < 1.0  # four prompts cannot prove perfect agreement
    assert same.worst() == []
    noisy = generation_agreement(teacher, TinyLM(perturbed(model, 1.0), char_tokenizer()), PROMPTS, max_new_tokens=6)
    assert noisy.identical.value < 1.0 and noisy.mean_divergence.value < 1.0
    worst = noisy.worst()[0]
    assert worst["first_divergence"] == min(noisy.divergence) and worst["teacher"] != worst["student"]
    assert noisy.to_row()["mean_first_divergence_tokens"] == pytest.approx(sum(noisy.divergence) / len(PROMPTS))


def test_first_divergence_is_censored_at_the_budget():
    assert first_divergence([1, 2, 3], [1, 2, 3], 5) == 5
    assert first_divergence([1, 2, 3], [1, 2, 4], 5) == 2
    assert first_divergence([1, 2], [1, 2, 3], 5) == 2  # one stopped at EOS


def test_bad_settings_are_named():
    lm = TinyLM(tiny_llama(), char_tokenizer(), max_length=8)
    with pytest.raises(LoyaltyError, match="max_new_tokens must be"):
        greedy_continuations(lm, ["x"], 0)
    with pytest.raises(LoyaltyError, match="no room for a prompt"):
        greedy_continuations(lm, ["x"], 8)
    with pytest.raises(LoyaltyError, match="at least one prompt"):
        generation_agreement(lm, lm, [], max_new_tokens=2)
