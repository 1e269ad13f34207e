"""report/model.py: the typed report. Its JSON round trip is exact, its verdict comes from the
gates' outcomes, and the terminal and Markdown renderers read it by attribute."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loyalty_tests.gates.result import GateResult, LatencyGateResult, RobustnessGateResult
from loyalty_tests.report import document as render
from loyalty_tests.report.model import GateEntry, Report, StudentEntry, build_report
from loyalty_tests.report.records import GateRecord

DEMO_REPORT = Path(__file__).parent / "fixtures" / "demo_report.json"


def result(name="label_loyalty", passed=True, **extra):
    return GateResult(name, passed, 0.95, 0.9, "default", f"{name} 0.950 >= 0.900 [default]", **extra)


def entry(outcome, name="label_loyalty", **extra):
    return GateEntry(result(name, outcome not in ("failed", "error", "missing"), **extra), outcome, f"t::{name}")


def report_of(*gates: GateEntry) -> Report:
    return Report(
        teacher="demo", seed=0, data={"name": "dev.csv", "n": 100}, students=(StudentEntry("int8", gates=gates),)
    )


def a_full_report() -> Report:
    """Every result type, measurements on both students, an LM part, thresholds and phases."""
    data = {"name": "dev.csv", "n": 100, "fingerprint": "abc"}
    metric = result(three_way="PASS", ci_low=0.93, ci_high=0.97, n=100, direction="at_least")
    latency = LatencyGateResult("latency", True, 1.9, 1.0, "ini", "speedup 1.90x", teacher_seconds=0.02)
    robustness = RobustnessGateResult("robustness", False, 0.2, 0.1, "cli", "drop", recipe="charswap")
    records = [
        GateRecord(
            "int8",
            metric,
            data,
            metrics={"label_loyalty": {"value": 0.95, "ci_low": 0.93, "ci_high": 0.97, "n": 100}},
            flips={"negative_flips": 3, "top_negative_flips": [["pos", "neg", 3]]},
            phases=({"phase": "predict", "model": "int8", "seconds": 0.5, "cached": False},),
            thresholds={"min_label_loyalty": {"value": 0.9, "source": "default"}},
            teacher_fingerprint="t",
            student_fingerprint="s",
        ),
        GateRecord("int8", latency, data, latency={"speedup": 1.9}, lm={"tokens": {"kl": 0.04}}),
        GateRecord("prune", robustness, data, robustness={"recipe": "charswap", "examples": 20}),
    ]
    # as the controller receives them: through their JSON form
    records = [GateRecord.from_json(record.to_json()) for record in records]
    items = {
        "s::test_label_loyalty[int8]": {
            "student": "int8",
            "gate": "label_loyalty",
            "outcome": "passed",
            "gates": [metric],
        },
        "s::test_latency[int8]": {"student": "int8", "gate": "latency", "outcome": "passed", "gates": [latency]},
        "s::test_robustness[prune]": {
            "student": "prune",
            "gate": "robustness",
            "outcome": "failed",
            "gates": [robustness],
        },
        "s::test_accuracy_drop[prune]": {
            "student": "prune",
            "gate": "accuracy_drop",
            "outcome": "error",
            "reason": "boom",
        },
    }
    return build_report("demo", records, items, seed=7)


def test_a_report_round_trips_through_its_json_exactly():
    report = a_full_report()
    again = Report.from_json(report.to_json())
    assert again == report
    assert again.to_json() == report.to_json()
    int8, prune = again.students
    assert type(int8.gates[1].result) is LatencyGateResult and int8.gates[1].result.teacher_seconds == 0.02
    assert type(prune.gates[1].result) is RobustnessGateResult and prune.gates[1].result.recipe == "charswap"
    assert int8.lm == {"tokens": {"kl": 0.04}} and prune.lm is None
    assert (
        "lm" in json.loads(report.to_json())["students"][0] and "lm" not in json.loads(report.to_json())["students"][1]
    )


def test_the_json_keeps_the_shape_earlier_versions_wrote():
    parsed = json.loads(a_full_report().to_json())
    assert list(parsed) == [
        "loyalty_tests_version", "created", "teacher", "teacher_fingerprint", "seed", "engine", "environment",
        "data", "thresholds", "phases", "students", "passed", "verdict",
    ]  # fmt: skip
    assert list(parsed["students"][1]) == [
        "spec", "fingerprint", "metrics", "latency", "robustness", "evidence", "batch_dependent", "gates", "flips",
    ]  # fmt: skip
    gate = parsed["students"][1]["gates"][0]
    assert (gate["kind"], gate["gate"], gate["outcome"], gate["item"]) == (
        "metric",
        "accuracy_drop",
        "error",
        "s::test_accuracy_drop[prune]",
    )
    assert (parsed["passed"], parsed["verdict"]) == (False, "FAILED")


def test_an_undefined_figure_is_written_as_null_and_read_back_as_none():
    report = report_of(GateEntry(result(three_way="PASS", ci_low=float("nan")), "passed", "t::x"))
    again = Report.from_json(report.to_json())
    assert again.students[0].gates[0].result.ci_low is None
    assert again == Report.from_json(again.to_json())


def test_the_demo_report_reads_back_with_its_stored_verdict():
    """A report an earlier version wrote (no ``kind`` per gate, no ``batch_dependent``) still reads."""
    stored = json.loads(DEMO_REPORT.read_text())
    report = Report.from_dict(stored)
    assert report.verdict == stored["verdict"] == "PASSED"
    assert [g.result.gate for g in report.students[0].gates] == [g["gate"] for g in stored["students"][0]["gates"]]
    assert report.students[0].metrics == stored["students"][0]["metrics"]
    assert Report.from_json(report.to_json()) == report


@pytest.mark.parametrize("outcome", ["failed", "error", "missing"])
def test_one_bad_gate_fails_the_verdict(outcome):
    report = report_of(entry("passed"), entry(outcome, "accuracy_drop"))
    assert (report.passed, report.verdict, report.verdict_reason) == (False, "FAILED", None)


@pytest.mark.parametrize("outcomes", [(), ("skipped",), ("skipped", "skipped")])
def test_no_gate_checked_is_a_failed_verdict_that_says_why(outcomes):
    report = report_of(*(entry(o, f"gate{i}") for i, o in enumerate(outcomes)))
    assert (report.passed, report.verdict, report.verdict_reason) == (False, "FAILED", "no gate was checked")
    assert render.render_terminal(report)[-1] == "gate verdict: FAILED (no gate was checked)"


def test_warned_and_skipped_gates_let_a_checked_run_pass():
    report = report_of(entry("passed"), entry("warned", "latency"), entry("skipped", "robustness"))
    assert (report.passed, report.verdict, report.verdict_reason) == (True, "PASSED", None)


def test_a_stored_verdict_that_disagrees_with_its_gates_is_refused():
    row = report_of(entry("failed")).to_dict()
    row["passed"], row["verdict"] = True, "PASSED"
    with pytest.raises(ValueError, match="stored verdict PASSED disagrees"):
        Report.from_dict(row)


def test_unknown_fields_and_outcomes_are_refused():
    with pytest.raises(ValueError, match="unknown gate outcome 'ok'"):
        entry("ok")
    row = report_of(entry("passed")).to_dict()
    row["students"][0]["colour"] = "red"
    with pytest.raises(ValueError, match=r"student 'int8' has unknown field\(s\) \['colour'\]"):
        Report.from_dict(row)


def test_the_terminal_reads_the_typed_gates():
    report = report_of(
        entry("passed"),
        GateEntry(
            GateResult("latency", False, 0.8, 1.0, "ini", "speedup 0.80x < 1.00x", warn_only=True), "warned", "t::l"
        ),
        GateEntry(GateResult("accuracy_drop", False, None, None, "", "accuracy_drop: boom"), "error", "t::a"),
    )
    lines = render.render_terminal(report)
    assert lines[0] == "teacher demo | data dev.csv (n=100) | seed 0"
    assert "PASS [int8] label_loyalty 0.950 >= 0.900 [default]" in lines
    assert "WARN [int8] speedup 0.80x < 1.00x" in lines and "ERROR [int8] accuracy_drop: boom" in lines
    row = next(line for line in lines if line.startswith("int8"))
    assert row.endswith("1 passed, 1 warned, 1 error (latency warned, accuracy_drop error)")
    assert lines[-1] == "gate verdict: FAILED"


def test_markdown_reads_the_typed_gates():
    gate = GateResult("label_loyalty", False, 0.85, 0.9, "ini", "label_loyalty 0.850 | below", three_way="FAIL")
    gate = GateResult(**{**gate.__dict__, "ci_low": 0.8, "ci_high": 0.88})
    markdown = render.render_markdown(report_of(GateEntry(gate, "failed", "t::x")))
    assert "## Loyalty gate: ❌ failed" in markdown
    assert (
        "| `int8` | label_loyalty | 0.850 [0.800–0.880] | 0.900 | FAIL | **fail** | label_loyalty 0.850 \\| below |"
        in (markdown)
    )
    assert "Verdict: **FAILED**" in markdown


def test_the_baseline_is_read_as_a_typed_report(tmp_path):
    from loyalty_tests.plugins.baseline import load_baseline

    student = StudentEntry("int8", metrics={"label_loyalty": {"value": 0.95}}, gates=(entry("passed"),))
    report = Report(teacher="demo", seed=0, data={"name": "dev.csv", "n": 100}, students=(student,))
    path = tmp_path / "base.json"
    path.write_text(report.to_json())
    assert load_baseline(path) == report
    edited = report.to_dict()
    edited["students"][0]["gates"][0]["outcome"] = "failed"  # the stored PASSED no longer follows
    path.write_text(json.dumps(edited))
    assert load_baseline(path) == "is malformed: the stored verdict PASSED disagrees with its gates' (FAILED)"
    edited["students"][0]["gates"] = [{"gate": "label_loyalty"}]
    path.write_text(json.dumps(edited))
    assert load_baseline(path).startswith("is malformed: a gate row must be an object with an 'outcome'")
