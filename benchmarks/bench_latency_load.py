"""Latency gate on a busy runner: real runs of a model against its copy while other processes keep
every core busy, and against a copy made 1.2x slower (issue 16, item 1).

    python benchmarks/bench_latency_load.py [--runs 20] [--slow-runs N] [--demo-runs 3] [--busy 2]

Each run is ``measure_latency`` with the plugin's defaults (blocks of 10 ABBA rounds, at most 50,
64 texts, limit 0.90) decided by the gate's own ``gate_metric`` under the default rule
(``estimate``) and ``three-way`` (what a FAIL *outcome* would say). ``--busy`` Python processes
spin in a loop (the load a shared CI runner has) for the whole measurement. The slower student
runs its copy and then works for a fifth of that call's time (a busy loop, not a sleep, so the
load slows it too). The demo teacher (MiniLM-L6, cached by the first `pytest --teacher demo`)
runs against its deep copy.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tiny.py builds the tiny BERT

from loyalty_tests.engines.latency import measure_latency  # noqa: E402
from loyalty_tests.gates import checks as gate_checks  # noqa: E402
from loyalty_tests.metrics import MetricValue  # noqa: E402

LIMIT = 0.90


def _spin(stop_at: float) -> None:
    while time.time() < stop_at:
        pass


class Busy:
    """``count`` processes spinning until the block ends (or ``seconds`` pass)."""

    def __init__(self, count: int, seconds: float = 3600.0):
        self.count, self.seconds, self.processes = count, seconds, []

    def __enter__(self):
        stop_at = time.time() + self.seconds
        self.processes = [
            multiprocessing.Process(target=_spin, args=(stop_at,), daemon=True) for _ in range(self.count)
        ]
        for process in self.processes:
            process.start()
        return self

    def __exit__(self, *exc):
        for process in self.processes:
            process.terminate()
            process.join()


class Slower:
    """The wrapped model, then busy work for ``extra`` times that call's wall time."""

    def __init__(self, model, extra: float = 0.2):
        self.model, self.extra = model, extra
        self.name, self.label_names = f"{model.name} x{1 + extra:.1f}", model.label_names

    def predict_proba(self, texts, text_pairs=None):
        start = time.perf_counter()
        out = self.model.predict_proba(texts, text_pairs)
        until = time.perf_counter() + self.extra * (time.perf_counter() - start)
        while time.perf_counter() < until:
            pass
        return out


def judge(latency) -> dict:
    metric = MetricValue(latency.speedup, latency.ci_low, latency.ci_high, latency.rounds)
    estimate = gate_checks.gate_metric("latency", metric, LIMIT, "default", "at_least", level=latency.level)
    three_way = gate_checks.gate_metric(
        "latency", metric, LIMIT, "default", "at_least", gate_checks.Rule("three-way", "pass"), level=latency.level
    )
    return {
        "fail": not estimate.passed,
        "outcome": three_way.three_way,
        "speedup": latency.speedup,
        "rounds": latency.rounds,
        "ci": (latency.ci_low, latency.ci_high),
        "level": latency.level,
    }


def runs_of(teacher, student, texts, runs: int, label: str) -> dict:
    results, started = [], time.perf_counter()
    for _ in range(runs):
        results.append(judge(measure_latency(teacher, student, texts, rounds=10, max_rounds=50, limit=LIMIT)))
    fails = sum(r["fail"] for r in results)
    outcomes = {o: sum(r["outcome"] == o for r in results) for o in ("PASS", "INCONCLUSIVE", "FAIL")}
    speedups = [r["speedup"] for r in results]
    print(
        f"{label}: {runs} runs in {time.perf_counter() - started:.0f} s; FAIL (estimate rule) {fails}/{runs}; "
        f"outcomes PASS {outcomes['PASS']}, INCONCLUSIVE {outcomes['INCONCLUSIVE']}, FAIL {outcomes['FAIL']}; "
        f"speedup median {np.median(speedups):.3f} (min {min(speedups):.3f}, max {max(speedups):.3f}); "
        f"rounds median {np.median([r['rounds'] for r in results]):.0f}; {results[0]['level']}",
        flush=True,
    )
    return {"runs": runs, "fails": fails, "outcomes": outcomes}


def tiny_models():
    import torch
    from tiny import tiny_bert, tiny_tokenizer

    from loyalty_tests.models.classifiers import HFClassifier

    torch.manual_seed(0)
    tokenizer = tiny_tokenizer(Path("/tmp/bench-latency-load-tokenizer"))
    teacher = HFClassifier(tiny_bert(layers=2, hidden=64, heads=4), tokenizer, "tiny", batch_size=64)
    twin = HFClassifier(copy.deepcopy(teacher.model), tokenizer, "tiny copy", batch_size=64)
    return teacher, twin


def demo_models():
    from loyalty_tests.models.specs import ModelOptions, load_model

    teacher = load_model("demo", options=ModelOptions(progress=lambda line: None))
    twin = copy.copy(teacher)
    twin.model = copy.deepcopy(teacher.model)
    twin.name = "demo copy"
    return teacher, twin


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of the tiny BERT against its copy")
    parser.add_argument(
        "--slow-runs", type=int, default=None, help="runs against the 1.2x slower copy (default: --runs)"
    )
    parser.add_argument("--demo-runs", type=int, default=3, help="runs of the demo teacher against its copy")
    parser.add_argument("--busy", type=int, default=2, help="spinning processes keeping the cores busy")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads per model call (1: two OpenMP threads spinning against the busy "
        "processes made a 40 ms call take a second here)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    texts = [f"a {'good' if i % 2 else 'bad'} movie number {i} with some words" for i in range(64)]
    found = {}
    with Busy(args.busy):
        teacher, twin = tiny_models()
        found["tiny A/A"] = runs_of(
            teacher, twin, texts, args.runs, f"tiny BERT vs its copy, {args.busy} busy processes"
        )
        slow_runs = args.runs if args.slow_runs is None else args.slow_runs
        if slow_runs:
            found["tiny 1.2x"] = runs_of(
                teacher, Slower(twin), texts, slow_runs, f"tiny BERT vs a 1.2x slower copy, {args.busy} busy processes"
            )
        if args.demo_runs:
            from loyalty_tests.data import load_dataset

            demo_texts = list(load_dataset("rotten_tomatoes:test").texts[:64])
            teacher, twin = demo_models()
            found["demo A/A"] = runs_of(
                teacher, twin, demo_texts, args.demo_runs, f"demo teacher vs its copy, {args.busy} busy processes"
            )
    return found


if __name__ == "__main__":
    main()
