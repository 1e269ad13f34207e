"""KL divergence: mean KL(teacher || student) in nats over the examples, at most
``max_kl_divergence`` (bootstrap CI). Collected only when that threshold is set.

Label loyalty only sees the top label and probability loyalty is bounded; KL weighs a student
that is confidently wrong where the teacher was confident too, which is what a distillation
loss minimises, so teams that distil can gate on the quantity they trained.
"""

from __future__ import annotations

import math

from ..stats import intervals
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "kl_divergence"
METRIC = "kl_teacher_student"


def examples_to_decide(value: float, low: float, high: float, n: int, limit: float) -> int | None:
    """About how many examples would put the CI on one side of ``limit``, assuming its half-width
    shrinks as 1/sqrt(n) (a bootstrap CI of a mean does); None when the estimate is on the limit.

    >>> examples_to_decide(0.10, 0.06, 0.14, 100, 0.12)  # half-width 0.04 must shrink to 0.02
    400
    """
    distance = abs(value - limit)
    if distance == 0 or not all(map(math.isfinite, (value, low, high))):
        return None
    half_width = (high - low) / 2
    return max(n, math.ceil(round(n * (half_width / distance) ** 2, 9)))  # round: 4.000000001 is 4


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    metric, limit = report.metrics.get(METRIC), thresholds["max_kl_divergence"]
    needed = None
    if metric is not None and limit.value is not None and metric.ci_low is not None:
        needed = examples_to_decide(metric.value, metric.ci_low, metric.ci_high, metric.n, limit.value)
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
