"""Latency of teacher and student, timed side by side in the same run, until the verdict is clear.

Each round times both models twice on the same batch in ABBA order (teacher, student, student,
teacher), and a model's round time is the mean of its two calls, so load that drifts within a
round and any cost of switching models hit both alike. On a busy runner the old one-call-each
rounds differed by up to 0.2 in mean log ratio between teacher-first and student-first rounds,
and failed an A/A student. The speedup is the median of the per-round ratios with a
distribution-free CI whose rank allows for dependence between neighbouring rounds
(``speedup.dependent_speedup_interval``), never a stored timing from another machine. With
``id(teacher) == id(student)`` (one object timed against itself) both calls land on one entry;
pass a copy.
Rounds come in blocks: after each block the CI is compared with the limit at a level that stays
valid however many blocks it takes (``speedup.latency_decision``), and timing stops as soon as the
verdict is decided or ``max_rounds`` is reached. A clearly faster student is decided after one
block; a student as fast as its teacher takes more rounds to tell from a limit just below it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from ..errors import LoyaltyError
from ..stats.speedup import dependent_speedup_interval, latency_decision, level_text


@dataclass(frozen=True)
class LatencyResult:
    teacher_rounds: tuple[float, ...]  # seconds per batch (mean of the round's two calls), round by round
    student_rounds: tuple[float, ...]
    batch_size: int
    speedup: float  # median of teacher/student per-round ratios
    ci_low: float
    ci_high: float
    stop_reason: str = ""  # why timing stopped, e.g. "decided PASS after 10 of 50 rounds"
    level: str = "95% CI"  # what the interval is: e.g. "99% CI per look (95% over 5 looks)"

    @property
    def rounds(self) -> int:
        return len(self.teacher_rounds)

    @property
    def teacher_seconds(self) -> float:
        """Median seconds per batch."""
        return statistics.median(self.teacher_rounds)

    @property
    def student_seconds(self) -> float:
        return statistics.median(self.student_rounds)

    def to_row(self) -> dict:
        return {
            **asdict(self),
            "rounds": self.rounds,
            "teacher_seconds": self.teacher_seconds,
            "student_seconds": self.student_seconds,
        }


def _time_once(model, texts, text_pairs) -> float:
    start = time.perf_counter()
    try:
        model.predict_proba(texts, text_pairs)
    except LoyaltyError:
        raise
    except Exception as error:  # a user's model failing is bad input, not an internal error
        name = getattr(model, "name", type(model).__name__)
        raise LoyaltyError(
            f"model {name!r} raised {type(error).__name__} while being timed on {len(texts)} texts: "
            f"{error}; fix the model or its spec"
        ) from error
    return time.perf_counter() - start


def measure_latency(
    teacher,
    student,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None = None,
    *,
    rounds: int = 10,
    max_rounds: int | None = None,
    limit: float | None = None,
    rule: str = "estimate",
    inconclusive: str = "fail",
    warmup: int = 1,
) -> LatencyResult:
    """Time both models on ``texts`` in interleaved rounds: one block of ``rounds``, then (with a
    ``limit`` and a ``max_rounds`` above ``rounds``) more blocks until the speedup's CI clears the
    limit or ``max_rounds`` is reached."""
    max_rounds = rounds if max_rounds is None else max_rounds
    if rounds < 1 or max_rounds < rounds:
        raise LoyaltyError(f"latency rounds must be >= 1 and max rounds >= rounds, got {rounds} and {max_rounds}")
    if not texts:
        raise LoyaltyError("latency needs at least one text; the data is empty")
    texts = list(texts)
    text_pairs = list(text_pairs) if text_pairs is not None else None
    for _ in range(warmup):  # first calls pay for lazy initialisation and allocator growth
        _time_once(teacher, texts, text_pairs)
        _time_once(student, texts, text_pairs)
    teacher_times: list[float] = []
    student_times: list[float] = []
    reason = ""
    while len(teacher_times) < max_rounds:
        for _ in range(min(rounds, max_rounds - len(teacher_times))):
            # ABBA within the round: a linear drift in load hits both models alike inside every round,
            # and each model makes one call right after the other model and one right after itself
            # (a cache or frequency cost of switching falls on both alike).
            order = (0, 1, 1, 0)  # 0: teacher, 1: student; back to back: t t s s t t s s ...
            seconds = [0.0, 0.0]
            for which in order:
                seconds[which] += _time_once((teacher, student)[which], texts, text_pairs) / 2.0
            teacher_times.append(seconds[0])
            student_times.append(seconds[1])
        if limit is None:
            break  # nothing to decide: one block
        sequential = latency_decision(
            teacher_times,
            student_times,
            limit,
            block_size=rounds,
            max_rounds=max_rounds,
            rule=rule,
            inconclusive=inconclusive,
            cap_name="--loyalty-latency-max-rounds",
        )
        reason = sequential.reason
        if sequential.stopped:
            break
    if limit is not None:
        estimate, low, high = sequential.decision.estimate, sequential.decision.low, sequential.decision.high
        level = level_text(rounds, max_rounds)
    else:
        estimate, low, high = dependent_speedup_interval(teacher_times, student_times)
        level = "95% CI"
    return LatencyResult(tuple(teacher_times), tuple(student_times), len(texts), estimate, low, high, reason, level)
