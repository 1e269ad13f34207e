"""Local data files: ``.csv`` (comma), ``.tsv`` (tab) and ``.jsonl``, with named columns.

Nothing is dropped silently: an empty text or a missing label is an error naming the row.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from ..errors import LoyaltyError
from .dataset import TextDataset

FILE_FORMATS = {".csv": ",", ".tsv": "\t", ".jsonl": None}
SPEC_HELP = (
    "a data spec is a .csv/.tsv/.jsonl path, an embedded dataset "
    "(rotten_tomatoes, imdb, bbc_news, optionally :train, :validation or :test), "
    "or a hub dataset id with a split such as glue/sst2:validation"
)
_INTEGER = re.compile(r"[+-]?\d+")


def load_file(
    path: str | Path,
    *,
    name: str | None = None,
    text_column: str = "text",
    text_pair_column: str | None = None,
    label_column: str = "label",
) -> TextDataset:
    """A .csv (comma), .tsv (tab) or .jsonl file with a header / keys naming the columns."""
    path = Path(path)
    name = name or str(path)
    if path.is_symlink() and not path.exists():
        raise LoyaltyError(
            f"data file {str(path)!r} is a symbolic link that leads to no file (a loop, or its "
            f"target {_link_target(path)!r} is missing); point it at the data file or give the file itself"
        )
    if not path.exists():
        raise LoyaltyError(f"data file {str(path)!r} does not exist (resolved to {path.resolve()}); {SPEC_HELP}")
    if path.is_dir():
        raise LoyaltyError(
            f"data file {str(path)!r} is a folder, not a file; give the path of the "
            f"{'/'.join(FILE_FORMATS)} file itself"
        )
    suffix = path.suffix.lower()
    if not path.is_file() or suffix not in FILE_FORMATS:
        raise LoyaltyError(
            f"data file {str(path)!r}: unknown format {suffix or '(no extension)'!r}; "
            f"use one of {', '.join(FILE_FORMATS)} (comma-separated, tab-separated, JSON lines)"
        )
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            delimiter = FILE_FORMATS[suffix]
            rows = _delimited_rows(handle, name, delimiter) if delimiter else _jsonl_rows(handle, name)
            return from_rows(name, rows, text_column, text_pair_column, label_column)
    except UnicodeDecodeError as error:
        raise LoyaltyError(f"data file {name!r} is not UTF-8 text ({error}); re-save it as UTF-8") from error


def _link_target(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return "?"


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
            raise LoyaltyError(
                f"data file {name!r}: line {number} is a JSON {type(record).__name__}, "
                "expected an object with text and label keys"
            )
        if first:  # the first record's keys are the columns, as a header would be
            yield "header", record
            first = False
        yield f"line {number}", record


def from_rows(
    name: str, rows: Iterable[tuple[str, Mapping]], text_column: str, text_pair_column: str | None, label_column: str
) -> TextDataset:
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
                f"choose it with --loyalty-{role.replace(' ', '-')}-column (or {role.replace(' ', '_')}_column=)"
            )
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
        raise LoyaltyError(
            f"data {name!r}, {where}: column {column!r} is empty; every example needs a text "
            "(remove the row or fill it in)"
        )
    if not isinstance(value, str):
        raise LoyaltyError(
            f"data {name!r}, {where}: column {column!r} holds {type(value).__name__} "
            f"{value!r}, expected text; check the column names"
        )
    return value


def _label_value(value: object, name: str, where: str, column: str) -> str:
    if isinstance(value, float) and (value != value or value.is_integer()):
        value = None if value != value else int(value)  # NaN is a missing label; 1.0 is the label 1
    if value is None or (isinstance(value, str) and not value.strip()):
        raise LoyaltyError(
            f"data {name!r}, {where}: label column {column!r} has no value ({value!r}); "
            "every example needs a gold label (remove the row or fill it in)"
        )
    if not isinstance(value, (str, int)):
        raise LoyaltyError(
            f"data {name!r}, {where}: label {value!r} is a {type(value).__name__}; labels must be strings or integers"
        )
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
        raise LoyaltyError(
            f"data {name!r} has no examples (0 rows); point the data spec at a file or split "
            "with at least one labelled text"
        )
    return TextDataset(name, tuple(texts), tuple(labels), tuple(label_names), None if pairs is None else tuple(pairs))
