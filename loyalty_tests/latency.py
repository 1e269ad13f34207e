"""Latency of teacher and student, timed side by side in the same run.

Rounds alternate teacher and student on the same batch (the order flips every round), so drift
in machine load hits both; the gate uses the ratio of medians, never a stored timing from
another machine.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Sequence

from .errors import LoyaltyError


@dataclass(frozen=True)
class LatencyResult:
    teacher_seconds: float  # median seconds per batch
    student_seconds: float
    batch_size: int
    rounds: int
    teacher_rounds: tuple[float, ...] = ()
    student_rounds: tuple[float, ...] = ()

    @property
    def speedup(self) -> float:
        """Teacher time over student time: above 1 means the student is faster."""
        return self.teacher_seconds / self.student_seconds if self.student_seconds > 0 else float("inf")

    def to_row(self) -> dict:
        return {**asdict(self), "speedup": self.speedup}


def _time_once(model, texts, text_pairs) -> float:
    start = time.perf_counter()
    model.predict_proba(texts, text_pairs)
    return time.perf_counter() - start


def measure_latency(teacher, student, texts: Sequence[str], text_pairs: Sequence[str] | None = None,
                    *, rounds: int = 5, warmup: int = 1) -> LatencyResult:
    """Median seconds per batch of ``texts`` for each model, rounds interleaved."""
    if rounds < 1:
        raise LoyaltyError(f"latency rounds must be >= 1, got {rounds}")
    if not texts:
        raise LoyaltyError("latency needs at least one text; the data is empty")
    texts = list(texts)
    text_pairs = list(text_pairs) if text_pairs is not None else None
    for _ in range(warmup):  # first calls pay for lazy initialisation and allocator growth
        _time_once(teacher, texts, text_pairs)
        _time_once(student, texts, text_pairs)
    teacher_times, student_times = [], []
    for round_index in range(rounds):
        pair = [(teacher, teacher_times), (student, student_times)]
        for model, times in (pair if round_index % 2 == 0 else reversed(pair)):
            times.append(_time_once(model, texts, text_pairs))
    return LatencyResult(statistics.median(teacher_times), statistics.median(student_times), len(texts),
                         rounds, tuple(teacher_times), tuple(student_times))
