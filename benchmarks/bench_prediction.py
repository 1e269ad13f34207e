"""Prediction benchmarks on the demo teacher and Rotten Tomatoes, measured side by side in one run.

    python benchmarks/bench_prediction.py [--examples 853]

Prints three ratios:
  1. dynamic padding (length-sorted batches, each padded to its own longest text) vs padding
     every batch to 128 tokens (target >= 2x);
  2. a second gate run served from the prediction cache vs the first run (target >= 10x on the
     prediction phase);
  3. int8 (dynamic quantization) vs fp32 latency of the demo teacher.
Needs the demo teacher, which the first run builds (about 5 minutes on 2 cores) and caches.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from loyalty_tests.data import load_dataset
from loyalty_tests.engines.latency import measure_latency
from loyalty_tests.models.classifiers import state_fingerprint
from loyalty_tests.models.specs import ModelOptions, load_model
from loyalty_tests.predictions import predict


def padded_to_128(model, texts) -> np.ndarray:
    """The baseline: the same model and batch size, but every batch padded to 128 tokens."""
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(texts), model.batch_size):
            batch = model.tokenizer(
                texts[start : start + model.batch_size],
                padding="max_length",
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            outputs.append(torch.softmax(model.model(**batch).logits, dim=-1).numpy())
    return np.vstack(outputs)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=None, help="limit the Rotten Tomatoes test split")
    args = parser.parse_args()
    data = load_dataset("rotten_tomatoes", limit=args.examples, seed=0)
    options = ModelOptions(batch_size=32, max_length=128)
    teacher = load_model("demo", options=options)
    texts = list(data.texts)
    print(f"data: {data.name}, {len(data)} examples; torch threads: {torch.get_num_threads()}")

    # 1. dynamic padding vs padding to 128, same model, same batch size
    teacher.predict_proba(texts[:64])  # warm-up
    dynamic, dynamic_seconds = timed(teacher.predict_proba, texts)
    padded, padded_seconds = timed(padded_to_128, teacher, texts)
    assert np.allclose(dynamic, padded, atol=1e-4), "padding changed the outputs"
    print(
        f"[padding] dynamic {dynamic_seconds:.2f} s, padded to 128 {padded_seconds:.2f} s, "
        f"ratio {padded_seconds / dynamic_seconds:.1f}x (target >= 2x)"
    )

    # 2. prediction phase of a first gate run vs a second one served from the cache
    with tempfile.TemporaryDirectory() as cache:
        student = load_model("int8", teacher=teacher, options=options)
        start = time.perf_counter()
        for model in (teacher, student):
            predict(model, data, cache_dir=Path(cache))
        first = time.perf_counter() - start
        start = time.perf_counter()
        cached = [predict(model, data, cache_dir=Path(cache)) for model in (teacher, student)]
        second = time.perf_counter() - start
        assert all(p.from_cache for p in cached)
    print(
        f"[cache] first run {first:.2f} s, cached run {second * 1e3:.1f} ms, ratio {first / second:.0f}x "
        "(target >= 10x)"
    )
    # Every run, cached or not, first hashes the in-memory student's weights to find its cache key;
    # count that too so the ratio is not flattered.
    _, hashing = timed(state_fingerprint, student.model, student.tokenizer, options.max_length)
    print(
        f"[cache] with the student's weight fingerprint ({hashing * 1e3:.0f} ms) counted in both runs: ratio "
        f"{(first + hashing) / (second + hashing):.0f}x"
    )

    # 3. int8 vs fp32, timed side by side, rounds interleaved
    latency = measure_latency(teacher, student, texts[:64], rounds=7)
    print(
        f"[int8] fp32 {latency.teacher_seconds * 1e3:.0f} ms, int8 {latency.student_seconds * 1e3:.0f} ms "
        f"per batch of 64, speedup {latency.speedup:.2f}x"
    )


if __name__ == "__main__":
    main()
