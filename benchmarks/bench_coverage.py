"""Coverage and error rates of the verdict statistics: the fuller tables behind tests/test_stats_coverage.py.

    PYTHONPATH=$PWD python benchmarks/bench_coverage.py [--simulations 4000] [--seed 0]

Prints markdown tables (nominal 95% everywhere):
1. paired difference (accuracy / robustness drop): Tango score interval vs the percentile
   bootstrap used before, simulated coverage, plus Tango's exact coverage over a grid;
2. proportion (label loyalty, flip rates): Wilson vs Clopper-Pearson vs bootstrap, exact coverage;
3. bounded mean (probability loyalty): Wilson-type bound vs betting CI vs t-interval vs bootstrap;
4. sequential robustness: the betting confidence sequence under optional stopping vs peeking at
   Tango's fixed-n interval, with wrong-side verdicts and examples used;
5. latency: the median's order-statistic CI vs a t-interval on log ratios under heavy-tailed
   noise, and the A/A false-fail rate of candidate default limits under each rule;
6. the demo data size (n = 854): A/A false fails and detection of a label loyalty 10 points under
   its limit, under each rule.
Every simulation is seeded (``--seed``); the same seed prints the same tables. No timing here.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.special import gammaln
from scipy.stats import beta as beta_distribution
from scipy.stats import binom
from scipy.stats import t as student_t

from loyalty_tests.stats.intervals import bounded_mean_interval, decide, paired_difference_interval, wilson_interval
from loyalty_tests.stats.sequential import betting_interval, planned_looks, sequential_interval
from loyalty_tests.stats.speedup import latency_decision, order_statistic_rank

RULES = [("estimate", "fail"), ("confident", "fail"), ("three-way", "pass")]


def table(title: str, header: list[str], rows: list[list]) -> None:
    print(f"\n### {title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |")


def covered(low, high, truth) -> float:
    return float(np.mean((low <= truth) & (truth <= high)))


def bootstrap_paired(rng, b, c, n, resamples=1000):
    """Percentile bootstrap of the mean paired difference, drawn as multinomial counts."""
    b, c = np.asarray(b, dtype=np.int64)[:, None], np.asarray(c, dtype=np.int64)[:, None]
    star_b = rng.binomial(n, b / n, size=(b.shape[0], resamples))
    rest = np.maximum(n - b, 1)
    star_c = rng.binomial(n - star_b, np.minimum(c / rest, 1.0))
    means = (star_b - star_c) / n
    return np.quantile(means, 0.025, axis=1), np.quantile(means, 0.975, axis=1)


def section_paired(rng, simulations):
    rows = []
    for n in (10, 50, 500):
        for p_b, p_c in ((0.0, 0.0), (0.02, 0.0), (0.05, 0.02), (0.1, 0.1), (0.25, 0.05)):
            counts = rng.multinomial(n, [p_b, p_c, 1 - p_b - p_c], size=simulations)
            b, c = counts[:, 0], counts[:, 1]
            tango = covered(*paired_difference_interval(b, c, n), p_b - p_c)
            boot = covered(*bootstrap_paired(rng, b[:1000], c[:1000], n), p_b - p_c)
            width = float(np.mean(np.subtract(*paired_difference_interval(b, c, n)[::-1])))
            rows.append([n, f"{p_b:.2f} / {p_c:.2f}", tango, width, boot])
    table(
        "Paired difference: simulated coverage (Tango score vs percentile bootstrap, 1000 runs for the bootstrap)",
        ["n", "P(b) / P(c)", "Tango", "Tango mean width", "bootstrap"],
        rows,
    )
    rows = []
    for n in (10, 50, 500):
        b, c = (g.ravel() for g in np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij"))
        b, c = b[b + c <= n], c[b + c <= n]
        low, high = paired_difference_interval(b, c, n)
        log_coefficient = gammaln(n + 1) - gammaln(b + 1) - gammaln(c + 1) - gammaln(n - b - c + 1)
        coverages = []
        for p_b in (0.005, 0.02, 0.05, 0.1, 0.2, 0.35):
            for p_c in (0.005, 0.02, 0.05, 0.1, 0.2, 0.35):
                log_p = log_coefficient + b * np.log(p_b) + c * np.log(p_c) + (n - b - c) * np.log1p(-p_b - p_c)
                probability = np.exp(log_p)
                coverages.append(probability[(low <= p_b - p_c) & (p_b - p_c <= high)].sum())
        rows.append([n, float(np.mean(coverages)), float(np.min(coverages))])
    table(
        "Paired difference: Tango's exact coverage over P(b), P(c) in {0.005 .. 0.35}^2 (36 points)",
        ["n", "mean", "min"],
        rows,
    )


def section_proportion(rng, simulations):
    rows = []
    grid = np.linspace(0.01, 0.99, 99)
    for n in (10, 50, 500):
        x = np.arange(n + 1)
        wilson = wilson_interval(x, n)
        clopper = (
            np.where(x > 0, beta_distribution.ppf(0.025, x, n - x + 1), 0.0),
            np.where(x < n, beta_distribution.ppf(0.975, x + 1, n - x), 1.0),
        )
        star = rng.binomial(n, x[:, None] / n, size=(n + 1, 1000)) / n
        bootstrap = (np.quantile(star, 0.025, axis=1), np.quantile(star, 0.975, axis=1))
        row = [n]
        for low, high in (wilson, clopper, bootstrap):
            coverage = np.array([binom.pmf(x, n, p)[(low <= p) & (p <= high)].sum() for p in grid])
            row += [float(coverage.mean()), float(coverage.min()), float(coverage[89])]
        rows.append(row)
    table(
        "Proportion: exact coverage over p = 0.01 .. 0.99 (mean, min, at p = 0.90)",
        ["n", "Wilson mean", "min", "p=.9", "Clopper-Pearson mean", "min", "p=.9", "bootstrap mean", "min", "p=.9"],
        rows,
    )


def bounded_draws(rng, kind, size, n):
    if kind == "Bernoulli(0.9)":
        return (rng.random((size, n)) < 0.9).astype(float), 0.9
    if kind == "Beta(20,1)":
        return rng.beta(20.0, 1.0, (size, n)), 20.0 / 21.0
    if kind == "Beta(17,3)":
        return rng.beta(17.0, 3.0, (size, n)), 0.85
    dips = rng.random((size, n))  # "90% exact 1.0, 10% uniform"
    return np.where(rng.random((size, n)) < 0.9, 1.0, dips), 0.95


def bootstrap_mean(rng, values, resamples=1000):
    means = values[rng.integers(0, values.size, size=(resamples, values.size))].mean(axis=1)
    return np.quantile(means, 0.025), np.quantile(means, 0.975)


def section_bounded(rng, simulations):
    rows = []
    for n in (10, 50, 500):
        size = simulations if n < 500 else simulations // 4
        for kind in ("Bernoulli(0.9)", "Beta(20,1)", "Beta(17,3)", "90% ones + 10% U(0,1)"):
            values, mean = bounded_draws(rng, kind, size, n)
            score = bounded_mean_interval(values)
            betting = tuple(np.array(v) for v in zip(*(betting_interval(row) for row in values[:400])))
            centre, spread = values.mean(axis=1), values.std(axis=1, ddof=1) / np.sqrt(n)
            quantile = student_t.ppf(0.975, n - 1)
            t_interval = (centre - quantile * spread, centre + quantile * spread)
            bootstrap = tuple(np.array(v) for v in zip(*(bootstrap_mean(rng, row) for row in values[:400])))
            row = [n, kind]
            for low, high in (score, betting, t_interval, bootstrap):
                row += [covered(low, high, mean), float(np.mean(high - low))]
            rows.append(row)
    table(
        "Bounded mean (probability loyalty): simulated coverage and mean width (betting and bootstrap: 400 runs)",
        [
            "n",
            "values",
            "Wilson-bound cov",
            "width",
            "betting cov",
            "width",
            "t cov",
            "width",
            "bootstrap cov",
            "width",
        ],
        rows,
    )


def section_sequential(rng, simulations):
    rows, limit = [], 0.10
    for n, block in ((10, 5), (50, 10), (500, 50)):
        size = min(simulations, 1000 if n < 500 else 500)
        looks = planned_looks(block, n)
        for p_b, p_c in ((0.0, 0.0), (0.05, 0.05), (0.15, 0.05), (0.25, 0.05)):
            drop = p_b - p_c
            outcomes = rng.choice([1.0, -1.0, 0.0], p=[p_b, p_c, 1 - p_b - p_c], size=(size, n))
            low, high = sequential_interval(outcomes, looks=looks)
            decided = (high <= limit) | (low > limit)
            stop = np.where(decided.any(axis=1), decided.argmax(axis=1), len(looks) - 1)
            at_stop = np.arange(size), stop
            inside = (low <= drop) & (drop <= high)
            wrong = (low[at_stop] > limit) if drop <= limit + 1e-12 else (high[at_stop] <= limit)
            # the same stopping rule on Tango's fixed-n interval ("peeking")
            peek_wrong, still_open = np.zeros(size, dtype=bool), np.ones(size, dtype=bool)
            for look in looks:
                b, c = (outcomes[:, :look] == 1).sum(axis=1), (outcomes[:, :look] == -1).sum(axis=1)
                t_low, t_high = paired_difference_interval(b, c, look)
                peek_wrong |= still_open & ((t_low > limit) if drop <= limit + 1e-12 else (t_high <= limit))
                still_open &= ~((t_high <= limit) | (t_low > limit))
            used = np.asarray(looks)[stop]
            rows.append(
                [
                    n,
                    block,
                    f"{p_b:.2f} / {p_c:.2f} ({drop:+.2f})",
                    float(inside.all(axis=1).mean()),
                    float(inside[at_stop].mean()),
                    float(decided.any(axis=1).mean()),
                    float(used.mean()),
                    float(wrong.mean()),
                    float(peek_wrong.mean()),
                ]
            )
    table(
        "Sequential robustness (limit 0.10): betting CS at every look / at the stop, share decided, "
        "mean examples used, wrong-side verdicts; and peeking at Tango's fixed-n CI",
        [
            "n",
            "block",
            "P(b) / P(c) (true drop)",
            "CS cov all looks",
            "CS cov at stop",
            "decided",
            "mean n used",
            "CS wrong verdicts",
            "peeking Tango wrong",
        ],
        rows,
    )


def latency_rounds(rng, size, n, log_speedup, sigma, hiccup=0.05):
    """Per-round timings: shared drift, log-normal noise, and hiccups (5%: +Exp(0.3) in log seconds)."""
    drift = np.cumsum(rng.normal(0.0, 0.02, (size, n)), axis=1)

    def noise():
        return rng.normal(0.0, sigma, (size, n)) + np.where(
            rng.random((size, n)) < hiccup, rng.exponential(0.3, (size, n)), 0.0
        )

    return np.exp(drift + noise()), np.exp(drift - log_speedup + noise())


def section_latency(rng, simulations):
    rows = []
    for n in (10, 20, 50):
        for sigma in (0.02, 0.05, 0.10):
            teacher, student = latency_rounds(rng, simulations, n, np.log(1.3), sigma)
            ratios = np.sort(teacher / student, axis=1)
            k = order_statistic_rank(n)
            truth = 1.3  # the median ratio: drift cancels and both noises are identically distributed
            median_ci = (ratios[:, k - 1], ratios[:, n - k])
            logs = np.log(ratios)
            half = student_t.ppf(0.975, n - 1) * logs.std(axis=1, ddof=1) / np.sqrt(n)
            t_ci = (np.exp(logs.mean(axis=1) - half), np.exp(logs.mean(axis=1) + half))
            rows.append([n, sigma, covered(*median_ci, truth), covered(*t_ci, truth)])
    table(
        "Latency: coverage of the median ratio 1.3 (order-statistic CI vs t-interval on log ratios; "
        "5% hiccups, which do not shift the median)",
        ["rounds", "noise sigma", "median CI", "t on logs"],
        rows,
    )
    rows = []
    size = simulations // 4
    for sigma in (0.02, 0.05, 0.10):
        for true_speedup, label in ((1.0, "A/A (identical)"), (0.8, "20% slower"), (1.9, "1.9x faster")):
            teacher, student = latency_rounds(rng, size, 50, np.log(true_speedup), sigma)
            for limit in (1.0, 0.95, 0.90):
                failed = {rule: 0 for rule, _ in RULES}
                used = []
                for run in range(size):
                    for look in planned_looks(10, 50):
                        result = latency_decision(
                            teacher[run, :look], student[run, :look], limit, block_size=10, max_rounds=50
                        )
                        if result.stopped:
                            break
                    used.append(result.n_used)
                    d = result.decision
                    for rule, policy in RULES:
                        failed[rule] += not decide(d.estimate, d.low, d.high, limit, "at_least", rule, policy).passed
                rows.append([sigma, label, limit] + [failed[rule] / size for rule, _ in RULES] + [float(np.mean(used))])
    table(
        f"Latency gate, rounds in blocks of 10 up to 50, Bonferroni over 5 looks ({size} runs): FAIL rate",
        ["noise sigma", "student", "limit", "estimate", "confident", "three-way (inconclusive=pass)", "mean rounds"],
        rows,
    )


def section_demo(rng, simulations):
    n, rows = 854, []
    scenarios = [
        (
            "accuracy_drop, identical student (b = c = 0)",
            lambda: paired_difference_interval(0, 0, n) + (0.0,),
            0.02,
            "at_most",
        ),
        ("label_loyalty, identical student (all agree)", lambda: wilson_interval(n, n) + (1.0,), 0.90, "at_least"),
        (
            "probability_loyalty, identical student (all 1.0)",
            lambda: bounded_mean_interval(np.ones(n)) + (1.0,),
            0.85,
            "at_least",
        ),
    ]
    for name, interval, limit, direction in scenarios:
        low, high, estimate = interval()
        rows.append(
            [name, 1]
            + [float(not decide(estimate, low, high, limit, direction, rule, policy).passed) for rule, policy in RULES]
        )
    for disagreement in (0.05, 0.10, 0.20):  # same accuracy, different mistakes: true drop 0
        counts = rng.multinomial(n, [disagreement / 2, disagreement / 2, 1 - disagreement], size=simulations)
        low, high = paired_difference_interval(counts[:, 0], counts[:, 1], n)
        estimate = (counts[:, 0] - counts[:, 1]) / n
        rows.append(
            [f"accuracy_drop A/A: true drop 0, {disagreement:.0%} disagree (limit 0.02)", simulations]
            + [
                float(
                    np.mean(
                        [
                            not decide(e, lo, hi, 0.02, "at_most", rule, policy).passed
                            for e, lo, hi in zip(estimate, low, high)
                        ]
                    )
                )
                for rule, policy in RULES
            ]
        )
    agree = rng.binomial(n, 0.80, size=simulations)
    low, high = wilson_interval(agree, n)
    rows.append(
        ["label_loyalty truly 0.80 (limit 0.90): detection", simulations]
        + [
            float(
                np.mean(
                    [
                        not decide(a / n, lo, hi, 0.90, "at_least", rule, policy).passed
                        for a, lo, hi in zip(agree, low, high)
                    ]
                )
            )
            for rule, policy in RULES
        ]
    )
    table(
        "Demo data size n = 854: FAIL rate per rule (A/A rows: false fails; detection row: wanted fails)",
        ["scenario", "runs", "estimate", "confident", "three-way (inconclusive=pass)"],
        rows,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulations", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(f"# Verdict statistics: coverage and error rates (seed {args.seed}, {args.simulations} simulations)")
    for section in (
        section_paired,
        section_proportion,
        section_bounded,
        section_sequential,
        section_latency,
        section_demo,
    ):
        section(np.random.default_rng(args.seed), args.simulations)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
