"""The collapse gate's interval: never zero width when the labels vary, honest at n = 5."""

from __future__ import annotations

import numpy as np
import pytest

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.stats.intervals import three_way_outcome
from loyalty_tests.stats.label_shares import share_ratio_interval


def test_identical_predictions_that_vary_have_width_and_never_fail():
    ratio, low, high = share_ratio_interval([0, 1, 0, 1, 0], [0, 1, 0, 1, 0], 2)
    assert ratio == 1.0 and low < 0.9 and high == 1.0
    for n in (5, 20, 100):
        labels = np.arange(n) % 2
        assert three_way_outcome(*share_ratio_interval(labels, labels, 2)[1:], 0.5, "at_least") != "FAIL"
    assert three_way_outcome(*share_ratio_interval(labels, labels, 2)[1:], 0.5, "at_least") == "PASS"


def test_a_collapsed_student_fails_with_enough_examples():
    teacher = np.arange(200) % 2
    student = np.where(np.arange(200) % 10 == 1, 1, 0)  # label 1: 10% of the student's, 50% of the teacher's
    ratio, low, high = share_ratio_interval(teacher, student, 2)
    assert ratio == pytest.approx(0.2) and high < 0.5
    assert three_way_outcome(low, high, 0.5, "at_least") == "FAIL"


@pytest.mark.parametrize("joint", [[[0.5, 0.0], [0.3, 0.2]], [[0.4, 0.1], [0.4, 0.1]]])
def test_a_true_ratio_of_0_40_is_not_passed_against_0_50_at_n_5(joint):
    # teacher label 1 half the time, student 20% of the time: true smallest ratio 0.40
    rng, cells, passes, runs = np.random.default_rng(0), np.ravel(joint), 0, 400
    for run in range(runs):
        drawn = rng.choice(4, size=5, p=cells)
        _, low, high = share_ratio_interval(drawn // 2, drawn % 2, 2, draws=1000, seed=run)
        passes += three_way_outcome(low, high, 0.5, "at_least") == "PASS"
    assert passes / runs <= 0.025


def test_seeded_and_checked():
    assert share_ratio_interval([0, 1, 1], [0, 1, 0], 2, seed=3) == share_ratio_interval(
        [0, 1, 1], [0, 1, 0], 2, seed=3
    )
    with pytest.raises(LoyaltyError, match="class indices"):
        share_ratio_interval([0, 2], [0, 1], 2)
    with pytest.raises(LoyaltyError, match="one length"):
        share_ratio_interval([0, 1], [0], 2)
