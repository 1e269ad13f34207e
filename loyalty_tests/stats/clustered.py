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
  then undercovers. The interval is the *score* interval under the metric's working variance
  function ``v``: the values r that the t-test with the standard error rescaled to r does not
  reject, ``|R - r| <= t se sqrt(v(r) / v(R))``. ``transform`` names the kind of mean:

  - ``identity``, differences that take either sign (NLL differences); v constant: ``R +- t se``.
  - ``log``, positive means (KL); ``v(r) = r^2``, a constant coefficient of variation:
    ``[R / (1 + c), R / (1 - c)]`` with ``c = t se / R``, unbounded above once c >= 1.
  - ``logit``, shares in [0, 1]; ``v(r) = r (1 - r)``: Wilson's interval at the effective sample
    size ``R (1 - R) / se^2`` (the design-effect Wilson interval, cf. Korn & Graubard 1998; the
    quasi-binomial form of ``stats.bounded_means``).
- ``cluster_bootstrap_interval``: resample whole texts with replacement (seeded) and take the
  percentile interval of the resampled ratios (kept for comparison in the benchmark).

Why the score interval (since 2026-12-03; before, the Wald interval on the log / logit scale from
the same standard error). Per-text KL is right-skewed and heavy-tailed (in the benchmark the
texts' residual totals have skewness 3.4 and kurtosis 42), so the estimate and its standard error
rise and fall together: a corpus that happens to lack the worst texts has a low mean *and* a small
standard error, and at 20 texts the truth lay above the Wald interval 5.0% of the time and below
it 1.2%: a mean-KL gate that passed too easily. Testing each r with the standard error it implies
(r / R times the one observed) lengthens the upper side: 3.1% above, 2.3% below. It is the
Wald interval on the 1 / R scale, the same as on the log scale to first order (for a gamma mean
of known shape the exact interval lies between the two). For shares the two forms cover within
0.001 of each other; Wilson's is used for one rule across the metrics.

Tried and not used (same benchmark, 2026-12-03): the skewness-corrected t (Johnson 1978; Hall
1992's monotone cubic) with the sample skewness of the residual totals: 20-100 texts do not show
the tail (median sample skewness 0.9 at 20 texts and 1.7 at 100, against 3.4), so on the log
scale the correction nearly cancels and KL at 20 texts covered 0.93; the studentized cluster
bootstrap (bootstrap-t, 999 resamples): about 0.93 at 20 texts for every metric; its symmetric
form reached 0.95 for KL (on the 1 / R scale) by moving the lower end only, the truth still
above it 3.4% of the time at 100 texts, and on the logit scale missed shares below 3.4%; the
unrestricted wild cluster bootstrap-t (Rademacher, Mammen, Webb weights): 0.86-0.94 at 20 texts;
Satterthwaite degrees of freedom under a random-effects working model (Imbens & Kolesar 2016):
0.975 for shares and 0.965 for KL at 20 texts.

Coverage of 95% intervals, from ``benchmarks/bench_lm_coverage.py --runs 10000`` (token counts
1 + geometric with mean 30, text-level effects; Monte Carlo error about 0.002; 2026-12-03), at
20 / 100 / 500 texts, with how often the truth lay below / above this interval at 20 texts:

    metric (working variance)    this interval          below / above  before: Wald on log / logit
    agreement share (r (1 - r))  0.959 / 0.945 / 0.951  0.023 / 0.018  0.960 / 0.946 / 0.951
    lognormal KL (r^2)           0.946 / 0.943 / 0.951  0.023 / 0.031  0.938 / 0.942 / 0.949
    NLL difference (constant)    0.954 / 0.951 / 0.947  0.024 / 0.023  (the same)

For contrast: CR1 with t(G - 1) 0.89-0.95 (KL 0.894 at 20 texts), the percentile cluster
bootstrap 0.86-0.96 (300 runs; KL 0.860 at 20 texts), tokens treated as independent 0.52-0.74.
Beyond these shapes (the benchmark's last rows): a share peaked near 1 (rate ~ Beta(18, 2))
0.951 / 0.942 / 0.951; KL with a heavier token tail (log-sd 1.5) 0.941 / 0.936 / 0.942 (Wald
0.929 / 0.933 / 0.942); KL with twice the text effect (log-sd 1.0) 0.924 / 0.923 / 0.933 (Wald
0.898 / 0.911 / 0.929), the truth above the interval 4.0-5.1% of the time (Wald 6.0-9.1%). Where
per-text KL is that heavy-tailed, 20-500 texts do not show its tail and the upper end stays
somewhat low: gate mean KL on as many texts as the budget allows.

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
    ``transform``: the kind of mean, which sets the score interval's working variance (module
    docstring). With a single text the interval is unbounded (one cluster says nothing about the
    next).

    >>> estimate, low, high = cluster_ratio_interval([3, 5, 4, 9], [4, 6, 5, 10])
    >>> round(estimate, 4), round(low, 4), round(high, 4)
    (0.84, 0.6753, 1.0047)
    >>> [round(x, 4) for x in cluster_ratio_interval([3, 5, 4, 9], [4, 6, 5, 10], transform="logit")]
    [0.84, 0.6222, 0.9436]
    >>> [round(x, 4) for x in cluster_ratio_interval([3, 5, 4, 9], [4, 6, 5, 10], transform="log")]
    [0.84, 0.7023, 1.0448]
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
    return (estimate, *_score_interval(estimate, standard_error, quantile, transform))


def _score_interval(estimate: float, standard_error: float, quantile: float, transform: str):
    """The score interval ``{r : |estimate - r| <= quantile * standard_error * sqrt(v(r) / v(estimate))}``
    for the transform's working variance function ``v`` (module docstring), in closed form."""
    half = quantile * standard_error
    if transform == "log" and estimate > 0:
        # v(r) = r^2: |estimate - r| <= c r with c the relative half-width. From c = 1 on, no value
        # above the estimate is rejected (its own standard error grows with it): unbounded above.
        c = half / estimate
        return estimate / (1 + c), (estimate / (1 - c) if c < 1 else math.inf)
    if transform == "logit" and 0 < estimate < 1:
        # v(r) = r (1 - r): Wilson's interval with q^2 / n_eff for z^2 / n, n_eff = v(estimate) / se^2.
        ratio = half**2 / (estimate * (1 - estimate))
        centre = (estimate + ratio / 2) / (1 + ratio)
        spread = math.sqrt(ratio * (estimate * (1 - estimate) + ratio / 4)) / (1 + ratio)
        return centre - spread, centre + spread
    # identity (v constant), or an estimate on the edge of the transform's range (a share of exactly 1)
    return estimate - half, estimate + half


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
