"""Datasets the teacher and student are compared on: local files, hub datasets, embedded ones.

A :class:`TextDataset` holds texts (and second texts for NLI-style pairs), labels as indices
into ``label_names`` and the names themselves: teacher and student outputs are aligned by label
*name*. Nothing is dropped silently: an empty text or a missing label is an error naming the row.

Data specs (``--loyalty-data``): a ``.csv``/``.tsv``/``.jsonl`` path; an embedded dataset
``rotten_tomatoes``, ``imdb`` or ``bbc_news`` with an optional ``:train``, ``:validation`` or
``:test`` (default test); a hub dataset ``name:split``, ``name/config:split`` or
``org/name/config:split``, read with the optional ``datasets`` package (extra ``[hub]``, network).
"""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import LoyaltyError
from ..infra.suggest import close_matches, did_you_mean
from .dataset import TextDataset, positive_count
from .embedded import EMBEDDED_DATASETS, EMBEDDED_SPLITS, load_embedded
from .files import FILE_FORMATS, SPEC_HELP, index_labels, load_file
from .hub import load_hub, parse_hub_spec

__all__ = [
    "TextDataset",
    "load_dataset",
    "load_file",
    "load_embedded",
    "load_hub",
    "parse_hub_spec",
    "index_labels",
    "EMBEDDED_DATASETS",
    "EMBEDDED_SPLITS",
    "FILE_FORMATS",
]

# name, name/config or org/name/config, then ':' and a split (slices such as train[:100] allowed)
_HUB_SPEC = re.compile(r"[\w.-]+(?:/[\w.-]+){0,2}:[\w.\[\]:%+-]+")


def load_dataset(
    spec: str,
    *,
    text_column: str = "text",
    text_pair_column: str | None = None,
    label_column: str = "label",
    limit: int | None = None,
    seed: int = 0,
) -> TextDataset:
    """Load ``spec`` (file, embedded name or hub id; see above); ``limit`` keeps a seeded sample."""
    limit = None if limit is None else positive_count(limit, "limit")  # fail before reading anything
    spec = str(spec)
    path = Path(spec).expanduser()
    columns = dict(text_column=text_column, text_pair_column=text_pair_column, label_column=label_column)
    name = spec.partition(":")[0]
    if not path.exists() and not path.suffix and "/" not in name and close_matches(name, EMBEDDED_DATASETS):
        if name not in EMBEDDED_DATASETS:  # a typo of an embedded name, not a hub id to try for a minute
            raise LoyaltyError(f"unknown dataset {spec!r}{did_you_mean(name, EMBEDDED_DATASETS)}; {SPEC_HELP}")
    if name in EMBEDDED_DATASETS and not path.exists():
        dataset = load_embedded(spec)
    elif path.is_file() or path.suffix.lower() in FILE_FORMATS or not _HUB_SPEC.fullmatch(spec):
        dataset = load_file(path, name=spec, **columns)
    else:
        dataset = load_hub(spec, **columns)
    return dataset if limit is None else dataset.sample(limit, seed)
