"""Verdict benchmark (issue 8): how often the real gates fail a student identical to its teacher
(A/A), and how often they catch a student whose label loyalty is truly 10 points under the limit.

Every figure goes through the code the pytest gates run (``metrics.compare`` ->
``prediction_gates.prediction_gate``; ``latency.measure_latency`` with the plugin's defaults;
``GATES["robustness"].check``, as the plugin and ``assert_robust`` call it), once per seeded run, under each rule:
``estimate`` (the default), ``confident``, ``three-way`` with ``inconclusive = pass``.

    python benchmarks/bench_verdicts.py [--runs 100] [--latency-runs 100]
    python benchmarks/bench_verdicts.py --all    # every issue-16 figure in one command (about 30 minutes)

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
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_intervals, bench_latency_load

from loyalty_tests.comparison import compare_predictions  # noqa: E402
from loyalty_tests.data import TextDataset  # noqa: E402
from loyalty_tests.engines.latency import measure_latency  # noqa: E402
from loyalty_tests.gates.prediction import PREDICTION_GATES, prediction_gate  # noqa: E402
from loyalty_tests.gates.registry import GATES
from loyalty_tests.gates.result import Rule
from loyalty_tests.gates.thresholds import resolve  # noqa: E402
from loyalty_tests.predictions import Predictions  # noqa: E402

RULES = {
    "estimate": {},
    "confident": {"decision": "confident"},
    "three-way, inconclusive=pass": {"decision": "three-way", "inconclusive": "pass"},
}
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
    return compare_predictions(
        data,
        Predictions("teacher", teacher, LABELS, 0.0),
        Predictions("student", student, LABELS, 0.0),
        n_resamples=200,
        seed=seed,
    )


def fail_rates(reports, gates) -> dict[str, dict[str, float]]:
    """Per rule: each gate's FAIL rate, and "any" (the share of runs failing at least one gate)."""
    rates = {}
    for rule, setting in RULES.items():
        thresholds = resolve(setting, {})
        failed = np.array(
            [
                [not prediction_gate(gate, report, thresholds, n_resamples=200).passed for gate in gates]
                for report in reports
            ]
        )
        rates[rule] = {gate: float(failed[:, i].mean()) for i, gate in enumerate(gates)}
        if len(gates) > 1:
            rates[rule]["any prediction gate"] = float(failed.any(axis=1).mean())
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
    print(
        f"latency A/A: {runs} runs in {time.perf_counter() - started:.0f} s; rounds per run median "
        f"{np.median(rounds):.0f} (min {min(rounds)}, max {max(rounds)}); speedup median {np.median(speedups):.3f} "
        f"(min {min(speedups):.3f}, max {max(speedups):.3f}); limit {limit}"
    )
    return {rule: {"latency": float(np.mean(fails))} for rule, fails in results.items()}


def robustness_aa(runs: int):
    """Teacher and an identical copy attacked on the same seeded examples: the paired drop is 0."""
    from keyword_model import KeywordModel

    from loyalty_tests.robustness import AttackConfig, compare_robustness

    weights = {"great": 3.0, "good": 2.0, "fine": 1.0, "dull": -1.0, "bad": -2.0}
    texts = [f"a {w} movie about {v} things" for w in weights for v in ("odd", "new")]
    from loyalty_tests.robustness.summary import paired_outcomes
    from loyalty_tests.stats.sequential import sequential_decision

    data = TextDataset(
        "hand-made", [f"{t} take {i}" for i, t in enumerate(texts * 10)], [int(i % 5 < 3) for i in range(100)], LABELS
    )
    fails = {rule: [] for rule in RULES}
    margin_fails = {rule: [] for rule in RULES}
    for seed in range(runs):
        # the plugin's defaults: attacked in blocks of 25 up to --attack-examples 100, sequential gate
        comparison = compare_robustness(
            KeywordModel(weights, "teacher"),
            KeywordModel(weights, "copy"),
            data,
            AttackConfig("charswap", examples=100, budget=100, seed=seed),
        )
        _, differences = paired_outcomes(comparison)
        for look in (25, 50, 75, 100):
            sequence = sequential_decision(differences[:look], 0.10, "at_most", block_size=25, max_n=100)
            if sequence.stopped:
                break
        for rule, setting in RULES.items():
            rule_obj = Rule(setting.get("decision", "estimate"), setting.get("inconclusive", "fail"))
            fails[rule].append(
                not GATES["robustness"].check(comparison, 0.10, "default", rule_obj, decision=sequence, block=25).passed
            )
            # the margin gate is collected with every attack, from the same comparison
            margin_limit = resolve(setting, {})["max_margin_drop"].value
            margin_fails[rule].append(
                not GATES["margin_drop"].check(comparison, margin_limit, "default", rule_obj).passed
            )
    return {
        rule: {"robustness": float(np.mean(fails[rule])), "margin_drop": float(np.mean(margin_fails[rule]))}
        for rule in RULES
    }


