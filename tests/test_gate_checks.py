"""Gate logic and threshold precedence, without pytest or models."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from loyalty_tests import gate_checks
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.latency import LatencyResult
from loyalty_tests.thresholds import Threshold, resolve, warn_only_gates


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


@pytest.mark.parametrize("cli, ini, marker, message", [
    ({}, {}, {"min_label_loyality": 0.9}, "unknown loyalty threshold 'min_label_loyality'"),
    ({"min_label_loyalty": "high"}, {}, None, "must be a number"),
    ({}, {"gate_on_lower_bound": "perhaps"}, None, "true or false"),
    ({"max_accuracy_drop": "-0.1"}, {}, None, r"must lie in \[0, 1\]"),
    ({"min_label_loyalty": "1.5"}, {}, None, r"must lie in \[0, 1\], got .1\.5."),
    ({}, {"decision": "sometimes"}, None, "must be one of estimate, confident, three-way"),
])
def test_bad_thresholds_fail_closed(cli, ini, marker, message):
    with pytest.raises(LoyaltyError, match=message):
        resolve(cli, ini, marker)


def test_minimum_gate_is_inclusive_and_names_source():
    threshold = Threshold("min_label_loyalty", 0.97, "ini loyalty_min_label_loyalty")
    assert gate_checks.gate_minimum("label_loyalty", Value(0.97), threshold).passed
    failed = gate_checks.gate_minimum("label_loyalty", Value(0.962, 0.956, 0.967, 5000), threshold)
    assert not failed.passed
    assert failed.message == ("label_loyalty 0.962 (n=5000, 95% CI 0.956–0.967) < 0.970 "
                              "[ini loyalty_min_label_loyalty]")


def test_minimum_gate_on_lower_bound():
    threshold = Threshold("min_label_loyalty", 0.95, "default")
    value = Value(0.96, 0.94, 0.98)
    assert gate_checks.gate_minimum("label_loyalty", value, threshold).passed
    assert not gate_checks.gate_minimum("label_loyalty", value, threshold, lower_bound=True).passed


@pytest.mark.parametrize("metric", [None, Value(float("nan"))])
def test_missing_metric_fails(metric):
    result = gate_checks.gate_minimum("label_loyalty", metric, Threshold("min_label_loyalty", 0.9, "default"))
    assert not result.passed and "missing" in result.message


def drop_gate(teacher, student, absolute=0.02, relative=None, **kwargs):
    return gate_checks.gate_accuracy_drop(Value(teacher), Value(student), Value(teacher - student, *kwargs.pop("ci", (None, None))),
                                    Threshold("max_accuracy_drop", absolute, "default"),
                                    Threshold("max_accuracy_drop_relative", relative, "relative"), **kwargs)


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


def test_accuracy_drop_on_ci_upper_bound():
    assert drop_gate(0.9, 0.89).passed
    assert not drop_gate(0.9, 0.89, ci=(0.0, 0.03), lower_bound=True).passed


def test_label_distribution_catches_collapse():
    threshold = Threshold("min_label_share_ratio", 0.5, "default")
    teacher = [0, 1, 1, 0, 1, 0, 0, 1]
    assert gate_checks.gate_label_distribution(teacher, teacher, ("neg", "pos"), threshold).passed
    collapsed = gate_checks.gate_label_distribution(teacher, [1] * 8, ("neg", "pos"), threshold)
    assert not collapsed.passed and "'neg'" in collapsed.message


def test_speedup_gate():
    latency = LatencyResult(0.2, 0.1, 64, 5)
    assert latency.speedup == pytest.approx(2.0)
    assert gate_checks.gate_speedup(latency, Threshold("min_speedup", 1.9, "default")).passed
    assert not gate_checks.gate_speedup(latency, Threshold("min_speedup", 2.1, "default")).passed


def test_baseline_gate_says_how_to_update():
    tolerance = Threshold("baseline_tolerance", 0.01, "default")
    assert gate_checks.gate_baseline("label_loyalty", 0.95, 0.955, tolerance).passed
    failed = gate_checks.gate_baseline("label_loyalty", 0.93, 0.955, tolerance)
    assert not failed.passed and "--loyalty-update-baseline" in failed.message


def test_warn_only_parsing():
    thresholds = resolve({"warn_only": "latency, label_distribution"}, {})
    assert warn_only_gates(thresholds) == {"latency", "label_distribution"}
