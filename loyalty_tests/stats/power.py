""" "About N examples would decide it in 80% of runs": the n at which a gate's own interval would be
PASS or FAIL in 80% of runs if the rates seen were the truth.

``sample_size`` answers a narrower question, the n at which a run whose estimate came out *exactly*
as now would decide; a real run's estimate scatters around the truth, so only about half of runs
decide there (48-61% measured for the old line). Here the scatter is counted:

* proportions (label loyalty, negative flip rate; Clopper-Pearson): the binomial pmf summed over
  the counts whose interval excludes the limit, exactly;
* paired differences (accuracy drop; Tango with continuity): seeded draws of the (b, c) table at
  the candidate n from the observed rates, the share whose interval excludes the limit;
* probability loyalty (dispersion score interval): the mean drawn from its normal law with the
  variance seen, the dispersion held;
* the sequential robustness gate: seeded bootstrap sequences of the observed differences and their
  confidence sequence at n;
* latency: ``speedup.rounds_for_power``.

The n returned is the smallest with share >= 80%, searched by doubling then bisection (the share
grows with n up to the binomial sawtooth), and always more than what was already spent: a gate
that is INCONCLUSIVE now needs more examples, never fewer. None when the estimate sits on the limit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .bounded_means import _score_bounds, dispersion_parts
from .exact import GATE_CONTINUITY, _clopper_pearson
from .intervals import AT_LEAST, _check_direction, _finite, _tango_upper, normal_quantile

POWER = 0.80
LARGEST = 10_000_000
DRAWS = 2000
_SEED = 20_261_203  # fixed: the same data always print the same N


def smallest_n(
    share_at: Callable[[int], float], spent: int, power: float = POWER, largest: int = LARGEST
) -> int | None:
    """Smallest n > ``spent`` with ``share_at(n) >= power`` (doubling, then bisection); None past ``largest``.

    >>> smallest_n(lambda n: min(1.0, n / 1000), spent=10)
    800
    """
    low, high = int(spent), max(int(spent) + 1, 1)
    while share_at(high) < power:
        if high >= largest:
            return None
        low, high = high, min(2 * high, largest)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if share_at(middle) >= power else (middle, high)
    return high


def _decided(low, high, limit: float, direction: str) -> np.ndarray:
    good, bad = (low, high) if direction == AT_LEAST else (-high, -low)
    bound = limit if direction == AT_LEAST else -limit
    return (good >= bound - 1e-12) | (bad < bound - 1e-12)


def proportion_examples_for_power(
    successes, n, limit: float, direction: str = AT_LEAST, confidence: float = 0.95, power: float = POWER
) -> int | None:
    """n at which the Clopper-Pearson gate decides in ``power`` of runs if p = successes / n,
    summed exactly over the binomial (within 10 standard deviations of its mean).

    >>> proportion_examples_for_power(44, 50, 0.90)  # label loyalty 0.88 against 0.90
    1964
    """
    from scipy.stats import binom

    p, limit = float(successes) / float(n), _finite("limit", limit)
    _check_direction(direction)
    if abs(p - limit) <= 1e-12:
        return None

    def share_at(m: int) -> float:
        spread = 10.0 * math.sqrt(m * p * (1.0 - p)) + 2.0
        k = np.arange(max(0, math.floor(m * p - spread)), min(m, math.ceil(m * p + spread)) + 1)
        low, high = _clopper_pearson(k, m, 1.0 - confidence)
        return float(binom.pmf(k, m, p)[_decided(low, high, limit, direction)].sum())

    return smallest_n(share_at, int(n), power)


def paired_examples_for_power(
    b,
    c,
    n,
    limit: float,
    direction: str = "at_most",
    confidence: float = 0.95,
    power: float = POWER,
    draws: int = DRAWS,
) -> int | None:
    """n at which the accuracy-drop gate (Tango with continuity) decides in ``power`` of runs if
    the rates b/n and c/n were the truth: seeded trinomial draws at each candidate n.

    >>> paired_examples_for_power(12, 3, 200, 0.02)  # drop 0.045 against 0.02
    933
    """
    limit, z = _finite("limit", limit), normal_quantile(confidence)
    _check_direction(direction)
    rates = np.array([b, c, n - b - c], dtype=np.float64) / float(n)
    if abs(rates[0] - rates[1] - limit) <= 1e-12:
        return None

    def share_at(m: int) -> float:
        tables = np.random.default_rng(_SEED).multinomial(m, rates, size=draws).astype(np.float64)
        low = -_tango_upper(tables[:, 1], tables[:, 0], float(m), z, GATE_CONTINUITY)
        high = _tango_upper(tables[:, 0], tables[:, 1], float(m), z, GATE_CONTINUITY)
        return float(_decided(low, high, limit, direction).mean())

    return smallest_n(share_at, int(n), power)


def mean_examples_for_power(
    values, limit: float, direction: str = AT_LEAST, confidence: float = 0.95, power: float = POWER, draws: int = DRAWS
) -> int | None:
    """n at which the probability-loyalty gate decides in ``power`` of runs if the values' mean
    and spread were the truth: the mean drawn from its normal law at n, the dispersion held.

    >>> mean_examples_for_power([0.9, 0.8, 0.95, 0.7, 1.0] * 4, 0.85)
    271
    """
    array = np.asarray(values, dtype=np.float64)
    limit = _finite("limit", limit)
    _check_direction(direction)
    mean, phi, _ = (float(v) for v in dispersion_parts(array))
    if abs(mean - limit) <= 1e-12:
        return None
    sd = float(array.std(ddof=1)) if array.size > 1 else 0.0
    normals = np.random.default_rng(_SEED).standard_normal(draws)

    def share_at(m: int) -> float:
        means = np.clip(mean + sd / math.sqrt(m) * normals, 0.0, 1.0)
        return float(_decided(*_score_bounds(means, phi, m, confidence), limit, direction).mean())

    return smallest_n(share_at, array.size, power)


def normal_examples_for_power(
    value: float, low: float, high: float, n: int, limit: float, confidence: float = 0.95, power: float = POWER
) -> int | None:
    """n at which an interval whose half-width shrinks as 1/sqrt(n) (a clustered, bootstrap or
    t-type interval of a mean) decides in ``power`` of runs if ``value`` were the truth: its
    standard error is the half-width over z, the estimate scatters normally with it, and a run
    decides once z standard errors fit between the estimate and the limit, so
    ``n (z + z_power)^2 se^2 / distance^2``. None when the estimate sits on the limit or the
    interval is unbounded; always more than the ``n`` already spent.

    >>> normal_examples_for_power(0.10, 0.06, 0.14, 100, 0.12)  # half-width 0.04, distance 0.02
    818
    """
    distance = abs(value - limit)
    if distance == 0 or not all(map(math.isfinite, (value, low, high))):
        return None
    z = normal_quantile(confidence)
    standard_error = (high - low) / 2 / z
    spread = (z + normal_quantile(2 * power - 1)) * standard_error / distance  # one-sided power quantile
    return max(int(n) + 1, math.ceil(round(n * spread**2, 9)))  # round: 4.000000001 is 4


def sequential_examples_for_power(
    values,
    limit: float,
    direction: str,
    *,
    block_size: int,
    confidence: float = 0.95,
    lower: float = -1.0,
    upper: float = 1.0,
    power: float = POWER,
    draws: int = 200,
    largest: int = 20_000,
) -> int | None:
    """Examples (a whole number of blocks) at which the sequential robustness gate decides in
    ``power`` of runs: seeded bootstrap sequences of the differences seen, their confidence
    sequence at n (the running intersection left out, which only widens it: the n is if anything
    high).

    >>> sequential_examples_for_power([0.0] * 50, 0.10, "at_most", block_size=25)  # an identical student
    75
    """
    from .sequential import _bets, _interval_at_looks, _unit_values

    array = np.asarray(values, dtype=np.float64)
    if abs(float(array.mean()) - float(limit)) <= 1e-12:
        return None
    alpha = 1.0 - confidence
    rng = np.random.default_rng(_SEED)
    pool = rng.integers(0, array.size, size=(draws, largest))

    def share_at(blocks: int) -> float:
        m = blocks * block_size
        x = _unit_values(array[pool[:, :m]], lower, upper)
        low, high = _interval_at_looks(x, _bets(x, alpha, None), np.array([m]), alpha)
        scale = upper - lower
        return float(_decided(lower + scale * low[:, 0], lower + scale * high[:, 0], limit, direction).mean())

    blocks = smallest_n(share_at, math.ceil(array.size / block_size), power, largest // block_size)
    return None if blocks is None else blocks * block_size
