"""The real plugin, end to end through pytester: gates pass, fail, repeat per student, run under xdist."""

from __future__ import annotations

import json

import pytest
import torch
from tiny import save_tiny_bert

from conftest import NEGATIVE, POSITIVE, write_csv


@pytest.fixture
def project(pytester, monkeypatch):
    """A folder with a tiny teacher, a copy of it, a contrarian student and a dev.csv.

    The contrarian has the teacher's weights but the label names swapped, so it predicts the other
    name for every example: label loyalty 0 by construction (random tiny BERTs alone tend to predict
    one class for every input, and two of them would often agree)."""
    save_tiny_bert(pytester.path / "teacher", seed=0)
    save_tiny_bert(pytester.path / "twin", seed=0)
    save_tiny_bert(pytester.path / "contrarian", ("positive", "negative"), seed=0)
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows * 4)
    return pytester


def gate_args(pytester, *students, extra=()):
    """The latency gate is deselected here: tiny models' timings are noise; it has tests of its own."""
    args = [
        "--teacher",
        "./teacher",
        "--loyalty-data",
        "dev.csv",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
        "--loyalty-bootstrap",
        "200",
        "-p",
        "no:cacheprovider",
        "-k",
        "not latency",
    ]
    for student in students:
        args += ["--student", student]
    return [*args, *extra]


def test_passing_gate_writes_reports(project):
    result = project.runpytest(
        *gate_args(project, "./twin", extra=["--loyalty-json", "report.json", "--loyalty-markdown", "report.md", "-v"])
    )
    result.assert_outcomes(passed=5, deselected=5)  # latency; baseline, robustness, margin_drop, kl_divergence off
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*test_label_loyalty[[]./twin[]] PASSED*",
            "*loyalty gate report*",
            "*label_loyalty 1.000*>= 0.900 [[]default[]]*",
            "gate verdict: PASSED*",
        ]
    )
    assert "Loading weights" not in result.stdout.str() + result.stderr.str()  # no transformers bars
    report = json.loads((project.path / "report.json").read_text())
    assert report["passed"] is True
    (student,) = report["students"]
    assert student["spec"] == "./twin"
    assert student["metrics"]["label_loyalty"]["value"] == 1.0
    assert {g["gate"] for g in student["gates"]} == {
        "accuracy_drop",
        "label_loyalty",
        "probability_loyalty",
        "negative_flip_rate",
        "label_distribution",
    }
    assert {g["three_way"] for g in student["gates"]} <= {"PASS", "INCONCLUSIVE"}
    assert {g["outcome"] for g in student["gates"]} == {"passed"}
    assert report["verdict"] == "PASSED"
    assert report["data"]["fingerprint"] and report["teacher_fingerprint"] and student["fingerprint"]
    assert {"versions", "torch_cpu_capability", "device"} <= set(report["environment"])
    assert {"torch", "transformers", "loyalty_tests"} <= set(report["environment"]["versions"])
    assert "✅ passed" in (project.path / "report.md").read_text()


def test_failing_gate_exits_1_with_numbers_and_examples(project):
    result = project.runpytest(*gate_args(project, "./contrarian", extra=["--loyalty-min-label-loyalty", "0.99"]))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*label_loyalty 0.* (n=12 distinct, 36 duplicates not counted, 95% CI *) < 0.990 "
            "[[]--loyalty-min-label-loyalty[]]*",
            "*worst disagreements:*",
            "*#* label=* teacher[[]negative=* positive=*[]] student[[]negative=*",
            "gate verdict: FAILED*",
        ]
    )


def test_every_gate_runs_once_per_student(project):
    result = project.runpytest(*gate_args(project, "./twin", "./contrarian", extra=["-v", "--loyalty-json", "r.json"]))
    for gate in ("accuracy_drop", "label_loyalty", "probability_loyalty", "negative_flip_rate", "label_distribution"):
        result.stdout.fnmatch_lines([f"*test_{gate}[[]./twin[]] PASSED*"])
    # the contrarian predicts the other label for every example: label loyalty 0 (its probabilities
    # are the teacher's mirrored, near 0.5 for a random tiny BERT, so probability loyalty may pass)
    result.stdout.fnmatch_lines(["*test_label_loyalty[[]./contrarian[]] FAILED*"])
    report = json.loads((project.path / "r.json").read_text())
    outcomes = {s["spec"]: {g["gate"]: g["outcome"] for g in s["gates"]} for s in report["students"]}
    assert set(outcomes["./twin"].values()) == {"passed"} and len(outcomes["./twin"]) == 5
    assert outcomes["./contrarian"]["label_loyalty"] == "failed"
    assert report["verdict"] == "FAILED" and result.ret == 1


