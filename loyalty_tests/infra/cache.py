"""Fingerprints, atomic writes, cross-process locks and verified entries for everything cached on disk.

Models, predictions and built students are cached under one folder, each keyed by a fingerprint
of what produced it (model weights, data, code version). Two rules keep the cache from ever
deciding a result:

- **An entry is trusted only if it says so.** Every entry stores the key it was written under
  and is read back through ``read_verified``: a file that belongs to another key, or that is
  corrupt, truncated or empty, is reported with a ``LoyaltyCacheWarning`` naming the file and
  recomputed (and replaced), never served and never a crash.
- **The cache only saves time.** Writers build into a temporary ``.<name>.<random>.tmp`` beside
  the entry, verify it against the key, and rename it into place, holding a file lock so two
  pytest-xdist workers build an entry once and never read a half-written one. A folder that
  cannot be written (read-only, removed during a write) means running without the cache, with a
  warning. Temporary files left by a killed writer are removed once they are old enough that no
  live writer can own them (``ORPHAN_AGE_SECONDS``).

``cached_file`` and ``cached_folder`` put these together for one entry; the lower-level helpers
(``read_verified``, ``write_verified``, ``writable``, ``clean_orphans``) serve other caches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

from filelock import FileLock

from .. import __version__
from ..errors import LoyaltyCacheWarning

# Bumped with the package version: a new release never reads an older release's cache entries.
CODE_VERSION = __version__
# A temporary file this old belongs to no live writer: writes take seconds (training happens
# before any temporary file exists), and another pytest-xdist worker may be writing right now.
ORPHAN_AGE_SECONDS = 3600.0

T = TypeVar("T")
S = TypeVar("S")


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


def cache_warning(message: str) -> None:
    warnings.warn(message, LoyaltyCacheWarning, stacklevel=3)


@contextlib.contextmanager
def locked(path: Path, timeout: float = -1) -> Iterator[None]:
    """Hold an exclusive lock named after ``path`` (a sibling ``.lock`` file) across processes;
    ``timeout`` seconds (-1: wait for ever) before ``filelock.Timeout``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock", timeout=timeout):
        yield


def temporary_name(path: Path) -> str:
    """The prefix of a temporary sibling of ``path``; ``clean_orphans`` recognises it by ``.tmp``."""
    return f".{Path(path).name}."


