"""Gate checks: a metric with its 95% CI, a limit with its source, and a verdict that says why.

Every gate is one of two shapes, "at least" (loyalty, speedup) or "at most" (a drop, a flip
rate), both inclusive (a value equal to its limit passes). Each gets a three-way outcome from its
CI against its limit (``stats.three_way_outcome``: PASS, FAIL or INCONCLUSIVE) whatever the rule,
and the user's rule decides (``stats.decide``: ``estimate``, ``confident`` or ``three-way`` with
a policy for inconclusive). An inconclusive gate says how many examples would decide it. Pure
functions; the pytest plugin turns each into its own test item. A missing or NaN metric is a
failure with a reason, never a pass.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..stats import intervals as stats
from .result import GateResult, Rule
from .thresholds import Threshold

SIGNS = {
    (stats.AT_LEAST, True): ">=",
    (stats.AT_LEAST, False): "<",
    (stats.AT_MOST, True): "<=",
    (stats.AT_MOST, False): ">",
}


def _missing(gate: str, what: str, threshold: Threshold, warn_only: bool) -> GateResult:
    return GateResult(
        gate,
        False,
        None,
        None,
        threshold.source,
        f"{what} is missing or NaN: the gate cannot pass without it",
        warn_only,
    )


def _is_number(value) -> bool:
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def gate_metric(
    gate: str,
    metric,
    limit: float | None,
    source: str,
    direction: str,
    rule: Rule = Rule(),
    *,
    warn_only: bool = False,
    needed: int | None = None,
    unit: str = "examples",
    detail: str = "",
    name: str | None = None,
    duplicates: int = 0,
    level: str = "95% CI",
    reach: tuple[float, float, str] | None = None,
    feasible_kind: str | None = None,
) -> GateResult:
    """The one gate: ``metric`` (value, ci_low, ci_high, n) against ``limit`` in ``direction``.

    ``needed``: examples that would decide it in 80% of runs (shown when the outcome is INCONCLUSIVE);
    ``level``: what the interval is, "95% CI" unless a sequential gate's looks make it another;
    ``reach``: (lowest, highest, why) the metric can take with the data in hand, and
    ``feasible_kind``: the interval family (``sample_size.KINDS``) whose identical-student CI at
    this n says whether a PASS outcome is reachable at all; a gate that cannot FAIL (or cannot
    PASS) says so in its message and its ``cannot`` field;
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
        return GateResult(
            gate,
            True,
            metric.value,
            None,
            source,
            f"{name} {metric.value:.3f} (not gated)",
            warn_only,
            n=metric.n,
            ci_low=metric.ci_low,
            ci_high=metric.ci_high,
            direction=direction,
        )
    if not (_is_number(metric.ci_low) and _is_number(metric.ci_high)):
        # Putting the estimate in place of a missing bound would make a zero-width CI: a PASS from nothing.
        return GateResult(
            gate,
            False,
            metric.value,
            float(limit),
            source,
            f"{name} {metric.value:.3f} (n={metric.n}) has no confidence interval (a bound is missing "
            f"or NaN): the gate cannot decide without it, so it fails",
            warn_only,
            rule=rule.name,
            n=metric.n,
            direction=direction,
        )
    low, high = metric.ci_low, metric.ci_high
    decision = stats.decide(metric.value, low, high, limit, direction, rule.name, rule.inconclusive)
    which = {"ci_low": "CI lower bound ", "ci_high": "CI upper bound "}.get(decision.decided_by, "")
    shown = decision.checked_value if which else metric.value
    good = stats.on_good_side(shown, limit, direction)
    message = (
        f"{name} {metric.value:.3f} ({_ci_text(metric, duplicates, level)}) {which}{SIGNS[direction, good]} "
        f"{limit:.3f} [{source}]{detail}; outcome {decision.outcome}"
    )
    cannot = cannot_text(direction, float(limit), reach, feasible_kind, metric.n, level)
    if cannot:
        message += f"; {cannot}"
    if rule.name != "estimate":
        message += f" ({rule.name} rule" + (
            f", inconclusive = {rule.inconclusive})" if rule.name == "three-way" else ")"
        )
    if decision.outcome == stats.INCONCLUSIVE and metric.n:
        from ..stats.sample_size import undecided_text

        message += "; " + undecided_text(name, metric.n, metric.value, low, high, limit, needed, unit, level=level)
    return GateResult(
        gate,
        decision.passed,
        metric.value,
        float(limit),
        source,
        message,
        warn_only,
        decision.outcome,
        rule.name,
        decision.warned,
        low,
        high,
        metric.n,
        direction,
        needed if decision.outcome == stats.INCONCLUSIVE else None,
        duplicates,
        cannot,
    )


