"""Input checks shared by the metrics and by ``predictions``: probability arrays and class indices.

One place decides what counts as a probability matrix (finite, non-negative, rows summing to 1
within ``ROW_SUM_TOLERANCE``) and how a bad one is reported: by its name, the rows at fault and
the fix, so a model's outputs and a user's arrays fail the same way.
"""

from __future__ import annotations

import numpy as np

from .errors import LoyaltyError

# Rows of a probability array may sum to 1 within this (float32 softmax outputs drift a little);
# accepted rows are then renormalised, as scipy's jensenshannon does.
ROW_SUM_TOLERANCE = 1e-3


def rows_text(mask: np.ndarray) -> str:
    rows = np.flatnonzero(mask)
    return f"{rows.size} row{'' if rows.size == 1 else 's'} (first: row {rows[0]})"


def probabilities(name: str, probs) -> np.ndarray:
    """Check one probability array and return it as float64 with rows summing exactly to 1."""
    try:
        array = np.asarray(probs, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise LoyaltyError(f"{name} must be a numeric array of shape (n_examples, n_classes): {error}") from None
    if array.ndim != 2:
        raise LoyaltyError(
            f"{name} must be 2-D (n_examples, n_classes), got shape {array.shape}; "
            "for a single example pass probs[None, :]"
        )
    if array.size == 0:
        raise LoyaltyError(f"{name} is empty (shape {array.shape}): metrics need at least one example and class")
    if not np.isfinite(array).all():
        for bad, rows in (("NaN", np.isnan(array).any(axis=1)), ("inf", np.isinf(array).any(axis=1))):
            if rows.any():
                raise LoyaltyError(f"{name} has {bad} in {rows_text(rows)}; the model produced {bad} outputs")
    if array.min() < 0:
        raise LoyaltyError(
            f"{name} has negative values in {rows_text((array < 0).any(axis=1))}; these look "
            "like logits: pass probabilities (a softmax over the classes)"
        )
    sums = array.sum(axis=1)
    off = np.abs(sums - 1.0) > ROW_SUM_TOLERANCE
    if off.any():
        first = np.flatnonzero(off)[0]
        raise LoyaltyError(
            f"{name} rows must sum to 1 (within {ROW_SUM_TOLERANCE}), but {rows_text(off)} do not "
            f"(row {first} sums to {sums[first]:.6g}); apply a softmax to logits or normalise rows"
        )
    return array / sums[:, None]


def probability_pair(teacher_probs, student_probs, names=("teacher_probs", "student_probs")):
    teacher, student = probabilities(names[0], teacher_probs), probabilities(names[1], student_probs)
    if teacher.shape[0] != student.shape[0]:
        raise LoyaltyError(
            f"{names[0]} has {teacher.shape[0]} rows but {names[1]} has {student.shape[0]}: "
            "score both models on the same examples, in the same order"
        )
    if teacher.shape[1] != student.shape[1]:
        raise LoyaltyError(
            f"{names[0]} has {teacher.shape[1]} classes but {names[1]} has {student.shape[1]}: "
            "both models must output the same classes, aligned by label name"
        )
    return teacher, student


def class_indices(name: str, labels, n: int | None = None, n_classes: int | None = None) -> np.ndarray:
    """Check a 1-D array of class indices (gold labels or predictions)."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise LoyaltyError(
            f"{name} must be 1-D (one class index per example), got shape {array.shape}; "
            "for probabilities pass probs.argmax(axis=1)"
        )
    if array.size == 0:
        raise LoyaltyError(f"{name} is empty (0 examples): metrics need at least one example")
    if array.dtype.kind == "f" and np.isfinite(array).all() and (array == np.round(array)).all():
        array = array.astype(np.int64)  # integral floats (e.g. from pandas) are indices too
    if array.dtype.kind not in "iub":
        raise LoyaltyError(
            f"{name} must hold integer class indices, got dtype {array.dtype}; map label names to their indices first"
        )
    array = array.astype(np.int64, copy=False)
    if n is not None and array.size != n:
        raise LoyaltyError(f"{name} has {array.size} entries but there are {n} examples: pass one per example")
    top = n_classes if n_classes is not None else np.inf
    outside = (array < 0) | (array >= top)
    if outside.any():
        raise LoyaltyError(
            f"{name} has class indices outside [0, {n_classes}) in {rows_text(outside)}; "
            "check that labels and probability columns use the same label order"
        )
    return array


def same_length(*named) -> int:
    lengths = {name: len(array) for name, array in named}
    if len(set(lengths.values())) != 1:
        raise LoyaltyError(f"these must have one entry per example, but their lengths differ: {lengths}")
    return next(iter(lengths.values()))
