"""Assertion helpers for users' own tests; failures show numbers, CIs, thresholds and examples.

They decide exactly as the built-in gates do (they call the same ``gates`` functions): same intervals, same three-way
outcome, same rule (``decision`` and ``inconclusive`` from the report's thresholds unless given).
"""

from __future__ import annotations

from .comparison import LoyaltyReport, format_examples
from .engines.latency import LatencyResult, measure_latency
from .gates.prediction import prediction_gate
from .gates.registry import GATES
from .gates.result import Rule
from .gates.thresholds import THRESHOLD_SPECS, Threshold, resolve

LOYALTY_GATES = ("accuracy_drop", "label_loyalty", "probability_loyalty", "negative_flip_rate")  # assert_loyal's


def _thresholds(base: dict | None, overrides: dict) -> dict[str, Threshold]:
    effective = dict(base) if base else resolve({}, {})
    for key, value in overrides.items():
        if value is not None:
            effective[key] = Threshold(key, value, "argument")
    return effective


def _rule(thresholds: dict[str, Threshold], decision: str | None, inconclusive: str | None) -> Rule:
    rule = Rule.from_thresholds(thresholds)
    return Rule(decision or rule.name, inconclusive or rule.inconclusive)


def assert_loyal(
    report: LoyaltyReport,
    *,
    min_label_loyalty: float | None = None,
    min_probability_loyalty: float | None = None,
    max_accuracy_drop: float | None = None,
    max_accuracy_drop_relative: float | None = None,
    max_negative_flip_rate: float | None = None,
    decision: str | None = None,
    inconclusive: str | None = None,
    examples: int = 5,
) -> None:
    """Assert the student in ``report`` (the ``loyalty_report`` fixture) is loyal to its teacher.

    Thresholds not given here come from ``report.thresholds`` (marker > command line > ini >
    default). On failure the message lists every failing gate with its CI and outcome, and the
    ``examples`` worst disagreements with both models' probabilities.
    """
    thresholds = _thresholds(
        report.thresholds,
        {
            "min_label_loyalty": min_label_loyalty,
            "min_probability_loyalty": min_probability_loyalty,
            "max_accuracy_drop": max_accuracy_drop,
            "max_accuracy_drop_relative": max_accuracy_drop_relative,
            "max_negative_flip_rate": max_negative_flip_rate,
        },
    )
    rule = _rule(thresholds, decision, inconclusive)
    thresholds["decision"] = Threshold("decision", rule.name, "argument")
    thresholds["inconclusive"] = Threshold("inconclusive", rule.inconclusive, "argument")
    results = [prediction_gate(gate, report, thresholds) for gate in LOYALTY_GATES]
    failed = [r for r in results if not r.passed]
    if failed:
        lines = [
            f"student {report.student_name!r} is not loyal to teacher {report.teacher_name!r} on {report.data.name}:"
        ]
        lines += [f"  {r.message}" for r in failed]
        lines += [f"worst {examples} disagreements:", format_examples(report.worst_examples(examples))]
        raise AssertionError("\n".join(lines))


def assert_robust(
    comparison,
    *,
    max_robustness_drop: float | None = None,
    decision: str = "estimate",
    inconclusive: str = "fail",
    examples: int = 5,
) -> None:
    """Assert the student's accuracy under attack is at most ``max_robustness_drop`` below the
    teacher's on the same attacked examples (``comparison``: the ``attack_results`` fixture or
    ``loyalty_tests.robustness.compare_robustness``). The failure message shows the drop with its
    paired CI and outcome, both accuracies under attack and adversarial examples that fool the
    student but not the teacher.
    """
    limit = THRESHOLD_SPECS["max_robustness_drop"].default if max_robustness_drop is None else max_robustness_drop
    source = "argument" if max_robustness_drop is not None else "default"
    from .robustness import summary

    result = GATES["robustness"].check(comparison, limit, source, Rule(decision, inconclusive))
    if not result.passed:
        lines = [
            f"student {comparison.student.model_name!r} is less robust than teacher "
            f"{comparison.teacher.model_name!r}: {result.message}"
        ]
        fooled = summary.student_only_fooled(comparison, examples)
        if fooled:
            names = getattr(comparison, "label_names", None) or [
                str(i) for i in range(len(fooled[0]["original_probs"]))
            ]
            lines += [
                "adversarial examples that fool the student but not the teacher:",
                summary.format_adversarial(fooled, names),
            ]
        raise AssertionError("\n".join(lines))


def assert_faster(
    teacher_or_result,
    student=None,
    texts=None,
    *,
    min_speedup: float | None = None,
    rounds: int = 10,
    max_rounds: int = 50,
    decision: str = "estimate",
) -> LatencyResult:
    """Assert the student is at least ``min_speedup`` times faster than the teacher.

    Pass a ``LatencyResult``, or a teacher, a student and the texts to time them on (timed side by
    side in interleaved rounds, in blocks of ``rounds`` until the CI clears the limit or
    ``max_rounds``). Returns the measurement.
    """
    limit = THRESHOLD_SPECS["min_speedup"].default if min_speedup is None else min_speedup
    if isinstance(teacher_or_result, LatencyResult):
        latency = teacher_or_result
    else:
        if student is None or texts is None:
            raise TypeError("assert_faster(teacher, student, texts) or assert_faster(latency_result)")
        latency = measure_latency(
            teacher_or_result, student, texts, rounds=rounds, max_rounds=max_rounds, limit=limit, rule=decision
        )
    result = GATES["latency"].check(
        latency, limit, "argument" if min_speedup is not None else "default", Rule(decision)
    )
    if not result.passed:
        raise AssertionError(f"student is not fast enough: {result.message}")
    return latency
