"""Run an attack over a seeded sample of a dataset.

Results are cached on disk per example (``attack_cache.py``): a run reads every example an
earlier run attacked with the same model, recipe settings, budget and seed, and attacks only the
rest, so a second run, a smaller or overlapping sample and every pytest-xdist worker reuse them.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from ..data.dataset import seeded_order
from ..errors import LoyaltyError
from ..predictions import output_settings
from .attack_cache import ExampleCache
from .attack_registry import build_attack_recipe
from .lockstep import (
    DEFAULT_IN_FLIGHT,
    ENGINE_VERSION,
    AttackedModel,
    Job,
    check_in_flight,
    example_rng,
    require_text,
    run_lockstep,
)
from .results import AdversarialExample, AttackConfig, AttackResult
from .words import Words


def sample_order(dataset, seed: int) -> list[int]:
    """Every example's position in one seeded order: sorted by sha256(seed, the example's content)
    (``TextDataset.example_keys``), position breaking ties. Any sample, and any block, is a stretch
    of it: the first k examples are a prefix of the first k + m, so a block extends a sample. It is
    the order ``TextDataset.sample`` draws in, so a ``--loyalty-limit`` sample's attack order is the
    full data's order restricted to it, and its attacks are a full run's first ones."""
    if len(dataset) == 0:
        raise LoyaltyError(f"dataset {dataset.name!r} is empty; nothing to attack")
    return seeded_order(dataset.example_keys(), seed)


def sample_indices(dataset, config: AttackConfig, count: int | None = None) -> list[int]:
    """The seeded sample every model is attacked on: the first ``count`` (default ``config.examples``)
    of ``sample_order``, all examples when the data is smaller."""
    return sample_order(dataset, config.seed)[: config.examples if count is None else count]


def _example_text(dataset, index: int) -> tuple[str, str | None]:
    """(attacked text, untouched first text of a pair or None)."""
    if dataset.text_pairs:
        return dataset.text_pairs[index], dataset.texts[index]
    return dataset.texts[index], None


def run_attack(
    model,
    dataset,
    config: AttackConfig,
    *,
    indices=None,
    progress=None,
    cache_dir=None,
    recipe=None,
    in_flight: int = DEFAULT_IN_FLIGHT,
    attack_examples=None,
) -> AttackResult:
    """Attack ``model`` on ``indices`` (default: the config's seeded sample) of ``dataset``.

    progress(done, total, succeeded) is called after each example. ``recipe`` overrides the
    recipe the config names (tests pass one with a hand-made synonym table; nothing is cached
    then); the recipe is built through the registry (``attack_registry``) otherwise, and closed
    when the run ends. ``in_flight`` examples are attacked in lockstep, their queries sharing
    model calls; it changes speed only, never a result. With ``cache_dir`` and a model that has a
    fingerprint, each example's result is cached on its own (see ``attack_cache.py``).
    ``attack_examples``, taking ``_attack``'s arguments, replaces the local attack loop (an engine
    such as Ray attacks the same examples elsewhere); the per-example cache stays here.
    """
    attack = _attack if attack_examples is None else attack_examples
    check_in_flight(in_flight)
    indices = sample_indices(dataset, config) if indices is None else [int(i) for i in indices]
    for index in indices:
        require_text(_example_text(dataset, index)[0], index, dataset.name)
    if recipe is not None or cache_dir is None or getattr(model, "fingerprint", None) is None:
        return attack(model, dataset, config, indices, progress, cache_dir, recipe, in_flight)
    cache = ExampleCache(cache_dir, model.fingerprint, config, ENGINE_VERSION, output_settings(model))
    with cache.session():
        start = time.perf_counter()
        keys = {
            i: cache.key(*_example_text(dataset, i), dataset.labels[i], dataset.label_names)
            for i in dict.fromkeys(indices)
        }
        found = {i: cache.read(key, i) for i, key in keys.items()}
        missing = [i for i, example in found.items() if example is None]
        forward_seconds = 0.0
        if missing:
            done = [e for e in found.values() if e is not None]
            offset, successes = len(done), sum(e.status == "succeeded" for e in done)
            shifted = (
                None
                if progress is None
                else (lambda count, total, succeeded: progress(offset + count, len(keys), successes + succeeded))
            )
            fresh = attack(
                model,
                dataset,
                config,
                missing,
                shifted,
                cache_dir,
                None,
                in_flight,
                on_example=lambda example: cache.write(keys[example.index], example),
            )
            found.update((e.index, e) for e in fresh.examples)
            forward_seconds = fresh.forward_seconds
        elif progress is not None:
            progress(len(keys), len(keys), sum(e.status == "succeeded" for e in found.values()))
        return AttackResult(
            getattr(model, "name", type(model).__name__),
            config,
            tuple(found[i] for i in indices),
            time.perf_counter() - start,
            tuple(dataset.label_names),
            forward_seconds,
        )


def _attack(
    model, dataset, config, indices, progress, cache_dir, recipe, in_flight, on_example=lambda example: None
) -> AttackResult:
    with recipe or build_attack_recipe(config.recipe_config, cache_dir=cache_dir) as built:
        if hasattr(built, "run"):  # a recipe with its own attack loop (the TextAttack backend)
            result = built.run(model, dataset, config, indices, progress)
            for example in result.examples:
                on_example(example)
            return result
        return _attack_with(built, model, dataset, config, indices, progress, in_flight, on_example)


def _attack_with(recipe, model, dataset, config, indices, progress, in_flight, on_example) -> AttackResult:
    attacked = AttackedModel(model, dataset.label_names, dataset.name)
    start, finished, total = time.perf_counter(), {}, len(dict.fromkeys(indices))

    def jobs():
        for index in dict.fromkeys(indices):
            text, pair = _example_text(dataset, index)
            search = recipe.start(text, dataset.labels[index], example_rng(config, text, pair))
            yield Job(key=index, pair=pair, search=search, budget=config.budget)

    def done(job: Job) -> None:
        finished[job.key] = _example(job, dataset)
        on_example(finished[job.key])
        if progress is not None:
            progress(len(finished), total, sum(e.status == "succeeded" for e in finished.values()))

    run_lockstep(attacked, jobs(), in_flight=in_flight, on_done=done)
    return AttackResult(
        attacked.name,
        config,
        tuple(finished[i] for i in indices),
        time.perf_counter() - start,
        tuple(dataset.label_names),
        attacked.forward_seconds,
    )


def _example(job: Job, dataset) -> AdversarialExample:
    index, pair = job.key, job.pair
    text = _example_text(dataset, index)[0]
    perturbed, status, original, perturbed_probs = job.outcome
    fraction = 0.0
    if status == "succeeded":
        before = Words.split(text)
        fraction = sum(a != b for a, b in zip(before.words, perturbed.words)) / max(len(before), 1)
    return AdversarialExample(
        index=index,
        label=dataset.labels[index],
        original_text=text,
        perturbed_text=perturbed.text() if perturbed is not None else None,
        text_pair=pair,
        status=status,
        queries=job.queries,
        perturbed_fraction=fraction,
        original_probs=tuple(float(p) for p in original),
        perturbed_probs=tuple(float(p) for p in perturbed_probs) if perturbed_probs is not None else None,
        seconds=job.seconds,
        measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )
