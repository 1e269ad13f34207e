"""Latency speedup (teacher seconds / student seconds) with a distribution-free CI from paired,
interleaved rounds, and the rule for adding rounds until the verdict is decided.

Why the median of per-round ratios with an order-statistic CI (not the geometric mean with a
t-interval on log ratios): timings have heavy right tails (a context switch or a page fault can
slow one batch by half), and one such round drags a mean and inflates its t-interval, while the
median ignores it. The order-statistic CI needs no distributional assumption at all, only
independent rounds from a continuous distribution: with ratios sorted r_(1) <= ... <= r_(n),
``P(r_(k) <= median <= r_(n+1-k)) >= 1 - 2 P(Binomial(n, 1/2) <= k - 1)`` (Conover 1999,
Practical Nonparametric Statistics, 3rd ed., section 3.2; the sign-test interval). Pairing
(teacher and student timed back to back, order alternating) cancels drift in machine load, which
hits both alike. benchmarks/bench_coverage.py compares both intervals under heavy-tailed noise.

Adding rounds in blocks and looking after each would make a fixed 95% CI wrong more often than 5%
(every look is another chance), so ``latency_decision`` splits alpha over the K planned looks
(Bonferroni): each look uses confidence ``1 - (1 - confidence)/K``, and the chance that any look's
CI misses is at most ``1 - confidence``, whichever look the rounds stop at.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import LoyaltyError
from .intervals import (
    INCONCLUSIVE,
    _check_confidence,
    _check_direction,
    _finite,
    decide,
    normal_quantile,
    three_way_outcome,
)
from .sequential import SequentialDecision, planned_looks, stop_reason

# Normal-theory efficiency of the median: its standard error is about 1.2533 sigma / sqrt(n).
_MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2.0)
# Median absolute deviation times this estimates sigma for normal data.
_MAD_TO_SIGMA = 1.4826


def _ratios(teacher_seconds, student_seconds) -> np.ndarray:
    teacher, student = (np.asarray(v, dtype=np.float64) for v in (teacher_seconds, student_seconds))
    if teacher.ndim != 1 or student.ndim != 1 or teacher.size != student.size or teacher.size == 0:
        raise LoyaltyError(
            f"teacher_seconds and student_seconds must be 1-D, non-empty and of equal length "
            f"(one pair per round), got shapes {teacher.shape} and {student.shape}"
        )
    if not (np.isfinite(teacher).all() and np.isfinite(student).all()) or (teacher <= 0).any() or (student <= 0).any():
        raise LoyaltyError(
            "round timings must be finite and > 0 seconds; a zero or negative time means the timer "
            "or the model call is broken"
        )
    return teacher / student


def order_statistic_rank(n: int, confidence: float = 0.95) -> int:
    """The largest k with ``2 P(Binomial(n, 1/2) <= k - 1) <= 1 - confidence``: the CI for the
    median is [r_(k), r_(n+1-k)]; 0 when n is too small for any finite CI at this confidence
    (n < log2(2 / (1 - confidence)), i.e. fewer than 6 rounds at 95%).

    >>> order_statistic_rank(5), order_statistic_rank(6), order_statistic_rank(20)
    (0, 1, 6)
    """
    _check_confidence(confidence)
    from scipy.special import bdtr  # binomial CDF; scipy.stats is slower to import

    alpha = 1.0 - confidence
    k = 0
    while k + 1 <= (n + 1) // 2 and 2.0 * bdtr(k, n, 0.5) <= alpha:
        k += 1
    return k


def speedup_interval(teacher_seconds, student_seconds, confidence: float = 0.95):
    """``(estimate, low, high)`` for the speedup, the median of the per-round ratios
    ``r_i = teacher_seconds[i] / student_seconds[i]`` (above 1: the student is faster), with the
    distribution-free order-statistic CI ``[r_(k), r_(n+1-k)]`` (``order_statistic_rank``); the CI
    is ``(0, inf)`` with too few rounds to bound the median.

    >>> teacher = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 1.00, 0.97]
    >>> student = [0.52, 0.50, 0.51, 0.55, 0.50, 0.49, 0.53, 0.51]
    >>> [round(v, 3) for v in speedup_interval(teacher, student)]
    [1.922, 1.836, 2.102]
    """
    ratios = np.sort(_ratios(teacher_seconds, student_seconds))
    k = order_statistic_rank(ratios.size, confidence)
    estimate = float(np.median(ratios))
    if k == 0:
        return estimate, 0.0, math.inf
    return estimate, float(ratios[k - 1]), float(ratios[ratios.size - k])


def dependence_inflation(ratios) -> float:
    """How much dependence between neighbouring rounds widens the sign count's variance:
    ``(1 + rho) / (1 - rho)`` with rho the lag-1 autocorrelation of the signs of
    ``ratio - median`` (ties left out) less two of its standard errors under independence
    (``2 / sqrt(pairs)``, so chance runs at ten rounds do not count), clipped to [0, 0.8]; 1 for
    independent rounds (the AR(1)
    variance factor of a sum; Box, Jenkins & Reinsel, Time Series Analysis, 4th ed., 2.1.5).

    >>> dependence_inflation([1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01])  # alternating: no inflation
    1.0
    >>> round(dependence_inflation(([0.9] * 5 + [1.2] * 5) * 4), 2)  # runs of load: inflated
    1.94
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    signs = np.sign(ratios - np.median(ratios))
    signs = signs[signs != 0]
    if signs.size < 3:
        return 1.0
    # Only dependence beyond chance counts: under independence rho has standard error 1/sqrt(pairs).
    rho = float(np.clip(np.mean(signs[1:] * signs[:-1]) - 2.0 / math.sqrt(signs.size - 1), 0.0, 0.8))
    return (1.0 + rho) / (1.0 - rho)


