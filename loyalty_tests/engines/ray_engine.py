"""The Ray engine: predictions and attacks sharded over a Ray cluster, results identical to a local run.

Predictions: the texts are cut into blocks (Arrow tables with each example's index), and Ray
Data's ``map_batches`` scores them on a fixed pool of actors, each holding one model replica
(a GPU each when the cluster has GPUs and the device is ``cuda``, one CPU each otherwise). The
probabilities come back in example order; ``predictions.predict`` checks and caches them on the
driver exactly as for a local run.

Attacks: long-lived actors (``ray_workers.AttackWorker``) build the recipe once each and run
``run_attack`` on shards of example indices, seeded per example as locally; the shards are
merged back into one ``AttackResult`` in index order, and progress is reported as shards end.

Failures: a worker that dies is restarted and its work retried (``max_restarts`` times); a run
that still cannot finish raises ``LoyaltyError`` with the reason, never a partial result.
Nothing here reads or writes the driver's cache folder on a worker.
"""

from __future__ import annotations

import logging
import math
import os
import time
import uuid
import warnings

import numpy as np

from ..errors import LoyaltyError, first_line
from ..robustness.lockstep import DEFAULT_IN_FLIGHT
from .local import LocalEngine
from .ray_address import reachable_or_fail
from .ray_blocks import arrow_block, local_batch_order
from .shipping import ship

BLOCKS_PER_WORKER = 4  # enough blocks for load balance, few enough that each is a good batch
MAX_BLOCK_ROWS = 4096
IN_FLIGHT_PER_WORKER = 2  # an attack worker always has its next shard queued
RAY_DATA_SUFFIX = "\nFailed to apply UDF transform"
# ray.init retries an address that does not answer for minutes; a cluster that is up answers at once
CONNECT_TIMEOUT_S = 10.0


