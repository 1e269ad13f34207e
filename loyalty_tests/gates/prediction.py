"""The gates read from the two models' predictions on the data (a ``LoyaltyReport``), by name.

Each prediction gate is its own module (``accuracy_drop``, ``label_loyalty``, ...) listed in
``registry.GATES``; this module looks one up. The pytest gates, ``assert_loyal`` and the verdict
benchmark all go through here, so they decide alike.
"""

from __future__ import annotations

from .registry import GATES, PREDICTION_GATES
from .result import GateResult
from .thresholds import Threshold


def prediction_gate(
    gate: str,
    report,
    thresholds: dict[str, Threshold],
    *,
    warn_only: bool = False,
    n_resamples: int = 1000,
    seed: int = 0,
) -> GateResult:
    """``gate`` (one of ``PREDICTION_GATES``) on ``report`` under ``thresholds``' limits and rule."""
    if gate not in PREDICTION_GATES:
        raise ValueError(f"unknown gate {gate!r}; prediction gates: {', '.join(PREDICTION_GATES)}")
    return GATES[gate].check(report, thresholds, warn_only=warn_only, n_resamples=n_resamples, seed=seed)


def failure_examples(gate: str, report, k: int = 5) -> tuple[str, list[dict]]:
    """What a failed gate shows: the worst negative flips for the flip gate, the worst
    disagreements for the others, nothing for the collapse gate (its shares say it all)."""
    return GATES[gate].failure_examples(report, k)
