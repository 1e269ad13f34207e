"""Assertion helpers for users' own tests; failures show numbers, thresholds and examples."""

from __future__ import annotations

from . import gates
from .comparison import Comparison, format_examples
from .latency import LatencyResult, measure_latency
from .thresholds import THRESHOLD_SPECS, Threshold, resolve


def _thresholds(base: dict | None, overrides: dict) -> dict[str, Threshold]:
    effective = dict(base) if base else resolve({}, {})
    for key, value in overrides.items():
        if value is not None:
            effective[key] = Threshold(key, value, "argument")
    return effective


def assert_loyal(report: Comparison, *, min_label_loyalty: float | None = None,
                 min_probability_loyalty: float | None = None, max_accuracy_drop: float | None = None,
                 max_accuracy_drop_relative: float | None = None, gate_on_lower_bound: bool | None = None,
                 examples: int = 5) -> None:
    """Assert the student in ``report`` (the ``loyalty_report`` fixture) is loyal to its teacher.

    Thresholds not given here come from ``report.thresholds`` (marker > command line > ini >
    default). On failure the message lists every failing gate and the ``examples`` worst
    disagreements with both models' probabilities.
    """
    thresholds = _thresholds(report.thresholds, {
        "min_label_loyalty": min_label_loyalty, "min_probability_loyalty": min_probability_loyalty,
        "max_accuracy_drop": max_accuracy_drop, "max_accuracy_drop_relative": max_accuracy_drop_relative,
        "gate_on_lower_bound": gate_on_lower_bound,
    })
    lower = bool(thresholds["gate_on_lower_bound"].value)
    values = report.metrics
    results = [
        gates.gate_minimum("label_loyalty", values.get("label_loyalty"), thresholds["min_label_loyalty"], lower_bound=lower),
        gates.gate_minimum("probability_loyalty", values.get("probability_loyalty"),
                           thresholds["min_probability_loyalty"], lower_bound=lower),
        gates.gate_accuracy_drop(values.get("teacher_accuracy"), values.get("student_accuracy"),
                                 values.get("accuracy_drop"), thresholds["max_accuracy_drop"],
                                 thresholds["max_accuracy_drop_relative"], lower_bound=lower),
    ]
    failed = [r for r in results if not r.passed]
    if failed:
        lines = [f"student {report.student_name!r} is not loyal to teacher {report.teacher_name!r} "
                 f"on {report.data.name}:"]
        lines += [f"  {r.message}" for r in failed]
        lines += [f"worst {examples} disagreements:", format_examples(report.worst_examples(examples))]
        raise AssertionError("\n".join(lines))


def assert_faster(teacher_or_result, student=None, texts=None, *, min_speedup: float | None = None,
                  rounds: int = 5) -> LatencyResult:
    """Assert the student is at least ``min_speedup`` times faster than the teacher.

    Pass a ``LatencyResult``, or a teacher, a student and the texts to time them on (timed
    side by side, rounds interleaved). Returns the measurement.
    """
    if isinstance(teacher_or_result, LatencyResult):
        latency = teacher_or_result
    else:
        if student is None or texts is None:
            raise TypeError("assert_faster(teacher, student, texts) or assert_faster(latency_result)")
        latency = measure_latency(teacher_or_result, student, texts, rounds=rounds)
    limit = THRESHOLD_SPECS["min_speedup"].default if min_speedup is None else min_speedup
    result = gates.gate_speedup(latency, Threshold("min_speedup", limit, "argument" if min_speedup is not None else "default"))
    if not result.passed:
        raise AssertionError(f"student is not fast enough: {result.message}")
    return latency