class RayEngine(LocalEngine):
    """Predictions and attacks on Ray (see the module docstring); made by ``get_engine("ray", ...)``.

    address: None (a local instance, or ``$RAY_ADDRESS``), ``auto`` or ``HOST:PORT``; device:
    ``cuda`` for a GPU per replica where the cluster has GPUs; workers: replicas at most (default:
    one per CPU or GPU); max_restarts: restarts of a dead worker, and retries of its work, before
    the run fails; attack_shard_size: examples per attack task (1: progress per example);
    worker_cache_dir: the workers' own cache folder (default ``$LOYALTY_RAY_WORKER_CACHE_DIR`` on
    the worker, else its temporary folder); start_timeout_s: how long to wait for free CPUs/GPUs;
    init_options: extra ``ray.init`` arguments (e.g. ``num_cpus`` for a local instance).
    """

    name = "ray"

    def __init__(
        self,
        *,
        address: str | None = None,
        device: str = "cpu",
        workers: int | None = None,
        max_restarts: int = 3,
        attack_shard_size: int = 1,
        worker_cache_dir: str | None = None,
        start_timeout_s: int = 600,
        init_options: dict | None = None,
    ):
        if workers is not None and (not isinstance(workers, int) or workers < 1):
            raise LoyaltyError(f"Ray workers must be a whole number >= 1, got {workers!r}")
        if not isinstance(attack_shard_size, int) or attack_shard_size < 1:
            raise LoyaltyError(f"attack_shard_size must be a whole number >= 1, got {attack_shard_size!r}")
        self.address, self.device, self.max_restarts = address, str(device or "cpu"), int(max_restarts)
        self.requested_workers, self.attack_shard_size = workers, attack_shard_size
        self.worker_cache_dir, self.start_timeout_s = worker_cache_dir, int(start_timeout_s)
        self.init_options = dict(init_options or {})
        self._started_ray = False
        self._attack_workers: list = []
        self._replica_registry = None
        # the last call's figures: examples, workers, wall_seconds (on the driver) and worker_seconds
        # (time inside predict_proba, or inside run_attack, added up over the workers)
        self.last_run: dict = {}

    # -- connection ---------------------------------------------------------------------------
    def connect(self):
        """Start or join Ray once (no usage statistics, no dashboard: nothing waits on the network)."""
        import ray

        if not ray.is_initialized():
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            options = {"include_dashboard": False, "logging_level": logging.WARNING, **self.init_options}
            # No address: a new local instance, or $RAY_ADDRESS when set. Not Ray's own default, which
            # joins the last cluster recorded under /tmp/ray and, when that one is gone, retries for minutes.
            options["address"] = self.address or os.environ.get("RAY_ADDRESS") or "local"
            reachable_or_fail(options["address"], CONNECT_TIMEOUT_S)
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError) as error:
                where = f"the Ray cluster at {self.address!r}" if self.address else "a local Ray instance"
                raise LoyaltyError(
                    f"could not start or join {where}: {error}. Check --loyalty-ray-address "
                    "(leave it unset for a local instance, 'auto' to join a running cluster)"
                ) from error
            self._started_ray = True  # close() disconnects (and stops a local instance we started)
        logging.getLogger("ray.data").setLevel(logging.WARNING)  # no per-run INFO lines in the test log
        return ray

    def close(self) -> None:
        """Stop the attack workers, and Ray itself when this engine started it."""
        import ray

        self._release_attack_workers()
        if self._replica_registry is not None and ray.is_initialized():
            ray.kill(self._replica_registry)
        self._replica_registry = None
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False

    @property
    def uses_gpus(self) -> bool:
        return self.device.startswith("cuda") and self.connect().cluster_resources().get("GPU", 0) >= 1

    def workers(self) -> int:
        """Model replicas to run: one per GPU (cuda) or per CPU of the cluster, capped by ``workers``."""
        resources = self.connect().cluster_resources()
        available = int(resources.get("GPU", 0) if self.uses_gpus else resources.get("CPU", 0))
        if available < 1:
            raise LoyaltyError(f"the Ray cluster has no free CPU for a model replica (resources: {resources})")
        return min(available, self.requested_workers or available)

    def _actor_resources(self) -> dict:
        return {"num_gpus": 1} if self.uses_gpus else {"num_cpus": 1}

    def _box(self, model) -> list:
        """The model, put in the object store for this call (a model changed in place since an earlier
        call is sent as it is now), in a list so Ray hands the reference over unresolved."""
        ray = self.connect()
        shipped = ship(model)
        try:
            return [ray.put(shipped)]
        except Exception as error:  # Ray's pickling raises several types; the reason matters here
            raise LoyaltyError(
                f"model {shipped.name!r} cannot be sent to Ray workers: it does not pickle ({type(error).__name__}: "
                f"{error}). Make it picklable, or run with --loyalty-engine local"
            ) from error

    # -- predictions ----------------------------------------------------------------------------
    def predict_proba(self, model, texts, text_pairs=None) -> np.ndarray:
        """The model's probabilities (its own label order) for each text, computed on the cluster."""
        start, ray = time.perf_counter(), self.connect()
        from .ray_workers import BatchScorer

        self._release_attack_workers()  # their CPUs go to the prediction replicas
        count, workers = len(texts), self.workers()
        order, batch_size = local_batch_order(model, texts, text_pairs)
        blocks = min(count, max(workers * BLOCKS_PER_WORKER, math.ceil(count / MAX_BLOCK_ROWS)))
        rows = math.ceil(math.ceil(count / blocks) / batch_size) * batch_size  # whole local batches per block
        tables = [arrow_block(texts, text_pairs, order[first : first + rows]) for first in range(0, count, rows)]
        with warnings.catch_warnings():
            # Ray Data 2.60 marks per-call remote args (max_restarts, max_task_retries) as deprecated with
            # no replacement yet (the [ray] extra pins Ray below 2.64, where they go), and its context
            # warns about its own deprecated fields when first built.
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            warnings.simplefilter("ignore", DeprecationWarning)
            run = uuid.uuid4().hex
            scored = ray.data.from_arrow(tables).map_batches(
                BatchScorer,
                fn_constructor_kwargs={
                    "model_box": self._box(model),
                    "device": self.device,
                    "registry": [self._registry()],
                    "run": run,
                },
                batch_size=rows,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=min(workers, len(tables))),
                max_restarts=self.max_restarts,
                max_task_retries=self.max_restarts,
                **self._actor_resources(),
            )
        # this run's settings only (the dataset's own copy of Ray Data's context, not the global one)
        scored.context.enable_progress_bars = False  # predict() reports progress itself
        scored.context.raise_original_map_exception = True  # the model's own error, not "UDF failed"
        scored.context.wait_for_min_actors_s = self.start_timeout_s  # never wait forever for free CPUs
        probabilities = np.full((count, len(model.label_names)), np.nan)
        seen, model_seconds, failure = np.zeros(count, dtype=bool), 0.0, None
        try:
            for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
                probabilities[batch["index"]] = batch["probabilities"]
                seen[batch["index"]] = True
                model_seconds += float(batch["seconds"].sum())
        except Exception as error:
            # no __cause__: Ray's error chain references this run's dataset and its replicas (the
            # worker's traceback is in Ray's logs, and the message says what happened)
            failure = self._failure(error, f"predicting with {model.name}")
        finally:
            self._stop_replicas(run)
        if failure is not None:
            raise failure
        if not seen.all():  # never hand back a partial result
            raise LoyaltyError(f"the Ray run predicting with {model.name} returned {int(seen.sum())} of {count} rows")
        self.last_run = {
            "what": "predict",
            "examples": count,
            "workers": min(workers, len(tables)),
            "wall_seconds": time.perf_counter() - start,
            "worker_seconds": model_seconds,
        }
        return probabilities

    # -- attacks --------------------------------------------------------------------------------
    def attack_examples(
        self,
        model,
        dataset,
        config,
        indices,
        progress,
        cache_dir,
        recipe,
        in_flight: int = DEFAULT_IN_FLIGHT,
        on_example=lambda example: None,
    ):
        """``run_attack``'s local loop, on the cluster. ``cache_dir`` is the driver's: it is never
        sent to workers; ``on_example`` gets each example as its shard returns, so the driver's
        per-example cache is written as a local run writes it."""
        from ..robustness.results import AttackResult
        from ..robustness.textattack_backend import TextAttackConfig

        if isinstance(config.recipe_config, TextAttackConfig) and recipe is None:
            raise LoyaltyError(
                f"the Ray engine runs the built-in recipes only, not {config.recipe!r} (TextAttack "
                "downloads its own resources and does not seed per example); use --loyalty-engine local"
            )
        ray = self.connect()
        indices = [int(i) for i in indices]
        name = getattr(model, "name", type(model).__name__)
        start = time.perf_counter()
        if not indices:
            return AttackResult(name, config, (), 0.0, tuple(dataset.label_names), 0.0)
        job = {
            "model": self._box(model),
            "data": [ray.put(dataset)],
            "config": config,
            "in_flight": in_flight,
            "recipe": [ray.put(recipe)] if recipe is not None else None,
        }
        shards = [indices[i : i + self.attack_shard_size] for i in range(0, len(indices), self.attack_shard_size)]
        results = self._run_shards(job, shards, progress, len(indices), f"attacking {name}", on_example)
        examples = tuple(example for result in results for example in result.examples)
        if [example.index for example in examples] != indices:
            raise LoyaltyError(
                f"the Ray run attacking {name} returned examples {[e.index for e in examples][:10]}..., "
                f"not the {len(indices)} examples asked for"
            )
        self.last_run = {
            "what": "attack",
            "examples": len(indices),
            "workers": min(self.workers(), len(shards)),
            "wall_seconds": time.perf_counter() - start,
            "worker_seconds": sum(result.seconds for result in results),
        }
        return AttackResult(
            results[0].model_name,
            config,
            examples,
            time.perf_counter() - start,
            tuple(dataset.label_names),
            sum(result.forward_seconds for result in results),
        )

    def _run_shards(self, job, shards, progress, total, what, on_example) -> list:
        ray = self.connect()
        workers = self._workers_for_attacks(len(shards))
        results, pending, queue = [None] * len(shards), {}, list(range(len(shards)))[::-1]
        done = succeeded = 0

        def submit(worker) -> None:
            if queue:
                number = queue.pop()
                pending[worker.attack.remote(job, shards[number])] = (number, worker)

        try:
            for _ in range(IN_FLIGHT_PER_WORKER):
                for worker in workers:
                    submit(worker)
            while pending:
                (ready,), _ = ray.wait(list(pending), num_returns=1)
                number, worker = pending.pop(ready)
                results[number] = ray.get(ready)
                for example in results[number].examples:
                    on_example(example)
                done += len(results[number].examples)
                succeeded += sum(e.status == "succeeded" for e in results[number].examples)
                if progress is not None:
                    progress(done, total, succeeded)
                submit(worker)
            ray.get([worker.finish.remote() for worker in workers])
        except BaseException as error:
            self._release_attack_workers()  # kills what is still running; a broken pool is not reused
            if not isinstance(error, ray.exceptions.RayError):
                raise  # the driver's own error (a progress callback, Ctrl-C), not a worker's
            raise self._failure(error, what) from error
        return results

    def _workers_for_attacks(self, shards: int) -> list:
        ray = self.connect()
        from .ray_workers import AttackWorker

        wanted = min(self.workers(), shards)
        if len(self._attack_workers) < wanted:
            remote = ray.remote(AttackWorker).options(
                max_restarts=self.max_restarts, max_task_retries=self.max_restarts, **self._actor_resources()
            )
            self._attack_workers += [
                remote.remote(self.device, self.worker_cache_dir) for _ in range(wanted - len(self._attack_workers))
            ]
            # a worker waits for a free CPU (or GPU); never forever
            probes = [worker.describe.remote() for worker in self._attack_workers]
            ready, waiting = ray.wait(probes, num_returns=len(probes), timeout=self.start_timeout_s)
            if waiting:
                resources = ray.available_resources()
                self._release_attack_workers()
                raise LoyaltyError(
                    f"Ray started {len(ready)} of {len(probes)} attack workers within "
                    f"{self.start_timeout_s} s: the cluster has no free {self._actor_resources()} "
                    f"for the rest (free now: {resources})"
                )
        return self._attack_workers[:wanted]

    def _registry(self):
        """The engine's replica registry (no CPU of its own), started on first use."""
        ray = self.connect()
        if self._replica_registry is None:
            from .ray_workers import ReplicaRegistry

            self._replica_registry = ray.remote(num_cpus=0)(ReplicaRegistry).remote()
        return self._replica_registry

    def _stop_replicas(self, run: str) -> None:
        import ray

        for replica in ray.get(self._registry().take.remote(run)):
            ray.kill(replica)

    def _release_attack_workers(self) -> None:
        import ray

        for worker in self._attack_workers:
            ray.kill(worker)
        self._attack_workers = []

    # -- errors ---------------------------------------------------------------------------------
    def _failure(self, error: Exception, what: str) -> LoyaltyError:
        """A LoyaltyError that says why the Ray run could not finish (the model's own LoyaltyError
        keeps its message, as a local run would show it)."""
        import ray

        cause = _root_cause(error)
        if isinstance(cause, LoyaltyError):
            # Ray Data appends its retry advice to the message; the user needs the model's words only
            return LoyaltyError(str(cause).split(RAY_DATA_SUFFIX)[0])
        if isinstance(cause, ray.exceptions.RayActorError) or isinstance(error, ray.exceptions.RayActorError):
            return LoyaltyError(
                f"{what} could not finish on Ray: a worker died again after {self.max_restarts} restart(s) "
                f"(the model replica's process crashed or was killed, e.g. out of memory); no partial result is "
                f"kept. See the worker logs (ray logs, or /tmp/ray/session_latest/logs) or run with "
                f"--loyalty-engine local. Last error: {first_line(cause)}"
            )
        return LoyaltyError(f"{what} failed on a Ray worker: {type(cause).__name__}: {first_line(cause)}")

    def __repr__(self) -> str:
        return f"RayEngine(address={self.address!r}, device={self.device!r}, workers={self.requested_workers!r})"


def _root_cause(error: BaseException) -> BaseException:
    """The exception raised in the worker: the end of Ray's ``cause`` and ``__cause__`` chain."""
    seen = set()
    while id(error) not in seen:
        seen.add(id(error))
        inner = getattr(error, "cause", None) or error.__cause__
        if not isinstance(inner, BaseException):
            break
        error = inner
    return error
