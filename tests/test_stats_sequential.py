"""The betting confidence sequence and the sequential robustness gate (loyalty_tests.stats.sequential)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.stats.intervals import paired_difference_interval
from loyalty_tests.stats.sequential import (
    BET_TRUNCATION,
    betting_interval,
    planned_looks,
    sequential_decision,
    sequential_interval,
)


def reference_interval(x, alpha, fixed_n=None, grid_size=4001):
    """The hedged-capital CI written out loop by loop from Waudby-Smith & Ramdas (2024) on a grid
    of candidate means: keep m where max(K+, K-) / 2 < 1/alpha. Independent of the vectorised code."""
    grid = np.linspace(0.0, 1.0, grid_size)
    bets, total, squares = [], 0.0, 0.0
    for t, value in enumerate(x, start=1):
        variance_before = (0.25 + squares) / t  # sigma2_hat_{t-1} = (1/4 + sum_{i<t} (x_i - mu_i)^2) / t
        horizon = t * math.log(1 + t) if fixed_n is None else fixed_n
        bets.append(math.sqrt(2 * math.log(2 / alpha) / (variance_before * horizon)))
        total += value
        squares += (value - (0.5 + total) / (t + 1)) ** 2
    inside = []
    for m in grid:
        log_up = log_down = 0.0
        for value, bet in zip(x, bets):
            up = bet if m == 0 else min(bet, BET_TRUNCATION / m)
            down = bet if m == 1 else min(bet, BET_TRUNCATION / (1 - m))
            log_up += math.log1p(up * (value - m))
            log_down += math.log1p(-down * (value - m))
        inside.append(max(log_up, log_down) < math.log(2 / alpha))
    kept = grid[np.array(inside)]
    return kept.min(), kept.max()


@pytest.mark.parametrize(
    "values",
    [
        [1.0] * 10,
        [0.9, 0.95, 1.0, 0.85] * 6,
        list(np.random.default_rng(3).beta(5, 2, 40)),
        [0.5, 0.5, 1.0, 0.0, 0.5, 0.5, 0.5, 1.0, 0.5, 0.5, 0.5, 0.5],
    ],
)
def test_betting_interval_matches_a_loop_by_loop_reference(values):
    low, high = betting_interval(values)
    expected_low, expected_high = reference_interval(values, 0.05, fixed_n=len(values))
    assert low == pytest.approx(expected_low, abs=3e-4) and high == pytest.approx(expected_high, abs=3e-4)


def test_sequence_matches_the_reference_at_its_looks():
    differences = np.random.default_rng(4).choice([-1.0, 0.0, 1.0], p=[0.1, 0.7, 0.2], size=30)
    low, high = sequential_interval(differences, looks=[10, 20, 30])
    unit = (differences + 1) / 2
    raw = [reference_interval(unit[:look], 0.05) for look in (10, 20, 30)]
    running_low = np.maximum.accumulate([2 * r[0] - 1 for r in raw])
    running_high = np.minimum.accumulate([2 * r[1] - 1 for r in raw])
    np.testing.assert_allclose(low, running_low, atol=1e-3), np.testing.assert_allclose(high, running_high, atol=1e-3)


def test_no_disagreement_is_honest_at_small_n_and_tightens():
    low, high = sequential_interval(np.zeros(500), looks=[10, 50, 100, 500])
    assert high[0] > 0.4  # 10 agreeing examples prove little; wider than Tango's fixed-n 0.28
    assert high[0] > paired_difference_interval(0, 0, 10)[1]
    assert np.all(np.diff(high) < 0) and high[-1] < 0.02
    np.testing.assert_allclose(low, -high)  # symmetric data, symmetric sequence


def test_anytime_interval_is_wider_than_the_fixed_n_interval_it_replaces():
    # The price of looking after every block: at the last look the CS is wider than Tango's interval.
    differences = np.random.default_rng(0).choice([-1.0, 0.0, 1.0], p=[0.05, 0.85, 0.10], size=500)
    low, high = sequential_interval(differences, looks=[500])
    b, c = int((differences == 1).sum()), int((differences == -1).sum())
    tango_low, tango_high = paired_difference_interval(b, c, 500)
    assert low[0] < tango_low and high[0] > tango_high


def test_planned_looks():
    assert planned_looks(50, 500) == list(range(50, 501, 50))
    assert planned_looks(50, 120) == [50, 100, 120]
    assert planned_looks(200, 100) == [100]


def _drops(seed, p_b, p_c, n=500):
    return np.random.default_rng(seed).choice([1.0, -1.0, 0.0], p=[p_b, p_c, 1 - p_b - p_c], size=n)


def test_sequential_gate_passes_early_when_the_student_is_as_robust():
    result = sequential_decision(_drops(0, 0.03, 0.03), 0.10, "at_most", block_size=50, max_n=500)
    assert result.stopped and result.decision.passed and result.decision.outcome == "PASS"
    assert result.n_used < 500 and result.reason == f"decided PASS after {result.n_used} of 500 examples"
    assert result.looks == tuple(range(50, result.n_used + 1, 50)) and result.highs[-1] <= 0.10


def test_sequential_gate_fails_early_when_the_student_breaks():
    result = sequential_decision(_drops(1, 0.40, 0.02), 0.10, "at_most", block_size=50, max_n=500)
    assert result.stopped and not result.decision.passed and result.decision.outcome == "FAIL"
    assert result.n_used < 500 and result.lows[-1] > 0.10 and result.reason.startswith("decided FAIL after")


def test_sequential_gate_on_the_limit_runs_to_the_cap_and_applies_the_rule():
    values = _drops(2, 0.15, 0.05)
    rules = (("three-way", "fail", False), ("three-way", "pass", True), ("confident", "fail", False))
    for rule, policy, passed in rules:
        result = sequential_decision(values, 0.10, "at_most", block_size=50, max_n=500, rule=rule, inconclusive=policy)
        assert result.n_used == 500 and result.stopped
        assert result.reason == "reached the cap of 500 examples, INCONCLUSIVE"
        assert result.decision.passed is passed and result.decision.outcome == "INCONCLUSIVE"
    by_estimate = sequential_decision(values, 0.10, "at_most", block_size=50, max_n=500)
    assert by_estimate.decision.passed == (values.mean() <= 0.10)


def test_sequential_gate_on_a_prefix_asks_for_another_block():
    values = _drops(0, 0.03, 0.03)
    first = sequential_decision(values[:50], 0.10, "at_most", block_size=50, max_n=500)
    assert not first.stopped and first.reason == "INCONCLUSIVE after 50 of 500 examples: attack another block"
    full = sequential_decision(values, 0.10, "at_most", block_size=50, max_n=500)
    prefix = sequential_decision(values[: full.n_used], 0.10, "at_most", block_size=50, max_n=500)
    assert prefix == full  # deciding on the fly and offline agree


def test_ten_attacked_examples_cannot_pass_confidently():
    result = sequential_decision(np.zeros(10), 0.10, "at_most", block_size=10, max_n=10, rule="confident")
    assert result.decision.outcome == "INCONCLUSIVE" and not result.decision.passed
    assert result.reason == "reached the cap of 10 examples, INCONCLUSIVE"


def test_sequential_gate_is_deterministic():
    values = _drops(7, 0.1, 0.05)
    assert sequential_decision(values, 0.10, "at_most", block_size=25, max_n=500) == sequential_decision(
        values.copy(), 0.10, "at_most", block_size=25, max_n=500
    )


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: sequential_decision(np.zeros(75), 0.1, "at_most", block_size=50, max_n=500), "whole number of blocks"),
        (
            lambda: sequential_decision(np.zeros(600), 0.1, "at_most", block_size=50, max_n=500),
            "whole number of blocks",
        ),
        (lambda: sequential_decision(np.zeros((2, 50)), 0.1, "at_most", block_size=50, max_n=500), "1-D"),
        (lambda: sequential_decision(np.full(50, 2.0), 0.1, "at_most", block_size=50, max_n=500), "[-1.0, 1.0]"),
        (lambda: sequential_decision(np.zeros(50), 0.1, "at_most", block_size=0, max_n=500), "positive whole numbers"),
        (lambda: sequential_interval(np.zeros(10), looks=[5, 3]), "increasing"),
        (lambda: sequential_interval(np.zeros(10), looks=[5, 11]), "between 1 and 10"),
        (lambda: betting_interval([0.5, np.nan]), "lie in [0.0, 1.0]"),
        (lambda: betting_interval(np.zeros((2, 3))), "1-D"),
        (lambda: betting_interval([0.5], lower=1.0, upper=0.0), "lower < upper"),
    ],
)
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(LoyaltyError) as error:
        call()
    assert words in str(error.value)


def test_sequential_examples_to_decide_is_the_first_block_that_decides():
    import numpy as np

    from loyalty_tests.stats.intervals import three_way_outcome
    from loyalty_tests.stats.sequential import planned_looks, sequential_examples_to_decide, sequential_interval

    values = np.array([1.0] * 3 + [-1.0] * 4 + [0.0] * 43)
    n = sequential_examples_to_decide(values, 0.10, "at_most", block_size=25)

    def outcome(m):
        low, high = sequential_interval(np.resize(values, m), looks=planned_looks(25, m))
        return three_way_outcome(float(low[-1]), float(high[-1]), 0.10, "at_most")

    assert n % 25 == 0 and outcome(n) == "PASS" and outcome(n - 25) == "INCONCLUSIVE"
    # it costs more than the fixed-size answer: anytime validity is paid for in width
    from loyalty_tests.stats.sample_size import paired_examples_to_decide

    assert n > paired_examples_to_decide(3, 4, 50, 0.10)
    assert sequential_examples_to_decide([0.1] * 10, 0.10, "at_most", block_size=5) is None  # on the limit
