"""The gates' intervals at every n (issue 16, items 2-5): FAIL outcomes at the limit summed exactly,
probability-loyalty coverage and width, the collapse gate at n = 5, and whether the printed
"about N examples would decide it in 80% of runs" does.

    python benchmarks/bench_intervals.py [--simulations 2000]

Everything goes through the functions the gates call (``stats.exact``, ``stats.bounded_means``,
``stats.label_shares``, ``stats.power``); the simulations are seeded.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.stats import t as student_t

from loyalty_tests.stats.bounded_means import dispersion_score_interval
from loyalty_tests.stats.exact import (
    clopper_pearson_interval,
    gate_paired_interval,
    paired_fail_probability,
    proportion_fail_probability,
)
from loyalty_tests.stats.intervals import three_way_outcome
from loyalty_tests.stats.label_shares import share_ratio_interval
from loyalty_tests.stats.power import mean_examples_for_power, paired_examples_for_power, proportion_examples_for_power

SIZES = list(range(5, 61)) + [100, 200, 400, 854]


def exact_fail_at_limit() -> dict:
    """Largest P(FAIL outcome | truth on the limit) over SIZES, per gate and limit (target <= 2.5%)."""
    rows = {}
    for gate, limit, direction in (
        ("label_loyalty", 0.90, "at_least"),
        ("label_loyalty", 0.95, "at_least"),
        ("negative_flip_rate", 0.05, "at_most"),
        ("negative_flip_rate", 0.02, "at_most"),
    ):
        worst = max((proportion_fail_probability(n, limit, direction), n) for n in SIZES)
        rows[f"{gate} {limit}"] = worst
    for limit in (0.02, 0.05, 0.10):
        rows[f"accuracy_drop {limit}"] = max((paired_fail_probability(n, limit, grid=31), n) for n in SIZES)
    print(
        "FAIL outcome at the limit, exact sums over every outcome, worst n in 5..60, 100, 200, 400, 854 "
        "(target <= 2.5%):"
    )
    for name, (probability, n) in rows.items():
        print(f"  {name}: {probability:.2%} (at n = {n})")
    return {name: probability for name, (probability, _) in rows.items()}


def probability_loyalty(simulations: int) -> dict:
    rng = np.random.default_rng(0)
    shapes = ((20, 1), (5, 1), (50, 2), (2, 2), (1, 3), (0.5, 0.5))
    coverage = {}
    # coverage is vectorised and cheap: 5x the runs keeps its Monte Carlo error near 0.002 (at 2,000
    # runs a coverage of 0.940 reads anywhere in 0.930-0.950)
    runs = 5 * simulations
    for a, b in shapes:
        truth = a / (a + b)
        for n in (30, 100, 854):
            values = rng.beta(a, b, (runs, n))
            low, high = dispersion_score_interval(values)
            coverage[(a, b, n)] = float(np.mean((low <= truth) & (truth <= high)))
    rare = rare_flip_coverage(rng, runs)
    values = rng.beta(20, 1, (1000, 854))
    low, high = dispersion_score_interval(values)
    t_width = 2 * student_t.ppf(0.975, 853) * values.std(axis=1, ddof=1) / np.sqrt(854)
    ratio = float(np.mean((high - low) / t_width))
    # power: 10-point shortfall at n = 10 and n = 854, and a student 1 point above the limit at n = 854
    limit = 0.85
    short = rng.beta(7.5 * 0.75 / 0.25, 7.5, (simulations, 10))  # mean 0.75
    fail_10 = float(
        np.mean([three_way_outcome(*i, limit, "at_least") == "FAIL" for i in zip(*dispersion_score_interval(short))])
    )
    above = rng.beta(30 * 0.86 / 0.14, 30, (1000, 854))  # mean 0.86
    pass_854 = float(
        np.mean([three_way_outcome(*i, limit, "at_least") == "PASS" for i in zip(*dispersion_score_interval(above))])
    )
    print(
        f"\nprobability loyalty interval (dispersion score), Beta values: coverage "
        f"{min(coverage.values()):.3f}-{max(coverage.values()):.3f} at n = 30, 100, 854 (target 0.94-0.97); "
        f"width {ratio:.2f}x a t-interval at n = 854, Beta(20, 1) (target <= 1.3)"
    )
    for (a, b, n), value in coverage.items():
        print(f"  Beta({a}, {b}) n={n}: {value:.3f}")
    print(
        "  not in the target (a limit of any interval that adapts to the variance seen): most values "
        "Beta(50, 1) and a share of flips uniform in 0.3-0.7, coverage at n = 30 / 100 / 854"
    )
    for share, values in rare.items():
        print(f"    {share:.0%} flips: " + " / ".join(f"{value:.3f}" for value in values))
    print(
        f"  mean 0.75 against 0.85 at n = 10: FAIL outcome {fail_10:.1%}; mean 0.86 against 0.85 at n = 854: "
        f"PASS outcome {pass_854:.1%}"
    )
    return {
        "coverage_min": min(coverage.values()),
        "coverage_max": max(coverage.values()),
        "width_ratio": ratio,
        "fail_at_10": fail_10,
        "pass_at_854": pass_854,
    }


def rare_flip_coverage(rng, runs: int) -> dict:
    """Coverage when a few values are far below the rest (a student that flips a few answers):
    a sample of 30 often holds no flip at all, its spread then says nothing of them, and the
    interval sits above the truth. Printed so the README can state the limit, not tuned to it."""
    found = {}
    for share in (0.03, 0.10):
        truth = (1 - share) * 50 / 51 + share * 0.5
        found[share] = []
        for n in (30, 100, 854):
            flips = rng.random((runs, n)) < share
            values = np.where(flips, rng.uniform(0.3, 0.7, (runs, n)), rng.beta(50, 1, (runs, n)))
            low, high = dispersion_score_interval(values)
            found[share].append(float(np.mean((low <= truth) & (truth <= high))))
    return found


def label_share(simulations: int) -> dict:
    rng = np.random.default_rng(1)
    rates = {}
    for name, joint in (("nested", [0.5, 0.0, 0.3, 0.2]), ("independent", [0.4, 0.1, 0.4, 0.1])):
        passes = 0
        for run in range(simulations):
            drawn = rng.choice(4, size=5, p=joint)
            passes += (
                three_way_outcome(
                    *share_ratio_interval(drawn // 2, drawn % 2, 2, draws=1000, seed=run)[1:], 0.5, "at_least"
                )
                == "PASS"
            )
        rates[name] = passes / simulations
    width = share_ratio_interval([0, 1, 0, 1, 0], [0, 1, 0, 1, 0], 2)
    print(
        "\ncollapse gate: true ratio 0.40 against 0.50 at n = 5, PASS outcome "
        + ", ".join(f"{k} {v:.1%}" for k, v in rates.items())
        + " (target <= 2.5%); "
        f"[0,1,0,1,0] against itself: {width[1]:.3f}-{width[2]:.3f}"
    )
    return rates


def _share(intervals, limit, direction) -> float:
    return float(np.mean([three_way_outcome(low, high, limit, direction) != "INCONCLUSIVE" for low, high in intervals]))


def printed_n(simulations: int) -> dict:
    """Share of simulated runs that decide at the printed N, with the observed rates as the truth."""
    rng = np.random.default_rng(2)
    shares = {}
    for successes, n, limit, direction in (
        (44, 50, 0.90, "at_least"),
        (760, 854, 0.90, "at_least"),
        (4, 100, 0.05, "at_most"),
        (50, 854, 0.05, "at_most"),
    ):
        needed = proportion_examples_for_power(successes, n, limit, direction)
        counts = rng.binomial(needed, successes / n, simulations)
        shares[f"proportion {successes}/{n} vs {limit} -> N={needed}"] = _share(
            [clopper_pearson_interval(int(k), needed) for k in counts], limit, direction
        )
    for b, c, n, limit in ((12, 3, 200, 0.02), (30, 20, 854, 0.02), (3, 0, 50, 0.10)):
        needed = paired_examples_for_power(b, c, n, limit)
        tables = rng.multinomial(needed, [b / n, c / n, 1 - (b + c) / n], size=simulations)
        shares[f"paired b={b} c={c} n={n} vs {limit} -> N={needed}"] = _share(
            [gate_paired_interval(int(x), int(y), needed) for x, y, _ in tables], limit, "at_most"
        )
    for a, b, limit in ((20, 1, 0.94), (5, 1, 0.80)):
        seen = rng.beta(a, b, 100)
        needed = mean_examples_for_power(seen, limit)
        runs = [dispersion_score_interval(rng.choice(seen, needed)) for _ in range(min(simulations, 500))]
        shares[f"probability loyalty Beta({a},{b}) vs {limit} -> N={needed}"] = _share(runs, limit, "at_least")
    print(
        "\nprinted 'about N examples would decide it in 80% of runs': share of simulated runs deciding at N "
        "(target 75-85%):"
    )
    for name, share in shares.items():
        print(f"  {name}: {share:.1%}")
    return shares


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulations", type=int, default=2000)
    args = parser.parse_args(argv)
    return {
        "exact": exact_fail_at_limit(),
        "probability_loyalty": probability_loyalty(args.simulations),
        "label_share": label_share(args.simulations),
        "printed_n": printed_n(args.simulations),
    }


if __name__ == "__main__":
    main()
