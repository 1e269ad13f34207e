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
from .engine import AttackedModel, require_text
from .results import TEXTATTACK_PREFIX, AdversarialExample, AttackConfig, AttackResult, RobustnessComparison
from .words import Words

ENGINE_VERSION = "4"  # bump when a change alters what an attack finds (4: queries counted per example, similarity before queries)


def sample_indices(dataset, config: AttackConfig) -> list[int]:
    """The seeded sample every model is attacked on (all examples when the data is smaller)."""
    if len(dataset) == 0:
        raise LoyaltyError(f"dataset {dataset.name!r} is empty; nothing to attack")
    count = min(config.examples, len(dataset))
    return sorted(random.Random(config.seed).sample(range(len(dataset)), count))


def build_recipe(config: AttackConfig, cache_dir=None):
    from . import attack_recipes as recipes

    if config.recipe == "charswap":
        return recipes.charswap()
    if config.recipe == "textfooler":
        return recipes.textfooler(cache_dir)
    if config.recipe == "pwws":
        return recipes.pwws(cache_dir=cache_dir)
    raise LoyaltyError(f"no built-in recipe {config.recipe!r}")


def run_attack(model, dataset, config: AttackConfig, *, indices=None, progress=None, cache_dir=None,
               recipe=None, attack_examples=None) -> AttackResult:
    """Attack ``model`` on ``indices`` (default: the config's seeded sample) of ``dataset``.

    progress(done, total, succeeded) is called after each example. ``recipe`` overrides the
    config's built-in recipe (tests pass one with a hand-made synonym table). ``attack_examples``,
    with ``_attack``'s arguments, replaces the local loop (an engine such as Ray attacks the same
    examples elsewhere); the result cache stays here.
    """
    attack = _attack if attack_examples is None else attack_examples
    indices = sample_indices(dataset, config) if indices is None else [int(i) for i in indices]
    for index in indices:
        require_text(dataset.text_pairs[index] if dataset.text_pairs else dataset.texts[index], index, dataset.name)
    path = _cache_path(model, dataset, config, indices, cache_dir) if recipe is None else None
    if path is not None:
        with locked(path):
            if path.exists():
                return AttackResult.from_row(json.loads(path.read_text()))
            result = attack(model, dataset, config, indices, progress, cache_dir, recipe)
            atomic_write_text(path, json.dumps(result.to_row()))
            return result
    return attack(model, dataset, config, indices, progress, cache_dir, recipe)


def _cache_path(model, dataset, config, indices, cache_dir) -> Path | None:
    if cache_dir is None or getattr(model, "fingerprint", None) is None:
        return None
    stamp = fingerprint("attack", ENGINE_VERSION, __version__, model.fingerprint, dataset.fingerprint,
                        config.recipe, config.budget, config.seed, indices)
    return Path(cache_dir) / "attacks" / f"{stamp[:32]}.json"


def _attack(model, dataset, config, indices, progress, cache_dir, recipe) -> AttackResult:
    if config.recipe.startswith(TEXTATTACK_PREFIX) and recipe is None:
        from .textattack_backend import run_textattack

        return run_textattack(model, dataset, config, indices, progress)
    recipe = recipe or build_recipe(config, cache_dir)
    attacked = AttackedModel(model, dataset.label_names, dataset.name)
    start, examples, succeeded = time.perf_counter(), [], 0
    for done, index in enumerate(indices, 1):
        pair = dataset.texts[index] if dataset.text_pairs else None
        text = dataset.text_pairs[index] if dataset.text_pairs else dataset.texts[index]
        label = dataset.labels[index]
        attacked.start_example(config.budget)
        rng = random.Random(f"{config.seed}:{index}")  # per example: results do not depend on order
        words, (perturbed, status, original) = recipe.attack(attacked, text, label, pair, rng)
        perturbed_probs, fraction = None, 0.0
        if status == "succeeded":
            perturbed_probs = tuple(float(p) for p in attacked.probabilities([perturbed.text()], pair)[0])
            fraction = sum(a != b for a, b in zip(words.words, perturbed.words)) / max(len(words), 1)
            succeeded += 1
        examples.append(AdversarialExample(
            index=index, label=label, original_text=text, perturbed_text=perturbed.text() if perturbed else None,
            text_pair=pair, status=status, queries=attacked.queries,
            perturbed_fraction=fraction, original_probs=tuple(float(p) for p in original),
            perturbed_probs=perturbed_probs))
        if progress is not None:
            progress(done, len(indices), succeeded)
    if hasattr(recipe, "finish"):
        recipe.finish()
    return AttackResult(attacked.name, config, tuple(examples), time.perf_counter() - start,
                        tuple(dataset.label_names), attacked.forward_seconds)


def compare_robustness(teacher, student, dataset, config: AttackConfig, *, progress=None, cache_dir=None,
                       recipe=None, attack_examples=None) -> RobustnessComparison:
    """Attack teacher and student on the same seeded examples with the same recipe, seed and budget;
    replay the teacher's adversarial texts on the student for transfer rate and adversarial loyalty.
    progress(role, done, total, succeeded), role "teacher" or "student", after each example."""
    indices = sample_indices(dataset, config)

    def report(role: str):
        return None if progress is None else (lambda done, total, succeeded: progress(role, done, total, succeeded))

    teacher_result = run_attack(teacher, dataset, config, indices=indices, progress=report("teacher"),
                                cache_dir=cache_dir, recipe=recipe, attack_examples=attack_examples)
    student_result = run_attack(student, dataset, config, indices=indices, progress=report("student"),
                                cache_dir=cache_dir, recipe=recipe, attack_examples=attack_examples)
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
