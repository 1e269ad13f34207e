"""The plugin fails closed (issue 7): bad options stop pytest before model work, both spellings of
an option read the same ini file, a crashed or missing gate makes the verdict FAILED in every
report, and a baseline from other data or another teacher is refused, never compared."""

from __future__ import annotations

import json

import pytest
from tiny import save_tiny_bert

from conftest import NEGATIVE, POSITIVE, write_csv

TOY = """
import os

import numpy as np


class Fixed:
    label_names = ("negative", "positive")

    def __init__(self, name, flip=False, crash=False):
        self.name, self.flip, self.crash = name, flip, crash
        self.fingerprint = f"toy-{name}" + ("-flipped" if flip else "")

    def predict_proba(self, texts, text_pairs=None):
        if self.crash:
            raise RuntimeError("the student's server is down")
        good = np.array(["good" in t or "great" in t for t in texts], dtype=float)
        if self.flip:
            good = 1 - good
        return np.stack([0.9 - 0.8 * good, 0.1 + 0.8 * good], axis=1)


def teacher():
    return Fixed("teacher")


def twin():
    return Fixed("twin", flip=os.environ.get("TWIN_FLIP") == "1")  # a later release gone wrong


def crasher():
    return Fixed("crasher", crash=True)
"""


@pytest.fixture
def toy(pytester, monkeypatch):
    pytester.makepyfile(toy_models=TOY)
    pytester.syspathinsert()
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows * 2)
    write_csv(pytester.path / "other.csv", rows)
    return pytester


def toy_args(pytester, student="toy_models:twin", *extra):
    return [
        "--teacher",
        "toy_models:teacher",
        "--student",
        student,
        "--loyalty-data",
        "dev.csv",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
        "-p",
        "no:cacheprovider",
        "-k",
        "not latency",
        *extra,
    ]


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--loyalty-batch-size", "-1", "must be a whole number >= 1, got '-1'"),
        ("--loyalty-batch-size", "0", "must be a whole number >= 1"),
        ("--loyalty-max-length", "1", "must be a whole number >= 2"),
        ("--loyalty-latency-rounds", "0", "must be a whole number >= 2"),
        ("--loyalty-latency-max-rounds", "1", "must be a whole number >= 2"),
        ("--loyalty-latency-examples", "0", "must be a whole number >= 1"),
        ("--loyalty-bootstrap", "5", "must be a whole number >= 100"),
        ("--loyalty-limit", "0", "must be a whole number >= 1"),
        ("--attack-examples", "0", "must be a whole number >= 1"),
        ("--attack-budget", "many", "must be a whole number >= 1, got 'many'"),
        ("--loyalty-device", "gpu", "must be cpu, cuda, cuda:N or mps"),
    ],
)
def test_bad_numbers_stop_pytest_before_any_model_work(toy, option, value, message):
    result = toy.runpytest(*toy_args(toy), option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{option}*{message}*"])
    assert not (toy.path / "cache").exists()  # nothing was predicted, nothing cached


@pytest.mark.parametrize(
    "option, value, message",
    [
        ("--loyalty-min-label-loyalty", "1.5", "must lie in [[]0, 1[]], got '1.5'"),
        ("--loyalty-max-accuracy-drop", "-0.1", "must lie in [[]0, 1[]]"),
        ("--loyalty-min-speedup", "0", "must lie in [[]1e-06, 1e+06[]]"),
        ("--loyalty-decision", "three_way", "must be one of estimate, confident, three-way*did you mean three-way?"),
        ("--loyalty-warn-only", "latncy", "unknown gate 'latncy' (did you mean latency?)"),
        ("--loyalty-ray-address", "auto", "--loyalty-ray-address needs --loyalty-engine ray"),
        ("--loyalty-min-label-loyalty", " ", 'is empty*loyalty_warn_only = label_loyalty*-k "not label_loyalty"*'),
        ("--loyalty-max-accuracy-drop", "", "is empty*"),
        ("--loyalty-max-accuracy-drop", "=", "is empty*"),
    ],
)
def test_thresholds_outside_their_range_are_refused(toy, option, value, message):
    result = toy.runpytest(*toy_args(toy), option, value)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_help_works_and_shows_every_option(pytester):
    result = pytester.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*--teacher=SPEC*",
            "*--loyalty-batch-size=N*",
            "*--loyalty-max-accuracy-drop-relative=X*",
            "*3 percent*",
            "*--loyalty-decision=estimate|confident|three-way*",
        ]
    )
    assert pytester.runpytest("-h").ret == 0


