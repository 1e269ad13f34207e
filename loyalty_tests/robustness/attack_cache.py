"""Attack results cached per example, so a sample that overlaps an earlier one reuses every
example already attacked (``--loyalty-limit 200`` after a full run attacks nothing again).

One small JSON file per example under ``<cache>/attacks/<model>/``, named by a hash of its key.
The key is everything that decides the result: the model's fingerprint and run settings (batch
size, device, dtype), the recipe and ALL its
settings (the parsed config, defaults included), the budget, the seed, the example's text, pair,
gold label and label names, and the engine and package versions. One file per example (not one
shard per model) because a file is written once, atomically, and never rewritten: workers and
runs that add examples never contend on a shared file, a crash loses at most the example being
written, and reading a few thousand small files takes well under a second.

Every file stores its key and is checked against it on read; a file whose key differs, or that is
empty, truncated or otherwise unreadable, is reported with a warning naming it and attacked
again (and replaced). A cache folder that cannot be written is used read-only, with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import warnings
from pathlib import Path

from .. import __version__
from ..infra.cache import atomic_write_text, fingerprint, locked
from .attack_registry import recipe_key
from .results import AdversarialExample


class AttackCacheWarning(UserWarning):
    """A cached attack result was unusable or the cache could not be written; the work is redone."""


class ExampleCache:
    """The cached examples of one model under one attack config (recipe, budget, seed)."""

    def __init__(self, cache_dir, model_fingerprint: str, config, engine_version: str, settings: dict | None = None):
        # settings: what the model's outputs depend on beyond its weights (batch size, device, dtype)
        self.base = {
            "kind": "attack-example",
            "engine": engine_version,
            "package": __version__,
            "model": model_fingerprint,
            "settings": settings or {},
            "recipe": recipe_key(config.recipe_config),
            "budget": config.budget,
            "seed": config.seed,
        }
        self.folder = Path(cache_dir) / "attacks" / fingerprint("model", model_fingerprint)[:24]
        self.writable = True

    def key(self, text: str, pair: str | None, label: int, label_names) -> dict:
        return {**self.base, "text": text, "pair": pair, "label": int(label), "label_names": list(label_names)}

    def path(self, key: dict) -> Path:
        return self.folder / f"{fingerprint('attack-example', key)[:40]}.json"

    @contextlib.contextmanager
    def session(self):
        """Hold the lock of this model and config while its missing examples are attacked, so that
        pytest-xdist workers attack an example once; a folder that cannot be written (or locked) is
        read without the lock and nothing is stored."""
        try:
            context = locked(self.folder / f"{fingerprint('attack-run', self.base)[:24]}.run")
            context.__enter__()
        except OSError as error:
            self._read_only(error)
            yield self
            return
        try:
            yield self
        finally:
            context.__exit__(None, None, None)

    def read(self, key: dict, index: int) -> AdversarialExample | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            stored = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(stored, dict) or "key" not in stored or "example" not in stored:
                raise ValueError("no key or example in it")
            if stored["key"] != json.loads(json.dumps(key)):
                self._warn(
                    f"attack cache file {path} holds the result of another example or attack (its stored "
                    "key differs); it is ignored and the example attacked again"
                )
                return None
            row = stored["example"]
            return AdversarialExample(
                **{
                    **row,
                    "index": index,
                    "original_probs": tuple(row["original_probs"]),
                    "perturbed_probs": tuple(row["perturbed_probs"]) if row["perturbed_probs"] else None,
                    "cached": True,
                }
            )
        except (OSError, ValueError, TypeError, KeyError) as error:  # JSONDecodeError is a ValueError
            self._warn(
                f"attack cache file {path} is unreadable ({type(error).__name__}: {error}); the example is "
                "attacked again and the file replaced"
            )
            return None

    def write(self, key: dict, example: AdversarialExample) -> None:
        if not self.writable:
            return
        row = dataclasses.asdict(example)
        for field in ("index", "cached"):  # where it sits in this sample, and how it was got this time
            row.pop(field)
        try:
            atomic_write_text(self.path(key), json.dumps({"key": key, "example": row}))
        except OSError as error:
            self._read_only(error)

    def _read_only(self, error: OSError) -> None:
        self.writable = False
        self._warn(
            f"attack cache folder {self.folder} cannot be written ({error}); attacking without storing "
            "results there (results already there are still read)"
        )

    @staticmethod
    def _warn(message: str) -> None:
        warnings.warn(AttackCacheWarning(message), stacklevel=4)
