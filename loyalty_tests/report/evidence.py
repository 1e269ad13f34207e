"""What a reviewer needs to *see* beyond the gate rows, in a compact form that goes into the
JSON report (and from there into the HTML page): the teacher × student agreement matrix, the
worst negative flips and the examples where the student departs most (text, gold label, both
models' probabilities), both models' reliability-diagram bins, and the robustness gate's
confidence sequence look by look.

Everything is capped so the JSON stays small whatever the data: ``EXAMPLES`` rows per list,
texts clipped to ``TEXT_CHARS`` characters, one row per non-empty confidence bin, one row per
look. The full predictions stay in the cache; this is what the page draws.
"""

from __future__ import annotations

import numpy as np

from .. import metrics

EXAMPLES = 5  # rows per example list
TEXT_CHARS = 300  # a text is clipped to this many characters, "…" marking the cut


def reliability_bins(y_true, probs, n_bins: int = metrics.ECE_BINS) -> list[dict]:
    """Reliability-diagram rows: per non-empty equal-width bin ((b-1)/B, b/B] of the confidence
    ``max_c p_c``, the bin's edges, the number of examples, their mean confidence and their
    accuracy. The bins are those of ``metrics.expected_calibration_error``, so
    ``ECE = sum_b (count_b / n) · |accuracy_b − confidence_b|`` recomputes it from these rows.

    >>> probs = [[0.9, 0.1], [0.75, 0.25], [0.55, 0.45], [0.3, 0.7]]
    >>> [(r["low"], r["count"], r["confidence"], r["accuracy"]) for r in reliability_bins([0, 1, 0, 1], probs, 5)]
    [(0.4, 1, 0.55, 1.0), (0.6, 2, 0.725, 0.5), (0.8, 1, 0.9, 1.0)]
    """
    probs = np.asarray(probs, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == y_true).astype(np.float64)
    # the same edges as metrics: bin b holds ((b-1)/B, b/B], the first also a confidence of 0
    bins = np.clip(np.ceil(confidence * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    rows = []
    for b in (int(b) for b in np.unique(bins)):
        members = bins == b
        rows.append(
            {
                "low": round(b / n_bins, 4),
                "high": round((b + 1) / n_bins, 4),
                "count": int(members.sum()),
                "confidence": round(float(confidence[members].mean()), 4),
                "accuracy": round(float(correct[members].mean()), 4),
            }
        )
    return rows


def clip_text(text: str | None, limit: int = TEXT_CHARS) -> str | None:
    """A text cut to ``limit`` characters, the cut marked, so one long review cannot bloat the report.

    >>> clip_text("abcdef", 4)
    'abc…'
    >>> clip_text("abc", 4)
    'abc'
    """
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def _clipped(rows: list[dict]) -> list[dict]:
    return [{**row, "text": clip_text(row["text"]), "text_pair": clip_text(row.get("text_pair"))} for row in rows]


def prediction_evidence(report, k: int = EXAMPLES) -> dict:
    """From a ``LoyaltyReport``: the agreement matrix (rows teacher, columns student, counts), the
    ``k`` worst negative flips (teacher right, student wrong; the student's most confident mistakes
    first), the ``k`` examples where the student departs most (label disagreements first, then
    lowest probability loyalty) and both models' reliability bins."""
    teacher, student = report.teacher_predictions, report.student_predictions
    names = list(report.label_names)
    gold = report.data.label_array
    matrix = metrics.agreement_matrix(teacher.predicted_labels, student.predicted_labels, len(names))
    departures = _clipped(report.worst_examples(k))
    for row in departures:  # the page says which of them are label disagreements
        row["disagree"] = max(row["teacher"], key=row["teacher"].get) != max(row["student"], key=row["student"].get)
    return {
        "label_names": names,
        "agreement_matrix": matrix.tolist(),
        "worst_negative_flips": _clipped(report.worst_negative_flips(k)),
        "worst_disagreements": departures,
        "calibration": {
            "bins": metrics.ECE_BINS,
            "teacher": reliability_bins(gold, teacher.probabilities),
            "student": reliability_bins(gold, student.probabilities),
        },
    }


def sequence_evidence(sequence) -> dict | None:
    """The robustness gate's confidence sequence: at each look (examples attacked so far) the running
    interval of the drop, valid whenever the gate stopped; None when one block covered the run."""
    if sequence is None:
        return None
    return {
        "looks": list(sequence.looks),
        "lows": [round(v, 5) for v in sequence.lows],
        "highs": [round(v, 5) for v in sequence.highs],
        "stopped": sequence.stopped,
        "max_n": sequence.max_n,
        "reason": sequence.reason,
    }


def adversarial_evidence(comparison, k: int = 3) -> list[dict]:
    """Up to ``k`` successful attacks on the student, those whose teacher withstood its own attack
    first: the original and perturbed text (the page marks the changed words), the gold label and the
    student's probabilities before and after."""
    from ..robustness.summary import correct_under_attack

    teacher_survived = correct_under_attack(comparison.teacher)
    names = list(comparison.label_names)
    succeeded = [e for e in comparison.student.examples if e.status == "succeeded"]
    succeeded.sort(key=lambda e: (not teacher_survived.get(e.index), e.index))
    return [
        {
            "index": e.index,
            "label": names[e.label] if e.label < len(names) else str(e.label),
            "original": clip_text(e.original_text),
            "perturbed": clip_text(e.perturbed_text),
            "text_pair": clip_text(e.text_pair),
            "teacher_fooled": not teacher_survived.get(e.index),
            "original_probs": [round(float(p), 4) for p in e.original_probs],
            "perturbed_probs": [round(float(p), 4) for p in e.perturbed_probs or ()],
            "queries": e.queries,
        }
        for e in succeeded[:k]
    ]
