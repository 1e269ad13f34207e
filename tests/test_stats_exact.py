"""FAIL outcomes at the limit, summed exactly over every outcome: at most 2.5% at every n >= 5."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binom

from loyalty_tests.stats.exact import (
    clopper_pearson_interval,
    gate_paired_interval,
    paired_fail_probability,
    proportion_fail_probability,
)
from loyalty_tests.stats.intervals import _wilson, normal_quantile, three_way_outcome

SIZES = list(range(5, 61)) + [100, 200, 400, 854]


@pytest.mark.parametrize(
    "limit, direction",
    [
        (0.90, "at_least"),
        (0.95, "at_least"),
        (0.80, "at_least"),
        (0.05, "at_most"),
        (0.02, "at_most"),
        (0.10, "at_most"),
    ],
)
def test_proportion_gates_fail_at_the_limit_at_most_2_5_percent(limit, direction):
    # label loyalty (at least) and the negative flip rate (at most), summed over every count k
    for n in SIZES:
        k = np.arange(n + 1)
        outcomes = [three_way_outcome(*clopper_pearson_interval(int(i), n), limit, direction) for i in k]
        fail = binom.pmf(k, n, limit)[np.array(outcomes) == "FAIL"].sum()
        assert fail <= 0.025, (n, fail)
        assert proportion_fail_probability(n, limit, direction) == pytest.approx(fail, abs=1e-12)


def test_the_sum_does_catch_wilson_over_its_level():
    # the check is not vacuous: the same sum over Wilson's interval exceeds 2.5% (the 7.0% at n = 10)
    z, n, limit = normal_quantile(0.95), 10, 0.90
    k = np.arange(n + 1)
    _, high = _wilson(k, n, z)
    assert binom.pmf(k, n, limit)[high < limit].sum() > 0.05


@pytest.mark.parametrize("limit", [0.02, 0.05, 0.10, 0.20])
def test_the_accuracy_drop_gate_fails_at_the_limit_at_most_2_5_percent(limit):
    for n in SIZES:
        assert paired_fail_probability(n, limit, grid=31) <= 0.025, n
    assert paired_fail_probability(200, 0.02, continuity=0.0, grid=31) > 0.03  # uncorrected Tango is over


def test_clopper_pearson_matches_beta_quantiles_and_never_collapses():
    from scipy.stats import beta

    low, high = clopper_pearson_interval(7, 20)
    assert low == pytest.approx(beta.ppf(0.025, 7, 14)) and high == pytest.approx(beta.ppf(0.975, 8, 13))
    assert clopper_pearson_interval(0, 10)[1] > 0.25 and clopper_pearson_interval(10, 10)[0] < 0.75
    low, high = gate_paired_interval(0, 0, 854)
    assert 0 < high < 0.01 and low == -high
