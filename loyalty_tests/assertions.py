"""Assertion helpers for users' own tests; failures show numbers, thresholds and examples."""

from __future__ import annotations

from . import gate_checks
from .robustness import summary as robust
from .loyalty_report import LoyaltyReport, format_examples
from .latency import LatencyResult, measure_latency
from .thresholds import THRESHOLD_SPECS, Threshold, resolve


def _thresholds(base: dict | None, overrides: dict) -> dict[str, Threshold]:
    effective = dict(base) if base else resolve({}, {})
    for key, value in overrides.items():
        if value is not None:
            effective[key] = Threshold(key, value, "argument")
    return effective


def assert_loyal(report: LoyaltyReport, *, min_label_loyalty: float | None = None,
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
        gate_checks.gate_minimum("label_loyalty", values.get("label_loyalty"), thresholds["min_label_loyalty"], lower_bound=lower),
        gate_checks.gate_minimum("probability_loyalty", values.get("probability_loyalty"),
                           thresholds["min_probability_loyalty"], lower_bound=lower),
        gate_checks.gate_accuracy_drop(values.get("teacher_accuracy"), values.get("student_accuracy"),
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


def assert_robust(comparison, *, max_robustness_drop: float | None = None, gate_on_lower_bound: bool = False,
                  examples: int = 5, n_resamples: int = 1000, seed: int = 0) -> None:
    """Assert the student's accuracy under attack is at most ``max_robustness_drop`` below the
    teacher's on the same attacked examples (``comparison``: the ``attack_results`` fixture or
    ``loyalty_tests.robustness.compare_robustness``). The failure message shows the drop with its
    paired bootstrap CI, both accuracies under attack and adversarial examples that fool the
    student but not the teacher.
    """
    limit = THRESHOLD_SPECS["max_robustness_drop"].default if max_robustness_drop is None else max_robustness_drop
    threshold = Threshold("max_robustness_drop", limit, "argument" if max_robustness_drop is not None else "default")
    drop = robust.robustness_drop(comparison, n_resamples=n_resamples, seed=seed)
    result = gate_checks.gate_robustness_drop(drop, comparison.teacher.accuracy_under_attack,
                                        comparison.student.accuracy_under_attack, comparison.teacher.config.recipe,
                                        threshold, lower_bound=gate_on_lower_bound)
    if not result.passed:
        lines = [f"student {comparison.student.model_name!r} is less robust than teacher "
                 f"{comparison.teacher.model_name!r}: {result.message}"]
        fooled = robust.student_only_fooled(comparison, examples)
        if fooled:
            names = getattr(comparison, "label_names", None) or [str(i) for i in range(len(fooled[0]["original_probs"]))]
            lines += ["adversarial examples that fool the student but not the teacher:",
                      robust.format_adversarial(fooled, names)]
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
    result = gate_checks.gate_speedup(latency, Threshold("min_speedup", limit, "argument" if min_speedup is not None else "default"))
    if not result.passed:
        raise AssertionError(f"student is not fast enough: {result.message}")
    return latency
