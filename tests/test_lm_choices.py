"""Choice scoring: an LM answering choices is a classifier the existing pipeline accepts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from tiny_causal import TinyLM, char_tokenizer, perturbed, tiny_gpt2, tiny_llama

from loyalty_tests.comparison import compare_predictions
from loyalty_tests.data.dataset import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.lm.choices import ChoiceClassifier, ChoiceTask, load_choice_file, template_task
from loyalty_tests.lm.scoring import continuation_logprobs, front_special_ids, split_whitespace
from loyalty_tests.predictions import predict

PAIRS = [
    ("Review: a fine film\nSentiment:", " good"),
    ("Q: 2+2?", " four"),
    ("A much longer prompt that pads the others in its batch:", " yes"),
    ("x", " no, not at all"),
]


def reference_logprob(lm, context: str, continuation: str) -> float:
    """Unbatched, by hand: the whole text through the model once, the continuation's tokens summed."""
    context, continuation = split_whitespace(context, continuation)
    front = front_special_ids(lm.tokenizer)
    n_context = len(front) + len(lm.tokenizer(context, add_special_tokens=False)["input_ids"])
    ids = front + lm.tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = lm.model(input_ids=torch.tensor([ids])).logits[0].double()
    log_probs = torch.log_softmax(logits, dim=-1)
    return float(sum(log_probs[i - 1, ids[i]] for i in range(n_context, len(ids))))


@pytest.mark.parametrize("build", [tiny_llama, tiny_gpt2])
def test_batched_scores_equal_each_text_alone_and_a_hand_computation(build):
    lm = TinyLM(build(), char_tokenizer())
    batched = continuation_logprobs(lm, PAIRS, batch_size=4)[:, 0]
    alone = np.array([continuation_logprobs(lm, [pair], batch_size=1)[0, 0] for pair in PAIRS])
    by_hand = np.array([reference_logprob(lm, *pair) for pair in PAIRS])
    np.testing.assert_allclose(batched, alone, atol=1e-4)
    np.testing.assert_allclose(batched, by_hand, atol=1e-4)
    assert (batched < 0).all()


def test_whitespace_moves_to_the_continuation_and_front_tokens_are_found():
    assert split_whitespace("Sentiment: ", "good") == ("Sentiment:", " good")
    assert front_special_ids(char_tokenizer(bos=True)) == [2]
    assert front_special_ids(char_tokenizer(bos=False)) == []


def test_an_empty_prompt_without_bos_is_refused():
    lm = TinyLM(tiny_llama(), char_tokenizer(bos=False))
    with pytest.raises(LoyaltyError, match="empty prompt"):
        continuation_logprobs(lm, [("", " yes")])


def test_overlong_requests_keep_their_last_tokens():
    lm = TinyLM(tiny_llama(), char_tokenizer(), max_length=16)
    long_context = "word " * 20 + "answer:"
    truncated = continuation_logprobs(lm, [(long_context, " no")])[0, 0]
    assert np.isfinite(truncated)
    with pytest.raises(LoyaltyError, match="no room for a prompt"):
        continuation_logprobs(lm, [("answer:", " " + "n" * 20)])  # the choice alone is too long


def write_choices(path, rows):
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_choice_file_answers_by_index_or_text(tmp_path):
    path = write_choices(
        tmp_path / "q.jsonl",
        [
            {"prompt": "Capital of France?", "choices": [" Paris", " Rome"], "answer": 0},
            {"prompt": "2+2=", "choices": [" 3", " 4", " 5"], "answer": " 4"},
        ],
    )
    data = load_choice_file(path)
    assert data.label_names == ("choice 1", "choice 2", "choice 3")
    assert data.labels == (0, 1)
    assert data.text_pairs == ("Capital of France?", "2+2=")  # the prompt is the attacked text
    probabilities = ChoiceClassifier(
        TinyLM(tiny_llama(), char_tokenizer()), ChoiceTask(), data.label_names
    ).predict_proba(data.texts, data.text_pairs)
    assert probabilities.shape == (2, 3)
    assert probabilities[0, 2] == 0.0  # the first question has two choices only
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)


