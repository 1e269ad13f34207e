"""``LoyaltyReport``: one teacher/student pair on one dataset — metrics with CIs, the thresholds
in force, and the worst disagreements. What the ``loyalty_report`` fixture returns and what
``assert_loyal`` checks. (Called ``Comparison`` before 0.2; that name stays as an alias.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import metrics
from .predictions import Predictions, check_same_labels


@dataclass(frozen=True)
class LoyaltyReport:
    teacher_name: str
    student_name: str
    data: object  # TextDataset
    teacher_predictions: Predictions
    student_predictions: Predictions
    metrics: dict  # name -> metrics.MetricValue
    thresholds: dict = field(default_factory=dict)  # key -> gates.thresholds.Threshold (gates read this report)
    seed: int = 0
    distinct: tuple[int, ...] | None = None  # indices the metrics count (first of each repeated text); None: all

    @property
    def duplicates(self) -> int:
        """Examples left out of the metrics because their text (and pair) came earlier in the data."""
        return 0 if self.distinct is None else len(self.data) - len(self.distinct)

    def worst_examples(self, k: int = 5) -> list[dict]:
        return worst_examples(self.data, self.teacher_predictions, self.student_predictions, k)

    @property
    def label_names(self) -> tuple[str, ...]:
        """The probability columns' labels: the data's, then any the models have beyond them."""
        return self.teacher_predictions.label_names

    def worst_negative_flips(self, k: int = 5) -> list[dict]:
        """Examples the teacher gets right and the student wrong, the student's most confident
        mistakes first (lowest probability of the gold label)."""
        teacher, student = self.teacher_predictions.probabilities, self.student_predictions.probabilities
        gold = self.data.label_array
        flipped = np.flatnonzero((teacher.argmax(axis=1) == gold) & (student.argmax(axis=1) != gold))
        order = flipped[np.argsort(student[flipped, gold[flipped]], kind="stable")][:k]
        return _example_rows(self.data, teacher, student, order, self.label_names)

    def flip_summary(self, k: int = 3) -> dict:
        """Flip accounting (Yan et al. 2021): counts and rates over all examples, negative flips as a
        share of the student's errors, and the teacher -> student negative-flip matrix with its
        largest cells."""
        from .stats import flips

        rows = np.arange(len(self.data)) if self.distinct is None else np.asarray(self.distinct)
        gold = np.asarray(self.data.label_array)[rows]
        teacher_pred = np.asarray(self.teacher_predictions.predicted_labels)[rows]
        student_pred = np.asarray(self.student_predictions.predicted_labels)[rows]
        names = list(self.label_names)
        matrix = flips.flip_matrix(gold, teacher_pred, student_pred, len(names))
        return {
            **flips.flip_counts(gold, teacher_pred, student_pred).to_row(),
            "label_names": names,
            "negative_flip_matrix": matrix.tolist(),
            "top_negative_flips": flips.top_flips(matrix, names, k),
        }

    def metric_rows(self) -> dict:
        return {name: _metric_row(value) for name, value in self.metrics.items()}


Comparison = LoyaltyReport  # the name before 0.2; users' type hints keep working


def _metric_row(value) -> dict:
    return {"value": value.value, "ci_low": value.ci_low, "ci_high": value.ci_high, "n": value.n}


def distinct_indices(texts, text_pairs=None) -> np.ndarray:
    """Index of the first occurrence of each distinct text (with its pair), in data order.

    >>> distinct_indices(["a", "b", "a", "c", "b"]).tolist()
    [0, 1, 3]
    >>> distinct_indices(["a", "a"], ["x", "y"]).tolist()  # same text, other pair: two examples
    [0, 1]
    """
    seen: dict = {}
    for index, key in enumerate(zip(texts, text_pairs) if text_pairs is not None else texts):
        seen.setdefault(key, index)
    return np.fromiter(seen.values(), dtype=np.int64, count=len(seen))


def compare_predictions(
    data,
    teacher_predictions: Predictions,
    student_predictions: Predictions,
    *,
    thresholds=None,
    n_resamples: int = 1000,
    seed: int = 0,
) -> LoyaltyReport:
    """Metrics over the *distinct* examples: a text repeated 50 times is one example, not 50 (a
    deterministic model answers each copy alike, so copies add no evidence but would shrink every
    interval as if they did). ``report.duplicates`` says how many were left out."""
    check_same_labels(teacher_predictions, student_predictions)
    keep = distinct_indices(data.texts, data.text_pairs)
    values = metrics.compare(
        np.asarray(data.labels)[keep],
        teacher_predictions.probabilities[keep],
        student_predictions.probabilities[keep],
        n_resamples=n_resamples,
        seed=seed,
    )
    distinct = None if keep.size == len(data) else tuple(int(i) for i in keep)
    return LoyaltyReport(
        teacher_predictions.model_name,
        student_predictions.model_name,
        data,
        teacher_predictions,
        student_predictions,
        values,
        thresholds or {},
        seed,
        distinct,
    )


def worst_examples(data, teacher_predictions: Predictions, student_predictions: Predictions, k: int = 5) -> list[dict]:
    """The ``k`` examples where the student departs most from the teacher.

    Label disagreements come first, then lower probability loyalty (1 − sqrt(JSD)).
    """
    teacher, student = teacher_predictions.probabilities, student_predictions.probabilities
    loyalty = metrics.per_example_probability_loyalty(teacher, student)
    disagree = teacher.argmax(axis=1) != student.argmax(axis=1)
    order = np.lexsort((loyalty, ~disagree))[:k]
    return _example_rows(data, teacher, student, order, teacher_predictions.label_names)


def _example_rows(data, teacher, student, indices, names) -> list[dict]:
    """``names``: the probability columns' labels (the data's first, so data.labels index them)."""
    loyalty = metrics.per_example_probability_loyalty(teacher, student)
    return [
        {
            "index": int(i),
            "text": data.texts[i],
            "text_pair": data.text_pairs[i] if data.text_pairs else None,
            "label": names[data.labels[i]],
            "teacher": {n: round(float(p), 4) for n, p in zip(names, teacher[i])},
            "student": {n: round(float(p), 4) for n, p in zip(names, student[i])},
            "probability_loyalty": round(float(loyalty[i]), 4),
        }
        for i in indices
    ]


def format_examples(rows: list[dict], width: int = 90) -> str:
    lines = []
    for row in rows:
        text = row["text"] if len(row["text"]) <= width else row["text"][: width - 1] + "…"
        teacher = " ".join(f"{n}={p:.3f}" for n, p in row["teacher"].items())
        student = " ".join(f"{n}={p:.3f}" for n, p in row["student"].items())
        lines.append(
            f"  #{row['index']} label={row['label']} teacher[{teacher}] student[{student}] "
            f"loyalty={row['probability_loyalty']:.3f}\n    {text!r}"
        )
    return "\n".join(lines)
