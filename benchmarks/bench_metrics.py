"""Probability loyalty: our vectorized numpy version vs a Python loop of scipy's jensenshannon.

    python benchmarks/bench_metrics.py [--rows 1000000] [--classes 3] [--loop-rows 20000]

The vectorized metric runs on all rows (best of 3, input checks included). The scipy loop is
timed on the first --loop-rows rows only and extrapolated linearly to all rows (a per-row loop
costs the same per row at any size); the output says so. Target ratio: >= 50x. The two agree
to 1e-9 on the looped rows (checked here as well).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.spatial.distance import jensenshannon

from loyalty_tests.metrics import per_example_probability_loyalty, probability_loyalty


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--classes", type=int, default=3)
    parser.add_argument("--loop-rows", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    teacher = rng.dirichlet(np.ones(args.classes), size=args.rows)
    # a student close to the teacher, as after compression, with some exact zeros mixed in
    student = 0.8 * teacher + 0.2 * rng.dirichlet(np.ones(args.classes), size=args.rows)
    student[: args.rows // 10, 0] = 0.0
    student /= student.sum(axis=1, keepdims=True)

    vectorized = best_of(3, lambda: probability_loyalty(teacher, student))

    loop_rows = min(args.loop_rows, args.rows)
    subset_t, subset_s = teacher[:loop_rows], student[:loop_rows]
    start = time.perf_counter()
    looped = np.array([1.0 - jensenshannon(t, s, base=2) for t, s in zip(subset_t, subset_s)])
    loop_subset = time.perf_counter() - start
    loop_estimate = loop_subset * args.rows / loop_rows

    error = np.abs(per_example_probability_loyalty(subset_t, subset_s) - looped).max()
    print(f"probability_loyalty on {args.rows:,} x {args.classes} rows (seed {args.seed})")
    print(f"  vectorized numpy (best of 3):        {vectorized:9.3f} s")
    print(
        f"  scipy jensenshannon Python loop:     {loop_estimate:9.3f} s  (extrapolated linearly from "
        f"{loop_subset:.3f} s on the first {loop_rows:,} rows)"
    )
    print(f"  speedup:                             {loop_estimate / vectorized:9.1f}x  (target >= 50x)")
    print(f"  max |difference| on the looped rows: {error:.2e}")


if __name__ == "__main__":
    main()
