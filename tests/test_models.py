"""Classifier types: HFClassifier's dynamic padding, label names and fingerprints."""

from __future__ import annotations

import numpy as np
from tiny import tiny_bert, tiny_tokenizer

from loyalty_tests.models.classifiers import HFClassifier, _tokenized_batches

TEXTS = ["a good movie", "bad", "the film is not very good at all, really", "great", "awful film", "x"]


def test_batched_prediction_matches_one_by_one(tiny_hf):
    batched = tiny_hf.predict_proba(TEXTS)
    single = np.vstack([tiny_hf.predict_proba([text]) for text in TEXTS])
    assert batched.shape == (len(TEXTS), 2)
    np.testing.assert_allclose(batched, single, atol=1e-5)
    np.testing.assert_allclose(batched.sum(axis=1), 1.0)


def test_batches_are_padded_to_their_own_longest_text(tmp_path):
    tokenizer = tiny_tokenizer(tmp_path)
    texts = ["a", "a b", "a b c d e f g h i j k l"] * 3
    widths = []
    seen = []
    for indices, batch in _tokenized_batches(tokenizer, texts, None, batch_size=3, max_length=128):
        widths.append(batch["input_ids"].shape[1])
        seen.extend(indices.tolist())
    assert sorted(seen) == list(range(len(texts)))
    assert widths[0] > widths[-1]  # length-sorted: the long texts share one batch
    assert max(widths) < 128


def test_text_pairs_are_encoded_together(tiny_hf):
    alone = tiny_hf.predict_proba(["a good movie"])
    paired = tiny_hf.predict_proba(["a good movie"], ["bad"])
    assert not np.allclose(alone, paired)


def test_label_names_come_from_id2label(tmp_path):
    model = HFClassifier(tiny_bert(("pos", "neg", "neutral")), tiny_tokenizer(tmp_path), "m")
    assert model.label_names == ("pos", "neg", "neutral")


def test_fingerprint_changes_with_weights(tmp_path):
    tokenizer = tiny_tokenizer(tmp_path)
    first = HFClassifier(tiny_bert(seed=0), tokenizer, "a").fingerprint
    same = HFClassifier(tiny_bert(seed=0), tokenizer, "b").fingerprint
    other = HFClassifier(tiny_bert(seed=1), tokenizer, "c").fingerprint
    assert first == same != other
