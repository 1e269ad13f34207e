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

from .fixtures import failing, loyalty_session, marker_thresholds, student_label
from .items import ITEM_PROPERTY, NOT_APPLICABLE_PROPERTY, ROW_PROPERTY, is_gate_item

EVIDENCE_ATTACHED = pytest.StashKey[set]()  # students whose evidence a record already carries


class LoyaltyGateWarning(UserWarning):
    """A warn-only gate did not pass."""


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if is_gate_item(item):
        label = {"student": student_label(item), "gate": item.originalname.removeprefix("test_")}
        item.user_properties.append((ITEM_PROPERTY, json.dumps(label)))


class GateRunner:
    """One gate item's run: the gate's pure function (``loyalty_tests.gates``) on what the session
    measured, then the typed result recorded and turned into a pass, a failure or a warning.
    The gate machinery is imported here, when a gate actually runs, not when the plugin loads."""

    def __init__(self, request, teacher, student):
        from ..gates.registry import PREDICTION_GATES
        from ..gates.result import Rule
        from ..gates.thresholds import warn_only_gates

        self.request = request
        self.teacher, self.student = teacher, student
        self.label = student_label(request.node)
        self.session = loyalty_session(request.config)
        self.settings = self.session.settings
        self.thresholds = failing(lambda: self.session.thresholds(marker_thresholds(request.node)))
        self.warn_only = warn_only_gates(self.thresholds)
        self.rule = Rule.from_thresholds(self.thresholds)
        self._report = None
        gate = request.node.originalname.removeprefix("test_")
        from . import lm_session

        self.lm_run = failing(lambda: lm_session.pair_is_lm(teacher, student))
        reason = lm_session.skip_reason(gate, self.lm_run, teacher)
        if reason:
            request.node.user_properties.append((NOT_APPLICABLE_PROPERTY, reason))
            pytest.skip(reason)
        if gate in PREDICTION_GATES or gate == "baseline":
            _ = self.report  # computed in setup: a model that crashes makes the gate an ERROR, not a FAIL

    @property
    def report(self):
        """Both models' predictions and their metrics, computed only for a gate that reads them
        (``-k latency`` or ``-k robustness`` predicts nothing)."""
        if self._report is None:
            self._report = failing(
                lambda: self.session.loyalty_report(self.teacher, self.student, marker_thresholds(self.request.node))
            )
        return self._report

    def check(self, gate: str):
        """The gates computed from the two models' predictions on the data."""
        from ..comparison import format_examples
        from ..gates.prediction import failure_examples, prediction_gate

        result = prediction_gate(
            gate,
            self.report,
            self.thresholds,
            warn_only=gate in self.warn_only,
            n_resamples=self.settings.bootstrap,
            seed=self.session.seed,
        )

        def worst() -> str:
            title, rows = failure_examples(gate, self.report)
            return f"\nworst {title}:\n" + format_examples(rows) if rows else ""

        return self.finish(result, details=worst)

    def check_lm(self, gate: str):
        """A causal-LM gate: token loyalty on the corpus, or generation agreement."""
        from . import lm_session

        return lm_session.check_lm_gate(self, gate, failing)

    def check_latency(self, benchmark):
        from ..gates.registry import GATES

        if getattr(benchmark, "disabled", False):
            pytest.skip(
                "latency gate needs pytest-benchmark, which is off here (it turns itself off under "
                "pytest-xdist -n and with --benchmark-disable); run the latency gate without -n"
            )
        limit = self.thresholds["min_speedup"]
        latency = failing(lambda: self.session.latency(self.teacher, self.student, limit.value, self.rule))
        record_benchmark(benchmark, latency)
        result = GATES["latency"].check(
            latency,
            limit.value,
            limit.source,
            self.rule,
            warn_only="latency" in self.warn_only,
            block=self.settings.latency_rounds,
        )
        return self.finish(result, latency=latency.to_row())

    def check_robustness(self):
        from ..gates.registry import GATES
        from ..report import evidence
        from ..robustness import summary

        limit = self.thresholds["max_robustness_drop"]
        comparison, sequence, outcomes = failing(
            lambda: self.session.robustness(self.teacher, self.student, limit.value, self.rule)
        )
        result = failing(
            lambda: GATES["robustness"].check(
                comparison,
                limit.value,
                limit.source,
                self.rule,
                outcomes=outcomes,
                decision=sequence,
                block=self.settings.attack_block,
                warn_only="robustness" in self.warn_only,
            )
        )
        drop = summary.drop_from_differences(outcomes[1])
        if sequence is not None:
            drop = type(drop)(drop.value, result.ci_low, result.ci_high, drop.n)
        row = {**summary.robustness_row(comparison, drop), "stop_reason": result.stop_reason}
        row.update(
            sequence=evidence.sequence_evidence(sequence),
            label_names=list(comparison.label_names),
            student_adversarial=evidence.adversarial_evidence(comparison),
        )  # what the HTML page shows

        def fooled() -> str:
            examples = summary.student_only_fooled(comparison, 5)
            return (
                (
                    "\nadversarial examples that fool the student but not the teacher:\n"
                    + summary.format_adversarial(examples, comparison.label_names)
                )
                if examples
                else ""
            )

        return self.finish(result, details=fooled, robustness=row)

    def check_margin_drop(self):
        """The margin gate, read from the robustness gate's attack (the session attacks once)."""
        from ..gates.registry import GATES

        robustness = self.thresholds["max_robustness_drop"]
        comparison, _, _ = failing(
            lambda: self.session.robustness(self.teacher, self.student, robustness.value, self.rule)
        )
        limit = self.thresholds["max_margin_drop"]
        result = failing(
            lambda: GATES["margin_drop"].check(
                comparison, limit.value, limit.source, self.rule, warn_only="margin_drop" in self.warn_only
            )
        )
        return self.finish(result)

    def check_baseline(self) -> list:
        from .baseline import check_baseline

        run_students = {student_label(item) for item in self.request.session.items if is_gate_item(item)}
        results = check_baseline(
            self.settings,
            self.label,
            self.report,
            self.teacher,
            self.thresholds,
            self.rule,
            warn="baseline" in self.warn_only,
            run_students=sorted(run_students),
        )
        for result in results:
            self._record(result)
        bad = [r for r in results if not r.passed or r.warned]
        if bad:
            self._raise_or_warn(bad[0], "\n".join(r.message for r in bad), stacklevel=3)
        return results

    def finish(self, result, *, details=None, **measurements):
        """Record the outcome (with the gate's own measurement: latency, robustness); a failed (or
        warned) gate fails (or warns) with its line and what ``details()`` adds. ``details`` is
        called only then, so a passing gate sorts out no worst examples."""
        self._record(result, **measurements)
        if not result.passed or result.warned:
            self._raise_or_warn(result, result.message + (details() if details else ""), stacklevel=4)
        return result

    def _record(self, result, latency: dict | None = None, robustness: dict | None = None, lm: dict | None = None):
        from ..models.batching import batch_dependence
        from ..report.records import GateRecord

        report = self._report  # a gate that needed no predictions records none
        if self.lm_run and not hasattr(self.teacher, "task"):  # an LM run without a choice task reads a text corpus
            data_row = self.session.lm.corpus_row()
        else:
            data = self.session.data()
            data_row = {"name": data.name, "n": len(data), "fingerprint": data.fingerprint}
        record = GateRecord(
            student=self.label,
            result=result,
            data=data_row,
            lm=lm,
            student_name=self.student.name,
            student_fingerprint=self.student.fingerprint,
            teacher_name=self.teacher.name,
            teacher_fingerprint=self.teacher.fingerprint,
            metrics=report.metric_rows() if report else None,
            flips=report.flip_summary() if report else None,
            latency=latency,
            robustness=robustness,
            evidence=self._evidence(report),
            phases=tuple(self.session.phases),
            engine=self.session.engine_name,
            batch_dependent=batch_dependence(self.student),
            thresholds={k: {"value": v.value, "source": v.source} for k, v in self.thresholds.items()},
        )
        self.request.node.user_properties.append((ROW_PROPERTY, record.to_json()))
        # JUnit XML properties, read from the typed result
        self.request.node.user_properties.append((f"loyalty.{result.gate}", result.value))
        self.request.node.user_properties.append((f"loyalty.{result.gate}.three_way", result.three_way))

    def _evidence(self, report) -> dict | None:
        """What the HTML page draws (report/evidence.py), attached to this worker's first record per
        student only: the report keeps the first one, and JUnit XML need not repeat it per gate."""
        from ..report.evidence import prediction_evidence

        attached = self.request.config.stash.setdefault(EVIDENCE_ATTACHED, set())
        if report is None or self.label in attached:
            return None
        attached.add(self.label)
        return prediction_evidence(report)

    @staticmethod
    def _raise_or_warn(result, message: str, stacklevel: int) -> None:
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
    benchmark.extra_info.update(
        {key: value for key, value in latency.to_row().items() if key not in ("teacher_rounds", "student_rounds")}
    )
    benchmark.extra_info["teacher_rounds"] = list(latency.teacher_rounds)
    try:  # pytest-benchmark has no public call for handing it timings it did not take itself
        timings = benchmark._make_stats(1)
        for seconds in latency.student_rounds:
            timings.update(seconds)
        benchmark._mode = "loyalty latency gate (interleaved rounds)"
    except AttributeError:  # another pytest-benchmark: the numbers stay in extra_info
        benchmark.extra_info["student_rounds"] = list(latency.student_rounds)


@pytest.fixture
def loyalty_gate(request, loyalty_teacher_model, loyalty_student_model) -> GateRunner:
    """Runs the built-in gates for this test's student (used by ``loyalty_tests/suite``)."""
    return GateRunner(request, loyalty_teacher_model, loyalty_student_model)
