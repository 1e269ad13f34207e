"""The teacher runs once: its top-K next-token log-probabilities per text, cached on disk.

For every token observation the cache keeps the teacher's K most likely tokens (log-probability
and id), the log of the probability left outside them (the tail), S tokens drawn from that tail
(id and log-probability, seeded by the text) and its NLL of the actual next token: O(K + S)
numbers per token, never O(vocabulary). The entry is one ``.npz`` file (read with
``allow_pickle=False``) keyed by the teacher's fingerprint, its tokenizer's fingerprint, the
texts' fingerprint, K, S, the length limit and the code version, written atomically under a file
lock (``infra.cache.cached_file``), so pytest-xdist workers build it once and a stale or corrupt
entry is recomputed, never served.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LoyaltyError
from ..infra.cache import cached_file, default_cache_dir, fingerprint
from .tokens import TAIL_SAMPLES, TeacherSummary, summarize_teacher

FORMAT_VERSION = 2  # bump when what is stored changes: old entries then miss instead of misreading


@dataclass(frozen=True)
class TokenizedTexts:
    """Token ids of each text (as ``tokenizer(text)`` returns them, cut to ``max_length``)."""

    ids: tuple[np.ndarray, ...]
    truncated: int  # how many texts were longer than max_length
    fingerprint: str

    @property
    def observations(self) -> np.ndarray:
        """Token observations per text: n ids predict n - 1 next tokens."""
        return np.array([len(ids) - 1 for ids in self.ids], dtype=np.int64)


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> TokenizedTexts:
    """Ids per text; a text of fewer than two tokens has no next token to predict and is refused
    by its position (nothing is dropped silently)."""
    if isinstance(texts, str) or not len(texts):
        raise LoyaltyError("token loyalty needs a non-empty list of texts")
    ids, truncated = [], 0
    for position, text in enumerate(texts):
        if not isinstance(text, str):
            raise LoyaltyError(f"text {position} is a {type(text).__name__}, not a string")
        encoded = np.asarray(tokenizer(text)["input_ids"], dtype=np.int64)
        if len(encoded) > max_length:
            encoded, truncated = encoded[:max_length], truncated + 1
        if len(encoded) < 2:
            raise LoyaltyError(
                f"text {position} ({text[:40]!r}) has {len(encoded)} token(s); token loyalty needs at "
                "least two (one to read, one to predict): remove it or give a longer text"
            )
        ids.append(encoded)
    stamp = fingerprint("lm-texts", [hashed(row) for row in ids], max_length)
    return TokenizedTexts(tuple(ids), truncated, stamp)


def hashed(ids: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(ids, dtype=np.int64).tobytes()).hexdigest()


def batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Text indices grouped into batches of similar length (longest first), so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def padded(ids: Sequence[np.ndarray], pad_id: int):
    """Right-padded ``input_ids`` and ``attention_mask`` tensors: a causal LM's real tokens never
    attend to padding on their right, so their logits do not change."""
    import torch

    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), int(pad_id), dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for row, values in enumerate(ids):
        input_ids[row, : len(values)] = torch.as_tensor(values)
        mask[row, : len(values)] = 1
    return input_ids, mask


def pad_id(tokenizer) -> int:
    for candidate in (getattr(tokenizer, "pad_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if isinstance(candidate, int):
            return candidate
    return 0


def next_token_logits(
    model, role: str, texts: TokenizedTexts, batch_size: int, progress: Callable[[str], None] | None = None
):
    """Yield ``(index, logits, next_tokens)`` per text, one forward pass of ``model`` per batch of
    similar-length texts: ``logits`` are the positions that predict ``next_tokens`` (ids[1:]).
    A batch-dependent model (dynamic int8) runs one text per pass, so a text's logits never follow
    the batch size: the teacher's cached summaries carry no batch size in their key. The texts come
    in the same order at any batch size, so a teacher and a student batched apart still line up."""
    from ..models.batching import batch_size_for

    groups = batches([len(row) for row in texts.ids], batch_size_for(model, batch_size))
    for number, group in enumerate(groups, 1):
        input_ids, mask = padded([texts.ids[i] for i in group], pad_id(model.tokenizer))
        logits = model.logits(input_ids, mask)
        for row, index in enumerate(group):
            n = len(texts.ids[index])
            yield index, logits[row, : n - 1].numpy(), texts.ids[index][1:]
        del logits  # a batch's full-vocabulary logits are the biggest thing held; free them before the next
        if progress is not None:
            progress(f"{role} {model.name}: batch {number}/{len(groups)}")


def run_teacher(
    teacher, texts: TokenizedTexts, k: int, batch_size: int, progress: Callable[[str], None] | None = None
) -> list[TeacherSummary]:
    """One forward pass of the teacher per batch; per text, its top-K summary, the tail samples
    seeded by the text's own ids (the same text draws the same tokens in any corpus or batch)."""
    summaries: list[TeacherSummary | None] = [None] * len(texts.ids)
    for index, logits, next_tokens in next_token_logits(teacher, "teacher", texts, batch_size, progress):
        seed = int(hashed(texts.ids[index])[:16], 16)
        summaries[index] = summarize_teacher(logits, next_tokens, k, TAIL_SAMPLES, seed)
    return summaries


def _dump(key: str, summaries: list[TeacherSummary]) -> bytes:
    buffer = io.BytesIO()
    np.savez(
        buffer,
        key=np.array(key),
        offsets=np.cumsum([0] + [len(s) for s in summaries]),
        **{name: np.concatenate([getattr(s, name) for s in summaries]) for name in TeacherSummary.FIELDS},
    )
    return buffer.getvalue()


def _read_key(path: Path) -> str:
    with np.load(path, allow_pickle=False) as stored:
        return str(stored["key"])


def _load(path: Path) -> list[TeacherSummary]:
    with np.load(path, allow_pickle=False) as stored:
        offsets = stored["offsets"]
        arrays = {name: stored[name] for name in TeacherSummary.FIELDS}
    return [
        TeacherSummary(*(arrays[name][start:end] for name in TeacherSummary.FIELDS))
        for start, end in zip(offsets[:-1], offsets[1:])
    ]


def teacher_summaries(
    teacher,
    texts: TokenizedTexts,
    *,
    k: int = 32,
    batch_size: int = 8,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[TeacherSummary], bool]:
    """(per-text summaries, from_cache): read from the cache when an entry for exactly this
    teacher, tokenizer, texts and K exists, else computed (one teacher pass) and written there."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise LoyaltyError(f"top_k must be a whole number >= 1, got {k!r}")
    if not use_cache or getattr(teacher, "fingerprint", None) is None:
        return run_teacher(teacher, texts, k, batch_size, progress), False
    key = fingerprint(
        "lm-teacher-topk",
        FORMAT_VERSION,
        teacher.fingerprint,
        teacher.tokenizer_fingerprint,
        texts.fingerprint,
        int(k),
        TAIL_SAMPLES,
    )
    path = Path(cache_dir or default_cache_dir()) / "lm-teacher" / f"{key[:32]}.npz"
    return cached_file(
        path,
        key,
        compute=lambda: run_teacher(teacher, texts, k, batch_size, progress),
        dump=lambda value: _dump(key, value),
        read_key=_read_key,
        load=_load,
    )
