"""The ``loyalty_gate`` fixture: runs one gate for this test's student and records the outcome.

Each outcome goes into the test's ``user_properties`` (JUnit XML shows it, and pytest-xdist
carries it to the controller, which writes the reports), then the test fails with the gate's
line and the worst examples, or warns when the gate is warn-only. Every built-in gate item is
also labelled before it runs (``ITEM_PROPERTY``), so an item that errors or never finishes still
counts against the verdict.
"""

from __future__ import annotations

import json
import warnings

import pytest

from .. import gate_checks
from ..loyalty_report import format_examples
from ..robustness import summary as robust
from ..thresholds import warn_only_gates
from .baseline import check_baseline
from .fixtures import failing, loyalty_session, marker_thresholds, student_label

ROW_PROPERTY = "loyalty_row"
ITEM_PROPERTY = "loyalty_item"
SUITE_MODULE = "test_loyalty_gates.py"


class LoyaltyGateWarning(UserWarning):
    """A warn-only gate did not pass."""


def is_gate_item(item) -> bool:
    return item.path.name == SUITE_MODULE and item.path.parent.name == "suite"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if is_gate_item(item):
        label = {"student": student_label(item), "gate": item.originalname.removeprefix("test_")}
        item.user_properties.append((ITEM_PROPERTY, json.dumps(label)))


class GateRunner:
    def __init__(self, request, teacher, student):
        self.request = request
        self.teacher, self.student = teacher, student
        self.label = student_label(request.node)
        self.session = loyalty_session(request.config)
        self.report = failing(lambda: self.session.loyalty_report(teacher, student, marker_thresholds(request.node)))
        self.thresholds = self.report.thresholds
        self.warn_only = warn_only_gates(self.thresholds)
        self.lower_bound = self.thresholds["decision"].value == "confident"

    def check(self, gate: str) -> gate_checks.GateResult:
        values, t, warn = self.report.metrics, self.thresholds, gate in self.warn_only
        if gate == "accuracy_drop":
            result = gate_checks.gate_accuracy_drop(values.get("teacher_accuracy"), values.get("student_accuracy"),
                                                    values.get("accuracy_drop"), t["max_accuracy_drop"],
                                                    t["max_accuracy_drop_relative"], lower_bound=self.lower_bound,
                                                    warn_only=warn)
        elif gate in ("label_loyalty", "probability_loyalty"):
            result = gate_checks.gate_minimum(gate, values.get(gate), t["min_" + gate], lower_bound=self.lower_bound,
                                              warn_only=warn)
        elif gate == "label_distribution":
            result = gate_checks.gate_label_distribution(
                self.report.teacher_predictions.predicted_labels, self.report.student_predictions.predicted_labels,
                self.report.data.label_names, t["min_label_share_ratio"], warn_only=warn)
        else:
            raise ValueError(f"unknown gate {gate!r}")
        return self.finish(result, examples=gate != "label_distribution")

    def check_latency(self, benchmark) -> gate_checks.GateResult:
        if getattr(benchmark, "disabled", False):
            pytest.skip("latency gate needs pytest-benchmark, which is off here (it turns itself off under "
                        "pytest-xdist -n and with --benchmark-disable); run the latency gate without -n")
        latency = benchmark.pedantic(lambda: failing(lambda: self.session.latency(self.teacher, self.student)),
                                     rounds=1, iterations=1)
        benchmark.extra_info.update(latency.to_row())
        result = gate_checks.gate_speedup(latency, self.thresholds["min_speedup"], warn_only="latency" in self.warn_only)
        return self.finish(result, examples=False, latency=latency.to_row())

    def check_robustness(self) -> gate_checks.GateResult:
        comparison = failing(lambda: self.session.robustness(self.teacher, self.student))
        drop = failing(lambda: robust.robustness_drop(
            comparison, n_resamples=self.request.config.getoption("loyalty_bootstrap"), seed=self.session.seed))
        result = gate_checks.gate_robustness_drop(
            drop, comparison.teacher.accuracy_under_attack, comparison.student.accuracy_under_attack,
            comparison.teacher.config.recipe, self.thresholds["max_robustness_drop"], lower_bound=self.lower_bound,
            warn_only="robustness" in self.warn_only)
        self._record(result, robustness=robust.robustness_row(comparison, drop))
        if not result.passed:
            fooled = robust.student_only_fooled(comparison, 5)
            message = result.message
            if fooled:
                message += ("\nadversarial examples that fool the student but not the teacher:\n"
                            + robust.format_adversarial(fooled, self.report.data.label_names))
            self._raise_or_warn(result.warn_only, message)
        return result

    def check_baseline(self) -> list[gate_checks.GateResult]:
        results = check_baseline(self.request.config, self.label, self.report, self.teacher, self.thresholds,
                                 warn="baseline" in self.warn_only)
        for result in results:
            self._record(result)
        failed = [r for r in results if not r.passed]
        if failed:
            self._raise_or_warn(failed[0].warn_only, "\n".join(r.message for r in failed))
        return results

    def finish(self, result: gate_checks.GateResult, *, examples: bool, latency: dict | None = None):
        self._record(result, latency)
        if not result.passed:
            message = result.message
            if examples:
                message += "\nworst disagreements:\n" + format_examples(self.report.worst_examples(5))
            self._raise_or_warn(result.warn_only, message)
        return result

    def _record(self, result: gate_checks.GateResult, latency: dict | None = None, robustness: dict | None = None):
        data = self.report.data
        row = {"student": self.label, "student_name": self.student.name,
               "student_fingerprint": self.student.fingerprint, "teacher_fingerprint": self.teacher.fingerprint,
               "teacher_name": self.teacher.name, "gate": result.to_row(), "metrics": self.report.metric_rows(),
               "latency": latency, "robustness": robustness, "phases": list(self.session.phases),
               "data": {"name": data.name, "n": len(data), "fingerprint": data.fingerprint},
               "thresholds": {k: {"value": v.value, "source": v.source} for k, v in self.thresholds.items()}}
        self.request.node.user_properties.append((ROW_PROPERTY, json.dumps(row, default=float)))
        self.request.node.user_properties.append((f"loyalty.{result.gate}", result.value))

    @staticmethod
    def _raise_or_warn(warn_only: bool, message: str) -> None:
        if warn_only:
            warnings.warn(LoyaltyGateWarning(message), stacklevel=3)
        else:
            pytest.fail(message, pytrace=False)


@pytest.fixture
def loyalty_gate(request, loyalty_teacher_model, loyalty_student_model) -> GateRunner:
    """Runs the built-in gates for this test's student (used by ``loyalty_tests/suite``)."""
    return GateRunner(request, loyalty_teacher_model, loyalty_student_model)