def atomic_write_bytes(path: Path, data: bytes, check: Callable[[Path], None] | None = None) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one;
    ``check(temporary_path)`` may raise to stop a bad file from being published."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=temporary_name(path), suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); reports and caches are ordinary files (0644)
        os.chmod(tmp, 0o644)
        if check is not None:
            check(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def writable(folder: Path) -> bool:
    """Whether entries can be created in ``folder`` (made if missing): a probe file, not the
    permission bits, which say nothing about read-only mounts, immutable folders or root."""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe.", suffix=".tmp")
        os.close(fd)
        os.unlink(probe)
        return True
    except OSError:
        return False


def clean_orphans(folder: Path, max_age: float = ORPHAN_AGE_SECONDS) -> list[Path]:
    """Remove temporary ``.*.tmp`` files and folders in ``folder`` older than ``max_age`` seconds
    (left by a killed writer); younger ones may belong to a writer at work. Returns what went."""
    removed = []
    cutoff = time.time() - max_age
    with contextlib.suppress(OSError):  # a folder that is missing or unreadable has nothing to clean
        for path in Path(folder).glob(".*.tmp"):
            try:
                if path.lstat().st_mtime >= cutoff:
                    continue
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
                removed.append(path)
            except OSError:  # gone already (another cleaner), or not ours to remove
                continue
    return removed


class BadEntry(Exception):
    """A cache entry that cannot be used."""


class KeyMismatch(BadEntry):
    """A cache entry that belongs to another key."""


def _read(path: Path, key: str, read_key: Callable[[Path], object], load: Callable[[Path], T]) -> tuple[T | None, str]:
    """(value, "") for a good entry, (None, "") for a missing one, (None, why) for a bad one.
    ``load`` never returns None for a good entry."""
    if not path.exists():
        return None, ""
    kind = "cache folder" if path.is_dir() else "cache file"
    try:
        stored = read_key(path)
        if stored != key:
            found = f"it was written under key {str(stored)[:16]}…" if stored else "it stores no key"
            raise KeyMismatch(f"{found}, not {key[:16]}…")
        return load(path), ""
    except FileNotFoundError:  # removed since exists(): a plain miss
        return None, ""
    except KeyMismatch as error:
        return None, f"{kind} {path} belongs to another entry ({error})"
    except Exception as error:  # whatever cannot be read is recomputed, never served
        return None, f"{kind} {path} is unreadable ({type(error).__name__}: {error})"


def read_verified(path: Path, key: str, *, read_key: Callable[[Path], object], load: Callable[[Path], T]) -> T | None:
    """``load(path)`` when ``path`` exists and ``read_key(path) == key``; else None (a missing
    entry silently, a bad one — another key, corrupt, truncated, empty — with a warning)."""
    value, problem = _read(Path(path), key, read_key, load)
    if problem:
        cache_warning(problem + "; recomputing it")
    return value


def write_verified(
    path: Path,
    key: str,
    data: bytes,
    *,
    read_key: Callable[[Path], object],
    load: Callable[[Path], object] | None = None,
) -> bool:
    """Publish ``data`` at ``path`` atomically, only after its temporary file reads back with
    ``key`` (and loads); False, with a warning, when it cannot be written. Never raises OSError."""

    def check(temporary: Path) -> None:
        if read_key(temporary) != key:
            raise KeyMismatch(f"the file written for key {key[:16]}… reads back with another key")
        if load is not None:
            try:
                load(temporary)
            except Exception as error:  # a file we could not read back is not published
                raise BadEntry(f"the file written does not read back: {type(error).__name__}: {error}") from error

    try:
        atomic_write_bytes(path, data, check)
        return True
    except (OSError, BadEntry) as error:
        cache_warning(
            f"could not write cache file {path} ({type(error).__name__}: {error}); continuing without caching it"
        )
        return False


def cached_file(
    path: Path,
    key: str,
    *,
    compute: Callable[[], T],
    dump: Callable[[T], bytes],
    read_key: Callable[[Path], object],
    load: Callable[[Path], T],
) -> tuple[T, bool]:
    """(value, from_cache): the entry at ``path`` when it holds ``key``, else ``compute()``,
    written as ``dump(value)`` (which stores the key) for the next run."""
    path = Path(path)
    value, _ = _read(path, key, read_key, load)  # the common case, a finished entry: no lock needed
    if value is not None:
        return value, True
    if not writable(path.parent):
        read_verified(path, key, read_key=read_key, load=load)  # say why an existing entry was not used
        cache_warning(f"cache folder {path.parent} cannot be written; running without the cache")
        return compute(), False
    with locked(path):  # the first worker computes, the others wait here and read its entry
        value = read_verified(path, key, read_key=read_key, load=load)
        if value is not None:
            return value, True
        clean_orphans(path.parent)
        value = compute()
        write_verified(path, key, dump(value), read_key=read_key, load=load)
        return value, False


def cached_folder(
    folder: Path,
    key: str,
    *,
    save: Callable[[Path, S], None],
    read_key: Callable[[Path], object],
    load: Callable[[Path], T],
    prepare: Callable[[], S] = lambda: None,
) -> tuple[T, bool, Path]:
    """(value, from_cache, where): like ``cached_file`` for an entry that is a folder.

    ``prepare()`` does the long work in memory (training); ``save(staging, prepared)`` then fills a
    fresh folder and writes the key last (in the marker file ``read_key`` reads); the folder is
    loaded back before it is renamed into place. Where the cache cannot be written, it is saved
    to a temporary folder outside the cache, loaded from there, and ``where`` says so.
    """
    folder = Path(folder)
    value, _ = _read(folder, key, read_key, load)
    if value is not None:
        return value, True, folder
    if not writable(folder.parent):
        read_verified(folder, key, read_key=read_key, load=load)
        cache_warning(f"cache folder {folder.parent} cannot be written; running without the cache")
        staging = Path(tempfile.mkdtemp(prefix=f"loyalty-{folder.name}-"))
        try:
            save(staging, prepare())
            return load(staging), False, staging
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    with locked(folder):
        value = read_verified(folder, key, read_key=read_key, load=load)
        if value is not None:
            return value, True, folder
        clean_orphans(folder.parent)
        prepared = prepare()  # before the staging folder exists, so it is never old while in use
        staging = Path(tempfile.mkdtemp(prefix=temporary_name(folder), suffix=".tmp", dir=folder.parent))
        try:
            save(staging, prepared)
            if read_key(staging) != key:
                raise KeyMismatch(f"the folder built for key {key[:16]}… reads back with another key")
            value = load(staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        try:
            os.chmod(staging, 0o755)  # mkdtemp makes it owner-only; a shared cache is readable by all
            if folder.exists():  # a bad entry (warned about above)
                shutil.rmtree(folder)
            os.replace(staging, folder)
        except OSError as error:  # e.g. the cache folder was removed meanwhile: use what was built
            cache_warning(
                f"could not write cache folder {folder} ({type(error).__name__}: {error}); "
                "continuing without caching it"
            )
            return value, False, staging
        return value, False, folder
