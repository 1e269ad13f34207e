"""The ``loyalty_gate`` fixture: runs one gate for this test's student and records the outcome.

Each outcome goes into the test's ``user_properties`` (JUnit XML shows it, and pytest-xdist
carries it to the controller, which writes the reports), then the test fails with the gate's
line and the worst examples, or warns when the gate is warn-only.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from .. import gate_checks
from ..robustness import summary as robust
from ..loyalty_report import format_examples
from ..errors import LoyaltyError
from ..thresholds import warn_only_gates
from .fixtures import loyalty_session, marker_thresholds

ROW_PROPERTY = "loyalty_row"
BASELINE_METRICS = ("student_accuracy", "label_loyalty", "probability_loyalty")


class LoyaltyGateWarning(UserWarning):
    """A warn-only gate did not pass."""


class GateRunner:
    def __init__(self, request, spec: str):
        self.request = request
        self.spec = spec
        self.session = loyalty_session(request.config)
        try:
            self.report = self.session.loyalty_report(spec, marker_thresholds(request.node))
        except LoyaltyError as error:
            pytest.fail(str(error), pytrace=False)
        self.thresholds = self.report.thresholds
        self.warn_only = warn_only_gates(self.thresholds)
        self.lower_bound = bool(self.thresholds["gate_on_lower_bound"].value)

    def check(self, gate: str) -> gate_checks.GateResult:
        values, t, warn = self.report.metrics, self.thresholds, gate in self.warn_only
        if gate == "accuracy_drop":
            result = gate_checks.gate_accuracy_drop(values.get("teacher_accuracy"), values.get("student_accuracy"),
                                              values.get("accuracy_drop"), t["max_accuracy_drop"],
                                              t["max_accuracy_drop_relative"], lower_bound=self.lower_bound, warn_only=warn)
        elif gate in ("label_loyalty", "probability_loyalty"):
            result = gate_checks.gate_minimum(gate, values.get(gate), t["min_" + gate], lower_bound=self.lower_bound, warn_only=warn)
        elif gate == "label_distribution":
            result = gate_checks.gate_label_distribution(
                self.report.teacher_predictions.predicted_labels, self.report.student_predictions.predicted_labels,
                self.report.data.label_names, t["min_label_share_ratio"], warn_only=warn)
        else:
            raise LoyaltyError(f"unknown gate {gate!r}")
        return self.finish(result, examples=gate != "label_distribution")

    def check_latency(self, benchmark) -> gate_checks.GateResult:
        if getattr(benchmark, "disabled", False):
            pytest.skip("latency gate needs pytest-benchmark, which is off here (it turns itself off under "
                        "pytest-xdist -n and with --benchmark-disable); run the latency gate without -n")
        session = self.session
        latency = benchmark.pedantic(session.latency, args=(self.spec,), rounds=1, iterations=1)
        benchmark.extra_info.update(latency.to_row())
        result = gate_checks.gate_speedup(latency, self.thresholds["min_speedup"], warn_only="latency" in self.warn_only)
        return self.finish(result, examples=False, latency=latency.to_row())

    def check_robustness(self) -> gate_checks.GateResult:
        session = self.session
        try:
            comparison = session.robustness(self.spec)
            drop = robust.robustness_drop(comparison, n_resamples=self.request.config.getoption("loyalty_bootstrap"),
                                          seed=session.seed)
        except LoyaltyError as error:
            pytest.fail(str(error), pytrace=False)
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
        path = Path(self.request.config.getoption("loyalty_baseline"))
        update = self.request.config.getoption("loyalty_update_baseline")
        if update:
            pytest.skip(f"--loyalty-update-baseline: this run's report will be written to {path}")
        if not path.exists():
            pytest.fail(f"no baseline report at {path}; write one with --loyalty-baseline {path} "
                        "--loyalty-update-baseline", pytrace=False)
        students = {row["spec"]: row for row in json.loads(path.read_text()).get("students", [])}
        if self.spec not in students:
            pytest.fail(f"baseline {path} has no student {self.spec!r} (it has {sorted(students)}); "
                        "update it with --loyalty-update-baseline", pytrace=False)
        old = students[self.spec]["metrics"]
        warn = "baseline" in self.warn_only
        results = [gate_checks.gate_baseline(name, self.report.metrics[name].value,
                                       (old.get(name) or {}).get("value"), self.thresholds["baseline_tolerance"],
                                       warn_only=warn) for name in BASELINE_METRICS]
        failed = [r for r in results if not r.passed]
        for result in results:
            self._record(result)
        if failed:
            self._raise_or_warn(failed[0].warn_only, "\n".join(r.message for r in failed))
        return results

    def finish(self, result: gate_checks.GateResult, *, examples: bool, latency: dict | None = None) -> gate_checks.GateResult:
        self._record(result, latency)
        if not result.passed:
            message = result.message
            if examples:
                message += "\nworst disagreements:\n" + format_examples(self.report.worst_examples(5))
            self._raise_or_warn(result.warn_only, message)
        return result

    def _record(self, result: gate_checks.GateResult, latency: dict | None = None, robustness: dict | None = None) -> None:
        row = {"student": self.spec, "gate": result.to_row(), "metrics": self.report.metric_rows(),
               "latency": latency, "robustness": robustness, "data": {"name": self.report.data.name, "n": len(self.report.data),
                                            "fingerprint": self.report.data.fingerprint},
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
def loyalty_gate(request, student, loyalty_student_spec) -> GateRunner:
    """Runs the built-in gates for this test's student (used by ``loyalty_tests/suite``)."""
    return GateRunner(request, loyalty_student_spec)
