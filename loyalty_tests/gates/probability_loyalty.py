"""Probability loyalty: mean 1 - sqrt(JSD base 2) between the two models' probabilities, at
least ``min_probability_loyalty``."""

from __future__ import annotations

from .. import metrics
from ..stats import intervals, power
from .checks import distinct_rows, gate_metric
from .result import GateResult, Rule

GATE = "probability_loyalty"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    limit = thresholds["min_probability_loyalty"]
    needed = None
    if limit.value is not None:
        rows = distinct_rows(report)
        values = metrics.per_example_probability_loyalty(
            report.teacher_predictions.probabilities[rows], report.student_predictions.probabilities[rows]
        )
        needed = power.mean_examples_for_power(values, limit.value)
    return gate_metric(
        GATE,
        report.metrics[GATE],
        limit.value,
        limit.source,
        intervals.AT_LEAST,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        needed=needed,
        feasible_kind="bounded_mean",
        duplicates=getattr(report, "duplicates", 0),
    )


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "disagreements", report.worst_examples(k)
