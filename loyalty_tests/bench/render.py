"""Benchmark rows -> a Markdown table (mean ± std over seeds) and a loyalty-vs-speedup plot.

Rendering only: every number comes from the rows ``loyalty_tests.bench.run`` wrote.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import LoyaltyError

# (row key, column title, format) in table order; robustness columns appear only when measured.
COLUMNS = (
    ("accuracy", "accuracy", "{:.3f}"),
    ("label_loyalty", "label loyalty", "{:.3f}"),
    ("probability_loyalty", "prob. loyalty", "{:.3f}"),
    ("accuracy_under_attack", "acc. under attack", "{:.3f}"),
    ("attack_success_rate", "attack success", "{:.3f}"),
    ("speedup", "speedup", "{:.2f}x"),
    ("parameters", "parameters (M)", "{:.1f}"),
    ("size_bytes", "size (MB)", "{:.1f}"),
    ("build_seconds", "build (s)", "{:.0f}"),
)
SCALE = {"parameters": 1e-6, "size_bytes": 1e-6}
MARKERS = {"quantization": "o", "pruning": "s", "distillation": "^", "module replacing": "D", "combined": "*"}
COLORS = {
    "quantization": "tab:blue",
    "pruning": "tab:orange",
    "distillation": "tab:green",
    "module replacing": "tab:red",
    "combined": "tab:purple",
}


def group_by_recipe(rows: list[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["recipe"], []).append(row)
    return groups


def _cell(values: list, fmt: str) -> str:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "–"
    mean = float(np.mean(values))
    if len(values) == 1:
        return fmt.format(mean)
    # std over seeds with ddof=1: the spread a new seed would show, not just these ones'
    return f"{fmt.format(mean)} ± {fmt.format(float(np.std(values, ddof=1))).rstrip('x')}"


def render_markdown(rows: list[dict]) -> str:
    """One line per recipe (plus the teacher's): mean ± std over its seeds.

    >>> rows = [{"recipe": "int8", "family": "quantization", "seed": s, "accuracy": a, "label_loyalty": 0.9,
    ...          "probability_loyalty": 0.95, "speedup": 2.0, "teacher_accuracy": 0.8, "teacher": "demo",
    ...          "n": 10} for s, a in ((0, 0.78), (1, 0.80))]
    >>> print(render_markdown(rows).splitlines()[5])
    | `int8` | quantization | 2 | 0.790 ± 0.014 | 0.900 ± 0.000 | 0.950 ± 0.000 | 2.00x ± 0.00 |
    """
    if not rows:
        raise LoyaltyError("no benchmark rows to render; give at least one recipe and one seed")
    columns = [c for c in COLUMNS if any(row.get(c[0]) is not None for row in rows)]
    first = rows[0]
    lines = [
        f"Teacher `{first['teacher']}` on `{first.get('data', '')}` (n={first['n']}); mean ± std over seeds.",
        "",
        "| recipe | family | seeds | " + " | ".join(title for _, title, _ in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    teacher_cells = {
        "accuracy": first.get("teacher_accuracy"),
        "label_loyalty": 1.0,
        "probability_loyalty": 1.0,
        "accuracy_under_attack": first.get("teacher_accuracy_under_attack"),
        "speedup": 1.0,
        "parameters": first.get("teacher_parameters"),
        "size_bytes": first.get("teacher_size_bytes"),
    }
    cells = [_cell([_scaled(key, teacher_cells.get(key))], fmt) for key, _, fmt in columns]
    lines.append("| teacher | – | – | " + " | ".join(cells) + " |")
    for recipe, group in group_by_recipe(rows).items():
        cells = [_cell([_scaled(key, row.get(key)) for row in group], fmt) for key, _, fmt in columns]
        lines.append(f"| `{recipe}` | {group[0]['family']} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _scaled(key: str, value):
    return value * SCALE[key] if value is not None and key in SCALE else value


def render_plot(rows: list[dict], path: Path) -> Path:
    """Label and probability loyalty against speedup, one marker shape per method family."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only; no display on CI machines
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise LoyaltyError("the benchmark plot needs matplotlib: pip install 'pytest-loyalty[bench]'") from error
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharex=True)
    for axis, key, title in (
        (axes[0], "label_loyalty", "label loyalty"),
        (axes[1], "probability_loyalty", "probability loyalty"),
    ):
        for recipe, group in group_by_recipe(rows).items():
            x = float(np.mean([row["speedup"] for row in group]))
            y = float(np.mean([row[key] for row in group]))
            family = group[0]["family"]
            axis.scatter(
                [x], [y], marker=MARKERS.get(family, "x"), color=COLORS.get(family, "black"), s=70, label=family
            )
            axis.annotate(recipe, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
        axis.axvline(1.0, color="grey", linewidth=0.5)
        axis.set_xlabel("speedup over the teacher (×)")
        axis.set_ylabel(title)
        axis.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    unique = dict(zip(labels, handles))  # one legend entry per family
    figure.legend(unique.values(), unique.keys(), loc="lower center", ncol=len(unique), fontsize=9, frameon=False)
    figure.suptitle(f"Students of {rows[0]['teacher']}: loyalty vs speedup")
    figure.tight_layout(rect=(0, 0.07, 1, 1))  # room for the legend below the panels
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    figure.savefig(temporary, dpi=110, format="png")
    plt.close(figure)
    temporary.replace(path)  # atomic: a reader never sees half a PNG
    return path
