"""Teacher/student metrics: pure functions over numpy arrays (no torch import).

Argument order follows sklearn: the reference comes first (``y_true``, then the teacher, then
the student). Probabilities are float arrays of shape (n_examples, n_classes) whose rows sum to
1, columns in the dataset's label order. The formulas follow Xu et al., EMNLP 2021, "Beyond
Preserved Accuracy" (label and probability loyalty) and Yan et al., CVPR 2021 (flips); each
public function states its formula and carries a doctest, and tests/test_doctests.py runs them all.

Argmax ties go to the lowest class index (numpy's rule) everywhere a prediction is taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import LoyaltyError
from .validation import class_indices, probabilities, probability_pair, same_length

# KL(p || q) clips q to at least this, so a zero where p > 0 costs p·log(p / 1e-12) ≈ 27.6·p
# instead of infinity; nothing is renormalised after the clip (the change is at most k·1e-12).
KL_EPSILON = 1e-12
# Calibration uses this many equal-width confidence bins on [0, 1] unless told otherwise.
ECE_BINS = 15
# The bootstrap draws its resamples in chunks of about this many gathered values, bounding memory.
_BOOTSTRAP_CHUNK = 1 << 22


@dataclass(frozen=True)
class MetricValue:
    """A metric's point estimate, its bootstrap CI (``None`` where a CI makes no sense) and n.

    >>> MetricValue(0.9, 0.85, 0.95, n=200).ci_low
    0.85
    """

    value: float
    ci_low: float | None
    ci_high: float | None
    n: int


def accuracy(y_true, y_pred) -> float:
    """Share of examples predicted correctly: ``mean(y_pred == y_true)``.

    >>> accuracy([0, 1, 1, 2], [0, 1, 0, 2])
    0.75
    """
    y_true, y_pred = class_indices("y_true", y_true), class_indices("y_pred", y_pred)
    same_length(("y_true", y_true), ("y_pred", y_pred))
    return float(np.mean(y_true == y_pred))


def label_loyalty(teacher_probs, student_probs) -> float:
    """Share of examples where student and teacher predict the same label (no gold labels used):
    ``mean(argmax p_teacher == argmax p_student)``.

    >>> teacher = [[0.9, 0.1], [0.4, 0.6], [0.5, 0.5]]
    >>> student = [[0.6, 0.4], [0.7, 0.3], [0.5, 0.5]]
    >>> round(label_loyalty(teacher, student), 4)
    0.6667
    """
    teacher, student = probability_pair(teacher_probs, student_probs)
    return float(np.mean(teacher.argmax(axis=1) == student.argmax(axis=1)))


def _log_ratio_to_mixture(p: np.ndarray, total: np.ndarray, d: np.ndarray) -> np.ndarray:
    """ln(p / m) for m = total / 2, where p / m = 1 + d, with 0 where p = 0 (0·log 0 = 0)."""
    out = np.zeros_like(p)
    near = np.abs(d) < 0.5
    # Near the mixture, log1p(d) keeps the digits that log(p / m) would round away; far from it,
    # 1 + d can round to 0 (p tiny next to q) while 2p / total stays exact, so take the log of that.
    np.log1p(d, out=out, where=(p > 0) & near)
    np.log(np.divide(2.0 * p, total, out=np.ones_like(p), where=total > 0), out=out, where=(p > 0) & ~near)
    return out


def _probability_loyalty_rows(teacher: np.ndarray, student: np.ndarray) -> np.ndarray:
    # Where p ≈ q, JSD is tiny and the sqrt below magnifies any rounding in it: 1e-13 of error in a
    # JSD of 1e-10 moves the result by 5e-9. Hence the log1p form of ln(p / m) near the mixture.
    total = teacher + student
    d = np.divide(teacher - student, total, out=np.zeros_like(total), where=total > 0)
    nats = (
        teacher * _log_ratio_to_mixture(teacher, total, d) + student * _log_ratio_to_mixture(student, total, -d)
    ).sum(axis=1)
    jsd = 0.5 * nats / np.log(2.0)
    # JSD in bits lies in [0, 1]; rounding can leave it a hair outside, and sqrt would amplify that.
    return 1.0 - np.sqrt(np.clip(jsd, 0.0, 1.0))


def per_example_probability_loyalty(teacher_probs, student_probs) -> np.ndarray:
    """Per example, ``1 - sqrt(JSD(p_t, p_s))`` with the Jensen-Shannon divergence in bits:
    ``JSD = ½ KL2(p_t || m) + ½ KL2(p_s || m)``, ``m = ½ (p_t + p_s)``, ``0·log 0 = 0``.

    Equals ``1 - scipy.spatial.distance.jensenshannon(p_t, p_s, base=2)`` row by row; 1 means the
    same distribution, 0 means disjoint supports.

    >>> per_example_probability_loyalty([[0.5, 0.5], [1.0, 0.0]], [[0.5, 0.5], [0.0, 1.0]])
    array([1., 0.])
    """
    teacher, student = probability_pair(teacher_probs, student_probs)
    return _probability_loyalty_rows(teacher, student)


def probability_loyalty(teacher_probs, student_probs) -> float:
    """Mean over examples of ``1 - sqrt(JSD_base2(p_t, p_s))`` (see
    ``per_example_probability_loyalty``); lies in [0, 1], 1 when the distributions match.

    >>> round(probability_loyalty([[0.5, 0.5]], [[1.0, 0.0]]), 4)
    0.4421
    """
    return float(np.mean(per_example_probability_loyalty(teacher_probs, student_probs)))


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    ratio = np.divide(p, np.maximum(q, KL_EPSILON), out=np.ones_like(p), where=p > 0)
    # Gibbs' inequality says KL >= 0; the epsilon clip and rounding can dip a hair below.
    return np.maximum((p * np.log(ratio)).sum(axis=1), 0.0)


def kl_divergence(p_probs, q_probs) -> float:
    """Mean over examples of ``KL(p || q) = sum_c p_c · ln(p_c / max(q_c, 1e-12))`` in nats, with
    ``0·log 0 = 0``; the clip (``KL_EPSILON``) keeps a zero in q finite. Not symmetric.

    >>> round(kl_divergence([[0.5, 0.5]], [[0.9, 0.1]]), 4)
    0.5108
    >>> kl_divergence([[0.5, 0.5]], [[0.5, 0.5]])
    0.0
    """
    p, q = probability_pair(p_probs, q_probs, names=("p_probs", "q_probs"))
    return float(np.mean(_kl_rows(p, q)))


def flips(y_true, teacher_pred, student_pred) -> dict:
    """Paired outcome counts, with ``T_i = (teacher_pred_i == y_i)`` and ``S_i = (student_pred_i == y_i)``:
    ``correct_to_wrong = sum(T & ~S)`` (teacher right, student wrong), ``wrong_to_correct =
    sum(~T & S)``, ``both_correct = sum(T & S)`` and ``both_wrong = sum(~T & ~S)``.

    >>> flips([0, 1, 1, 0], [0, 1, 0, 1], [0, 0, 1, 1])
    {'correct_to_wrong': 1, 'wrong_to_correct': 1, 'both_correct': 1, 'both_wrong': 1}
    """
    y_true = class_indices("y_true", y_true)
    teacher_pred, student_pred = (
        class_indices("teacher_pred", teacher_pred),
        class_indices("student_pred", student_pred),
    )
    same_length(("y_true", y_true), ("teacher_pred", teacher_pred), ("student_pred", student_pred))
    teacher_right, student_right = teacher_pred == y_true, student_pred == y_true
    return {
        "correct_to_wrong": int(np.sum(teacher_right & ~student_right)),
        "wrong_to_correct": int(np.sum(~teacher_right & student_right)),
        "both_correct": int(np.sum(teacher_right & student_right)),
        "both_wrong": int(np.sum(~teacher_right & ~student_right)),
    }


def mcnemar_p_value(y_true, teacher_pred, student_pred) -> float:
    """Exact McNemar test of "teacher and student are equally accurate" on paired outcomes.

    With b = correct_to_wrong and c = wrong_to_correct (the discordant pairs), under the null
    b ~ Binomial(b + c, ½); the two-sided p-value is ``min(1, 2·P[X <= min(b, c)])``, and 1 when
    b + c = 0 (the models never differ in correctness).

    >>> round(mcnemar_p_value([1] * 10, [1] * 10, [0] * 8 + [1] * 2), 4)
    0.0078
    """
    counts = flips(y_true, teacher_pred, student_pred)
    b, c = counts["correct_to_wrong"], counts["wrong_to_correct"]
    if b + c == 0:
        return 1.0
    from scipy.stats import binom  # imported here: scipy.stats is slow to import and only this needs it

    return float(min(1.0, 2.0 * binom.cdf(min(b, c), b + c, 0.5)))


def per_class_loyalty(teacher_probs, student_probs) -> np.ndarray:
    """For each class c: ``mean(argmax p_s == c | argmax p_t == c)``, the label loyalty among
    the examples the teacher assigns to c; NaN for a class the teacher never predicts.

    >>> per_class_loyalty([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.3, 0.7, 0.0]],
    ...                   [[0.9, 0.1, 0.0], [0.4, 0.6, 0.0], [0.3, 0.7, 0.0]])
    array([0.5, 1. , nan])
    """
    teacher, student = probability_pair(teacher_probs, student_probs)
    teacher_pred = teacher.argmax(axis=1)
    agree = (teacher_pred == student.argmax(axis=1)).astype(np.float64)
    n_classes = teacher.shape[1]
    predicted = np.bincount(teacher_pred, minlength=n_classes).astype(np.float64)
    agreed = np.bincount(teacher_pred, weights=agree, minlength=n_classes)
    return np.divide(agreed, predicted, out=np.full(n_classes, np.nan), where=predicted > 0)


def agreement_matrix(teacher_pred, student_pred, n_classes: int) -> np.ndarray:
    """``M[i, j]`` = number of examples the teacher labels i and the student labels j (rows
    teacher, columns student); ``trace(M) / M.sum()`` is the label loyalty.

    >>> agreement_matrix([0, 0, 1, 2], [0, 1, 1, 2], n_classes=3)
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 1]])
    """
    if int(n_classes) < 1:
        raise LoyaltyError(f"n_classes must be >= 1, got {n_classes}")
    teacher_pred = class_indices("teacher_pred", teacher_pred, n_classes=int(n_classes))
    student_pred = class_indices("student_pred", student_pred, n_classes=int(n_classes))
    same_length(("teacher_pred", teacher_pred), ("student_pred", student_pred))
    cells = np.bincount(teacher_pred * n_classes + student_pred, minlength=n_classes * n_classes)
    return cells.reshape(n_classes, n_classes)


def _calibration_parts(y_true: np.ndarray, probs: np.ndarray, n_bins: int):
    """Per example: confidence bin, confidence (max probability) and correctness."""
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    # Bins are ((b-1)/B, b/B]; the first also takes a confidence of exactly 0.
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    return bins, confidence, correct


def _ece_from_parts(bins: np.ndarray, confidence: np.ndarray, correct: np.ndarray, n_bins: int) -> float:
    count = np.bincount(bins, minlength=n_bins)
    gap = np.bincount(bins, weights=correct, minlength=n_bins) - np.bincount(bins, weights=confidence, minlength=n_bins)
    # sum_b (|B_b| / n)·|acc_b - conf_b| = sum_b |sum_{i in B_b} (correct_i - conf_i)| / n
    return float(np.abs(gap).sum() / count.sum())


def expected_calibration_error(y_true, probs, n_bins: int = ECE_BINS) -> float:
    """``ECE = sum_b (|B_b| / n) · |accuracy(B_b) - mean confidence(B_b)|`` over ``n_bins``
    equal-width bins of the confidence ``max_c p_c``, bin b holding confidences in
    ((b-1)/n_bins, b/n_bins]; 0 means perfectly calibrated.

    >>> probs = [[0.9, 0.1], [0.75, 0.25], [0.55, 0.45], [0.3, 0.7]]
    >>> round(expected_calibration_error([0, 1, 0, 1], probs, n_bins=5), 4)
    0.25
    """
    if int(n_bins) != n_bins or n_bins < 1:
        raise LoyaltyError(f"n_bins must be a positive integer, got {n_bins!r}")
    probs = probabilities("probs", probs)
    y_true = class_indices("y_true", y_true, probs.shape[0], probs.shape[1])
    return _ece_from_parts(*_calibration_parts(y_true, probs, int(n_bins)), int(n_bins))


def _resample_indices(n: int, n_resamples: int, values_per_example: int, seed: int):
    """Yield index matrices (chunk, n) of example indices drawn with replacement, seeded."""
    rng = np.random.default_rng(seed)
    chunk = max(1, _BOOTSTRAP_CHUNK // max(1, n * values_per_example))
    for start in range(0, n_resamples, chunk):
        yield rng.integers(0, n, size=(min(chunk, n_resamples - start), n))


def bootstrap_ci(scores_or_metric, *arrays, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0):
    """Seeded percentile bootstrap confidence interval.

    Each of ``n_resamples`` resamples draws n example indices uniformly with replacement
    (``numpy.random.default_rng(seed)``) and recomputes the metric, θ*_1 … θ*_B; the interval is
    ``[quantile(θ*, α/2), quantile(θ*, 1 - α/2)]`` with ``α = 1 - confidence``. Two forms, same
    resamples:

    * ``bootstrap_ci(per_example_scores)`` - the metric is the mean of the scores (accuracy,
      loyalty, KL, or a difference such as ``teacher_correct - student_correct`` for the
      accuracy drop); scores of shape (n,) give ``(low, high)`` floats, (n, m) give two arrays of
      m bounds, the m columns resampled together (paired).
    * ``bootstrap_ci(metric_fn, *arrays)`` - any metric: ``metric_fn(*resampled_arrays)``
      returns a float; the arrays share their first axis (examples) and are resampled together.

    >>> scores = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0])
    >>> low, high = bootstrap_ci(scores, n_resamples=200, seed=0)
    >>> bool(low <= scores.mean() <= high)
    True
    >>> bootstrap_ci(np.mean, scores, n_resamples=200, seed=0) == (low, high)
    True
    """
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise LoyaltyError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise LoyaltyError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), got {confidence!r}")
    quantiles = [(1.0 - confidence) / 2.0, (1.0 + confidence) / 2.0]
    if callable(scores_or_metric):
        arrays = tuple(np.atleast_1d(array) for array in arrays)
        n = same_length(*((f"arrays[{i}]", array) for i, array in enumerate(arrays))) if arrays else 0
        if n == 0:
            raise LoyaltyError("bootstrap_ci(metric_fn, *arrays) needs non-empty arrays (one entry per example)")
        statistics = [
            scores_or_metric(*(array[rows] for array in arrays))
            for indices in _resample_indices(n, int(n_resamples), 1, seed)
            for rows in indices
        ]
        low, high = np.quantile(np.asarray(statistics, dtype=np.float64), quantiles)
        return float(low), float(high)
    scores = np.asarray(scores_or_metric, dtype=np.float64)
    if scores.ndim not in (1, 2) or scores.shape[0] == 0:
        raise LoyaltyError(f"per_example_scores must be a non-empty (n,) or (n, m) array, got shape {scores.shape}")
    if not np.isfinite(scores).all():
        raise LoyaltyError("per_example_scores has NaN or inf values; the bootstrap needs finite scores")
    n, width = scores.shape[0], (1 if scores.ndim == 1 else scores.shape[1])
    means = np.concatenate(
        [scores[indices].mean(axis=1) for indices in _resample_indices(n, int(n_resamples), width, seed)]
    )
    low, high = np.quantile(means, quantiles, axis=0)
    return (float(low), float(high)) if scores.ndim == 1 else (low, high)


def compare(y_true, teacher_probs, student_probs, *, n_resamples: int = 1000, seed: int = 0) -> dict[str, MetricValue]:
    """Every teacher/student metric with its n and, where it makes sense, a 95% CI chosen to stay
    honest at small n (``loyalty_tests.stats.intervals``; a percentile bootstrap says "0.000–0.000" for ten
    examples that happen to agree):

    * ``teacher_accuracy``, ``student_accuracy``, ``label_loyalty`` (share of ``argmax`` agreement),
      ``negative_flip_rate`` = ``b / n`` and ``positive_flip_rate`` = ``c / n``: Clopper-Pearson
      intervals (``stats.exact``: a FAIL at the limit in at most 2.5% of runs at every n);
    * ``accuracy_drop = mean(T_i - S_i) = (b - c) / n``: Tango's paired score interval with a
      continuity correction, with ``b`` = correct_to_wrong (negative flips) and ``c`` = wrong_to_correct;
    * ``probability_loyalty``: the score interval with the sample's dispersion (``stats.bounded_means``);
    * ``negative_flip_share_of_errors`` = ``b / (student errors)``: Clopper-Pearson over the student's errors;
    * ``kl_teacher_student`` (KL(teacher || student)), ``kl_student_teacher``, ``teacher_ece``,
      ``student_ece`` (15 bins): seeded percentile bootstrap (``n_resamples``, ``seed``);
    * the counts correct_to_wrong, wrong_to_correct, both_correct, both_wrong and
      ``mcnemar_p_value``, without a CI (counts and a test statistic are not estimates of a mean).

    >>> values = compare([0, 1, 1, 0], [[0.8, 0.2], [0.3, 0.7], [0.4, 0.6], [0.6, 0.4]],
    ...                  [[0.7, 0.3], [0.2, 0.8], [0.6, 0.4], [0.6, 0.4]], n_resamples=100)
    >>> values["accuracy_drop"].value, values["label_loyalty"].value, values["correct_to_wrong"].value
    (0.25, 0.75, 1.0)
    >>> round(values["label_loyalty"].ci_low, 3)  # 3 of 4 agree: an exact interval, not a bootstrap's
    0.194
    """
    from .stats import bounded_means, exact

    teacher, student = probability_pair(teacher_probs, student_probs)
    n, n_classes = teacher.shape
    y_true = class_indices("y_true", y_true, n, n_classes)
    teacher_pred, student_pred = teacher.argmax(axis=1), student.argmax(axis=1)
    counts = flips(y_true, teacher_pred, student_pred)
    b, c = counts["correct_to_wrong"], counts["wrong_to_correct"]
    student_errors = b + counts["both_wrong"]

    def proportion(successes: int, total: int) -> MetricValue:
        low, high = exact.clopper_pearson_interval(successes, total)
        return MetricValue(successes / total if total else float("nan"), float(low), float(high), total)

    loyalty = _probability_loyalty_rows(teacher, student)
    values = {
        "teacher_accuracy": proportion(int((teacher_pred == y_true).sum()), n),
        "student_accuracy": proportion(int((student_pred == y_true).sum()), n),
        "accuracy_drop": MetricValue((b - c) / n, *map(float, exact.gate_paired_interval(b, c, n)), n),
        "label_loyalty": proportion(int((teacher_pred == student_pred).sum()), n),
        "probability_loyalty": MetricValue(
            float(loyalty.mean()), *map(float, bounded_means.dispersion_score_interval(loyalty)), n
        ),
        "negative_flip_rate": proportion(b, n),
        "positive_flip_rate": proportion(c, n),
    }
    if student_errors:
        values["negative_flip_share_of_errors"] = proportion(b, student_errors)
    divergences = np.column_stack([_kl_rows(teacher, student), _kl_rows(student, teacher)])
    lows, highs = bootstrap_ci(divergences, n_resamples=n_resamples, seed=seed)
    for column, name in enumerate(("kl_teacher_student", "kl_student_teacher")):
        values[name] = MetricValue(float(divergences[:, column].mean()), float(lows[column]), float(highs[column]), n)
    for name, probs in (("teacher_ece", teacher), ("student_ece", student)):
        parts = _calibration_parts(y_true, probs, ECE_BINS)
        low, high = bootstrap_ci(lambda *p: _ece_from_parts(*p, ECE_BINS), *parts, n_resamples=n_resamples, seed=seed)
        values[name] = MetricValue(_ece_from_parts(*parts, ECE_BINS), low, high, n)
    for name, count in counts.items():
        values[name] = MetricValue(float(count), None, None, n)
    values["mcnemar_p_value"] = MetricValue(mcnemar_p_value(y_true, teacher_pred, student_pred), None, None, n)
    return values
