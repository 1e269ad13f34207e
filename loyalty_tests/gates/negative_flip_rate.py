"""Negative flip rate (Yan et al. 2021): the share of all examples the teacher gets right and the
student wrong, at most ``max_negative_flip_rate``."""

from __future__ import annotations

from ..stats import intervals, power
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "negative_flip_rate"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    m, limit = report.metrics, thresholds["max_negative_flip_rate"]
    b, c, n = int(m["correct_to_wrong"].value), int(m["wrong_to_correct"].value), m[GATE].n
    needed = None if limit.value is None else power.proportion_examples_for_power(b, n, limit.value, intervals.AT_MOST)
    return gate_metric(
        GATE,
        m[GATE],
        limit.value,
        limit.source,
        intervals.AT_MOST,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        needed=needed,
        detail=f" ({b} negative, {c} positive flips)",
        feasible_kind="proportion",
        duplicates=getattr(report, "duplicates", 0),
        reach=(0.0, m["teacher_accuracy"].value, f"the teacher's accuracy is {m['teacher_accuracy'].value:.1%}"),
    )


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "negative flips", report.worst_negative_flips(k)
