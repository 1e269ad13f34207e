"""Issue 17, items 1-3: nothing stale, nothing batch-dependent. A cache key covers the whole
tokenizer and the run settings; a damaged cached student is caught by its checksum and rebuilt;
the same model gives the same bits wherever its weights were loaded from. Each test failed on the
code before the fix."""

from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest
import torch
from tiny import save_tiny_bert, tiny_tokenizer

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.compress import compress
from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyCacheWarning
from loyalty_tests.models.classifiers import HFClassifier
from loyalty_tests.models.specs import ModelOptions, load_model
from loyalty_tests.predictions import predict

TEXTS = POSITIVE + NEGATIVE
LABELS = [1] * len(POSITIVE) + [0] * len(NEGATIVE)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LOYALTY_CACHE_DIR", str(tmp_path / "env-cache"))


def upper_case_data() -> TextDataset:
    return TextDataset("upper", [text.upper() for text in TEXTS], LABELS, ("negative", "positive"))


def cased_tokenizer_folder(folder, lower: bool):
    tokenizer = tiny_tokenizer(folder)
    tokenizer = type(tokenizer).from_pretrained(str(folder), do_lower_case=lower)
    tokenizer.save_pretrained(str(folder))
    return folder


# -- item 1: the tokenizer's normalisation is part of every key ------------------------------------
def test_tokenizers_that_differ_only_in_lower_casing_have_different_fingerprints(tmp_path):
    from loyalty_tests.models.fingerprints import tokenizer_fingerprint

    lower = type(tiny_tokenizer(tmp_path / "a")).from_pretrained(str(tmp_path / "a"), do_lower_case=True)
    cased = type(tiny_tokenizer(tmp_path / "b")).from_pretrained(str(tmp_path / "b"), do_lower_case=False)
    assert lower.get_vocab() == cased.get_vocab()
    assert tokenizer_fingerprint(lower) != tokenizer_fingerprint(cased)
    assert tokenizer_fingerprint(lower) == tokenizer_fingerprint(lower)
    lower(["call it with truncation"], truncation=True, max_length=5)  # a call changes no fingerprint
    assert tokenizer_fingerprint(lower) == tokenizer_fingerprint(
        type(lower).from_pretrained(str(tmp_path / "a"), do_lower_case=True)
    )


def test_an_onnx_student_with_another_tokenizer_is_not_served_the_first_ones_predictions(tiny_hf, tmp_path):
    pytest.importorskip("onnxruntime")
    student = compress(tiny_hf, "onnx-int8", cache_dir=tmp_path / "students", progress=lambda message: None)
    shutil.copy(student.path, tmp_path / "model.onnx")
    tiny_hf.model.config.save_pretrained(str(tmp_path))  # config.json with id2label beside the .onnx file
    data, cache = upper_case_data(), tmp_path / "predictions"
    runs = {}
    for lower in (True, False):
        folder = cased_tokenizer_folder(tmp_path / f"tokenizer-{lower}", lower)
        options = ModelOptions(batch_size=4, tokenizer=str(folder), cache_dir=tmp_path / "cache")
        model = load_model(str(tmp_path / "model.onnx"), options=options)
        runs[lower] = (predict(model, data, cache_dir=cache), predict(model, data))
    cased, fresh = runs[False]
    assert not cased.from_cache  # before the fix: served the lower-casing run's entry
    np.testing.assert_array_equal(cased.probabilities, fresh.probabilities)
    assert not np.array_equal(cased.probabilities, runs[True][0].probabilities)  # the casing matters here


def test_the_batch_size_is_part_of_the_prediction_key(tiny_hf, tmp_path):
    data = TextDataset("sentiment", TEXTS, LABELS, ("negative", "positive"))
    first = predict(tiny_hf, data, cache_dir=tmp_path)
    other = HFClassifier(tiny_hf.model, tiny_hf.tokenizer, "tiny", batch_size=8)
    assert predict(tiny_hf, data, cache_dir=tmp_path).from_cache
    assert not predict(other, data, cache_dir=tmp_path).from_cache and first.probabilities.shape == (12, 2)


