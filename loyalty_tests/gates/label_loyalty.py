"""Label loyalty: the share of examples on which student and teacher predict the same label,
at least ``min_label_loyalty`` (Clopper-Pearson interval; no gold labels used)."""

from __future__ import annotations

from ..stats import intervals, power
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "label_loyalty"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    metric, limit = report.metrics[GATE], thresholds["min_label_loyalty"]
    n = metric.n
    agree = round(metric.value * n)
    needed = None if limit.value is None else power.proportion_examples_for_power(agree, n, limit.value)
    return gate_metric(
        GATE,
        metric,
        limit.value,
        limit.source,
        intervals.AT_LEAST,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        needed=needed,
        feasible_kind="proportion",
        duplicates=getattr(report, "duplicates", 0),
    )


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "disagreements", report.worst_examples(k)
