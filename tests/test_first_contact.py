"""What a new team trips over in its first hour (issue 21): every documented ini key is accepted,
reports can be named in ini, the job summary is appended to, one fixture error is told once,
skipped gates are counted apart."""

from __future__ import annotations

import json

import pytest

from conftest import NEGATIVE, POSITIVE, write_csv
from loyalty_tests.gates.thresholds import THRESHOLD_SPECS, ini_name

TOY = """
import numpy as np


class Fixed:
    label_names = ("negative", "positive")

    def __init__(self, name):
        self.name, self.fingerprint = name, f"first-contact-{name}"

    def predict_proba(self, texts, text_pairs=None):
        good = np.array(["good" in t or "great" in t for t in texts], dtype=float)
        return np.stack([0.9 - 0.8 * good, 0.1 + 0.8 * good], axis=1)


def teacher():
    return Fixed("teacher")


def student():
    return Fixed("student")
"""


def told_again(result, text: str) -> int:
    """Lines of the ERRORS section and of the loyalty report that point back at the first error;
    pytest's short summary repeats them (cut to the terminal's width, except under CI=true)."""
    return sum(text in line for line in result.stdout.lines if not line.startswith("ERROR test_"))


@pytest.fixture
def toy(pytester):
    pytester.makepyfile(toy_models=TOY)
    pytester.syspathinsert()
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows * 2)
    return pytester


def toy_args(pytester, *extra):
    return [
        "--teacher",
        "toy_models:teacher",
        "--student",
        "toy_models:student",
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


# A valid value for each key this plugin registers; a key another plugin registers gets "x".
VALID = {
    ini_name(key): (
        "0.05" if spec.default is None else "latency" if spec.key == "warn_only" else str(spec.default).lower()
    )
    for key, spec in THRESHOLD_SPECS.items()
}
VALID.update(loyalty_engine="local", loyalty_json="r.json", loyalty_markdown="r.md")


def test_every_ini_key_the_parser_knows_is_accepted(toy, request):
    """The list comes from pytest's parser itself, so a key --help documents can never be refused;
    a misspelt key in the same file is still refused, and it alone is named."""
    registered = sorted(key for key in request.config._parser._inidict if key.startswith("loyalty_"))
    assert {"loyalty_engine", "loyalty_json", "loyalty_markdown", "loyalty_decision"} <= set(registered)
    lines = [f"{key} = {VALID.get(key, 'x')}" for key in registered]
    toy.makeini("[pytest]\n" + "\n".join(lines + ["loyalty_min_label_loyality = 0.9"]) + "\n")
    refused = toy.runpytest(*toy_args(toy), "--collect-only")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        ["*unknown ini key(s) loyalty_min_label_loyality (did you mean loyalty_min_label_loyalty?) in *tox.ini*"]
    )
    toy.makeini("[pytest]\n" + "\n".join(line for line in lines if line.split(" = ")[0] in VALID) + "\n")
    accepted = toy.runpytest(*toy_args(toy))
    assert accepted.ret == pytest.ExitCode.OK, accepted.stderr.str()
    accepted.stdout.fnmatch_lines(
        ["*loyalty threshold warn_only = latency [[]ini loyalty_warn_only[]]*", f"wrote {toy.path / 'r.json'}"]
    )


def test_plain_pytest_writes_no_report_unless_ini_names_one(toy):
    toy.makeini("[pytest]\n")
    toy.runpytest(*toy_args(toy)).assert_outcomes(
        passed=5, skipped=4, deselected=5
    )  # factories load before they are told apart: the four LM gates skip
    assert not list(toy.path.glob("*.json")) and not list(toy.path.glob("*.md"))


def test_ini_report_paths_are_relative_to_the_ini_file(toy, monkeypatch):
    (toy.path / "ci").mkdir()
    toy.makeini("[pytest]\nloyalty_json = reports/gate.json\nloyalty_markdown = reports/gate.md\n")
    (toy.path / "reports").mkdir()
    monkeypatch.chdir(toy.path / "ci")
    args = [a.replace("dev.csv", str(toy.path / "dev.csv")) for a in toy_args(toy)]
    result = toy.runpytest("-c", str(toy.path / "tox.ini"), "--rootdir", str(toy.path), *args)
    result.stdout.fnmatch_lines(
        [f"wrote {toy.path / 'reports' / 'gate.json'}", f"wrote {toy.path / 'reports' / 'gate.md'}"]
    )
    assert json.loads((toy.path / "reports" / "gate.json").read_text())["verdict"] == "PASSED"
    # the command line wins over ini
    toy.runpytest("-c", str(toy.path / "tox.ini"), "--rootdir", str(toy.path), *args, "--loyalty-json", "cli.json")
    assert json.loads((toy.path / "ci" / "cli.json").read_text())["verdict"] == "PASSED"


