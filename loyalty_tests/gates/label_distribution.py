"""Collapse: for every label the teacher predicts, the student's share of predictions is at
least ``min_label_share_ratio`` times the teacher's (the smallest ratio, with a bootstrap CI).
Its failure line names the shares, so it shows no examples."""

from __future__ import annotations

from .. import metrics
from ..stats import intervals
from . import checks
from .result import GateResult, Rule

GATE = "label_distribution"


def check(report, thresholds, *, warn_only: bool = False, n_resamples: int = 1000, seed: int = 0) -> GateResult:
    limit = thresholds["min_label_share_ratio"]
    teacher = report.teacher_predictions.predicted_labels
    student = report.student_predictions.predicted_labels
    names = report.label_names  # the data's labels and any extra the models have
    ratio = checks.smallest_share_ratio(teacher, student, len(names))

    def statistic(t, s):
        return checks.smallest_share_ratio(t, s, len(names))

    low, high = metrics.bootstrap_ci(statistic, teacher, student, n_resamples=n_resamples, seed=seed)
    return checks.gate_metric(GATE, metrics.MetricValue(ratio, low, high, len(teacher)), limit.value, limit.source,
                              intervals.AT_LEAST, Rule.from_thresholds(thresholds), warn_only=warn_only,
                              name="smallest share ratio",
                              detail=checks.label_distribution_message(teacher, student, names))