def test_permuted_student_is_fully_loyal(project):
    from transformers import AutoModelForSequenceClassification

    permuted = AutoModelForSequenceClassification.from_pretrained(str(project.path / "teacher"))
    with torch.no_grad():  # swap the output rows and the names together: same predictions by name
        permuted.classifier.weight.copy_(permuted.classifier.weight.flip(0))
        permuted.classifier.bias.copy_(permuted.classifier.bias.flip(0))
    permuted.config.id2label = {0: "positive", 1: "negative"}
    permuted.config.label2id = {"positive": 0, "negative": 1}
    permuted.save_pretrained(project.path / "permuted")
    (project.path / "permuted" / "vocab.txt").write_text((project.path / "teacher" / "vocab.txt").read_text())
    for name in ("tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"):
        source = project.path / "teacher" / name
        if source.exists():
            (project.path / "permuted" / name).write_text(source.read_text())
    result = project.runpytest(*gate_args(project, "./permuted", extra=["--loyalty-json", "r.json"]))
    result.assert_outcomes(passed=5, deselected=5)
    report = json.loads((project.path / "r.json").read_text())
    assert report["students"][0]["metrics"]["label_loyalty"]["value"] == 1.0


def test_marker_and_ini_thresholds_in_users_tests(project):
    project.makeini("[pytest]\nloyalty_min_label_loyalty = 0.97\n")
    project.makepyfile(
        test_mine="""
        import pytest
        from loyalty_tests.assertions import assert_loyal

        def test_ini_value(loyalty_thresholds):
            threshold = loyalty_thresholds["min_label_loyalty"]
            assert (threshold.value, threshold.source) == (0.97, "ini loyalty_min_label_loyalty")

        @pytest.mark.loyalty(min_label_loyalty=0.5)
        def test_marker_wins(loyalty_report):
            assert loyalty_report.thresholds["min_label_loyalty"].source == "@pytest.mark.loyalty"
            assert_loyal(loyalty_report, max_accuracy_drop=1.0, min_probability_loyalty=0.0)

        def test_fixtures(teacher, student, loyalty_data, teacher_predictions, student_predictions):
            assert teacher_predictions.probabilities.shape == (len(loyalty_data), 2)
            assert student.label_names == teacher.label_names
    """
    )
    result = project.runpytest("test_mine.py", *gate_args(project, "./twin", extra=["--loyalty-no-suite"]))
    result.assert_outcomes(passed=3)


def test_assert_loyal_failure_shows_threshold_and_examples(project):
    project.makepyfile(
        test_mine="""
        from loyalty_tests.assertions import assert_loyal

        def test_strict(loyalty_report):
            assert_loyal(loyalty_report, min_label_loyalty=0.999)
    """
    )
    result = project.runpytest("test_mine.py", *gate_args(project, "./contrarian", extra=["--loyalty-no-suite"]))
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*is not loyal to teacher*", "*< 0.999 [[]argument[]]*", "*worst 5 disagreements*"])


def test_warn_only_gate_passes_with_a_warning(project):
    result = project.runpytest(
        *gate_args(
            project,
            "./contrarian",
            extra=[
                "--loyalty-min-label-loyalty",
                "0.99",
                "--loyalty-warn-only",
                "label_loyalty",
                "-k",
                "label_loyalty",
            ],
        )
    )
    # deselected: the five other gates, and the baseline, robustness, margin_drop and kl_divergence gates
    # (which exist only with --loyalty-baseline, --attack and --loyalty-max-kl-divergence).
    # Warnings are not counted: in-process pytester adds pytest's own "already imported" ones.
    result.assert_outcomes(passed=1, deselected=9)
    result.stdout.fnmatch_lines(["gate verdict: PASSED*"])  # a warning is not a failure
    assert result.stdout.str().count("LoyaltyGateWarning") == 1
    # the warning names the gate's test line, not the plugin's internals
    result.stdout.fnmatch_lines(
        ["*suite/test_loyalty_gates.py:*: LoyaltyGateWarning*", "WARN [[]./contrarian[]] label_loyalty*"]
    )


