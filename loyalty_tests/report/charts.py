"""The HTML page's charts, drawn by matplotlib and inlined as SVG text (no image files, no network).

Why these choices:
- matplotlib's object API (``matplotlib.figure.Figure``) draws without pyplot, so no global
  figure state and no GUI backend is touched inside a pytest run.
- Text is kept as SVG text (``svg.fonttype = none``): the page's own font, selectable, smaller.
- Light and dark modes: axes, ticks and labels are drawn in a sentinel colour that becomes
  ``currentColor``, so they take the page's text colour in either mode; data colours are mid-tone
  hues that read on white and on near-black backgrounds; backgrounds are transparent.
- Several SVGs share one page, so each chart's element ids get the chart's own prefix.
- Text alternatives: every SVG is ``role="img"`` with a ``<title>`` and ``<desc>``; the page shows
  the same data as a table next to it.

Every function returns an SVG string, or None when matplotlib is not installed (the page then
falls back to its tables and says which extra to install).
"""

from __future__ import annotations

import functools
import html
import io
import re

INK = "#010203"  # drawn, then replaced by currentColor: the page's text colour in light and dark mode
COLOURS = {
    "teacher": "#3b7dd8",
    "student": "#e8772e",
    "PASS": "#2f9e5c",
    "FAIL": "#d94848",
    "INCONCLUSIVE": "#c49a1b",
    None: "#8c8c8c",
    "limit": "#9b6ddb",
    "grid": "#8c8c8c",
}
INSTALL = "pip install 'pytest-loyalty[html]'"


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _style() -> dict:
    return {
        "svg.fonttype": "none",
        "svg.hashsalt": "loyalty",
        "font.size": 9,
        "text.color": INK,
        "axes.edgecolor": INK,
        "axes.labelcolor": INK,
        "xtick.color": INK,
        "ytick.color": INK,
        "axes.facecolor": "none",
        "figure.facecolor": "none",
        "savefig.facecolor": "none",
        "savefig.edgecolor": "none",
        "axes.titlesize": 9,
        "legend.frameon": False,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }


def chart(draw):
    """A chart function: None without matplotlib, else drawn and saved under the page's style
    (matplotlib reads colours from its settings when each artist is made, so the whole drawing
    runs inside them)."""

    @functools.wraps(draw)
    def drawn(*args, **kwargs):
        if not available():
            return None
        from matplotlib import rc_context

        with rc_context(_style()):
            return draw(*args, **kwargs)

    return drawn


def _figure(width: float, height: float, rows: int = 1, cols: int = 1, **kwargs):
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots(rows, cols, squeeze=False, **kwargs)


