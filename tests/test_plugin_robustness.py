"""The robustness gate end to end through pytester, on hand-made models whose robustness is known.

The teacher decides by the parity of the word count, which character edits cannot change; the
fragile student agrees with it on the clean data but decides by the exact word "good", which a
single character edit destroys. The twin student uses the teacher's rule.
"""

from __future__ import annotations

import json

import pytest

from conftest import write_csv

TOY_MODELS = """
import numpy as np


class Rule:
    label_names = ("negative", "positive")

    def __init__(self, name, positive):
        self.name, self.positive, self.fingerprint = name, positive, None

    def predict_proba(self, texts, text_pairs=None):
        positive = np.array([self.positive(text) for text in texts], dtype=float)
        return np.stack([0.9 - 0.8 * positive, 0.1 + 0.8 * positive], axis=1)


def parity(text):
    return len(text.split()) % 2 == 0


def teacher():
    return Rule("parity", parity)


def twin():
    return Rule("parity twin", parity)


def fragile():
    return Rule("good-word", lambda text: "good" in text.split())
"""

# Every word has at least four letters, so no character edit within a small Levenshtein bound can
# delete a whole word and change the word count the teacher's rule reads.
POSITIVE = ["truly good film", "good acting here", "quite good really", "good good films", "very good movie"]
NEGATIVE = [
    "truly awful film",
    "awful movie overall",
    "dull plot twists",
    "poor acting throughout",
    "weak script again",
]


@pytest.fixture
def toy_project(pytester, monkeypatch):
    pytester.makepyfile(toy_models=TOY_MODELS)
    pytester.syspathinsert()
    # positives get a fourth word: an even word count and the word "good"; negatives have three words
    rows = [(f"{text} indeed", "positive") for text in POSITIVE] + [(text, "negative") for text in NEGATIVE]
    assert all(len(text.split()) % 2 == (label == "negative") for text, label in rows)
    write_csv(pytester.path / "dev.csv", rows * 2)
    return pytester


def attack_args(pytester, student, *extra):
    return [
        "--teacher",
        "toy_models:teacher",
        "--student",
        student,
        "--loyalty-data",
        "dev.csv",
        "--attack",
        "charswap",
        "--attack-examples",
        "20",
        "--attack-budget",
        "200",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
        "--loyalty-bootstrap",
        "200",
        "-p",
        "no:cacheprovider",
        "-k",
        "robustness",
        *extra,
    ]


def test_robustness_gate_passes_for_an_equally_robust_student(toy_project):
    result = toy_project.runpytest(*attack_args(toy_project, "toy_models:twin", "--loyalty-json", "r.json", "-v"))
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_robustness[[]toy_models:twin[]] PASSED*",
            "*robustness_drop 0.000*<= 0.100 [[]default[]]*",
            "*robustness [[]toy_models:twin[]] charswap, 20 examples*",
        ]
    )
    robustness = json.loads((toy_project.path / "r.json").read_text())["students"][0]["robustness"]
    assert robustness["teacher"]["accuracy_under_attack"] == 1.0
    assert robustness["student"]["accuracy_under_attack"] == 1.0


def test_robustness_gate_fails_for_a_fragile_student(toy_project):
    result = toy_project.runpytest(*attack_args(toy_project, "toy_models:fragile", "--max-robustness-drop", "0.2"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*robustness_drop 0.* > 0.200 [[]--loyalty-max-robustness-drop[]]*"
            "accuracy under charswap attack: teacher 1.000*",
            "*adversarial examples that fool the student but not the teacher:*",
            "*original : '*good*",
            "*perturbed: *",
        ]
    )


def margin_args(pytester, student, *extra, select="margin_drop"):
    """The margin_drop item (and ``select``), with a bound of three words (the toy texts have four)."""
    args = attack_args(pytester, student, "--loyalty-json", "r.json", *extra)
    args[args.index("charswap")] = "charswap:max_words=3,max_word_share=none"
    args[args.index("robustness")] = select
    return args


