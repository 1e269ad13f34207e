"""Sequential vs fixed-size robustness gate on the demo teacher (issue 8): how many examples each
attacks and how long it takes to a decision, for a student that is about as robust as its
teacher (``int8``) and one deliberately damaged (``heads:0.5``).

    python benchmarks/bench_sequential.py [--cap 300] [--block 25] [--recipe textfooler]

Sequential: seeded blocks until the confidence sequence (``sequential.sequential_decision``)
decides, or the cap. Fixed-size: every example up to the cap, decided by Tango's interval at the
same 95% level. Both runs start from an empty attack cache of their own and use the plugin's
defaults otherwise (limit 0.10, the estimate rule). Wall times include both models' attacks.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from loyalty_tests.compress import compress
from loyalty_tests.data import load_dataset
from loyalty_tests.gates.registry import GATES
from loyalty_tests.gates.result import Rule
from loyalty_tests.gates.robustness import in_attack_order, robustness_sequence
from loyalty_tests.models.specs import load_model
from loyalty_tests.robustness import AttackConfig, RobustnessRun
from loyalty_tests.robustness.summary import drop_from_differences, paired_outcomes


def sequential(teacher, student, data, config, block: int, cap: int, limit: float):
    with tempfile.TemporaryDirectory() as cache:
        run = RobustnessRun(teacher, student, data, config, cache_dir=cache)
        started = time.perf_counter()
        while True:
            comparison = run.attack_next(min(block, cap - run.attacked))
            # the plugin's own sequence (gates/robustness.py), so the benchmark measures what it runs
            decision = robustness_sequence(
                in_attack_order(paired_outcomes(comparison), run.order), limit, Rule(), block, cap
            )
            if decision.stopped or run.attacked >= cap:
                return run.attacked, time.perf_counter() - started, decision


def fixed(teacher, student, data, config, cap: int, limit: float):
    with tempfile.TemporaryDirectory() as cache:
        run = RobustnessRun(teacher, student, data, config, cache_dir=cache)
        started = time.perf_counter()
        comparison = run.attack_next(cap)
        outcomes = paired_outcomes(comparison)
        drop = drop_from_differences(outcomes[1])
        result = GATES["robustness"].check(comparison, limit, "default", outcomes=outcomes)
        return cap, time.perf_counter() - started, drop, result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cap", type=int, default=300, help="--attack-examples: the most either run attacks")
    parser.add_argument("--block", type=int, default=25, help="--attack-block")
    parser.add_argument("--recipe", default="textfooler")
    parser.add_argument("--students", nargs="+", default=["int8", "heads:0.5"])
    args = parser.parse_args(argv)
    if args.block >= args.cap:
        parser.error("--block must be smaller than --cap: with one block the run is the fixed-size one")
    limit = 0.10
    data = load_dataset("rotten_tomatoes:test")
    teacher = load_model("demo")
    train = load_dataset("rotten_tomatoes:train")
    config = AttackConfig(args.recipe, examples=args.cap, budget=500, seed=0)
    print(f"demo teacher, {args.recipe}, limit {limit}, cap {args.cap}, blocks of {args.block}; data {data.name}")
    print("| student | run | examples attacked | wall (s) | drop | 95% CI | outcome | why it stopped |")
    print("|---|---|---|---|---|---|---|---|")
    for recipe in args.students:
        student = compress(teacher, recipe, train, progress=lambda message: None)
        n, seconds, decision = sequential(teacher, student, data, config, args.block, args.cap, limit)
        d = decision.decision
        print(
            f"| {recipe} | sequential | {n} | {seconds:.0f} | {d.estimate:.3f} | {d.low:.3f}–{d.high:.3f} | "
            f"{d.outcome} | {decision.reason} |",
            flush=True,
        )
        n, seconds, drop, result = fixed(teacher, student, data, config, args.cap, limit)
        print(
            f"| {recipe} | fixed size | {n} | {seconds:.0f} | {drop.value:.3f} | "
            f"{drop.ci_low:.3f}–{drop.ci_high:.3f} | "
            f"{result.three_way} | attacked all {n} |",
            flush=True,
        )
    print("\n(each run attacked both models from an empty attack cache of its own)")


if __name__ == "__main__":
    main()
