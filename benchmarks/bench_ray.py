"""Local vs Ray engine, side by side in one run: prediction throughput, attack examples per second,
Ray's fixed overhead, and the per-worker figures a scaling estimate needs.

    python benchmarks/bench_ray.py                                 # demo teacher (built/cached on first use)
    python benchmarks/bench_ray.py --model minilm                  # MiniLM-L6 with an untrained head (no build)
    python benchmarks/bench_ray.py --model tiny --examples 200 --attack-examples 6   # smoke run, seconds

Measured on this machine, in this order, each on the same texts:
  1. predictions: local ``predict_proba`` (torch on every core) vs the Ray engine with 1 and 2
     replicas (one CPU, one torch thread each); Ray's outputs are checked equal to the local ones.
     Ray Data starts new replicas on every run, so each Ray run pays a fixed start-up cost: it is
     measured on a ``--small`` set and also subtracted to give the steady per-worker throughput.
  2. attacks (``--recipe``, default charswap): local ``run_attack`` vs Ray with 1 and 2 workers,
     outcomes checked identical. The attack workers live across calls; a warm-up call on other
     examples starts them and builds the recipe (its cost is the attack's fixed overhead).
  3. a scaling estimate: measured steady per-worker throughput x W workers, plus the overhead,
     for ``--scale-predictions`` examples and ``--scale-attacks`` attacked examples.
Timings share the machine with whatever else runs: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import torch

from loyalty_tests.data import TextDataset, load_dataset
from loyalty_tests.engines import get_engine
from loyalty_tests.models import HFClassifier, ModelOptions
from loyalty_tests.robustness import AttackConfig, run_attack


def build_model(kind: str, batch_size: int) -> HFClassifier:
    if kind == "demo":
        from loyalty_tests.demo import load_demo_teacher

        return load_demo_teacher(ModelOptions(batch_size=batch_size))
    if kind == "minilm":
        from loyalty_tests.demo import base_model_path, load_base_model

        model, tokenizer = load_base_model(base_model_path(), seed=0)
        return HFClassifier(model, tokenizer, "minilm-untrained-head", batch_size, 128)
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tiny import tiny_bert, tiny_tokenizer

    return HFClassifier(tiny_bert(layers=2, hidden=64, heads=2), tiny_tokenizer(Path(tempfile.mkdtemp())), "tiny-bert",
                        batch_size, 128)


def evaluation_data(count: int, seed: int) -> TextDataset:
    """Rotten Tomatoes test texts, repeated (then shuffled) up to ``count`` examples."""
    source = load_dataset("rotten_tomatoes:test")
    order = list(range(len(source))) * (count // len(source) + 1)
    random.Random(seed).shuffle(order)
    order = order[:count]
    return TextDataset(f"rotten_tomatoes x{count}", tuple(source.texts[i] for i in order),
                       tuple(source.labels[i] for i in order), source.label_names)


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def bench_predictions(model, texts, engines, small: int) -> dict:
    model.predict_proba(texts[:64])  # warm-up: first-call allocations are not throughput
    local, local_seconds = timed(model.predict_proba, texts)
    rates = {"local": len(texts) / local_seconds}
    print(f"[predict] local: {len(texts)} examples in {local_seconds:.2f} s, {rates['local']:.0f} examples/s "
          f"(torch threads: {torch.get_num_threads()})")
    figures = {"local_rate": rates["local"]}
    for workers, engine in engines.items():
        _, overhead = timed(engine.predict_proba, model, texts[:small])
        remote, seconds = timed(engine.predict_proba, model, texts)
        if not np.array_equal(remote, local):
            raise SystemExit(f"Ray ({workers} workers) outputs differ from local by {np.abs(remote - local).max():.2e}")
        steady = len(texts) / max(seconds - overhead, 1e-9)
        figures[workers] = {"rate": len(texts) / seconds, "steady": steady, "overhead": overhead}
        print(f"[predict] ray x{workers}: {seconds:.2f} s end to end, {len(texts) / seconds:.0f} examples/s "
              f"({len(texts) / seconds / rates['local']:.2f}x local); fixed overhead {overhead:.2f} s "
              f"(a {small}-example run); without it {steady:.0f} examples/s ({steady / rates['local']:.2f}x local)")
    if 1 in engines and 2 in engines:
        print(f"[predict] ray x2 / ray x1 steady throughput: {figures[2]['steady'] / figures[1]['steady']:.2f}x")
    overhead = max(figures[w]["overhead"] for w in engines)
    break_even = overhead * rates["local"] * figures[max(engines)]["steady"] / max(
        figures[max(engines)]["steady"] - rates["local"], 1e-9)
    if figures[max(engines)]["steady"] > rates["local"]:
        print(f"[predict] Ray pays off on this machine above about {break_even:.0f} examples; below that, use local")
    else:
        print("[predict] on this machine Ray's replicas are no faster than local torch on all cores: "
              "Ray pays off only with more machines (or GPUs) than this one")
    return figures


def bench_attacks(model, data, config, worker_counts, warm_up: list[int], indices: list[int]) -> dict:
    run_attack(model, data, config, indices=warm_up)  # the local side warms up too (recipe resources)
    local, local_seconds = timed(run_attack, model, data, config, indices=indices)
    queries = sum(e.queries for e in local.examples)
    figures = {"local_rate": len(indices) / local_seconds, "queries_per_example": queries / len(indices)}
    print(f"[attack] {config.recipe}, budget {config.budget}: local {len(indices)} examples in {local_seconds:.2f} s, "
          f"{figures['local_rate']:.2f} examples/s, {queries / len(indices):.0f} queries per example")
    for workers in worker_counts:
        with get_engine("ray", workers=workers) as engine:  # closed after: its workers hold their CPUs
            _, start_up = timed(engine.run_attack, model, data, config, indices=warm_up)
            remote, seconds = timed(engine.run_attack, model, data, config, indices=indices)
        outcome = [(e.index, e.status, e.perturbed_text, e.queries) for e in remote.examples]
        if outcome != [(e.index, e.status, e.perturbed_text, e.queries) for e in local.examples]:
            raise SystemExit(f"Ray ({workers} workers) attack outcomes differ from the local run's")
        rate = len(indices) / seconds
        figures[workers] = {"rate": rate, "overhead": start_up}
        print(f"[attack] ray x{workers}: {seconds:.2f} s, {rate:.2f} examples/s ({rate / figures['local_rate']:.2f}x "
              f"local); start-up (workers + recipe, {len(warm_up)} warm-up examples) {start_up:.2f} s")
    if 1 in figures and 2 in figures:
        print(f"[attack] ray x2 / ray x1: {figures[2]['rate'] / figures[1]['rate']:.2f}x")
    return figures


def scaling(predictions: dict, attacks: dict, n_predictions: int, n_attacks: int) -> None:
    one_prediction, one_attack = predictions[1]["steady"], attacks[1]["rate"]
    print(f"[scale] per worker (1 CPU core, 1 torch thread): {one_prediction:.0f} predictions/s, "
          f"{one_attack:.2f} attacked examples/s ({one_attack * attacks['queries_per_example']:.0f} queries/s)")
    print(f"[scale] estimate = fixed overhead + n / (W x per-worker rate); linear scaling assumed")
    for workers in (1, 2, 8, 32, 128):
        predict_s = predictions[1]["overhead"] + n_predictions / (workers * one_prediction)
        attack_s = attacks[1]["overhead"] + n_attacks / (workers * one_attack)
        print(f"[scale] W={workers:>3}: {n_predictions} predictions ~ {predict_s / 60:7.1f} min; "
              f"{n_attacks} attacked examples ~ {attack_s / 60:7.1f} min")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=("demo", "minilm", "tiny"), default="demo")
    parser.add_argument("--examples", type=int, default=4000, help="texts to predict")
    parser.add_argument("--small", type=int, default=32, help="the small set that measures Ray's fixed overhead")
    parser.add_argument("--attack-examples", type=int, default=40, help="examples to attack")
    parser.add_argument("--recipe", default="charswap", help="charswap (no resources), textfooler or pwws")
    parser.add_argument("--budget", type=int, default=100, help="model queries per attacked example")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--cpus", type=int, default=None, help="CPUs for the local Ray instance (default: all)")
    parser.add_argument("--scale-predictions", type=int, default=100_000)
    parser.add_argument("--scale-attacks", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import ray

    model = build_model(args.model, args.batch_size)
    data = evaluation_data(max(args.examples, args.attack_examples + 4), args.seed)
    texts = list(data.texts[:args.examples])
    print(f"model: {model.name}; data: {data.name}; machine: {torch.get_num_threads()} torch threads")
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        engines = {w: get_engine("ray", workers=w) for w in (1, 2) if w <= cpus}
        predictions = bench_predictions(model, texts, engines, args.small)
        config = AttackConfig(args.recipe, examples=args.attack_examples, budget=args.budget, seed=args.seed)
        sample = random.Random(args.seed).sample(range(len(data)), args.attack_examples + 4)
        attacks = bench_attacks(model, data, config, list(engines), sample[:4], sorted(sample[4:]))
        scaling(predictions, attacks, args.scale_predictions, args.scale_attacks)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
