"""Figures measured by benchmarks/bench_verdicts.py --all, quoted in every report's footer.

A measurement, not a computation: rerun the benchmark after changing a default or an interval
and copy its "family" line here (and into the README's verdict section).
"""

FAMILY_AA_FALSE_FAIL = ("defaults: a student identical to its teacher fails at least one gate in MEASURED "
                        "(measured YYYY-MM-DD, benchmarks/bench_verdicts.py --all)")