def dependent_rank(ratios, confidence: float = 0.95) -> int:
    """The order-statistic rank for the median's CI when rounds may depend on their neighbours:
    the rank for ``n / inflation`` independent rounds (``dependence_inflation``) scaled back to n,
    never above the independent rank ``order_statistic_rank(n)``.

    >>> dependent_rank([1.0, 1.1, 0.9, 1.05, 0.95, 1.02, 0.98, 1.01] * 3), order_statistic_rank(24)
    (7, 7)
    """
    ratios = np.asarray(ratios, dtype=np.float64)
    n, inflation = ratios.size, dependence_inflation(ratios)
    independent = order_statistic_rank(n, confidence)
    if inflation <= 1.0:
        return independent
    effective = max(1, math.floor(n / inflation))
    return min(independent, math.floor(order_statistic_rank(effective, confidence) * n / effective))


def dependent_speedup_interval(teacher_seconds, student_seconds, confidence: float = 0.95):
    """``speedup_interval`` with the rank from ``dependent_rank``: what the latency gate uses.

    >>> teacher = [1.00, 1.02, 0.98, 1.01, 0.99, 1.03, 1.00, 0.97]
    >>> student = [0.52, 0.50, 0.51, 0.55, 0.50, 0.49, 0.53, 0.51]
    >>> [round(v, 3) for v in dependent_speedup_interval(teacher, student)]
    [1.922, 1.836, 2.102]
    """
    ratios = np.sort(_ratios(teacher_seconds, student_seconds))
    in_order = _ratios(teacher_seconds, student_seconds)
    k = dependent_rank(in_order, confidence)
    estimate = float(np.median(ratios))
    if k == 0:
        return estimate, 0.0, math.inf
    return estimate, float(ratios[k - 1]), float(ratios[ratios.size - k])


def rounds_to_decide(teacher_seconds, student_seconds, limit: float, confidence: float = 0.95) -> int | None:
    """About how many rounds would make the speedup CI exclude the limit if the spread seen
    held: ``(z * 1.2533 * sigma / |log(estimate / limit)|)^2`` with sigma = 1.4826 MAD of the log
    ratios (1.2533 sigma / sqrt(n): the median's standard error), and at least the fewest rounds
    that give a finite CI. None when the estimate equals the limit.

    >>> rounds_to_decide([1.0, 1.1, 0.9, 1.05, 0.95, 1.0], [1.0] * 6, 0.95)  # A/A, +-5% noise, limit 0.95
    13
    """
    ratios = _ratios(teacher_seconds, student_seconds)
    limit = _finite("limit", limit)
    if limit <= 0:
        raise LoyaltyError(f"a speedup limit must be > 0, got {limit}")
    logs = np.log(ratios)
    gap = abs(float(np.median(logs)) - math.log(limit))
    if gap <= 1e-12:
        return None
    fewest = next(n for n in range(1, 200) if order_statistic_rank(n, confidence) > 0)
    sigma = _MAD_TO_SIGMA * float(np.median(np.abs(logs - np.median(logs))))
    return max(fewest, math.ceil((normal_quantile(confidence) * _MEDIAN_SE_FACTOR * sigma / gap) ** 2))


