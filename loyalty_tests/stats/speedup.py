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
from .sequential import SequentialDecision, planned_looks, stop_reason
from .intervals import (INCONCLUSIVE, _check_confidence, _check_direction, _finite, decide, normal_quantile,
                    three_way_outcome)

# Normal-theory efficiency of the median: its standard error is about 1.2533 sigma / sqrt(n).
_MEDIAN_SE_FACTOR = math.sqrt(math.pi / 2.0)
# Median absolute deviation times this estimates sigma for normal data.
_MAD_TO_SIGMA = 1.4826


def _ratios(teacher_seconds, student_seconds) -> np.ndarray:
    teacher, student = (np.asarray(v, dtype=np.float64) for v in (teacher_seconds, student_seconds))
    if teacher.ndim != 1 or student.ndim != 1 or teacher.size != student.size or teacher.size == 0:
        raise LoyaltyError(f"teacher_seconds and student_seconds must be 1-D, non-empty and of equal length "
                           f"(one pair per round), got shapes {teacher.shape} and {student.shape}")
    if not (np.isfinite(teacher).all() and np.isfinite(student).all()) or (teacher <= 0).any() or (student <= 0).any():
        raise LoyaltyError("round timings must be finite and > 0 seconds; a zero or negative time means the timer "
                           "or the model call is broken")
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


def latency_decision(teacher_seconds, student_seconds, limit: float, *, block_size: int, max_rounds: int,
                     confidence: float = 0.95, rule: str = "estimate", inconclusive: str = "fail",
                     direction: str = "at_least", cap_name: str | None = None) -> SequentialDecision:
    """Sequential latency gate: rounds arrive in blocks of ``block_size`` up to ``max_rounds``;
    look after each block (and at the cap) with the speedup CI at the Bonferroni level
    ``1 - (1 - confidence)/K`` for K planned looks; stop at the first look whose outcome is PASS
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
        raise LoyaltyError(f"got {ratios.size} rounds; pass all rounds timed so far, which is a whole number of "
                           f"blocks of {block_size} or the cap {max_rounds} (planned looks: {planned[:5]}...)")
    per_look = 1.0 - (1.0 - confidence) / len(planned)
    looks, lows, highs = [], [], []
    teacher, student = np.asarray(teacher_seconds, dtype=np.float64), np.asarray(student_seconds, dtype=np.float64)
    for look in (look for look in planned if look <= ratios.size):
        estimate, low, high = speedup_interval(teacher[:look], student[:look], per_look)
        looks.append(look), lows.append(low), highs.append(high)
        outcome = three_way_outcome(low, high, limit, direction)
        if outcome != INCONCLUSIVE:
            break
    decision = decide(estimate, low, high, limit, direction, rule, inconclusive)
    stopped = outcome != INCONCLUSIVE or look == max_rounds
    reason = stop_reason(outcome, look, max_rounds, "rounds", "time another block", cap_name)
    return SequentialDecision(decision, stopped, look, int(max_rounds), reason, tuple(looks), tuple(lows), tuple(highs))
