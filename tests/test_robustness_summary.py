"""The robustness gate's arithmetic on hand-made attack results (no attack engine needed)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.gates import checks as gate_checks
from loyalty_tests.metrics import MetricValue
from loyalty_tests.robustness import summary as robust
from loyalty_tests.stats.exact import gate_paired_interval


def example(index, status, original="a good film", perturbed=None):
    return SimpleNamespace(
        index=index,
        status=status,
        original_text=original,
        perturbed_text=perturbed or (original.replace("good", "g0od") if status == "succeeded" else None),
        text_pair=None,
        original_probs=(0.2, 0.8),
        perturbed_probs=(0.7, 0.3) if status == "succeeded" else None,
        queries=7,
    )


def comparison(teacher_statuses, student_statuses):
    config = SimpleNamespace(recipe="charswap", examples=len(teacher_statuses), budget=50, seed=0)
    teacher = SimpleNamespace(
        examples=[example(i, s) for i, s in enumerate(teacher_statuses)], config=config, model_name="teacher"
    )
    student = SimpleNamespace(
        examples=[example(i, s) for i, s in enumerate(student_statuses)], config=config, model_name="student"
    )
    return SimpleNamespace(teacher=teacher, student=student)


def test_drop_counts_skipped_as_wrong_and_failed_attacks_as_right():
    # teacher right under attack on 0, 1, 2; student only on 0 (1 succeeded, 2 skipped, 3 both wrong)
    pair = comparison(["failed", "failed", "failed", "skipped"], ["failed", "succeeded", "skipped", "skipped"])
    drop = robust.robustness_drop(pair)
    assert drop.value == pytest.approx(0.75 - 0.25)
    assert drop.n == 4 and drop.ci_low <= drop.value <= drop.ci_high
    assert robust.discordant_counts(pair) == (2, 0)
    low, high = gate_paired_interval(2, 0, 4)
    assert (drop.ci_low, drop.ci_high) == pytest.approx((low, high))


def test_ten_agreeing_examples_cannot_exclude_a_large_drop():
    # the old percentile bootstrap said 0.000–0.000 here, a "confident PASS" ten examples cannot back
    drop = robust.robustness_drop(comparison(["failed"] * 10, ["failed"] * 10))
    assert drop.value == 0.0 and drop.ci_high > 0.2 and drop.ci_low < -0.2


def test_student_only_fooled_lists_what_the_teacher_withstood():
    pair = comparison(["failed", "succeeded", "failed"], ["succeeded", "succeeded", "failed"])
    rows = robust.student_only_fooled(pair)
    assert [row["index"] for row in rows] == [0]  # example 1 fooled both, example 2 neither
    assert "g0od" in robust.format_adversarial(rows, ("negative", "positive"))


def test_mismatched_examples_are_an_error():
    pair = comparison(["failed", "failed"], ["failed"])
    with pytest.raises(LoyaltyError, match="different examples"):
        robust.robustness_drop(pair)


def robustness_gate(drop, limit, rule=gate_checks.Rule()):
    return gate_checks.gate_metric(
        "robustness",
        drop,
        limit,
        "default",
        "at_most",
        rule,
        name="robustness_drop",
        detail=" (accuracy under textfooler attack: teacher 0.500, student 0.400)",
    )


@pytest.mark.parametrize("value, limit, passed", [(0.1, 0.1, True), (0.11, 0.1, False), (-0.2, 0.0, True)])
def test_gate_is_an_inclusive_allowed_drop(value, limit, passed):
    result = robustness_gate(MetricValue(value, value - 0.05, value + 0.05, n=40), limit)
    assert result.passed is passed
    assert ("<=" if passed else ">") in result.message and "textfooler" in result.message


def test_the_confident_rule_uses_the_pessimistic_end():
    drop = MetricValue(0.05, 0.0, 0.15, n=40)
    assert robustness_gate(drop, 0.1).passed
    strict = robustness_gate(drop, 0.1, gate_checks.Rule("confident"))
    assert not strict.passed and "CI upper bound" in strict.message and strict.three_way == "INCONCLUSIVE"


def test_nan_drop_fails_closed():
    result = robustness_gate(MetricValue(math.nan, None, None, n=0), 0.1)
    assert not result.passed and "missing" in result.message
