"""Run an attack over a seeded sample of a dataset, and compare teacher and student on it.

Results are cached on disk under a fingerprint of the model, the data, the attack config and
this code's version (atomic write, file lock), so a second run and every pytest-xdist worker
read the first run's result.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np

from .. import __version__
from ..cache import atomic_write_text, fingerprint, locked
from ..errors import LoyaltyError
from .engine import DEFAULT_IN_FLIGHT, AttackedModel, Job, example_rng, require_text, run_lockstep
from .attack_registry import build_attack_recipe
from .results import AdversarialExample, AttackConfig, AttackResult, RobustnessComparison
from .words import Words

ENGINE_VERSION = "5"  # bump when a change alters what an attack finds (5: TextAttack's candidate order, window vs current text, budget cut, seed by text)


def sample_indices(dataset, config: AttackConfig) -> list[int]:
    """The seeded sample every model is attacked on (all examples when the data is smaller)."""
    if len(dataset) == 0:
        raise LoyaltyError(f"dataset {dataset.name!r} is empty; nothing to attack")
    count = min(config.examples, len(dataset))
    return sorted(random.Random(config.seed).sample(range(len(dataset)), count))


def run_attack(model, dataset, config: AttackConfig, *, indices=None, progress=None, cache_dir=None,
               recipe=None, in_flight: int = DEFAULT_IN_FLIGHT) -> AttackResult:
    """Attack ``model`` on ``indices`` (default: the config's seeded sample) of ``dataset``.

    progress(done, total, succeeded) is called after each example. ``recipe`` overrides the
    recipe the config names (tests pass one with a hand-made synonym table); the recipe is
    built through the registry (``attack_registry``) otherwise, and closed when the run ends.
    ``in_flight`` examples are attacked in lockstep, their queries sharing model calls; it
    changes speed only, never a result.
    """
    indices = sample_indices(dataset, config) if indices is None else [int(i) for i in indices]
    for index in indices:
        require_text(dataset.text_pairs[index] if dataset.text_pairs else dataset.texts[index], index, dataset.name)
    path = _cache_path(model, dataset, config, indices, cache_dir) if recipe is None else None
    if path is not None:
        with locked(path):
            if path.exists():
                return AttackResult.from_row(json.loads(path.read_text()))
            result = _attack(model, dataset, config, indices, progress, cache_dir, recipe, in_flight)
            atomic_write_text(path, json.dumps(result.to_row()))
            return result
    return _attack(model, dataset, config, indices, progress, cache_dir, recipe, in_flight)


def _cache_path(model, dataset, config, indices, cache_dir) -> Path | None:
    if cache_dir is None or getattr(model, "fingerprint", None) is None:
        return None
    stamp = fingerprint("attack", ENGINE_VERSION, __version__, model.fingerprint, dataset.fingerprint,
                        config.recipe, config.budget, config.seed, indices)
    return Path(cache_dir) / "attacks" / f"{stamp[:32]}.json"


def _attack(model, dataset, config, indices, progress, cache_dir, recipe, in_flight) -> AttackResult:
    with recipe or build_attack_recipe(config.recipe_config, cache_dir=cache_dir) as built:
        if hasattr(built, "run"):  # a recipe with its own attack loop (the TextAttack backend)
            return built.run(model, dataset, config, indices, progress)
        return _attack_with(built, model, dataset, config, indices, progress, in_flight)


def _attack_with(recipe, model, dataset, config, indices, progress, in_flight) -> AttackResult:
    attacked = AttackedModel(model, dataset.label_names, dataset.name)
    start, finished = time.perf_counter(), {}

    def jobs():
        for index in indices:
            pair = dataset.texts[index] if dataset.text_pairs else None
            text = dataset.text_pairs[index] if dataset.text_pairs else dataset.texts[index]
            search = recipe.start(text, dataset.labels[index], example_rng(config, text, pair))
            yield Job(key=index, pair=pair, search=search, budget=config.budget)

    def done(job: Job) -> None:
        finished[job.key] = _example(job, dataset)
        if progress is not None:
            progress(len(finished), len(indices), sum(e.status == "succeeded" for e in finished.values()))

    run_lockstep(attacked, jobs(), in_flight=in_flight, on_done=done)
    return AttackResult(attacked.name, config, tuple(finished[i] for i in indices), time.perf_counter() - start,
                        tuple(dataset.label_names), attacked.forward_seconds)


def _example(job: Job, dataset) -> AdversarialExample:
    index, pair = job.key, job.pair
    text = dataset.text_pairs[index] if dataset.text_pairs else dataset.texts[index]
    perturbed, status, original, perturbed_probs = job.outcome
    fraction = 0.0
    if status == "succeeded":
        before = Words.split(text)
        fraction = sum(a != b for a, b in zip(before.words, perturbed.words)) / max(len(before), 1)
    return AdversarialExample(
        index=index, label=dataset.labels[index], original_text=text,
        perturbed_text=perturbed.text() if perturbed is not None else None, text_pair=pair, status=status,
        queries=job.queries, perturbed_fraction=fraction, original_probs=tuple(float(p) for p in original),
        perturbed_probs=tuple(float(p) for p in perturbed_probs) if perturbed_probs is not None else None)


def compare_robustness(teacher, student, dataset, config: AttackConfig, *, progress=None, cache_dir=None,
                       recipe=None, in_flight: int = DEFAULT_IN_FLIGHT) -> RobustnessComparison:
    """Attack teacher and student on the same seeded examples with the same recipe, seed and budget;
    replay the teacher's adversarial texts on the student for transfer rate and adversarial loyalty.
    progress(role, done, total, succeeded), role "teacher" or "student", after each example."""
    indices = sample_indices(dataset, config)

    def report(role: str):
        return None if progress is None else (lambda done, total, succeeded: progress(role, done, total, succeeded))

    teacher_result = run_attack(teacher, dataset, config, indices=indices, progress=report("teacher"),
                                cache_dir=cache_dir, recipe=recipe, in_flight=in_flight)
    student_result = run_attack(student, dataset, config, indices=indices, progress=report("student"),
                                cache_dir=cache_dir, recipe=recipe, in_flight=in_flight)
    transfer, loyalty = _replay(teacher_result, student_result, student, dataset)
    return RobustnessComparison(teacher_result, student_result, transfer, loyalty)


def _replay(teacher_result: AttackResult, student_result: AttackResult, student, dataset) -> tuple[float, float]:
    adversarial = [e for e in teacher_result.examples if e.status == "succeeded"]
    if not adversarial:
        return float("nan"), float("nan")
    model = AttackedModel(student, dataset.label_names, dataset.name)
    probabilities = np.vstack([model.probabilities([e.perturbed_text], e.text_pair) for e in adversarial])
    student_fooled = probabilities.argmax(axis=1) != np.array([e.label for e in adversarial])
    teacher_labels = np.array([np.argmax(e.perturbed_probs) for e in adversarial])
    loyalty = float(np.mean(probabilities.argmax(axis=1) == teacher_labels))
    # transfer counts only examples the student got right before the attack
    student_right = {e.index for e in student_result.examples if e.status != "skipped"}
    eligible = np.array([e.index in student_right for e in adversarial])
    transfer = float(np.mean(student_fooled[eligible])) if eligible.any() else float("nan")
    return transfer, loyalty
