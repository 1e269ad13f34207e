"""Verdict statistics (loyalty_tests.stats.intervals): intervals against statsmodels/scipy, the three-way
outcome, every decision rule both ways, input errors, and the docstring examples of every
statistics module."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import norm
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.proportion import proportion_confint

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.stats import flips, sample_size, sequential, speedup
from loyalty_tests.stats import intervals as stats
from loyalty_tests.stats.intervals import (
    bounded_mean_interval,
    decide,
    paired_difference_interval,
    three_way_outcome,
    wilson_interval,
)

MODULES = [stats, sample_size, sequential, speedup, flips]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_every_public_function_has_a_docstring_example(module):
    public = [
        name
        for name in dir(module)
        if not name.startswith("_")
        and inspect.isfunction(getattr(module, name))
        and getattr(module, name).__module__ == module.__name__
    ]
    assert public
    for name in public:
        assert ">>>" in (getattr(module, name).__doc__ or ""), f"{module.__name__}.{name} has no doctest"


def test_normal_quantile_matches_scipy():
    for confidence in (0.5, 0.9, 0.95, 0.99, 0.999):
        assert stats.normal_quantile(confidence) == pytest.approx(norm.ppf(0.5 + confidence / 2), rel=1e-12)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_matches_statsmodels(confidence):
    for n in (1, 2, 7, 10, 50, 854):
        successes = np.arange(n + 1)
        low, high = wilson_interval(successes, n, confidence)
        expected_low, expected_high = proportion_confint(successes, n, alpha=1 - confidence, method="wilson")
        np.testing.assert_allclose(low, expected_low, atol=1e-12)
        np.testing.assert_allclose(high, expected_high, atol=1e-12)


def test_wilson_scalars_give_floats_and_exact_ends():
    low, high = wilson_interval(0, 20)
    assert isinstance(low, float) and low == 0.0 and high > 0
    assert wilson_interval(20, 20)[1] == 1.0


def test_tango_at_no_disagreement_is_the_wilson_bound_and_never_zero_width():
    for n in (1, 10, 50, 500):
        low, high = paired_difference_interval(0, 0, n)
        wilson_high = proportion_confint(0, n, method="wilson")[1]
        assert high == pytest.approx(wilson_high, abs=1e-12) and low == pytest.approx(-wilson_high, abs=1e-12)
    assert paired_difference_interval(0, 0, 10)[1] > 0.27  # the case: 10 agreeing examples


def test_tango_excludes_zero_exactly_when_mcnemar_rejects():
    # At delta = 0 Tango's score statistic is McNemar's (b - c)/sqrt(b + c), uncorrected.
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(400):
        n = int(rng.integers(5, 400))
        b = int(rng.integers(0, n // 3 + 1))
        c = int(rng.integers(0, n // 3 + 1))
        if b + c == 0:
            continue
        low, high = paired_difference_interval(b, c, n)
        p_value = mcnemar([[n - b - c, b], [c, 0]], exact=False, correction=False).pvalue
        if abs(p_value - 0.05) < 1e-9:
            continue  # on the boundary the comparison is a coin toss in the last bit
        assert (p_value < 0.05) == (not low <= 0.0 <= high), (b, c, n, p_value, low, high)
        checked += 1
    assert checked > 300


def _score_statistic_by_optimiser(b: int, c: int, n: int, delta: float) -> float:
    """Tango's statistic with q(delta) found by maximising the restricted likelihood numerically."""
    low, high = max(0.0, -delta), (1.0 - delta) / 2.0

    def negative_log_likelihood(q):
        p, rest = q + delta, 1.0 - 2.0 * q - delta
        return -(b * np.log(max(p, 1e-300)) + c * np.log(max(q, 1e-300)) + (n - b - c) * np.log(max(rest, 1e-300)))

    q = minimize_scalar(negative_log_likelihood, bounds=(low, high), method="bounded", options={"xatol": 1e-13}).x
    return (b - c - n * delta) / np.sqrt(n * (2 * q + delta * (1 - delta)))


