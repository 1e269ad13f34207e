"""token_loyalty end to end on tiny random LMs: the teacher runs once (cached), A/A passes every
LM gate, and each gate fails a student that breaks what it measures."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from lm_tiny import tiny_causal_lm, tiny_lm_tokenizer

from loyalty_tests.errors import LoyaltyCacheWarning, LoyaltyError
from loyalty_tests.gates.lm_tokens import max_mean_kl, max_perplexity_ratio, min_token_agreement
from loyalty_tests.gates.thresholds import resolve
from loyalty_tests.lm.model import CausalLM
from loyalty_tests.lm.token_loyalty import token_loyalty

TEXTS = [f"text {i}: the quick brown fox jumps over the lazy dog" + " again" * (i % 4) for i in range(12)]
GATES = (min_token_agreement, max_mean_kl, max_perplexity_ratio)


class Counting(CausalLM):
    """A CausalLM that counts its forward passes."""

    calls = 0

    def logits(self, input_ids, attention_mask=None):
        type(self).calls += 1
        return super().logits(input_ids, attention_mask)


@pytest.fixture
def teacher(tmp_path):
    made = tiny_causal_lm(tmp_path / "tok", scale=0.3, name="teacher")
    return Counting(made.model, made.tokenizer, "teacher", max_length=256, batch_size=4)


def copy_of(teacher, name="copy"):
    return CausalLM(copy.deepcopy(teacher.model), teacher.tokenizer, name, max_length=256, batch_size=4)


def with_lm_head(teacher, factor: float, name: str):
    """The teacher with its output layer scaled: same argmax everywhere, sharper distributions."""
    student = copy_of(teacher, name)
    with torch.no_grad():
        student.model.lm_head.weight.mul_(factor)
    return student


def test_identical_copy_passes_every_lm_gate_under_the_confident_rule(teacher, tmp_path):
    result = token_loyalty(teacher, copy_of(teacher), TEXTS, cache_dir=tmp_path)
    thresholds = resolve({"decision": "confident"}, {})
    outcomes = [gate(result, thresholds) for gate in GATES]
    assert all(outcome.passed and outcome.three_way == "PASS" for outcome in outcomes), outcomes
    assert result.summary["token_agreement"].value == 1.0 and result.summary["mean_kl"].value < 1e-6
    assert result.n_texts == len(TEXTS) and result.n_tokens == sum(len(t) - 1 for t in TEXTS)


def test_each_gate_fails_a_student_that_breaks_its_metric(teacher, tmp_path):
    thresholds = resolve({}, {})
    # the exact default: the KL failure is the student's own, not a tail bound added to a top-K KL
    sharper = token_loyalty(teacher, with_lm_head(teacher, 4.0, "sharper"), TEXTS, cache_dir=tmp_path)
    assert min_token_agreement(sharper, thresholds).passed  # same top-1 token everywhere...
    assert not max_mean_kl(sharper, thresholds).passed  # ...but far more confident
    assert not max_perplexity_ratio(sharper, thresholds).passed
    other = tiny_causal_lm(tmp_path / "other", seed=5, scale=0.3, name="other")
    stranger = token_loyalty(teacher, other, TEXTS, cache_dir=tmp_path)
    result = min_token_agreement(stranger, thresholds)
    assert not result.passed and result.three_way == "FAIL"
    assert "token_agreement" in result.message and "texts" in result.message


def test_an_undecided_gate_says_how_many_texts_would_decide(teacher, tmp_path):
    result = token_loyalty(teacher, with_lm_head(teacher, 1.3, "s"), TEXTS, cache_dir=tmp_path)
    kl = result.summary["mean_kl"]
    thresholds = resolve({"decision": "three-way", "max_mean_kl": (kl.value + kl.ci_high) / 2}, {})
    outcome = max_mean_kl(result, thresholds)
    assert outcome.three_way == "INCONCLUSIVE" and not outcome.passed
    assert outcome.needed > len(TEXTS) and f"about {outcome.needed} texts would" in outcome.message


def full_vocabulary_kl(teacher, student, texts) -> np.ndarray:
    """Per-token KL(teacher || student) straight from both models' logits, one text at a time."""
    values = []
    for text in texts:
        ids = torch.tensor([teacher.tokenizer(text)["input_ids"]])
        log_p = torch.log_softmax(teacher.logits(ids).double()[0, :-1], -1)
        log_q = torch.log_softmax(student.logits(ids).double()[0, :-1], -1)
        values.append((log_p.exp() * (log_p - log_q)).sum(-1).numpy())
    return np.concatenate(values)


