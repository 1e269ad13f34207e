"""The README's examples run as written (with tiny models in place of the demo teacher)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_opens_with_the_two_commands():
    first = code_blocks("bash")[0].strip().splitlines()
    assert [line.split("#")[0].strip() for line in first] == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (README.parent / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


def test_users_test_example_runs(pytester):
    from tiny import save_tiny_bert

    from conftest import NEGATIVE, POSITIVE, write_csv

    save_tiny_bert(pytester.path / "teacher")
    save_tiny_bert(pytester.path / "student")
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows)
    example = next(block for block in code_blocks("python") if "loyalty_report" in block)
    pytester.makepyfile(test_readme_example=example)
    result = pytester.runpytest(
        "test_readme_example.py",
        "--teacher",
        "./teacher",
        "--student",
        "./student",
        "--loyalty-data",
        "dev.csv",
        "--loyalty-no-suite",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
    )
    result.assert_outcomes(passed=2)


def test_property_example_runs():
    example = next(block for block in code_blocks("python") if "check_metric_invariants" in block)
    exec(compile(example, str(README), "exec"), {})


def test_the_declared_fixtures_example_runs_plain_pytest(pytester, monkeypatch):
    """The README's conftest.py, as written, with a tiny BERT at ./models/teacher: plain `pytest`
    runs every gate once per declared student."""
    from tiny import save_tiny_bert

    from conftest import NEGATIVE, POSITIVE, write_csv

    save_tiny_bert(pytester.path / "models" / "teacher")
    write_csv(pytester.path / "dev.csv", [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE])
    example = next(block for block in code_blocks("python") if "def loyalty_student" in block)
    pytester.makeconftest(example)
    pytester.makeini(
        f"[pytest]\naddopts = --loyalty-data dev.csv --loyalty-cache-dir {pytester.path / 'cache'} "
        "-p no:cacheprovider -k 'not latency'\n"
    )
    result = pytester.runpytest("-v")
    for student in ("int8", "prune:0.3"):
        result.stdout.fnmatch_lines([f"*test_label_loyalty[[]{student}[]]*"])
    # five gates, two students; a tiny random BERT predicts one class, which int8 and 30% pruning keep.
    # Declared models are known only once loaded: the four LM gates are collected and skip for classifiers.
    result.assert_outcomes(passed=10, skipped=8, deselected=10)
    result.stdout.fnmatch_lines(
        ["*loyalty gate report*", "PASS [[]prune:0.3[]] label_loyalty 1.000*", "gate verdict: PASSED*"]
    )
