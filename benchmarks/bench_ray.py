"""Local vs Ray engine, side by side in one run: prediction throughput, attack examples per second,
Ray's fixed overhead, and the per-worker figures a scaling estimate needs.

    python benchmarks/bench_ray.py                                 # demo teacher (built/cached on first use)
    python benchmarks/bench_ray.py --model minilm                  # MiniLM-L6 with an untrained head (no build)
    python benchmarks/bench_ray.py --model tiny --examples 200 --attack-examples 6   # smoke run, seconds

Measured on this machine, in this order, each on the same texts:
  1. predictions: local ``predict_proba`` (torch on every core, and on one thread) vs the Ray
     engine with 1 and 2 replicas (one CPU, one torch thread each); Ray's outputs are checked
     against the local ones. Per replica: examples / time inside ``predict_proba`` on the
     replicas (``engine.last_run``); outside the model: the rest of the wall time (start-up of
     the replicas, which Ray Data does on every run, shipping, gathering). A ``--small`` run shows
     what a tiny evaluation set costs on Ray.
  2. attacks (``--recipe``, default charswap): local ``run_attack`` (all threads, one thread) vs
     Ray with 1 and 2 workers, outcomes checked identical. The attack workers live across calls;
     a warm-up call on 4 other examples starts them and builds the recipe (the start-up figure).
  3. a scaling estimate: measured per-worker throughput x W workers, plus the fixed costs, for
     ``--scale-predictions`` examples and ``--scale-attacks`` attacked examples.
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
from loyalty_tests.infra.cache import default_cache_dir
from loyalty_tests.models.classifiers import HFClassifier
from loyalty_tests.robustness import AttackConfig, run_attack


def build_model(kind: str, batch_size: int) -> HFClassifier:
    if kind == "demo":
        from loyalty_tests.models.demo import load_demo_teacher

        return load_demo_teacher(default_cache_dir(), batch_size=batch_size)
    if kind == "minilm":
        from loyalty_tests.models.demo import base_model_path, load_base_model

        model, tokenizer = load_base_model(base_model_path(), seed=0)
        return HFClassifier(model, tokenizer, "minilm-untrained-head", batch_size, 128)
    import sys
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from tiny import tiny_bert, tiny_tokenizer

    return HFClassifier(
        tiny_bert(layers=2, hidden=64, heads=2), tiny_tokenizer(Path(tempfile.mkdtemp())), "tiny-bert", batch_size, 128
    )


def evaluation_data(count: int, seed: int) -> TextDataset:
    """Rotten Tomatoes test texts, repeated (then shuffled) up to ``count`` examples."""
    source = load_dataset("rotten_tomatoes:test")
    order = list(range(len(source))) * (count // len(source) + 1)
    random.Random(seed).shuffle(order)
    order = order[:count]
    return TextDataset(
        f"rotten_tomatoes x{count}",
        tuple(source.texts[i] for i in order),
        tuple(source.labels[i] for i in order),
        source.label_names,
    )


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start


def one_thread(function, *args, **kwargs):
    """``function`` with torch on one thread: what one Ray replica (one CPU) gets."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return timed(function, *args, **kwargs)
    finally:
        torch.set_num_threads(threads)


def bench_predictions(model, texts, worker_counts, small: int) -> dict:
    model.predict_proba(texts[:64])  # warm-up: first-call allocations are not throughput
    local, seconds = timed(model.predict_proba, texts)
    _, single = one_thread(model.predict_proba, texts)
    figures = {"local": len(texts) / seconds, "local_1": len(texts) / single}
    print(
        f"[predict] local: {len(texts)} examples in {seconds:.2f} s, {figures['local']:.0f} examples/s "
        f"({torch.get_num_threads()} torch threads); 1 thread {figures['local_1']:.0f} examples/s"
    )
    for workers in worker_counts:
        engine = get_engine("ray", workers=workers)
        _, overhead = timed(engine.predict_proba, model, texts[:small])  # a small run: mostly start-up
        remote, seconds = timed(engine.predict_proba, model, texts)
        run = engine.last_run
        difference = float(np.abs(remote - local).max())  # replicas run torch on one thread: last bits may move
        if difference > 1e-6 or not np.array_equal(remote.argmax(1), local.argmax(1)):
            raise SystemExit(f"Ray ({workers} workers) outputs differ from local by {difference:.2e}")
        per_worker = run["examples"] / run["worker_seconds"]  # time inside predict_proba on the replicas
        fixed = seconds - run["worker_seconds"] / run["workers"]
        figures[workers] = {"rate": len(texts) / seconds, "per_worker": per_worker, "fixed": fixed, "small": overhead}
        print(
            f"[predict] ray x{workers}: {seconds:.2f} s, {len(texts) / seconds:.0f} examples/s "
            f"({len(texts) / seconds / figures['local']:.2f}x local); per replica {per_worker:.0f} examples/s; "
            f"outside the model {fixed:.2f} s; a {small}-example run takes {overhead:.2f} s; "
            f"max |ray - local| {difference:.1e}, labels equal"
        )
    if {1, 2} <= set(worker_counts):
        print(f"[predict] ray x2 / ray x1 end to end: {figures[2]['rate'] / figures[1]['rate']:.2f}x")
    best = figures[max(worker_counts)]
    ray_rate = best["per_worker"] * max(worker_counts)
    if ray_rate > figures["local"]:
        break_even = best["fixed"] * figures["local"] * ray_rate / (ray_rate - figures["local"])
        print(f"[predict] with {max(worker_counts)} replicas Ray beats local above about {break_even:.0f} examples")
    else:
        print(
            f"[predict] {max(worker_counts)} one-thread replicas are no faster than local torch on all cores here: "
            "Ray pays off only with more machines or GPUs than this one"
        )
    return figures