@pytest.mark.parametrize("form", ["space", "equals"])
def test_both_spellings_read_the_project_ini(pytester, tmp_path_factory, form):
    outside = tmp_path_factory.mktemp("models-outside-the-project")
    teacher, student = save_tiny_bert(outside / "t"), save_tiny_bert(outside / "s")
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nloyalty_min_probability_loyalty = 0.95\n")
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows)
    specs = (
        ["--teacher", str(teacher), "--student", str(student)]
        if form == "space"
        else [f"--teacher={teacher}", f"--student={student}"]
    )
    result = pytester.runpytest(*specs, "--loyalty-data", "dev.csv", "--collect-only", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(
        [
            "*loyalty threshold min_probability_loyalty = 0.95 [[]ini loyalty_min_probability_loyalty[]]*",
            "configfile: pyproject.toml",
        ]
    )


@pytest.mark.parametrize("value", ['""', '"none"', '" "'])
def test_an_empty_ini_threshold_is_refused_not_read_as_the_default(toy, value):
    toy.makepyprojecttoml(f"[tool.pytest.ini_options]\nloyalty_min_label_loyalty = {value}\n")
    result = toy.runpytest(*toy_args(toy))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*min_label_loyalty (ini loyalty_min_label_loyalty) is empty*loyalty_warn_only*"])


def test_the_unknown_key_check_runs_in_the_space_form_too(pytester, tmp_path_factory):
    outside = tmp_path_factory.mktemp("models")
    teacher = save_tiny_bert(outside / "t")
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nloyalty_min_probabilty_loyalty = 0.95\n")
    result = pytester.runpytest("--teacher", str(teacher), "--student", str(teacher), "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown ini key(s) loyalty_min_probabilty_loyalty*"])


def test_a_crashing_student_reads_as_error_everywhere(toy):
    result = toy.runpytest(
        *toy_args(toy, "toy_models:crasher", "--loyalty-json", "r.json", "--loyalty-markdown", "r.md")
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*ERROR [[]toy_models:crasher[]] accuracy_drop: "
            "model 'toy_models:crasher' raised RuntimeError*server is down*",
            "gate verdict: FAILED*",
        ]
    )
    report = json.loads((toy.path / "r.json").read_text())
    assert report["passed"] is False and report["verdict"] == "FAILED"
    assert {g["outcome"] for s in report["students"] for g in s["gates"]} == {"error"}
    assert "❌ failed" in (toy.path / "r.md").read_text() and "**error**" in (toy.path / "r.md").read_text()


def test_a_gate_that_crashes_mid_check_fails_the_verdict(toy):
    toy.makeconftest("""
        import pytest

        def broken(*args, **kwargs):
            raise ZeroDivisionError("a bug in a gate")

        @pytest.fixture(autouse=True)
        def break_a_gate(monkeypatch):  # undone after each test: pytester runs in this process
            monkeypatch.setattr("loyalty_tests.gates.checks.smallest_share_ratio", broken)
    """)
    result = toy.runpytest(*toy_args(toy, "toy_models:twin", "--loyalty-json", "r.json"))
    report = json.loads((toy.path / "r.json").read_text())
    outcomes = {g["gate"]: g["outcome"] for g in report["students"][0]["gates"]}
    assert outcomes["label_distribution"] == "failed" and outcomes["label_loyalty"] == "passed"
    assert report["verdict"] == "FAILED" and result.ret == 1
    result.stdout.fnmatch_lines(["*FAIL [[]toy_models:twin[]]*ZeroDivisionError*a bug in a gate*"])


def test_gates_that_never_ran_are_missing_not_passed(toy):
    toy.makeconftest("""
        import pytest

        def broken(*args, **kwargs):
            raise ZeroDivisionError("first gate breaks")

        @pytest.fixture(autouse=True)
        def break_a_gate(monkeypatch):
            monkeypatch.setattr("loyalty_tests.gates.checks.accuracy_drop_limit", broken)
    """)
    result = toy.runpytest(*toy_args(toy, "toy_models:twin", "-x", "--loyalty-json", "r.json"))
    report = json.loads((toy.path / "r.json").read_text())
    outcomes = sorted(g["outcome"] for g in report["students"][0]["gates"])
    # the LM gates run last and, stopped by -x, never learn the pair is no LM: missing, not passed
    assert outcomes == ["failed"] + ["missing"] * 8
    assert report["verdict"] == "FAILED" and result.ret == 1


def test_no_gate_checked_is_not_a_pass(toy):
    result = toy.runpytest(*toy_args(toy)[:-2], "-k", "latency", "--benchmark-disable", "--loyalty-json", "r.json")
    result.assert_outcomes(skipped=1, deselected=13)
    assert result.ret == 1
    result.stdout.fnmatch_lines(["gate verdict: FAILED (no gate was checked)"])