def test_margin_gate_passes_an_equally_robust_student(toy_project):
    select = "robustness or margin_drop"  # one attack serves both; the robustness row shows the margin
    result = toy_project.runpytest(*margin_args(toy_project, "toy_models:twin", "-v", select=select))
    result.assert_outcomes(passed=2, deselected=12)
    result.stdout.fnmatch_lines(
        [
            "*test_margin_drop[[]toy_models:twin[]] PASSED*",
            "*PASS [[]toy_models:twin[]] margin_drop 0.000 (n=20, 95% CI *) <= 0.500 [[]default[]]*outcome PASS*",
            "*under attack 100.0% / 100.0%*",
            "*margin (words to flip; n=20, at most 3 words) 3.00 / 3.00; drop 0.00*",
        ]
    )
    margin = json.loads((toy_project.path / "r.json").read_text())["students"][0]["robustness"]["margin"]
    assert (margin["teacher"], margin["student"], margin["n"]) == (3.0, 3.0, 20)


def test_margin_gate_fails_a_student_flipped_by_fewer_words(toy_project):
    # the fragile student loses "good" to one character edit; the teacher withstands three (censored at 3)
    result = toy_project.runpytest(*margin_args(toy_project, "toy_models:fragile"))
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        ["*margin_drop 0.800 (n=20, 95% CI *) > 0.500 [[]default[]] (mean margin under charswap:max_words=3*"]
    )


def test_attack_results_fixture_and_assert_robust(toy_project):
    toy_project.makepyfile(
        test_mine="""
        import pytest
        from loyalty_tests.assertions import assert_robust

        def test_fragile(attack_results):
            assert attack_results.teacher.accuracy_under_attack == 1.0
            # every positive but "good good films" flips (one edit leaves the other "good");
            # negatives hold no "good" to break: 8 of 20
            assert attack_results.student.attack_success_rate == 0.4
            with pytest.raises(AssertionError, match="fool the student but not the teacher"):
                assert_robust(attack_results, max_robustness_drop=0.1)
    """
    )
    args = attack_args(toy_project, "toy_models:fragile", "--loyalty-no-suite")
    result = toy_project.runpytest("test_mine.py", *[a for a in args if a not in ("-k", "robustness")])
    result.assert_outcomes(passed=1)


def test_attack_results_without_attack_fails_with_the_fix(toy_project):
    toy_project.makepyfile(
        test_mine="""
        def test_needs_attack(attack_results):
            pass
    """
    )
    result = toy_project.runpytest(
        "test_mine.py",
        "--teacher",
        "toy_models:teacher",
        "--student",
        "toy_models:twin",
        "--loyalty-data",
        "dev.csv",
        "--loyalty-no-suite",
    )
    result.assert_outcomes(errors=1)  # the fixture fails in setup
    result.stdout.fnmatch_lines(["*needs an attack: pass --attack RECIPE*"])