def to_svg(figure, key: str, title: str, description: str) -> str:
    """The figure as one inline ``<svg>`` element: ids prefixed with ``key``, axes in currentColor,
    a title and description for screen readers."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = svg.replace(INK, "currentColor")
    svg = re.sub(r'id="([^"]+)"', rf'id="{key}-\1"', svg)
    svg = re.sub(r"url\(#", f"url(#{key}-", svg)
    svg = re.sub(r'xlink:href="#', f'xlink:href="#{key}-', svg)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    label = (
        f' role="img" aria-labelledby="{key}-title {key}-desc" class="chart"><title id="{key}-title">'
        f'{html.escape(title)}</title><desc id="{key}-desc">{html.escape(description)}</desc>'
    )
    return svg.replace(">", label, 1)


@chart
def forest(gates: list, key: str) -> str | None:
    """One row per gate (a ``GateResult``): the value, its interval and the limit (dashed), the side
    that fails shaded. Each row has its own scale, since accuracy drops, loyalties and speedups
    differ in size."""
    rows = [g for g in gates if g.value is not None]
    if not rows:
        return None
    figure, axes = _figure(6.4, 0.55 * len(rows) + 0.3, len(rows), 1)
    for ax, gate in zip(axes[:, 0], rows):
        value, limit = gate.value, gate.limit
        low = gate.ci_low if gate.ci_low is not None else value
        high = gate.ci_high if gate.ci_high is not None else value
        points = [low, high, value] + ([limit] if limit is not None else [])
        span = (max(points) - min(points)) or abs(value) or 1.0
        left, right = min(points) - 0.15 * span, max(points) + 0.15 * span
        colour = COLOURS.get(gate.three_way, COLOURS[None])
        if limit is not None:
            bad_left = gate.direction == "at_least"
            ax.axvspan(
                left if bad_left else limit, limit if bad_left else right, color=COLOURS["FAIL"], alpha=0.12, lw=0
            )
            ax.axvline(limit, color=COLOURS["limit"], ls="--", lw=1.2)
        ax.plot([low, high], [0, 0], color=colour, lw=3, solid_capstyle="butt")
        ax.plot([value], [0], "o", color=colour, ms=7, mec=INK, mew=0.6)
        ax.set_xlim(left, right)
        ax.set_ylim(-1, 1)
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="x", labelsize=8, length=2)
        ax.set_ylabel(gate.gate, rotation=0, ha="right", va="center", fontsize=9)
    description = "; ".join(
        f"{g.gate} {g.value:.3f} (CI {_num(g.ci_low)} to {_num(g.ci_high)}), "
        f"limit {_num(g.limit)}, outcome {g.three_way or '–'}"
        for g in rows
    )
    return to_svg(figure, key, "Gates: value and interval against the limit", description)


def _num(value) -> str:
    return "–" if value is None else f"{value:.3f}"


@chart
def agreement_heatmap(
    matrix: list[list[int]], names: list[str], negative: list[list[int]] | None, key: str
) -> str | None:
    """Teacher label (rows) × student label (columns), counts; cells holding negative flips
    (teacher right, student wrong) get a red frame and their count."""
    if not matrix:
        return None
    import numpy as np

    counts = np.asarray(matrix, dtype=float)
    size = max(3.4, 1.0 * len(names) + 1.6)
    figure, axes = _figure(size, size)
    ax = axes[0, 0]
    shares = counts / max(counts.sum(), 1)
    # pcolormesh draws vector cells; imshow would embed a raster image in the SVG
    ax.pcolormesh(
        np.arange(len(names) + 1) - 0.5,
        np.arange(len(names) + 1) - 0.5,
        shares,
        cmap="Blues",
        vmin=0,
        vmax=max(shares.max(), 1e-9),
        edgecolors="#8c8c8c",
        linewidth=0.5,
    )
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylim(len(names) - 0.5, -0.5)  # the teacher's first label on top, as in the table
    for i in range(len(names)):
        for j in range(len(names)):
            flips = negative[i][j] if negative and i < len(negative) and j < len(negative[i]) else 0
            text = f"{int(counts[i, j])}" + (f"\n{flips} neg. flips" if flips else "")
            dark = shares[i, j] > 0.5 * shares.max()
            ax.text(j, i, text, ha="center", va="center", fontsize=9, color="#ffffff" if dark else "#1a1a1a")
            if flips:
                ax.add_patch(_rectangle(j - 0.47, i - 0.47, 0.94, 0.94, COLOURS["FAIL"]))
    ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 3 else 0)
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("student label")
    ax.set_ylabel("teacher label")
    for spine in ax.spines.values():
        spine.set_visible(False)
    description = "; ".join(
        f"teacher {names[i]} / student {names[j]}: {int(counts[i, j])}"
        for i in range(len(names))
        for j in range(len(names))
    )
    return to_svg(figure, key, "Agreement matrix, teacher × student, negative flips framed in red", description)


def _rectangle(x: float, y: float, width: float, height: float, colour: str):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), width, height, fill=False, edgecolor=colour, lw=2.5)


@chart
def reliability(calibration: dict, eces: dict, key: str) -> str | None:
    """Both models' reliability diagrams: accuracy per confidence bin against the diagonal."""
    if not calibration:
        return None
    figure, axes = _figure(6.4, 3.0, 1, 2, sharey=True)
    for ax, role in zip(axes[0], ("teacher", "student")):
        rows = calibration.get(role) or []
        ax.plot([0, 1], [0, 1], color=COLOURS["grid"], ls="--", lw=1)
        ax.bar(
            [(r["low"] + r["high"]) / 2 for r in rows],
            [r["accuracy"] for r in rows],
            width=[0.95 * (r["high"] - r["low"]) for r in rows],
            color=COLOURS[role],
            alpha=0.85,
            label="accuracy",
        )
        ax.plot([r["confidence"] for r in rows], [r["accuracy"] for r in rows], "o", ms=3, color=INK)
        ece = eces.get(role)
        ax.set_title(f"{role}" + (f" — ECE {ece:.3f}" if ece is not None else ""))
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("confidence (max probability)")
    axes[0, 0].set_ylabel("accuracy in bin")
    description = " ".join(
        f"{role}: "
        + ", ".join(
            f"bin {r['low']:.2f}–{r['high']:.2f} n={r['count']} accuracy {r['accuracy']:.2f}"
            for r in calibration.get(role) or []
        )
        for role in ("teacher", "student")
    )
    return to_svg(figure, key, "Reliability diagrams of teacher and student", description)


