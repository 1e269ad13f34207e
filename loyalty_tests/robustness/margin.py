"""The robustness margin: how many words the attack had to perturb to flip an example.

Accuracy under attack saturates: an attack strong enough flips every example of both models and
the drop reads zero whatever the student is. The margin keeps the information the attack found:

    margin_i = the words perturbed in the attack's adversarial text of example i (a flip), or
               the example's bound (``bounds.allowed_words``; its word count when unbounded) when
               the attack did not flip it: censored at the bound, not dropped.

It is taken on the examples BOTH models classify correctly before the attack (same examples, so
the comparison is paired); an example either model got wrong has no margin. The paired drop is

    margin_drop = mean_i(teacher_margin_i − student_margin_i)   (in words; > 0: the student is
                                                                 flipped by fewer words)

The attack's search is greedy, so a margin is the number of words *this attack* needed, an upper
bound on the smallest number any attack would need; both models get the same search.
"""

from __future__ import annotations

import math

import numpy as np

from .. import metrics
from .bounds import allowed_words, bound_of, perturbed_words
from .words import Words


def example_margin(example, max_words: int | None, max_word_share: float | None) -> tuple[float, float] | None:
    """(margin, bound) of one attacked example: words perturbed when the attack flipped it, the
    bound when it did not (censored); None when the model got it wrong before the attack ("skipped").

    >>> from types import SimpleNamespace as NS
    >>> flipped = NS(status="succeeded", original_text="a good and fine film", perturbed_text="a bad and fine film")
    >>> held = NS(status="failed", original_text="a good and fine film", perturbed_text=None)
    >>> example_margin(flipped, None, 0.4), example_margin(held, None, 0.4), example_margin(held, None, None)
    ((1.0, 2.0), (2.0, 2.0), (5.0, 5.0))
    """
    if example.status == "skipped":
        return None
    original = Words.split(example.original_text)
    allowed = allowed_words(max_words, max_word_share, len(original))
    bound = float(len(original) if allowed is None else allowed)
    if example.status != "succeeded":
        return bound, bound
    changed = perturbed_words(original.words, Words.split(example.perturbed_text).words)
    return float(min(changed, bound)), bound


def margins(result) -> dict[int, tuple[float, float]]:
    """Per dataset index the model classified correctly before the attack: (margin, bound) in words."""
    bound = bound_of(result.config.recipe_config)
    found = {e.index: example_margin(e, *bound) for e in result.examples}
    return {index: margin for index, margin in found.items() if margin is not None}


def paired_margins(comparison) -> tuple[list[int], np.ndarray, np.ndarray, np.ndarray]:
    """(indices both models classified correctly before the attack, teacher margins, student
    margins, each example's bound): the same examples, recipe and bound for both."""
    teacher, student = margins(comparison.teacher), margins(comparison.student)
    both = sorted(set(teacher) & set(student))
    return (
        both,
        np.array([teacher[i][0] for i in both]),
        np.array([student[i][0] for i in both]),
        np.array([teacher[i][1] for i in both]),
    )


def margin_drop_interval(teacher, student, largest: float | None = None, confidence: float = 0.95):
    """The paired drop mean(teacher − student) in words with a 95% interval over examples.

    The interval is of the mean of the CENSORED margins (an example the attack did not flip counts
    as its bound), not of the uncensored margins, which the attack cannot see past its bound. Each
    difference lies in [−R, R] with R = ``largest`` − 1 (``largest``: the largest bound of the
    examples, else the largest margin seen; a flip needs one word), so the differences are
    rescaled to [0, 1] and given the score interval with the sample's own dispersion
    (``stats.bounded_means``; a t-interval in effect at this centre, but with a smoothed variance,
    so identical margins still give a non-zero width), then scaled back.

    >>> drop = margin_drop_interval([3, 3, 2, 3], [1, 2, 2, 1])
    >>> drop.value, drop.n, drop.ci_low < 1.25 < drop.ci_high
    (1.25, 4, True)
    >>> same = margin_drop_interval([3.0] * 30, [3.0] * 30)
    >>> same.value, round(same.ci_low, 2), round(same.ci_high, 2)
    (0.0, -0.07, 0.07)
    """
    from ..stats.bounded_means import dispersion_score_interval

    teacher, student = np.asarray(teacher, dtype=float), np.asarray(student, dtype=float)
    if len(teacher) == 0:
        return metrics.MetricValue(math.nan, math.nan, math.nan, n=0)
    differences = teacher - student
    largest = float(np.max(np.concatenate([teacher, student]))) if largest is None else float(largest)
    reach = max(largest - 1.0, 1.0)
    low, high = dispersion_score_interval((differences + reach) / (2.0 * reach), confidence)
    scale = 2.0 * reach
    return metrics.MetricValue(
        float(differences.mean()), float(low * scale - reach), float(high * scale - reach), n=len(differences)
    )


def margin_drop(comparison) -> metrics.MetricValue:
    """``margin_drop_interval`` of a ``RobustnessComparison``'s paired margins."""
    _, teacher, student, bounds = paired_margins(comparison)
    return margin_drop_interval(teacher, student, float(bounds.max()) if len(bounds) else None)


def margin_row(comparison) -> dict:
    """The margin part of the report's robustness row: both mean margins (over the examples both
    models got right before the attack), how many of them each model withstood (censored at the
    bound), and the drop with its CI."""
    both, teacher, student, bounds = paired_margins(comparison)
    drop = margin_drop_interval(teacher, student, float(bounds.max()) if len(bounds) else None)
    held = {
        role: {e.index for e in result.examples if e.status == "failed"}
        for role, result in (("teacher", comparison.teacher), ("student", comparison.student))
    }
    both = set(both)
    return {
        "n": drop.n,
        "teacher": float(teacher.mean()) if len(teacher) else math.nan,
        "student": float(student.mean()) if len(student) else math.nan,
        "teacher_censored": len(held["teacher"] & both),
        "student_censored": len(held["student"] & both),
        "drop": {"value": drop.value, "ci_low": drop.ci_low, "ci_high": drop.ci_high, "n": drop.n},
    }


def _words(value) -> str:
    return "–" if value is None or value != value else f"{value:.2f}"


def margin_lines(row: dict) -> list[str]:
    """The terminal line beside accuracy under attack: the bound, both mean margins and the drop.
    A report written before margins existed shows nothing.

    >>> row = {"bound": {"text": "at most 20% of the words"}, "margin": {"n": 40, "teacher": 2.5,
    ...     "student": 1.75, "drop": {"value": 0.75, "ci_low": 0.3, "ci_high": 1.2}}}
    >>> print(margin_lines(row)[0])
      margin (words to flip; n=40, at most 20% of the words) 2.50 / 1.75; drop 0.75 (95% CI 0.30–1.20)
    """
    margin = row.get("margin")
    if not margin:
        return []
    bound = (row.get("bound") or {}).get("text", "")
    drop = margin["drop"]
    interval = (
        ""
        if drop.get("ci_low") is None or drop["ci_low"] != drop["ci_low"]
        else f" (95% CI {drop['ci_low']:.2f}–{drop['ci_high']:.2f})"
    )
    return [
        f"  margin (words to flip; n={margin['n']}, {bound}) "
        f"{_words(margin['teacher'])} / {_words(margin['student'])}; drop {_words(drop['value'])}{interval}"
    ]
