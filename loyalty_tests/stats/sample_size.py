"""How many examples a gate needs: after a run (power: "about N examples would decide") and
before any model work (can this run's n decide at all, even for an identical student?).

Both questions use the gate's own interval, so the answer is the n at which *that* interval,
computed from counts scaled to n while the observed rates stay as they are, no longer straddles
the limit: for paired outcomes the rates b/n and c/n (continuity-corrected Tango,
``exact.gate_paired_interval``), for proportions successes/n (Clopper-Pearson), for probability
loyalty its mean with the dispersion seen (``bounded_means``). A first guess comes from the
score test, ``|estimate - L| n - 1 = z sqrt(n V(L))``, and the interval itself at n and n - 1
settles it, so it agrees with ``three_way_outcome`` to the last bit.

"Rates held" is the n at which a run whose estimate came out exactly as now would decide; about
half of real runs at that n fall short. What a report prints is ``power.examples_for_power``:
the n at which 80% of runs decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError
from .bounded_means import _score_bounds, dispersion_parts
from .exact import GATE_CONTINUITY, _clopper_pearson
from .intervals import (
    AT_LEAST,
    AT_MOST,
    INCONCLUSIVE,
    PASS,
    _bounded_values,
    _check_direction,
    _counts,
    _finite,
    _tango_null_variance,
    _tango_upper,
    normal_quantile,
    on_good_side,
    three_way_outcome,
)

KINDS = ("paired_difference", "proportion", "bounded_mean")


def _examples_needed(
    interval_at, estimate: float, limit: float, variance_at_limit: float, z: float, direction: str
) -> int | None:
    """Smallest whole n >= 1 whose interval (rates held fixed) is PASS or FAIL; None when the
    estimate equals the limit (no n separates them)."""
    gap = estimate - limit
    if abs(gap) <= 1e-12:
        return None

    def decided(n: int) -> bool:
        low, high = interval_at(n)
        return three_way_outcome(float(low), float(high), limit, direction) != INCONCLUSIVE

    # n* of the score test, with one count of continuity: |gap| n - 1 = z sqrt(n V) (a first guess only).
    spread = z * math.sqrt(max(float(variance_at_limit), 0.0))
    boundary = ((spread + math.sqrt(spread * spread + 4.0 * abs(gap))) / (2.0 * abs(gap))) ** 2
    n = max(1, math.ceil(boundary) if on_good_side(estimate, limit, direction) else math.floor(boundary) + 1)
    # n* can land a rounding error from a whole number; let the interval itself settle it.
    while n > 1 and decided(n - 1):
        n -= 1
    while not decided(n):
        n += 1
    return n


def paired_examples_to_decide(b, c, n, limit: float, direction: str = AT_MOST, confidence: float = 0.95) -> int | None:
    """Examples needed for the paired-difference gate (``exact.gate_paired_interval``) to be
    PASS or FAIL if the rates b/n (teacher right, student wrong) and c/n held: the smallest m
    whose continuity-corrected Tango interval at counts (m b/n, m c/n, m) excludes the limit. Roughly
    ``m ~ z^2 V(limit) / (estimate - limit)^2`` with ``V(delta) = 2 q(delta) + delta (1 - delta)``
    the per-example variance of the difference *at the limit* (a score interval tests there), not
    the ``(b + c)/n - ((b - c)/n)^2`` seen; None when the estimate equals the limit. Grows without
    bound as the estimate approaches the limit.

    >>> paired_examples_to_decide(3, 0, 50, 0.10)  # drop 0.06 against a limit of 0.10
    264
    >>> paired_examples_to_decide(0, 0, 10, 0.10)  # nothing seen: Tango's bound at b = c = 0 <= 0.10
    53
    """
    b, c, n = _counts("b", b), _counts("c", c), _counts("n", n)
    if n < 1 or b + c > n:
        raise LoyaltyError(f"need n >= 1 and b + c <= n, got b={b}, c={c}, n={n}")
    limit, z = _finite("limit", limit), normal_quantile(confidence)
    _check_direction(direction)
    rate_b, rate_c = float(b / n), float(c / n)

    def interval_at(m):
        return (
            -_tango_upper(m * rate_c, m * rate_b, m, z, GATE_CONTINUITY),
            _tango_upper(m * rate_b, m * rate_c, m, z, GATE_CONTINUITY),
        )

    variance = float(_tango_null_variance(rate_b, rate_c, 1.0, limit))
    return _examples_needed(interval_at, rate_b - rate_c, limit, variance, z, direction)


def proportion_examples_to_decide(
    successes, n, limit: float, direction: str = AT_LEAST, confidence: float = 0.95
) -> int | None:
    """Examples needed for a proportion gate (``exact.clopper_pearson_interval``) to be PASS or FAIL if
    the proportion p = successes/n held: the smallest m whose interval at m p successes
    excludes the limit, about ``z^2 limit (1 - limit) / (p - limit)^2`` (a score
    interval's variance is the one at the limit).

    >>> proportion_examples_to_decide(44, 50, 0.90)  # label loyalty 0.88 against 0.90
    949
    >>> proportion_examples_to_decide(10, 10, 0.90)  # 10 of 10: 0.025^(1/n) >= 0.90
    36
    """
    successes, n = _counts("successes", successes, allow_float=True), _counts("n", n)
    if n < 1 or successes > n:
        raise LoyaltyError(f"need n >= 1 and 0 <= successes <= n, got successes={successes}, n={n}")
    limit, z = _finite("limit", limit), normal_quantile(confidence)
    _check_direction(direction)
    rate = float(successes / n)
    alpha = 1.0 - confidence
    return _examples_needed(
        lambda m: _clopper_pearson(m * rate, m, alpha), rate, limit, limit * (1.0 - limit), z, direction
    )


def bounded_mean_examples_to_decide(
    values, limit: float, direction: str = AT_LEAST, confidence: float = 0.95
) -> int | None:
    """Examples needed for the probability-loyalty gate (``bounded_means.dispersion_score_interval``)
    to decide if the mean and the dispersion phi seen held.

    >>> bounded_mean_examples_to_decide([1.0] * 10, 0.85)  # all ones, their smoothed dispersion held
    3
    """
    array = _bounded_values("values", values)
    if array.ndim != 1:
        raise LoyaltyError(f"values must be 1-D (one per example), got shape {array.shape}")
    limit, z = _finite("limit", limit), normal_quantile(confidence)
    _check_direction(direction)
    mean, phi, _ = (float(v) for v in dispersion_parts(array))
    return _examples_needed(
        lambda m: _score_bounds(mean, phi, m, confidence), mean, limit, phi * limit * (1.0 - limit), z, direction
    )


def undecided_text(
    metric: str,
    n: int,
    estimate: float,
    low: float,
    high: float,
    limit: float,
    needed: int | None,
    unit: str = "examples",
    confidence: float = 0.95,
    level: str | None = None,
) -> str:
    """One line for a report when a gate's CI straddles its limit.

    >>> print(undecided_text("robustness_drop", 50, 0.06, -0.02, 0.16, 0.10, 135).replace("; ", ";\\n"))
    n=50 cannot tell robustness_drop 0.060 (95% CI -0.020–0.160) from its limit 0.100;
    about 135 examples would decide it in 80% of runs

    Without an N: on the limit no N can decide it; off it, a gate with no sample-size rule says none.

    >>> undecided_text("label_loyalty", 9, 0.9, 0.6, 1.0, 0.9, None).split("; ")[1]
    'no number of examples would while the estimate sits on the limit'
    >>> undecided_text("smallest share ratio", 64, 0.375, 0.19, 0.717, 0.5, None).endswith("limit 0.500")
    True
    """
    head = (
        f"n={n} cannot tell {metric} {estimate:.3f} ({level or f'{confidence:.0%} CI'} {low:.3f}–{high:.3f}) "
        f"from its limit {limit:.3f}"
    )
    if needed is None and estimate == limit:
        return head + f"; no number of {unit} would while the estimate sits on the limit"
    if needed is None:  # a gate with no sample-size rule (e.g. the label-share ratio): say nothing wrong
        return head
    return head + f"; about {needed} {unit} would decide it in 80% of runs"


@dataclass(frozen=True)
class Feasibility:
    """Can a run of ``n`` examples PASS the gate under the ``confident`` or ``three-way`` rule
    at all? ``best_low``/``best_high``: the CI of a student identical to its teacher (no
    disagreement: paired b = c = 0; label loyalty or probability loyalty all 1; negative flips 0)
    at this n; ``can_pass``: is that CI on the good side; ``n_needed``: the smallest n at which
    it is (None: no n, e.g. a limit the identical student itself misses)."""

    kind: str
    n: int
    limit: float
    direction: str
    best_low: float
    best_high: float
    can_pass: bool
    n_needed: int | None


def _identical_student(kind: str, direction: str, limit: float, z: float):
    """For a student identical to its teacher: its interval at m examples, its estimate, and the
    per-example variance under the limit (for ``_examples_needed``)."""
    if kind == "paired_difference":
        interval_at = lambda m: (
            -_tango_upper(0.0, 0.0, m, z, GATE_CONTINUITY),  # noqa: E731
            _tango_upper(0.0, 0.0, m, z, GATE_CONTINUITY),
        )
        return interval_at, 0.0, float(_tango_null_variance(0.0, 0.0, 1.0, limit))
    if kind not in KINDS:
        raise LoyaltyError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    # The identical student's proportion: agreement 1 for loyalty ("at_least"), 0 flips for a rate ("at_most").
    rate = 1.0 if direction == AT_LEAST else 0.0
    if kind == "bounded_mean":  # all values 1.0: the dispersion interval's smoothed phi at m examples
        return (
            (lambda m: _score_bounds(1.0, dispersion_parts(np.ones(int(m)))[1], m, 1.0 - 2.0 * _alpha_half(z))),
            rate,
            limit * (1.0 - limit),
        )
    alpha = 2.0 * _alpha_half(z)
    return (lambda m: _clopper_pearson(m * rate, m, alpha)), rate, limit * (1.0 - limit)


def _alpha_half(z: float) -> float:
    from scipy.special import ndtr  # the normal CDF

    return float(ndtr(-z))


def identical_student_feasibility(
    kind: str, n: int, limit: float, direction: str, confidence: float = 0.95
) -> Feasibility:
    """Before any model work: would even a student identical to its teacher PASS with n
    examples? An identical student has no disagreement (paired b = c = 0; loyalty all 1; no
    negative flips), so its interval at n is fixed: for the drop ``+-`` about ``(z^2 + 2)/n`` (Tango
    with one count of continuity), for a proportion at 1 the Clopper-Pearson ``[(alpha/2)^(1/n), 1]``.

    >>> f = identical_student_feasibility("paired_difference", 10, 0.10, "at_most")
    >>> f.can_pass, round(f.best_high, 3), f.n_needed
    (False, 0.404, 53)
    """
    if int(n) != n or n < 1:
        raise LoyaltyError(f"n must be a whole number >= 1, got {n!r}")
    limit, z = _finite("limit", limit), normal_quantile(confidence)
    _check_direction(direction)
    interval_at, estimate, variance = _identical_student(kind, direction, limit, z)
    low, high = (float(v) for v in interval_at(int(n)))
    can_pass = three_way_outcome(low, high, limit, direction) == PASS
    if not on_good_side(estimate, limit, direction) or estimate == limit:
        needed = None  # the identical student's own value misses (or sits on) the limit
    else:
        needed = _examples_needed(interval_at, estimate, limit, variance, z, direction)
    return Feasibility(kind, int(n), limit, direction, low, high, can_pass, needed)


def feasibility_text(
    gate: str, feasibility: Feasibility, unit: str = "examples", confidence: float = 0.95
) -> str | None:
    r"""A warning line when even an identical student cannot PASS; None when it can.

    >>> feasibility = identical_student_feasibility("paired_difference", 10, 0.10, "at_most")
    >>> text = feasibility_text("robustness_drop", feasibility, unit="attacked examples")
    >>> print(text.replace(": ", ":\n").replace("; ", ";\n"))
    with 10 attacked examples the robustness_drop gate cannot PASS under the confident or three-way rule:
    even a student identical to its teacher gives a 95% CI up to 0.404 > 0.100;
    use at least 53 attacked examples
    """
    f = feasibility
    if f.can_pass:
        return None
    if f.direction == AT_LEAST:
        end, sign = f"down to {f.best_low:.3f}", "<"
    else:
        end, sign = f"up to {f.best_high:.3f}", ">"
    head = (
        f"with {f.n} {unit} the {gate} gate cannot PASS under the confident or three-way rule: even a student "
        f"identical to its teacher gives a {confidence:.0%} CI {end} {sign} {f.limit:.3f}"
    )
    if f.n_needed is None:
        return head + "; no number of examples would"
    return head + f"; use at least {f.n_needed} {unit}"
