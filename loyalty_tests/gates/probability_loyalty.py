"""Probability loyalty: mean 1 - sqrt(JSD base 2) between the two models' probabilities, at
least ``min_probability_loyalty``."""

from __future__ import annotations

from .. import metrics
from ..stats import intervals, sample_size
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "probability_loyalty"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    limit = thresholds["min_probability_loyalty"]
    needed = None
    if limit.value is not None:
        values = metrics.per_example_probability_loyalty(report.teacher_predictions.probabilities,
                                                         report.student_predictions.probabilities)
        needed = sample_size.bounded_mean_examples_to_decide(values, limit.value)
    return gate_metric(GATE, report.metrics[GATE], limit.value, limit.source, intervals.AT_LEAST,
                       Rule.from_thresholds(thresholds), warn_only=warn_only, needed=needed)


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "disagreements", report.worst_examples(k)
