"""Robustness: teacher minus student accuracy under the same attack, at most ``max_robustness_drop``.

Pure functions over the attack's paired outcomes (per attacked example, teacher correct minus
student correct under attack: -1, 0 or 1), computed once per run by the caller:

- ``robustness_sequence``: the sequential decision after the blocks attacked so far (a confidence sequence
  over the drops in the order they were attacked), which tells the attack loop when to stop;
- ``robustness_feasibility``: before any attack, whether the cap on attacked examples can give a PASS at all;
- ``check``: the gate, from the comparison, its paired outcomes and the sequence, if any.

The plugin's gate and ``assert_robust`` both call ``check``.
"""

from __future__ import annotations

import numpy as np

from ..robustness import summary
from ..stats import intervals, power, sample_size, sequential
from .checks import gate_metric
from .result import RobustnessGateResult, Rule

GATE = "robustness"
CAP_NAME = "--attack-examples"


def in_attack_order(outcomes, order) -> list[float]:
    """``outcomes`` (indices, differences) rearranged in the order the examples were attacked."""
    indices, differences = outcomes
    position = {index: i for i, index in enumerate(indices)}
    return [float(differences[position[index]]) for index in order if index in position]


def robustness_sequence(ordered_differences, limit: float | None, rule: Rule, block: int, cap: int):
    """The sequential robustness decision after the blocks attacked so far (None without a limit,
    or when a single block covers the run: then the fixed-size interval decides).

    >>> robustness_sequence([0.0] * 10, 0.1, Rule(), block=10, cap=10) is None  # one block: fixed-size
    True
    >>> robustness_sequence([0.0] * 100, 0.2, Rule(), block=50, cap=100).decision.outcome
    'PASS'
    """
    if limit is None or len(sequential.planned_looks(block, cap)) == 1:
        return None
    return sequential.sequential_decision(
        list(ordered_differences),
        limit,
        intervals.AT_MOST,
        block_size=block,
        max_n=cap,
        rule=rule.name,
        inconclusive=rule.inconclusive,
        cap_name=CAP_NAME,
    )


def robustness_feasibility(limit: float | None, cap: int, block: int) -> str | None:
    """Before any attack: can ``cap`` attacked examples in blocks of ``block`` give the gate a PASS
    outcome at all? Not if even a student identical to its teacher (no disagreement) keeps a CI
    above the limit; then say how many examples it takes. None when it can (or nothing is gated)."""
    if limit is None:
        return None
    looks = sequential.planned_looks(min(block, cap), cap)
    if len(looks) == 1:
        return sample_size.feasibility_text(
            "robustness_drop",
            sample_size.identical_student_feasibility("paired_difference", cap, limit, "at_most"),
            "attacked examples",
        )
    _, highs = sequential.sequential_interval(np.zeros(cap), looks=looks)
    if highs[-1] <= limit:
        return None
    # An identical student's differences are all zero; the shared search finds the block count
    # whose confidence sequence would decide them.
    enough = sequential.sequential_examples_to_decide(
        np.zeros(block), limit, "at_most", block_size=block, largest=20 * cap
    )
    more = f"; raise {CAP_NAME} to about {enough}" if enough else ""
    return (
        f"with at most {cap} attacked examples in blocks of {block}, the robustness gate cannot reach a PASS "
        f"outcome: even a student identical to its teacher keeps a confidence-sequence bound of "
        f"{highs[-1]:.3f} > {limit:.3f}{more} (the estimate rule still decides by the point estimate)"
    )


def check(
    comparison,
    limit: float | None,
    source: str,
    rule: Rule = Rule(),
    *,
    outcomes=None,
    decision=None,
    block: int | None = None,
    warn_only: bool = False,
) -> RobustnessGateResult:
    """The gate on ``comparison`` (a ``RobustnessComparison``). ``outcomes``: its paired outcomes,
    when the caller has them already; ``decision``: the sequential decision the attack stopped on
    (its interval then replaces the fixed-size one, valid however many blocks it took)."""
    outcomes = outcomes if outcomes is not None else summary.paired_outcomes(comparison)
    differences = outcomes[1]
    drop = summary.drop_from_differences(differences)
    stop, needed = "", None
    if decision is not None:
        drop = type(drop)(drop.value, decision.decision.low, decision.decision.high, drop.n)
        stop = f"; {decision.reason}"
        needed = power.sequential_examples_for_power(differences, limit, intervals.AT_MOST, block_size=block)
    elif limit is not None:
        b, c = int((differences > 0).sum()), int((differences < 0).sum())
        needed = power.paired_examples_for_power(b, c, drop.n, limit)
    teacher, student = comparison.teacher, comparison.student
    detail = (
        f" (accuracy under {teacher.config.recipe} attack: teacher {teacher.accuracy_under_attack:.3f}, "
        f"student {student.accuracy_under_attack:.3f}{stop})"
    )
    result = gate_metric(
        GATE,
        drop,
        limit,
        source,
        intervals.AT_MOST,
        rule,
        warn_only=warn_only,
        needed=needed,
        unit="attacked examples",
        detail=detail,
        name="robustness_drop",
        reach=(
            teacher.accuracy_under_attack - 1.0,
            teacher.accuracy_under_attack,
            f"the teacher keeps {teacher.accuracy_under_attack:.1%} accuracy under this attack",
        ),
    )
    return RobustnessGateResult(
        **vars(result),
        recipe=teacher.config.recipe,
        teacher_accuracy_under_attack=teacher.accuracy_under_attack,
        student_accuracy_under_attack=student.accuracy_under_attack,
        stop_reason=decision.reason if decision is not None else f"attacked all {drop.n} examples",
    )
