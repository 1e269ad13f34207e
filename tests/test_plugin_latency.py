"""The latency gate end to end: a student as fast as its teacher passes with the defaults, a slow one
fails, and pytest-benchmark's record holds the very rounds the gate measured."""

from __future__ import annotations

import json

import pytest

from conftest import NEGATIVE, POSITIVE, write_csv

SLEEPERS = """
import time

import numpy as np


class Sleeper:
    label_names = ("negative", "positive")

    def __init__(self, name, seconds):
        self.name, self.seconds, self.fingerprint = name, seconds, f"sleeper-{name}"

    def predict_proba(self, texts, text_pairs=None):
        time.sleep(self.seconds)
        good = np.array(["good" in t for t in texts], dtype=float)
        return np.stack([0.9 - 0.8 * good, 0.1 + 0.8 * good], axis=1)


def teacher():
    return Sleeper("teacher", 0.004)


def twin():
    return Sleeper("twin", 0.004)


def slow():
    return Sleeper("slow", 0.008)
"""


@pytest.fixture
def timed(pytester, monkeypatch):
    pytester.makepyfile(sleepers=SLEEPERS)
    pytester.syspathinsert()
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(pytester.path / "dev.csv", rows)
    return pytester


def latency_args(pytester, student, *extra):
    return [
        "--teacher",
        "sleepers:teacher",
        "--student",
        student,
        "--loyalty-data",
        "dev.csv",
        "-k",
        "latency",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
        "-p",
        "no:cacheprovider",
        *extra,
    ]


def test_a_student_as_fast_as_its_teacher_passes_with_the_defaults(timed):
    result = timed.runpytest(
        *latency_args(timed, "sleepers:twin", "--loyalty-json", "r.json", "--benchmark-json", "bench.json")
    )
    result.assert_outcomes(passed=1, deselected=13)
    latency = json.loads((timed.path / "r.json").read_text())["students"][0]["latency"]
    assert 0.9 <= latency["speedup"] <= 1.1 and latency["rounds"] >= 10
    (record,) = json.loads((timed.path / "bench.json").read_text())["benchmarks"]
    # the benchmark's record is the gate's measurement: the student's interleaved rounds
    assert record["stats"]["rounds"] == latency["rounds"]
    assert record["stats"]["median"] == pytest.approx(latency["student_seconds"])
    assert record["extra_info"]["speedup"] == pytest.approx(latency["speedup"])
    # only the latency gate was selected: nothing predicted the data set
    phases = json.loads((timed.path / "r.json").read_text())["phases"]
    assert {phase["phase"] for phase in phases} == {"load", "latency"}


def test_a_student_twice_as_slow_fails_with_its_ci(timed):
    result = timed.runpytest(*latency_args(timed, "sleepers:slow"))
    assert result.ret == 1
    # the interval says what it is: each look's level, and the level over all looks
    result.stdout.fnmatch_lines(
        ["*speedup 0.* (n=*, 99% CI per look (95% over 5 looks) 0.*) < 0.900 [[]default[]]*outcome FAIL*"]
    )


def test_a_demand_for_a_faster_student_fails_the_twin(timed):
    result = timed.runpytest(*latency_args(timed, "sleepers:twin", "--loyalty-min-speedup", "1.5"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*speedup *< 1.500 [[]--loyalty-min-speedup[]]*outcome FAIL*"])
