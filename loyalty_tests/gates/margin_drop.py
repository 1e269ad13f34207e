"""Robustness margin: the teacher's mean words-to-flip minus the student's, at most
``max_margin_drop`` words (``robustness.margin``). Collected with ``--attack``, beside the
robustness gate, from the same attack.

Accuracy under attack saturates (a strong attack flips every example of both models, and the
drop reads 0); the margin still tells a student flipped by one word from a teacher that needed
three. Per example both models got right before the attack: the words the attack perturbed to
flip it, or the recipe's bound when it did not flip it (censored, not dropped). The interval is
of the mean censored margin drop (``margin.margin_drop_interval``). When the robustness gate
stopped its attack early, the margin is read on the examples attacked by then.
"""

from __future__ import annotations

from ..robustness import margin
from ..stats import intervals, power
from .checks import gate_metric
from .result import GateResult, Rule

GATE = "margin_drop"


def check(comparison, limit: float | None, source: str, rule: Rule = Rule(), *, warn_only: bool = False) -> GateResult:
    """The gate on a ``RobustnessComparison``: PASS when the paired margin drop (teacher − student,
    words) is at most ``limit``, three-way from its 95% CI like every gate.

    >>> from types import SimpleNamespace as NS
    >>> from loyalty_tests.robustness import AttackConfig
    >>> def result(statuses, perturbed):
    ...     examples = [NS(index=i, status=s, original_text="a good and fine film", perturbed_text=p)
    ...                 for i, (s, p) in enumerate(zip(statuses, perturbed))]
    ...     return NS(examples=examples, config=AttackConfig("charswap:max_words=2,max_word_share=none"))
    >>> teacher = result(["failed"] * 4, [None] * 4)  # withstood: margin censored at 2 words
    >>> student = result(["succeeded"] * 4, ["a bad and fine film"] * 4)  # flipped by one word
    >>> gate = check(NS(teacher=teacher, student=student), 0.5, "default")
    >>> gate.three_way, gate.message.split(" (mean")[0]
    ('FAIL', 'margin_drop 1.000 (n=4, 95% CI 0.674–1.000) > 0.500 [default]')
    """
    _, teacher, student, bounds = margin.paired_margins(comparison)
    drop = margin.margin_drop_interval(teacher, student, float(bounds.max()) if len(bounds) else None)
    if drop.n == 0:  # fail closed, saying why: no example has a margin on both models
        return GateResult(
            GATE,
            False,
            None,
            limit,
            source,
            f"margin_drop has no example: of {len(comparison.teacher.examples)} attacked, none was classified "
            "correctly by both teacher and student before the attack, so no margin can be compared; "
            "attack more examples (--attack-examples N)",
            warn_only,
        )
    needed = None
    if limit is not None and drop.n:
        needed = power.normal_examples_for_power(drop.value, drop.ci_low, drop.ci_high, drop.n, limit)
    reach = None
    if drop.n:
        # a flip needs one word: the drop lies between mean(1 - student) and mean(teacher - 1)
        reach = (
            float((1.0 - student).mean()),
            float((teacher - 1.0).mean()),
            f"the teacher is flipped by {teacher.mean():.2f} words on average",
        )
    recipe = comparison.teacher.config.recipe
    detail = (
        f" (mean margin under {recipe}: teacher {teacher.mean():.2f}, student {student.mean():.2f} words)"
        if drop.n
        else ""
    )
    return gate_metric(
        GATE,
        drop,
        limit,
        source,
        intervals.AT_MOST,
        rule,
        warn_only=warn_only,
        needed=needed,
        unit="examples right before the attack",
        detail=detail,
        name="margin_drop",
        reach=reach,
    )
