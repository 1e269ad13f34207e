"""Flip accounting: which examples a student update broke and which it fixed.

After Yan et al. (CVPR 2021, "Positive-Congruent Training: Towards Regression-Free Model
Updates") and Xie et al. (ACL 2021, "Regression Bugs Are In Your Model! Measuring, Reducing and
Analyzing Regressions In NLP Model Updates"). With y the gold label, a *negative flip* is an
example the teacher gets right and the student gets wrong (a regression a user would notice);
a *positive flip* is the reverse. Rates are over ALL n examples, as in Yan et al.:

    NFR = #(teacher right, student wrong) / n,    PFR = #(teacher wrong, student right) / n.

Pure numpy; argument order and input checks follow ``metrics`` (gold labels first, then the
teacher, then the student; class indices, one per example).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError
from ..validation import class_indices, same_length

FLIP_KINDS = ("negative", "positive")


@dataclass(frozen=True)
class FlipCounts:
    """Paired correctness counts over n examples and the rates derived from them."""

    negative_flips: int  # teacher right, student wrong
    positive_flips: int  # teacher wrong, student right
    both_correct: int
    both_wrong: int
    n: int

    @property
    def negative_flip_rate(self) -> float:
        """NFR = negative_flips / n (Yan et al. 2021)."""
        return self.negative_flips / self.n

    @property
    def positive_flip_rate(self) -> float:
        """PFR = positive_flips / n."""
        return self.positive_flips / self.n

    @property
    def student_errors(self) -> int:
        return self.negative_flips + self.both_wrong

    @property
    def negative_flip_share_of_errors(self) -> float:
        """negative_flips / (student errors): how many of the student's mistakes are new ones the
        teacher did not make; NaN when the student makes no mistakes (nothing to share)."""
        return self.negative_flips / self.student_errors if self.student_errors else math.nan

    def to_row(self) -> dict:
        return {
            "negative_flips": self.negative_flips,
            "positive_flips": self.positive_flips,
            "both_correct": self.both_correct,
            "both_wrong": self.both_wrong,
            "n": self.n,
            "negative_flip_rate": self.negative_flip_rate,
            "positive_flip_rate": self.positive_flip_rate,
            "negative_flip_share_of_errors": self.negative_flip_share_of_errors,
        }


def _checked(y_true, teacher_pred, student_pred, n_classes: int | None = None):
    if n_classes is not None and (int(n_classes) != n_classes or n_classes < 1):
        raise LoyaltyError(f"n_classes must be a whole number >= 1, got {n_classes!r}")
    arrays = [
        class_indices(name, array, n_classes=None if n_classes is None else int(n_classes))
        for name, array in (("y_true", y_true), ("teacher_pred", teacher_pred), ("student_pred", student_pred))
    ]
    same_length(*zip(("y_true", "teacher_pred", "student_pred"), arrays))
    return arrays


def flip_counts(y_true, teacher_pred, student_pred) -> FlipCounts:
    """Negative flips (teacher right, student wrong), positive flips (the reverse), both right,
    both wrong, over n examples; rates ``NFR = negative / n``, ``PFR = positive / n`` and the
    share ``negative / (student errors)`` are properties.

    >>> counts = flip_counts([0, 1, 1, 0, 2], [0, 1, 0, 1, 2], [0, 0, 1, 1, 1])
    >>> counts.negative_flips, counts.positive_flips, counts.negative_flip_rate
    (2, 1, 0.4)
    >>> round(counts.negative_flip_share_of_errors, 4)  # 2 of the student's 3 errors are new
    0.6667
    """
    y_true, teacher_pred, student_pred = _checked(y_true, teacher_pred, student_pred)
    teacher_right, student_right = teacher_pred == y_true, student_pred == y_true
    return FlipCounts(
        int(np.sum(teacher_right & ~student_right)),
        int(np.sum(~teacher_right & student_right)),
        int(np.sum(teacher_right & student_right)),
        int(np.sum(~teacher_right & ~student_right)),
        int(y_true.size),
    )


def flip_matrix(y_true, teacher_pred, student_pred, n_classes: int, kind: str = "negative") -> np.ndarray:
    """Teacher -> student flip matrix: ``M[i, j]`` = number of ``kind`` flips where the teacher
    predicted class i and the student class j (rows teacher, columns student).

    * ``kind="negative"`` (default): among negative flips, so the teacher's label i is the gold
      label and j is the student's new mistake; ``M[i, j]`` reads "the student now calls i
      examples j". This is the matrix for a failed negative-flip gate: its largest cells name
      the classes the student broke. The diagonal is 0 and ``M.sum()`` is the negative-flip count.
    * ``kind="positive"``: among positive flips, j is the gold label the student got back and i
      the teacher's mistake.

    Counting among all disagreements instead would mix in examples both models get wrong,
    which are not regressions; ``metrics.agreement_matrix`` already gives that view.

    >>> flip_matrix([0, 1, 1, 0, 2], [0, 1, 0, 1, 2], [0, 0, 1, 1, 1], n_classes=3)
    array([[0, 0, 0],
           [1, 0, 0],
           [0, 1, 0]])
    """
    if kind not in FLIP_KINDS:
        raise LoyaltyError(f"kind must be 'negative' (teacher right, student wrong) or 'positive', got {kind!r}")
    y_true, teacher_pred, student_pred = _checked(y_true, teacher_pred, student_pred, n_classes)
    teacher_right, student_right = teacher_pred == y_true, student_pred == y_true
    chosen = (teacher_right & ~student_right) if kind == "negative" else (~teacher_right & student_right)
    k = int(n_classes)
    cells = np.bincount(teacher_pred[chosen] * k + student_pred[chosen], minlength=k * k)
    return cells.reshape(k, k)


def top_flips(matrix, label_names=None, k: int = 5) -> list[tuple[str, str, int]]:
    """The ``k`` largest cells of a flip matrix as ``(teacher label, student label, count)``,
    largest first (ties by row, then column); zero cells are left out.

    >>> top_flips([[0, 3], [1, 0]], ["negative", "positive"])
    [('negative', 'positive', 3), ('positive', 'negative', 1)]
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise LoyaltyError(f"a flip matrix is square (n_classes x n_classes), got shape {matrix.shape}")
    names = [str(i) for i in range(matrix.shape[0])] if label_names is None else [str(name) for name in label_names]
    if len(names) != matrix.shape[0]:
        raise LoyaltyError(f"label_names has {len(names)} names but the matrix has {matrix.shape[0]} classes")
    order = np.argsort(-matrix, axis=None, kind="stable")[: int(k)]
    rows, cols = np.unravel_index(order, matrix.shape)
    return [(names[i], names[j], int(matrix[i, j])) for i, j in zip(rows, cols) if matrix[i, j] > 0]
