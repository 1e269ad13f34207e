"""The robustness margin (words the attack perturbs to flip an example, censored at the bound) and
the margin_drop gate, on hand-made keyword models whose margins are plain arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from keyword_model import KeywordModel

from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.gates import margin_drop
from loyalty_tests.gates.registry import GATES
from loyalty_tests.gates.result import Rule
from loyalty_tests.gates.thresholds import GATE_OF, THRESHOLD_SPECS, resolve
from loyalty_tests.report.document import robustness_lines
from loyalty_tests.report.model import Report, StudentEntry
from loyalty_tests.robustness import AttackConfig, compare_robustness
from loyalty_tests.robustness import attack_recipes as recipes
from loyalty_tests.robustness.margin import margin_drop_interval, margin_row, paired_margins
from loyalty_tests.robustness.summary import robustness_drop, robustness_row

SYNONYMS = {"great": ["dull"], "good": ["dull"], "fine": ["dull"]}
# 6 words each; with max_words=3 an unflipped example is censored at 3
TEXTS = [
    "a great and good and fine movie",
    "the good and fine and great story",
    "a fine and great and good cast",
    "the great and fine and good plot",
]
ROBUST = {"great": 2.0, "good": 2.0, "fine": 2.0, "dull": -0.5}  # flipped by three swaps (6, 3.5, 1, -1.5)
FRAGILE = {"great": 2.0, "good": 2.0, "fine": 2.0, "dull": -6.0}  # flipped by one swap (6 -> -2)


def data(texts=TEXTS):
    return TextDataset("hand-made", list(texts), [1] * len(texts), ("negative", "positive"))


def recipe(max_words=3):
    made = recipes.Recipe(
        "greedy-synonyms",
        recipes._content_words,
        lambda original, i, current, rng: [current.replace(i, w) for w in SYNONYMS.get(original.words[i], [])],
    )
    made.max_words = max_words
    return made


def compare(teacher_weights, student_weights, max_words=3, texts=TEXTS):
    # the config names the same bound as the hand-made recipe: the margin reads it from the config
    config = AttackConfig(f"charswap:max_words={max_words},max_word_share=none", examples=len(texts), budget=200)
    teacher, student = KeywordModel(teacher_weights, "teacher"), KeywordModel(student_weights, "student")
    return compare_robustness(teacher, student, data(texts), config, recipe=recipe(max_words))


def thresholds(**values):
    return resolve({key: str(value) for key, value in values.items()}, {})


def test_margins_count_the_perturbed_words_of_each_flip():
    comparison = compare(ROBUST, FRAGILE)
    indices, teacher, student, bounds = paired_margins(comparison)
    assert indices == [0, 1, 2, 3] and list(bounds) == [3.0] * 4
    assert list(teacher) == [3.0] * 4 and list(student) == [1.0] * 4  # teacher needs all three swaps
    assert [e.status for e in comparison.teacher.examples] == ["succeeded"] * 4


def test_an_unflipped_example_is_censored_at_the_bound_not_dropped():
    comparison = compare(ROBUST, FRAGILE, max_words=2)  # two swaps leave the teacher at +1: not flipped
    _, teacher, student, bounds = paired_margins(comparison)
    assert [e.status for e in comparison.teacher.examples] == ["failed"] * 4
    assert list(teacher) == [2.0] * 4 and list(student) == [1.0] * 4 and len(bounds) == 4


def test_only_examples_both_models_got_right_before_the_attack_have_a_margin():
    wrong_on_first = {**FRAGILE, "movie": -10.0}  # the student gets TEXTS[0] wrong before any attack
    comparison = compare(ROBUST, wrong_on_first)
    indices, teacher, student, _ = paired_margins(comparison)
    assert indices == [1, 2, 3] and len(teacher) == len(student) == 3


def test_the_interval_is_paired_and_never_zero_width():
    drop = margin_drop_interval([3.0] * 20, [1.0] * 20, largest=3.0)
    assert drop.value == 2.0 and drop.ci_low < 2.0 <= drop.ci_high and drop.n == 20
    same = margin_drop_interval([2.0, 3.0, 1.0] * 10, [2.0, 3.0, 1.0] * 10, largest=3.0)
    assert same.value == 0.0 and same.ci_low < 0.0 < same.ci_high
    shifted = margin_drop_interval([2.0, 3.0, 1.0, 3.0] * 10, [1.0, 2.0, 1.0, 3.0] * 10, largest=3.0)
    unpaired_half_width = 1.96 * math.sqrt(np.var([2, 3, 1, 3]) / 40 + np.var([1, 2, 1, 3]) / 40)
    assert shifted.ci_high - shifted.ci_low < 2 * unpaired_half_width  # pairing removes the shared spread
    empty = margin_drop_interval([], [])
    assert empty.n == 0 and math.isnan(empty.value)


def test_the_gate_fails_a_student_flipped_by_fewer_words():
    comparison = compare(ROBUST, FRAGILE)
    result = margin_drop.check(comparison, 0.5, "default")
    assert not result.passed and result.three_way == "FAIL" and result.value == 2.0
    assert "margin_drop 2.000 (n=4, 95% CI" in result.message and "> 0.500 [default]" in result.message
    assert "teacher 3.00, student 1.00 words" in result.message


def test_the_gate_passes_an_identical_copy():
    comparison = compare(ROBUST, ROBUST, texts=TEXTS * 5)  # A/A: the same model twice, 20 examples
    result = margin_drop.check(comparison, 0.5, "default", Rule("confident"))
    assert result.passed and result.three_way == "PASS" and result.value == 0.0 and result.n == 20
    few = margin_drop.check(compare(ROBUST, ROBUST), 0.5, "default")  # 4 examples cannot tell yet
    assert few.passed and few.three_way == "INCONCLUSIVE" and few.ci_high > 0.5


def test_the_gate_fails_closed_without_examples_both_models_got_right():
    everything_wrong = {"great": -9.0}
    result = margin_drop.check(compare(ROBUST, everything_wrong), 0.5, "default")
    assert not result.passed and result.message.startswith("margin_drop has no example: of 4 attacked, none")


def test_the_gate_says_when_it_cannot_fail():
    easy = {"great": 1.0, "good": 1.0, "fine": 1.0, "dull": -9.0}  # the teacher is flipped by one word
    result = margin_drop.check(compare(easy, easy), 0.5, "default")
    assert result.passed and result.cannot.startswith("cannot FAIL: the teacher is flipped by 1.00 words")


def test_the_gate_is_registered_collected_with_attack_and_has_a_threshold():
    assert GATES["margin_drop"].collected_with == "attack" and GATES["margin_drop"].kind == "robustness"
    assert GATE_OF["max_margin_drop"] == "margin_drop" and THRESHOLD_SPECS["max_margin_drop"].default == 0.5
    assert GATES["margin_drop"].check(compare(ROBUST, FRAGILE), 2.5, "ini").passed  # the registry runs the module


@pytest.mark.parametrize("blank", ["", " ", "none", "="])
def test_a_blank_margin_threshold_is_refused(blank):
    with pytest.raises(LoyaltyError, match=r"threshold max_margin_drop \(--loyalty-max-margin-drop\) is empty"):
        thresholds(max_margin_drop=blank)
    with pytest.raises(LoyaltyError, match=r"must lie in \[0, 1e\+06\]"):
        thresholds(max_margin_drop=-1)


def test_the_margin_is_in_the_row_and_beside_accuracy_under_attack_in_the_terminal():
    comparison = compare(ROBUST, FRAGILE)
    row = robustness_row(comparison, robustness_drop(comparison))
    assert row["margin"] == margin_row(comparison)
    assert row["margin"]["teacher"] == 3.0 and row["margin"]["student"] == 1.0 and row["margin"]["n"] == 4
    lines = robustness_lines(Report(students=(StudentEntry("fragile", robustness={**row, "stop_reason": ""}),)))
    under_attack = next(i for i, line in enumerate(lines) if "under attack" in line)
    assert lines[under_attack + 1].startswith("  margin (words to flip; n=4, at most 3 words) 3.00 / 1.00; drop 2.00")
    old = {**row, "stop_reason": ""}
    del old["margin"]
    written_before = Report(students=(StudentEntry("s", robustness=old),))  # a report from before margins
    assert not any("margin" in line for line in robustness_lines(written_before))
