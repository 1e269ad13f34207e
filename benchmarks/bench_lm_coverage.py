"""Coverage of the clustered intervals for token-loyalty means, by simulation.

Tokens come in texts whose lengths vary (1 + geometric, mean about 30, capped at 200) and share a
text-level effect, so tokens of one text are correlated; the true per-token mean is known in
closed form. For each corpus size (20, 100, 500 texts) and each metric shape, many seeded
corpora are drawn, and the share of 95% intervals that contain the truth is printed for the
ratio interval the gates use (``cluster_ratio_interval``: CR3 variance, Satterthwaite degrees of
freedom, the score interval under the metric's working variance: Wilson-type for agreement,
constant coefficient of variation for KL), with how often the truth fell below / above it; the
Wald interval on the logit / log scale from the same standard error (what the gates used before
2026-12-03); the textbook CR1 variance with a t quantile on G - 1 degrees of freedom; the
percentile cluster bootstrap (``cluster_bootstrap_interval``) and, for contrast, the naive
interval that treats tokens as independent. Target: 0.94-0.96.

The first three shapes are the ones the module docstring's table reports; the last three check
robustness beyond them: KL with a heavier token tail (log-sd 1.5), KL with twice the text effect
(log-sd 1.0), and a share peaked near 1 (per-text rate ~ Beta(18, 2)).

    PYTHONPATH=. python benchmarks/bench_lm_coverage.py [--runs 1000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats as scipy_stats

from loyalty_tests.stats.clustered import cluster_bootstrap_interval, cluster_ratio_interval

# as lm.token_loyalty uses them
TRANSFORM = {"agreement": "logit", "kl": "log", "nll_diff": "identity"}
TRANSFORM.update({"kl_tok1.5": "log", "kl_text1": "log", "agree_peak": "logit"})


def corpus(rng, texts: int, shape: str):
    """(per-text sums, per-text token counts, per-token values, true per-token mean)."""
    lengths = np.minimum(1 + rng.geometric(1 / 30, size=texts), 200)
    index = np.repeat(np.arange(texts), lengths)
    if shape in ("agreement", "agree_peak"):  # same top-1: Bernoulli with a per-text rate ~ Beta(8, 2)
        a = 8 if shape == "agreement" else 18
        rate = rng.beta(a, 2, size=texts)
        values, truth = (rng.random(index.size) < rate[index]).astype(float), a / (a + 2)
    elif shape.startswith("kl"):  # per-token KL: lognormal with a per-text log-effect ~ N(0, 0.5^2), heavy right tail
        text_sd, token_sd = {"kl": (0.5, 1.0), "kl_tok1.5": (0.5, 1.5), "kl_text1": (1.0, 1.0)}[shape]
        effect = rng.normal(0, text_sd, size=texts)
        values = np.exp(np.log(0.05) + effect[index] + rng.normal(0, token_sd, size=index.size))
        truth = np.exp(np.log(0.05) + 0.5 * text_sd**2 + 0.5 * token_sd**2)
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


def wald_on_scale(sums, counts, transform, confidence=0.95):
    """The gates' interval before 2026-12-03: the same CR3 standard error and t quantile, estimate
    +- half-width on the logit / log scale (delta method), mapped back."""
    estimate, _, high = cluster_ratio_interval(sums, counts, confidence, "identity")
    half = high - estimate  # t quantile x standard error
    if transform == "log" and estimate > 0:
        return estimate * np.exp(-half / estimate), estimate * np.exp(half / estimate)
    if transform == "logit" and 0 < estimate < 1:
        centre, spread = np.log(estimate / (1 - estimate)), half / (estimate * (1 - estimate))
        return 1 / (1 + np.exp(-(centre - spread))), 1 / (1 + np.exp(-(centre + spread)))
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
        f"{'metric':<10} {'texts':>5} {'score (gates)':>13} {'below/above':>11} {'Wald scale':>10} {'below/above':>11} "
        f"{'CR1 t(G-1)':>10} {'cluster boot':>12} {'naive tokens':>12}  runs"
    )
    for shape_index, shape in enumerate(TRANSFORM):
        for texts in (20, 100, 500):
            rng = np.random.default_rng([shape_index, texts])  # seeded per cell
            hits = dict.fromkeys(
                ("ratio", "below", "above", "wald", "wald_below", "wald_above", "cr1", "boot", "naive"), 0
            )
            for run in range(args.runs):
                sums, counts, values, truth = corpus(rng, texts, shape)
                _, low, high = cluster_ratio_interval(sums, counts, transform=TRANSFORM[shape])
                hits["ratio"] += low <= truth <= high
                hits["below"] += truth < low
                hits["above"] += truth > high
                low, high = wald_on_scale(sums, counts, TRANSFORM[shape])
                hits["wald"] += low <= truth <= high
                hits["wald_below"] += truth < low
                hits["wald_above"] += truth > high
                low, high = cr1(sums, counts)
                hits["cr1"] += low <= truth <= high
                low, high = naive(values)
                hits["naive"] += low <= truth <= high
                if run < args.bootstrap_runs:
                    _, low, high = cluster_bootstrap_interval(sums, counts, n_resamples=1000, seed=run)
                    hits["boot"] += low <= truth <= high
            share = {name: count / args.runs for name, count in hits.items()}
            print(
                f"{shape:<10} {texts:>5} {share['ratio']:>13.3f} {share['below']:>5.3f}/{share['above']:.3f} "
                f"{share['wald']:>10.3f} {share['wald_below']:>5.3f}/{share['wald_above']:.3f} "
                f"{share['cr1']:>10.3f} {hits['boot'] / args.bootstrap_runs:>12.3f} "
                f"{share['naive']:>12.3f}  {args.runs}/{args.bootstrap_runs}",
                flush=True,
            )
    print(f"({time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
