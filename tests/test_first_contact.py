"""What a new team trips over in its first hour (issue 21): every documented ini key is accepted,
reports can be named in ini, the job summary is appended to, one fixture error is told once,
skipped gates are counted apart."""

from __future__ import annotations

import json

import pytest
from conftest import NEGATIVE, POSITIVE, write_csv

from loyalty_tests.gates.thresholds import THRESHOLD_SPECS, ini_name

TOY = '''
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
'''


@pytest.fixture
def toy(pytester):
    pytester.makepyfile(toy_models=TOY)
    pytester.syspathinsert()
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows * 2)
    return pytester


def toy_args(pytester, *extra):
    return ["--teacher", "toy_models:teacher", "--student", "toy_models:student", "--loyalty-data", "dev.csv",
            "--loyalty-cache-dir", str(pytester.path / "cache"), "-p", "no:cacheprovider", "-k", "not latency", *extra]


# A valid value for each key this plugin registers; a key another plugin registers gets "x".
VALID = {ini_name(key): ("0.05" if spec.default is None else "latency" if spec.key == "warn_only"
                         else str(spec.default).lower()) for key, spec in THRESHOLD_SPECS.items()}
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
    refused.stderr.fnmatch_lines(["*unknown ini key(s) loyalty_min_label_loyality (did you mean "
                                  "loyalty_min_label_loyalty?) in *tox.ini*"])
    toy.makeini("[pytest]\n" + "\n".join(line for line in lines if line.split(" = ")[0] in VALID) + "\n")
    accepted = toy.runpytest(*toy_args(toy))
    assert accepted.ret == pytest.ExitCode.OK, accepted.stderr.str()
    accepted.stdout.fnmatch_lines(["*loyalty threshold warn_only = latency [[]ini loyalty_warn_only[]]*",
                                   f"wrote {toy.path / 'r.json'}"])


def test_plain_pytest_writes_no_report_unless_ini_names_one(toy):
    toy.makeini("[pytest]\n")
    toy.runpytest(*toy_args(toy)).assert_outcomes(passed=5, deselected=3)
    assert not list(toy.path.glob("*.json")) and not list(toy.path.glob("*.md"))


def test_ini_report_paths_are_relative_to_the_ini_file(toy, monkeypatch):
    (toy.path / "ci").mkdir()
    toy.makeini("[pytest]\nloyalty_json = reports/gate.json\nloyalty_markdown = reports/gate.md\n")
    (toy.path / "reports").mkdir()
    monkeypatch.chdir(toy.path / "ci")
    args = [a.replace("dev.csv", str(toy.path / "dev.csv")) for a in toy_args(toy)]
    result = toy.runpytest("-c", str(toy.path / "tox.ini"), "--rootdir", str(toy.path), *args)
    result.stdout.fnmatch_lines([f"wrote {toy.path / 'reports' / 'gate.json'}", f"wrote {toy.path / 'reports' / 'gate.md'}"])
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
