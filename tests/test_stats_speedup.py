"""Latency speedup CI and the rule for adding rounds (loyalty_tests.stats.speedup)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import binom, quantile_test

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.stats.sequential import planned_looks
from loyalty_tests.stats.speedup import latency_decision, order_statistic_rank, rounds_to_decide, speedup_interval


def timings(seed: int, rounds: int, speedup: float, sigma: float = 0.05):
    """Paired rounds: shared drift (machine load), log-normal noise, 5% hiccups on either model."""
    rng = np.random.default_rng(seed)
    drift = np.cumsum(rng.normal(0.0, 0.02, rounds))

    def noise():
        return rng.normal(0.0, sigma, rounds) + np.where(rng.random(rounds) < 0.05, rng.exponential(0.3, rounds), 0.0)

    return np.exp(drift + noise()), np.exp(drift - math.log(speedup) + noise())


def test_order_statistic_rank_matches_scipy_binomial():
    for n in range(1, 120):
        for confidence in (0.9, 0.95, 0.99, 0.995):
            k = order_statistic_rank(n, confidence)
            if k > 0:
                assert 2 * binom.cdf(k - 1, n, 0.5) <= 1 - confidence + 1e-12
            assert k == (n + 1) // 2 or 2 * binom.cdf(k, n, 0.5) > 1 - confidence


def test_speedup_interval_matches_scipy_quantile_test():
    rng = np.random.default_rng(0)
    for n in (6, 9, 10, 25, 50):
        teacher, student = rng.lognormal(0.0, 0.1, n), rng.lognormal(-0.3, 0.1, n)
        for confidence in (0.95, 0.99):
            estimate, low, high = speedup_interval(teacher, student, confidence)
            expected = quantile_test(teacher / student, q=1.0, p=0.5).confidence_interval(confidence)
            if np.isnan(expected.low):  # scipy says "no bound" with NaN; we say (0, inf)
                assert (low, high) == (0.0, math.inf) and order_statistic_rank(n, confidence) == 0
            else:
                assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-12)
            assert estimate == pytest.approx(np.median(teacher / student))


def test_too_few_rounds_give_an_unbounded_interval():
    estimate, low, high = speedup_interval([1.0] * 5, [0.5] * 5)
    assert estimate == 2.0 and (low, high) == (0.0, math.inf)


def test_one_hiccup_moves_the_median_interval_less_than_a_mean():
    teacher, student = timings(1, 20, 1.5, sigma=0.02)
    _, low, high = speedup_interval(teacher, student)
    teacher[3] *= 5.0  # one round of the teacher hit by a context switch
    _, low_hit, high_hit = speedup_interval(teacher, student)
    assert high_hit == pytest.approx(high, rel=0.05) and low_hit == pytest.approx(low, rel=0.05)


def test_latency_gate_passes_a_faster_student_early():
    teacher, student = timings(2, 50, 1.9)
    result = latency_decision(teacher[:10], student[:10], 1.0, block_size=10, max_rounds=50)
    assert result.stopped and result.decision.passed and result.reason == "decided PASS after 10 of 50 rounds"


def test_latency_gate_fails_a_slower_student():
    teacher, student = timings(3, 50, 0.7)
    for look in planned_looks(10, 50):
        result = latency_decision(teacher[:look], student[:look], 0.9, block_size=10, max_rounds=50)
        if result.stopped:
            break
    assert not result.decision.passed and result.decision.outcome == "FAIL" and result.reason.startswith("decided FAIL")


def test_latency_looks_use_the_bonferroni_level():
    teacher, student = timings(4, 50, 1.0)
    result = latency_decision(teacher, student, 1.0, block_size=10, max_rounds=50)
    assert result.reason == "reached the cap of 50 rounds, INCONCLUSIVE"
    _, low, high = speedup_interval(teacher, student, 1 - 0.05 / 5)
    assert (result.decision.low, result.decision.high) == (low, high)
    assert result.looks == (10, 20, 30, 40, 50)
    named = latency_decision(teacher, student, 1.0, block_size=10, max_rounds=50, cap_name="--loyalty-latency-rounds")
    assert named.reason == "reached --loyalty-latency-rounds 50, INCONCLUSIVE"
    unfinished = latency_decision(teacher[:20], student[:20], 1.0, block_size=10, max_rounds=50)
    assert not unfinished.stopped and unfinished.reason == "INCONCLUSIVE after 20 of 50 rounds: time another block"


def test_identical_student_and_the_proposed_default_limit():
    # A/A with limit 1.0 is a coin toss under the estimate rule; below 1 (an equivalence margin) it passes.
    failures_at_one, failures_at_margin, fail_outcomes_at_one = 0, 0, 0
    for seed in range(200):
        teacher, student = timings(100 + seed, 50, 1.0)
        for look in planned_looks(10, 50):
            at_one = latency_decision(teacher[:look], student[:look], 1.0, block_size=10, max_rounds=50)
            if at_one.stopped:
                break
        for look in planned_looks(10, 50):
            at_margin = latency_decision(teacher[:look], student[:look], 0.9, block_size=10, max_rounds=50)
            if at_margin.stopped:
                break
        failures_at_one += not at_one.decision.passed
        failures_at_margin += not at_margin.decision.passed
        fail_outcomes_at_one += at_one.decision.outcome == "FAIL"
    assert failures_at_one > 60  # about half fail: the identical student's true speedup is exactly 1.0
    assert fail_outcomes_at_one <= 5  # a confident FAIL (three-way) stays within alpha/2 = 2.5%
    assert failures_at_margin <= 2  # at most 1%


def test_rounds_to_decide_falls_with_the_gap_and_is_none_on_the_limit():
    teacher = np.array([1.0, 1.1, 0.9, 1.05, 0.95, 1.0, 1.02, 0.98])
    needs = [rounds_to_decide(teacher * factor, np.ones(8), 1.0) for factor in (1.02, 1.05, 1.2, 2.0)]
    assert needs == sorted(needs, reverse=True) and needs[-1] == 6  # floored at the fewest rounds with a CI
    assert rounds_to_decide(np.ones(8), np.ones(8), 1.0) is None


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: speedup_interval([1.0, 2.0], [1.0]), "equal length"),
        (lambda: speedup_interval([1.0, 0.0], [1.0, 1.0]), "> 0 seconds"),
        (lambda: speedup_interval([1.0, np.nan], [1.0, 1.0]), "finite"),
        (lambda: latency_decision([1.0] * 15, [1.0] * 15, 1.0, block_size=10, max_rounds=50), "whole number of blocks"),
        (
            lambda: latency_decision([1.0] * 10, [1.0] * 10, 1.0, block_size=10, max_rounds=50, direction="up"),
            "direction",
        ),
        (lambda: rounds_to_decide([1.0] * 6, [1.0] * 6, 0.0), "> 0"),
    ],
)
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(LoyaltyError) as error:
        call()
    assert words in str(error.value)
