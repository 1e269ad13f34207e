"""The robust demo teacher: ``--teacher demo-robust``, the demo teacher adversarially fine-tuned.

The paper's second finding is that compressed students lose robustness that accuracy does not
show. The plain demo teacher cannot show it well: it was never trained against attacks, so a
student has little robustness to lose. This teacher has some. It is made offline from the demo
teacher (``demo.py``) in three seeded steps:

1. attack a seeded sample of the embedded training split (``rotten_tomatoes:train``, never the
   test split the gates read) with our own recipes under their default bounds (``ROBUST_ATTACKS``);
2. keep every adversarial sentence that flipped the demo teacher, with its gold label;
3. fine-tune a copy of the demo teacher for one epoch on the training split plus those sentences.

A student distilled from it on clean sentences only (``distill:layers=3``) imitates its answers
but not what made them robust: the README's robustness pair. The build takes about 10 minutes on
2 CPU cores the first time; it is saved as safetensors under
``cache_dir/demo-robust-teacher-<fingerprint>`` with the same locking, atomic rename and
fingerprint checks as the demo teacher, the fingerprint covering the demo teacher's own key, the
attacks, the training config and the package version.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import LoyaltyError
from ..infra.cache import cached_folder, fingerprint
from . import demo
from .training import TrainConfig, train

NAME = "demo-robust"


@dataclass(frozen=True)
class AdversarialAugmentation:
    recipes: tuple[str, ...] = ("textfooler", "charswap")  # our recipes, their default bounds
    examples: int = 600  # seeded training sentences attacked per recipe
    budget: int = 500  # queries per attacked sentence, as --attack-budget's default
    seed: int = 0


ROBUST_ATTACKS = AdversarialAugmentation()
# A gentler rate than the demo teacher's 5e-5: the model starts trained and should move towards
# the adversarial sentences without forgetting the clean ones.
ROBUST_TRAINING = TrainConfig(
    epochs=1, batch_size=32, learning_rate=3e-5, warmup_ratio=0.1, weight_decay=0.01, max_length=64, seed=0
)


def robust_fingerprint(demo_key: str) -> str:
    from .. import __version__

    return fingerprint(NAME, demo_key, asdict(ROBUST_ATTACKS), asdict(ROBUST_TRAINING), __version__)


def adversarial_sentences(teacher, train_data, cache_dir: Path, progress: Callable[[str], None]):
    """The training split's adversarial sentences that flipped ``teacher``, as a TextDataset with
    the gold labels (attack results are cached per example like any attack)."""
    from ..data import TextDataset
    from ..robustness import AttackConfig, run_attack

    texts, labels = [], []
    for recipe in ROBUST_ATTACKS.recipes:
        augmentation = ROBUST_ATTACKS
        config = AttackConfig(recipe, augmentation.examples, augmentation.budget, augmentation.seed)
        progress(f"{NAME}: attacking {config.examples} training sentences with {recipe}")

        def attacked(done: int, total: int, succeeded: int, recipe=recipe) -> None:
            if done % 100 == 0 or done == total:
                progress(f"{NAME}: {recipe} {done}/{total} sentences attacked, {succeeded} flipped")

        result = run_attack(teacher, train_data, config, cache_dir=cache_dir, progress=attacked)
        flipped = [e for e in result.examples if e.status == "succeeded"]
        texts += [e.perturbed_text for e in flipped]
        labels += [e.label for e in flipped]
        progress(f"{NAME}: {recipe} flipped {len(flipped)} of {len(result.attacked)} sentences")
    if not texts:  # fine-tuning on the clean split alone would make a teacher robust in name only
        raise LoyaltyError(
            f"{NAME}: no attack in {ROBUST_ATTACKS.recipes} flipped any of the demo teacher's training "
            "sentences, so there is nothing to fine-tune it on; check the attack recipes"
        )
    return TextDataset(f"{train_data.name}+adversarial", texts, labels, train_data.label_names)


def _augmented(train_data, adversarial):
    from ..data import TextDataset

    return TextDataset(
        adversarial.name,
        train_data.texts + adversarial.texts,
        train_data.labels + adversarial.labels,
        train_data.label_names,
    )


def _train(teacher, cache_dir: Path, progress: Callable[[str], None]):
    """(model, tokenizer, info): the adversarially fine-tuned copy of ``teacher``, in memory."""
    from .classifiers import HFClassifier

    started = time.perf_counter()
    progress(f"building the {NAME} teacher (first run only, about 10 min on 2 cores)")
    train_data, test_data = demo.load_demo_data()
    adversarial = adversarial_sentences(teacher, train_data, cache_dir, progress)
    model = copy.deepcopy(teacher.model)

    def report(step: int, total: int, loss: float) -> None:
        if step % demo.PROGRESS_EVERY == 0 or step == total:
            progress(f"{NAME}: step {step}/{total}, loss {loss:.3f}")

    train(model, teacher.tokenizer, _augmented(train_data, adversarial), ROBUST_TRAINING, progress=report)
    accuracy = demo.held_out_accuracy(
        HFClassifier(model, teacher.tokenizer, NAME, batch_size=64, max_length=ROBUST_TRAINING.max_length), test_data
    )
    seconds = time.perf_counter() - started
    progress(f"{NAME}: held-out accuracy {accuracy:.3f} on {test_data.name}, built in {seconds:.0f} s")
    info = {
        "held_out_accuracy": accuracy,
        "test_data": test_data.name,
        "n_test": len(test_data),
        "train_data": train_data.name,
        "n_train": len(train_data),
        "n_adversarial": len(adversarial),
        "adversarial_augmentation": asdict(ROBUST_ATTACKS),
        "training": asdict(ROBUST_TRAINING),
        "started_from": teacher.fingerprint,
        "label_names": list(demo.DEMO_LABELS),
        "build_seconds": round(seconds, 1),
    }
    return model, teacher.tokenizer, info


def load_robust_demo_teacher(
    cache_dir: Path,
    *,
    batch_size: int = 32,
    max_length: int = 128,
    device: str = "cpu",
    progress: Callable[[str], None] = print,
):
    """``--teacher demo-robust``: build on first use (the demo teacher first, if need be), then load."""
    from .classifiers import HFClassifier

    demo_folder, demo_model, tokenizer, demo_key = demo._built(cache_dir, progress)
    if demo_folder.name != f"demo-teacher-{demo_key[:16]}":
        shutil.rmtree(demo_folder, ignore_errors=True)
    # the attacks that make the augmentations see the demo teacher as --teacher demo serves it
    stamp = fingerprint("demo-teacher", f"demo-teacher-{demo_key[:16]}", max_length)
    teacher = HFClassifier(demo_model, tokenizer, "demo", batch_size, max_length, "cpu", stamp)
    key = robust_fingerprint(demo_key)
    target = Path(cache_dir) / f"{NAME}-teacher-{key[:16]}"
    (model, tokenizer), from_cache, folder = cached_folder(
        target,
        key,
        prepare=lambda: _train(teacher, Path(cache_dir), progress),
        save=lambda staging, trained: demo._save(*trained, staging, key),
        read_key=lambda where: json.loads((Path(where) / demo.INFO_FILE).read_text()).get("key"),
        load=demo._load_saved,
    )
    if not from_cache and folder == target:
        progress(f"{NAME} teacher saved to {folder}")
    if folder != target:
        shutil.rmtree(folder, ignore_errors=True)  # built outside a cache that cannot be written
    stamp = fingerprint(NAME, target.name, max_length)
    return HFClassifier(model, tokenizer, NAME, batch_size, max_length, device, stamp)
