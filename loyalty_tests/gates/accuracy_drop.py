"""Accuracy drop: teacher accuracy minus student accuracy, at most the tighter of the absolute
and the relative limit, with the paired (McNemar-style) examples that would decide it."""

from __future__ import annotations

from ..stats import intervals, power
from . import checks
from .result import GateResult, Rule

GATE = "accuracy_drop"


def check(report, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    m = report.metrics
    teacher_accuracy, student_accuracy = m["teacher_accuracy"].value, m["student_accuracy"].value
    b, c, n = int(m["correct_to_wrong"].value), int(m["wrong_to_correct"].value), m[GATE].n
    limit, source = checks.accuracy_drop_limit(
        teacher_accuracy, thresholds["max_accuracy_drop"], thresholds["max_accuracy_drop_relative"]
    )
    needed = None if limit is None else power.paired_examples_for_power(b, c, n, limit)
    return checks.gate_metric(
        GATE,
        m[GATE],
        limit,
        source,
        intervals.AT_MOST,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        needed=needed,
        feasible_kind="paired_difference",
        duplicates=getattr(report, "duplicates", 0),
        reach=(teacher_accuracy - 1.0, teacher_accuracy, f"the teacher's accuracy is {teacher_accuracy:.1%}"),
        detail=f" (teacher {teacher_accuracy:.3f}, student {student_accuracy:.3f})",
    )


def failure_examples(report, k: int = 5) -> tuple[str, list[dict]]:
    return "disagreements", report.worst_examples(k)