def cannot_text(
    direction: str,
    limit: float,
    reach: tuple[float, float, str] | None = None,
    feasible_kind: str | None = None,
    n: int | None = None,
    level: str = "95% CI",
) -> str | None:
    """Why a gate cannot FAIL (or cannot PASS) with the data in hand, or None when it can do both.

    ``reach`` = (lowest, highest, why): the values the metric can take at all (a drop can never
    exceed the teacher's own accuracy); ``feasible_kind`` with ``n``: even a student identical to
    its teacher gets an interval that cannot clear the limit at this n (no PASS outcome).

    >>> cannot_text("at_most", 0.10, (-1.0, 0.0, "the teacher keeps 0.0% accuracy under this attack"))
    'cannot FAIL: the teacher keeps 0.0% accuracy under this attack, so the value cannot exceed 0.100'
    >>> cannot_text("at_least", 0.90, feasible_kind="proportion", n=10)
    'cannot PASS (outcome): at n=10 even a student identical to its teacher has a 95% CI down to 0.692 < 0.900'
    >>> cannot_text("at_least", 0.90, (0.0, 1.0, ""), "proportion", 854) is None
    True
    """
    if reach is not None:
        lowest, highest, why = reach
        if direction == stats.AT_MOST and highest <= limit + stats.BOUNDARY_TOLERANCE:
            return f"cannot FAIL: {why}, so the value cannot exceed {limit:.3f}"
        if direction == stats.AT_LEAST and lowest >= limit - stats.BOUNDARY_TOLERANCE:
            return f"cannot FAIL: {why}, so the value cannot fall below {limit:.3f}"
        if direction == stats.AT_MOST and lowest > limit + stats.BOUNDARY_TOLERANCE:
            return f"cannot PASS: {why}, so the value cannot reach {limit:.3f}"
        if direction == stats.AT_LEAST and highest < limit - stats.BOUNDARY_TOLERANCE:
            return f"cannot PASS: {why}, so the value cannot reach {limit:.3f}"
    if feasible_kind is not None and n:
        from ..stats.sample_size import identical_student_feasibility

        best = identical_student_feasibility(feasible_kind, int(n), limit, direction)
        if not best.can_pass:
            end = f"down to {best.best_low:.3f} <" if direction == stats.AT_LEAST else f"up to {best.best_high:.3f} >"
            return (
                f"cannot PASS (outcome): at n={n} even a student identical to its teacher has a {level} "
                f"{end} {limit:.3f}"
            )
    return None


def _ci_text(metric, duplicates: int = 0, level: str = "95% CI") -> str:
    """``n=100, 95% CI ...``; with repeated texts ``n=2 distinct, 98 duplicates not counted, ...``."""
    n = f"n={metric.n}" + (
        f" distinct, {duplicates} duplicate{'s' * (duplicates != 1)} not counted" if duplicates else ""
    )
    if not _is_number(metric.ci_low) or not _is_number(metric.ci_high):
        return n
    return f"{n}, {level} {metric.ci_low:.3f}–{metric.ci_high:.3f}"


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


def gate_baseline(
    metric_name: str,
    metric,
    baseline: float | None,
    tolerance: Threshold,
    rule: Rule = Rule(),
    *,
    warn_only: bool = False,
    duplicates: int = 0,
) -> GateResult:
    """This run's metric (with its CI) at least the baseline's value minus the tolerance."""
    gate = f"baseline:{metric_name}"
    if not _is_number(baseline) or metric is None or not _is_number(metric.value):
        return GateResult(
            gate,
            False,
            getattr(metric, "value", None),
            None,
            tolerance.source,
            f"{metric_name} missing in the current run or the baseline; "
            "update the baseline with --loyalty-update-baseline",
            warn_only,
        )
    limit = baseline - float(tolerance.value or 0.0)
    detail = f" (baseline {baseline:.3f} - tolerance {float(tolerance.value or 0):.3f})"
    result = gate_metric(
        gate,
        metric,
        limit,
        tolerance.source,
        stats.AT_LEAST,
        rule,
        warn_only=warn_only,
        detail=detail,
        name=metric_name,
        duplicates=duplicates,
    )
    if not result.passed:
        result = replace(
            result,
            message=result.message + "; if this change is intended, "
            "write a new baseline with --loyalty-update-baseline",
        )
    return result


def distinct_rows(report):
    """Indices the report's metrics count (repeated texts once); all rows when there are none."""
    import numpy as np

    distinct = getattr(report, "distinct", None)
    return np.arange(len(report.data)) if distinct is None else np.asarray(distinct)
