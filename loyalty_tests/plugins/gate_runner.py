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

from ..gates import checks as gate_checks
from .. import metrics
from ..stats import sample_size
from ..stats import speedup
from ..stats import intervals as stats
from ..gates.prediction import PREDICTION_GATES, failure_examples, prediction_gate
from ..stats.sequential import sequential_examples_to_decide
from ..comparison import format_examples
from ..robustness import summary as robust
from ..gates.thresholds import warn_only_gates
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
        self.thresholds = failing(lambda: self.session.thresholds(marker_thresholds(request.node)))
        self.warn_only = warn_only_gates(self.thresholds)
        self.rule = gate_checks.Rule.from_thresholds(self.thresholds)
        self._report = None
        gate = request.node.originalname.removeprefix("test_")
        if gate in PREDICTION_GATES or gate == "baseline":
            self.report  # computed in setup: a model that crashes makes the gate an ERROR, not a FAIL

    @property
    def report(self):
        """Both models' predictions and their metrics, computed only for a gate that reads them
        (``-k latency`` or ``-k robustness`` predicts nothing)."""
        if self._report is None:
            self._report = failing(lambda: self.session.loyalty_report(self.teacher, self.student,
                                                                        marker_thresholds(self.request.node)))
        return self._report

    def check(self, gate: str) -> gate_checks.GateResult:
        """The gates computed from the two models' predictions on the data."""
        result = prediction_gate(gate, self.report, self.thresholds, warn_only=gate in self.warn_only,
                                 n_resamples=self.request.config.getoption("loyalty_bootstrap"), seed=self.session.seed)

        def worst() -> str:
            title, rows = failure_examples(gate, self.report)
            return f"\nworst {title}:\n" + format_examples(rows) if rows else ""

        return self.finish(result, details=worst)

    def check_latency(self, benchmark) -> gate_checks.GateResult:
        if getattr(benchmark, "disabled", False):
            pytest.skip("latency gate needs pytest-benchmark, which is off here (it turns itself off under "
                        "pytest-xdist -n and with --benchmark-disable); run the latency gate without -n")
        limit = self.thresholds["min_speedup"]
        latency = failing(lambda: self.session.latency(self.teacher, self.student, limit.value, self.rule))
        record_benchmark(benchmark, latency)
        needed = speedup.rounds_to_decide(latency.teacher_rounds, latency.student_rounds, limit.value)
        detail = (f" (teacher {latency.teacher_seconds * 1e3:.1f} ms, student {latency.student_seconds * 1e3:.1f} ms "
                  f"per batch of {latency.batch_size}, median of {latency.rounds} interleaved rounds; "
                  f"{latency.stop_reason})")
        metric = metrics.MetricValue(latency.speedup, latency.ci_low, latency.ci_high, latency.rounds)
        result = gate_checks.gate_metric("latency", metric, limit.value, limit.source, stats.AT_LEAST, self.rule,
                                         warn_only="latency" in self.warn_only, needed=needed, unit="rounds",
                                         detail=detail, name="speedup")
        return self.finish(result, latency=latency.to_row())

    def check_robustness(self) -> gate_checks.GateResult:
        limit = self.thresholds["max_robustness_drop"]
        comparison, sequence = failing(lambda: self.session.robustness(self.teacher, self.student, limit.value,
                                                                       self.rule))
        drop = failing(lambda: robust.robustness_drop(comparison))
        stop, needed = "", None
        if sequence is not None:  # blocks: the confidence sequence's interval, valid whenever it stopped
            decision = sequence.decision
            drop = metrics.MetricValue(drop.value, decision.low, decision.high, drop.n)
            stop = f"; {sequence.reason}"
            needed = sequential_examples_to_decide(robust.paired_outcomes(comparison)[1], limit.value, stats.AT_MOST,
                                                   block_size=self.request.config.getoption("loyalty_attack_block"))
        elif limit.value is not None:
            b, c = robust.discordant_counts(comparison)
            needed = sample_size.paired_examples_to_decide(b, c, drop.n, limit.value)
        detail = (f" (accuracy under {comparison.teacher.config.recipe} attack: teacher "
                  f"{comparison.teacher.accuracy_under_attack:.3f}, student {comparison.student.accuracy_under_attack:.3f}"
                  f"{stop})")
        result = gate_checks.gate_metric("robustness", drop, limit.value, limit.source, stats.AT_MOST, self.rule,
                                         warn_only="robustness" in self.warn_only, needed=needed,
                                         unit="attacked examples", detail=detail, name="robustness_drop")
        row = robust.robustness_row(comparison, drop)
        row["stop_reason"] = sequence.reason if sequence is not None else f"attacked all {drop.n} examples"

        def fooled() -> str:
            examples = robust.student_only_fooled(comparison, 5)
            return ("\nadversarial examples that fool the student but not the teacher:\n"
                    + robust.format_adversarial(examples, comparison.label_names)) if examples else ""

        return self.finish(result, details=fooled, robustness=row)

    def check_baseline(self) -> list[gate_checks.GateResult]:
        run_students = {student_label(item) for item in self.request.session.items if is_gate_item(item)}
        results = check_baseline(self.request.config, self.label, self.report, self.teacher, self.thresholds,
                                 self.rule, warn="baseline" in self.warn_only, run_students=sorted(run_students))
        for result in results:
            self._record(result)
        bad = [r for r in results if not r.passed or r.warned]
        if bad:
            self._raise_or_warn(bad[0], "\n".join(r.message for r in bad), stacklevel=3)
        return results

    def finish(self, result: gate_checks.GateResult, *, details=None, **rows):
        """Record the outcome (with the gate's own ``rows``: latency, robustness); a failed (or
        warned) gate fails (or warns) with its line and what ``details()`` adds. ``details`` is
        called only then, so a passing gate sorts out no worst examples."""
        self._record(result, **rows)
        if not result.passed or result.warned:
            self._raise_or_warn(result, result.message + (details() if details else ""), stacklevel=4)
        return result

    def _record(self, result: gate_checks.GateResult, latency: dict | None = None, robustness: dict | None = None):
        data, report = self.session.data(), self._report  # a gate that needed no predictions records none
        row = {"student": self.label, "student_name": self.student.name,
               "student_fingerprint": self.student.fingerprint, "teacher_fingerprint": self.teacher.fingerprint,
               "teacher_name": self.teacher.name, "gate": result.to_row(),
               "metrics": report.metric_rows() if report else None,
               "flips": report.flip_summary() if report else None, "latency": latency, "robustness": robustness,
               "phases": list(self.session.phases), "engine": self.session.engine_name,
               "data": {"name": data.name, "n": len(data), "fingerprint": data.fingerprint},
               "thresholds": {k: {"value": v.value, "source": v.source} for k, v in self.thresholds.items()}}
        self.request.node.user_properties.append((ROW_PROPERTY, json.dumps(row, default=float)))
        self.request.node.user_properties.append((f"loyalty.{result.gate}", result.value))
        self.request.node.user_properties.append((f"loyalty.{result.gate}.three_way", result.three_way))

    @staticmethod
    def _raise_or_warn(result: gate_checks.GateResult, message: str, stacklevel: int) -> None:
        """A failed gate fails its test; a warn-only one, or one passed with inconclusive = warn,
        warns from the gate's test line (``stacklevel`` frames up)."""
        if result.passed or result.warn_only:
            warnings.warn(LoyaltyGateWarning(message), stacklevel=stacklevel)
        else:
            pytest.fail(message, pytrace=False)


def record_benchmark(benchmark, latency) -> None:
    """pytest-benchmark's record of this test holds exactly what the gate measured: the student's
    per-round times from the interleaved rounds (the teacher's, the speedup and its CI in
    extra_info), not a separate timing of something else."""
    benchmark.extra_info.update({key: value for key, value in latency.to_row().items()
                                 if key not in ("teacher_rounds", "student_rounds")})
    benchmark.extra_info["teacher_rounds"] = list(latency.teacher_rounds)
    try:  # pytest-benchmark has no public call for handing it timings it did not take itself
        stats = benchmark._make_stats(1)
        for seconds in latency.student_rounds:
            stats.update(seconds)
        benchmark._mode = "loyalty latency gate (interleaved rounds)"
    except AttributeError:  # another pytest-benchmark: the numbers stay in extra_info
        benchmark.extra_info["student_rounds"] = list(latency.student_rounds)


@pytest.fixture
def loyalty_gate(request, loyalty_teacher_model, loyalty_student_model) -> GateRunner:
    """Runs the built-in gates for this test's student (used by ``loyalty_tests/suite``)."""
    return GateRunner(request, loyalty_teacher_model, loyalty_student_model)