def bench_attacks(model, data, config, worker_counts, warm_up: list[int], indices: list[int]) -> dict:
    run_attack(model, data, config, indices=warm_up)  # the local side warms up too (recipe resources)
    local, seconds = timed(run_attack, model, data, config, indices=indices)
    _, single = one_thread(run_attack, model, data, config, indices=indices)
    queries = sum(e.queries for e in local.examples) / len(indices)
    figures = {"local": len(indices) / seconds, "local_1": len(indices) / single, "queries": queries}
    print(
        f"[attack] {config.recipe}, budget {config.budget}, {queries:.0f} queries per example: local "
        f"{len(indices)} examples in {seconds:.2f} s, {figures['local']:.2f} examples/s; 1 thread "
        f"{figures['local_1']:.2f} examples/s"
    )
    for workers in worker_counts:
        with get_engine("ray", workers=workers) as engine:  # closed after: its workers hold their CPUs
            _, start_up = timed(engine.run_attack, model, data, config, indices=warm_up)
            remote, seconds = timed(engine.run_attack, model, data, config, indices=indices)
            run = engine.last_run
        outcome = [(e.index, e.status, e.perturbed_text, e.queries) for e in remote.examples]
        if outcome != [(e.index, e.status, e.perturbed_text, e.queries) for e in local.examples]:
            raise SystemExit(f"Ray ({workers} workers) attack outcomes differ from the local run's")
        per_worker = run["examples"] / run["worker_seconds"]
        figures[workers] = {"rate": len(indices) / seconds, "per_worker": per_worker, "start_up": start_up}
        print(
            f"[attack] ray x{workers}: {seconds:.2f} s, {len(indices) / seconds:.2f} examples/s "
            f"({len(indices) / seconds / figures['local']:.2f}x local); per worker {per_worker:.2f} examples/s; "
            f"start-up (workers, recipe, {len(warm_up)} warm-up examples) {start_up:.2f} s"
        )
    if {1, 2} <= set(worker_counts):
        print(f"[attack] ray x2 / ray x1: {figures[2]['rate'] / figures[1]['rate']:.2f}x")
    return figures


def scaling(predictions: dict, attacks: dict, n_predictions: int, n_attacks: int, queries: int) -> None:
    """The estimate from one worker's measured rate (1 CPU, 1 torch thread), times W workers."""
    per_prediction, per_attack = predictions[1]["per_worker"], attacks[1]["per_worker"]
    per_query = per_attack * attacks["queries"]  # attack cost is model queries: scale by those
    fixed_prediction = max(v["fixed"] for k, v in predictions.items() if isinstance(k, int))
    fixed_attack = max(v["start_up"] for k, v in attacks.items() if isinstance(k, int))
    print(
        f"[scale] one worker (1 CPU, 1 torch thread), measured on Ray: {per_prediction:.0f} predictions/s; "
        f"{per_attack:.2f} attacked examples/s at {attacks['queries']:.0f} queries each = {per_query:.0f} queries/s"
    )
    if 2 in predictions and 2 in attacks:
        print(
            f"[scale] per-worker rate with 2 workers / with 1 on this machine: predictions "
            f"{predictions[2]['per_worker'] / per_prediction:.2f}, attacks {attacks[2]['per_worker'] / per_attack:.2f} "
            "(1.00 = linear; less = the cores were not free)"
        )
    print(
        f"[scale] time ~ fixed + work / (W x one worker's rate), linear in W; fixed {fixed_prediction:.1f} s "
        f"(predictions), {fixed_attack:.1f} s (attacks); attacks at {queries} queries per example"
    )
    for workers in (1, 2, 8, 32, 128):
        predict_s = fixed_prediction + n_predictions / (workers * per_prediction)
        attack_s = fixed_attack + n_attacks * queries / (workers * per_query)
        print(
            f"[scale] W={workers:>3}: {n_predictions} predictions ~ {predict_s / 60:7.2f} min; "
            f"{n_attacks} attacked examples ~ {attack_s / 60:7.2f} min"
        )


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
    parser.add_argument("--scale-queries", type=int, default=100, help="model queries per attacked example")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import ray

    model = build_model(args.model, args.batch_size)
    data = evaluation_data(max(args.examples, args.attack_examples + 4), args.seed)
    texts = list(data.texts[: args.examples])
    print(f"model: {model.name}; data: {data.name}; machine: {torch.get_num_threads()} torch threads")
    ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="WARNING")
    try:
        cpus = int(ray.cluster_resources().get("CPU", 1))
        worker_counts = [w for w in (1, 2) if w <= cpus]
        predictions = bench_predictions(model, texts, worker_counts, args.small)
        config = AttackConfig(args.recipe, examples=args.attack_examples, budget=args.budget, seed=args.seed)
        sample = random.Random(args.seed).sample(range(len(data)), args.attack_examples + 4)
        attacks = bench_attacks(model, data, config, worker_counts, sample[:4], sorted(sample[4:]))
        scaling(predictions, attacks, args.scale_predictions, args.scale_attacks, args.scale_queries)
    finally:
        ray.shutdown()


if __name__ == "__main__":
    main()