def _upper(failures: int, runs: int) -> float:
    from loyalty_tests.stats.exact import clopper_pearson_interval

    return clopper_pearson_interval(failures, runs)[1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100, help="seeded runs per prediction/robustness gate")
    parser.add_argument("--latency-runs", type=int, default=100, help="seeded A/A latency measurements")
    parser.add_argument(
        "--all",
        action="store_true",
        help="every issue-16 figure: this table, the intervals (bench_intervals.py) and real latency "
        "runs on a busy runner (bench_latency_load.py), then the family-wise A/A summary",
    )
    parser.add_argument("--load-runs", type=int, default=20, help="with --all: real tiny-BERT A/A runs under load")
    parser.add_argument(
        "--slow-runs", type=int, default=20, help="with --all: real runs against a 1.2x slower copy under load"
    )
    parser.add_argument("--demo-runs", type=int, default=3, help="with --all: demo teacher runs under load")
    args = parser.parse_args(argv)
    table = {rule: {} for rule in RULES}
    parts = [prediction_gates_aa(args.runs), robustness_aa(args.runs)]
    if not args.all:
        parts.insert(1, latency_aa(args.latency_runs))
    for part in parts:
        for rule, rates in part.items():
            table[rule].update(rates)
    gates = list(next(iter(table.values())))
    print(
        f"\nA/A false-FAIL rate (student identical to its teacher), n={N}, {args.runs} runs "
        f"({'real runs under load below' if args.all else f'{args.latency_runs} for latency'}):"
    )
    print("| rule | " + " | ".join(gates) + " |")
    print("|---|" + "---|" * len(gates))
    for rule, rates in table.items():
        print(f"| {rule} | " + " | ".join(f"{rates[g]:.1%}" for g in gates) + " |")
    caught = detection(args.runs)
    print(f"\nDetection: label loyalty truly 0.80 against the limit 0.90 (n={N}, {args.runs} runs), FAIL rate:")
    for rule, rates in caught.items():
        print(f"  {rule}: {rates['label_loyalty']:.1%}")
    if not args.all:
        return
    import bench_intervals
    import bench_latency_load

    print()
    bench_intervals.main([])
    print()
    load = bench_latency_load.main(
        ["--runs", str(args.load_runs), "--slow-runs", str(args.slow_runs), "--demo-runs", str(args.demo_runs)]
    )
    aa = [load[key] for key in ("tiny A/A", "demo A/A") if key in load]
    latency_fails, latency_runs = sum(r["fails"] for r in aa), sum(r["runs"] for r in aa)
    slower = load["tiny 1.2x"]
    prediction = (
        table["estimate"]["any prediction gate"] + table["estimate"]["robustness"] + table["estimate"]["margin_drop"]
    )  # a union bound: a run failing two of them counts twice
    worst_gate = max(table["estimate"][g] for g in PREDICTION_GATES if g in table["estimate"])  # collected ones
    print(f"\nSummary under the defaults (rule estimate), measured {time.strftime('%Y-%m-%d')}:")
    print(
        f"  A/A per gate: prediction gates at most {worst_gate:.1%} ({args.runs} runs), robustness "
        f"{table['estimate']['robustness']:.1%}, margin_drop {table['estimate']['margin_drop']:.1%}, "
        f"latency {latency_fails}/{latency_runs} real runs under load "
        f"(95% upper bound {_upper(latency_fails, latency_runs):.1%})"
    )
    print(
        f"  A/A family-wise (any gate fails): prediction and robustness gates {prediction:.1%} of {args.runs} "
        f"seeded runs; latency {latency_fails}/{latency_runs} real runs (target <= 2%)"
    )
    print(
        f"  detection: label loyalty 10 points short {caught['estimate']['label_loyalty']:.1%} (n={N}); 1.2x slower "
        f"student {slower['fails']}/{slower['runs']} FAIL under load (target >= 95%)"
    )


if __name__ == "__main__":
    main()
