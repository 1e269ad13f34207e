"""The HTML page's stylesheet and its small building blocks (tables, numbers, probabilities).

Colours are CSS variables with a dark set under ``prefers-color-scheme: dark``; the charts draw
their axes in ``currentColor``, so they follow the same switch.
"""

from __future__ import annotations

import html
import math

CSS = """
:root { --bg: #ffffff; --fg: #1d2329; --muted: #5b6670; --line: #d5dbe1; --panel: #f5f7f9;
  --pass-bg: #e3f4e9; --pass-fg: #17653a; --fail-bg: #fbe5e5; --fail-fg: #a12626;
  --warn-bg: #fbf1d6; --warn-fg: #7a5a00; --mark: #ffe08a; --del: #f6c4c4; --ins: #c5ecd3; --link: #1f62c1; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15191d; --fg: #e3e8ed; --muted: #9aa6b1; --line: #36404a; --panel: #1e242a;
    --pass-bg: #173a26; --pass-fg: #8fe0ad; --fail-bg: #46201f; --fail-fg: #ffaaa5;
    --warn-bg: #3d3213; --warn-fg: #f2d27a; --mark: #6b5410; --del: #6a2a2a; --ins: #1f5234; --link: #8cb8ff; }
}
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 1.2rem; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
a { color: var(--link); }
h1 { font-size: 1.5rem; margin: 0.2rem 0 0.4rem; }
h2 { font-size: 1.25rem; margin: 1.6rem 0 0.5rem; border-bottom: 2px solid var(--line); padding-bottom: 0.2rem; }
h3 { font-size: 1.05rem; margin: 1.2rem 0 0.4rem; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em; }
.verdict, .banner { border-radius: 6px; padding: 0.15rem 0.6rem; }
.banner { padding: 0.6rem 0.9rem; margin: 0.4rem 0 0.8rem; font-size: 1.05rem; }
.pass { background: var(--pass-bg); color: var(--pass-fg); }
.fail { background: var(--fail-bg); color: var(--fail-fg); }
.warn { background: var(--warn-bg); color: var(--warn-fg); }
.note { background: var(--warn-bg); color: var(--warn-fg); padding: 0.5rem 0.8rem; border-radius: 6px; }
.muted, caption { color: var(--muted); }
section { margin-bottom: 0.6rem; }
table { border-collapse: collapse; margin: 0.4rem 0 0.8rem; font-size: 0.88rem; width: 100%; }
caption { text-align: left; font-size: 0.82rem; padding-bottom: 0.2rem; }
th, td { border-bottom: 1px solid var(--line); padding: 0.28rem 0.5rem; text-align: left; vertical-align: top; }
th { background: var(--panel); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { max-width: 34rem; }
td.flip { outline: 2px solid var(--fail-fg); outline-offset: -2px; }
.outcome-PASS { color: var(--pass-fg); font-weight: 600; }
.outcome-FAIL { color: var(--fail-fg); font-weight: 600; }
.outcome-INCONCLUSIVE { color: var(--warn-fg); font-weight: 600; }
.chart { display: block; max-width: 100%; height: auto; margin: 0.3rem 0; }
details { margin: 0.3rem 0 0.6rem; }
summary { cursor: pointer; color: var(--muted); }
del.changed { background: var(--del); color: inherit; text-decoration: line-through; }
ins.changed { background: var(--ins); color: inherit; text-decoration: none; font-weight: 600; }
.pair { display: grid; grid-template-columns: 6rem 1fr; gap: 0.1rem 0.6rem; margin: 0.5rem 0 0.9rem;
  padding: 0.5rem 0.7rem; background: var(--panel); border-radius: 6px; }
.pair .label { color: var(--muted); }
.p { white-space: nowrap; }
.message { font-size: 0.8rem; color: var(--muted); }
"""


def number(value, digits: int = 3) -> str:
    """A figure for a table cell; a missing or undefined one is a dash.

    >>> number(0.12345), number(None), number(float("nan"))
    ('0.123', '–', '–')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f"{value:.{digits}f}"


def percent(value) -> str:
    """Fractions are stored; percentages appear only here. ``percent(0.25)`` is ``'25.0%'``."""
    return "–" if number(value) == "–" else f"{value:.1%}"


def probabilities(probs: dict) -> str:
    """``{"negative": 0.9, "positive": 0.1}`` as a cell, the predicted label in bold."""
    if not probs:
        return "–"
    top = max(probs, key=probs.get)
    cells = [
        (
            f'<b class="p">{html.escape(name)} {p:.3f}</b>'
            if name == top
            else f'<span class="p">{html.escape(name)} {p:.3f}</span>'
        )
        for name, p in probs.items()
    ]
    return "<br>".join(cells)


def table(
    header: list[str],
    rows: list[list[str]],
    caption: str = "",
    *,
    raw: bool = False,
    numeric: set[int] = frozenset(),
    classes: dict | None = None,
) -> str:
    """A table; cells are escaped unless ``raw`` (then the caller escaped them). ``numeric``: column
    indices aligned right; ``classes``: (row, column) -> a class for that cell."""
    cell = (lambda text: text) if raw else (lambda text: html.escape(str(text)))
    lines = ["<table>"] + ([f"<caption>{html.escape(caption)}</caption>"] if caption else [])
    lines.append("<thead><tr>" + "".join(f'<th scope="col">{html.escape(h)}</th>' for h in header) + "</tr></thead>")
    lines.append("<tbody>")
    for r, row in enumerate(rows):
        cells = []
        for c, value in enumerate(row):
            names = ["num"] if c in numeric else []
            names += [(classes or {}).get((r, c))] if (classes or {}).get((r, c)) else []
            attribute = f' class="{" ".join(names)}"' if names else ""
            cells.append(f"<td{attribute}>{cell(value)}</td>")
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def figure(svg: str | None, fallback: str = "") -> str:
    """A chart, or (without matplotlib) nothing: the tables next to it carry the data."""
    return svg if svg else fallback
