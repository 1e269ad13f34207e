"""Issue 17, item 3, end to end: the JSON report of a dynamic int8 student (per-batch activation
scales) is the same whatever --attack-in-flight and on the local and Ray engines, and it names the
student batch-dependent. Before the fix, an attack round batched several examples' texts together
and shared outputs between examples, so the int8 student's attack results followed the grouping
(mean queries 14.2 at --attack-in-flight 16 against 12.6 at 1 on this tiny BERT)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from tiny import save_tiny_bert, sensitive_bert

from conftest import NEGATIVE, POSITIVE, write_csv

VOLATILE = ("created", "phases", "engine")  # when it ran, how long each phase took, where


def comparable(path) -> dict:
    """The report without what says when, how long and where a run happened."""
    report = json.loads(path.read_text())
    for key in VOLATILE:
        report.pop(key)
    for student in report["students"]:
        for side in ("teacher", "student"):
            (student.get("robustness") or {}).get(side, {}).pop("seconds", None)  # attack wall time
    return report


@pytest.fixture
def project(pytester, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as a Ray replica runs: the same float arithmetic everywhere
    folder = save_tiny_bert(pytester.path / "teacher")
    sensitive_bert(0).save_pretrained(folder)  # outputs that attacks can flip
    long = "the film is a great and moving story about a family that finds its way home after a long winter"
    rows = [(t, "positive") for t in POSITIVE + [long, "good"]] + [
        (t, "negative") for t in NEGATIVE + ["a bad bad film"]
    ]
    write_csv(pytester.path / "dev.csv", rows * 2)
    return pytester


def run(project, name: str, *extra):
    args = [
        "--teacher",
        "./teacher",
        "--student",
        "int8",
        "--loyalty-data",
        "dev.csv",
        "--loyalty-batch-size",
        "4",
        "--loyalty-cache-dir",
        str(project.path / f"cache-{name}"),
        "-p",
        "no:cacheprovider",
        "--attack",
        "charswap",
        "--attack-examples",
        "20",
        "--attack-budget",
        "60",
        "--loyalty-seed",
        "3",
        "-k",
        "robustness",
        "--loyalty-json",
        f"{name}.json",
        *extra,
    ]
    result = project.runpytest_subprocess(*args, timeout=600)
    assert result.ret in (0, 1), result.stdout.str()[-3000:]
    assert "robustness" in result.stdout.str()
    return project.path / f"{name}.json"


def test_an_int8_students_report_is_the_same_for_any_grouping_and_engine(project):
    one_path = run(project, "one", "--attack-in-flight", "1")
    one = comparable(one_path)
    many = comparable(run(project, "many", "--attack-in-flight", "16"))
    [student] = one["students"]
    assert student["batch_dependent"].startswith("dynamic int8: activation scales are computed per batch")
    assert student["robustness"] is not None
    from loyalty_tests.report.document import render_markdown, render_terminal
    from loyalty_tests.report.model import Report

    note = f"batch-dependent [int8]: {student['batch_dependent']}"
    full = Report.from_json(one_path.read_text())
    assert note in render_terminal(full) and note in render_markdown(full)
    assert many == one
    if importlib.util.find_spec("ray") is not None:
        assert comparable(run(project, "ray", "--loyalty-engine", "ray")) == one
