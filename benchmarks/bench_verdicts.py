"""Verdict benchmark (issue 8): how often the real gates fail a student identical to its teacher
(A/A), and how often they catch a student whose label loyalty is truly 10 points under the limit.

Every figure goes through the code the pytest gates run (``metrics.compare`` ->
``prediction_gates.prediction_gate``; ``latency.measure_latency`` with the plugin's defaults;
``GATES["robustness"].check``, as the plugin and ``assert_robust`` call it), once per seeded run, under each rule:
``estimate`` (the default), ``confident``, ``three-way`` with ``inconclusive = pass``.

    python benchmarks/bench_verdicts.py [--runs 100] [--latency-runs 100]

Data: 854 examples (the size of the demo's rotten_tomatoes:test), resampled with replacement per
run from a seeded pool of teacher outputs about 80% accurate; a tiny random BERT for latency,
timed against its deep copy. Targets: A/A at most 1% FAIL under the default rule and none under
three-way with inconclusive = pass; detection at least 95%.
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tiny.py builds the tiny BERT

from loyalty_tests.gates.registry import GATES
from loyalty_tests.gates.result import Rule
from loyalty_tests.data import TextDataset  # noqa: E402
from loyalty_tests.engines.latency import measure_latency  # noqa: E402
from loyalty_tests.comparison import compare_predictions  # noqa: E402
from loyalty_tests.gates.prediction import PREDICTION_GATES, prediction_gate  # noqa: E402
from loyalty_tests.predictions import Predictions  # noqa: E402
from loyalty_tests.gates.thresholds import resolve  # noqa: E402

RULES = {"estimate": {}, "confident": {"decision": "confident"},
         "three-way, inconclusive=pass": {"decision": "three-way", "inconclusive": "pass"}}
N = 854
LABELS = ("negative", "positive")


def teacher_pool(rng, size=20_000):
    """Teacher probabilities about 80% accurate, with gold labels."""
    gold = rng.integers(0, 2, size)
    margin = rng.normal(1.2, 1.0, size)  # logit of the gold label
    p_gold = 1.0 / (1.0 + np.exp(-margin))
    probs = np.where(gold[:, None] == np.arange(2), p_gold[:, None], 1.0 - p_gold[:, None])
    return gold, probs


def report_for(gold, teacher, student, seed):
    data = TextDataset("resampled", [f"text {i}" for i in range(len(gold))], gold.tolist(), LABELS)
    return compare_predictions(data, Predictions("teacher", teacher, LABELS, 0.0),
                               Predictions("student", student, LABELS, 0.0), n_resamples=200, seed=seed)


def fail_rates(reports, gates) -> dict[str, dict[str, float]]:
    rates = {}
    for rule, setting in RULES.items():
        thresholds = resolve(setting, {})
        rates[rule] = {gate: np.mean([not prediction_gate(gate, report, thresholds, n_resamples=200).passed
                                      for report in reports]) for gate in gates}
    return rates


def prediction_gates_aa(runs: int):
    rng = np.random.default_rng(0)
    gold, probs = teacher_pool(rng)
    reports = []
    for seed in range(runs):
        rows = np.random.default_rng(seed).integers(0, len(gold), N)
        reports.append(report_for(gold[rows], probs[rows], probs[rows].copy(), seed))
    # the gates a default run collects (an optional one, e.g. kl_divergence, is off without its threshold)
    return fail_rates(reports, [gate for gate in PREDICTION_GATES if GATES[gate].collected_with is None])


def detection(runs: int):
    """A student that agrees with the teacher on 80% of examples (limit 0.90): label loyalty 10 points under."""
    rng = np.random.default_rng(1)
    gold, probs = teacher_pool(rng)
    reports = []
    for seed in range(runs):
        local = np.random.default_rng(seed)
        rows = local.integers(0, len(gold), N)
        teacher = probs[rows]
        flip = local.random(N) < 0.20
        student = np.where(flip[:, None], teacher[:, ::-1], teacher)
        reports.append(report_for(gold[rows], teacher, student, seed))
    return fail_rates(reports, ("label_loyalty",))


def latency_aa(runs: int):
    import torch
    from tiny import tiny_bert, tiny_tokenizer

    from loyalty_tests.models.classifiers import HFClassifier

    torch.set_num_threads(1)  # one core per model call: less contention noise between the two
    tokenizer = tiny_tokenizer(Path("/tmp/bench-verdicts-tokenizer"))
    teacher = HFClassifier(tiny_bert(layers=2, hidden=64, heads=4), tokenizer, "tiny", batch_size=64)
    twin = HFClassifier(copy.deepcopy(teacher.model), tokenizer, "tiny copy", batch_size=64)
    texts = [f"a {'good' if i % 2 else 'bad'} movie number {i} with some words" for i in range(64)]
    limit = resolve({}, {})["min_speedup"].value
    results = {rule: [] for rule in RULES}
    rounds, speedups, started = [], [], time.perf_counter()
    for _ in range(runs):
        latency = measure_latency(teacher, twin, texts, rounds=10, max_rounds=50, limit=limit)
        rounds.append(latency.rounds)
        speedups.append(latency.speedup)
        for rule, setting in RULES.items():
            rule_obj = Rule(setting.get("decision", "estimate"), setting.get("inconclusive", "fail"))
            results[rule].append(not GATES["latency"].check(latency, limit, "default", rule_obj).passed)
    print(f"latency A/A: {runs} runs in {time.perf_counter() - started:.0f} s; rounds per run median "
          f"{np.median(rounds):.0f} (min {min(rounds)}, max {max(rounds)}); speedup median {np.median(speedups):.3f} "
          f"(min {min(speedups):.3f}, max {max(speedups):.3f}); limit {limit}")
    return {rule: {"latency": float(np.mean(fails))} for rule, fails in results.items()}


def robustness_aa(runs: int):
    """Teacher and an identical copy attacked on the same seeded examples: the paired drop is 0."""
    from loyalty_tests.robustness import AttackConfig, compare_robustness

    from keyword_model import KeywordModel

    weights = {"great": 3.0, "good": 2.0, "fine": 1.0, "dull": -1.0, "bad": -2.0}
    texts = [f"a {w} movie about {v} things" for w in weights for v in ("odd", "new")]
    data = TextDataset("hand-made", texts * 5, [int(i % 5 < 3) for i in range(50)], LABELS)
    fails = {rule: [] for rule in RULES}
    for seed in range(runs):
        comparison = compare_robustness(KeywordModel(weights, "teacher"), KeywordModel(weights, "copy"), data,
                                        AttackConfig("charswap", examples=50, budget=100, seed=seed))
        for rule, setting in RULES.items():
            rule_obj = Rule(setting.get("decision", "estimate"), setting.get("inconclusive", "fail"))
            fails[rule].append(not GATES["robustness"].check(comparison, 0.10, "default", rule_obj).passed)
    return {rule: {"robustness": float(np.mean(f))} for rule, f in fails.items()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="seeded runs per prediction/robustness gate")
    parser.add_argument("--latency-runs", type=int, default=100, help="seeded A/A latency measurements")
    args = parser.parse_args(argv)
    table = {rule: {} for rule in RULES}
    for part in (prediction_gates_aa(args.runs), latency_aa(args.latency_runs), robustness_aa(args.runs)):
        for rule, rates in part.items():
            table[rule].update(rates)
    gates = list(next(iter(table.values())))
    print(f"\nA/A false-FAIL rate (student identical to its teacher), n={N}, {args.runs} runs "
          f"({args.latency_runs} for latency):")
    print("| rule | " + " | ".join(gates) + " |")
    print("|---|" + "---|" * len(gates))
    for rule, rates in table.items():
        print(f"| {rule} | " + " | ".join(f"{rates[g]:.1%}" for g in gates) + " |")
    caught = detection(args.runs)
    print(f"\nDetection: label loyalty truly 0.80 against the limit 0.90 (n={N}, {args.runs} runs), FAIL rate:")
    for rule, rates in caught.items():
        print(f"  {rule}: {rates['label_loyalty']:.1%}")


if __name__ == "__main__":
    main()