def test_unknown_attack_recipe_is_a_usage_error(toy_project):
    result = toy_project.runpytest(
        "--teacher",
        "toy_models:teacher",
        "--student",
        "toy_models:twin",
        "--loyalty-data",
        "dev.csv",
        "--attack",
        "nosuchattack",
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nosuchattack*charswap*"])


def sequential_project(toy_project, size: int):
    """``size`` rows: positives have four words and "good", negatives three words and no "good"."""
    rows = [(f"w{i} good film indeed", "positive") if i % 2 else (f"w{i} dull film", "negative") for i in range(size)]
    write_csv(toy_project.path / "big.csv", rows)


def sequential_args(toy_project, student, *extra):
    return [
        "--teacher",
        "toy_models:teacher",
        "--student",
        student,
        "--loyalty-data",
        "big.csv",
        "--attack",
        "charswap",
        "--attack-budget",
        "200",
        "--loyalty-cache-dir",
        str(toy_project.path / "cache"),
        "-p",
        "no:cacheprovider",
        "-k",
        "robustness",
        "--loyalty-json",
        "r.json",
        *extra,
    ]


def test_the_sequential_gate_stops_as_soon_as_a_fragile_student_is_decided(toy_project):
    sequential_project(toy_project, 400)
    result = toy_project.runpytest(
        *sequential_args(toy_project, "toy_models:fragile", "--attack-examples", "400", "--attack-block", "40")
    )
    assert result.ret == 1
    robustness = json.loads((toy_project.path / "r.json").read_text())["students"][0]["robustness"]
    result.stdout.fnmatch_lines(["*robustness_drop 0.* > 0.100*decided FAIL after * of 400 examples*outcome FAIL*"])
    assert robustness["stop_reason"].startswith("decided FAIL after") and robustness["robustness_drop"]["n"] < 400


def test_the_sequential_gate_passes_an_equally_robust_student_before_the_cap(toy_project):
    sequential_project(toy_project, 400)
    result = toy_project.runpytest(
        *sequential_args(toy_project, "toy_models:twin", "--attack-examples", "400", "--attack-block", "50")
    )
    result.assert_outcomes(passed=1, deselected=13)  # 13: margin_drop too
    robustness = json.loads((toy_project.path / "r.json").read_text())["students"][0]["robustness"]
    assert robustness["stop_reason"] == "decided PASS after 100 of 400 examples"
    assert robustness["robustness_drop"]["n"] == 100


def test_one_block_is_a_fixed_size_run_with_the_fixed_size_interval(toy_project):
    sequential_project(toy_project, 100)
    result = toy_project.runpytest(
        *sequential_args(toy_project, "toy_models:twin", "--attack-examples", "50", "--attack-block", "50")
    )
    result.assert_outcomes(passed=1, deselected=13)  # 13: margin_drop too
    robustness = json.loads((toy_project.path / "r.json").read_text())["students"][0]["robustness"]
    drop = robustness["robustness_drop"]
    assert robustness["stop_reason"] == "attacked all 50 examples"
    # Tango with the gates' continuity count at b = c = 0: the restricted MLE puts all mass on one
    # side (p01 = 0), so the bound solves (n d - 1)^2 = z^2 n d (1 - d), a quadratic in d
    n, z = 50, 1.96
    a, b, c = n * n + z * z * n, 2 * n + z * z * n, 1.0
    assert drop["ci_high"] == pytest.approx((b + (b * b - 4 * a * c) ** 0.5) / (2 * a), abs=2e-3)


def attack_header(project, examples: str, block: str):
    """The report header of a charswap run's collection (where the feasibility note is said)."""
    return project.runpytest(
        "--teacher",
        "toy_models:teacher",
        "--student",
        "toy_models:twin",
        "--loyalty-data",
        "dev.csv",
        "--attack",
        "charswap",
        "--attack-examples",
        examples,
        "--attack-block",
        block,
        "--collect-only",
    ).stdout


def test_too_few_attacked_examples_are_said_before_any_attack(toy_project):
    attack_header(toy_project, "10", "25").fnmatch_lines(
        [
            "*loyalty note: with 10 attacked examples the robustness_drop gate cannot PASS*"
            "use at least 53 attacked examples*"
        ]
    )
    assert "loyalty note" not in attack_header(toy_project, "53", "53").str()


def test_too_few_blocks_are_said_with_a_cap_that_would_do(toy_project):
    attack_header(toy_project, "50", "25").fnmatch_lines(
        [
            "*loyalty note: with at most 50 attacked examples in blocks of 25, the robustness gate "
            "cannot reach a PASS outcome*raise --attack-examples to about 75*"
        ]
    )
    assert "loyalty note" not in attack_header(toy_project, "75", "25").str()  # the suggested cap is enough