@pytest.mark.parametrize("b,c,n", [(12, 3, 200), (40, 20, 160), (1, 7, 21), (5, 0, 30), (0, 4, 12), (9, 1, 10)])
def test_tango_ends_solve_the_score_equation_with_an_independent_mle(b, c, n):
    low, high = paired_difference_interval(b, c, n)
    z = norm.ppf(0.975)
    for end, target in ((low, z), (high, -z)):
        if abs(end) < 1.0:
            assert _score_statistic_by_optimiser(b, c, n, end) == pytest.approx(target, abs=1e-5)
    # and a grid scan of the accepted set finds the same interval (it is an interval)
    grid = np.linspace(-0.995, 0.995, 399)
    inside = np.array([abs(_score_statistic_by_optimiser(b, c, n, d)) <= z for d in grid])
    assert np.all(np.diff(np.flatnonzero(inside)) == 1)
    accepted = grid[inside]
    assert accepted.min() == pytest.approx(low, abs=0.006) and accepted.max() == pytest.approx(high, abs=0.006)


def test_tango_arrays_match_scalars_and_mirror():
    b, c = np.array([0, 3, 10, 0]), np.array([0, 1, 0, 10])
    low, high = paired_difference_interval(b, c, 10)
    for i in range(b.size):
        assert (low[i], high[i]) == paired_difference_interval(int(b[i]), int(c[i]), 10)
    mirrored_low, mirrored_high = paired_difference_interval(c, b, 10)
    np.testing.assert_allclose(mirrored_low, -high), np.testing.assert_allclose(mirrored_high, -low)
    assert high[2] == 1.0 and low[3] == -1.0


def test_bounded_mean_is_wilson_at_the_sum():
    rng = np.random.default_rng(1)
    for n in (3, 10, 200):
        values = rng.beta(8, 2, n)
        expected = proportion_confint(values.sum(), n, method="wilson")
        assert bounded_mean_interval(values) == pytest.approx(expected, abs=1e-12)
    assert bounded_mean_interval([1.0] * 10) == wilson_interval(10, 10)  # not [1, 1]


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: wilson_interval(11, 10), "successes <= n"),
        (lambda: wilson_interval(1.5, 10), "whole number"),
        (lambda: wilson_interval(1, 0), "n >= 1"),
        (lambda: wilson_interval(1, 10, confidence=95), "between 0 and 1"),
        (lambda: paired_difference_interval(6, 5, 10), "b + c <= n"),
        (lambda: paired_difference_interval(-1, 0, 10), "count >= 0"),
        (lambda: bounded_mean_interval([0.5, 1.2]), "[0, 1]"),
        (lambda: bounded_mean_interval([0.5, np.nan]), "[0, 1]"),
        (lambda: bounded_mean_interval([]), "non-empty"),
        (lambda: three_way_outcome(0.9, 0.8, 0.5, "at_least"), "low <= high"),
        (lambda: three_way_outcome(0.1, 0.2, 0.5, "above"), "direction"),
        (lambda: three_way_outcome(np.nan, 0.2, 0.5, "at_most"), "must be a number"),
        (lambda: decide(0.5, 0.4, 0.6, 0.5, "at_least", rule="lower_bound"), "rule must be one of"),
        (lambda: decide(0.5, 0.4, 0.6, 0.5, "at_least", "three-way", inconclusive="maybe"), "inconclusive must be"),
        (lambda: decide(None, 0.4, 0.6, 0.5, "at_least"), "estimate must be a number"),
    ],
)
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(LoyaltyError, match=None) as error:
        call()
    assert words in str(error.value)


