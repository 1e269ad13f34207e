"""'About N examples would decide it in 80% of runs': simulated runs at the printed N decide 75-85%."""

from __future__ import annotations

import numpy as np
import pytest

from loyalty_tests.stats.bounded_means import dispersion_score_interval
from loyalty_tests.stats.exact import clopper_pearson_interval, gate_paired_interval
from loyalty_tests.stats.intervals import three_way_outcome
from loyalty_tests.stats.power import (
    mean_examples_for_power,
    paired_examples_for_power,
    proportion_examples_for_power,
    sequential_examples_for_power,
    smallest_n,
)

RUNS = 600


def share_decided(intervals, limit, direction):
    return np.mean([three_way_outcome(low, high, limit, direction) != "INCONCLUSIVE" for low, high in intervals])


@pytest.mark.parametrize(
    "successes, n, limit, direction",
    [(44, 50, 0.90, "at_least"), (45, 50, 0.85, "at_least"), (4, 100, 0.05, "at_most"), (7, 60, 0.05, "at_most")],
)
def test_the_printed_n_decides_about_80_percent_of_proportion_runs(successes, n, limit, direction):
    needed = proportion_examples_for_power(successes, n, limit, direction)
    assert needed > n  # more than was spent
    rng = np.random.default_rng(1)
    counts = rng.binomial(needed, successes / n, size=RUNS)
    assert 0.75 <= share_decided([clopper_pearson_interval(int(k), needed) for k in counts], limit, direction) <= 0.85


@pytest.mark.parametrize("b, c, n, limit", [(12, 3, 200, 0.02), (3, 0, 50, 0.10), (20, 18, 300, 0.02)])
def test_the_printed_n_decides_about_80_percent_of_paired_runs(b, c, n, limit):
    needed = paired_examples_for_power(b, c, n, limit)
    assert needed > n
    tables = np.random.default_rng(2).multinomial(needed, [b / n, c / n, 1 - (b + c) / n], size=RUNS)
    intervals = [gate_paired_interval(int(x), int(y), needed) for x, y, _ in tables]
    assert 0.75 <= share_decided(intervals, limit, "at_most") <= 0.85


@pytest.mark.parametrize("a, b, limit", [(20, 1, 0.94), (5, 1, 0.80)])
def test_the_printed_n_decides_about_80_percent_of_probability_loyalty_runs(a, b, limit):
    rng = np.random.default_rng(3)
    seen = rng.beta(a, b, 40)
    needed = mean_examples_for_power(seen, limit)
    assert needed > 40
    # the runs draw from the distribution the 40 values stand for: resample them
    runs = [dispersion_score_interval(rng.choice(seen, needed)) for _ in range(300)]
    assert 0.75 <= share_decided(runs, limit, "at_least") <= 0.85


def test_the_sequential_gate_prints_whole_blocks_beyond_what_it_spent():
    needed = sequential_examples_for_power([0.0] * 50, 0.10, "at_most", block_size=25)
    assert needed % 25 == 0 and needed > 50
    assert sequential_examples_for_power([0.1] * 10, 0.10, "at_most", block_size=5) is None


def test_smallest_n_never_returns_what_was_spent_or_less():
    assert smallest_n(lambda n: 1.0, spent=100) == 101
    assert smallest_n(lambda n: 0.0, spent=10, largest=1000) is None
    assert proportion_examples_for_power(45, 50, 0.90) is None  # on the limit


def test_normal_examples_for_power_decides_80_percent_of_runs_with_the_estimate_as_truth():
    """The interval's half-width shrinks as 1/sqrt(n) and the estimate scatters with its standard
    error: at the printed N, 80% of simulated runs put the interval on one side of the limit."""
    from loyalty_tests.stats.power import normal_examples_for_power

    rng = np.random.default_rng(5)
    for value, half, n, limit in ((0.10, 0.04, 100, 0.12), (0.92, 0.03, 20, 0.90), (0.006, 0.002, 64, 0.007)):
        needed = normal_examples_for_power(value, value - half, value + half, n, limit)
        se = half / 1.959964 * np.sqrt(n / needed)
        estimates = value + se * rng.standard_normal(20000)
        decided = np.mean(np.abs(estimates - limit) > 1.959964 * se)
        assert needed > n and 0.78 <= decided <= 0.83, (value, needed, decided)
