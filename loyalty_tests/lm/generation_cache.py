"""Greedy continuations on disk: a model writes its continuations of a set of prompts once.

Greedy decoding is deterministic (``generation.greedy_continuations``), so a model's continuations
are a function of its weights, its tokenizer, the prompts, the number of new tokens and its
context limit; the entry is keyed by all of them and the code version, one JSON file written
atomically under a file lock (``infra.cache.cached_file``), so a second run of the same gate (or
an xdist worker beside the first) reads what the first generated instead of decoding again,
which on 2 CPU cores is most of an LM run's time. A model without a fingerprint is never cached.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from ..infra.cache import cached_file, default_cache_dir, fingerprint
from .generation import greedy_continuations

FORMAT_VERSION = 1  # bump when what is stored changes


def continuations(
    model,
    prompts: Sequence[str],
    max_new_tokens: int,
    *,
    batch_size: int = 8,
    cache_dir: Path | None = None,
    use_cache: bool = True,
) -> tuple[list[list[int]], bool]:
    """(the greedy continuation of every prompt, from_cache)."""

    def compute():
        return greedy_continuations(model, prompts, max_new_tokens, batch_size=batch_size)

    if not use_cache or getattr(model, "fingerprint", None) is None:
        return compute(), False
    key = fingerprint(
        "lm-generation",
        FORMAT_VERSION,
        model.fingerprint,
        model.tokenizer_fingerprint,
        list(prompts),
        int(max_new_tokens),
        int(model.max_length),
    )
    path = Path(cache_dir or default_cache_dir()) / "lm-generation" / f"{key[:32]}.json"
    return cached_file(
        path,
        key,
        compute=compute,
        dump=lambda rows: json.dumps({"key": key, "continuations": rows}).encode(),
        read_key=lambda entry: json.loads(entry.read_text())["key"],
        load=_load,
    )


def _load(path: Path) -> list[list[int]]:
    rows = json.loads(path.read_text())["continuations"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise ValueError(f"{path} does not hold a list of continuations")  # a damaged entry: recomputed
    return [[int(token) for token in row] for row in rows]
