"""Intervals for per-token means when tokens come in texts (clusters).

Tokens of one text are not independent (a text the student finds hard makes many bad tokens),
so an interval that treats n tokens as n independent draws is too narrow. A per-token mean over
a corpus is a ratio of per-text totals, ``R = sum_g y_g / sum_g n_g`` (``y_g`` the sum of the
token values in text g, ``n_g`` its token count), and both intervals here treat the *text* as
the unit that was sampled:

- ``cluster_ratio_interval`` (the one the token-loyalty gates use): the ratio estimator's
  cluster-robust variance with the jackknife-type small-sample correction (CR3, Bell & McCaffrey
  2002; Pustejovsky & Tipton 2018). For a mean, each text's residual total
  ``e_g = y_g - R n_g`` is inflated by its leverage ``h_g = n_g / N``:
  ``var(R) = sum_g e_g^2 / (1 - h_g)^2 / N^2``. Degrees of freedom come from Satterthwaite's
  approximation under a working model of independent tokens (``df = tr(B)^2 / tr(B^2)``,
  ``B = A^(1/2) (D - n n'/N) A^(1/2)``, ``A = diag(1 / ((1 - h_g)^2 N^2))``, ``D = diag(n_g)``): a few
  long texts leave fewer effective clusters than G, and a t quantile with G - 1 degrees of freedom
  then undercovers. The interval is built on a scale where the estimate is closer to normal and
  mapped back: ``logit`` for shares in [0, 1], ``log`` for positive means (KL), ``identity`` for
  differences that can take either sign (NLL differences).
- ``cluster_bootstrap_interval``: resample whole texts with replacement (seeded) and take the
  percentile interval of the resampled ratios (kept for comparison in the benchmark).

Coverage of 95% intervals, from ``benchmarks/bench_lm_coverage.py --runs 2000`` (token counts
1 + geometric with mean 30, text-level effects), at 20 / 100 / 500 texts:

    metric (scale)              this interval          CR1, t(G - 1)          tokens as independent
    agreement share (logit)     0.965 / 0.957 / 0.951  0.920 / 0.948 / 0.949  0.575 / 0.574 / 0.569
    lognormal KL (log)          0.931 / 0.951 / 0.946  0.886 / 0.934 / 0.944  0.531 / 0.522 / 0.528
    NLL difference (identity)   0.947 / 0.943 / 0.954  0.920 / 0.936 / 0.953  0.736 / 0.723 / 0.743

(Monte Carlo error about 0.005.) Off the 0.94-0.96 target: heavy-tailed KL at 20 texts
(0.931; the percentile cluster bootstrap was worse, 0.860) and shares at 20 texts (0.965,
on the safe side). Gate on 50 texts or more where the KL verdict matters.

An interval is degenerate (low = high = estimate) when every text has the same per-token mean,
e.g. a student identical to its teacher: there is then no spread to estimate, and the gates
compare the estimate itself with the limit.

"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as scipy_stats

from ..errors import LoyaltyError


def _totals(sums, counts) -> tuple[np.ndarray, np.ndarray]:
    sums, counts = np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    if sums.shape != counts.shape or sums.ndim < 1 or sums.shape[-1] == 0:
        raise LoyaltyError(
            f"per-text sums and token counts must be non-empty arrays of one shape, got {sums.shape} and {counts.shape}"
        )
    if (counts <= 0).any() or not np.isfinite(sums).all():
        raise LoyaltyError("every text needs at least one token and a finite total; drop empty texts first")
    return sums, counts


TRANSFORMS = ("identity", "log", "logit")


def cluster_ratio_interval(
    sums, counts, confidence: float = 0.95, transform: str = "identity"
) -> tuple[float, float, float]:
    """(estimate, low, high) for the per-token mean ``sum(sums) / sum(counts)``, texts as clusters.

    ``sums[g]``: text g's total of the token values; ``counts[g]``: its number of tokens;
    ``transform``: the scale the interval is built on (see the module docstring). With a single
    text the interval is unbounded (one cluster says nothing about the next).

    >>> estimate, low, high = cluster_ratio_interval([3, 5, 4, 9], [4, 6, 5, 10])
    >>> round(estimate, 4), round(low, 4), round(high, 4)
    (0.84, 0.6753, 1.0047)
    >>> [round(x, 4) for x in cluster_ratio_interval([3, 5, 4, 9], [4, 6, 5, 10], transform="logit")]
    [0.84, 0.6066, 0.947]
    """
    if transform not in TRANSFORMS:
        raise LoyaltyError(f"transform must be one of {', '.join(TRANSFORMS)}, got {transform!r}")
    sums, counts = _totals(sums, counts)
    if sums.ndim != 1:
        raise LoyaltyError("cluster_ratio_interval takes one corpus (1-D per-text arrays)")
    total = counts.sum()
    estimate = float(sums.sum() / total)
    if len(sums) < 2:
        return estimate, -math.inf, math.inf
    leverage = counts / total
    weights = 1.0 / ((1.0 - leverage) ** 2 * total**2)
    standard_error = math.sqrt(float((weights * (sums - estimate * counts) ** 2).sum()))
    trace = (weights * counts).sum() - (weights * counts**2).sum() / total
    trace_squared = ((weights**2) * (counts**2 - 2 * counts**3 / total)).sum() + (
        (weights * counts**2).sum() / total
    ) ** 2
    degrees = max(1.0, float(trace**2 / trace_squared))
    quantile = float(scipy_stats.t.ppf(0.5 + confidence / 2, degrees))
    if standard_error == 0.0:
        return estimate, estimate, estimate
    return (estimate, *_interval_on_scale(estimate, standard_error, quantile, transform))


def _interval_on_scale(estimate: float, standard_error: float, quantile: float, transform: str):
    """estimate +- quantile x standard error on the transform's scale (delta method), mapped back."""
    if transform == "log" and estimate > 0:
        spread = quantile * standard_error / estimate
        return estimate * math.exp(-spread), estimate * math.exp(spread)
    if transform == "logit" and 0 < estimate < 1:
        centre = math.log(estimate / (1 - estimate))
        spread = quantile * standard_error / (estimate * (1 - estimate))
        return 1 / (1 + math.exp(-(centre - spread))), 1 / (1 + math.exp(-(centre + spread)))
    # identity, or an estimate on the edge of the transform's range (a share of exactly 1)
    return estimate - quantile * standard_error, estimate + quantile * standard_error


def cluster_bootstrap_interval(
    sums, counts, confidence: float = 0.95, *, n_resamples: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """(estimate, low, high): percentile interval of ``sum(sums) / sum(counts)`` over whole texts
    drawn with replacement (seeded: same inputs and seed, same interval).

    >>> estimate, low, high = cluster_bootstrap_interval([3, 5, 4, 9], [4, 6, 5, 10], seed=1)
    >>> round(estimate, 2), low <= estimate <= high
    (0.84, True)
    """
    sums, counts = _totals(sums, counts)
    if sums.ndim != 1:
        raise LoyaltyError("cluster_bootstrap_interval takes one corpus (1-D per-text arrays)")
    estimate = sums.sum() / counts.sum()
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(n_resamples, len(sums)))
    ratios = sums[picks].sum(axis=1) / counts[picks].sum(axis=1)
    low, high = np.quantile(ratios, [0.5 - confidence / 2, 0.5 + confidence / 2])
    return float(estimate), float(low), float(high)
