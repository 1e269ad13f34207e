"""Latency: the teacher/student speedup, timed side by side in this run, at least ``min_speedup``.

A pure function of the measurement (``engines.latency.LatencyResult``) and the limit; the plugin's
gate and ``assert_faster`` both call it, so they say the same thing.
"""

from __future__ import annotations

from .. import metrics
from ..stats import intervals, speedup
from .checks import gate_metric
from .result import LatencyGateResult, Rule

GATE = "latency"


def check(
    latency, limit: float | None, source: str, rule: Rule = Rule(), *, warn_only: bool = False, block: int = 10
) -> LatencyGateResult:
    """``latency``: a ``LatencyResult`` (per-round times of both models, the speedup and its CI);
    ``block``: rounds per block (--loyalty-latency-rounds), for "about N rounds would decide"."""
    needed = (
        None
        if limit is None
        else speedup.rounds_for_power(
            latency.teacher_rounds, latency.student_rounds, limit, block_size=block, spent=latency.rounds
        )
    )
    detail = (
        f" (teacher {latency.teacher_seconds * 1e3:.1f} ms, student {latency.student_seconds * 1e3:.1f} ms "
        f"per batch of {latency.batch_size}, median of {latency.rounds} ABBA rounds; "
        f"{latency.stop_reason})"
    )
    metric = metrics.MetricValue(latency.speedup, latency.ci_low, latency.ci_high, latency.rounds)
    result = gate_metric(
        GATE,
        metric,
        limit,
        source,
        intervals.AT_LEAST,
        rule,
        warn_only=warn_only,
        needed=needed,
        unit="rounds",
        detail=detail,
        name="speedup",
        level=getattr(latency, "level", "95% CI"),
    )
    return LatencyGateResult(
        **vars(result),
        teacher_seconds=float(latency.teacher_seconds),
        student_seconds=float(latency.student_seconds),
        batch_size=latency.batch_size,
        stop_reason=latency.stop_reason,
    )
