"""Classifier types: what a teacher or a student is, once loaded.

Every model is a ``Classifier``: it names its labels and maps texts (and optional text pairs,
for NLI-style tasks) to a probability matrix whose columns follow its own ``label_names``.
``predictions.predict`` (the one place a model meets data) reorders those columns to the
dataset's label order **by name**. Turning a ``--teacher``/``--student`` spec into one of these
is ``specs.load_model``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

import numpy as np

from .cache import fingerprint


class Classifier(Protocol):
    name: str
    label_names: tuple[str, ...]
    fingerprint: str | None  # None: outputs are not cached

    def predict_proba(
        self, texts: Sequence[str], text_pairs: Sequence[str] | None = None
    ) -> np.ndarray: ...


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _tokenized_batches(tokenizer, texts, text_pairs, batch_size: int, max_length: int):
    """Yield (original indices, padded batch) with batches of similar length.

    Texts are tokenized once without padding, sorted by length, and each batch is padded only to
    its own longest member (dynamic padding), never to ``max_length``.
    """
    encoded = tokenizer(
        list(texts), list(text_pairs) if text_pairs is not None else None,
        truncation=True, max_length=max_length,
    )
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    order = np.argsort(-lengths, kind="stable")  # longest first: a memory problem shows at once
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
    for start in range(0, len(order), batch_size):
        indices = order[start : start + batch_size]
        features = [{key: encoded[key][i] for key in keys} for i in indices]
        yield indices, tokenizer.pad(features, return_tensors="np")


@dataclass
class HFClassifier:
    """A Hugging Face sequence classifier with its tokenizer."""

    model: object
    tokenizer: object
    name: str
    batch_size: int = 32
    max_length: int = 128
    device: str = "cpu"
    fingerprint: str | None = None
    info: dict = field(default_factory=dict)  # what made it, e.g. {"sparsity": 0.3} for a pruned student

    def __post_init__(self):
        self.model.eval()
        if not _is_quantized(self.model):  # dynamic int8 kernels exist on the CPU only
            self.model.to(self.device)
        if self.fingerprint is None:
            self.fingerprint = state_fingerprint(self.model, self.tokenizer, self.max_length)

    @property
    def label_names(self) -> tuple[str, ...]:
        id2label = self.model.config.id2label
        return tuple(str(id2label[i]) for i in range(len(id2label)))

    def predict_proba(self, texts, text_pairs=None) -> np.ndarray:
        import torch

        logits = np.empty((len(texts), len(self.label_names)), dtype=np.float64)
        with torch.inference_mode():
            for indices, batch in _tokenized_batches(
                self.tokenizer, texts, text_pairs, self.batch_size, self.max_length
            ):
                inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
                logits[indices] = self.model(**inputs).logits.float().cpu().numpy()
        return _softmax(logits)


def _is_quantized(model) -> bool:
    return any("quantized" in type(m).__module__ for m in model.modules())


def state_fingerprint(model, tokenizer, max_length: int) -> str:
    """sha256 over every weight (quantized ones through their integer form) and the tokenizer."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    PER_CHANNEL = (torch.per_channel_affine, torch.per_channel_symmetric, torch.per_channel_affine_float_qparams)

    def add(value):
        if isinstance(value, torch.Tensor):
            if value.is_quantized:
                add(value.int_repr())
                if value.qscheme() in PER_CHANNEL:
                    add([value.q_per_channel_scales(), value.q_per_channel_zero_points(), value.q_per_channel_axis()])
                else:
                    add([value.q_scale(), value.q_zero_point()])
                return
            digest.update(str((value.dtype, tuple(value.shape))).encode())
            # reshape(-1) first: a 0-dim tensor cannot be viewed as bytes directly.
            digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, (tuple, list)):
            for item in value:
                add(item)
        else:
            digest.update(repr(value).encode())

    for key, value in model.state_dict().items():
        digest.update(key.encode())
        add(value)
    vocab = sorted(tokenizer.get_vocab().items())
    return fingerprint("hf", digest.hexdigest(), vocab, max_length, type(tokenizer).__name__)


@dataclass
class OnnxClassifier:
    """An ONNX classifier run with onnxruntime; the tokenizer comes from a Hugging Face folder."""

    session: object
    tokenizer: object
    name: str
    label_names: tuple[str, ...]
    batch_size: int = 32
    max_length: int = 128
    fingerprint: str | None = None
    path: str | None = None  # the .onnx file, for its size on disk

    def predict_proba(self, texts, text_pairs=None) -> np.ndarray:
        wanted = {inp.name for inp in self.session.get_inputs()}
        logits = np.empty((len(texts), len(self.label_names)), dtype=np.float64)
        for indices, batch in _tokenized_batches(
            self.tokenizer, texts, text_pairs, self.batch_size, self.max_length
        ):
            feed = {k: v.astype(np.int64) for k, v in batch.items() if k in wanted}
            logits[indices] = self.session.run(None, feed)[0]
        return _softmax(logits)


@dataclass
class CallableClassifier:
    """Any object with ``predict_proba(texts)`` and label names (``label_names`` or ``classes_``)."""

    wrapped: object
    name: str
    label_names: tuple[str, ...]
    fingerprint: str | None = None

    def predict_proba(self, texts, text_pairs=None) -> np.ndarray:
        if text_pairs is not None:
            return np.asarray(self.wrapped.predict_proba(list(texts), list(text_pairs)), dtype=np.float64)
        return np.asarray(self.wrapped.predict_proba(list(texts)), dtype=np.float64)
