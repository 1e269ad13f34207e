"""The probability-loyalty gate's interval: a score interval for the mean of values in [0, 1]
whose variance is the one the data show, not the largest they could have.

``intervals.bounded_mean_interval`` assumes the Bernoulli variance mu (1 - mu), the most a
[0, 1] variable can have. Per-example probability loyalty varies far less (Beta-like values
near 1), so that interval was about 4.5 times too wide at n = 854 and covered 0.995-1.000: a
10-point shortfall never failed at n = 10. This one keeps the score form but scales the
Bernoulli variance by the dispersion the sample shows (a quasi-binomial model, McCullagh &
Nelder 1989, section 9.2):

    { mu : (mean - mu)^2 <= t^2 phi mu (1 - mu) / n },   phi = s2 / (m (1 - m)),

with t the Student quantile on n - 1 degrees of freedom. For Beta values the variance is exactly
proportional to mu (1 - mu), so the interval bends the way their skew does (longer towards 0.5),
which a symmetric t-interval does not. ``s2`` is smoothed with a quarter of a pseudo-observation
at the Bernoulli bound of ``m = (sum + 1/2) / (n + 1)``, so ten values of exactly 1.0 still give
a non-zero width (one value gives phi = 1, the Bernoulli bound):

    s2 = (sum (x - mean)^2 + c m (1 - m)) / (n - 1 + c),   c = 1/4,   phi <= 1.

Measured (benchmarks/bench_intervals.py, part of bench_verdicts.py --all, 10,000 runs each of
Beta(20,1), (5,1), (50,2), (2,2), (1,3), (0.5,0.5) at n = 30, 100, 854; 2026-12-03): coverage
0.940-0.969 (target 0.94-0.97), and 1.00x the t-interval's width at n = 854. Its limit, shared
by every interval that adapts to the spread it sees: when a few values sit far below the rest (3%
flips uniform in 0.3-0.7 among Beta(50, 1) values), a sample of 30 often holds none of them, and
coverage falls to 0.63 at n = 30, 0.88 at n = 100 and 0.94 at n = 854 (10% flips: 0.89 / 0.93 /
0.95). The flips themselves are gated exactly by label loyalty and the negative flip rate.
c = 1/4 was chosen from a grid (0.1, 0.25, 0.35, 0.5, 1) as the one closest to
0.94-0.97 for every Beta case from n = 30; larger c over-covers low-variance values at n = 30,
smaller c under-covers skewed ones.
"""

from __future__ import annotations

import numpy as np

from .intervals import _bounded_values, _check_confidence, _result

PSEUDO_OBSERVATIONS = 0.25  # c above


def dispersion_parts(values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, phi, n) per row of ``values`` (1-D: one row)."""
    array = np.asarray(values, dtype=np.float64)
    n = array.shape[-1]
    mean = array.mean(axis=-1)
    squares = ((array - mean[..., None]) ** 2).sum(axis=-1)
    smoothed = (array.sum(axis=-1) + 0.5) / (n + 1.0)
    bound = smoothed * (1.0 - smoothed)
    variance = (squares + PSEUDO_OBSERVATIONS * bound) / (n - 1.0 + PSEUDO_OBSERVATIONS)
    return mean, np.minimum(variance / bound, 1.0), np.full(mean.shape, float(n))


def _score_bounds(mean, phi, n, confidence: float):
    """Wilson's formula at the effective size n / phi, with Student's t for z."""
    from scipy.special import stdtrit  # Student t quantile

    mean, phi, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (mean, phi, n)))
    t = stdtrit(np.maximum(n - 1.0, 1.0), 0.5 + confidence / 2.0)
    effective, t2 = n / phi, t * t
    centre = (mean + t2 / (2.0 * effective)) / (1.0 + t2 / effective)
    half = (
        t
        / (1.0 + t2 / effective)
        * np.sqrt(np.maximum(mean * (1.0 - mean), 0.0) / effective + t2 / (4.0 * effective * effective))
    )
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def dispersion_score_interval(values, confidence: float = 0.95):
    """CI for the mean of per-example values in [0, 1] (probability loyalty), the score interval
    with the sample's own dispersion (module docstring). 2-D ``values`` give one interval per row.

    >>> [round(bound, 4) for bound in dispersion_score_interval([0.9, 0.95, 1.0, 0.85] * 25)]
    [0.913, 0.9354]
    >>> low, high = dispersion_score_interval([1.0] * 10)  # no variation seen: still not [1, 1]
    >>> round(low, 3), high
    (0.986, 1.0)
    """
    _check_confidence(confidence)
    array = _bounded_values("values", values)
    return _result(*_score_bounds(*dispersion_parts(array), confidence))
