"""KL divergence: mean KL(teacher || student) in nats over the examples, at most
``max_kl_divergence`` (bootstrap CI). Collected only when that threshold is set.

Label loyalty only sees the top label and probability loyalty is bounded; KL weighs a student
that is confidently wrong where the teacher was confident too, which is what a distillation
loss minimises, so teams that distil can gate on the quantity they trained.
"""

from __future__ import annotations

from ..stats import intervals, power
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "kl_divergence"
METRIC = "kl_teacher_student"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    metric, limit = report.metrics.get(METRIC), thresholds["max_kl_divergence"]
    needed = None
    if metric is not None and limit.value is not None and metric.ci_low is not None:
        needed = power.normal_examples_for_power(metric.value, metric.ci_low, metric.ci_high, metric.n, limit.value)
    return gate_metric(
        GATE,
        metric,
        limit.value,
        limit.source,
        intervals.AT_MOST,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        needed=needed,
        name="kl(teacher||student)",
    )


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "disagreements", report.worst_examples(k)
