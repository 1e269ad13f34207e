"""``predict``: the one place a model meets data.

The model's probability columns are put in a fixed order **by name** — the dataset's labels
first, in the dataset's order (so its label indices index the columns), then any labels the
model has beyond the data's, sorted by name — its outputs are checked (shape, NaN, rows that are
not probabilities), and the result is cached on disk under a fingerprint of the model, the data
and the code version, so a second gate run and every pytest-xdist worker reuse it. The model's
full label set stays: JSD and argmax are over every class the model has, not only those the data
happens to contain (data with only positive reviews, a three-class model).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import validation
from .errors import LoyaltyError
from .infra.cache import cached_file, fingerprint


@dataclass(frozen=True)
class Predictions:
    """One model's probabilities on one dataset; columns follow ``label_names``: the dataset's
    labels first (in its order), then the model's other labels, sorted by name."""

    model_name: str
    probabilities: np.ndarray  # (n_examples, n_labels)
    label_names: tuple[str, ...]
    seconds: float  # wall time of the forward passes that produced them (0 when never run here)
    from_cache: bool = False

    @property
    def predicted_labels(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


def aligned_label_names(model_labels, data_labels) -> tuple[str, ...]:
    """The column order of every ``Predictions``: the data's labels, then the model's others by name.

    >>> aligned_label_names(("positive", "neutral", "negative"), ("positive",))
    ('positive', 'negative', 'neutral')
    """
    data_labels = tuple(data_labels)
    return data_labels + tuple(sorted(set(model_labels) - set(data_labels)))


def label_permutation(model_labels, data_labels, model_name: str, data_name: str) -> np.ndarray:
    """Column indices that put the model's outputs in ``aligned_label_names`` order, matched by
    name. The data may hold a subset of the model's labels; a label the model lacks is an error."""
    model_labels, data_labels = tuple(model_labels), tuple(data_labels)
    if len(set(model_labels)) != len(model_labels):
        raise LoyaltyError(f"model {model_name!r} names a label twice: {list(model_labels)}; fix its id2label")
    unknown = sorted(set(data_labels) - set(model_labels))
    if unknown:
        hint = ""
        if all(str(name).startswith("LABEL_") for name in model_labels):
            hint = (
                " The model uses Hugging Face's default names LABEL_0, LABEL_1, ...: set id2label in its "
                "config.json to the data's label names."
            )
        raise LoyaltyError(
            f"data {data_name!r} has labels that model {model_name!r} does not know: {unknown} (model has "
            f"{sorted(model_labels)}, data has {sorted(data_labels)}). Labels are matched by name, never by "
            f"position; make the model's id2label names and the data's label column use the same names.{hint}"
        )
    return np.array([model_labels.index(name) for name in aligned_label_names(model_labels, data_labels)])


def check_same_labels(teacher: Predictions, student: Predictions) -> None:
    """Teacher and student must output the same labels (by name) to be compared."""
    if set(teacher.label_names) != set(student.label_names):
        raise LoyaltyError(
            f"teacher {teacher.model_name!r} has labels {sorted(teacher.label_names)} but student "
            f"{student.model_name!r} has {sorted(student.label_names)}; a student must output the teacher's "
            "labels (by name) to be compared with it"
        )


def check_probabilities(probabilities, n_examples: int, n_labels: int, model_name: str) -> np.ndarray:
    """A model's raw outputs, checked: one row per text, one column per label, probabilities
    (``validation.probabilities`` says what that means and names the rows at fault)."""
    array = np.asarray(probabilities)
    if array.shape != (n_examples, n_labels):
        raise LoyaltyError(
            f"model {model_name!r} returned outputs of shape {array.shape}, expected "
            f"({n_examples}, {n_labels}): one row per text, one column per label name"
        )
    return validation.probabilities(f"model {model_name!r}", array)


def predict(
    model,
    dataset,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
    predict_proba: Callable | None = None,
) -> Predictions:
    """Run ``model`` on ``dataset`` (cached when both ``cache_dir`` and the model fingerprint exist).

    A cache entry stores its key and is verified on read (``cache.cached_file``); a prediction
    is written only after every row was checked to be a probability vector.
    ``predict_proba(model, texts, text_pairs)`` replaces the call to ``model.predict_proba`` (an
    engine such as Ray computes the same outputs elsewhere); checks and caching stay here.
    """
    if len(dataset) == 0:
        raise LoyaltyError(f"data {dataset.name!r} has no examples; give a dataset with at least one row")
    columns = label_permutation(model.label_names, dataset.label_names, model.name, dataset.name)
    names = aligned_label_names(model.label_names, dataset.label_names)
    key = model.fingerprint and cache_dir and prediction_key(model, dataset)
    if not key:
        return _run(model, dataset, columns, names, progress, predict_proba)
    shape = (len(dataset), len(names))

    def read_key(path: Path) -> str | None:
        with np.load(path) as stored:
            return str(stored["key"]) if "key" in stored.files else None  # None: an entry from before keys

    def load(path: Path) -> Predictions:
        with np.load(path) as stored:
            probabilities = _verified(stored["probabilities"], shape, path)
            return Predictions(model.name, probabilities, names, float(stored["seconds"]), True)

    def dump(predictions: Predictions) -> bytes:
        # verified again right before writing: a row that was never computed is never cached
        probabilities = _verified(predictions.probabilities, shape, "predictions to cache")
        buffer = io.BytesIO()
        np.savez(buffer, key=np.array(key), probabilities=probabilities, seconds=predictions.seconds)
        return buffer.getvalue()

    path = Path(cache_dir) / "predictions" / f"{key}.npz"
    predictions, _ = cached_file(
        path,
        key,
        compute=lambda: _run(model, dataset, columns, names, progress, predict_proba),
        dump=dump,
        read_key=read_key,
        load=load,
    )
    return predictions


def output_settings(model) -> dict:
    """The run settings a model's outputs depend on: batch size (padding, and dynamic int8's
    per-batch activation scales), device and the dtype of its weights. Models without them
    (a user's ``predict_proba`` object) have none."""
    settings = {"batch_size": getattr(model, "batch_size", None), "device": str(getattr(model, "device", None))}
    torch_model = getattr(model, "model", None)
    if hasattr(torch_model, "parameters"):
        settings["dtypes"] = sorted({str(parameter.dtype) for parameter in torch_model.parameters()})
    return settings


def prediction_key(model, dataset) -> str:
    """The cache key of ``model``'s predictions on ``dataset``: its fingerprint (weights and
    tokenizer), the settings its outputs depend on (batch size, device, dtype) and the data."""
    return fingerprint("predictions", model.fingerprint, output_settings(model), dataset.fingerprint)


def _verified(probabilities, shape: tuple[int, int], source) -> np.ndarray:
    array = np.asarray(probabilities)
    if array.shape != shape:
        raise LoyaltyError(f"{source} holds probabilities of shape {array.shape}, expected {shape}")
    return validation.probabilities(str(source), array)


def _run(model, dataset, columns, names, progress, predict_proba) -> Predictions:
    if progress:
        progress(f"predicting {len(dataset)} examples of {dataset.name} with {model.name}")
    start = time.perf_counter()
    try:
        texts, pairs = list(dataset.texts), list(dataset.text_pairs) if dataset.text_pairs else None
        raw = model.predict_proba(texts, pairs) if predict_proba is None else predict_proba(model, texts, pairs)
    except LoyaltyError:
        raise
    except Exception as error:  # a user's model failing is bad input, not an internal error of the plugin
        raise LoyaltyError(
            f"model {model.name!r} raised {type(error).__name__} while predicting {len(dataset)} examples of "
            f"{dataset.name!r}: {error}; fix the model or its spec"
        ) from error
    seconds = time.perf_counter() - start
    raw = check_probabilities(raw, len(dataset), len(model.label_names), model.name)
    return Predictions(model.name, raw[:, columns], names, seconds)
