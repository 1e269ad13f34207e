"""A gate that cannot FAIL (or cannot PASS) with the data in hand says so: line, JSON row, verdict."""

from __future__ import annotations

import json

import numpy as np

from loyalty_tests.gates import checks as gate_checks
from loyalty_tests.metrics import MetricValue
from loyalty_tests.report.document import render_markdown, render_terminal
from loyalty_tests.report.model import GateEntry, Report, StudentEntry
from loyalty_tests.stats.sequential import sequential_decision

HOPELESS = (-1.0, 0.0, "the teacher keeps 0.0% accuracy under this attack")


def test_a_robustness_gate_whose_teacher_keeps_nothing_says_it_cannot_fail():
    result = gate_checks.gate_metric(
        "robustness",
        MetricValue(0.0, -0.1, 0.05, 75),
        0.10,
        "default",
        "at_most",
        reach=HOPELESS,
        name="robustness_drop",
    )
    assert result.passed and "cannot FAIL: the teacher keeps 0.0% accuracy under this attack" in result.message
    assert json.loads(json.dumps(result.to_row()))["cannot"].startswith("cannot FAIL")


def test_a_gate_that_can_go_either_way_says_nothing():
    result = gate_checks.gate_metric(
        "robustness",
        MetricValue(0.0, -0.1, 0.05, 75),
        0.10,
        "default",
        "at_most",
        reach=(-0.4, 0.6, "the teacher keeps 60.0% accuracy under this attack"),
    )
    assert result.cannot is None and "cannot" not in result.message


def test_too_few_examples_for_a_pass_outcome_say_so():
    small = gate_checks.gate_metric(
        "label_loyalty", MetricValue(1.0, 0.69, 1.0, 10), 0.90, "default", "at_least", feasible_kind="proportion"
    )
    assert small.cannot.startswith("cannot PASS (outcome): at n=10")
    large = gate_checks.gate_metric(
        "label_loyalty", MetricValue(1.0, 0.996, 1.0, 854), 0.90, "default", "at_least", feasible_kind="proportion"
    )
    assert large.cannot is None


def test_the_verdict_names_the_gates_that_could_not_fail():
    result = gate_checks.gate_metric(
        "robustness", MetricValue(0.0, -0.1, 0.05, 75), 0.10, "default", "at_most", reach=HOPELESS
    )
    student = StudentEntry("int8", gates=(GateEntry(result, "passed", "x"),))
    report = Report(teacher="t", seed=0, data={"name": "d", "n": 75}, students=(student,))
    verdict = next(line for line in render_terminal(report) if line.startswith("gate verdict"))
    assert verdict.startswith("gate verdict: PASSED (robustness [int8] cannot FAIL: the teacher keeps 0.0%")
    assert "measured" in render_terminal(report)[-2] and "cannot FAIL" in render_markdown(report)


def test_the_default_attack_size_can_pass_an_identical_student():
    from _pytest.config.argparsing import Parser

    from loyalty_tests.plugins.options import add_options

    parser = Parser()
    add_options(parser)
    assert parser.parse([]).loyalty_attack_examples == 100
    result = sequential_decision(np.zeros(100)[:75], 0.10, "at_most", block_size=25, max_n=100)
    assert result.decision.outcome == "PASS" and result.n_used == 75
    assert sequential_decision(np.zeros(50), 0.10, "at_most", block_size=25, max_n=50).decision.outcome != "PASS"
