"""Verdict statistics: confidence intervals for the gated metrics, the three-way outcome of a CI
against a limit, and the decision rules that turn an outcome into pass / fail / warn.

Pure numpy (scipy only for the normal quantile); no torch. Every interval takes its counts or
values as numbers or numpy arrays (arrays broadcast, so simulations run vectorised) and returns
``(low, high)``. Which interval serves which gate, and why:

=====================  ==================================  ==========================================
gate                   data                                interval
=====================  ==================================  ==========================================
accuracy_drop,         paired binary outcomes: b = teacher  ``paired_difference_interval``: Tango's
robustness_drop        right & student wrong, c = the       (1998) score interval; needs only b, c, n
                       reverse, n examples                  and never collapses at b = c = 0
label_loyalty,         a binomial proportion                ``wilson_interval`` (Wilson 1927)
negative_flip_rate
probability_loyalty    mean of per-example values in        ``bounded_mean_interval``: the Wilson
                       [0, 1]                               score interval with the Bernoulli
                                                            variance bound mu(1 - mu)
=====================  ==================================  ==========================================

``sequential.py`` adds the anytime-valid interval for gates that stop early, ``speedup.py``
the latency interval, ``sample_size.py`` the n a verdict needs, ``flips.py`` flip accounting.

The outcome of a gate (``three_way_outcome``) is PASS when its whole CI is on the good side of the
limit, FAIL when the whole CI is on the bad side, INCONCLUSIVE otherwise; gates are inclusive (a
value equal to the limit is on the good side). ``decide`` applies the user's rule.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
AT_LEAST, AT_MOST = "at_least", "at_most"
DIRECTIONS = (AT_LEAST, AT_MOST)
RULES = ("estimate", "confident", "three-way")
INCONCLUSIVE_POLICIES = ("fail", "warn", "pass")
# A gate compares a mean (or a difference of means) with a limit typed in decimal; rounding such as
# 0.1 + 0.2 != 0.3 must not decide it (gates.py allows the same 1e-12).
BOUNDARY_TOLERANCE = 1e-12
# Bisection halves [estimate, 1] this often: 2**-64 is far below float64 spacing near 1.
_BISECTION_STEPS = 64


def normal_quantile(confidence: float) -> float:
    """Two-sided critical value ``z = Phi^-1((1 + confidence) / 2)`` of the standard normal.

    >>> round(normal_quantile(0.95), 6)
    1.959964
    """
    _check_confidence(confidence)
    from scipy.special import ndtri  # scipy is slow to import; only the quantile needs it

    return float(ndtri(0.5 + confidence / 2.0))


def _check_confidence(confidence) -> None:
    if not (isinstance(confidence, (int, float)) and 0.0 < confidence < 1.0):
        raise LoyaltyError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95), got {confidence!r}")


def _counts(name: str, value, allow_float: bool = False) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if not np.isfinite(array).all() or (array < 0).any():
        raise LoyaltyError(f"{name} must be a finite count >= 0, got {value!r}")
    if not allow_float and (array != np.round(array)).any():
        raise LoyaltyError(f"{name} must be a whole number of examples, got {value!r}")
    return array


def _result(low: np.ndarray, high: np.ndarray):
    """Floats for scalar input, arrays for array input."""
    if np.ndim(low) == 0:
        return float(low), float(high)
    return low, high


def _wilson(successes, n, z: float):
    """Wilson bounds for (possibly fractional) counts; no input checks (power search uses it)."""
    successes, n = np.asarray(successes, dtype=np.float64), np.asarray(n, dtype=np.float64)
    z2 = z * z
    centre = (successes + z2 / 2.0) / (n + z2)
    half = z / (n + z2) * np.sqrt(np.maximum(successes * (n - successes) / n, 0.0) + z2 / 4.0)
    # At 0 (or n) successes the bound is exactly 0 (or 1); rounding must not move it off.
    low = np.where(successes <= 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(successes >= n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def proportion_counts(successes, n, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """A proportion interval's inputs checked: whole counts with n >= 1 and 0 <= successes <= n.

    >>> [values.tolist() for values in proportion_counts(3, 10, 0.95)]
    [3.0, 10.0]
    """
    _check_confidence(confidence)
    successes, n = _counts("successes", successes), _counts("n", n)
    if (n < 1).any() or (successes > n).any():
        raise LoyaltyError(f"need n >= 1 and 0 <= successes <= n, got successes={successes}, n={n}")
    return successes, n


def wilson_interval(successes, n, confidence: float = 0.95):
    """Wilson (1927) score interval for a binomial proportion ``p = successes / n``: the set of
    p with ``|p_hat - p| <= z * sqrt(p (1 - p) / n)``, i.e.

    ``(p_hat + z^2/(2n) -+ z * sqrt(p_hat (1 - p_hat)/n + z^2/(4n^2))) / (1 + z^2/n)``.

    Unlike the Wald interval it never collapses at 0 or n successes: 10 of 10 gives
    [0.72, 1], so a perfect score on 10 examples cannot prove a proportion of at least 0.90.
    Equals statsmodels' ``proportion_confint(method="wilson")``. Coverage dips below nominal
    for p within about 1/n of 0 or 1 (Brown, Cai & DasGupta 2001, Statistical Science 16:101),
    measured in benchmarks/bench_coverage.py.

    >>> [round(bound, 4) for bound in wilson_interval(10, 10)]
    [0.7225, 1.0]
    >>> [round(bound, 4) for bound in wilson_interval(45, 50)]
    [0.7864, 0.9565]
    """
    successes, n = proportion_counts(successes, n, confidence)
    return _result(*_wilson(successes, n, normal_quantile(confidence)))


def _tango_null_variance(b, c, n, delta):
    """Per-pair variance of a paired difference under the null difference ``delta``:
    ``2 q + delta (1 - delta)``, q the restricted MLE of P(c-type pair), the positive root of
    ``2n q^2 + (-b - c + (2n - b + c) delta) q - c delta (1 - delta) = 0`` (Tango 1998). The
    equation is homogeneous in (b, c, n), so rates b/n, c/n with n = 1 give the same q."""
    quad_b = -b - c + (2.0 * n - b + c) * delta
    quad_c = -c * delta * (1.0 - delta)
    q = (np.sqrt(np.maximum(quad_b * quad_b - 8.0 * n * quad_c, 0.0)) - quad_b) / (4.0 * n)
    return np.maximum(2.0 * q + delta * (1.0 - delta), 0.0)


def _tango_upper(b, c, n, z: float, continuity: float = 0.0) -> np.ndarray:
    """Upper end of Tango's score interval, by bisection on [estimate, 1] (see the public function);
    ``continuity`` is subtracted from ``|b - c - n delta|`` (1: the gates' continuity-corrected form)."""
    b, c, n = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (b, c, n)))
    estimate = (b - c) / n
    inside, outside = estimate.copy(), np.ones_like(estimate)
    for _ in range(_BISECTION_STEPS):
        delta = (inside + outside) / 2.0
        variance = _tango_null_variance(b, c, n, delta)
        # Score statistic (b - c - n delta) / sqrt(n variance) >= -z, multiplied out (no 0/0).
        accepted = n * delta - (b - c) - continuity <= z * np.sqrt(n * variance)
        inside = np.where(accepted, delta, inside)
        outside = np.where(accepted, outside, delta)
    return np.where(estimate >= 1.0, 1.0, outside)


