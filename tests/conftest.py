"""Shared fixtures for the project's own tests: tiny models and tiny data, never the network."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from hypothesis import settings
from tiny import save_tiny_bert, tiny_bert, tiny_tokenizer

pytest_plugins = ["pytester"]

# Property tests: "ci" (the default) checks the same 60 examples every run, so CI is reproducible
# and fast; HYPOTHESIS_PROFILE=dev searches 1,000 fresh random examples per property, for a
# developer hunting for counterexamples (it prints the seed of any failure to replay it).
settings.register_profile("ci", max_examples=60, derandomize=True, database=None, deadline=None)
settings.register_profile("dev", max_examples=1000, derandomize=False, database=None, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

POSITIVE = ["a good movie", "great film", "very good", "the film is great", "good good good", "a great movie"]
NEGATIVE = ["a bad movie", "awful film", "very bad", "the film is awful", "bad bad bad", "not good at all"]


def write_csv(path: Path, rows, header=("text", "label")) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch):
    """When this suite runs under pytest-xdist, the plugin runs that tests start through pytester
    must not believe they are workers (pytest-benchmark reads PYTEST_XDIST_WORKER and would turn
    the latency gate off; the report writer would stay silent)."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)


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
    from loyalty_tests.models.classifiers import HFClassifier

    return HFClassifier(tiny_bert(), tiny_tokenizer(tmp_path / "tok"), "tiny", batch_size=4)
