"""Properties of the metrics over hypothesis-generated teacher/student outputs, and the
invariant checker itself (it must pass real metrics and catch broken ones)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import jensenshannon

from loyalty_tests import metrics
from loyalty_tests.strategies import (
    check_metric_invariants,
    label_arrays,
    prediction_pairs,
    probability_matrices,
    probability_vectors,
)


# Example counts and randomness come from the hypothesis profile (tests/conftest.py): derandomized
# in CI, random with HYPOTHESIS_PROFILE=dev. A few tests scale the profile's count up or down.
def scaled(factor: float):
    return settings(max_examples=max(5, int(settings.default.max_examples * factor)))


@st.composite
def labelled_pairs(draw, unique_argmax=False):
    teacher, student = draw(prediction_pairs(unique_argmax=unique_argmax))
    y_true = draw(label_arrays(n=teacher.shape[0], n_classes=teacher.shape[1]))
    return y_true, teacher, student


@given(probability_vectors())
def test_probability_vectors_are_distributions(p):
    assert p.ndim == 1 and (p >= 0).all() and p.sum() == pytest.approx(1.0)


@given(probability_matrices(unique_argmax=True))
def test_unique_argmax_has_no_ties(probs):
    assert ((probs == probs.max(axis=1, keepdims=True)).sum(axis=1) == 1).all()


@scaled(5)
@given(prediction_pairs(unique_argmax=True))
def test_unique_argmax_pairs_have_no_near_ties(pair):
    # Regression: weights that differ in the last bit used to round to a tie once normalised.
    for probs in pair:
        top_two = np.sort(probs, axis=1)[:, -2:]
        assert (top_two[:, 1] - top_two[:, 0] > 1e-7 * top_two[:, 1]).all()


@given(probability_matrices())
def test_identity_gives_one(probs):
    assert metrics.label_loyalty(probs, probs) == 1.0
    assert metrics.probability_loyalty(probs, probs) == pytest.approx(1.0, abs=1e-12)
    assert metrics.kl_divergence(probs, probs) == pytest.approx(0.0, abs=1e-12)


@given(prediction_pairs())
def test_loyalty_is_symmetric_and_bounded(pair):
    teacher, student = pair
    for metric in (metrics.label_loyalty, metrics.probability_loyalty):
        value = metric(teacher, student)
        assert 0.0 <= value <= 1.0
        assert value == pytest.approx(metric(student, teacher), abs=1e-12)
    assert metrics.kl_divergence(teacher, student) >= 0.0


@given(prediction_pairs(unique_argmax=True), st.data())
def test_shared_class_permutation_changes_nothing(pair, data):
    teacher, student = pair
    order = np.array(data.draw(st.permutations(range(teacher.shape[1]))))
    for metric in (metrics.label_loyalty, metrics.probability_loyalty, metrics.kl_divergence):
        assert metric(teacher[:, order], student[:, order]) == pytest.approx(metric(teacher, student), abs=1e-9)


@given(prediction_pairs())
def test_probability_loyalty_matches_scipy_per_row(pair):
    teacher, student = pair
    expected = [1.0 - jensenshannon(t, s, base=2) for t, s in zip(teacher, student)]
    # scipy takes sqrt of an unclipped JSD, so a rounding-negative JSD comes back as NaN there
    expected = np.nan_to_num(expected, nan=1.0)
    np.testing.assert_allclose(metrics.per_example_probability_loyalty(teacher, student), expected, atol=1e-7)


@given(labelled_pairs())
def test_label_loyalty_is_bounded_by_the_accuracies(case):
    # Both right on an example => they agree, so agreement >= acc_t + acc_s - 1.
    # Exactly one right => they disagree, and that happens on >= |acc_t - acc_s| of examples.
    y_true, teacher, student = case
    teacher_accuracy = metrics.accuracy(y_true, teacher.argmax(1))
    student_accuracy = metrics.accuracy(y_true, student.argmax(1))
    loyalty = metrics.label_loyalty(teacher, student)
    assert loyalty >= teacher_accuracy + student_accuracy - 1 - 1e-12
    assert loyalty <= 1 - abs(teacher_accuracy - student_accuracy) + 1e-12


@given(labelled_pairs())
def test_counts_agree_with_each_other(case):
    y_true, teacher, student = case
    n, k = teacher.shape
    teacher_pred, student_pred = teacher.argmax(1), student.argmax(1)
    counts = metrics.flips(y_true, teacher_pred, student_pred)
    assert sum(counts.values()) == n
    drop = metrics.accuracy(y_true, teacher_pred) - metrics.accuracy(y_true, student_pred)
    assert (counts["correct_to_wrong"] - counts["wrong_to_correct"]) / n == pytest.approx(drop, abs=1e-12)
    matrix = metrics.agreement_matrix(teacher_pred, student_pred, k)
    assert matrix.sum() == n
    assert np.trace(matrix) / n == pytest.approx(metrics.label_loyalty(teacher, student))
    # per-class loyalty weighted by how often the teacher predicts each class is label loyalty
    per_class = metrics.per_class_loyalty(teacher, student)
    weights = matrix.sum(axis=1) / n
    assert np.nansum(per_class * weights) == pytest.approx(metrics.label_loyalty(teacher, student))
    assert np.isnan(per_class).tolist() == (matrix.sum(axis=1) == 0).tolist()
    assert 0.0 <= metrics.mcnemar_p_value(y_true, teacher_pred, student_pred) <= 1.0
    for probs in (teacher, student):
        assert 0.0 <= metrics.expected_calibration_error(y_true, probs) <= 1.0


@scaled(0.25)
@given(labelled_pairs())
def test_compare_cis_contain_the_estimates(case):
    y_true, teacher, student = case
    for name, value in metrics.compare(y_true, teacher, student, n_resamples=50).items():
        if value.ci_low is not None:
            assert value.ci_low - 1e-12 <= value.value <= value.ci_high + 1e-12 or name.endswith("ece"), name


# ------------------------------------------------------------ the invariant checker


@pytest.mark.parametrize("metric", [metrics.label_loyalty, metrics.probability_loyalty])
def test_checker_passes_the_loyalty_metrics(metric):
    check_metric_invariants(metric)


def test_checker_passes_kl_with_the_right_invariants():
    check_metric_invariants(metrics.kl_divergence, bounds=(0.0, 1e3), identity_value=0.0, symmetric=False)


def exp_minus_kl(teacher, student):
    return float(np.exp(-metrics.kl_divergence(teacher, student)))


def first_class_only(teacher, student):
    return float(np.mean(1.0 - np.abs(teacher[:, 0] - student[:, 0])))


def doubled(teacher, student):
    return 2.0 * metrics.probability_loyalty(teacher, student)


def constant_half(teacher, student):
    return 0.5


def rejects_two_classes(teacher, student):
    if teacher.shape[1] == 2:
        raise ValueError("binary outputs not supported")
    return 1.0


def nan_on_ties(teacher, student):
    return float("nan") if (teacher == 0.5).any() else 1.0


@pytest.mark.parametrize(
    "metric,invariant",
    [
        (doubled, "'bounds' broken: doubled returned 2.0 outside"),
        (constant_half, r"'identity' broken: constant_half\(t, t\) returned 0.5, expected 1.0"),
        (exp_minus_kl, r"'symmetric' broken: exp_minus_kl\(t, s\)="),
        (first_class_only, r"'permutation_invariant' broken: first_class_only gave .* after reordering the classes"),
        (rejects_two_classes, r"'accepts valid input' broken: rejects_two_classes raised ValueError"),
        (nan_on_ties, r"'finite' broken: nan_on_ties returned nan"),
    ],
)
def test_checker_catches_a_broken_metric(metric, invariant):
    with pytest.raises(AssertionError, match=invariant) as failure:
        check_metric_invariants(metric)
    assert "teacher_probs=" in str(failure.value) and "student_probs=" in str(failure.value)