@pytest.mark.parametrize(
    "direction, good, straddle, bad",
    [
        ("at_least", (0.91, 0.99), (0.85, 0.95), (0.70, 0.89)),
        ("at_most", (0.00, 0.09), (0.05, 0.15), (0.11, 0.30)),
    ],
)
def test_three_way_outcome_each_way(direction, good, straddle, bad):
    limit = 0.90 if direction == "at_least" else 0.10
    assert three_way_outcome(*good, limit, direction) == "PASS"
    assert three_way_outcome(*straddle, limit, direction) == "INCONCLUSIVE"
    assert three_way_outcome(*bad, limit, direction) == "FAIL"


def test_three_way_outcome_boundary_is_inclusive():
    assert three_way_outcome(0.90, 0.95, 0.90, "at_least") == "PASS"  # low equal to the limit passes
    assert three_way_outcome(0.85, 0.90, 0.90, "at_least") == "INCONCLUSIVE"  # high on the limit: not a FAIL
    assert three_way_outcome(0.0, 0.1, 0.1, "at_most") == "PASS"
    assert three_way_outcome(0.1, 0.2, 0.1, "at_most") == "INCONCLUSIVE"
    assert three_way_outcome(0.1 + 0.2, 0.4, 0.3, "at_most") == "INCONCLUSIVE"  # 0.30000000000000004 is 0.3
    assert three_way_outcome(0.0, 0.1 + 0.2, 0.3, "at_most") == "PASS"


CASES = {  # (estimate, low, high) against limit 0.90, at_least
    "pass": (0.95, 0.92, 0.98),
    "straddle_above": (0.93, 0.88, 0.97),
    "straddle_below": (0.88, 0.84, 0.92),
    "fail": (0.80, 0.75, 0.85),
}


@pytest.mark.parametrize(
    "case, passed", [("pass", True), ("straddle_above", True), ("straddle_below", False), ("fail", False)]
)
def test_estimate_rule_both_ways(case, passed):
    decision = decide(*CASES[case], 0.90, "at_least")
    assert decision.passed is passed and decision.decided_by == "estimate" and not decision.warned
    assert decision.checked_value == CASES[case][0]


@pytest.mark.parametrize(
    "case, passed", [("pass", True), ("straddle_above", False), ("straddle_below", False), ("fail", False)]
)
def test_confident_rule_both_ways(case, passed):
    decision = decide(*CASES[case], 0.90, "at_least", rule="confident")
    assert decision.passed is passed and decision.decided_by == "ci_low" and decision.checked_value == CASES[case][1]


def test_confident_rule_uses_the_upper_end_for_a_maximum():
    assert decide(0.05, 0.02, 0.09, 0.10, "at_most", rule="confident").passed
    failed = decide(0.05, 0.01, 0.12, 0.10, "at_most", rule="confident")
    assert not failed.passed and failed.decided_by == "ci_high" and failed.checked_value == 0.12


@pytest.mark.parametrize(
    "policy, passed, warned", [("fail", False, False), ("warn", True, True), ("pass", True, False)]
)
def test_three_way_rule_inconclusive_policies(policy, passed, warned):
    for case in ("straddle_above", "straddle_below"):
        decision = decide(*CASES[case], 0.90, "at_least", rule="three-way", inconclusive=policy)
        assert (decision.passed, decision.warned, decision.outcome) == (passed, warned, "INCONCLUSIVE")
    # a decided outcome ignores the policy, both ways
    assert decide(*CASES["pass"], 0.90, "at_least", "three-way", policy).passed
    failed = decide(*CASES["fail"], 0.90, "at_least", "three-way", policy)
    assert not failed.passed and not failed.warned and failed.outcome == "FAIL" and failed.checked_value == 0.85


def test_decision_always_reports_the_outcome():
    for rule in stats.RULES:
        assert decide(*CASES["straddle_above"], 0.90, "at_least", rule=rule).outcome == "INCONCLUSIVE"
        assert decide(*CASES["fail"], 0.90, "at_least", rule=rule).outcome == "FAIL"
