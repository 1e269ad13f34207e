"""The benchmark command end to end on a tiny model: rows, table and plot (seconds)."""

from __future__ import annotations

import json

import pytest
from tiny import save_tiny_bert

from conftest import NEGATIVE, POSITIVE, write_csv
from loyalty_tests.bench import run as bench
from loyalty_tests.bench.render import render_markdown


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
    assert (out / "loyalty_vs_speedup.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "wrote" in capsys.readouterr().out


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