def latency_decision(
    teacher_seconds,
    student_seconds,
    limit: float,
    *,
    block_size: int,
    max_rounds: int,
    confidence: float = 0.95,
    rule: str = "estimate",
    inconclusive: str = "fail",
    direction: str = "at_least",
    cap_name: str | None = None,
) -> SequentialDecision:
    """Sequential latency gate: rounds arrive in blocks of ``block_size`` up to ``max_rounds``;
    look after each block (and at the cap) with the speedup CI (``dependent_speedup_interval``:
    its rank allows for dependence between neighbouring rounds) at the Bonferroni level
    ``1 - (1 - confidence)/K`` for K planned looks (``per_look_confidence``); stop at the first look
    whose outcome is PASS
    or FAIL, or at the cap. Pass every round timed so far (a whole number of blocks, or the cap);
    ``stopped`` False means: time another block. ``cap_name`` names the cap in the reason line.

    >>> rng = np.random.default_rng(0)
    >>> teacher = rng.lognormal(0.0, 0.05, 40)
    >>> student = rng.lognormal(-0.64, 0.05, 40)  # about 1.9 times faster
    >>> result = latency_decision(teacher, student, 1.0, block_size=10, max_rounds=40)
    >>> result.reason, result.decision.passed
    ('decided PASS after 10 of 40 rounds', True)
    """
    ratios = _ratios(teacher_seconds, student_seconds)
    _check_confidence(confidence)
    _check_direction(direction)
    limit = _finite("limit", limit)
    planned = planned_looks(block_size, max_rounds)
    if ratios.size not in planned:
        raise LoyaltyError(
            f"got {ratios.size} rounds; pass all rounds timed so far, which is a whole number of "
            f"blocks of {block_size} or the cap {max_rounds} (planned looks: {planned[:5]}...)"
        )
    per_look = 1.0 - (1.0 - confidence) / len(planned)
    looks, lows, highs = [], [], []
    teacher, student = np.asarray(teacher_seconds, dtype=np.float64), np.asarray(student_seconds, dtype=np.float64)
    for look in (look for look in planned if look <= ratios.size):
        estimate, low, high = dependent_speedup_interval(teacher[:look], student[:look], per_look)
        looks.append(look), lows.append(low), highs.append(high)
        outcome = three_way_outcome(low, high, limit, direction)
        if outcome != INCONCLUSIVE:
            break
    decision = decide(estimate, low, high, limit, direction, rule, inconclusive)
    stopped = outcome != INCONCLUSIVE or look == max_rounds
    reason = stop_reason(outcome, look, max_rounds, "rounds", "time another block", cap_name)
    return SequentialDecision(decision, stopped, look, int(max_rounds), reason, tuple(looks), tuple(lows), tuple(highs))


def per_look_confidence(block_size: int, max_rounds: int, confidence: float = 0.95) -> float:
    """The level of each look's interval: ``1 - (1 - confidence) / K`` for K planned looks.

    >>> per_look_confidence(10, 50)
    0.99
    """
    return 1.0 - (1.0 - confidence) / len(planned_looks(block_size, max_rounds))


def level_text(block_size: int, max_rounds: int, confidence: float = 0.95) -> str:
    """What the latency line calls its interval: the per-look level, and the overall one.

    >>> level_text(10, 50)
    '99% CI per look (95% over 5 looks)'
    >>> level_text(10, 10)
    '95% CI'
    """
    looks = len(planned_looks(block_size, max_rounds))
    if looks == 1:
        return f"{confidence:.0%} CI"
    per_look = per_look_confidence(block_size, max_rounds, confidence)
    return f"{per_look:.0%} CI per look ({confidence:.0%} over {looks} looks)"


def rounds_for_power(
    teacher_seconds,
    student_seconds,
    limit: float,
    *,
    block_size: int,
    spent: int,
    confidence: float = 0.95,
    power: float = 0.80,
    draws: int = 400,
    largest: int = 2000,
) -> int | None:
    """Rounds (a whole number of blocks, more than ``spent``) at which the sequential latency gate,
    run with that many rounds as its cap, decides in ``power`` of runs if rounds like these went
    on: seeded resamples of the observed rounds in chunks of 5 neighbours (so runs of load stay
    together), with the gate's per-look interval at the cap (its rank widened by the dependence
    seen in the observed rounds). Only the last look is checked: earlier looks can only add
    decisions, so the n is if anything high. None when the median sits on the limit or no cap up
    to ``largest`` would do.

    >>> rng = np.random.default_rng(0)
    >>> teacher, student = rng.lognormal(0, 0.3, 20), rng.lognormal(0, 0.3, 20)
    >>> rounds_for_power(teacher, student, 0.9, block_size=10, spent=20)  # A/A, 30% noise, limit 0.9
    1140
    """
    ratios = _ratios(teacher_seconds, student_seconds)
    limit = _finite("limit", limit)
    if abs(float(np.median(np.log(ratios))) - math.log(limit)) <= 1e-12:
        return None
    inflation = dependence_inflation(ratios)
    rng = np.random.default_rng(20_261_203)
    chunk = min(5, ratios.size)
    starts = rng.integers(0, ratios.size - chunk + 1, size=(draws, largest // chunk + 1))
    resampled = ratios[(starts[..., None] + np.arange(chunk)).reshape(draws, -1)][:, :largest]

    def share_at(blocks: int) -> float:
        cap = blocks * block_size
        level = per_look_confidence(block_size, cap, confidence)
        effective = max(1, math.floor(cap / inflation))
        k = min(order_statistic_rank(cap, level), math.floor(order_statistic_rank(effective, level) * cap / effective))
        if k == 0:
            return 0.0
        ordered = np.sort(resampled[:, :cap], axis=1)
        return float(((ordered[:, k - 1] >= limit - 1e-12) | (ordered[:, cap - k] < limit - 1e-12)).mean())

    from .power import smallest_n

    blocks = smallest_n(share_at, math.ceil(spent / block_size), power, largest // block_size)
    return None if blocks is None else blocks * block_size
