"""The benchmark command end to end on a tiny model: rows, table and plot (seconds); the
intervals over seeds and the paper's findings from hand-made rows, each finding every way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tiny import save_tiny_bert

from conftest import NEGATIVE, POSITIVE, write_csv
from loyalty_tests.bench import findings
from loyalty_tests.bench import run as bench
from loyalty_tests.bench.render import render_markdown
from loyalty_tests.errors import LoyaltyError


@pytest.fixture
def tiny_project(tmp_path):
    save_tiny_bert(tmp_path / "teacher")
    rows = [(t, "positive") for t in POSITIVE] + [(t, "negative") for t in NEGATIVE]
    write_csv(tmp_path / "dev.csv", rows * 2)
    write_csv(tmp_path / "train.csv", rows * 2)
    return tmp_path


def test_bench_writes_rows_table_and_plot(tiny_project, capsys):
    out = tiny_project / "results"
    code = bench.main(
        [
            "--teacher",
            str(tiny_project / "teacher"),
            "--data",
            str(tiny_project / "dev.csv"),
            "--train-data",
            str(tiny_project / "train.csv"),
            "--recipes",
            "int8",
            "--seeds",
            "0",
            "1",
            "--latency-rounds",
            "1",
            "--cache-dir",
            str(tiny_project / "cache"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert [(row["recipe"], row["seed"]) for row in rows] == [("int8", 0), ("int8", 1)]
    for row in rows:
        assert row["family"] == "quantization" and row["n"] == 24
        assert 0.0 <= row["label_loyalty"] <= 1.0 and row["probability_loyalty"] > 0.9
        # int8 keeps the parameter count but stores Linear weights in a quarter of the bytes
        assert row["parameters"] == row["teacher_parameters"]
        assert row["size_bytes"] < row["teacher_size_bytes"]
        assert row["speedup"] > 0 and row["environment"]["versions"]["loyalty_tests"]
    table = (out / "table.md").read_text()
    assert "| `int8` | quantization | 2 |" in table and "| teacher |" in table
    # int8 alone decides no finding, and says which recipe is missing rather than guessing
    assert "- the combined strategy is best overall: cannot tell: recipe distill:layers=3+int8 was not run" in table
    assert (out / "loyalty_vs_speedup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "wrote" in printed and "- KD raises probability loyalty: cannot tell" in printed


def test_bench_bad_recipe_exits_2_with_the_reason(tiny_project, capsys):
    code = bench.main(
        [
            "--teacher",
            str(tiny_project / "teacher"),
            "--data",
            str(tiny_project / "dev.csv"),
            "--recipes",
            "int8:nonsense=1",
            "--cache-dir",
            str(tiny_project / "cache"),
            "--out",
            str(tiny_project / "results"),
        ]
    )
    assert code == 2
    assert "unknown option 'nonsense'" in capsys.readouterr().err


def test_table_shows_mean_and_std_over_seeds():
    rows = [
        {
            "recipe": "prune:0.3",
            "family": "pruning",
            "seed": seed,
            "accuracy": accuracy,
            "label_loyalty": 0.9,
            "probability_loyalty": 0.9,
            "speedup": 1.0,
            "teacher": "t",
            "n": 4,
            "teacher_accuracy": 0.8,
        }
        for seed, accuracy in ((0, 0.70), (1, 0.74), (2, 0.72))
    ]
    line = [row for row in render_markdown(rows).splitlines() if row.startswith("| `prune:0.3`")][0]
    assert "0.720 ± 0.020" in line and "| 3 |" in line


# --- the paper's findings, from hand-made rows -------------------------------------------------

FAMILIES = {
    "int8": "quantization",
    "prune:0.3": "pruning",
    "heads:0.3": "pruning",
    "distill:layers=3": "distillation",
    "theseus:layers=3": "module replacing",
    "theseus:layers=3,kd=true": "module replacing",
    "distill:layers=3+int8": "combined",
}


def row(recipe, seed, attack=False, **values):
    """A benchmark row as ``run`` writes it, with only the keys the findings and table read."""
    made = {
        "recipe": recipe,
        "family": FAMILIES[recipe],
        "seed": seed,
        "teacher": "t",
        "data": "d",
        "n": 100,
        "teacher_accuracy": 0.80,
        "accuracy": 0.80,
        "label_loyalty": 0.90,
        "probability_loyalty": 0.90,
        "speedup": 1.0,
    }
    if attack:
        made.update(teacher_accuracy_under_attack=0.20, accuracy_under_attack=0.20)
    made.update(values)
    return made


def rows_of(recipe, key, values, **common):
    """One row per seed 0, 1, ... with ``key`` set to each of ``values``."""
    return [row(recipe, seed, **{key: value}, **common) for seed, value in enumerate(values)]


def test_t_interval_matches_scipy_and_refuses_one_seed():
    from scipy import stats

    values = [0.012, 0.018, 0.009, 0.021]
    interval = findings.t_interval(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert interval.seeds == 4 and interval.low == pytest.approx(low) and interval.high == pytest.approx(high)
    # by hand: mean 0.02, s = 0.01, t(0.975, 2) = 4.302653
    interval = findings.t_interval([0.01, 0.02, 0.03])
    assert interval.low == pytest.approx(0.02 - 4.302653 * 0.01 / 3**0.5, abs=1e-7)
    one = findings.t_interval([0.5])
    assert (one.estimate, one.low, one.high, one.seeds) == (0.5, None, None, 1)


@pytest.mark.parametrize(
    "kd, expected",
    [
        ((0.811, 0.912, 0.862), "holds"),  # +0.011, +0.012, +0.012 over the seeds' very different levels
        ((0.790, 0.889, 0.840), "does not hold"),
        ((0.820, 0.880, 0.860), "cannot tell"),  # +0.02, -0.02, +0.01
    ],
)
def test_kd_finding_each_way(kd, expected):
    no_kd = (0.800, 0.900, 0.850)  # the seed moves both recipes by 0.1: pairing removes it
    rows = rows_of("theseus:layers=3", "probability_loyalty", no_kd) + rows_of(
        "theseus:layers=3,kd=true", "probability_loyalty", kd
    )
    finding = findings.kd_raises_probability_loyalty(rows)
    assert finding.verdict == expected and finding.interval.seeds == 3
    assert finding.interval.estimate == pytest.approx(np.mean(np.subtract(kd, no_kd)))


def test_kd_finding_pairs_by_seed_and_cannot_tell_without_two_shared_seeds():
    no_kd = [row("theseus:layers=3", seed, probability_loyalty=0.8) for seed in (1, 2)]
    kd = rows_of("theseus:layers=3,kd=true", "probability_loyalty", (0.5, 0.81, 0.82))
    assert findings.kd_raises_probability_loyalty(no_kd + kd).interval.seeds == 2  # seed 0 has no pair
    one_seed = findings.kd_raises_probability_loyalty(no_kd[:1] + kd)
    assert one_seed.verdict == "cannot tell" and one_seed.interval.low is None
    line = findings.format_finding(one_seed)
    assert line.startswith("KD raises probability loyalty: cannot tell: needs ≥2 seeds of both recipes (")
    assert "CI" not in line and "from 1 seed, no interval" in line
    missing = findings.kd_raises_probability_loyalty(kd)
    assert findings.format_finding(missing) == (
        "KD raises probability loyalty: cannot tell: recipe theseus:layers=3 was not run"
    )


def test_finding_line_shows_estimate_interval_and_seeds():
    rows = rows_of("theseus:layers=3", "probability_loyalty", (0.80, 0.90, 0.85)) + rows_of(
        "theseus:layers=3,kd=true", "probability_loyalty", (0.811, 0.912, 0.862)
    )
    line = findings.format_finding(findings.kd_raises_probability_loyalty(rows))
    assert line == "KD raises probability loyalty: holds (+0.012, 95% CI +0.010–+0.013 over 3 seeds)"


def _quantization_rows(int8_loyalty, others):
    rows = rows_of("int8", "label_loyalty", int8_loyalty)
    for recipe, values in others.items():
        rows += rows_of(recipe, "label_loyalty", values)
    return rows


def test_quantization_finding_each_way():
    int8 = (0.95, 0.95, 0.95)  # post-training quantization: the same model at every seed
    below = {"prune:0.3": (0.93, 0.925, 0.935), "distill:layers=3": (0.86, 0.88, 0.87)}
    # the combined recipe is no single method: it may be more loyal without deciding anything
    combined = {"distill:layers=3+int8": (0.99, 0.99, 0.99)}
    holds = findings.quantization_keeps_loyalty(_quantization_rows(int8, {**below, **combined}))
    assert holds.verdict == "holds" and holds.compared.startswith("int8 − prune:0.3")  # the closest one decides
    assert "worst of 2" in holds.compared

    more_loyal = {**below, "theseus:layers=3": (0.97, 0.98, 0.97)}
    against = findings.quantization_keeps_loyalty(_quantization_rows(int8, more_loyal))
    assert against.verdict == "does not hold" and against.compared.startswith("int8 − theseus:layers=3")
    assert against.interval.high <= 0

    straddles = {**below, "heads:0.3": (0.97, 0.93, 0.95)}
    unsure = findings.quantization_keeps_loyalty(_quantization_rows(int8, straddles))
    assert unsure.verdict == "cannot tell" and unsure.compared.startswith("int8 − heads:0.3")
    assert unsure.interval.low < 0 < unsure.interval.high


def test_quantization_finding_cannot_tell_without_int8_another_method_or_seeds():
    no_int8 = findings.quantization_keeps_loyalty(rows_of("prune:0.3", "label_loyalty", (0.9, 0.9)))
    assert (no_int8.verdict, no_int8.note) == ("cannot tell", "recipe int8 was not run")
    alone = findings.quantization_keeps_loyalty(rows_of("int8", "label_loyalty", (0.9, 0.9)))
    assert alone.note == "no other single-method recipe was run"
    one_seed = findings.quantization_keeps_loyalty(_quantization_rows((0.95,), {"prune:0.3": (0.90,)}))
    assert one_seed.verdict == "cannot tell" and one_seed.note == findings.TOO_FEW_SEEDS
    # one comparison clearly against decides even when another has too few seeds
    rows = _quantization_rows((0.95, 0.95, 0.95), {"prune:0.3": (0.97, 0.98, 0.975), "heads:0.3": (0.90,)})
    assert findings.quantization_keeps_loyalty(rows).verdict == "does not hold"


@pytest.mark.parametrize(
    "under_attack, expected",
    [
        ((0.10, 0.12, 0.11), "holds"),  # drops 0.08-0.10 under attack, 0.02 in accuracy
        ((0.21, 0.20, 0.22), "does not hold"),  # no robustness drop beyond the 0.02 accuracy drop
        ((0.13, 0.20, 0.25), "cannot tell"),
    ],
)
def test_robustness_finding_each_way(under_attack, expected):
    rows = []
    for recipe in ("int8", "distill:layers=3"):
        rows += rows_of(recipe, "accuracy_under_attack", under_attack, attack=True, accuracy=0.78)
    finding = findings.robustness_beyond_accuracy(rows)
    assert finding.verdict == expected and finding.interval.seeds == 3
    assert finding.interval.estimate == pytest.approx(0.20 - np.mean(under_attack) - 0.02)
    assert "mean over 2 recipes" in finding.compared


def test_robustness_finding_cannot_tell_without_attack_or_seeds():
    plain = findings.robustness_beyond_accuracy(rows_of("int8", "accuracy", (0.78, 0.79)))
    assert findings.format_finding(plain) == (
        "compression lowers robustness beyond what accuracy shows: cannot tell: no attack in these rows"
    )
    one_seed = findings.robustness_beyond_accuracy([row("int8", 0, attack=True, accuracy_under_attack=0.1)])
    assert one_seed.verdict == "cannot tell" and one_seed.note == "needs ≥2 seeds"


def _scored_rows(combined_accuracy, attack=False, combined_under_attack=0.20):
    rows = rows_of("int8", "accuracy", (0.80, 0.80, 0.80), attack=attack)
    rows += rows_of("distill:layers=3", "accuracy", (0.76, 0.78, 0.77), attack=attack)
    rows += rows_of(
        "distill:layers=3+int8",
        "accuracy",
        combined_accuracy,
        attack=attack,
        accuracy_under_attack=combined_under_attack,
    )
    return rows


@pytest.mark.parametrize(
    "combined_accuracy, expected, worst",
    [
        ((0.84, 0.85, 0.84), "holds", "int8"),
        ((0.74, 0.75, 0.74), "does not hold", "int8"),
        ((0.82, 0.78, 0.80), "cannot tell", "int8"),
    ],
)
def test_combined_finding_each_way(combined_accuracy, expected, worst):
    finding = findings.combined_is_best(_scored_rows(combined_accuracy))
    assert finding.verdict == expected and finding.compared.startswith(f"distill:layers=3+int8 − {worst} ")
    assert finding.note == "score without robustness: no attack in these rows"
    assert "score without robustness" in findings.format_finding(finding)


def test_combined_finding_scores_robustness_when_attacked():
    # more accurate, but the attack takes 0.12 more from it: the four-part score goes against it
    rows = _scored_rows((0.84, 0.85, 0.84), attack=True, combined_under_attack=0.08)
    finding = findings.combined_is_best(rows)
    assert finding.verdict == "does not hold" and finding.note == ""
    expected = np.mean([0.84, 0.85, 0.84]) / 4 - 0.80 / 4 + (0.08 - 0.20) / 4
    assert finding.interval.estimate == pytest.approx(expected)


def test_combined_finding_cannot_tell_when_it_was_not_run():
    rows = rows_of("int8", "accuracy", (0.8, 0.8))
    finding = findings.combined_is_best(rows)
    assert (finding.verdict, finding.note) == ("cannot tell", "recipe distill:layers=3+int8 was not run")


def test_pairing_refuses_two_rows_of_one_recipe_and_seed():
    rows = [row("int8", 0), row("int8", 0), row("distill:layers=3+int8", 0)]
    with pytest.raises(LoyaltyError, match="two rows of int8 at seed 0"):
        findings.combined_is_best(rows)


def test_table_shows_intervals_robustness_drop_and_findings():
    rows = rows_of("prune:0.3", "accuracy", (0.70, 0.74, 0.72), attack=True, accuracy_under_attack=0.15)
    rows += [row("int8", 0, attack=True, accuracy_under_attack=0.18)]
    text = render_markdown(rows)
    lines = text.splitlines()
    header = [line for line in lines if line.startswith("| recipe")][0]
    assert "robustness drop" in header and "acc. under attack" in header
    prune = [line for line in lines if line.startswith("| `prune:0.3`")][0]
    # t(0.975, 2) = 4.303, s = 0.02: 0.72 ± 4.303 * 0.02 / sqrt(3)
    assert "0.720 ± 0.020 [0.670, 0.770]" in prune and "| 0.050 ± 0.000 [0.050, 0.050] |" in prune
    int8 = [line for line in lines if line.startswith("| `int8`")][0]
    assert "| 0.800 |" in int8 and "[" not in int8  # one seed: the value alone, no interval invented
    assert "no interval can be computed from one seed" in lines[0]
    findings_lines = [line for line in lines if line.startswith("- ")]
    assert [line.split(":")[0] for line in findings_lines] == [
        "- KD raises probability loyalty",
        "- post-training quantization keeps loyalty",
        "- compression lowers robustness beyond what accuracy shows",
        "- the combined strategy is best overall",
    ]


@pytest.mark.parametrize("seeds", [["0", "1", "0"], []])
def test_seeds_repeated_or_empty_is_a_usage_error(seeds, capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--seeds", *seeds])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert "--seeds names 0 more than once" in error if seeds else "expected at least one argument" in error


def test_recipes_repeated_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--recipes", "int8", "int8"])
    assert "--recipes names int8 more than once" in capsys.readouterr().err