def paired_difference_interval(b, c, n, confidence: float = 0.95, continuity: float = 0.0):
    """Tango's (1998) score interval for the difference of two paired proportions, here the drop
    ``delta = teacher accuracy - student accuracy = (b - c) / n`` estimated on n paired examples
    with b = teacher right & student wrong, c = teacher wrong & student right.

    The interval is ``{delta : |b - c - n delta| <= z sqrt(n (2 q(delta) + delta (1 - delta)))}``
    where ``q(delta)`` is the maximum-likelihood P(c-type pair) under the null ``delta``, the
    positive root of ``2n q^2 + (-b - c + (2n - b + c) delta) q - c delta (1 - delta) = 0``.
    Why this one: it needs only (b, c, n), not the concordant split; it never collapses, at
    b = c = 0 it is ``+-z^2 / (n + z^2)`` (the Wilson bound for "no disagreement seen", 0.28 at
    n = 10), where bootstrap and Wald intervals give [0, 0]; at delta = 0 it is McNemar's test,
    so 0 lies outside it exactly when the uncorrected McNemar test rejects; and Fagerland,
    Lydersen & Laake (2014, Statistics in Medicine 33:2850) recommend it for small and large
    samples. ``continuity = 1`` (what the gates use, ``exact.GATE_CONTINUITY``) shrinks
    ``|b - c - n delta|`` by one count: the uncorrected interval gives a FAIL at the limit in up to
    4.9% of runs at n <= 400 (one-sided nominal 2.5%), the corrected one in at most 2.5% (summed
    exactly over all tables in tests/test_stats_exact.py). Newcombe's (1998) method 10 needs the
    concordant counts as well and has zero width at b = c = 0 when both outcomes occur. Tango,
    Statistics in Medicine 17:891 (1998).

    >>> [round(bound, 4) for bound in paired_difference_interval(0, 0, 10)]
    [-0.2775, 0.2775]
    >>> [round(bound, 4) for bound in paired_difference_interval(12, 3, 200)]
    [0.0081, 0.0892]
    """
    _check_confidence(confidence)
    b, c = _counts("b (teacher right, student wrong)", b), _counts("c (teacher wrong, student right)", c)
    n = _counts("n", n)
    if (n < 1).any() or (b + c > n).any():
        raise LoyaltyError(f"need n >= 1 and b + c <= n (b, c count examples among the n), got b={b}, c={c}, n={n}")
    z = normal_quantile(confidence)
    # Swapping b and c mirrors the problem (delta -> -delta), so the lower end is a mirrored upper end.
    return _result(-_tango_upper(c, b, n, z, continuity), _tango_upper(b, c, n, z, continuity))


