"""The gates read from the two models' predictions on the data (a ``LoyaltyReport``): accuracy
drop, label and probability loyalty, negative flip rate and label distribution.

Each picks its metric, interval and direction, and how many examples would decide it when the
CI straddles the limit; ``gate_checks.gate_metric`` turns that into a verdict. The pytest gates,
``assert_loyal`` and the verdict benchmark all go through here, so they decide alike.
"""

from __future__ import annotations

import numpy as np

from . import checks as gate_checks
from .. import metrics
from ..stats import power
from ..stats import intervals as stats
from .thresholds import Threshold

PREDICTION_GATES = ("accuracy_drop", "label_loyalty", "probability_loyalty", "negative_flip_rate",
                    "label_distribution")


def prediction_gate(gate: str, report, thresholds: dict[str, Threshold], *, warn_only: bool = False,
                    n_resamples: int = 1000, seed: int = 0) -> gate_checks.GateResult:
    """``gate`` (one of ``PREDICTION_GATES``) on ``report`` under ``thresholds``' limits and rule."""
    m, t = report.metrics, thresholds
    duplicates = getattr(report, "duplicates", 0)
    common = dict(rule=gate_checks.Rule.from_thresholds(t), warn_only=warn_only, duplicates=duplicates)
    b, c, n = int(m["correct_to_wrong"].value), int(m["wrong_to_correct"].value), m["label_loyalty"].n
    rows = np.asarray(report.distinct if getattr(report, "distinct", None) is not None else range(len(report.data)))

    def needed(limit, count):
        return None if limit is None else count(limit)

    if gate == "accuracy_drop":
        teacher_accuracy, student_accuracy = m["teacher_accuracy"].value, m["student_accuracy"].value
        limit, source = gate_checks.accuracy_drop_limit(teacher_accuracy, t["max_accuracy_drop"],
                                                        t["max_accuracy_drop_relative"])
        return gate_checks.gate_metric(
            gate, m[gate], limit, source, stats.AT_MOST, feasible_kind="paired_difference",
            reach=(teacher_accuracy - 1.0, teacher_accuracy, f"the teacher's accuracy is {teacher_accuracy:.1%}"),
            needed=needed(limit, lambda lim: power.paired_examples_for_power(b, c, n, lim)),
            detail=f" (teacher {teacher_accuracy:.3f}, student {student_accuracy:.3f})", **common)
    if gate == "label_loyalty":
        limit, agree = t["min_label_loyalty"], round(m[gate].value * n)
        return gate_checks.gate_metric(
            gate, m[gate], limit.value, limit.source, stats.AT_LEAST, feasible_kind="proportion",
            needed=needed(limit.value, lambda lim: power.proportion_examples_for_power(agree, n, lim)), **common)
    if gate == "probability_loyalty":
        limit = t["min_probability_loyalty"]
        values = metrics.per_example_probability_loyalty(report.teacher_predictions.probabilities[rows],
                                                         report.student_predictions.probabilities[rows])
        return gate_checks.gate_metric(
            gate, m[gate], limit.value, limit.source, stats.AT_LEAST, feasible_kind="bounded_mean",
            needed=needed(limit.value, lambda lim: power.mean_examples_for_power(values, lim)), **common)
    if gate == "negative_flip_rate":
        limit = t["max_negative_flip_rate"]
        teacher_accuracy = m["teacher_accuracy"].value
        return gate_checks.gate_metric(
            gate, m[gate], limit.value, limit.source, stats.AT_MOST, feasible_kind="proportion",
            reach=(0.0, teacher_accuracy, f"the teacher's accuracy is {teacher_accuracy:.1%}"),
            needed=needed(limit.value, lambda lim: power.proportion_examples_for_power(b, n, lim, stats.AT_MOST)),
            detail=f" ({b} negative, {c} positive flips)", **common)
    if gate == "label_distribution":
        return _label_distribution(report, rows, t["min_label_share_ratio"], common, n_resamples, seed)
    raise ValueError(f"unknown gate {gate!r}; prediction gates: {', '.join(PREDICTION_GATES)}")


def _label_distribution(report, rows, limit: Threshold, common: dict, n_resamples: int, seed: int):
    """Collapse: the smallest student/teacher share ratio over labels, with a Dirichlet-smoothed
    interval (``stats.label_shares``) over the data's labels and the teacher's."""
    from ..stats.label_shares import share_ratio_interval

    teacher = np.asarray(report.teacher_predictions.predicted_labels)[rows]
    student = np.asarray(report.student_predictions.predicted_labels)[rows]
    names = report.label_names  # the data's labels and any extra the models have
    labels = sorted(set(int(v) for v in np.asarray(report.data.label_array)[rows]) | set(int(v) for v in teacher))
    ratio = gate_checks.smallest_share_ratio(teacher, student, len(names))
    _, low, high = share_ratio_interval(teacher, student, len(names), labels=labels, draws=max(n_resamples, 1000),
                                        seed=seed)
    return gate_checks.gate_metric("label_distribution", metrics.MetricValue(ratio, low, high, len(teacher)),
                                   limit.value, limit.source, stats.AT_LEAST, name="smallest share ratio",
                                   detail=gate_checks.label_distribution_message(teacher, student, names), **common)


def failure_examples(gate: str, report, k: int = 5) -> tuple[str, list[dict]]:
    """What a failed gate shows: the worst negative flips for the flip gate, the worst
    disagreements for the others, nothing for the collapse gate (its shares say it all)."""
    if gate == "negative_flip_rate":
        return "negative flips", report.worst_negative_flips(k)
    if gate == "label_distribution":
        return "", []
    return "disagreements", report.worst_examples(k)
