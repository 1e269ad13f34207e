"""Negative flip rate (Yan et al. 2021): the share of all examples the teacher gets right and the
student wrong, at most ``max_negative_flip_rate``."""

from __future__ import annotations

from ..stats import intervals, sample_size
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "negative_flip_rate"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    m, limit = report.metrics, thresholds["max_negative_flip_rate"]
    b, c, n = int(m["correct_to_wrong"].value), int(m["wrong_to_correct"].value), len(report.data)
    needed = (None if limit.value is None
              else sample_size.proportion_examples_to_decide(b, n, limit.value, intervals.AT_MOST))
    return gate_metric(GATE, m[GATE], limit.value, limit.source, intervals.AT_MOST, Rule.from_thresholds(thresholds),
                       warn_only=warn_only, needed=needed, detail=f" ({b} negative, {c} positive flips)")


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "negative flips", report.worst_negative_flips(k)