def test_the_job_summary_is_appended_to_and_other_files_replaced(toy, monkeypatch):
    summary, other = toy.path / "step_summary.md", toy.path / "other.md"
    summary.write_text("## Unit tests: 120 passed\n")
    other.write_text("stale report\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = toy.runpytest(*toy_args(toy), "--loyalty-markdown", str(summary))
    result.stdout.fnmatch_lines([f"appended to {summary} ($GITHUB_STEP_SUMMARY)"])
    text = summary.read_text()
    assert text.startswith("## Unit tests: 120 passed\n") and "## Loyalty gate" in text
    toy.runpytest(*toy_args(toy), "--loyalty-markdown", str(summary))
    assert summary.read_text().count("## Loyalty gate") == 2  # each step's report kept
    toy.runpytest(*toy_args(toy), "--loyalty-markdown", str(other)).stdout.fnmatch_lines([f"wrote {other}"])
    assert "stale report" not in other.read_text() and "## Loyalty gate" in other.read_text()


def test_a_wrong_model_path_in_a_conftest_is_told_once(toy):
    toy.makeconftest("""
        import pytest
        from loyalty_tests import load_model
        from toy_models import Fixed

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return load_model("./models/no-such-teacher")

        @pytest.fixture(scope="session")
        def loyalty_student():
            return Fixed("student")
    """)
    toy.makeini("[pytest]\n")
    result = toy.runpytest(
        "--loyalty-data", "dev.csv", "-p", "no:cacheprovider", "-k", "not latency", "--loyalty-json", "r.json"
    )
    result.assert_outcomes(errors=9, deselected=5)  # the kind is unknown: LM gates error too
    output = result.stdout.str()
    shown = [
        line for line in result.stdout.lines if line.startswith("LoyaltyError: model path './models/no-such-teacher'")
    ]
    assert len(shown) == 1 and "(raised in conftest.py:" in shown[0] and "loyalty_teacher)" in shown[0]
    assert (
        told_again(result, "errored by the LoyaltyError shown for test_loyalty_gates.py::test_accuracy_drop") == 8 * 2
    )
    assert "Traceback" not in output and "def loyalty_teacher" not in output and len(result.stdout.lines) < 90
    report = json.loads((toy.path / "r.json").read_text())
    assert {g["outcome"] for s in report["students"] for g in s["gates"]} == {"error"} and report["verdict"] == "FAILED"


def test_a_bug_in_a_conftest_keeps_its_traceback_once(toy):
    toy.makeconftest("""
        import pytest
        from toy_models import Fixed

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return Fixed("teacher").no_such_attribute

        @pytest.fixture(scope="session")
        def loyalty_student():
            return Fixed("student")
    """)
    toy.makeini("[pytest]\n")
    result = toy.runpytest("--loyalty-data", "dev.csv", "-p", "no:cacheprovider", "-k", "not latency")
    result.assert_outcomes(errors=9, deselected=5)  # the kind is unknown: LM gates error too
    assert result.stdout.str().count('return Fixed("teacher").no_such_attribute') == 1
    assert told_again(result, "errored by the AttributeError shown for") == 8 * 2  # ERRORS and the report


def test_a_skipped_gate_is_counted_apart(toy):
    """pytest-benchmark off (as under -n): the latency gate skips, and the table says so."""
    result = toy.runpytest(*[a for a in toy_args(toy) if a not in ("-k", "not latency")], "--benchmark-disable")
    result.assert_outcomes(passed=5, skipped=5, deselected=4)  # 4 LM gates do not apply
    result.stdout.fnmatch_lines(["toy_models:student *  5 passed, 1 skipped", "gate verdict: PASSED*"])
    result.stdout.fnmatch_lines(["left out 4 gate item(s) that do not apply to this pair (*): *are classifiers"])
    result.stdout.no_fnmatch_line("*5/6 passed*")


def test_pytest_xdist_comes_with_a_user_facing_extra():
    """`pytest -n 2` after the README's install line: xdist is in an extra that line installs."""
    import re
    from pathlib import Path

    import tomllib

    root = Path(__file__).resolve().parent.parent
    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    with_xdist = {
        name
        for name, requirements in extras.items()
        if any(r.startswith("pytest-xdist") for r in requirements) and name != "dev"
    }
    assert with_xdist, "pytest-xdist is only in the dev extra"
    install = re.search(r"pip install -e '[^'\[]*\[([\w,]+)\]'", (root / "README.md").read_text())
    assert install and with_xdist & set(install.group(1).split(",")), install and install.group(0)


def _ignored_by_git(root, relative: str) -> bool:
    import shutil
    import subprocess

    if shutil.which("git") is None or not (root / ".git").exists():
        pytest.skip("not a git checkout: cannot ask git what it ignores")
    return subprocess.run(["git", "check-ignore", "-q", relative], cwd=root).returncode == 0


def test_benchmarks_write_inside_git_ignored_folders_of_the_project():
    """loyalty-bench's output and TextAttack's venv default to folders git ignores, never to committed
    files (docs/benchmark) or a fixed path outside the project."""
    import re
    from pathlib import Path

    from loyalty_tests.bench.run import parse_args

    root = Path(__file__).resolve().parent.parent
    out = parse_args([]).out
    assert not Path(out).is_absolute() and _ignored_by_git(root, f"{out}/table.md")
    assert not _ignored_by_git(root, "docs/benchmark/table.md")  # the control: committed figures are not ignored
    script = (root / "benchmarks" / "setup_textattack_env.sh").read_text()
    venv = re.search(r'VENV="\$\{TA_VENV:-\$REPO/([^}]+)\}"', script)
    assert venv, "setup_textattack_env.sh's default venv is not inside the project"
    assert _ignored_by_git(root, f"{venv.group(1)}/bin/python")
    assert "TA_VENV" in (root / "README.md").read_text()