def write_baseline(toy, *extra):
    result = toy.runpytest(
        *toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "--loyalty-update-baseline", *extra)
    )
    assert result.ret == 0, result.stdout.str()


def test_a_baseline_from_other_data_is_not_comparable(toy):
    write_baseline(toy, "--loyalty-data", "other.csv")
    result = toy.runpytest(*toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "-k", "baseline"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*not comparable: made on other data ('other.csv', n=12, fingerprint *) than this "
            "run ('dev.csv', n=24, fingerprint *)*--loyalty-update-baseline*"
        ]
    )


def test_a_baseline_from_another_teacher_is_not_comparable(toy):
    write_baseline(toy)
    toy.makepyfile(other_teacher="from toy_models import Fixed\n\ndef teacher():\n    return Fixed('another')\n")
    args = toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "-k", "baseline")
    args[1] = "other_teacher:teacher"
    result = toy.runpytest(*args)
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*not comparable: made with another teacher (baseline teacher fingerprint toy-teacher, "
            "this run's toy-another)*"
        ]
    )


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "cannot be read as a JSON report (JSONDecodeError"),
        ("[1, 2]", "is not a loyalty gate report (no 'students' list)"),
        ("", "cannot be read as a JSON report"),
    ],
)
def test_a_corrupt_baseline_is_a_clear_failure(toy, content, message):
    (toy.path / "base.json").write_text(content)
    result = toy.runpytest(*toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "-k", "baseline"))
    assert result.ret == 1
    result.stdout.fnmatch_lines([f"*base.json: {message}*"])
    assert "Traceback" not in result.stdout.str()


def test_the_same_baseline_passes_and_a_worse_student_fails(toy, monkeypatch):
    write_baseline(toy)
    again = toy.runpytest(*toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "-k", "baseline"))
    again.assert_outcomes(passed=1, deselected=13)
    monkeypatch.setenv("TWIN_FLIP", "1")  # same spec, same data, same teacher: a student that got worse
    worse = toy.runpytest(*toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "-k", "baseline"))
    assert worse.ret == 1
    worse.stdout.fnmatch_lines(
        [
            "*label_loyalty 0.000 (n=12 distinct, 12 duplicates not counted, 95% CI *) < 0.990 [[]default[]] "
            "(baseline 1.000 - tolerance 0.010); outcome FAIL*--loyalty-update-baseline*"
        ]
    )


def test_a_renamed_student_is_compared_with_the_baseline_s_only_student(toy):
    """A release baseline holds the last release's student wherever its files were: with one student
    in each report, those two are compared, and every line names both."""
    write_baseline(toy)
    other = toy.runpytest(*toy_args(toy, "toy_models:teacher", "--loyalty-baseline", "base.json", "-k", "baseline"))
    other.assert_outcomes(passed=1, deselected=13)
    other.stdout.fnmatch_lines(
        [
            "PASS [[]toy_models:teacher[]] label_loyalty 1.000 *; this run's student "
            "'toy_models:teacher' against the baseline's 'toy_models:twin' (one student in each "
            "report)"
        ]
    )


def test_with_several_students_a_baseline_matches_by_label(toy):
    two = ["--student", "candidate=toy_models:teacher", "--loyalty-baseline", "base.json"]
    written = toy.runpytest(*toy_args(toy, "release=toy_models:twin", *two, "--loyalty-update-baseline"))
    assert written.ret == 0
    assert [s["spec"] for s in json.loads((toy.path / "base.json").read_text())["students"]] == ["release", "candidate"]
    # the next release: release's files moved, a new candidate under a label the baseline lacks
    result = toy.runpytest(
        *toy_args(
            toy,
            "release=toy_models:teacher",
            "--student",
            "next=toy_models:twin",
            "--loyalty-baseline",
            "base.json",
            "-k",
            "baseline",
            "-v",
        )
    )
    result.stdout.fnmatch_lines(["*test_baseline[[]release[]] PASSED*"])
    result.stdout.fnmatch_lines(["*test_baseline[[]next[]] FAILED*"])
    result.stdout.fnmatch_lines(
        [
            "*base.json: has no student 'next' (it has [[]'candidate', 'release'[]]); label the "
            "students so they match: --student LABEL=SPEC*"
        ]
    )


def test_ray_and_xdist_together_are_refused(toy):
    pytest.importorskip("xdist")
    result = toy.runpytest(*toy_args(toy), "--loyalty-engine", "ray", "-n", "2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--loyalty-engine ray and pytest-xdist -n both spread the work*"])


def test_an_unknown_engine_is_refused(toy):
    result = toy.runpytest(*toy_args(toy), "--loyalty-engine", "spark")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--loyalty-engine*invalid choice: 'spark'*"])
