"""Built-in release gates: one test item per gate and student (``-k`` selects them).

The prediction gates' items are made from the gate registry (``loyalty_tests.gates.registry``),
one per entry, so a new prediction gate needs no line here; latency, robustness and baseline
take fixtures of their own. Each gate's thresholds, their sources and the default values are
listed in the report header; see ``loyalty_tests/gates/thresholds.py``.
"""

from loyalty_tests.gates.registry import GATES, PREDICTION_GATES


def _prediction_gate_test(name: str):
    def test(loyalty_gate):
        loyalty_gate.check(name)

    test.__name__ = test.__qualname__ = f"test_{name}"
    test.__doc__ = GATES[name].summary
    return test


for _name in PREDICTION_GATES:
    globals()[f"test_{_name}"] = _prediction_gate_test(_name)


def test_latency(loyalty_gate, benchmark):
    """The student is at least min_speedup times as fast, timed side by side with the teacher in
    rounds until the speedup's CI clears the limit."""
    loyalty_gate.check_latency(benchmark)


def test_robustness(loyalty_gate):
    """Accuracy under attack falls at most max_robustness_drop below the teacher's on the same examples.

    Collected only with --attack RECIPE."""
    loyalty_gate.check_robustness()


def test_margin_drop(loyalty_gate):
    """The mean words-to-flip margin falls at most max_margin_drop words below the teacher's on the
    same examples (unflipped examples censored at the recipe's bound).

    Collected only with --attack RECIPE."""
    loyalty_gate.check_margin_drop()


def test_baseline(loyalty_gate):
    """No metric fell more than baseline_tolerance below the previous release's report.

    Collected only with --loyalty-baseline PATH."""
    loyalty_gate.check_baseline()