def _bounded_values(name: str, values) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise LoyaltyError(f"{name} must be numbers in [0, 1], one per example: {error}") from None
    if array.ndim not in (1, 2) or array.size == 0:
        raise LoyaltyError(
            f"{name} must be a non-empty 1-D array (one value per example; 2-D: one row per "
            f"simulated run), got shape {array.shape}"
        )
    if not np.isfinite(array).all() or (array < 0).any() or (array > 1).any():
        raise LoyaltyError(
            f"{name} must lie in [0, 1] (e.g. per-example probability loyalty); "
            f"got values from {np.nanmin(array)!r} to {np.nanmax(array)!r} or NaN"
        )
    return array


def bounded_mean_interval(values, confidence: float = 0.95):
    """CI for the mean mu of values bounded in [0, 1] (per-example probability loyalty): the
    Wilson score interval evaluated at ``n * mean(values)`` "successes", i.e. the set of mu with
    ``|mean - mu| <= z sqrt(mu (1 - mu) / n)``.

    Why: any variable in [0, 1] with mean mu has variance at most mu (1 - mu) (Bhatia & Davis
    2000), reached by the Bernoulli, so this is the score interval with the largest variance the
    data could have. It stays honest where the sample variance is 0: ten values of 1.0 give
    [0.72, 1], not [1, 1] (ten values cannot rule out a rare low value). The price is width when
    the values vary little around a mean far from 0 and 1. Measured (benchmarks/bench_coverage.py,
    4000 seeded runs): coverage 0.93 for Bernoulli(0.9) values at n = 10 (Wilson's own dip) and
    0.96-1.00 in every other case tried (Bernoulli at n = 50, 500; Beta and "90% exactly 1.0"
    values at n = 10, 50, 500), where the t-interval and the bootstrap fall to 0.59-0.64 at
    n = 10 on the Bernoulli and "mostly 1.0" values. The betting interval of Waudby-Smith & Ramdas
    (2024), ``sequential.betting_interval``, never went below 0.99 and is narrower at n = 500 for
    low-variance values (0.020 vs 0.038 wide on Beta(20, 1)) but wider at n <= 50 (0.50 vs 0.34
    at n = 10); this one was chosen for its closed form and its narrower small-n intervals.
    2-D ``values`` (one row per simulated run) give one interval per row.

    >>> [round(bound, 4) for bound in bounded_mean_interval([1.0] * 10)]
    [0.7225, 1.0]
    >>> [round(bound, 4) for bound in bounded_mean_interval([0.9, 0.95, 1.0, 0.85] * 25)]
    [0.8562, 0.9623]
    """
    _check_confidence(confidence)
    array = _bounded_values("values", values)
    return _result(*_wilson(array.sum(axis=-1), array.shape[-1], normal_quantile(confidence)))


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise LoyaltyError(
            f"direction must be 'at_least' (value >= limit passes) or 'at_most' "
            f"(value <= limit passes), got {direction!r}"
        )


def _finite(name: str, value) -> float:
    """A real number (Python or numpy scalar, or a 0-d array), not NaN; inf is allowed (an unbounded CI end)."""
    array = np.asarray(value) if value is not None and not isinstance(value, (str, bytes)) else None
    if array is None or array.ndim != 0 or array.dtype.kind not in "biuf" or math.isnan(float(array)):
        raise LoyaltyError(f"{name} must be a number, got {value!r}: a gate cannot decide without it")
    return float(array)


