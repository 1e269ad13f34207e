"""Built-in release gates: one test item per gate and student (``-k`` selects them).

Each gate's thresholds, their sources and the default values are listed in the report header;
see ``loyalty_tests/thresholds.py``.
"""


def test_accuracy_drop(loyalty_gate):
    """The student's accuracy may fall at most max_accuracy_drop below the teacher's."""
    loyalty_gate.check("accuracy_drop")


def test_label_loyalty(loyalty_gate):
    """The student predicts the teacher's label on at least min_label_loyalty of the examples."""
    loyalty_gate.check("label_loyalty")


def test_probability_loyalty(loyalty_gate):
    """Mean 1 - sqrt(JSD) between the two models' probabilities is at least min_probability_loyalty."""
    loyalty_gate.check("probability_loyalty")


def test_negative_flip_rate(loyalty_gate):
    """At most max_negative_flip_rate of all examples go from right (teacher) to wrong (student)."""
    loyalty_gate.check("negative_flip_rate")


def test_label_distribution(loyalty_gate):
    """The student has not collapsed onto a few labels the teacher spreads its predictions over."""
    loyalty_gate.check("label_distribution")


def test_latency(loyalty_gate, benchmark):
    """The student is at least min_speedup times as fast, timed side by side with the teacher in
    rounds until the speedup's CI clears the limit."""
    loyalty_gate.check_latency(benchmark)


def test_robustness(loyalty_gate):
    """Accuracy under attack falls at most max_robustness_drop below the teacher's on the same examples.

    Collected only with --attack RECIPE."""
    loyalty_gate.check_robustness()


def test_baseline(loyalty_gate):
    """No metric fell more than baseline_tolerance below the previous release's report.

    Collected only with --loyalty-baseline PATH."""
    loyalty_gate.check_baseline()
