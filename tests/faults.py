"""Shared by the fail-closed tests: a fixed-output model, cache inspection, damage, read-only folders."""

from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest


class Fixed:
    """A predict_proba object returning fixed rows (cycled), counting its calls."""

    def __init__(self, rows):
        self.rows = np.asarray(rows, dtype=float)
        self.calls = 0

    def predict_proba(self, texts):
        self.calls += 1
        return np.resize(self.rows, (len(texts), self.rows.shape[1]))


def cached_files(folder):
    return (
        sorted(p.name for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".lock"))
        if folder.exists()
        else []
    )


def damaged(path, how: str) -> None:
    content = path.read_bytes()
    path.write_bytes(
        {"empty": b"", "garbage": b"not a cache file at all", "truncated": content[: len(content) // 2]}[how]
    )


DAMAGE = ["empty", "garbage", "truncated"]


def make_read_only(folder, undo: list) -> None:
    """Make ``folder`` read-only for real: chmod for a user; for root (whom chmod does not stop),
    the immutable flag; skip the test where neither is possible. ``undo`` collects what to reverse."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)]).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (no chattr +i)")
    undo.append(folder)


def make_writable(folders: list) -> None:
    for folder in folders:
        folder.chmod(0o755) if os.geteuid() != 0 else subprocess.run(["chattr", "-i", str(folder)])
