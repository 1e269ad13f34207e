"""The latency measurement: interleaved rounds, blocks until the CI clears the limit, and the gate
both ways on models whose speed is set by a sleep (timing noise is real, so the margins are wide)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from loyalty_tests.assertions import assert_faster
from loyalty_tests.engines.latency import measure_latency
from loyalty_tests.errors import LoyaltyError


class Sleeper:
    label_names = ("negative", "positive")

    def __init__(self, name, seconds, log=None):
        self.name, self.seconds, self.log, self.fingerprint = name, seconds, log, None

    def predict_proba(self, texts, text_pairs=None):
        if self.log is not None:
            self.log.append(self.name)
        time.sleep(self.seconds)
        return np.full((len(texts), 2), 0.5)


TEXTS = ["a text"] * 4


def test_each_round_is_abba():
    log = []
    result = measure_latency(Sleeper("t", 0.001, log), Sleeper("s", 0.001, log), TEXTS, rounds=4, warmup=0)
    assert log == ["t", "s", "s", "t"] * 4  # two calls per model per round, balanced in time
    assert result.rounds == 4 and len(result.student_rounds) == 4


def test_a_second_call_penalty_cancels_inside_every_round():
    # a model called right after the other one pays extra (a cache or frequency effect): ABBA shares it
    state = {"last": None}

    class Positional(Sleeper):
        def predict_proba(self, texts, text_pairs=None):
            penalty = 0.02 if state["last"] not in (None, self.name) else 0.0
            state["last"] = self.name
            time.sleep(self.seconds + penalty)
            return np.full((len(texts), 2), 0.5)

    result = measure_latency(Positional("t", 0.02), Positional("s", 0.02), TEXTS, rounds=8, warmup=0)
    ratios = np.array(result.teacher_rounds) / np.array(result.student_rounds)
    # one call each per round would make every ratio 2 or 1/2 (the later model pays); the median
    # is used because a loaded machine oversleeps now and then
    assert abs(np.log(np.median(ratios))) < 0.2
    assert np.sum(np.abs(np.log(ratios)) < 0.35) >= 6  # one call each: every round at |log 2| = 0.69


def test_a_clearly_faster_student_is_decided_after_one_block():
    result = measure_latency(Sleeper("t", 0.012), Sleeper("s", 0.004), TEXTS, rounds=10, max_rounds=50, limit=0.9)
    assert result.rounds == 10 and result.stop_reason == "decided PASS after 10 of 50 rounds"
    assert result.ci_low > 2.0 and result.speedup == pytest.approx(3.0, rel=0.3)


def test_a_clearly_slower_student_fails():
    with pytest.raises(AssertionError, match=r"speedup 0\.[3-6]\d\d .*< 0\.900.*outcome FAIL"):
        assert_faster(Sleeper("t", 0.004), Sleeper("s", 0.009), TEXTS, rounds=10, max_rounds=30)


def test_a_student_as_fast_as_its_teacher_passes_the_default_limit():
    # the default 0.90 leaves room for timing noise: an identical student must not fail by chance
    latency = assert_faster(Sleeper("t", 0.005), Sleeper("s", 0.005), TEXTS, rounds=10, max_rounds=50)
    assert 0.9 <= latency.speedup <= 1.1


def test_without_a_limit_one_block_is_timed():
    result = measure_latency(Sleeper("t", 0.001), Sleeper("s", 0.001), TEXTS, rounds=6, max_rounds=30, warmup=0)
    assert result.rounds == 6 and result.stop_reason == ""


@pytest.mark.parametrize("rounds, max_rounds", [(0, 10), (10, 5)])
def test_bad_round_counts_are_refused(rounds, max_rounds):
    with pytest.raises(LoyaltyError, match="rounds"):
        measure_latency(Sleeper("t", 0), Sleeper("s", 0), TEXTS, rounds=rounds, max_rounds=max_rounds)


def test_a_model_that_raises_while_timed_is_named():
    class Broken(Sleeper):
        def predict_proba(self, texts, text_pairs=None):
            raise RuntimeError("server down")

    with pytest.raises(LoyaltyError, match=r"model 's' raised RuntimeError while being timed on 4 texts: server down"):
        measure_latency(Sleeper("t", 0), Broken("s", 0), TEXTS)
