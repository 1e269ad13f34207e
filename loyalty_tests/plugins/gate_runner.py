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

from .. import gate_checks, metrics, sample_size, speedup, stats
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
        self.rule = gate_checks.Rule.from_thresholds(self.thresholds)

    def check(self, gate: str) -> gate_checks.GateResult:
        """The gates computed from the two models' predictions on the data."""
        m, t, report = self.report.metrics, self.thresholds, self.report
        common = dict(rule=self.rule, warn_only=gate in self.warn_only)
        b, c = int(m["correct_to_wrong"].value), int(m["wrong_to_correct"].value)
        n = len(report.data)
        examples = report.worst_examples
        if gate == "accuracy_drop":
            teacher_accuracy, student_accuracy = m["teacher_accuracy"].value, m["student_accuracy"].value
            limit, source = gate_checks.accuracy_drop_limit(teacher_accuracy, t["max_accuracy_drop"],
                                                            t["max_accuracy_drop_relative"])
            needed = sample_size.paired_examples_to_decide(b, c, n, limit) if limit is not None else None
            result = gate_checks.gate_metric(gate, m["accuracy_drop"], limit, source, stats.AT_MOST, needed=needed,
                                             detail=f" (teacher {teacher_accuracy:.3f}, student {student_accuracy:.3f})",
                                             **common)
        elif gate == "label_loyalty":
            limit = t["min_label_loyalty"]
            agree = round(m["label_loyalty"].value * n)
            needed = sample_size.proportion_examples_to_decide(agree, n, limit.value) if limit.value is not None else None
            result = gate_checks.gate_metric(gate, m[gate], limit.value, limit.source, stats.AT_LEAST, needed=needed,
                                             **common)
        elif gate == "probability_loyalty":
            limit = t["min_probability_loyalty"]
            values = metrics.per_example_probability_loyalty(report.teacher_predictions.probabilities,
                                                             report.student_predictions.probabilities)
            needed = sample_size.bounded_mean_examples_to_decide(values, limit.value) if limit.value is not None else None
            result = gate_checks.gate_metric(gate, m[gate], limit.value, limit.source, stats.AT_LEAST, needed=needed,
                                             **common)
        elif gate == "negative_flip_rate":
            limit = t["max_negative_flip_rate"]
            needed = (sample_size.proportion_examples_to_decide(b, n, limit.value, stats.AT_MOST)
                      if limit.value is not None else None)
            result = gate_checks.gate_metric(gate, m[gate], limit.value, limit.source, stats.AT_MOST, needed=needed,
                                             detail=f" ({b} negative, {c} positive flips)", **common)
            examples = report.worst_negative_flips
        elif gate == "label_distribution":
            result = self._label_distribution(common)
            examples = None
        else:
            raise ValueError(f"unknown gate {gate!r}")
        return self.finish(result, examples=examples)

    def _label_distribution(self, common) -> gate_checks.GateResult:
        """Collapse: the smallest student/teacher share ratio over labels, with a bootstrap CI."""
        teacher = self.report.teacher_predictions.predicted_labels
        student = self.report.student_predictions.predicted_labels
        names = self.report.label_names  # the data's labels and any extra the models have
        ratio = gate_checks.smallest_share_ratio(teacher, student, len(names))

        def statistic(t, s):  # a resample where the teacher predicts one label only still has a ratio
            return gate_checks.smallest_share_ratio(t, s, len(names))

        low, high = metrics.bootstrap_ci(statistic, teacher, student,
                                         n_resamples=self.request.config.getoption("loyalty_bootstrap"),
                                         seed=self.session.seed)
        limit = self.thresholds["min_label_share_ratio"]
        return gate_checks.gate_metric("label_distribution", metrics.MetricValue(ratio, low, high, len(teacher)),
                                       limit.value, limit.source, stats.AT_LEAST, name="smallest share ratio",
                                       detail=gate_checks.label_distribution_message(teacher, student, names), **common)

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
        comparison = failing(lambda: self.session.robustness(self.teacher, self.student))
        drop = failing(lambda: robust.robustness_drop(comparison))
        limit = self.thresholds["max_robustness_drop"]
        b, c = robust.discordant_counts(comparison)
        needed = sample_size.paired_examples_to_decide(b, c, drop.n, limit.value) if limit.value is not None else None
        detail = (f" (accuracy under {comparison.teacher.config.recipe} attack: teacher "
                  f"{comparison.teacher.accuracy_under_attack:.3f}, student {comparison.student.accuracy_under_attack:.3f})")
        result = gate_checks.gate_metric("robustness", drop, limit.value, limit.source, stats.AT_MOST, self.rule,
                                         warn_only="robustness" in self.warn_only, needed=needed,
                                         unit="attacked examples", detail=detail, name="robustness_drop")
        self._record(result, robustness=robust.robustness_row(comparison, drop))
        if not result.passed or result.warned:
            fooled = robust.student_only_fooled(comparison, 5)
            message = result.message
            if fooled:
                message += ("\nadversarial examples that fool the student but not the teacher:\n"
                            + robust.format_adversarial(fooled, self.report.label_names))
            self._raise_or_warn(result, message)
        return result

    def check_baseline(self) -> list[gate_checks.GateResult]:
        results = check_baseline(self.request.config, self.label, self.report, self.teacher, self.thresholds,
                                 self.rule, warn="baseline" in self.warn_only)
        for result in results:
            self._record(result)
        bad = [r for r in results if not r.passed or r.warned]
        if bad:
            self._raise_or_warn(bad[0], "\n".join(r.message for r in bad))
        return results

    def finish(self, result: gate_checks.GateResult, *, examples=None, latency: dict | None = None):
        self._record(result, latency)
        if not result.passed or result.warned:
            message = result.message
            rows = examples(5) if examples is not None else []
            if rows:
                title = "negative flips" if examples == self.report.worst_negative_flips else "disagreements"
                message += f"\nworst {title}:\n" + format_examples(rows)
            self._raise_or_warn(result, message)
        return result

    def _record(self, result: gate_checks.GateResult, latency: dict | None = None, robustness: dict | None = None):
        data = self.report.data
        row = {"student": self.label, "student_name": self.student.name,
               "student_fingerprint": self.student.fingerprint, "teacher_fingerprint": self.teacher.fingerprint,
               "teacher_name": self.teacher.name, "gate": result.to_row(), "metrics": self.report.metric_rows(),
               "flips": self.report.flip_summary(), "latency": latency, "robustness": robustness,
               "phases": list(self.session.phases),
               "data": {"name": data.name, "n": len(data), "fingerprint": data.fingerprint},
               "thresholds": {k: {"value": v.value, "source": v.source} for k, v in self.thresholds.items()}}
        self.request.node.user_properties.append((ROW_PROPERTY, json.dumps(row, default=float)))
        self.request.node.user_properties.append((f"loyalty.{result.gate}", result.value))
        self.request.node.user_properties.append((f"loyalty.{result.gate}.three_way", result.three_way))

    @staticmethod
    def _raise_or_warn(result: gate_checks.GateResult, message: str) -> None:
        """A failed gate fails its test; a warn-only one, or one passed with inconclusive = warn, warns."""
        if result.passed or result.warn_only:
            warnings.warn(LoyaltyGateWarning(message), stacklevel=3)
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
