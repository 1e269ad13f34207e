"""Label loyalty: the share of examples on which student and teacher predict the same label,
at least ``min_label_loyalty`` (Wilson interval; no gold labels used)."""

from __future__ import annotations

from ..stats import intervals, sample_size
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "label_loyalty"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    metric, limit, n = report.metrics[GATE], thresholds["min_label_loyalty"], len(report.data)
    agree = round(metric.value * n)
    needed = None if limit.value is None else sample_size.proportion_examples_to_decide(agree, n, limit.value)
    return gate_metric(GATE, metric, limit.value, limit.source, intervals.AT_LEAST, Rule.from_thresholds(thresholds),
                       warn_only=warn_only, needed=needed)


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "disagreements", report.worst_examples(k)