def test_baseline_missing_then_written_then_compared(project):
    baseline = str(project.path / "baseline.json")
    missing = project.runpytest(*gate_args(project, "./twin", extra=["--loyalty-baseline", baseline, "-k", "baseline"]))
    assert missing.ret == 1
    missing.stdout.fnmatch_lines(
        [
            "*baseline */baseline.json: no baseline report there; "
            "write a new baseline with --loyalty-baseline*--loyalty-update-baseline*"
        ]
    )
    written = project.runpytest(
        *gate_args(project, "./twin", extra=["--loyalty-baseline", baseline, "--loyalty-update-baseline"])
    )
    assert written.ret == 0
    assert json.loads(open(baseline).read())["students"][0]["spec"] == "./twin"
    again = project.runpytest(*gate_args(project, "./twin", extra=["--loyalty-baseline", baseline]))
    again.assert_outcomes(passed=6, deselected=4)


def test_student_without_teacher_is_a_usage_error(pytester):
    result = pytester.runpytest("--student", "int8")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*students need a teacher*--teacher SPEC*"])


def test_teacher_without_student_is_a_usage_error(pytester):
    result = pytester.runpytest("--teacher", "demo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*teacher demo needs at least one student: pass --student SPEC*"])


def test_unknown_ini_key_is_an_error(pytester):
    pytester.makeini("[pytest]\nloyalty_min_label_loyality = 0.9\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*unknown ini key(s) loyalty_min_label_loyality (did you mean loyalty_min_label_loyalty?)*"]
    )


def test_unknown_spec_is_a_clear_error(project):
    result = project.runpytest(*gate_args(project, "./nowhere"))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*model path './nowhere' does not exist*"])


def test_under_xdist_latency_skips_with_reason(project):
    pytest.importorskip("xdist")
    args = [a for a in gate_args(project, "./twin", extra=["-n", "2", "-rs"]) if a not in ("-k", "not latency")]
    result = project.runpytest_subprocess(*args)
    result.assert_outcomes(passed=5, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "*loyalty gate report*",
            "*5 passed, 1 skipped",
            "gate verdict: PASSED*",
            "*latency gate needs pytest-benchmark*-n*",
        ]
    )


def test_command_line_specs_gate_only_the_models_not_the_projects_own_tests(project):
    project.makepyfile(test_project_unit="def test_unrelated():\n    pass\n")
    only_gates = project.runpytest(*gate_args(project, "./twin"), "--collect-only", "-q")
    assert "test_unrelated" not in only_gates.stdout.str()
    only_gates.stdout.fnmatch_lines(["*test_label_loyalty[[]./twin[]]*"])
    both = project.runpytest("test_project_unit.py", *gate_args(project, "./twin"), "--collect-only", "-q")
    both.stdout.fnmatch_lines(["*test_unrelated*", "*test_label_loyalty[[]./twin[]]*"])


def test_the_kl_gate_exists_with_its_threshold_and_decides_both_ways(project):
    """The worked example of adding a gate: one module, one registry line, one threshold. The tiny
    models are unsure (probabilities near 0.5), so even the contrarian's KL is small: the limit
    is 1e-6, which the twin (KL exactly 0) meets and any divergence misses."""
    args = ["--loyalty-max-kl-divergence", "1e-6", "-k", "kl_divergence", "--loyalty-json", "r.json"]
    twin = project.runpytest(*gate_args(project, "./twin", extra=args))
    twin.assert_outcomes(passed=1, deselected=9)
    gate = json.loads((project.path / "r.json").read_text())["students"][0]["gates"][0]
    assert (gate["gate"], gate["value"], gate["limit"], gate["source"]) == (
        "kl_divergence",
        0.0,
        1e-6,
        "--loyalty-max-kl-divergence",
    )
    contrarian = project.runpytest(*gate_args(project, "./contrarian", extra=args))
    contrarian.assert_outcomes(failed=1, deselected=9)
    contrarian.stdout.fnmatch_lines(
        ["*kl(teacher||student) * > 0.000 [[]--loyalty-max-kl-divergence[]]*", "*worst disagreements:*"]
    )
