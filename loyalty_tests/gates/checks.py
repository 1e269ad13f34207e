"""Gate checks: a metric with its 95% CI, a limit with its source, and a verdict that says why.

Every gate is one of two shapes, "at least" (loyalty, speedup) or "at most" (a drop, a flip
rate), both inclusive (a value equal to its limit passes). Each gets a three-way outcome from its
CI against its limit (``stats.three_way_outcome``: PASS, FAIL or INCONCLUSIVE) whatever the rule,
and the user's rule decides (``intervals.decide``: ``estimate``, ``confident`` or ``three-way`` with
a policy for inconclusive). An inconclusive gate says how many examples would decide it. Pure
functions; the pytest plugin turns each into its own test item. A missing or NaN metric is a
failure with a reason, never a pass.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..stats import intervals
from .result import GateResult, Rule
from .thresholds import Threshold

SIGNS = {(intervals.AT_LEAST, True): ">=", (intervals.AT_LEAST, False): "<", (intervals.AT_MOST, True): "<=",
         (intervals.AT_MOST, False): ">"}


def _missing(gate: str, what: str, threshold: Threshold, warn_only: bool) -> GateResult:
    return GateResult(gate, False, None, None, threshold.source,
                      f"{what} is missing or NaN: the gate cannot pass without it", warn_only)


def _is_number(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def gate_metric(gate: str, metric, limit: float | None, source: str, direction: str, rule: Rule = Rule(), *,
                warn_only: bool = False, needed: int | None = None, unit: str = "examples", detail: str = "",
                name: str | None = None) -> GateResult:
    """The one gate: ``metric`` (value, ci_low, ci_high, n) against ``limit`` in ``direction``.

    ``needed``: examples that would decide it (shown when the outcome is INCONCLUSIVE);
    ``detail``: what else the failure line should say, e.g. both accuracies.

    >>> from loyalty_tests.metrics import MetricValue
    >>> r = gate_metric("label_loyalty", MetricValue(0.962, 0.956, 0.967, 5000), 0.97, "default", "at_least")
    >>> r.passed, r.three_way, r.message
    (False, 'FAIL', 'label_loyalty 0.962 (n=5000, 95% CI 0.956–0.967) < 0.970 [default]; outcome FAIL')
    """
    name = name or gate
    if metric is None or not _is_number(metric.value):
        return _missing(gate, name, Threshold(gate, limit, source), warn_only)
    if limit is None:
        return GateResult(gate, True, metric.value, None, source, f"{name} {metric.value:.3f} (not gated)", warn_only,
                          n=metric.n, ci_low=metric.ci_low, ci_high=metric.ci_high, direction=direction)
    low = metric.ci_low if _is_number(metric.ci_low) else metric.value
    high = metric.ci_high if _is_number(metric.ci_high) else metric.value
    decision = intervals.decide(metric.value, low, high, limit, direction, rule.name, rule.inconclusive)
    which = {"ci_low": "CI lower bound ", "ci_high": "CI upper bound "}.get(decision.decided_by, "")
    shown = decision.checked_value if which else metric.value
    good = intervals.on_good_side(shown, limit, direction)
    message = (f"{name} {metric.value:.3f} ({_ci_text(metric)}) {which}{SIGNS[direction, good]} {limit:.3f} [{source}]"
               f"{detail}; outcome {decision.outcome}")
    if rule.name != "estimate":
        message += f" ({rule.name} rule" + (f", inconclusive = {rule.inconclusive})" if rule.name == "three-way" else ")")
    if decision.outcome == intervals.INCONCLUSIVE and metric.n:
        from ..stats.sample_size import undecided_text

        message += "; " + undecided_text(name, metric.n, metric.value, low, high, limit, needed, unit)
    return GateResult(gate, decision.passed, metric.value, float(limit), source, message, warn_only,
                      decision.outcome, rule.name, decision.warned, low, high, metric.n, direction,
                      needed if decision.outcome == intervals.INCONCLUSIVE else None)


def _ci_text(metric) -> str:
    if not _is_number(metric.ci_low) or not _is_number(metric.ci_high):
        return f"n={metric.n}"
    return f"n={metric.n}, 95% CI {metric.ci_low:.3f}–{metric.ci_high:.3f}"


def accuracy_drop_limit(teacher_accuracy: float, absolute: Threshold, relative: Threshold):
    """The tighter of the absolute and the relative limit (both must hold when both are set); the
    relative one is ``relative × teacher accuracy``, so a teacher accuracy of 0 allows no drop.
    ``(None, "default")`` when neither is set.

    >>> accuracy_drop_limit(0.9, Threshold("a", 0.02, "default"), Threshold("r", 0.01, "ini"))
    (0.009000000000000001, 'ini')
    """
    limits = []
    if absolute.value is not None:
        limits.append((float(absolute.value), absolute.source))
    if relative.value is not None:
        limits.append((float(relative.value) * teacher_accuracy, relative.source))
    return min(limits) if limits else (None, "default")


def label_shares(predicted_labels, n_labels: int) -> list[float]:
    counts = [0] * n_labels
    for label in predicted_labels:
        counts[int(label)] += 1
    total = max(len(predicted_labels), 1)
    return [count / total for count in counts]


def smallest_share_ratio(teacher_labels, student_labels, n_labels: int) -> float:
    """min over labels the teacher predicts of (student's share / teacher's share).

    >>> smallest_share_ratio([0, 1, 1, 0], [0, 1, 1, 1], 2)
    0.5
    """
    teacher, student = label_shares(teacher_labels, n_labels), label_shares(student_labels, n_labels)
    return min(s / t for t, s in zip(teacher, student) if t > 0)


def label_distribution_message(teacher_labels, student_labels, label_names) -> str:
    """The shares behind the collapse gate, and the label that shrank most."""
    teacher = label_shares(teacher_labels, len(label_names))
    student = label_shares(student_labels, len(label_names))
    ratios = {name: s / t for name, t, s in zip(label_names, teacher, student) if t > 0}
    worst = min(ratios, key=ratios.get)
    shares = ", ".join(f"{n}: teacher {t:.1%} student {s:.1%}" for n, t, s in zip(label_names, teacher, student))
    shrank = f"label {worst!r} shrank most; " if ratios[worst] < 1 else ""
    return f" ({shrank}shares {shares})"


def gate_baseline(metric_name: str, metric, baseline: float | None, tolerance: Threshold, rule: Rule = Rule(), *,
                  warn_only: bool = False) -> GateResult:
    """This run's metric (with its CI) at least the baseline's value minus the tolerance."""
    gate = f"baseline:{metric_name}"
    if not _is_number(baseline) or metric is None or not _is_number(metric.value):
        return GateResult(gate, False, getattr(metric, "value", None), None, tolerance.source,
                          f"{metric_name} missing in the current run or the baseline; "
                          "update the baseline with --loyalty-update-baseline", warn_only)
    limit = baseline - float(tolerance.value or 0.0)
    detail = f" (baseline {baseline:.3f} - tolerance {float(tolerance.value or 0):.3f})"
    result = gate_metric(gate, metric, limit, tolerance.source, intervals.AT_LEAST, rule, warn_only=warn_only,
                         detail=detail, name=metric_name)
    if not result.passed:
        result = replace(result, message=result.message + "; if this change is intended, "
                         "write a new baseline with --loyalty-update-baseline")
    return result
