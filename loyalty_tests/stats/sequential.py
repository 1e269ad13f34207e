"""Anytime-valid intervals for the mean of bounded values, and the sequential robustness gate.

The robustness gate attacks examples in seeded blocks and stops as soon as its verdict is
decided. Looking after every block and stopping when the CI clears the limit would inflate the
error rate of a fixed-n interval (each look is another chance to be fooled), so the sequential
gate uses a *confidence sequence*: intervals C_1, C_2, ... with P(mean in C_t for every t) >= 1 - alpha,
valid at any data-dependent stopping time. The construction is the hedged capital process of
Waudby-Smith & Ramdas (2024), "Estimating means of bounded random variables by betting",
JRSSB 86(1):1-27 (arXiv 2010.09686), Theorem 3 with the predictable plug-in bets of their
eq. (26) ("PrPl"); the fixed-n interval (``betting_interval``) uses the same process with the
bets tuned for one sample size n (their Section 5.1 / Remark 3).

For values x_1, x_2, ... in [0, 1] and a candidate mean m, two bettors compound

    K+_t(m) = prod_{i<=t} (1 + lambda+_i(m) (x_i - m)),   K-_t(m) = prod_{i<=t} (1 - lambda-_i(m) (x_i - m)),

with bets lambda+_i(m) = min(lambda_i, c / m), lambda-_i(m) = min(lambda_i, c / (1 - m)) fixed
before x_i is seen. Under mean m both are nonnegative martingales, so by Ville's inequality
max(K+/2, K-/2) reaches 1/alpha with probability at most alpha, ever; the CS is
C_t = {m : K+_t(m) < 2/alpha and K-_t(m) < 2/alpha}. K+ falls and K- rises with m, so C_t is an
interval found by bisection. Tuning choices are fixed here (no randomness, nothing fitted):
c = 1/2 (the paper's suggestion), mu_hat_t = (1/2 + sum x_i) / (t + 1),
sigma2_hat_t = (1/4 + sum (x_i - mu_hat_i)^2) / (t + 1), and

    lambda_t = sqrt(2 log(2/alpha) / (sigma2_hat_{t-1} t log(1 + t)))    (confidence sequence),
    lambda_t = sqrt(2 log(2/alpha) / (sigma2_hat_{t-1} n))               (one interval at n).

Values in [lower, upper] (paired differences lie in [-1, 1]) are mapped to [0, 1] and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError
from .intervals import INCONCLUSIVE, Decision, _check_confidence, decide, three_way_outcome

BET_TRUNCATION = 0.5  # c above
_BISECTION_STEPS = 42  # 2**-42 of [0, 1] (2e-13): well below any reported digit


def _unit_values(values, lower: float, upper: float) -> np.ndarray:
    if not (math.isfinite(lower) and math.isfinite(upper) and lower < upper):
        raise LoyaltyError(f"need finite bounds lower < upper, got [{lower}, {upper}]")
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise LoyaltyError(f"values must be numbers, one per example: {error}") from None
    if array.ndim not in (1, 2) or array.shape[-1] == 0:
        raise LoyaltyError(
            f"values must be a non-empty 1-D array (or 2-D: one row per simulated run), got shape {array.shape}"
        )
    if not np.isfinite(array).all() or (array < lower).any() or (array > upper).any():
        raise LoyaltyError(
            f"values must lie in [{lower}, {upper}] (paired differences of 0/1 outcomes lie "
            f"in [-1, 1]); got values outside it or NaN"
        )
    return (array - lower) / (upper - lower)


def _plug_in_variance(x: np.ndarray) -> np.ndarray:
    """sigma2_hat_{t-1} for t = 1..T: the predictable variance estimate before x_t is seen."""
    t = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    running_mean = (0.5 + np.cumsum(x, axis=-1)) / (t + 1.0)
    squares = np.cumsum((x - running_mean) ** 2, axis=-1)
    variance = (0.25 + squares) / (t + 1.0)
    before = np.concatenate([np.full(x.shape[:-1] + (1,), 0.25), variance[..., :-1]], axis=-1)
    return before


def _bets(x: np.ndarray, alpha: float, fixed_n: int | None) -> np.ndarray:
    t = np.arange(1, x.shape[-1] + 1, dtype=np.float64)
    horizon = t * np.log1p(t) if fixed_n is None else float(fixed_n)
    return np.sqrt(2.0 * math.log(2.0 / alpha) / (_plug_in_variance(x) * horizon))


def _lower_ends(x: np.ndarray, bets: np.ndarray, looks: np.ndarray, alpha: float) -> np.ndarray:
    """Lower end of C_t at each look t (x, bets: (..., T); result (..., L)), by bisection on m."""
    threshold = math.log(2.0 / alpha)
    ends = []
    for look in looks:
        seen, seen_bets = x[..., :look], bets[..., :look]
        rejected = np.zeros(x.shape[:-1])  # K+ >= 2/alpha at these m (m = 0 only as a start)
        accepted = np.ones(x.shape[:-1])  # K+ <= 1 at m = 1: always inside
        for _ in range(_BISECTION_STEPS):
            m = ((rejected + accepted) / 2.0)[..., None]
            log_capital = np.log1p(np.minimum(seen_bets, BET_TRUNCATION / m) * (seen - m)).sum(axis=-1)
            outside = log_capital >= threshold
            rejected = np.where(outside, m[..., 0], rejected)
            accepted = np.where(outside, accepted, m[..., 0])
        # Never rejecting any m > 0 means the CS reaches down to 0 itself.
        ends.append(np.where(rejected == 0.0, 0.0, accepted))
    return np.stack(ends, axis=-1)


def _interval_at_looks(x: np.ndarray, bets: np.ndarray, looks: np.ndarray, alpha: float):
    low = _lower_ends(x, bets, looks, alpha)
    # The bettor against high means is the bettor for low means on the mirrored values 1 - x.
    high = 1.0 - _lower_ends(1.0 - x, bets, looks, alpha)
    return low, high


def betting_interval(values, confidence: float = 0.95, *, lower: float = 0.0, upper: float = 1.0):
    """Fixed-n betting CI for the mean of values in [lower, upper] (Waudby-Smith & Ramdas 2024):
    ``{m : K+_n(m) < 2/alpha and K-_n(m) < 2/alpha}`` with bets tuned for n (module docstring).

    Valid for every distribution on [lower, upper] at every n (no normal approximation), and
    narrow when the values vary little; at n = 10 it is wider than the Wilson-type interval.

    >>> [round(bound, 4) for bound in betting_interval([1.0] * 10)]
    [0.5285, 1.0]
    >>> [round(bound, 4) for bound in betting_interval([0.9, 0.95, 1.0, 0.85] * 25)]
    [0.8595, 0.944]
    """
    _check_confidence(confidence)
    x = _unit_values(values, lower, upper)
    if x.ndim != 1:
        raise LoyaltyError(f"values must be 1-D (one per example), got shape {x.shape}")
    alpha = 1.0 - confidence
    low, high = _interval_at_looks(x, _bets(x, alpha, x.size), np.array([x.size]), alpha)
    scale = upper - lower
    return float(lower + scale * low[0]), float(lower + scale * high[0])


def sequential_interval(values, confidence: float = 0.95, *, looks=None, lower: float = -1.0, upper: float = 1.0):
    """Running anytime-valid CI (a confidence sequence) for the mean of values in [lower, upper]
    after each look: ``low[j], high[j]`` bound the mean using ``values[:looks[j]]``, intersected
    with the earlier looks (so it never widens), and P(the mean is inside at every look) >= confidence
    however the looks are chosen, including "stop once it clears the limit" (module docstring).

    ``looks`` defaults to every example (1, 2, ..., n). 2-D ``values`` (one row per simulated run)
    give 2-D results. Where the running intersection would be empty (probability < 1 - confidence),
    that look keeps its own interval instead.

    >>> low, high = sequential_interval([0.0] * 500, looks=[10, 100, 500])
    >>> [round(float(v), 3) for v in high]  # no disagreement at all: +-0.47 after 10, +-0.015 after 500
    [0.472, 0.07, 0.015]
    """
    _check_confidence(confidence)
    x = _unit_values(values, lower, upper)
    n = x.shape[-1]
    looks = np.arange(1, n + 1) if looks is None else np.asarray(looks, dtype=np.int64)
    if looks.ndim != 1 or looks.size == 0 or (np.diff(looks) <= 0).any() or looks[0] < 1 or looks[-1] > n:
        raise LoyaltyError(
            f"looks must be increasing sample sizes between 1 and {n} (the number of values), got {looks.tolist()}"
        )
    alpha = 1.0 - confidence
    low, high = _interval_at_looks(x, _bets(x, alpha, None), looks, alpha)
    running_low, running_high = np.maximum.accumulate(low, axis=-1), np.minimum.accumulate(high, axis=-1)
    empty = running_low > running_high
    low, high = np.where(empty, low, running_low), np.where(empty, high, running_high)
    scale = upper - lower
    return lower + scale * low, lower + scale * high


@dataclass(frozen=True)
class SequentialDecision:
    """Where a sequential gate stands: ``stopped`` (decided, or the cap ``max_n`` reached) or not
    yet (attack / time another block), after ``n_used`` values (examples, or latency rounds); the
    ``decision`` at that point (the rule applied to the estimate and the running CI), a
    ``reason`` line, and the running CI at every look taken."""

    decision: Decision
    stopped: bool
    n_used: int
    max_n: int
    reason: str
    looks: tuple[int, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]


def stop_reason(outcome: str, look: int, cap: int, unit: str, next_step: str, cap_name: str | None = None) -> str:
    """Why a sequential gate stopped where it did, or what it does next.

    >>> stop_reason("PASS", 100, 500, "examples", "attack another block")
    'decided PASS after 100 of 500 examples'
    >>> stop_reason("INCONCLUSIVE", 50, 50, "rounds", "time another block", "--loyalty-latency-max-rounds")
    'reached --loyalty-latency-max-rounds 50, INCONCLUSIVE'
    """
    if outcome != INCONCLUSIVE:
        return f"decided {outcome} after {look} of {cap} {unit}"
    if look == cap:
        return f"reached {f'the cap of {cap} {unit}' if cap_name is None else f'{cap_name} {cap}'}, {INCONCLUSIVE}"
    return f"{INCONCLUSIVE} after {look} of {cap} {unit}: {next_step}"


def planned_looks(block_size: int, max_n: int) -> list[int]:
    """Sample sizes at which the sequential gate looks: every block end, and the cap.

    >>> planned_looks(50, 120)
    [50, 100, 120]
    """
    if int(block_size) != block_size or block_size < 1 or int(max_n) != max_n or max_n < 1:
        raise LoyaltyError(f"block_size and max_n must be positive whole numbers, got {block_size!r}, {max_n!r}")
    looks = list(range(int(block_size), int(max_n) + 1, int(block_size)))
    return looks if looks and looks[-1] == max_n else looks + [int(max_n)]


def sequential_decision(
    values,
    limit: float,
    direction: str,
    *,
    block_size: int,
    max_n: int,
    confidence: float = 0.95,
    rule: str = "estimate",
    inconclusive: str = "fail",
    lower: float = -1.0,
    upper: float = 1.0,
    cap_name: str | None = None,
) -> SequentialDecision:
    """Sequential gate over values arriving in blocks (e.g. per-example robustness differences
    teacher_correct - student_correct, in [-1, 1]): look after every ``block_size`` values and
    at ``max_n``; stop at the first look whose confidence-sequence outcome is PASS or FAIL, or at
    ``max_n``. ``values`` holds everything observed so far (a prefix is fine: then ``stopped``
    says whether to attack another block). The error rates hold under this optional stopping.
    ``cap_name`` (e.g. "--attack-examples") names the cap in the reason line.

    >>> rng = np.random.default_rng(0)
    >>> drops = rng.choice([-1.0, 0.0, 1.0], p=[0.05, 0.9, 0.05], size=500)
    >>> result = sequential_decision(drops, 0.10, "at_most", block_size=50, max_n=500)
    >>> result.reason, result.decision.passed
    ('decided PASS after 150 of 500 examples', True)
    >>> sequential_decision(drops[:50], 0.10, "at_most", block_size=50, max_n=500).reason
    'INCONCLUSIVE after 50 of 500 examples: attack another block'
    >>> sequential_decision(np.zeros(10), 0.10, "at_most", block_size=10, max_n=10,
    ...                     cap_name="--attack-examples").reason
    'reached --attack-examples 10, INCONCLUSIVE'
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise LoyaltyError(f"values must be 1-D (one per example, in the seeded order), got shape {array.shape}")
    planned = planned_looks(block_size, max_n)
    if array.size not in planned:
        # A partial block would be silently ignored (or looked at off-plan); neither is allowed.
        raise LoyaltyError(
            f"got {array.size} values; pass all values observed so far, which is a whole number "
            f"of blocks of {block_size} or the cap {max_n} (planned looks: {planned[:5]}...)"
        )
    looks = [look for look in planned if look <= array.size]
    lows, highs = sequential_interval(array[: looks[-1]], confidence, looks=looks, lower=lower, upper=upper)
    for index, look in enumerate(looks):
        outcome = three_way_outcome(lows[index], highs[index], limit, direction)
        if outcome != INCONCLUSIVE or look == max_n:
            break
    estimate = float(array[:look].mean())
    decision = decide(estimate, lows[index], highs[index], limit, direction, rule, inconclusive)
    stopped = outcome != INCONCLUSIVE or look == max_n
    reason = stop_reason(outcome, look, max_n, "examples", "attack another block", cap_name)
    return SequentialDecision(
        decision,
        stopped,
        look,
        int(max_n),
        reason,
        tuple(looks[: index + 1]),
        tuple(float(v) for v in lows[: index + 1]),
        tuple(float(v) for v in highs[: index + 1]),
    )