@pytest.mark.parametrize(
    "row, message",
    [
        ({"prompt": "p", "choices": [" a", " b"]}, "needs keys prompt, choices and answer"),
        ({"prompt": "p", "choices": [" a", " b"], "answer": 2}, "neither an index"),
        ({"prompt": "p", "choices": [" a", " b"], "answer": " c"}, "neither an index"),
        ({"prompt": "p", "choices": [" a"], "answer": 0}, "at least two"),
        ({"prompt": " ", "choices": [" a", " b"], "answer": 0}, "prompt must be non-empty"),
    ],
)
def test_bad_choice_files_are_named(tmp_path, row, message):
    with pytest.raises(LoyaltyError, match=message):
        load_choice_file(write_choices(tmp_path / "bad.jsonl", [row]))
    with pytest.raises(LoyaltyError, match="does not exist"):
        load_choice_file(tmp_path / "missing.jsonl")


def test_template_task_maps_words_to_labels():
    task = template_task("Review: {text}\nSentiment:", ["bad", "good"], ("negative", "positive"))
    assert task.label_words == (("negative", " bad"), ("positive", " good"))  # a space is added
    named = template_task("{text} ->", ["positive=good", "negative=bad"], ("negative", "positive"))
    assert named.label_words == (("negative", " bad"), ("positive", " good"))
    spaced = template_task("{text} is ", ["bad", "good"], ("negative", "positive"))
    assert spaced.label_words == (("negative", "bad"), ("positive", "good"))  # the template ends in a space
    for words, message in (
        (["bad"], "1 label words"),
        (["negative=bad", "good"], "mix"),
        (["negative=bad", "neutral=meh"], "the data's labels"),
    ):
        with pytest.raises(LoyaltyError, match=message):
            template_task("{text}:", words, ("negative", "positive"))
    with pytest.raises(LoyaltyError, match="placeholder"):
        template_task("no placeholder", ["a", "b"], ("negative", "positive"))


def test_length_normalisation_divides_by_bytes():
    lm = TinyLM(tiny_llama(), char_tokenizer())
    data = ["a good film"]
    plain = template_task("{text}:", ["no", "yes indeed"], ("negative", "positive"))
    normalised = template_task("{text}:", ["no", "yes indeed"], ("negative", "positive"), normalise=True)
    sums = continuation_logprobs(lm, [("a good film:", " no"), ("a good film:", " yes indeed")])[:, 0]
    expected = np.exp(sums / [3, 11]) / np.exp(sums / [3, 11]).sum()
    got = ChoiceClassifier(lm, normalised, ("negative", "positive")).predict_proba(data)[0]
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert not np.allclose(ChoiceClassifier(lm, plain, ("negative", "positive")).predict_proba(data)[0], got)


def sentiment_data():
    texts = ["a great film", "awful and dull", "fine acting", "bad plot", "loved it", "boring", "superb", "weak"]
    return TextDataset("reviews", texts, [1, 0, 1, 0, 1, 0, 1, 0], ("negative", "positive"))


def test_the_existing_pipeline_takes_choice_classifiers(tmp_path):
    data = sentiment_data()
    task = template_task("Review: {text}\nSentiment:", ["bad", "good"], data.label_names)
    model = tiny_llama()
    teacher = ChoiceClassifier(TinyLM(model, char_tokenizer(), name="teacher", fingerprint="t"), task, data.label_names)
    same = ChoiceClassifier(TinyLM(model, char_tokenizer(), name="copy", fingerprint="c"), task, data.label_names)
    noisy = ChoiceClassifier(
        TinyLM(perturbed(model, 0.5), char_tokenizer(), name="noisy", fingerprint="n"), task, data.label_names
    )
    teacher_predictions = predict(teacher, data, cache_dir=tmp_path)
    assert predict(teacher, data, cache_dir=tmp_path).from_cache  # keyed by the LM's and the task's fingerprint
    aa = compare_predictions(data, teacher_predictions, predict(same, data))
    assert aa.metrics["label_loyalty"].value == 1.0
    assert aa.metrics["probability_loyalty"].value == pytest.approx(1.0)
    ab = compare_predictions(data, teacher_predictions, predict(noisy, data))
    assert ab.metrics["probability_loyalty"].value < 0.999
    other = ChoiceClassifier(
        TinyLM(model, char_tokenizer(), fingerprint="t"),
        template_task("Text: {text}\nLabel:", ["bad", "good"], data.label_names),
        data.label_names,
    )
    assert other.fingerprint != teacher.fingerprint