# -- item 2: a damaged cached student is warned about and rebuilt ----------------------------------
def flip_a_bit_in_each_float(path, tensor_name: str) -> None:
    """Flip the lowest mantissa bit of every float32 of one tensor, in place in the safetensors file."""
    raw = bytearray(path.read_bytes())
    (header_size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_size])
    entry = header[tensor_name]
    assert entry["dtype"] == "F32"
    start, end = (8 + header_size + offset for offset in entry["data_offsets"])
    for position in range(start, end, 4):
        raw[position] ^= 1
    path.write_bytes(bytes(raw))


def test_flipped_bits_in_a_cached_student_are_warned_about_and_it_is_rebuilt(tiny_hf, tmp_path):
    data = TextDataset("train", TEXTS * 2, LABELS * 2, ("negative", "positive"))
    quiet = {"progress": lambda message: None, "seed": 1}
    built = compress(tiny_hf, "distill:layers=1", data, cache_dir=tmp_path, **quiet)
    [entry] = (tmp_path / "students").glob("*.safetensors")
    flip_a_bit_in_each_float(entry, "classifier.weight")
    with pytest.warns(LoyaltyCacheWarning, match=rf"{entry.name} is unreadable.*sha256.*damaged"):
        rebuilt = compress(tiny_hf, "distill:layers=1", data, cache_dir=tmp_path, **quiet)
    uncached = compress(tiny_hf, "distill:layers=1", data, use_cache=False, **quiet)
    expected = predict(uncached, upper_case_data()).probabilities
    np.testing.assert_array_equal(predict(rebuilt, upper_case_data()).probabilities, expected)
    np.testing.assert_array_equal(predict(built, upper_case_data()).probabilities, expected)
    again = compress(tiny_hf, "distill:layers=1", data, cache_dir=tmp_path, **quiet)  # the rebuilt entry serves
    assert torch.equal(again.model.classifier.weight, uncached.model.classifier.weight)


# -- item 3: the same model, the same bits, wherever its weights came from -------------------------
def test_a_model_loaded_from_safetensors_scores_like_its_copy_in_fresh_memory(tmp_path):
    """Weights memory-mapped from a safetensors file sat at unaligned addresses, and AVX-512
    kernels summed in another order there: a single text scored 0.88496265 from the loaded model
    and 0.88496267 from the same model rebuilt by torch.load on a Ray worker."""
    import io

    folder = save_tiny_bert(tmp_path / "tiny")
    model = load_model(str(folder), options=ModelOptions(batch_size=4, cache_dir=tmp_path / "cache"))
    buffer = io.BytesIO()
    torch.save(model, buffer)
    copy = torch.load(io.BytesIO(buffer.getvalue()), weights_only=False)
    assert all(p.data_ptr() % 64 == 0 for p in model.model.parameters())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for text in TEXTS:
            assert np.array_equal(model.predict_proba([text]), copy.predict_proba([text])), text
    finally:
        torch.set_num_threads(threads)


def test_an_int8_students_attack_results_do_not_follow_the_grouping(tmp_path):
    """Before: mean queries 14.2 with 16 examples in flight, 12.6 with one (statuses differed)."""
    from tiny import sensitive_bert

    from loyalty_tests.robustness import AttackConfig, run_attack

    folder = save_tiny_bert(tmp_path / "tiny")
    sensitive_bert(0).save_pretrained(folder)
    teacher = load_model(str(folder), options=ModelOptions(batch_size=4, cache_dir=tmp_path / "cache"))
    student = compress(teacher, "int8", cache_dir=tmp_path, progress=lambda message: None)
    long = "the film is a great and moving story about a family that finds its way home after a long winter"
    texts = POSITIVE + NEGATIVE + [long, "good", "a bad bad film"]
    data = TextDataset("sentiment", texts * 2, (LABELS + [1, 1, 0]) * 2, ("negative", "positive"))
    config = AttackConfig("charswap", examples=20, budget=60, seed=3)
    runs = [run_attack(student, data, config, in_flight=n) for n in (1, 4, 16)]
    assert runs[1].examples == runs[0].examples and runs[2].examples == runs[0].examples
    assert any(e.status == "succeeded" for e in runs[0].examples)