@chart
def latency(row: dict, limit: float | None, key: str) -> str | None:
    """The interleaved timed rounds of both models, and the per-round speedup with its interval."""
    teacher, student = row.get("teacher_rounds") or [], row.get("student_rounds") or []
    if not teacher or not student:
        return None
    figure, axes = _figure(7.6, 2.8, 1, 2)
    rounds = range(1, len(teacher) + 1)
    ax = axes[0, 0]
    ax.plot(rounds, [s * 1e3 for s in teacher], "o-", ms=3, lw=1, color=COLOURS["teacher"], label="teacher")
    ax.plot(rounds, [s * 1e3 for s in student], "s-", ms=3, lw=1, color=COLOURS["student"], label="student")
    ax.set_xlabel("round")
    ax.set_ylabel(f"ms per batch of {row.get('batch_size', '?')}")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    ax = axes[0, 1]
    ratios = [t / s for t, s in zip(teacher, student) if s > 0]
    ax.plot(range(1, len(ratios) + 1), ratios, ".", color=COLOURS[None], label="teacher / student")
    ax.axhspan(row["ci_low"], row["ci_high"], color=COLOURS["student"], alpha=0.2, lw=0, label="95% CI")
    ax.axhline(row["speedup"], color=COLOURS["student"], lw=1.5, label=f"speedup {row['speedup']:.2f}×")
    if limit is not None:
        ax.axhline(limit, color=COLOURS["limit"], ls="--", lw=1.2, label=f"limit {limit:.2f}×")
    ax.set_xlabel("round")
    ax.set_ylabel("speedup")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))  # beside the panel, never over the rounds
    description = (
        f"{len(teacher)} interleaved rounds; median teacher {row.get('teacher_seconds', 0) * 1e3:.1f} ms, "
        f"student {row.get('student_seconds', 0) * 1e3:.1f} ms; speedup {row['speedup']:.3f} "
        f"(95% CI {row['ci_low']:.3f} to {row['ci_high']:.3f}), limit {_num(limit)}"
    )
    return to_svg(figure, key, "Latency: timed rounds and speedup", description)


@chart
def robustness(row: dict, limit: float | None, key: str) -> str | None:
    """Accuracy before and under attack for both models, and (when the attack went in blocks) the
    robustness drop's confidence sequence look by look against its limit."""
    if not row:
        return None
    sequence = row.get("sequence")
    figure, axes = _figure(6.4, 2.8, 1, 2 if sequence else 1)
    ax = axes[0, 0]
    for offset, role in ((-0.2, "teacher"), (0.2, "student")):
        part = row[role]
        values = [part.get("original_accuracy") or 0, part.get("accuracy_under_attack") or 0]
        ax.bar([offset, 1 + offset], values, width=0.38, color=COLOURS[role], label=role)
    ax.set_xticks([0, 1], ["clean", f"under {row['recipe']}"])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy on attacked examples")
    ax.legend(fontsize=8)
    description = (
        f"accuracy clean / under attack: teacher {row['teacher'].get('original_accuracy')} / "
        f"{row['teacher'].get('accuracy_under_attack')}, student {row['student'].get('original_accuracy')} / "
        f"{row['student'].get('accuracy_under_attack')}"
    )
    if sequence:
        ax = axes[0, 1]
        looks = sequence["looks"]
        for look, low, high in zip(looks, sequence["lows"], sequence["highs"]):
            ax.plot([look, look], [low, high], color=COLOURS["student"], lw=3, solid_capstyle="butt")
        drop = row.get("robustness_drop") or {}
        if drop.get("value") is not None:
            ax.plot([looks[-1]], [drop["value"]], "o", color=COLOURS["student"], mec=INK, mew=0.6, ms=6)
        if limit is not None:
            ax.axhline(limit, color=COLOURS["limit"], ls="--", lw=1.2, label=f"limit {limit:.2f}")
            ax.legend(fontsize=8)
        ax.axhline(0, color=COLOURS["grid"], lw=0.8)
        ax.set_xticks(looks)
        ax.set_xlim(0, looks[-1] + looks[0] / 2)
        ax.set_xlabel("examples attacked")
        ax.set_ylabel("robustness drop, running 95% CI")
        description += "; confidence sequence: " + ", ".join(
            f"after {n}: {low:.3f} to {high:.3f}" for n, low, high in zip(looks, sequence["lows"], sequence["highs"])
        )
    return to_svg(figure, key, "Robustness: accuracy under attack and the confidence sequence", description)


@chart
def per_text_bars(rows: list[dict], columns: list[str], key: str) -> str | None:
    """LM students: one bar panel per numeric column (e.g. token agreement, KL) over the texts."""
    if not rows or not columns:
        return None
    figure, axes = _figure(6.4, 2.4, 1, len(columns))
    for ax, column in zip(axes[0], columns):
        values = [row.get(column) or 0 for row in rows]
        ax.bar(range(1, len(values) + 1), values, color=COLOURS["student"])
        ax.set_title(column.replace("_", " "))
        ax.set_xlabel("text")
    description = "; ".join(f"{column}: " + ", ".join(f"{row.get(column)}" for row in rows) for column in columns)
    return to_svg(figure, key, "Per-text token loyalty", description)
