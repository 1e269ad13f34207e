"""loyalty_tests.metrics against scipy/sklearn, small hand-computed cases, and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.special import entr, rel_entr
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, confusion_matrix

from loyalty_tests import metrics
from loyalty_tests.errors import LoyaltyError


def random_probs(n, k, seed, zeros=False):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(k, 0.5), size=n)
    if zeros:  # exact zeros exercise 0·log 0 = 0
        probs[rng.random((n, k)) < 0.3] = 0.0
        probs[probs.sum(axis=1) == 0, 0] = 1.0
        probs /= probs.sum(axis=1, keepdims=True)
    return probs


@pytest.fixture
def case():
    n, k = 400, 4
    rng = np.random.default_rng(7)
    teacher, student = random_probs(n, k, 1), random_probs(n, k, 2)
    # make the student mostly agree with the teacher, like a real compressed model
    student[:300] = 0.9 * teacher[:300] + 0.1 * student[:300]
    return rng.integers(0, k, n), teacher, student


# ------------------------------------------------------------ against scipy / sklearn


@pytest.mark.parametrize("zeros", [False, True])
def test_probability_loyalty_matches_scipy_jensenshannon(zeros):
    teacher, student = random_probs(300, 5, 3, zeros), random_probs(300, 5, 4, zeros)
    student[:50] = teacher[:50]  # identical rows: JSD 0
    expected = np.array([1 - jensenshannon(t, s, base=2) for t, s in zip(teacher, student)])
    np.testing.assert_allclose(metrics.per_example_probability_loyalty(teacher, student), expected, atol=1e-9)
    assert metrics.probability_loyalty(teacher, student) == pytest.approx(expected.mean(), abs=1e-9)


def test_jsd_equals_entropy_form():
    # JSD = H(m) - (H(p) + H(q)) / 2, in bits: an independent formula for the same number
    teacher, student = random_probs(200, 3, 5, zeros=True), random_probs(200, 3, 6, zeros=True)
    mixture = (teacher + student) / 2
    jsd = (entr(mixture).sum(1) - (entr(teacher).sum(1) + entr(student).sum(1)) / 2) / np.log(2)
    expected = 1 - np.sqrt(np.clip(jsd, 0, 1))
    np.testing.assert_allclose(metrics.per_example_probability_loyalty(teacher, student), expected, atol=1e-6)


def test_kl_matches_scipy_rel_entr(case):
    _, teacher, student = case
    assert metrics.kl_divergence(teacher, student) == pytest.approx(rel_entr(teacher, student).sum(1).mean(), rel=1e-12)
    assert metrics.kl_divergence(student, teacher) == pytest.approx(rel_entr(student, teacher).sum(1).mean(), rel=1e-12)


def test_kl_is_finite_with_zeros_and_uses_epsilon():
    # KL([1, 0] || [0, 1]): q is clipped to 1e-12 where p > 0, so the value is ln(1 / 1e-12)
    assert metrics.kl_divergence([[1.0, 0.0]], [[0.0, 1.0]]) == pytest.approx(np.log(1e12))
    assert metrics.kl_divergence([[0.0, 1.0]], [[0.5, 0.5]]) == pytest.approx(np.log(2))


def test_accuracy_and_agreement_match_sklearn(case):
    y_true, teacher, student = case
    teacher_pred, student_pred = teacher.argmax(1), student.argmax(1)
    assert metrics.accuracy(y_true, teacher_pred) == pytest.approx(accuracy_score(y_true, teacher_pred))
    matrix = metrics.agreement_matrix(teacher_pred, student_pred, 4)
    np.testing.assert_array_equal(matrix, confusion_matrix(teacher_pred, student_pred, labels=range(4)))
    assert np.trace(matrix) / matrix.sum() == pytest.approx(metrics.label_loyalty(teacher, student))
    assert metrics.label_loyalty(teacher, student) == pytest.approx(accuracy_score(teacher_pred, student_pred))


def test_mcnemar_matches_scipy_binomtest(case):
    y_true, teacher, student = case
    teacher_pred, student_pred = teacher.argmax(1), student.argmax(1)
    counts = metrics.flips(y_true, teacher_pred, student_pred)
    b, c = counts["correct_to_wrong"], counts["wrong_to_correct"]
    assert b + c > 0
    expected = binomtest(b, b + c, 0.5, alternative="two-sided").pvalue
    assert metrics.mcnemar_p_value(y_true, teacher_pred, student_pred) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("b,c", [(0, 0), (5, 5), (8, 0), (3, 12), (40, 25)])
def test_mcnemar_small_tables(b, c):
    # teacher right / student wrong b times, the reverse c times, plus 10 concordant pairs
    y_true = np.zeros(b + c + 10, dtype=int)
    teacher = np.array([0] * b + [1] * c + [0] * 10)
    student = np.array([1] * b + [0] * c + [0] * 10)
    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert metrics.mcnemar_p_value(y_true, teacher, student) == pytest.approx(expected, rel=1e-9)


# ------------------------------------------------------------ hand-computed cases


def test_hand_computed_loyalty():
    teacher = [[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]]
    student = [[1.0, 0.0], [1.0, 0.0], [0.6, 0.4]]
    # row 0: m = [.75, .25]; JSD = ½(½log2(⅔) + ½log2 2) + ½ log2(4/3)
    jsd0 = 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(0.5 / 0.25)) + 0.5 * np.log2(1 / 0.75)
    jsd2 = 0.5 * (0.2 * np.log2(0.2 / 0.4) + 0.8 * np.log2(0.8 / 0.6)) + 0.5 * (
        0.6 * np.log2(0.6 / 0.4) + 0.4 * np.log2(0.4 / 0.6)
    )
    expected = np.array([1 - np.sqrt(jsd0), 1.0, 1 - np.sqrt(jsd2)])
    np.testing.assert_allclose(metrics.per_example_probability_loyalty(teacher, student), expected, rtol=1e-12)
    assert metrics.label_loyalty(teacher, student) == pytest.approx(2 / 3)  # row 0: tie -> class 0, agrees


@pytest.mark.parametrize("eps", [1e-4, 1e-6, 1e-8])
def test_near_identical_rows_keep_their_precision(eps):
    # For s = t + δ with small δ, JSD (nats) = Σ δ² / (8 m) + O(δ³): a second-order quantity that a
    # naive log(p/m) loses to rounding before sqrt magnifies it.
    teacher = np.array([[0.2, 0.3, 0.5]])
    delta = eps * np.array([[1.0, -1.0, 0.0]])
    mixture = teacher + delta / 2
    jsd_bits = (delta**2 / (8 * mixture)).sum() / np.log(2)
    distance = 1.0 - metrics.per_example_probability_loyalty(teacher, teacher + delta)[0]
    assert distance == pytest.approx(np.sqrt(jsd_bits), rel=1e-4)


def test_tiny_probability_next_to_one_is_not_lost():
    # 1 + d rounds to 0 here; the metric must still see disjoint-looking rows as (almost) disjoint.
    assert metrics.probability_loyalty([[1.0, 0.0, 0.0]], [[5.5e-269, 0.0, 1.0]]) == pytest.approx(0.0, abs=1e-12)


def test_disjoint_and_identical_extremes():
    assert metrics.probability_loyalty([[1, 0, 0]], [[0, 0, 1]]) == 0.0
    assert metrics.probability_loyalty([[0.2, 0.3, 0.5]], [[0.2, 0.3, 0.5]]) == 1.0
    assert metrics.label_loyalty([[1, 0, 0]], [[0, 0, 1]]) == 0.0


def test_flips_and_per_class():
    y_true = [0, 0, 1, 1, 2]
    teacher = np.eye(3)[[0, 1, 1, 0, 2]]  # right, wrong, right, wrong, right
    student = np.eye(3)[[0, 0, 2, 0, 2]]  # right, right, wrong, wrong, right
    counts = metrics.flips(y_true, teacher.argmax(1), student.argmax(1))
    assert counts == {"correct_to_wrong": 1, "wrong_to_correct": 1, "both_correct": 2, "both_wrong": 1}
    # teacher predicts class 0 twice (student agrees twice), 1 twice (agrees 0), 2 once (agrees)
    np.testing.assert_array_equal(metrics.per_class_loyalty(teacher, student), [1.0, 0.0, 1.0])
    four = np.eye(4)[[0, 0, 1]]
    assert np.isnan(metrics.per_class_loyalty(four, four)[2:]).all()


def test_expected_calibration_error_by_hand():
    probs = [[0.95, 0.05], [0.65, 0.35], [0.55, 0.45], [0.15, 0.85]]
    y_true = [0, 1, 0, 1]
    # 10 bins: 0.95 -> (0.9, 1] right; 0.65 -> (0.6, 0.7] wrong; 0.55 right; 0.85 right
    expected = (abs(1 - 0.95) + abs(0 - 0.65) + abs(1 - 0.55) + abs(1 - 0.85)) / 4
    assert metrics.expected_calibration_error(y_true, probs, n_bins=10) == pytest.approx(expected)
    # one bin: |accuracy - mean confidence|
    assert metrics.expected_calibration_error(y_true, probs, n_bins=1) == pytest.approx(abs(0.75 - 0.75))
    assert metrics.expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


# ------------------------------------------------------------ bootstrap and compare


def test_bootstrap_is_seeded_and_contains_the_estimate(case):
    _, teacher, student = case
    scores = metrics.per_example_probability_loyalty(teacher, student)
    first = metrics.bootstrap_ci(scores, n_resamples=300, seed=3)
    assert metrics.bootstrap_ci(scores, n_resamples=300, seed=3) == first
    assert metrics.bootstrap_ci(scores, n_resamples=300, seed=4) != first
    assert first[0] <= scores.mean() <= first[1]
    wider = metrics.bootstrap_ci(scores, n_resamples=300, seed=3, confidence=0.99)
    assert wider[0] <= first[0] and first[1] <= wider[1]


def test_bootstrap_metric_function_form_uses_the_same_resamples(case):
    y_true, teacher, student = case
    correct = (teacher.argmax(1) == y_true).astype(float)
    assert metrics.bootstrap_ci(np.mean, correct, n_resamples=200) == pytest.approx(
        metrics.bootstrap_ci(correct, n_resamples=200), abs=1e-12
    )
    low, high = metrics.bootstrap_ci(lambda t, s: metrics.label_loyalty(t, s), teacher, student, n_resamples=100)
    assert low <= metrics.label_loyalty(teacher, student) <= high


def test_bootstrap_large_n_is_chunked():
    scores = np.random.default_rng(0).random(200_000)
    low, high = metrics.bootstrap_ci(scores, n_resamples=50, seed=0)
    assert low < scores.mean() < high and high - low < 0.01


def test_compare_values_and_cis(case):
    y_true, teacher, student = case
    values = metrics.compare(y_true, teacher, student, n_resamples=200, seed=1)
    assert values == metrics.compare(y_true, teacher, student, n_resamples=200, seed=1)
    t_acc = accuracy_score(y_true, teacher.argmax(1))
    s_acc = accuracy_score(y_true, student.argmax(1))
    assert values["teacher_accuracy"].value == pytest.approx(t_acc)
    assert values["accuracy_drop"].value == pytest.approx(t_acc - s_acc)
    assert values["label_loyalty"].value == pytest.approx(metrics.label_loyalty(teacher, student))
    assert values["kl_student_teacher"].value == pytest.approx(metrics.kl_divergence(student, teacher))
    assert values["student_ece"].value == pytest.approx(metrics.expected_calibration_error(y_true, student))
    with_ci = [
        "teacher_accuracy",
        "student_accuracy",
        "accuracy_drop",
        "label_loyalty",
        "probability_loyalty",
        "kl_teacher_student",
        "kl_student_teacher",
        "teacher_ece",
        "student_ece",
    ]
    for name in with_ci:
        metric = values[name]
        assert metric.n == 400
        assert metric.ci_low <= metric.value + 1e-12 and metric.value <= metric.ci_high + 1e-12, name
    for name in ["mcnemar_p_value", "correct_to_wrong", "wrong_to_correct"]:
        assert values[name].ci_low is None and values[name].ci_high is None
    counts = metrics.flips(y_true, teacher.argmax(1), student.argmax(1))
    assert values["correct_to_wrong"].value == counts["correct_to_wrong"]


# ------------------------------------------------------------ bad input

GOOD = np.array([[0.7, 0.3], [0.4, 0.6], [0.5, 0.5]])


def with_row(row, value):
    bad = GOOD.copy()
    bad[row] = value
    return bad


@pytest.mark.parametrize(
    "student,message",
    [
        (with_row(1, [np.nan, 0.5]), r"student_probs has NaN in 1 row \(first: row 1\); the model produced NaN"),
        (with_row(2, [np.inf, 0.0]), r"student_probs has inf in 1 row \(first: row 2\)"),
        (with_row(0, [1.5, -0.5]), r"student_probs has negative values .*logits"),
        (GOOD * 2, r"student_probs rows must sum to 1 .*3 rows \(first: row 0\).*sums to 2"),
        (GOOD[:2], r"teacher_probs has 3 rows but student_probs has 2"),
        (np.array([[0.5, 0.5, 0.0]] * 3), r"teacher_probs has 2 classes but student_probs has 3.*label name"),
        (GOOD[0], r"student_probs must be 2-D"),
        (np.zeros((0, 2)), r"student_probs is empty"),
        ([["a", "b"]] * 3, r"student_probs must be a numeric array"),
    ],
)
def test_bad_probabilities_name_the_input_and_the_fix(student, message):
    with pytest.raises(LoyaltyError, match=message):
        metrics.probability_loyalty(GOOD, student)


def test_small_row_sum_drift_is_accepted():
    drifted = GOOD * (1 + 5e-4)
    assert metrics.probability_loyalty(GOOD, drifted) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "y_true,message",
    [
        ([0, 1], r"y_true has 2 entries but there are 3 examples"),
        ([0, 1, 2], r"y_true has class indices outside \[0, 2\)"),
        ([0.5, 1, 0], r"y_true must hold integer class indices"),
        ([[0, 1, 0]], r"y_true must be 1-D"),
        ([], r"y_true must be 1-D|y_true is empty"),
    ],
)
def test_bad_labels(y_true, message):
    with pytest.raises(LoyaltyError, match=message):
        metrics.compare(y_true, GOOD, GOOD, n_resamples=10)


def test_other_bad_arguments():
    with pytest.raises(LoyaltyError, match="empty"):
        metrics.accuracy([], [])
    with pytest.raises(LoyaltyError, match="lengths differ"):
        metrics.flips([0, 1], [0, 1, 1], [0, 1])
    with pytest.raises(LoyaltyError, match="n_bins"):
        metrics.expected_calibration_error([0, 1, 0], GOOD, n_bins=0)
    with pytest.raises(LoyaltyError, match="confidence"):
        metrics.bootstrap_ci([1.0, 0.0], confidence=95)
    with pytest.raises(LoyaltyError, match="n_resamples"):
        metrics.bootstrap_ci([1.0, 0.0], n_resamples=0)
    with pytest.raises(LoyaltyError, match="finite"):
        metrics.bootstrap_ci([1.0, np.nan])
    with pytest.raises(LoyaltyError, match="non-empty"):
        metrics.bootstrap_ci(np.mean)
    with pytest.raises(LoyaltyError):  # LoyaltyError is a ValueError, for callers that catch those
        metrics.label_loyalty([], [])
    assert issubclass(LoyaltyError, ValueError)
