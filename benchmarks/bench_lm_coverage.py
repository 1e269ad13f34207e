"""Coverage of the clustered intervals for token-loyalty means, by simulation.

Tokens come in texts whose lengths vary (1 + geometric, mean about 30, capped at 200) and share a
text-level effect, so tokens of one text are correlated; the true per-token mean is known in
closed form. For each corpus size (20, 100, 500 texts) and each metric shape, many seeded
corpora are drawn, and the share of 95% intervals that contain the truth is printed for the
ratio interval the gates use (``cluster_ratio_interval``: CR3 variance, Satterthwaite degrees of
freedom, on the metric's scale: logit for agreement, log for KL), the textbook CR1 variance
with a t quantile on G - 1 degrees of freedom, the percentile cluster bootstrap
(``cluster_bootstrap_interval``) and, for contrast, the naive interval that treats tokens as
independent. Target: 0.94-0.96.

    PYTHONPATH=. python benchmarks/bench_lm_coverage.py [--runs 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats as scipy_stats

from loyalty_tests.stats.clustered import cluster_bootstrap_interval, cluster_ratio_interval

TRANSFORM = {"agreement": "logit", "kl": "log", "nll_diff": "identity"}  # as lm.token_loyalty uses them


def corpus(rng, texts: int, shape: str):
    """(per-text sums, per-text token counts, per-token values, true per-token mean)."""
    lengths = np.minimum(1 + rng.geometric(1 / 30, size=texts), 200)
    index = np.repeat(np.arange(texts), lengths)
    if shape == "agreement":  # same top-1: Bernoulli with a per-text rate ~ Beta(8, 2)
        rate = rng.beta(8, 2, size=texts)
        values, truth = (rng.random(index.size) < rate[index]).astype(float), 0.8
    elif shape == "kl":  # per-token KL: lognormal with a per-text log-effect ~ N(0, 0.5^2), heavy right tail
        effect = rng.normal(0, 0.5, size=texts)
        values = np.exp(np.log(0.05) + effect[index] + rng.normal(0, 1.0, size=index.size))
        truth = np.exp(np.log(0.05) + 0.5 * 0.5**2 + 0.5)
    else:  # NLL difference student - teacher: per-text shift ~ N(0, 0.2^2), token noise N(0, 1)
        effect = rng.normal(0, 0.2, size=texts)
        values, truth = 0.05 + effect[index] + rng.normal(0, 1.0, size=index.size), 0.05
    sums = np.bincount(index, weights=values, minlength=texts)
    return sums, lengths.astype(float), values, truth


def cr1(sums, counts, confidence=0.95):
    groups, estimate = len(sums), sums.sum() / counts.sum()
    se = np.sqrt(groups / (groups - 1) * ((sums - estimate * counts) ** 2).sum()) / counts.sum()
    half = scipy_stats.t.ppf(0.5 + confidence / 2, groups - 1) * se
    return estimate - half, estimate + half


def naive(values, confidence=0.95):
    half = scipy_stats.norm.ppf(0.5 + confidence / 2) * values.std(ddof=1) / np.sqrt(values.size)
    return values.mean() - half, values.mean() + half


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--bootstrap-runs", type=int, default=300, help="the bootstrap is slow: fewer corpora")
    args = parser.parse_args()
    started = time.perf_counter()
    print(
        f"{'metric':<10} {'texts':>5} {'CR3+df (gates)':>15} {'CR1 t(G-1)':>11} {'cluster boot':>13} "
        f"{'naive tokens':>13}  runs"
    )
    for shape_index, shape in enumerate(("agreement", "kl", "nll_diff")):
        for texts in (20, 100, 500):
            rng = np.random.default_rng([shape_index, texts])  # seeded per cell
            hits = {"ratio": 0, "cr1": 0, "boot": 0, "naive": 0}
            for run in range(args.runs):
                sums, counts, values, truth = corpus(rng, texts, shape)
                _, low, high = cluster_ratio_interval(sums, counts, transform=TRANSFORM[shape])
                hits["ratio"] += low <= truth <= high
                low, high = cr1(sums, counts)
                hits["cr1"] += low <= truth <= high
                low, high = naive(values)
                hits["naive"] += low <= truth <= high
                if run < args.bootstrap_runs:
                    _, low, high = cluster_bootstrap_interval(sums, counts, n_resamples=1000, seed=run)
                    hits["boot"] += low <= truth <= high
            print(
                f"{shape:<10} {texts:>5} {hits['ratio'] / args.runs:>15.3f} {hits['cr1'] / args.runs:>11.3f} "
                f"{hits['boot'] / args.bootstrap_runs:>13.3f} {hits['naive'] / args.runs:>13.3f}  "
                f"{args.runs}/{args.bootstrap_runs}",
                flush=True,
            )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
