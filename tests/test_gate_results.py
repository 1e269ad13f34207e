"""Gate results as units: every result type round-trips through JSON exactly; the latency and
robustness gates (pure functions the plugin and ``assert_*`` share) decide both ways; the
robustness sequence and its feasibility note; how an item's outcome and reason are rendered."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from loyalty_tests.engines.latency import LatencyResult
from loyalty_tests.gates import latency, robustness
from loyalty_tests.gates.checks import gate_baseline, gate_metric
from loyalty_tests.gates.registry import GATE_NAMES, GATES, PREDICTION_GATES
from loyalty_tests.gates.result import (
    RESULT_TYPES,
    GateResult,
    LatencyGateResult,
    RobustnessGateResult,
    Rule,
    result_from_json,
)
from loyalty_tests.gates.thresholds import Threshold
from loyalty_tests.metrics import MetricValue
from loyalty_tests.plugins.report_collector import ReportCollector, _reason
from loyalty_tests.report.document import gate_outcome


def timing(teacher_seconds, student_seconds, rounds=10):
    return LatencyResult(
        tuple([teacher_seconds] * rounds),
        tuple([student_seconds] * rounds),
        64,
        teacher_seconds / student_seconds,
        teacher_seconds / student_seconds * 0.95,
        teacher_seconds / student_seconds * 1.05,
        f"decided after {rounds} of 50 rounds",
    )


def attacked(teacher_statuses, student_statuses, recipe="charswap"):
    def result(statuses):
        examples = [NS(index=i, status=s) for i, s in enumerate(statuses)]
        survived = sum(s == "failed" for s in statuses) / len(statuses)
        return NS(examples=examples, config=NS(recipe=recipe), accuracy_under_attack=survived)

    return NS(teacher=result(teacher_statuses), student=result(student_statuses))


def robust_comparison(n=40, student_fooled=0):
    return attacked(["failed"] * n, ["succeeded"] * student_fooled + ["failed"] * (n - student_fooled))


def every_result_type():
    metric = gate_metric(
        "label_loyalty", MetricValue(0.93, 0.88, 0.97, 50), 0.9, "default", "at_least", Rule("three-way", "warn")
    )
    return [
        metric,
        gate_baseline(
            "label_loyalty", MetricValue(0.93, 0.92, 0.94, 500), 0.955, Threshold("baseline_tolerance", 0.01, "ini")
        ),
        gate_metric("accuracy_drop", None, 0.02, "default", "at_most"),  # missing metric
        latency.check(timing(0.012, 0.004), 0.9, "default"),
        robustness.check(robust_comparison(student_fooled=20), 0.1, "--max-robustness-drop", Rule("confident")),
    ]


@pytest.mark.parametrize("result", every_result_type(), ids=lambda r: f"{type(r).__name__}-{r.gate}")
def test_every_result_round_trips_through_json_exactly(result):
    again = result_from_json(result.to_json())
    assert again == result and type(again) is type(result)


def test_every_result_type_is_covered_and_unknown_kinds_refused():
    assert {type(r) for r in every_result_type()} == set(RESULT_TYPES.values())
    with pytest.raises(ValueError, match="unknown gate result kind 'speed'"):
        result_from_json('{"kind": "speed", "gate": "x"}')
    with pytest.raises(ValueError, match="has no field"):
        result_from_json(GateResult("x", True, 1.0, 1.0, "default", "m").to_json().replace('"n"', '"count"'))


def test_latency_gate_both_ways():
    fast = latency.check(timing(0.012, 0.004), 0.9, "default")
    slow = latency.check(timing(0.004, 0.012), 0.9, "default", warn_only=True)
    assert isinstance(fast, LatencyGateResult) and fast.passed and fast.value == pytest.approx(3.0)
    assert not slow.passed and slow.warn_only and slow.outcome_mark == "warned"
    assert "speedup 0.333" in slow.message and "teacher 4.0 ms, student 12.0 ms per batch of 64" in slow.message
    assert slow.student_seconds == pytest.approx(0.012) and slow.stop_reason == "decided after 10 of 50 rounds"


def test_robustness_gate_both_ways_and_reuses_given_outcomes():
    same = robustness.check(robust_comparison(student_fooled=0), 0.3, "default")
    worse = robustness.check(robust_comparison(student_fooled=20), 0.1, "default")
    assert isinstance(same, RobustnessGateResult) and same.passed and same.value == 0.0
    assert not worse.passed and worse.value == 0.5 and worse.recipe == "charswap"
    assert "accuracy under charswap attack: teacher 1.000, student 0.500" in worse.message
    assert worse.stop_reason == "attacked all 40 examples"
    given = (list(range(40)), np.zeros(40))  # the caller's paired outcomes win over the comparison
    assert robustness.check(robust_comparison(student_fooled=20), 0.1, "default", outcomes=given).value == 0.0


def test_robustness_sequence_decides_both_ways_in_attack_order():
    outcomes = ([3, 1, 2, 0], np.array([0.0, 1.0, 0.0, 0.0]))
    assert robustness.in_attack_order(outcomes, [1, 0, 9, 2, 3]) == [1.0, 0.0, 0.0, 0.0]  # 9: not attacked yet
    assert robustness.robustness_sequence([0.0] * 100, 0.1, Rule(), block=100, cap=100) is None  # one block: fixed-size
    assert robustness.robustness_sequence([0.0] * 50, None, Rule(), block=50, cap=100) is None  # nothing gated
    passed = robustness.robustness_sequence([0.0] * 100, 0.2, Rule(), block=50, cap=200)
    failed = robustness.robustness_sequence([1.0] * 100, 0.2, Rule(), block=50, cap=200)
    undecided = robustness.robustness_sequence([0.0] * 50, 0.05, Rule(), block=50, cap=200)
    assert passed.stopped and passed.decision.passed and passed.reason.startswith("decided PASS after")
    assert failed.stopped and not failed.decision.passed and failed.reason.startswith("decided FAIL after 50")
    assert not undecided.stopped and "attack another block" in undecided.reason
    gate = robustness.check(robust_comparison(n=100), 0.2, "default", decision=passed, block=50)
    assert gate.passed and gate.ci_high == passed.decision.high and passed.reason in gate.message


def test_robustness_feasibility_note():
    assert robustness.robustness_feasibility(None, 10, 5) is None
    assert robustness.robustness_feasibility(0.10, 1000, 100) is None  # enough examples for a PASS
    note = robustness.robustness_feasibility(0.10, 30, 25)
    assert note.startswith("with at most 30 attacked examples in blocks of 25, the robustness gate cannot reach")
    assert "raise --attack-examples to about" in note


def test_registry_is_the_one_list():
    assert GATE_NAMES[: len(PREDICTION_GATES)] == PREDICTION_GATES
    lm_gates = {"token_agreement", "mean_kl", "perplexity_ratio", "generation_agreement"}  # suite/test_lm_gates.py
    assert set(GATE_NAMES) - set(PREDICTION_GATES) - lm_gates == {"latency", "robustness", "margin_drop", "baseline"}
    assert {GATES[name].kind for name in lm_gates} == {"lm"}
    assert GATES["robustness"].collected_with == "attack" and GATES["baseline"].collected_with == "baseline"
    assert GATES["margin_drop"].collected_with == "attack"  # from the robustness gate's attack


@pytest.mark.parametrize(
    "item_outcome, passed, warn_only, expected",
    [
        ("passed", True, False, "passed"),
        ("passed", False, True, "warned"),
        ("passed", False, False, "failed"),
        ("failed", True, False, "passed"),
        ("failed", False, False, "failed"),
        ("error", True, False, "error"),
        ("skipped", True, False, "skipped"),
        ("missing", False, False, "missing"),
    ],
)
def test_gate_outcome_from_its_item(item_outcome, passed, warn_only, expected):
    assert gate_outcome(item_outcome, GateResult("g", passed, 1.0, 1.0, "default", "", warn_only)) == expected


def test_reason_lines():
    skipped = NS(skipped=True, longrepr=("file", 1, "Skipped: latency gate needs pytest-benchmark"))
    assert _reason(skipped) == "latency gate needs pytest-benchmark"
    failed = NS(
        skipped=False,
        longreprtext="def test():\n>   boom()\nE   RuntimeError: boom\nE   more",
        longrepr=None,
        outcome="failed",
    )
    assert _reason(failed) == "RuntimeError: boom"
    bare = NS(skipped=False, longreprtext="", longrepr=None, outcome="failed")
    assert _reason(bare) == "failed"


def test_item_outcome_of_a_call():
    warned = {"gates": [GateResult("latency", False, 0.5, 0.9, "default", "", warn_only=True)]}
    call = NS(failed=False, skipped=False, when="call")
    assert ReportCollector._outcome(call, warned) == "warned"
    assert ReportCollector._outcome(call, {"gates": []}) == "passed"
    assert ReportCollector._outcome(NS(failed=True, skipped=False, when="setup"), {"gates": []}) == "error"
    assert ReportCollector._outcome(NS(failed=False, skipped=False, when="teardown"), {"gates": []}) is None


def kl_report(student_probabilities):
    from loyalty_tests.comparison import compare_predictions
    from loyalty_tests.data import TextDataset
    from loyalty_tests.predictions import Predictions

    names = ("neg", "pos")
    teacher = np.array([[0.9, 0.1], [0.2, 0.8]] * 50)
    data = TextDataset("hand", [f"t{i}" for i in range(100)], [0, 1] * 50, names)
    return compare_predictions(
        data,
        Predictions("t", teacher, names, 0.0),
        Predictions("s", np.array(student_probabilities * 50), names, 0.0),
        n_resamples=200,
    )


def test_kl_gate_both_ways_and_only_with_its_threshold():
    from loyalty_tests.gates.prediction import prediction_gate
    from loyalty_tests.gates.thresholds import resolve
    from loyalty_tests.stats.power import normal_examples_for_power

    gated = resolve({"max_kl_divergence": "0.05"}, {})
    close = prediction_gate("kl_divergence", kl_report([[0.88, 0.12], [0.22, 0.78]]), gated)
    far = prediction_gate("kl_divergence", kl_report([[0.3, 0.7], [0.7, 0.3]]), gated)
    assert close.passed and close.value < 0.01 and close.three_way == "PASS"
    assert not far.passed and far.value > 0.5 and "kl(teacher||student)" in far.message and "> 0.050" in far.message
    assert GATES["kl_divergence"].collected_with == "threshold"
    assert resolve({}, {})["max_kl_divergence"].value is None  # not collected by default
    assert normal_examples_for_power(0.1, 0.1, 0.1, 50, 0.1) is None
