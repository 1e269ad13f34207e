"""Gate checks: a metric, a threshold with its source, pass or fail, and a line that says why.

Pure functions over metric values; the pytest plugin turns each into its own test item. Every
gate is inclusive (a value equal to its threshold passes) and fails closed: a missing metric or
a NaN value is a failure with a reason, never a pass.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .thresholds import Threshold


@dataclass(frozen=True)
class GateResult:
    gate: str  # "accuracy_drop", "label_loyalty", ...
    passed: bool
    value: float | None
    limit: float | None
    source: str
    message: str
    warn_only: bool = False

    def to_row(self) -> dict:
        return asdict(self)


def _ci_text(metric) -> str:
    if metric.ci_low is None or metric.ci_high is None:
        return f"n={metric.n}"
    return f"n={metric.n}, 95% CI {metric.ci_low:.3f}–{metric.ci_high:.3f}"


def _missing(gate: str, name: str, threshold: Threshold, warn_only: bool) -> GateResult:
    return GateResult(gate, False, None, None, threshold.source,
                      f"{name} is missing or NaN: the gate cannot pass without it", warn_only)


def gate_minimum(gate: str, metric, threshold: Threshold, *, lower_bound: bool = False,
                 warn_only: bool = False) -> GateResult:
    """Pass when the metric (or its CI lower bound) is >= the threshold."""
    if metric is None or metric.value is None or math.isnan(metric.value):
        return _missing(gate, gate, threshold, warn_only)
    if threshold.value is None:
        return GateResult(gate, True, metric.value, None, threshold.source, f"{gate} {metric.value:.3f} (not gated)", warn_only)
    checked = metric.ci_low if lower_bound and metric.ci_low is not None else metric.value
    passed = checked >= threshold.value
    which = "CI lower bound " if checked is not metric.value else ""
    sign = ">=" if passed else "<"
    message = (f"{gate} {metric.value:.3f} ({_ci_text(metric)}) {which}{sign} {threshold.value:.3f} "
               f"[{threshold.source}]")
    return GateResult(gate, passed, metric.value, float(threshold.value), threshold.source, message, warn_only)


def gate_accuracy_drop(teacher_accuracy, student_accuracy, drop, absolute: Threshold, relative: Threshold,
                       *, lower_bound: bool = False, warn_only: bool = False) -> GateResult:
    """Allowed drop, direction teacher − student (positive = the student is worse), inclusive.

    Absolute and relative limits must both hold when both are set; the relative one is
    ``relative × teacher accuracy``, so a teacher accuracy of 0 allows no drop at all.
    """
    gate = "accuracy_drop"
    values = (teacher_accuracy, student_accuracy, drop)
    if any(v is None or v.value is None or math.isnan(v.value) for v in values):
        return _missing(gate, "accuracy of teacher or student", absolute, warn_only)
    # The pessimistic end of the drop's CI is its upper bound.
    checked = drop.ci_high if lower_bound and drop.ci_high is not None else drop.value
    limits = []
    if absolute.value is not None:
        limits.append((float(absolute.value), absolute.source))
    if relative.value is not None:
        limits.append((float(relative.value) * teacher_accuracy.value, relative.source))
    if not limits:
        return GateResult(gate, True, drop.value, None, "default", f"accuracy drop {drop.value:.3f} (not gated)", warn_only)
    limit, source = min(limits)
    passed = checked <= limit + 1e-12  # inclusive; tolerate float noise in a difference of means
    which = "CI upper bound " if checked is not drop.value else ""
    sign = "<=" if passed else ">"
    message = (f"accuracy_drop {drop.value:.3f} ({_ci_text(drop)}) {which}{sign} {limit:.3f} [{source}] "
               f"(teacher {teacher_accuracy.value:.3f}, student {student_accuracy.value:.3f})")
    return GateResult(gate, passed, drop.value, limit, source, message, warn_only)


def label_shares(predicted_labels, n_labels: int) -> list[float]:
    counts = [0] * n_labels
    for label in predicted_labels:
        counts[int(label)] += 1
    total = max(len(predicted_labels), 1)
    return [count / total for count in counts]


def gate_label_distribution(teacher_labels, student_labels, label_names, threshold: Threshold,
                            *, warn_only: bool = False) -> GateResult:
    """No collapse: every label's share among the student's predictions is at least
    ``ratio × its share among the teacher's``. The value is the smallest such share ratio."""
    gate = "label_distribution"
    teacher_shares = label_shares(teacher_labels, len(label_names))
    student_shares = label_shares(student_labels, len(label_names))
    ratios = {name: s / t for name, t, s in zip(label_names, teacher_shares, student_shares) if t > 0}
    worst_label = min(ratios, key=ratios.get)
    worst = ratios[worst_label]
    limit = float(threshold.value) if threshold.value is not None else 0.0
    passed = worst >= limit
    shares = ", ".join(f"{n}: teacher {t:.1%} student {s:.1%}"
                       for n, t, s in zip(label_names, teacher_shares, student_shares))
    sign = ">=" if passed else "<"
    message = (f"label_distribution: smallest student/teacher share ratio {worst:.3f} (label {worst_label!r}) "
               f"{sign} {limit:.3f} [{threshold.source}]; shares {shares}")
    return GateResult(gate, passed, worst, limit, threshold.source, message, warn_only)