def test_the_default_kl_is_the_full_vocabulary_kl(teacher, tmp_path):
    student = with_lm_head(teacher, 1.7, "sharper")
    result = token_loyalty(teacher, student, TEXTS, batch_size=5, cache_dir=tmp_path)
    np.testing.assert_allclose(result.per_token["kl"], full_vocabulary_kl(teacher, student, TEXTS), atol=1e-6)
    assert result.info["exact"] and result.top_k == len(teacher.tokenizer) and not result.teacher_from_cache
    assert not (tmp_path / "lm-teacher").exists()  # nothing O(vocabulary) is written anywhere


def test_a_cached_top_k_teacher_estimates_the_full_kl_and_gates_both_ways(teacher, tmp_path):
    """With the teacher's top 8 tokens and its tail samples cached, the mean KL meets the full
    one within 4 stated sampling errors; a byte-identical copy has a KL of 0 (up to rounding) and passes;
    a far more confident student fails."""
    student = with_lm_head(teacher, 1.7, "sharper")
    cached = token_loyalty(teacher, student, TEXTS, top_k=8, cache_dir=tmp_path)
    full = full_vocabulary_kl(teacher, student, TEXTS)
    error = cached.summary["kl_sampling_se"].value
    assert not cached.info["exact"] and error > 0
    assert abs(cached.summary["mean_kl"].value - full.mean()) <= 4 * error
    thresholds = resolve({}, {})
    twin = token_loyalty(teacher, copy_of(teacher), TEXTS, top_k=8, cache_dir=tmp_path)
    assert twin.teacher_from_cache and 0.0 <= twin.summary["mean_kl"].value < 1e-6
    outcome = max_mean_kl(twin, thresholds)
    assert outcome.passed and "tail samples per token cached" in outcome.message
    sharper = token_loyalty(teacher, with_lm_head(teacher, 4.0, "far sharper"), TEXTS, top_k=8, cache_dir=tmp_path)
    assert not max_mean_kl(sharper, thresholds).passed


def test_a_student_with_another_vocabulary_size_is_refused(teacher, tmp_path):
    student = copy_of(teacher, "wider")
    student.model.resize_token_embeddings(len(teacher.tokenizer) + 8)
    with pytest.raises(LoyaltyError, match="needs one vocabulary"):
        token_loyalty(teacher, student, TEXTS, cache_dir=tmp_path)


def test_teacher_runs_once_then_comes_from_the_cache(teacher, tmp_path):
    student = copy_of(teacher, "student")
    first = token_loyalty(teacher, student, TEXTS, top_k=8, batch_size=4, cache_dir=tmp_path)
    calls = Counting.calls
    second = token_loyalty(teacher, student, TEXTS, top_k=8, batch_size=4, cache_dir=tmp_path)
    assert not first.teacher_from_cache and second.teacher_from_cache and Counting.calls == calls
    np.testing.assert_array_equal(first.per_token["kl"], second.per_token["kl"])
    token_loyalty(teacher, student, TEXTS, top_k=4, cache_dir=tmp_path)  # another K is another entry
    token_loyalty(teacher, student, TEXTS[:5], top_k=8, cache_dir=tmp_path)  # other texts too
    assert Counting.calls == calls + 3 + 2
    assert len(list((tmp_path / "lm-teacher").glob("*.npz"))) == 3


def test_a_corrupt_cache_entry_is_recomputed_with_a_warning(teacher, tmp_path):
    student = copy_of(teacher)
    token_loyalty(teacher, student, TEXTS, top_k=8, cache_dir=tmp_path)
    (entry,) = (tmp_path / "lm-teacher").glob("*.npz")
    entry.write_bytes(b"not a numpy file")
    with pytest.warns(LoyaltyCacheWarning, match="unreadable"):
        result = token_loyalty(teacher, student, TEXTS, top_k=8, cache_dir=tmp_path)
    assert not result.teacher_from_cache and result.summary["token_agreement"].value == 1.0


def test_student_with_another_tokenizer_is_refused(teacher, tmp_path):
    tokenizer = tiny_lm_tokenizer(tmp_path / "other-tok", extra_tokens=("<x>",))
    with pytest.raises(LoyaltyError, match="different tokenizers"):
        token_loyalty(teacher, CausalLM(teacher.model, tokenizer, "student"), TEXTS, cache_dir=tmp_path)


