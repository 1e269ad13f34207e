"""Per-batch vs per-token activation scales for int8 students (issue 17, item 3), side by side.

    PYTHONPATH=/path/to/torchao python benchmarks/bench_int8_scales.py [--examples 64] [--rounds 3]

torch's ``quantize_dynamic`` (the ``int8`` recipe) picks one activation scale per batch: a text's
probabilities depend on the texts it is batched with. torchao's
``Int8DynamicActivationInt8WeightConfig`` scales activations per token (per row), which removes
that dependence. This prints, for the demo teacher on Rotten Tomatoes test sentences at batch 32:
  1. the largest change of a text's probabilities between scoring it alone and in its batch,
     for fp32, torch dynamic int8 and torchao per-token int8;
  2. the time per sentence of each, and the ratios to fp32 and to torch dynamic int8.
torchao is not a dependency of the package (importing it beside transformers prints warnings about
its CUDA kernels on CPU-only machines); install it somewhere of its own for this script.
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from loyalty_tests.data import load_dataset
from loyalty_tests.models.classifiers import HFClassifier
from loyalty_tests.models.specs import ModelOptions, load_model


def seconds_per_text(model, texts, rounds: int) -> float:
    model.predict_proba(texts[:8])  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        model.predict_proba(texts)
        times.append(time.perf_counter() - start)
    return min(times) / len(texts)


def batch_dependence(model, texts) -> float:
    together = model.predict_proba(texts)
    alone = np.vstack([model.predict_proba([text]) for text in texts])
    return float(np.abs(together - alone).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    try:
        from torchao.quantization import (
            Int8DynamicActivationInt8WeightConfig,
            quantize_,
        )
    except ImportError as error:
        raise SystemExit(
            f"this benchmark needs torchao ({error}); pip install torchao into a folder of its own "
            "and put it on PYTHONPATH"
        ) from None
    teacher = load_model("demo", options=ModelOptions(progress=lambda message: None))
    texts = list(load_dataset("rotten_tomatoes:test", limit=args.examples, seed=0).texts)
    dynamic = torch.ao.quantization.quantize_dynamic(copy.deepcopy(teacher.model), {torch.nn.Linear}, dtype=torch.qint8)
    per_token = copy.deepcopy(teacher.model)
    quantize_(per_token, Int8DynamicActivationInt8WeightConfig())
    models = {
        "fp32": teacher,
        "torch dynamic int8 (per batch)": HFClassifier(dynamic, teacher.tokenizer, "int8", 32, 128, fingerprint="-"),
        "torchao int8 (per token)": HFClassifier(per_token, teacher.tokenizer, "torchao", 32, 128, fingerprint="-"),
    }
    print(
        f"demo teacher, {len(texts)} Rotten Tomatoes test sentences, batch 32, {torch.get_num_threads()} threads, "
        f"CPU capability {torch.backends.cpu.get_cpu_capability()}"
    )
    timings = {}
    for name, model in models.items():
        timings[name] = seconds_per_text(model, texts, args.rounds)
        print(
            f"{name:32s} alone-vs-batch max |dp| {batch_dependence(model, texts[:16]):.2e}   "
            f"{timings[name] * 1e3:7.2f} ms/text",
            flush=True,
        )
    fp32, dynamic_time = timings["fp32"], timings["torch dynamic int8 (per batch)"]
    for name, value in timings.items():
        print(
            f"{name:32s} {fp32 / value:5.2f}x fp32 speed   {value / dynamic_time:5.2f}x the time of torch dynamic int8"
        )


if __name__ == "__main__":
    main()
