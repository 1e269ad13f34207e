"""Gate logic and threshold precedence, without pytest or models."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.gates import checks as gate_checks
from loyalty_tests.gates.thresholds import Threshold, resolve, warn_only_gates


@dataclass(frozen=True)
class Value:
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 100


def test_precedence_default_ini_cli_marker():
    assert resolve({}, {})["min_label_loyalty"] == Threshold("min_label_loyalty", 0.9, "default")
    ini = {"min_label_loyalty": "0.8"}
    assert resolve({}, ini)["min_label_loyalty"] == Threshold("min_label_loyalty", 0.8, "ini loyalty_min_label_loyalty")
    cli = {"min_label_loyalty": "0.85"}
    assert resolve(cli, ini)["min_label_loyalty"].source == "--loyalty-min-label-loyalty"
    marked = resolve(cli, ini, {"min_label_loyalty": 0.5})["min_label_loyalty"]
    assert (marked.value, marked.source) == (0.5, "@pytest.mark.loyalty")


@pytest.mark.parametrize(
    "cli, ini, marker, message",
    [
        ({}, {}, {"min_label_loyality": 0.9}, "unknown loyalty threshold 'min_label_loyality'"),
        ({"min_label_loyalty": "high"}, {}, None, "must be a number"),
        ({}, {"gate_on_lower_bound": "perhaps"}, None, "true or false"),
        ({"max_accuracy_drop": "-0.1"}, {}, None, r"must lie in \[0, 1\]"),
        ({"min_label_loyalty": "1.5"}, {}, None, r"must lie in \[0, 1\], got .1\.5."),
        ({}, {"decision": "sometimes"}, None, "must be one of estimate, confident, three-way"),
    ],
)
def test_bad_thresholds_fail_closed(cli, ini, marker, message):
    with pytest.raises(LoyaltyError, match=message):
        resolve(cli, ini, marker)


def at_least(value, low, high, limit, rule=gate_checks.Rule(), n=100):
    return gate_checks.gate_metric("label_loyalty", Value(value, low, high, n), limit, "default", "at_least", rule)


def test_minimum_gate_is_inclusive_and_names_source():
    assert gate_checks.gate_metric("label_loyalty", Value(0.97, 0.96, 0.98), 0.97, "ini", "at_least").passed
    failed = gate_checks.gate_metric(
        "label_loyalty", Value(0.962, 0.956, 0.967, 5000), 0.97, "ini loyalty_min_label_loyalty", "at_least"
    )
    assert not failed.passed and failed.three_way == "FAIL"
    assert failed.message == (
        "label_loyalty 0.962 (n=5000, 95% CI 0.956–0.967) < 0.970 [ini loyalty_min_label_loyalty]; outcome FAIL"
    )


@pytest.mark.parametrize(
    "low, high, outcome",
    [
        (0.91, 0.95, "PASS"),
        (0.85, 0.89, "FAIL"),
        (0.88, 0.95, "INCONCLUSIVE"),
        (0.90, 0.95, "PASS"),
        (0.85, 0.90, "INCONCLUSIVE"),
    ],
)
def test_every_gate_gets_a_three_way_outcome_from_its_ci(low, high, outcome):
    assert at_least((low + high) / 2, low, high, 0.90).three_way == outcome


@pytest.mark.parametrize(
    "rule, passes_inconclusive, warned",
    [
        (gate_checks.Rule("estimate"), True, False),  # the point estimate 0.93 >= 0.90 decides
        (gate_checks.Rule("confident"), False, False),  # the CI's low end 0.88 < 0.90
        (gate_checks.Rule("three-way", "fail"), False, False),
        (gate_checks.Rule("three-way", "warn"), True, True),
        (gate_checks.Rule("three-way", "pass"), True, False),
    ],
)
def test_each_rule_on_an_inconclusive_gate(rule, passes_inconclusive, warned):
    result = at_least(0.93, 0.88, 0.97, 0.90, rule)
    assert result.three_way == "INCONCLUSIVE"
    assert (result.passed, result.warned) == (passes_inconclusive, warned)
    assert "examples would" not in result.message or result.needed is None  # needed comes from the caller


@pytest.mark.parametrize(
    "rule", [gate_checks.Rule("estimate"), gate_checks.Rule("confident"), gate_checks.Rule("three-way", "pass")]
)
def test_every_rule_passes_a_clear_pass_and_fails_a_clear_fail(rule):
    assert at_least(0.95, 0.93, 0.97, 0.90, rule).passed
    assert not at_least(0.80, 0.77, 0.83, 0.90, rule).passed


def test_an_inconclusive_gate_says_how_many_examples_would_decide():
    result = gate_checks.gate_metric(
        "label_loyalty", Value(0.93, 0.88, 0.97, 50), 0.90, "default", "at_least", needed=410
    )
    assert (
        "n=50 cannot tell label_loyalty 0.930 (95% CI 0.880–0.970) from its limit 0.900; about 410 examples would"
        in result.message
    )
    assert result.needed == 410


@pytest.mark.parametrize("metric", [None, Value(float("nan"))])
def test_missing_metric_fails(metric):
    result = gate_checks.gate_metric("label_loyalty", metric, 0.9, "default", "at_least")
    assert not result.passed and "missing" in result.message


def drop_gate(teacher, student, absolute=0.02, relative=None, ci=None, rule=gate_checks.Rule()):
    limit, source = gate_checks.accuracy_drop_limit(
        teacher,
        Threshold("max_accuracy_drop", absolute, "default"),
        Threshold("max_accuracy_drop_relative", relative, "relative"),
    )
    drop = teacher - student
    low, high = ci or (drop, drop)
    return gate_checks.gate_metric("accuracy_drop", Value(drop, low, high), limit, source, "at_most", rule)


def test_accuracy_drop_direction_and_inclusive_limit():
    assert drop_gate(0.90, 0.88).passed  # exactly the limit
    assert not drop_gate(0.90, 0.879).passed
    assert drop_gate(0.80, 0.95).passed  # a better student never fails


def test_accuracy_drop_absolute_and_relative_must_both_hold():
    # relative limit 5% of 0.5 = 0.025 is looser than absolute 0.02: absolute decides
    assert not drop_gate(0.5, 0.477, absolute=0.02, relative=0.05).passed
    # relative 1% of 0.9 = 0.009 is tighter than absolute 0.02: relative decides
    result = drop_gate(0.9, 0.89, absolute=0.02, relative=0.01)
    assert not result.passed
    assert result.limit == pytest.approx(0.009) and result.source == "relative"


def test_accuracy_drop_with_teacher_at_zero():
    assert drop_gate(0.0, 0.0, absolute=None, relative=0.1).passed
    assert drop_gate(0.0, 0.3, absolute=None, relative=0.1).passed


def test_accuracy_drop_under_the_confident_rule_checks_the_upper_end():
    assert drop_gate(0.9, 0.89, ci=(0.0, 0.03)).passed
    strict = drop_gate(0.9, 0.89, ci=(0.0, 0.03), rule=gate_checks.Rule("confident"))
    assert not strict.passed and "CI upper bound" in strict.message


def test_label_distribution_catches_collapse():
    teacher = [0, 1, 1, 0, 1, 0, 0, 1]
    assert gate_checks.smallest_share_ratio(teacher, teacher, 2) == 1.0
    assert gate_checks.smallest_share_ratio(teacher, [1] * 8, 2) == 0.0
    assert "label 'neg' shrank most" in gate_checks.label_distribution_message(teacher, [1] * 8, ("neg", "pos"))
    assert "shrank" not in gate_checks.label_distribution_message(teacher, teacher, ("neg", "pos"))


def test_baseline_gate_says_how_to_update():
    tolerance = Threshold("baseline_tolerance", 0.01, "default")
    assert gate_checks.gate_baseline("label_loyalty", Value(0.95, 0.94, 0.96), 0.955, tolerance).passed
    failed = gate_checks.gate_baseline("label_loyalty", Value(0.93, 0.92, 0.94), 0.955, tolerance)
    assert not failed.passed and "--loyalty-update-baseline" in failed.message
    missing = gate_checks.gate_baseline("label_loyalty", Value(0.93), None, tolerance)
    assert not missing.passed and "missing" in missing.message


def test_warn_only_parsing():
    thresholds = resolve({"warn_only": "latency, label_distribution"}, {})
    assert warn_only_gates(thresholds) == {"latency", "label_distribution"}


@pytest.mark.parametrize("low, high", [(float("nan"), 0.99), (0.95, None), (None, None)])
@pytest.mark.parametrize(
    "rule", [gate_checks.Rule(), gate_checks.Rule("confident"), gate_checks.Rule("three-way", "pass")]
)
def test_a_missing_or_nan_bound_is_never_a_pass(low, high, rule):
    result = gate_checks.gate_metric("label_loyalty", Value(0.97, low, high), 0.90, "default", "at_least", rule)
    assert not result.passed and result.three_way != "PASS"
    assert "no confidence interval" in result.message


def test_a_gate_with_both_bounds_still_passes():
    result = gate_checks.gate_metric("label_loyalty", Value(0.97, 0.95, 0.99), 0.90, "default", "at_least")
    assert result.passed and result.three_way == "PASS"


@pytest.mark.parametrize("raw", ["", " ", "none", "None", "=", "null"])
@pytest.mark.parametrize("key", ["min_label_loyalty", "max_accuracy_drop", "min_speedup", "gate_on_lower_bound"])
def test_an_empty_threshold_is_refused_on_the_command_line_and_in_ini(key, raw):
    for cli, ini in (({key: raw}, {}), ({}, {key: raw})):
        with pytest.raises(LoyaltyError, match="is empty") as error:
            resolve(cli, ini)
        if key != "gate_on_lower_bound":
            gate = {
                "min_label_loyalty": "label_loyalty",
                "max_accuracy_drop": "accuracy_drop",
                "min_speedup": "latency",
            }[key]
            assert f"loyalty_warn_only = {gate}" in str(error.value) and f'-k "not {gate}"' in str(error.value)


def test_an_empty_marker_threshold_is_refused_too():
    with pytest.raises(LoyaltyError, match="is empty"):
        resolve({}, {}, {"min_label_loyalty": None})


def test_unset_ini_and_cli_keep_the_default_and_warn_only_may_be_empty():
    thresholds = resolve({"min_label_loyalty": None}, {"min_label_loyalty": None, "warn_only": ""})
    assert thresholds["min_label_loyalty"] == Threshold("min_label_loyalty", 0.9, "default")
    assert warn_only_gates(thresholds) == set()
    assert resolve({"min_label_loyalty": "0.5"}, {})["min_label_loyalty"].value == 0.5
