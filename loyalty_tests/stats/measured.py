"""Figures measured by benchmarks/bench_verdicts.py --all, quoted in every report's footer.

A measurement, not a computation: rerun the benchmark after changing a default or an interval
and copy its summary here (and into the README's verdict section).
"""

FAMILY_AA_FALSE_FAIL = (
    "A/A family-wise false-FAIL rate of the defaults, measured 2026-12-03 "
    "(benchmarks/bench_verdicts.py --all): a student identical to its teacher failed no gate in "
    "1,000 seeded runs of the prediction, robustness and margin gates at n = 854 (95% upper bound "
    "0.4%) and no latency gate in 305 real runs on a runner kept busy by 2 spinning processes "
    "(95% upper bound 1.2%)"
)
