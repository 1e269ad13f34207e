"""Duplicated texts: counted once in every interval, and said so in the line and the JSON row."""

from __future__ import annotations

import json

import numpy as np

from loyalty_tests.comparison import compare_predictions
from loyalty_tests.data import TextDataset
from loyalty_tests.gates.prediction import PREDICTION_GATES, prediction_gate
from loyalty_tests.gates.thresholds import resolve
from loyalty_tests.predictions import Predictions

LABELS = ("negative", "positive")


def report(texts, labels, teacher, student):
    data = TextDataset("toy", texts, labels, LABELS)
    return compare_predictions(
        data,
        Predictions("t", np.asarray(teacher, float), LABELS, 0.0),
        Predictions("s", np.asarray(student, float), LABELS, 0.0),
        n_resamples=100,
    )


def test_two_texts_copied_fifty_times_are_two_examples():
    texts, labels = ["a fine film", "a dull film"] * 50, [1, 0] * 50
    probs = [[0.1, 0.9], [0.8, 0.2]] * 50
    duplicated = report(texts, labels, probs, probs)
    assert duplicated.duplicates == 98 and duplicated.metrics["label_loyalty"].n == 2
    result = prediction_gate("label_loyalty", duplicated, resolve({}, {}))
    assert "n=2 distinct, 98 duplicates not counted" in result.message
    assert json.loads(json.dumps(result.to_row()))["duplicates"] == 98
    # two examples cannot prove a loyalty of 0.90: the interval reaches far below it
    assert result.ci_low < 0.5 and result.three_way == "INCONCLUSIVE"
    for gate in PREDICTION_GATES:  # every prediction gate counts distinct examples
        assert prediction_gate(gate, duplicated, resolve({}, {})).n == 2


def test_distinct_data_is_unchanged_and_says_nothing_about_duplicates():
    texts = [f"text {i}" for i in range(100)]
    probs = [[0.1, 0.9], [0.8, 0.2]] * 50
    distinct = report(texts, [1, 0] * 50, probs, probs)
    assert distinct.duplicates == 0 and distinct.metrics["label_loyalty"].n == 100
    result = prediction_gate("label_loyalty", distinct, resolve({}, {}))
    assert "duplicate" not in result.message and result.duplicates == 0 and result.three_way == "PASS"


def test_a_repeated_text_with_another_pair_is_another_example():
    data = TextDataset("pairs", ["premise"] * 4, [0, 1, 0, 1], LABELS, text_pairs=["h1", "h2", "h1", "h3"])
    probs = np.array([[0.9, 0.1], [0.2, 0.8]] * 2)
    pairs = compare_predictions(
        data, Predictions("t", probs, LABELS, 0.0), Predictions("s", probs, LABELS, 0.0), n_resamples=100
    )
    assert pairs.duplicates == 1 and pairs.metrics["label_loyalty"].n == 3
