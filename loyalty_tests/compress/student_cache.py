"""Trained students on disk: built once, keyed by the student's fingerprint (``student.py``:
teacher, recipe step, method version, seed, training data, code version), written atomically
under a lock so pytest-xdist workers train nothing twice. The architecture is rebuilt cheaply by
the method; only the weights are stored (safetensors)."""

from __future__ import annotations

import contextvars
import os
from pathlib import Path

from ..cache import default_cache_dir, locked


# Where trained students live: compress(cache_dir=...) sets it for one call (the plugin passes its
# --loyalty-cache-dir); unset, $LOYALTY_CACHE_DIR or the user cache folder (``default_cache_dir``).
CACHE_DIR: contextvars.ContextVar[Path | None] = contextvars.ContextVar("loyalty_compress_cache_dir", default=None)


def students_dir() -> Path:
    return Path(CACHE_DIR.get() or default_cache_dir()) / "students"


def load_or_train(model, key: str | None, train) -> None:
    """Fill ``model`` with cached weights for ``key``, or run ``train()`` and cache the result."""
    from .registry import PROGRESS

    progress = PROGRESS.get()
    if key is None:
        train()
        return
    from safetensors.torch import load_file, save_file

    path = students_dir() / f"{key[:32]}.safetensors"
    with locked(path):
        if path.exists():
            progress(f"loading trained student from {path}")
            model.load_state_dict(load_file(str(path)))
            return
        train()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(temporary))
        temporary.replace(path)
