"""Fingerprints, atomic writes and cross-process locks for everything cached on disk.

Models, predictions and built students are cached under one folder, each keyed by a fingerprint
of what produced it (model weights, data, code version). Writers build into a temporary path and
rename it into place, and hold a file lock while doing so, so two pytest-xdist workers that need
the same entry build it once and never read a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

from filelock import FileLock

from . import __version__

# Bumped with the package version: a new release never reads an older release's cache entries.
CODE_VERSION = __version__


def default_cache_dir() -> Path:
    """``$LOYALTY_CACHE_DIR``, else ``$XDG_CACHE_HOME/loyalty_tests``, else ``~/.cache/loyalty_tests``."""
    if os.environ.get("LOYALTY_CACHE_DIR"):
        return Path(os.environ["LOYALTY_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "loyalty_tests"


def fingerprint(*parts: object) -> str:
    """A stable sha256 hex digest of JSON-serialisable parts (never Python's salted ``hash``)."""
    payload = json.dumps([CODE_VERSION, *parts], sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()


def hash_files(paths: list[Path]) -> str:
    """sha256 over the names and contents of files, in the given order."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock named after ``path`` (a sibling ``.lock`` file) across processes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        yield


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); reports and caches are ordinary files (0644)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))
