"""``predict``: the one place a model meets data.

The model's probability columns are reordered to the dataset's label order **by name**, its
outputs are checked (shape, NaN, rows that are not probabilities), and the result is cached on
disk under a fingerprint of the model, the data and the code version, so a second gate run and
every pytest-xdist worker reuse it.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .cache import atomic_write_bytes, fingerprint, locked
from .errors import LoyaltyError


@dataclass(frozen=True)
class Predictions:
    """One model's probabilities on one dataset, columns in the dataset's label order."""

    model_name: str
    probabilities: np.ndarray  # (n_examples, n_labels)
    label_names: tuple[str, ...]
    seconds: float  # wall time of the forward passes that produced them (0 when never run here)
    from_cache: bool = False

    @property
    def predicted_labels(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def label_permutation(model_labels, data_labels, model_name: str, data_name: str) -> np.ndarray:
    """Column indices that put the model's outputs in the data's label order, matched by name."""
    model_labels, data_labels = tuple(model_labels), tuple(data_labels)
    if len(set(model_labels)) != len(model_labels):
        raise LoyaltyError(f"model {model_name!r} names a label twice: {list(model_labels)}; fix its id2label")
    if set(model_labels) != set(data_labels):
        hint = ""
        if all(str(name).startswith("LABEL_") for name in model_labels):
            hint = (" The model uses Hugging Face's default names LABEL_0, LABEL_1, ...: set id2label in its "
                    "config.json to the data's label names.")
        raise LoyaltyError(
            f"label sets differ: model {model_name!r} has {sorted(model_labels)}, data {data_name!r} has "
            f"{sorted(data_labels)}. Labels are matched by name, never by position; make the model's "
            f"id2label names and the data's label column use the same names.{hint}"
        )
    return np.array([model_labels.index(name) for name in data_labels])


def check_probabilities(probabilities, n_examples: int, n_labels: int, model_name: str) -> np.ndarray:
    probabilities = np.asarray(probabilities, dtype=np.float64)
    if probabilities.shape != (n_examples, n_labels):
        raise LoyaltyError(
            f"model {model_name!r} returned outputs of shape {probabilities.shape}, expected "
            f"({n_examples}, {n_labels}): one row per text, one column per label name"
        )
    bad_rows = np.flatnonzero(~np.isfinite(probabilities).all(axis=1))
    if bad_rows.size:
        raise LoyaltyError(
            f"model {model_name!r} returned NaN or infinite outputs for {bad_rows.size} of {n_examples} "
            f"examples (first: example {bad_rows[0]}); check the model's weights and inputs"
        )
    sums = probabilities.sum(axis=1)
    if (probabilities < 0).any() or not np.allclose(sums, 1.0, atol=1e-3):
        raise LoyaltyError(
            f"model {model_name!r} returned rows that are not probabilities (row sums from {sums.min():.3g} "
            f"to {sums.max():.3g}); predict_proba must return softmax outputs, not logits"
        )
    return probabilities


def predict(
    model,
    dataset,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    predict_proba: Callable | None = None,
) -> Predictions:
    """Run ``model`` on ``dataset`` (cached when both ``cache_dir`` and the model fingerprint exist).

    ``predict_proba(model, texts, text_pairs)`` replaces the call to ``model.predict_proba`` (an
    engine such as Ray computes the same outputs elsewhere); checks and caching stay here.
    """
    if len(dataset) == 0:
        raise LoyaltyError(f"data {dataset.name!r} has no examples; give a dataset with at least one row")
    columns = label_permutation(model.label_names, dataset.label_names, model.name, dataset.name)
    key = model.fingerprint and cache_dir and fingerprint("predictions", model.fingerprint, dataset.fingerprint)
    path = Path(cache_dir) / "predictions" / f"{key}.npz" if key else None
    if path is not None and path.exists():
        return _load(path, model.name, dataset.label_names)
    if path is None:
        return _run(model, dataset, columns, progress, predict_proba)
    with locked(path):  # the first xdist worker predicts, the others wait and read its file
        if path.exists():
            return _load(path, model.name, dataset.label_names)
        predictions = _run(model, dataset, columns, progress, predict_proba)
        buffer = io.BytesIO()
        np.savez(buffer, probabilities=predictions.probabilities, seconds=predictions.seconds)
        atomic_write_bytes(path, buffer.getvalue())
        return predictions


def _run(model, dataset, columns, progress, predict_proba=None) -> Predictions:
    if progress:
        progress(f"predicting {len(dataset)} examples of {dataset.name} with {model.name}")
    start = time.perf_counter()
    texts, pairs = list(dataset.texts), list(dataset.text_pairs) if dataset.text_pairs else None
    raw = model.predict_proba(texts, pairs) if predict_proba is None else predict_proba(model, texts, pairs)
    seconds = time.perf_counter() - start
    raw = check_probabilities(raw, len(dataset), len(model.label_names), model.name)
    return Predictions(model.name, raw[:, columns], tuple(dataset.label_names), seconds)


def _load(path: Path, model_name: str, label_names) -> Predictions:
    with np.load(path) as stored:
        return Predictions(model_name, stored["probabilities"], tuple(label_names), float(stored["seconds"]), True)