def test_a_text_too_short_to_predict_anything_is_named(teacher, tmp_path):
    with pytest.raises(LoyaltyError, match=r"text 1 \('a'\) has 1 token"):
        token_loyalty(teacher, copy_of(teacher), ["long enough", "a"], cache_dir=tmp_path)


def test_padding_does_not_change_a_text_s_statistics(teacher, tmp_path):
    together = token_loyalty(teacher, with_lm_head(teacher, 1.5, "s"), TEXTS, batch_size=6, use_cache=False)
    alone = token_loyalty(teacher, with_lm_head(teacher, 1.5, "s"), TEXTS, batch_size=1, use_cache=False)
    np.testing.assert_allclose(together.per_token["kl"], alone.per_token["kl"], atol=1e-5)


def test_working_a_few_positions_at_a_time_changes_nothing(teacher, tmp_path, monkeypatch):
    import loyalty_tests.lm.token_loyalty as module

    whole = token_loyalty(teacher, with_lm_head(teacher, 1.5, "s"), TEXTS, cache_dir=tmp_path)
    monkeypatch.setattr(module, "WORK_AREA", 3 * len(teacher.tokenizer))  # three positions per chunk
    chunked = token_loyalty(teacher, with_lm_head(teacher, 1.5, "s"), TEXTS, cache_dir=tmp_path)
    for name, values in whole.per_token.items():
        np.testing.assert_array_equal(values, chunked.per_token[name], err_msg=name)


def test_gate_modules_check_the_same_as_the_named_functions(teacher, tmp_path):
    from loyalty_tests.gates import mean_kl, perplexity_ratio, token_agreement

    result = token_loyalty(teacher, with_lm_head(teacher, 4.0, "sharper"), TEXTS, top_k=8, cache_dir=tmp_path)
    thresholds = resolve({}, {})
    for module, function in (
        (token_agreement, min_token_agreement),
        (mean_kl, max_mean_kl),
        (perplexity_ratio, max_perplexity_ratio),
    ):
        assert module.check(result, thresholds) == function(result, thresholds)


def test_a_dynamic_int8_student_scores_each_text_alone_whatever_the_batch_size(teacher, tmp_path):
    """Dynamic int8 takes activation scales from the whole batch (padding included): run in
    batches its statistics would follow --loyalty-batch-size; one text per pass, they do not."""
    from loyalty_tests.compress import compress
    from loyalty_tests.lm.scoring import continuation_logprobs
    from loyalty_tests.models.batching import batch_dependence

    student = compress(teacher, "int8")
    assert batch_dependence(student)
    runs = [token_loyalty(teacher, student, TEXTS, top_k=8, batch_size=size, cache_dir=tmp_path) for size in (1, 6)]
    np.testing.assert_array_equal(runs[0].per_token["kl"], runs[1].per_token["kl"])
    assert runs[1].info["batch_size"] == 1
    pairs = [(text[:20], text[20:40]) for text in TEXTS]
    np.testing.assert_array_equal(
        continuation_logprobs(student, pairs, batch_size=1), continuation_logprobs(student, pairs, batch_size=6)
    )


def test_a_dynamic_int8_teacher_is_summarised_one_text_at_a_time(teacher, tmp_path):
    """The teacher's cached top-K summaries carry no batch size in their key, so a batch-dependent
    teacher must be run one text per pass: a run at batch size 6 and one at 1 then write the same
    summaries, and the side-by-side (exact) path agrees whatever the batch size too."""
    from loyalty_tests.compress import compress
    from loyalty_tests.lm.teacher_cache import run_teacher, tokenize

    int8_teacher = compress(teacher, "int8")
    student = copy_of(teacher)
    tokenized = tokenize(teacher.tokenizer, TEXTS, 64)
    alone, batched = (run_teacher(int8_teacher, tokenized, 8, size) for size in (1, 6))
    for one, other in zip(alone, batched):
        np.testing.assert_array_equal(one.top_logprobs, other.top_logprobs)
    exact = [token_loyalty(int8_teacher, student, TEXTS, batch_size=size, cache_dir=tmp_path) for size in (1, 6)]
    # the float student still moves by rounding with its padding (1e-7); int8 scales moved it by 1e-3
    np.testing.assert_allclose(exact[0].per_token["kl"], exact[1].per_token["kl"], rtol=0, atol=1e-5)
