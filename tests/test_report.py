"""report.py: the verdict comes from every gate item's outcome; JSON, Markdown and terminal show it.

And loyalty_report.py: worst examples, negative flips and flip accounting on hand-made predictions.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from loyalty_tests.comparison import compare_predictions
from loyalty_tests.data import TextDataset
from loyalty_tests.gates.result import GateResult
from loyalty_tests.predictions import Predictions
from loyalty_tests.report import document as render
from loyalty_tests.report.records import GateRecord


def gate(name, passed=True, warn_only=False, message=None, three_way="PASS"):
    return GateResult(
        name,
        passed,
        0.95,
        0.9,
        "default",
        message or f"{name} 0.950 >= 0.900 [default]; outcome {three_way}",
        warn_only,
        three_way,
        ci_low=0.93,
        ci_high=0.97,
    )


def row(student, g):
    """A gate record as a worker sends it, through its JSON form (as the controller receives it)."""
    record = GateRecord(
        student=student,
        result=g,
        data={"name": "dev.csv", "n": 100, "fingerprint": "abc"},
        metrics={"label_loyalty": {"value": 0.95, "ci_low": 0.93, "ci_high": 0.97, "n": 100}},
        teacher_fingerprint="t",
        student_fingerprint="s",
        phases=({"phase": "predict", "model": student, "seconds": 0.01, "cached": True, "measured_seconds": 4.2},),
        flips={
            "negative_flips": 3,
            "positive_flips": 1,
            "n": 100,
            "negative_flip_rate": 0.03,
            "positive_flip_rate": 0.01,
            "negative_flip_share_of_errors": 0.25,
            "top_negative_flips": [["positive", "negative", 3]],
        },
    )
    assert GateRecord.from_json(record.to_json()) == record
    return GateRecord.from_json(record.to_json())


def item(student, name, outcome, gates=(), reason=None):
    return {"student": student, "gate": name, "outcome": outcome, "reason": reason, "gates": list(gates)}


def build(items, rows=()):
    return render.build_report("demo", list(rows), items, seed=0)


def test_all_passed_is_passed():
    g = gate("label_loyalty")
    report = build({"a": item("int8", "label_loyalty", "passed", [g])}, [row("int8", g)])
    assert report.passed and report.verdict == "PASSED"
    assert report.students[0].gates[0].outcome == "passed"


@pytest.mark.parametrize("outcome", ["failed", "error", "missing"])
def test_one_bad_item_fails_the_verdict(outcome):
    g = gate("label_loyalty")
    items = {
        "a": item("int8", "label_loyalty", "passed", [g]),
        "b": item("int8", "accuracy_drop", outcome, reason="RuntimeError: boom"),
    }
    report = build(items, [row("int8", g)])
    assert not report.passed and report.verdict == "FAILED"
    lines = render.render_terminal(report)
    mark = {"failed": "FAIL", "error": "ERROR", "missing": "MISSING"}[outcome]
    assert f"{mark} [int8] accuracy_drop: RuntimeError: boom" in lines
    assert lines[-1] == "gate verdict: FAILED"


def test_a_warned_gate_passes_and_says_so():
    g = gate("latency", passed=False, warn_only=True, three_way="FAIL")
    report = build({"a": item("int8", "latency", "warned", [g])}, [row("int8", g)])
    assert report.passed
    assert any(line.startswith("WARN [int8] latency") for line in render.render_terminal(report))


def test_nothing_checked_is_not_a_pass():
    report = build({"a": item("int8", "latency", "skipped", reason="latency gate needs pytest-benchmark")})
    assert not report.passed and report.verdict_reason == "no gate was checked"
    assert "gate verdict: FAILED (no gate was checked)" in render.render_terminal(report)


def test_json_has_no_nan_and_markdown_shows_outcomes_and_flips():
    g = gate("label_loyalty", three_way="INCONCLUSIVE")
    report = build({"a": item("int8", "label_loyalty", "passed", [g])}, [row("int8", g)])
    report.students[0].metrics["label_loyalty"]["ci_low"] = float("nan")
    parsed = json.loads(report.to_json())
    assert parsed["students"][0]["metrics"]["label_loyalty"]["ci_low"] is None
    markdown = render.render_markdown(report)
    assert "| `int8` | label_loyalty | 0.950 [0.930–0.970] | 0.900 | INCONCLUSIVE | pass |" in markdown
    assert "flips [int8] negative 3 (3.0% of 100), positive 1 (1.0%)" in markdown
    assert "Verdict: **PASSED**" in markdown


def test_phases_say_what_came_from_the_cache():
    g = gate("label_loyalty")
    report = build({"a": item("int8", "label_loyalty", "passed", [g])}, [row("int8", g)])
    assert render.phase_line(report.phases) == "time: predict 0.0 s (1 of 1 from the cache, measured int8 4.2 s)"


# -- loyalty_report ------------------------------------------------------------------------------


@pytest.fixture
def pair():
    data = TextDataset("hand", [f"t{i}" for i in range(5)], [0, 1, 1, 0, 1], ("neg", "pos"))
    teacher = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4], [0.4, 0.6]])
    student = np.array([[0.9, 0.1], [0.55, 0.45], [0.9, 0.1], [0.6, 0.4], [0.45, 0.55]])
    names = ("neg", "pos")
    return compare_predictions(
        data, Predictions("t", teacher, names, 0.0), Predictions("s", student, names, 0.0), n_resamples=50
    )


def test_worst_examples_put_disagreements_first(pair):
    assert [row["index"] for row in pair.worst_examples(3)] == [2, 1, 4]


def test_worst_negative_flips_are_the_students_most_confident_mistakes(pair):
    assert [row["index"] for row in pair.worst_negative_flips()] == [2, 1]  # p(gold) 0.1, then 0.45


def test_flip_summary(pair):
    summary = pair.flip_summary()
    assert (summary["negative_flips"], summary["positive_flips"], summary["n"]) == (2, 0, 5)
    assert summary["negative_flip_matrix"] == [[0, 0], [2, 0]]
    assert summary["top_negative_flips"] == [("pos", "neg", 2)]
    assert summary["negative_flip_rate"] == pytest.approx(0.4)


def test_an_attack_partly_from_the_cache_says_how_much():
    phases = [
        {
            "phase": "attack",
            "model": "int8",
            "seconds": 24.9,
            "cached": False,
            "examples": 75,
            "cached_examples": 50,
            "measured_at": "2026-11-29",
        }
    ]
    assert (
        render.phase_line(phases)
        == "time: attack 24.9 s (50 of 75 attacked examples from the cache, measured 2026-11-29)"
    )


def test_records_of_one_student_merge_into_one_entry():
    """Each gate item sends its own record; the report keeps one entry per student with the
    metrics of a prediction gate, the latency of the latency gate, each phase once, and every
    gate's typed result (with its kind) under that student."""
    from loyalty_tests.gates.result import LatencyGateResult

    prediction = row("int8", gate("label_loyalty"))
    timing = GateRecord(
        student="int8",
        result=LatencyGateResult(
            "latency", True, 1.9, 0.9, "default", "speedup 1.900", teacher_seconds=0.02, student_seconds=0.01
        ),
        data=prediction.data,
        latency={"speedup": 1.9},
        phases=prediction.phases,
        teacher_name="demo teacher",
    )
    other = row("prune", gate("label_loyalty", passed=False, three_way="FAIL"))
    items = {
        "a": item("int8", "label_loyalty", "passed", [prediction.result]),
        "b": item("int8", "latency", "passed", [timing.result]),
        "c": item("prune", "label_loyalty", "failed", [other.result]),
    }
    report = render.build_report(None, [prediction, timing, other], items, seed=3)
    int8, prune = report.students
    assert (int8.spec, prune.spec) == ("int8", "prune")
    assert int8.metrics == prediction.metrics and int8.latency == {"speedup": 1.9}
    assert [g.result.gate for g in int8.gates] == ["label_loyalty", "latency"]
    assert int8.gates[1].result == timing.result and int8.gates[1].result.student_seconds == 0.01
    assert int8.to_dict()["gates"][1]["kind"] == "latency"  # the JSON row names its result type
    assert report.phases == prediction.phases + other.phases  # int8's predict phase once
    assert report.teacher == "demo teacher" and report.seed == 3  # the first record naming a teacher
    assert report.verdict == "FAILED" and prune.gates[0].outcome == "failed"
