"""What runs inside Ray workers: a prediction replica for Ray Data and a long-lived attack worker.

Workers never see the driver's cache folder: models arrive through the object store (see
``shipping``), and attack resources that cache on disk (the GloVe neighbour table, WordNet's
copy) use a folder on the worker's own disk, ``worker_cache_dir()``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ..errors import LoyaltyError
from .shipping import unship

WORKER_CACHE_ENV = "LOYALTY_RAY_WORKER_CACHE_DIR"
KEPT_OBJECTS = 4  # per worker: the teacher, a student, their dataset and a spare


def worker_cache_dir(folder: str | None = None) -> Path:
    """This worker's cache folder: ``folder``, else ``$LOYALTY_RAY_WORKER_CACHE_DIR`` on the worker,
    else a folder under the worker's temporary directory. It also becomes the worker process's
    ``LOYALTY_CACHE_DIR``, so code that falls back to the default cache writes there, not to a
    path named after the driver's."""
    uid = getattr(os, "getuid", lambda: "")()
    path = Path(folder or os.environ.get(WORKER_CACHE_ENV) or Path(tempfile.gettempdir()) / f"loyalty_tests-ray-{uid}")
    path.mkdir(parents=True, exist_ok=True)
    os.environ["LOYALTY_CACHE_DIR"] = str(path)
    return path


def _device(wanted: str) -> str:
    """The device this worker runs its replica on: a GPU only when Ray gave it one."""
    import ray

    return wanted if wanted.startswith("cuda") and ray.get_gpu_ids() else "cpu"


class BatchScorer:
    """A Ray Data ``map_batches`` class: one model replica per actor, a block of rows per call.

    The model's own ``predict_proba`` batches the block with dynamic padding, as it does locally.
    """

    def __init__(self, model_box: list, device: str = "cpu", registry: list | None = None, run: str = ""):
        import ray

        if registry is not None:  # so the driver can stop this replica when the run ends, whatever happens
            ray.get(registry[0].add.remote(run, ray.get_runtime_context().current_actor))
        worker_cache_dir()
        self.model = unship(ray.get(model_box[0]), _device(device))  # box: a reference Ray does not resolve
        self.n_labels = len(self.model.label_names)

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        pairs = [str(t) for t in batch["pair"]] if "pair" in batch else None
        start = time.perf_counter()
        raw = np.asarray(self.model.predict_proba(texts, pairs), dtype=np.float64)
        seconds = time.perf_counter() - start
        if raw.shape != (len(texts), self.n_labels):
            raise LoyaltyError(
                f"model {self.model.name!r} returned outputs of shape {raw.shape} for {len(texts)} texts, expected "
                f"({len(texts)}, {self.n_labels}): one row per text, one column per label name"
            )
        # each row carries its block's share of the model time, so the driver can add them up
        return {
            "index": np.asarray(batch["index"]),
            "probabilities": raw,
            "seconds": np.full(len(texts), seconds / max(len(texts), 1)),
        }


class ReplicaRegistry:
    """The prediction replicas of each run, by handle. Ray Data lets a finished pool go by reference
    counting, and after a failed run something inside it can keep a replica (and its CPU) alive; the
    driver stops every replica of a run itself, so the next run never waits for that CPU."""

    def __init__(self):
        self.runs: dict[str, list] = {}

    def add(self, run: str, replica) -> None:
        self.runs.setdefault(run, []).append(replica)

    def take(self, run: str) -> list:
        return self.runs.pop(run, [])


class _KeepOpen:
    """The recipe as ``run_attack`` sees it on a worker: entering gives the built recipe, leaving
    does not close it; the worker closes its recipes (saving new neighbour rows) once per run, in
    ``finish``, not after every shard."""

    def __init__(self, recipe):
        self.recipe = recipe

    def __enter__(self):
        return self.recipe

    def __exit__(self, *exc) -> None:
        return None


class AttackWorker:
    """A Ray actor: builds each attack recipe once (its neighbour tables, sentence encoder) and
    attacks shards of example indices with ``run_attack``, seeded per example as locally."""

    def __init__(self, device: str = "cpu", cache_dir: str | None = None):
        self.device = _device(device)
        self.cache_dir = worker_cache_dir(cache_dir)
        self.objects: OrderedDict[str, object] = OrderedDict()  # models and datasets by object id
        self.recipes: dict[str, object] = {}

    def attack(self, job: dict, indices: list[int]):
        from ..robustness.attack import run_attack

        model = self._object(job["model"], lambda shipped: unship(shipped, self.device))
        dataset = self._object(job["data"], lambda data: data)
        recipe = self._recipe(job)
        # cache_dir=None: the results cache lives on the driver, never here
        return run_attack(
            model,
            dataset,
            job["config"],
            indices=indices,
            recipe=_KeepOpen(recipe),
            cache_dir=None,
            in_flight=job["in_flight"],
        )

    def finish(self) -> None:
        """Save what the recipes learned (new neighbour rows) to this worker's folder."""
        for recipe in self.recipes.values():
            if hasattr(recipe, "close"):
                recipe.close()

    def describe(self) -> dict:
        """Where this worker runs and on which device its models sit (for checks and debugging)."""
        import ray

        return {
            "pid": os.getpid(),
            "node": ray.get_runtime_context().get_node_id(),
            "gpu_ids": ray.get_gpu_ids(),
            "device": self.device,
            "cache_dir": str(self.cache_dir),
            "models": {key: str(getattr(obj, "device", "-")) for key, obj in self.objects.items()},
        }

    def _object(self, box: list, build):
        import ray

        key = box[0].hex()
        if key not in self.objects:
            self.objects[key] = build(ray.get(box[0]))
            while len(self.objects) > KEPT_OBJECTS:
                self.objects.popitem(last=False)
        self.objects.move_to_end(key)
        return self.objects[key]

    def _recipe(self, job: dict):
        import ray

        if job["recipe"] is not None:  # a recipe object the caller made (e.g. a hand-made synonym table)
            key = job["recipe"][0].hex()
            if key not in self.recipes:
                self.recipes[key] = ray.get(job["recipe"][0])
            return self.recipes[key]
        from ..robustness.attack_registry import build_attack_recipe

        key = job["config"].recipe
        if key not in self.recipes:
            self.recipes[key] = build_attack_recipe(job["config"].recipe_config, cache_dir=self.cache_dir)
        return self.recipes[key]
