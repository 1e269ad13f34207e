"""The intervals the proportion gates use, and their error at the limit summed exactly.

A gate's FAIL outcome is a one-sided test at 2.5% (the upper end of a 95% CI below an "at least"
limit, or the lower end above an "at most" one). For a gate on a proportion the chance of that
outcome when the truth sits on the limit is a finite sum over the binomial (or, for a paired
difference, trinomial) outcomes, so it can be computed rather than simulated:

    P(FAIL | p = limit) = sum over k of Binomial(k; n, limit) * [interval(k, n) misses the limit on the bad side]

Wilson's score interval gives up to 8% at n = 5 and 10% at a 5% limit (n = 11): its normal
approximation is anti-conservative near 0 and 1. Clopper & Pearson's (1934) interval inverts
the exact binomial test, so the sum is at most 2.5% at every n and limit by construction
(``clopper_pearson_interval``; the label loyalty and negative flip rate gates). For the paired
difference (accuracy drop) no closed exact interval is practical; Tango's score interval with a
continuity correction of one count (``intervals.paired_difference_interval(continuity=1)``)
keeps the trinomial sum, maximised over the disagreement rate, under 2.5% at every n from 5 to
60 and at 100, 200, 400 and 854 for limits 0.02 to 0.20 (tests/test_stats_exact.py); without the
correction it reaches 4.9%.
"""

from __future__ import annotations

import numpy as np

from .intervals import (
    AT_LEAST,
    AT_MOST,
    _check_direction,
    _result,
    _tango_upper,
    normal_quantile,
    proportion_counts,
)

GATE_CONTINUITY = 1.0  # counts taken off |b - c - n delta| in the paired gates' Tango interval


def _clopper_pearson(successes, n, alpha: float):
    """Clopper-Pearson bounds for (possibly fractional) counts; no input checks (power search uses it)."""
    from scipy.special import betaincinv  # the inverse regularised incomplete beta: Beta quantiles

    successes, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (successes, n)))
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(successes <= 0, 0.0, betaincinv(np.maximum(successes, 1e-300), n - successes + 1.0, alpha / 2))
        high = np.where(
            successes >= n, 1.0, betaincinv(successes + 1.0, np.maximum(n - successes, 1e-300), 1.0 - alpha / 2)
        )
    return low, high


def clopper_pearson_interval(successes, n, confidence: float = 0.95):
    """Clopper & Pearson (1934) interval for a binomial proportion: the p whose one-sided exact
    binomial tests at ``(1 - confidence)/2`` do not reject, i.e. Beta quantiles

    ``low = B(alpha/2; k, n - k + 1)``, ``high = B(1 - alpha/2; k + 1, n - k)`` (0 and 1 at k = 0, n).

    Its FAIL outcome at the limit happens in at most 2.5% of runs at every n (module docstring);
    the price is width at small n: 10 of 10 gives [0.69, 1] where Wilson gives [0.72, 1].

    >>> [round(bound, 4) for bound in clopper_pearson_interval(10, 10)]
    [0.6915, 1.0]
    >>> [round(bound, 4) for bound in clopper_pearson_interval(45, 50)]
    [0.7819, 0.9667]
    """
    successes, n = proportion_counts(successes, n, confidence)
    return _result(*_clopper_pearson(successes, n, 1.0 - confidence))


def gate_paired_interval(b, c, n, confidence: float = 0.95):
    """The accuracy-drop gate's interval: Tango's with ``GATE_CONTINUITY`` (module docstring).

    >>> [round(bound, 4) for bound in gate_paired_interval(0, 0, 10)]
    [-0.4042, 0.4042]
    """
    from .intervals import paired_difference_interval

    return paired_difference_interval(b, c, n, confidence, continuity=GATE_CONTINUITY)


def _bad_side(low, high, limit: float, direction: str):
    """Outcomes whose interval is wholly on the failing side of the limit (a FAIL outcome)."""
    return high < limit - 1e-12 if direction == AT_LEAST else low > limit + 1e-12


def proportion_fail_probability(n: int, limit: float, direction: str, confidence: float = 0.95) -> float:
    """Exact chance of a FAIL outcome when the true proportion equals ``limit``: the binomial pmf
    summed over the counts whose Clopper-Pearson interval lies wholly on the bad side.

    >>> proportion_fail_probability(10, 0.9, "at_least") <= 0.025
    True
    """
    from scipy.stats import binom

    _check_direction(direction)
    k = np.arange(n + 1)
    low, high = _clopper_pearson(k, n, 1.0 - confidence)
    return float(binom.pmf(k, n, limit)[_bad_side(low, high, limit, direction)].sum())


def paired_fail_probability(
    n: int, limit: float, confidence: float = 0.95, continuity: float = GATE_CONTINUITY, grid: int = 61
) -> float:
    """Exact chance of a FAIL outcome of the drop gate ("at most" ``limit``) when the true drop
    equals the limit, maximised over the disagreement rate (the nuisance parameter) on ``grid``
    points: the trinomial pmf of (b, c, n - b - c) with P(b) = P(c) + limit, summed over the
    tables whose Tango interval lies wholly above the limit.

    >>> paired_fail_probability(20, 0.10) <= 0.025
    True
    """
    from scipy.special import gammaln

    b, c = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
    valid = b + c <= n
    z = normal_quantile(confidence)
    low = -_tango_upper(c.astype(float), b.astype(float), float(n), z, continuity)
    failing = valid & (low > limit + 1e-12)
    rest = np.maximum(n - b - c, 0)
    log_tables = gammaln(n + 1.0) - gammaln(b + 1.0) - gammaln(c + 1.0) - gammaln(rest + 1.0)
    worst = 0.0
    for p_c in np.linspace(0.0, (1.0 - limit) / 2.0, grid):
        p_b, p_rest = p_c + limit, 1.0 - limit - 2.0 * p_c
        with np.errstate(divide="ignore", invalid="ignore"):
            log_p = (
                log_tables
                + b * np.log(p_b)
                + np.where(c > 0, c * np.log(p_c), 0.0)
                + np.where(rest > 0, rest * np.log(p_rest), 0.0)
            )
        log_p = np.where(failing & np.isfinite(log_p), log_p, -np.inf)
        worst = max(worst, float(np.exp(log_p).sum()))
    return worst


__all__ = [
    "AT_LEAST",
    "AT_MOST",
    "GATE_CONTINUITY",
    "clopper_pearson_interval",
    "gate_paired_interval",
    "paired_fail_probability",
    "proportion_fail_probability",
]
