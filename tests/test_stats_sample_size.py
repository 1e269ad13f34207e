"""Examples needed to decide a gate, and whether even an identical student can PASS at all."""

from __future__ import annotations

import numpy as np
import pytest

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.stats.bounded_means import _score_bounds, dispersion_parts, dispersion_score_interval
from loyalty_tests.stats.exact import clopper_pearson_interval, gate_paired_interval
from loyalty_tests.stats.intervals import normal_quantile, three_way_outcome
from loyalty_tests.stats.sample_size import (
    bounded_mean_examples_to_decide,
    feasibility_text,
    identical_student_feasibility,
    paired_examples_to_decide,
    proportion_examples_to_decide,
    undecided_text,
)


def _first_deciding_n(interval_at, limit, direction, stop=20000):
    """Reference: the interval at every n = 1 .. stop (vectorised), then the first PASS or FAIL."""
    sizes = np.arange(1, stop, dtype=np.float64)
    lows, highs = interval_at(sizes)
    for n, low, high in zip(sizes, lows, highs):
        if three_way_outcome(float(low), float(high), limit, direction) != "INCONCLUSIVE":
            return int(n)
    return None


@pytest.mark.parametrize(
    "b, c, n, limit, direction",
    [
        (3, 0, 50, 0.10, "at_most"),
        (0, 0, 10, 0.10, "at_most"),
        (9, 1, 40, 0.10, "at_most"),  # pass side, fail side
        (4, 4, 30, 0.02, "at_most"),
        (2, 6, 30, 0.02, "at_most"),
        (6, 2, 20, -0.1, "at_least"),
    ],
)
def test_paired_examples_needed_match_a_walk_over_n(b, c, n, limit, direction):
    rate_b, rate_c = b / n, c / n
    # exact integer counts exist only at some m, so the reference walks the fractional-count interval
    from loyalty_tests.stats.intervals import _tango_upper

    z = normal_quantile(0.95)
    expected = _first_deciding_n(
        lambda m: (-_tango_upper(m * rate_c, m * rate_b, m, z, 1.0), _tango_upper(m * rate_b, m * rate_c, m, z, 1.0)),
        limit,
        direction,
    )
    assert paired_examples_to_decide(b, c, n, limit, direction) == expected
    # and at whole counts where they exist: scale the table by k
    needed = expected
    for k in (2, 3, 5):
        if k * n >= needed:
            outcome = three_way_outcome(*gate_paired_interval(k * b, k * c, k * n), limit, direction)
            assert outcome != "INCONCLUSIVE"


@pytest.mark.parametrize(
    "successes, n, limit, direction",
    [
        (44, 50, 0.90, "at_least"),
        (48, 50, 0.90, "at_least"),
        (10, 10, 0.90, "at_least"),
        (3, 100, 0.02, "at_most"),
        (0, 20, 0.05, "at_most"),
        (30, 50, 0.90, "at_least"),
    ],
)
def test_proportion_examples_needed_match_a_walk_over_n(successes, n, limit, direction):
    rate = successes / n
    from loyalty_tests.stats.exact import _clopper_pearson

    expected = _first_deciding_n(lambda m: _clopper_pearson(m * rate, m, 0.05), limit, direction)
    assert proportion_examples_to_decide(successes, n, limit, direction) == expected


def test_examples_needed_is_none_on_the_limit_and_at_most_n_when_already_decided():
    assert paired_examples_to_decide(6, 1, 50, 0.10) is None  # drop exactly 0.10
    assert proportion_examples_to_decide(45, 50, 0.90) is None
    decided_n = 854
    assert three_way_outcome(*clopper_pearson_interval(840, decided_n), 0.90, "at_least") == "PASS"
    assert proportion_examples_to_decide(840, decided_n, 0.90) <= decided_n


def test_needed_examples_for_the_issues_cases():
    # 10 attacked examples, none disagreeing: the drop gate needs 53 (35 without the continuity count).
    assert paired_examples_to_decide(0, 0, 10, 0.10) == 53
    assert three_way_outcome(*gate_paired_interval(0, 0, 53), 0.10, "at_most") == "PASS"
    assert three_way_outcome(*gate_paired_interval(0, 0, 52), 0.10, "at_most") == "INCONCLUSIVE"
    # An observed drop of 0.06 on 50 examples against 0.10: the score test's variance at the limit decides.
    assert 150 < paired_examples_to_decide(3, 0, 50, 0.10) < 300