def on_good_side(value: float, limit: float, direction: str) -> bool:
    """Is ``value`` on the passing side of ``limit``? Inclusive: ``value >= limit`` for
    "at_least", ``value <= limit`` for "at_most" (within ``BOUNDARY_TOLERANCE``).

    >>> on_good_side(0.9, 0.9, "at_least"), on_good_side(0.1 + 0.2, 0.3, "at_most")
    (True, True)
    """
    _check_direction(direction)
    if direction == AT_LEAST:
        return value >= limit - BOUNDARY_TOLERANCE
    return value <= limit + BOUNDARY_TOLERANCE


def three_way_outcome(low: float, high: float, limit: float, direction: str) -> str:
    """PASS when the whole CI [low, high] is on the good side of the limit (inclusive), FAIL
    when the whole CI is strictly on the bad side, INCONCLUSIVE when it straddles the limit.

    For "at_least": PASS if low >= limit, FAIL if high < limit; for "at_most": PASS if
    high <= limit, FAIL if low > limit.

    >>> three_way_outcome(0.92, 0.97, 0.90, "at_least"), three_way_outcome(0.85, 0.95, 0.90, "at_least")
    ('PASS', 'INCONCLUSIVE')
    >>> three_way_outcome(0.11, 0.20, 0.10, "at_most")
    'FAIL'
    """
    low, high, limit = _finite("low", low), _finite("high", high), _finite("limit", limit)
    if low > high:
        raise LoyaltyError(f"a confidence interval needs low <= high, got [{low}, {high}]")
    _check_direction(direction)
    good_end, bad_end = (low, high) if direction == AT_LEAST else (high, low)
    if on_good_side(good_end, limit, direction):
        return PASS
    if not on_good_side(bad_end, limit, direction):
        return FAIL
    return INCONCLUSIVE


@dataclass(frozen=True)
class Decision:
    """A gate's verdict: ``passed`` (the test item passes), ``warned`` (it passes with a
    warning), the CI ``outcome``, the ``rule`` and what decided (``decided_by``: "estimate",
    "ci_low", "ci_high" or "outcome") with that number (``checked_value``).

    >>> decide(0.93, 0.88, 0.97, 0.90, "at_least").passed
    True
    """

    passed: bool
    warned: bool
    outcome: str
    rule: str
    decided_by: str
    checked_value: float
    estimate: float
    low: float
    high: float
    limit: float
    direction: str


def decide(
    estimate: float,
    low: float,
    high: float,
    limit: float,
    direction: str,
    rule: str = "estimate",
    inconclusive: str = "fail",
) -> Decision:
    """Apply a decision rule to a gate's estimate and CI.

    * ``estimate`` (default): the point estimate decides, ``on_good_side(estimate, limit)``.
    * ``confident``: the pessimistic end decides (``low`` for "at_least", ``high`` for
      "at_most"); passes exactly when the outcome is PASS.
    * ``three-way``: PASS passes, FAIL fails, INCONCLUSIVE follows ``inconclusive``: "fail",
      "warn" (passes with ``warned=True``) or "pass".

    The outcome is always reported, whichever rule decides.

    >>> decide(0.93, 0.88, 0.97, 0.90, "at_least", "confident").passed
    False
    >>> d = decide(0.93, 0.88, 0.97, 0.90, "at_least", "three-way", inconclusive="warn")
    >>> d.passed, d.warned, d.outcome
    (True, True, 'INCONCLUSIVE')
    """
    estimate = _finite("estimate", estimate)
    outcome = three_way_outcome(low, high, limit, direction)
    low, high, limit = float(low), float(high), float(limit)
    if rule not in RULES:
        raise LoyaltyError(f"rule must be one of {', '.join(RULES)}, got {rule!r}")
    if inconclusive not in INCONCLUSIVE_POLICIES:
        raise LoyaltyError(f"inconclusive must be one of {', '.join(INCONCLUSIVE_POLICIES)}, got {inconclusive!r}")
    # The pessimistic end must clear the limit for a PASS; the optimistic end must miss it for a FAIL.
    if direction == AT_LEAST:
        pessimistic_name, pessimistic, optimistic = "ci_low", low, high
    else:
        pessimistic_name, pessimistic, optimistic = "ci_high", high, low
    warned = False
    if rule == "estimate":
        decided_by, checked, passed = "estimate", estimate, on_good_side(estimate, limit, direction)
    elif rule == "confident":
        decided_by, checked, passed = pessimistic_name, pessimistic, outcome == PASS
    else:
        decided_by, checked = "outcome", optimistic if outcome == FAIL else pessimistic
        passed = outcome == PASS or (outcome == INCONCLUSIVE and inconclusive != "fail")
        warned = outcome == INCONCLUSIVE and inconclusive == "warn"
    return Decision(passed, warned, outcome, rule, decided_by, checked, estimate, low, high, limit, direction)
