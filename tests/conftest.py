"""Shared fixtures for the project's own tests: tiny models and tiny data, never the network."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tiny import save_tiny_bert, tiny_bert, tiny_tokenizer

pytest_plugins = ["pytester"]

POSITIVE = ["a good movie", "great film", "very good", "the film is great", "good good good", "a great movie"]
NEGATIVE = ["a bad movie", "awful film", "very bad", "the film is awful", "bad bad bad", "not good at all"]


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def sentiment_csv(tmp_path) -> Path:
    rows = [(text, "positive") for text in POSITIVE] + [(text, "negative") for text in NEGATIVE]
    return write_csv(tmp_path / "dev.csv", rows * 3)


@pytest.fixture
def tiny_dir(tmp_path) -> Path:
    """A tiny BERT saved as a local Hugging Face folder (safetensors + tokenizer)."""
    return save_tiny_bert(tmp_path / "tiny-teacher")


@pytest.fixture
def tiny_hf(tmp_path):
    from loyalty_tests.models import HFClassifier

    return HFClassifier(tiny_bert(), tiny_tokenizer(tmp_path / "tok"), "tiny", batch_size=4)