def gate_speedup(latency, threshold: Threshold, *, warn_only: bool = False) -> GateResult:
    gate = "latency"
    limit = float(threshold.value) if threshold.value is not None else 0.0
    passed = latency.speedup >= limit
    sign = ">=" if passed else "<"
    message = (f"latency speedup {latency.speedup:.2f}x (teacher {latency.teacher_seconds * 1e3:.1f} ms, "
               f"student {latency.student_seconds * 1e3:.1f} ms per batch of {latency.batch_size}, "
               f"median of {latency.rounds} interleaved rounds) {sign} {limit:.2f}x [{threshold.source}]")
    return GateResult(gate, passed, latency.speedup, limit, threshold.source, message, warn_only)


def gate_baseline(metric_name: str, current: float, baseline: float | None, tolerance: Threshold,
                  *, warn_only: bool = False) -> GateResult:
    gate = f"baseline:{metric_name}"
    if baseline is None or current is None or math.isnan(current):
        return GateResult(gate, False, current, None, tolerance.source,
                          f"{metric_name} missing in the current run or the baseline; "
                          "update the baseline with --loyalty-update-baseline", warn_only)
    limit = baseline - float(tolerance.value or 0.0)
    passed = current >= limit - 1e-12
    sign = ">=" if passed else "<"
    message = (f"{metric_name} {current:.3f} {sign} baseline {baseline:.3f} - tolerance "
               f"{float(tolerance.value or 0):.3f} [{tolerance.source}]")
    if not passed:
        message += "; if this change is intended, write a new baseline with --loyalty-update-baseline"
    return GateResult(gate, passed, current, limit, tolerance.source, message, warn_only)


def gate_robustness_drop(drop, teacher_under_attack: float, student_under_attack: float, recipe: str,
                         threshold: Threshold, *, lower_bound: bool = False, warn_only: bool = False) -> GateResult:
    """Allowed fall of accuracy under attack, teacher − student, on the same attacked examples.

    ``drop`` is a MetricValue (paired bootstrap CI over the examples); with ``lower_bound`` the
    pessimistic end of its CI, the upper bound, is gated, as for the accuracy drop.
    """
    gate = "robustness"
    if drop is None or drop.value is None or math.isnan(drop.value):
        return _missing(gate, "accuracy under attack of teacher or student", threshold, warn_only)
    if threshold.value is None:
        return GateResult(gate, True, drop.value, None, threshold.source,
                          f"robustness drop {drop.value:.3f} (not gated)", warn_only)
    checked = drop.ci_high if lower_bound and drop.ci_high is not None else drop.value
    limit = float(threshold.value)
    passed = checked <= limit + 1e-12
    which = "CI upper bound " if checked is not drop.value else ""
    sign = "<=" if passed else ">"
    message = (f"robustness_drop {drop.value:.3f} ({_ci_text(drop)}) {which}{sign} {limit:.3f} [{threshold.source}] "
               f"(accuracy under {recipe} attack: teacher {teacher_under_attack:.3f}, student {student_under_attack:.3f})")
    return GateResult(gate, passed, drop.value, limit, threshold.source, message, warn_only)
