"""Hypothesis properties of the verdict statistics: the outcome agrees with the CI, intervals
contain their estimate and nest as confidence grows, mirrored data give mirrored intervals, and
the examples needed to decide fall as the effect moves away from the limit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from loyalty_tests.stats.intervals import (
    bounded_mean_interval,
    decide,
    on_good_side,
    paired_difference_interval,
    three_way_outcome,
    wilson_interval,
)
from loyalty_tests.stats.sample_size import paired_examples_to_decide, proportion_examples_to_decide
from loyalty_tests.stats.sequential import betting_interval, sequential_interval

fast = settings(max_examples=80, deadline=None, database=None, derandomize=True)
confidences = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99])
directions = st.sampled_from(["at_least", "at_most"])
unit = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def paired_counts(draw, max_n: int = 600):
    n = draw(st.integers(1, max_n))
    b = draw(st.integers(0, n))
    c = draw(st.integers(0, n - b))
    return b, c, n


@st.composite
def intervals(draw):
    low, high = sorted(draw(st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=2, max_size=2)))
    return low, high


@fast
@given(intervals(), st.floats(-1.0, 1.0, allow_nan=False), directions)
def test_outcome_is_consistent_with_the_interval(interval, limit, direction):
    low, high = interval
    outcome = three_way_outcome(low, high, limit, direction)
    every_value_passes = on_good_side(low, limit, direction) and on_good_side(high, limit, direction)
    no_value_passes = not on_good_side(low, limit, direction) and not on_good_side(high, limit, direction)
    assert (outcome == "PASS") == every_value_passes
    assert (outcome == "FAIL") == no_value_passes
    # flipping the direction and the sign swaps PASS-ness of each end symmetrically
    mirrored = three_way_outcome(-high, -low, -limit, "at_most" if direction == "at_least" else "at_least")
    assert mirrored == outcome


@fast
@given(intervals(), st.floats(-1.0, 1.0, allow_nan=False), directions, st.sampled_from(["fail", "warn", "pass"]))
def test_rules_are_ordered_confident_is_strictest(interval, limit, direction, policy):
    low, high = interval
    estimate = (low + high) / 2
    confident = decide(estimate, low, high, limit, direction, "confident")
    three_way = decide(estimate, low, high, limit, direction, "three-way", policy)
    by_estimate = decide(estimate, low, high, limit, direction, "estimate")
    # A confident PASS passes every rule; a FAIL outcome fails every rule whose verdict uses the CI.
    if confident.passed:
        assert three_way.passed and by_estimate.passed
    if confident.outcome == "FAIL":
        assert not three_way.passed and not by_estimate.passed
    assert three_way.warned == (three_way.outcome == "INCONCLUSIVE" and policy == "warn")


@fast
@given(paired_counts(), confidences, confidences)
def test_paired_interval_contains_estimate_and_nests(counts, first, second):
    b, c, n = counts
    narrow, wide = sorted([first, second])
    low_narrow, high_narrow = paired_difference_interval(b, c, n, narrow)
    low_wide, high_wide = paired_difference_interval(b, c, n, wide)
    assert -1.0 <= low_wide <= low_narrow <= (b - c) / n + 1e-12
    assert (b - c) / n - 1e-12 <= high_narrow <= high_wide <= 1.0


@fast
@given(paired_counts(), confidences)
def test_swapping_teacher_and_student_mirrors_the_paired_interval(counts, confidence):
    b, c, n = counts
    low, high = paired_difference_interval(b, c, n, confidence)
    mirrored_low, mirrored_high = paired_difference_interval(c, b, n, confidence)
    assert mirrored_low == -high and mirrored_high == -low
    if b == c:
        assert low == -high


@fast
@given(st.integers(1, 2000), st.data(), confidences, confidences)
def test_wilson_contains_estimate_nests_and_mirrors(n, data, first, second):
    successes = data.draw(st.integers(0, n))
    narrow, wide = sorted([first, second])
    low_narrow, high_narrow = wilson_interval(successes, n, narrow)
    low_wide, high_wide = wilson_interval(successes, n, wide)
    assert 0.0 <= low_wide <= low_narrow <= successes / n <= high_narrow <= high_wide <= 1.0
    low_failures, high_failures = wilson_interval(n - successes, n, narrow)
    assert abs(low_failures - (1 - high_narrow)) < 1e-12 and abs(high_failures - (1 - low_narrow)) < 1e-12


@fast
@given(st.lists(unit, min_size=1, max_size=60), confidences)
def test_bounded_mean_intervals_contain_the_mean_and_mirror(values, confidence):
    values = np.array(values)
    for interval in (bounded_mean_interval, betting_interval):
        low, high = interval(values, confidence)
        assert 0.0 <= low <= values.mean() + 1e-9 and values.mean() - 1e-9 <= high <= 1.0
        mirrored_low, mirrored_high = interval(1.0 - values, confidence)
        assert abs(mirrored_low - (1 - high)) < 1e-9 and abs(mirrored_high - (1 - low)) < 1e-9


@fast
@given(st.lists(st.sampled_from([-1.0, 0.0, 1.0]), min_size=5, max_size=80), confidences, confidences)
def test_confidence_sequence_never_widens_and_nests(values, first, second):
    narrow, wide = sorted([first, second])
    low_narrow, high_narrow = sequential_interval(values, narrow)
    low_wide, high_wide = sequential_interval(values, wide)
    assert np.all(np.diff(low_narrow) >= 0) and np.all(np.diff(high_narrow) <= 0)
    assert np.all(low_wide <= low_narrow + 1e-9) and np.all(high_narrow <= high_wide + 1e-9)


@settings(max_examples=40, deadline=None, database=None, derandomize=True)
@given(st.integers(10, 400), st.data(), st.floats(0.01, 0.3), directions)
def test_examples_needed_fall_as_the_drop_moves_away_from_the_limit(n, data, limit, direction):
    # Hold the disagreements b + c fixed and move the drop (b - c)/n away from the limit, on
    # either side: the examples needed never grow.
    disagreements = data.draw(st.integers(0, n))
    drops = {b: (2 * b - disagreements) / n for b in range(disagreements + 1)}
    below = sorted((b for b, drop in drops.items() if drop < limit - 1e-9), key=lambda b: limit - drops[b])
    above = sorted((b for b, drop in drops.items() if drop > limit + 1e-9), key=lambda b: drops[b] - limit)
    for side in (below, above):
        side = side[:: max(1, len(side) // 6)]  # a spread of drops, nearest first, keeps it fast
        needs = [paired_examples_to_decide(b, disagreements - b, n, limit, direction) for b in side]
        assert all(need is not None for need in needs)
        assert all(nearer >= further for nearer, further in zip(needs, needs[1:])), needs


@fast
@given(st.integers(10, 1000), st.floats(0.5, 0.95), st.floats(0.005, 0.04), directions)
def test_examples_needed_fall_as_the_proportion_moves_away(n, limit, step, direction):
    sign = 1 if direction == "at_least" else -1
    needs = [
        proportion_examples_to_decide(n * min(1.0, limit + sign * k * step), n, limit, direction) for k in (1, 2, 4)
    ]
    assert all(need is not None for need in needs)
    assert needs[0] >= needs[1] >= needs[2]
    assert proportion_examples_to_decide(n * limit, n, limit, direction) is None  # on the limit: no n decides
