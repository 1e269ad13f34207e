"""Collapse: for every label the teacher predicts, the student's share of predictions is at
least ``min_label_share_ratio`` times the teacher's (the smallest ratio, with a Dirichlet-smoothed CI).
Its failure line names the shares, so it shows no examples."""

from __future__ import annotations

import numpy as np

from .. import metrics
from ..stats import intervals
from . import checks
from .result import GateResult, Rule

GATE = "label_distribution"


def check(report, thresholds, *, warn_only: bool = False, n_resamples: int = 1000, seed: int = 0) -> GateResult:
    from ..stats.label_shares import share_ratio_interval

    limit = thresholds["min_label_share_ratio"]
    rows = checks.distinct_rows(report)
    teacher = np.asarray(report.teacher_predictions.predicted_labels)[rows]
    student = np.asarray(report.student_predictions.predicted_labels)[rows]
    names = report.label_names  # the data's labels and any extra the models have
    ratio = checks.smallest_share_ratio(teacher, student, len(names))
    # the interval counts the data's labels and the teacher's (stats.label_shares)
    labels = sorted(set(int(v) for v in np.asarray(report.data.label_array)[rows]) | set(int(v) for v in teacher))
    _, low, high = share_ratio_interval(
        teacher, student, len(names), labels=labels, draws=max(n_resamples, 1000), seed=seed
    )
    return checks.gate_metric(
        GATE,
        metrics.MetricValue(ratio, low, high, len(teacher)),
        limit.value,
        limit.source,
        intervals.AT_LEAST,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        name="smallest share ratio",
        duplicates=getattr(report, "duplicates", 0),
        detail=checks.label_distribution_message(teacher, student, names),
    )