def test_bounded_mean_examples_needed_use_its_interval():
    values = np.tile([0.9, 0.8, 0.95, 0.7, 1.0], 4)  # mean 0.87 against 0.85, its dispersion held
    needed = bounded_mean_examples_to_decide(values, 0.85)
    mean, phi, _ = dispersion_parts(values)
    assert three_way_outcome(*_score_bounds(mean, phi, needed, 0.95), 0.85, "at_least") == "PASS"
    assert three_way_outcome(*_score_bounds(mean, phi, needed - 1, 0.95), 0.85, "at_least") == "INCONCLUSIVE"
    assert needed > values.size  # 20 examples do not decide it
    assert three_way_outcome(*dispersion_score_interval(values), 0.85, "at_least") == "INCONCLUSIVE"
    with pytest.raises(LoyaltyError, match="1-D"):
        bounded_mean_examples_to_decide(np.ones((2, 5)), 0.85)


def test_undecided_text_both_ways():
    line = undecided_text("label_loyalty", 50, 0.88, 0.76, 0.94, 0.90, 865)
    assert line == (
        "n=50 cannot tell label_loyalty 0.880 (95% CI 0.760–0.940) from its limit 0.900; "
        "about 865 examples would decide it in 80% of runs"
    )
    assert "no number of examples would" in undecided_text("label_loyalty", 50, 0.90, 0.8, 0.95, 0.90, None)


@pytest.mark.parametrize(
    "kind, n, limit, direction, can_pass, needed",
    [
        ("paired_difference", 10, 0.10, "at_most", False, 53),  # the issue's robustness case
        ("paired_difference", 53, 0.10, "at_most", True, 53),
        ("paired_difference", 500, 0.02, "at_most", True, 280),  # accuracy drop 0.02 needs 280
        ("paired_difference", 100, 0.02, "at_most", False, 280),
        ("proportion", 10, 0.90, "at_least", False, 36),  # label loyalty 0.90: 0.025^(1/n) >= 0.9
        ("proportion", 854, 0.90, "at_least", True, 36),
        ("bounded_mean", 4, 0.85, "at_least", False, 5),  # probability loyalty 0.85, all values 1.0
        ("proportion", 100, 0.01, "at_most", False, 368),  # a negative flip rate of at most 1%
        ("proportion", 500, 1.0, "at_least", False, None),  # a limit of 1.0 no interval can clear
    ],
)
def test_identical_student_feasibility(kind, n, limit, direction, can_pass, needed):
    f = identical_student_feasibility(kind, n, limit, direction)
    assert (f.can_pass, f.n_needed) == (can_pass, needed)
    if needed is not None:
        assert identical_student_feasibility(kind, needed, limit, direction).can_pass
        if needed > 1:
            assert not identical_student_feasibility(kind, needed - 1, limit, direction).can_pass
    assert (feasibility_text("gate", f) is None) == can_pass


def test_feasibility_matches_the_intervals_and_reads_well():
    f = identical_student_feasibility("paired_difference", 10, 0.10, "at_most")
    assert (f.best_low, f.best_high) == gate_paired_interval(0, 0, 10)
    g = identical_student_feasibility("proportion", 10, 0.90, "at_least")
    assert (g.best_low, g.best_high) == clopper_pearson_interval(10, 10)
    text = feasibility_text("label_loyalty", g)
    assert text == (
        "with 10 examples the label_loyalty gate cannot PASS under the confident or three-way rule: "
        "even a student identical to its teacher gives a 95% CI down to 0.692 < 0.900; "
        "use at least 36 examples"
    )


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: identical_student_feasibility("accuracy", 10, 0.1, "at_most"), "kind must be one of"),
        (lambda: identical_student_feasibility("proportion", 0, 0.1, "at_most"), "n must be a whole number"),
        (lambda: paired_examples_to_decide(5, 6, 10, 0.1), "b + c <= n"),
        (lambda: proportion_examples_to_decide(11, 10, 0.9), "successes <= n"),
        (lambda: proportion_examples_to_decide(5, 10, 0.9, direction="up"), "direction"),
        (lambda: paired_examples_to_decide(1, 0, 10, float("nan")), "limit must be a number"),
    ],
)
def test_bad_input_is_a_clear_error(call, words):
    with pytest.raises(LoyaltyError) as error:
        call()
    assert words in str(error.value)
