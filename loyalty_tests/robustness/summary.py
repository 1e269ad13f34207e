"""A robustness comparison, read for gating: the paired drop with its CI, and the adversarial
examples that fool the student but not the teacher.

Pure functions over a ``RobustnessComparison``; the plugin's
robustness gate, ``assert_robust`` and the reports use them.
"""

from __future__ import annotations

import numpy as np

from .. import metrics
from ..errors import LoyaltyError
from .bounds import bound_of, bound_row, describe_bound
from .margin import margin_row


def correct_under_attack(result) -> dict[int, float]:
    """Per attacked dataset index: 1.0 when the model is still right after the attack, else 0.0.

    An example the model got wrong before any attack ("skipped") counts as wrong, as in the
    paper's accuracy under attack; one whose attack failed counts as right.
    """
    return {example.index: float(example.status == "failed") for example in result.examples}


def paired_outcomes(comparison) -> tuple[list[int], np.ndarray]:
    """The attacked indices in order and, per index, teacher_correct - student_correct under attack
    (-1, 0 or 1): the per-example values the drop is the mean of."""
    teacher, student = correct_under_attack(comparison.teacher), correct_under_attack(comparison.student)
    if set(teacher) != set(student):
        raise LoyaltyError(
            "teacher and student were attacked on different examples; attack both with "
            "compare_robustness so the same seeded examples are used"
        )
    if not teacher:
        raise LoyaltyError("no examples were attacked; give --attack-examples N with N >= 1 and non-empty data")
    order = sorted(teacher)
    return order, np.array([teacher[i] - student[i] for i in order])


def discordant_counts(comparison) -> tuple[int, int]:
    """(b, c): examples only the student was fooled on, and only the teacher."""
    _, differences = paired_outcomes(comparison)
    return int((differences > 0).sum()), int((differences < 0).sum())


def robustness_drop(comparison) -> metrics.MetricValue:
    """Teacher − student accuracy under attack on the same examples, ``(b - c) / n``, with Tango's
    paired score interval with a continuity correction (``stats.exact.gate_paired_interval``), which stays
    honest at the small n attacks have: ten examples whose outcomes agree give about ±0.40, not 0.000–0.000.

    >>> from types import SimpleNamespace as NS
    >>> teacher = NS(examples=[NS(index=0, status="failed"), NS(index=1, status="failed")])
    >>> student = NS(examples=[NS(index=0, status="failed"), NS(index=1, status="succeeded")])
    >>> robustness_drop(NS(teacher=teacher, student=student)).value
    0.5
    """
    return drop_from_differences(paired_outcomes(comparison)[1])


def drop_from_differences(differences) -> metrics.MetricValue:
    """``robustness_drop`` from the paired outcomes already computed (teacher − student correct
    under attack per example), so a run computes them once.

    >>> drop_from_differences(np.array([0.0, 1.0])).value
    0.5
    """
    from ..stats.exact import gate_paired_interval

    differences = np.asarray(differences, dtype=float)
    b, c = int((differences > 0).sum()), int((differences < 0).sum())
    low, high = gate_paired_interval(b, c, len(differences))
    return metrics.MetricValue(float(differences.mean()), float(low), float(high), n=len(differences))


def student_only_fooled(comparison, k: int = 5) -> list[dict]:
    """Up to ``k`` examples whose attack on the student succeeded while the teacher withstood its own."""
    teacher_survived = {i for i, ok in correct_under_attack(comparison.teacher).items() if ok}
    rows = []
    for example in comparison.student.examples:
        if example.status == "succeeded" and example.index in teacher_survived:
            rows.append(
                {
                    "index": example.index,
                    "original": example.original_text,
                    "perturbed": example.perturbed_text,
                    "text_pair": example.text_pair,
                    "original_probs": list(example.original_probs),
                    "perturbed_probs": list(example.perturbed_probs or ()),
                    "queries": example.queries,
                }
            )
        if len(rows) == k:
            break
    return rows


def format_adversarial(rows: list[dict], label_names, width: int = 90) -> str:
    def clip(text: str) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    def probs(values) -> str:
        return " ".join(f"{name}={p:.3f}" for name, p in zip(label_names, values))

    lines = []
    for row in rows:
        lines.append(
            f"  #{row['index']} student[{probs(row['original_probs'])}] -> [{probs(row['perturbed_probs'])}] "
            f"after {row['queries']} queries\n    original : {clip(row['original'])!r}\n"
            f"    perturbed: {clip(row['perturbed'])!r}"
        )
    return "\n".join(lines)


def _attack_summary(result) -> dict:
    return {
        "original_accuracy": result.original_accuracy,
        "accuracy_under_attack": result.accuracy_under_attack,
        "attack_success_rate": result.attack_success_rate,
        "mean_perturbed_fraction": result.mean_perturbed_fraction,
        "mean_queries": result.mean_queries,
        "seconds": result.seconds,
    }


def robustness_row(comparison, drop: metrics.MetricValue, *, examples: int = 3) -> dict:
    """The report's robustness entry: the recipe and its perturbation bound, both models' attack
    summaries (fractions), transfer rate, loyalty on adversarial inputs, the drop with its CI, the
    robustness margin (``margin.margin_row``) and a few student-only adversarial examples."""
    config = comparison.teacher.config
    return {
        "recipe": config.recipe,
        "bound": {**bound_row(config.recipe_config), "text": describe_bound(*bound_of(config.recipe_config))},
        "examples": config.examples,
        "budget": config.budget,
        "seed": config.seed,
        "teacher": _attack_summary(comparison.teacher),
        "student": _attack_summary(comparison.student),
        "transfer_rate": comparison.transfer_rate,
        "adversarial_label_loyalty": comparison.adversarial_label_loyalty,
        "robustness_drop": {"value": drop.value, "ci_low": drop.ci_low, "ci_high": drop.ci_high, "n": drop.n},
        "margin": margin_row(comparison),  # words to flip, censored at the bound (margin.py)
        "adversarial_examples": student_only_fooled(comparison, examples),
    }