def sequential_examples_to_decide(
    values,
    limit: float,
    direction: str,
    *,
    block_size: int,
    confidence: float = 0.95,
    lower: float = -1.0,
    upper: float = 1.0,
    largest: int = 20_000,
) -> int | None:
    """About how many examples the sequential gate would need if the values seen so far went on
    as they are (repeated in the order seen): the smallest multiple of ``block_size`` whose
    confidence sequence, looking after every block, is decided by then; None when the mean sits
    on the limit or nothing up to ``largest`` decides. The fixed-size formula
    (``sample_size.paired_examples_to_decide``) would understate it: anytime validity costs width.

    >>> sequential_examples_to_decide([0.0] * 50, 0.10, "at_most", block_size=50)
    100
    """
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise LoyaltyError(f"values must be a non-empty 1-D array, got shape {array.shape}")
    if abs(float(array.mean()) - float(limit)) <= 1e-12:
        return None

    def decided(n: int) -> bool:
        tiled = np.resize(array, n)
        looks = planned_looks(block_size, n)
        low, high = sequential_interval(tiled, confidence, looks=looks, lower=lower, upper=upper)
        return three_way_outcome(float(low[-1]), float(high[-1]), limit, direction) != INCONCLUSIVE

    low, high = 0, block_size  # not decided at low (or nothing seen), decided at high
    while not decided(high):
        if high >= largest:
            return None
        low, high = high, min(2 * high, largest // block_size * block_size or block_size)
    while high - low > block_size:  # bisect over whole blocks
        middle = (low + high) // 2 // block_size * block_size
        low, high = (low, middle) if decided(middle) else (middle, high)
    return high
