"""Classifier types: what a teacher or a student is, once loaded.

Every model is a ``Classifier``: it names its labels and maps texts (and optional text pairs,
for NLI-style tasks) to a probability matrix whose columns follow its own ``label_names``.
``predictions.predict`` (the one place a model meets data) reorders those columns **by name**:
the dataset's labels first, then any the model has beyond them. Turning a
``--teacher``/``--student`` spec into one of these is ``specs.load_model``'s job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..errors import LoyaltyError
from ..infra.cache import fingerprint
from ..validation import rows_text
from .fingerprints import tokenizer_fingerprint


class Classifier(Protocol):
    name: str
    label_names: tuple[str, ...]
    fingerprint: str | None  # None: outputs are not cached

    def predict_proba(self, texts: Sequence[str], text_pairs: Sequence[str] | None = None) -> np.ndarray: ...


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def check_batching(owner: str, batch_size, max_length) -> None:
    """A batch size below 1 would leave rows unscored (``range(0, n, -1)`` is empty) and a
    max_length below 2 has no room for a text between [CLS] and [SEP]. ``owner`` names whose."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise LoyaltyError(
            f"{owner}: batch_size must be a whole number >= 1, got {batch_size!r}; "
            "pass --loyalty-batch-size 32 (or another positive number)"
        )
    if isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer)) or max_length < 2:
        raise LoyaltyError(
            f"{owner}: max_length must be a whole number >= 2 (room for [CLS] and [SEP]), "
            f"got {max_length!r}; pass --loyalty-max-length 128 (or another number >= 2)"
        )


def check_position_limit(name: str, max_length: int, limit: int | None) -> None:
    """Refuse a max_length above the model's position limit, rather than clamp it: the same
    --loyalty-max-length applies to teacher and student, and clamping one of them would gate
    models that read differently truncated inputs, their disagreements then blamed on
    compression. A refusal that names the limit costs one rerun; a quietly changed input does not
    show at all. (Without the check, a long text indexes past the position embeddings and crashes.)"""
    if limit is not None and max_length > limit:
        raise LoyaltyError(
            f"max_length {max_length} is above model {name!r}'s limit of {limit} tokens "
            f"(its position embeddings); pass --loyalty-max-length {limit} or less"
        )


def position_limit(config, tokenizer=None) -> int | None:
    """The longest input a model can read: its ``max_position_embeddings``, or its tokenizer's
    ``model_max_length`` when that is smaller (RoBERTa's 514 positions hold 512 tokens)."""
    limits = [getattr(config, "max_position_embeddings", None), getattr(tokenizer, "model_max_length", None)]
    limits = [int(limit) for limit in limits if isinstance(limit, int) and 0 < limit < 1_000_000]  # 1e30: unset
    return min(limits) if limits else None


def _scored(name: str, n_rows: int, n_labels: int, batches, forward) -> np.ndarray:
    """Probabilities from ``forward(batch)`` logits, every row accounted for.

    The buffer starts as NaN, not ``np.empty``: a row no batch filled can never pass as a
    probability, and one missing is named here rather than scored as leftover memory."""
    logits = np.full((n_rows, n_labels), np.nan, dtype=np.float64)
    computed = np.zeros(n_rows, dtype=bool)
    for indices, batch in batches:
        logits[indices] = forward(batch)
        computed[indices] = True
    if not computed.all():
        raise LoyaltyError(
            f"model {name!r} left {rows_text(~computed)} of {n_rows} unscored; "
            "this is a bug in its batching: report it with the batch size and max_length"
        )
    return _softmax(logits)


def _tokenized_batches(tokenizer, texts, text_pairs, batch_size: int, max_length: int, group_sizes=None):
    """Yield (original indices, padded batch) with batches of similar length.

    Texts are tokenized once without padding, sorted by length, and each batch is padded only to
    its own longest member (dynamic padding), never to ``max_length``. ``group_sizes`` cuts the
    texts into consecutive groups whose batches never mix (the attack scores each example's texts
    in one call this way, yet in batches of their own): a batch is then a function of its group.
    """
    encoded = tokenizer(
        list(texts),
        list(text_pairs) if text_pairs is not None else None,
        truncation=True,
        max_length=max_length,
    )
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
    bounds = np.cumsum([0, *(group_sizes if group_sizes is not None else [len(lengths)])])
    if bounds[-1] != len(lengths):
        raise LoyaltyError(f"group sizes {list(group_sizes)} do not add up to the {len(lengths)} texts given")
    for first, end in zip(bounds[:-1], bounds[1:]):
        order = first + np.argsort(-lengths[first:end], kind="stable")  # longest first: a memory problem shows at once
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
        check_batching(f"model {self.name!r}", self.batch_size, self.max_length)
        check_position_limit(self.name, self.max_length, position_limit(self.model.config, self.tokenizer))
        self.model.eval()
        if not _is_quantized(self.model):  # dynamic int8 kernels exist on the CPU only
            self.model.to(self.device)
            own_aligned_memory(self.model)
        if self.fingerprint is None:
            self.fingerprint = state_fingerprint(self.model, self.tokenizer, self.max_length)

    @property
    def label_names(self) -> tuple[str, ...]:
        id2label = self.model.config.id2label
        return tuple(str(id2label[i]) for i in range(len(id2label)))

    batches_within_groups = True  # predict_proba takes group_sizes (see _tokenized_batches)

    def predict_proba(self, texts, text_pairs=None, *, group_sizes=None) -> np.ndarray:
        import torch

        check_batching(f"model {self.name!r}", self.batch_size, self.max_length)  # fields can change after init

        def forward(batch):
            inputs = {k: torch.from_numpy(v).to(self.device) for k, v in batch.items()}
            return self.model(**inputs).logits.float().cpu().numpy()

        batches = _tokenized_batches(self.tokenizer, texts, text_pairs, self.batch_size, self.max_length, group_sizes)
        with torch.inference_mode():
            return _scored(self.name, len(texts), len(self.label_names), batches, forward)


def own_aligned_memory(model) -> None:
    """Move weights that sit at an address not aligned to 64 bytes into memory of their own.

    Weights loaded from safetensors are memory-mapped views of the file, at whatever offset the
    file puts them; a model rebuilt elsewhere (a Ray worker, a ``torch.load``) holds them in fresh,
    aligned memory. AVX-512 kernels sum in another order over unaligned data, so the same model
    scored the same batch to a different last bit (0.88496265 vs 0.88496267 on a tiny BERT) by
    where its weights happened to be. Aligned everywhere, a model computes the same bits on every
    engine."""
    import torch

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.device.type == "cpu" and tensor.data_ptr() % 64:
                tensor.data = tensor.data.clone()


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
    return fingerprint("hf", digest.hexdigest(), tokenizer_fingerprint(tokenizer), max_length)


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

    def __post_init__(self):
        check_batching(f"model {self.name!r}", self.batch_size, self.max_length)

    batches_within_groups = True  # predict_proba takes group_sizes (see _tokenized_batches)

    def predict_proba(self, texts, text_pairs=None, *, group_sizes=None) -> np.ndarray:
        check_batching(f"model {self.name!r}", self.batch_size, self.max_length)
        wanted = {inp.name for inp in self.session.get_inputs()}

        def forward(batch):
            return self.session.run(None, {k: v.astype(np.int64) for k, v in batch.items() if k in wanted})[0]

        batches = _tokenized_batches(self.tokenizer, texts, text_pairs, self.batch_size, self.max_length, group_sizes)
        return _scored(self.name, len(texts), len(self.label_names), batches, forward)


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
