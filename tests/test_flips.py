"""Flip accounting (loyalty_tests.stats.flips) against metrics.flips, sklearn and hand counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import confusion_matrix

from loyalty_tests import metrics
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.stats.flips import flip_counts, flip_matrix, top_flips
from loyalty_tests.strategies import label_arrays

fast = settings(max_examples=80, deadline=None, database=None, derandomize=True)


@st.composite
def labelled_predictions(draw):
    n_classes = draw(st.integers(2, 5))
    y_true = draw(label_arrays(n_classes=n_classes, max_size=30))
    teacher = draw(label_arrays(n=y_true.size, n_classes=n_classes))
    student = draw(st.one_of(st.just(teacher.copy()), label_arrays(n=y_true.size, n_classes=n_classes)))
    return y_true, teacher, student, n_classes


def test_hand_counted_example():
    y_true = [0, 0, 1, 1, 2, 2, 2, 1]
    teacher = [0, 0, 1, 0, 2, 2, 1, 1]
    student = [0, 1, 1, 1, 0, 2, 1, 2]
    counts = flip_counts(y_true, teacher, student)
    # negative: rows 1 (0->1), 4 (2->0), 7 (1->2); positive: row 3; both right: 0, 2, 5; both wrong: 6
    assert (counts.negative_flips, counts.positive_flips, counts.both_correct, counts.both_wrong) == (3, 1, 3, 1)
    assert counts.negative_flip_rate == 3 / 8 and counts.positive_flip_rate == 1 / 8
    assert counts.negative_flip_share_of_errors == 3 / 4  # student errors: rows 1, 4, 6, 7
    expected = np.zeros((3, 3), dtype=int)
    expected[0, 1] = expected[2, 0] = expected[1, 2] = 1
    np.testing.assert_array_equal(flip_matrix(y_true, teacher, student, 3), expected)
    positive = np.zeros((3, 3), dtype=int)
    positive[0, 1] = 1  # row 3: the teacher said 0, the student got gold label 1 back
    np.testing.assert_array_equal(flip_matrix(y_true, teacher, student, 3, kind="positive"), positive)


@fast
@given(labelled_predictions())
def test_counts_agree_with_metrics_flips_and_add_up(data):
    y_true, teacher, student, n_classes = data
    counts = flip_counts(y_true, teacher, student)
    assert metrics.flips(y_true, teacher, student) == {
        "correct_to_wrong": counts.negative_flips,
        "wrong_to_correct": counts.positive_flips,
        "both_correct": counts.both_correct,
        "both_wrong": counts.both_wrong,
    }
    assert counts.negative_flips + counts.positive_flips + counts.both_correct + counts.both_wrong == counts.n
    # accuracy drop = NFR - PFR: the paired difference the accuracy gate tests
    drop = metrics.accuracy(y_true, teacher) - metrics.accuracy(y_true, student)
    assert counts.negative_flip_rate - counts.positive_flip_rate == pytest.approx(drop, abs=1e-12)
    assert counts.student_errors == int(np.sum(student != y_true))


@fast
@given(labelled_predictions())
def test_flip_matrices_match_sklearn_on_the_flipped_rows(data):
    y_true, teacher, student, n_classes = data
    labels = list(range(n_classes))
    for kind, rows in (
        ("negative", (teacher == y_true) & (student != y_true)),
        ("positive", (teacher != y_true) & (student == y_true)),
    ):
        matrix = flip_matrix(y_true, teacher, student, n_classes, kind=kind)
        expected = (
            confusion_matrix(teacher[rows], student[rows], labels=labels)
            if rows.any()
            else np.zeros((n_classes, n_classes), dtype=int)
        )
        np.testing.assert_array_equal(matrix, expected)
        assert np.trace(matrix) == 0  # a flip changes the prediction
    negative = flip_matrix(y_true, teacher, student, n_classes)
    assert negative.sum() == flip_counts(y_true, teacher, student).negative_flips


def test_identical_student_has_no_flips():
    y_true, teacher = np.array([0, 1, 2, 1]), np.array([0, 2, 2, 1])
    counts = flip_counts(y_true, teacher, teacher.copy())
    assert counts.negative_flips == counts.positive_flips == 0 and counts.negative_flip_share_of_errors == 0.0
    assert not flip_matrix(y_true, teacher, teacher, 3).any()


def test_share_of_errors_is_nan_without_student_errors():
    counts = flip_counts([0, 1], [1, 1], [0, 1])
    assert counts.student_errors == 0 and math.isnan(counts.negative_flip_share_of_errors)
    assert counts.to_row()["positive_flip_rate"] == 0.5


def test_top_flips_name_the_broken_classes():
    matrix = flip_matrix([0, 0, 0, 1, 2], [0, 0, 0, 1, 2], [1, 1, 2, 0, 2], 3)
    assert top_flips(matrix, ["neg", "pos", "neutral"], k=2) == [("neg", "pos", 2), ("neg", "neutral", 1)]
    assert top_flips(np.zeros((2, 2), dtype=int)) == []


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: flip_counts([0, 1], [0], [0, 1]), "lengths differ"),
        (lambda: flip_counts([0.5, 1], [0, 1], [0, 1]), "integer class indices"),
        (lambda: flip_counts([], [], []), "empty"),
        (lambda: flip_matrix([0, 3], [0, 1], [0, 1], n_classes=3), "outside [0, 3)"),
        (lambda: flip_matrix([0, 1], [0, 1], [0, 1], n_classes=0), "n_classes"),
        (lambda: flip_matrix([0, 1], [0, 1], [0, 1], n_classes=2, kind="all"), "kind must be"),
        (lambda: top_flips([[0, 1]]), "square"),
        (lambda: top_flips([[0, 1], [1, 0]], ["a"]), "label_names has 1"),
    ],
)
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(LoyaltyError) as error:
        call()
    assert words in str(error.value)
