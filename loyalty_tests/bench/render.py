"""Benchmark rows -> a Markdown table (mean ± std and a 95% interval over seeds), the paper's
findings below it, and a loyalty-vs-speedup plot.

Rendering only: every number comes from the rows ``loyalty_tests.bench.run`` wrote; the intervals
and findings are ``loyalty_tests.bench.findings``'s.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ..errors import LoyaltyError
from .findings import format_finding, paper_findings, robustness_drop, t_interval

# (row key, column title, format, interval over seeds?) in table order; robustness columns appear
# only when measured. Sizes and build times get no interval: they are not what the paper compares.
COLUMNS = (
    ("accuracy", "accuracy", "{:.3f}", True),
    ("label_loyalty", "label loyalty", "{:.3f}", True),
    ("probability_loyalty", "prob. loyalty", "{:.3f}", True),
    ("accuracy_under_attack", "acc. under attack", "{:.3f}", True),
    ("robustness_drop", "robustness drop", "{:.3f}", True),
    ("attack_success_rate", "attack success", "{:.3f}", True),
    ("speedup", "speedup", "{:.2f}x", True),
    ("parameters", "parameters (M)", "{:.1f}", False),
    ("size_bytes", "size (MB)", "{:.1f}", False),
    ("build_seconds", "build (s)", "{:.0f}", False),
)
# Columns computed from a row's keys rather than stored, so rows written before them still render.
DERIVED = {"robustness_drop": robustness_drop}
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


def _cell(values: list, fmt: str, interval: bool = False) -> str:
    """``mean ± std [low, high]`` over seeds; one seed: the value alone (no spread to show).

    >>> _cell([0.90, 0.91, 0.92], "{:.3f}", interval=True)
    '0.910 ± 0.010 [0.885, 0.935]'
    """
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return "–"
    mean = float(np.mean(values))
    if len(values) == 1:
        return fmt.format(mean)
    # std over seeds with ddof=1: the spread a new seed would show, not just these ones'
    text = f"{fmt.format(mean)} ± {fmt.format(float(np.std(values, ddof=1))).rstrip('x')}"
    if not interval:
        return text
    # the 95% t interval of the mean: where the mean over many seeds would lie
    bounds = t_interval(values)
    return f"{text} [{fmt.format(bounds.low).rstrip('x')}, {fmt.format(bounds.high).rstrip('x')}]"


def _value(row: dict, key: str):
    return DERIVED[key](row) if key in DERIVED else row.get(key)


def render_markdown(rows: list[dict]) -> str:
    """One line per recipe (plus the teacher's): mean ± std [95% interval of the mean] over its
    seeds; then the paper's findings decided from the rows.

    >>> rows = [{"recipe": "int8", "family": "quantization", "seed": s, "accuracy": a, "label_loyalty": 0.9,
    ...          "probability_loyalty": 0.95, "speedup": 2.0, "teacher_accuracy": 0.8, "teacher": "demo",
    ...          "n": 10} for s, a in ((0, 0.78), (1, 0.80))]
    >>> text = render_markdown(rows)
    >>> text.splitlines()[5].split(" | ")[:5]  # t(1) = 12.7: two seeds give a wide interval
    ['| `int8`', 'quantization', '2', '0.790 ± 0.014 [0.663, 0.917]', '0.900 ± 0.000 [0.900, 0.900]']
    >>> print(text.splitlines()[-1])
    - the combined strategy is best overall: cannot tell: recipe distill:layers=3+int8 was not run
    """
    if not rows:
        raise LoyaltyError("no benchmark rows to render; give at least one recipe and one seed")
    columns = [c for c in COLUMNS if any(_value(row, c[0]) is not None for row in rows)]
    first = rows[0]
    lines = [
        f"Teacher `{first['teacher']}` on `{first.get('data', '')}` (n={first['n']}); mean ± std [95% t interval "
        "of the mean, seeds − 1 degrees of freedom] over seeds; a recipe with one seed shows its value alone "
        "(no interval can be computed from one seed).",
        "",
        "| recipe | family | seeds | " + " | ".join(title for _, title, _, _ in columns) + " |",
        "|---|---|---|" + "---|" * len(columns),
    ]
    teacher_cells = {
        "accuracy": first.get("teacher_accuracy"),
        "label_loyalty": 1.0,
        "probability_loyalty": 1.0,
        "accuracy_under_attack": first.get("teacher_accuracy_under_attack"),
        "robustness_drop": 0.0 if first.get("teacher_accuracy_under_attack") is not None else None,
        "speedup": 1.0,
        "parameters": first.get("teacher_parameters"),
        "size_bytes": first.get("teacher_size_bytes"),
    }
    cells = [_cell([_scaled(key, teacher_cells.get(key))], fmt) for key, _, fmt, _ in columns]
    lines.append("| teacher | – | – | " + " | ".join(cells) + " |")
    for recipe, group in group_by_recipe(rows).items():
        cells = [
            _cell([_scaled(key, _value(row, key)) for row in group], fmt, interval) for key, _, fmt, interval in columns
        ]
        lines.append(f"| `{recipe}` | {group[0]['family']} | {len(group)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n\n" + render_findings(rows)


def render_findings(rows: list[dict]) -> str:
    """The paper's four findings as a Markdown list, each with the interval that decides it."""
    lines = [
        "The paper's findings (95% t interval over seeds of a difference paired by seed; "
        "`loyalty_tests.bench.findings` defines each):",
        "",
        *(f"- {format_finding(finding)}" for finding in paper_findings(rows)),
    ]
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
