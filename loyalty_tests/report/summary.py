"""The Markdown report's long parts, folded into ``<details>``, and the size guard that keeps the
whole of it under GitHub's job-summary limit (1 MiB per step; a larger summary is rejected and the
job page shows none of it).

The essentials (verdict, the models' table, the gates' table, the link to the HTML page) come
first and always stay; then the folded parts, in order, as long as they fit; whatever does not fit
is named in a closing note that points at the JSON and HTML reports, which hold it all.
"""

from __future__ import annotations

GITHUB_SUMMARY_LIMIT = 1024 * 1024  # bytes GitHub accepts in one step's $GITHUB_STEP_SUMMARY
MARGIN = 4096  # room for the closing note


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _probabilities(probs: dict) -> str:
    return " ".join(f"{name} {p:.3f}" for name, p in (probs or {}).items())


def _examples(title: str, rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = [
        f"<details><summary>{title}</summary>",
        "",
        "| # | text | gold | teacher | student | prob. loyalty |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['index']} | {_cell(r['text'])} | {_cell(r['label'])} | {_probabilities(r['teacher'])} | "
        f"{_probabilities(r['student'])} | {r['probability_loyalty']:.3f} |"
        for r in rows
    ]
    return lines + ["", "</details>"]


def evidence_details(report) -> list[list[str]]:
    """Per student of the ``model.Report``, the folded parts drawn from its evidence: the agreement
    matrix, the worst negative flips and the examples where the student departs most. One list of
    lines per part."""
    parts = []
    for student in report.students:
        evidence = student.evidence or {}
        spec = f"`{student.spec}`"
        names, matrix = evidence.get("label_names") or [], evidence.get("agreement_matrix")
        if matrix:
            lines = [
                f"<details><summary>Agreement matrix, {spec} (rows teacher, columns student)</summary>",
                "",
                "| teacher \\ student | " + " | ".join(_cell(n) for n in names) + " |",
                "|---|" + "---|" * len(names),
            ]
            lines += [
                f"| {_cell(name)} | " + " | ".join(str(c) for c in row) + " |" for name, row in zip(names, matrix)
            ]
            parts.append(lines + ["", "</details>"])
        for key, title in (
            ("worst_negative_flips", "Worst negative flips"),
            ("worst_disagreements", "Where the student departs most"),
        ):
            lines = _examples(f"{title}, {spec}", evidence.get(key) or [])
            if lines:
                parts.append(lines)
    return parts


def fit_to_limit(essentials: list[str], folded: list[list[str]], limit: int = GITHUB_SUMMARY_LIMIT) -> str:
    """``essentials`` then as many ``folded`` parts as fit in ``limit`` bytes (UTF-8); what is left out
    is said at the end. Essentials larger than the limit are cut, and that is said too.

    >>> text = fit_to_limit(["# v"], [["a" * 10], ["b" * 10]], limit=MARGIN + 20)
    >>> "a" * 10 in text, "b" * 10 in text, "1 folded part left out" in text
    (True, False, True)
    """
    budget = limit - MARGIN
    out, size = [], 0
    for line in essentials:
        cost = len(line.encode()) + 1
        if size + cost > budget:
            out.append(
                f"\n(the report is cut here: it exceeds GitHub's {limit // 1024} KiB job-summary limit; the "
                "JSON and HTML reports hold all of it)"
            )
            return "\n".join(out) + "\n"
        out.append(line)
        size += cost
    left_out = 0
    for part in folded:
        text = "\n".join(["", *part])
        cost = len(text.encode()) + 1
        if size + cost > budget:
            left_out += 1
            continue
        out.append(text)
        size += cost
    if left_out:
        out.append(
            f"\n({left_out} folded part{'s' if left_out != 1 else ''} left out to stay under GitHub's "
            f"{limit // 1024} KiB job-summary limit; the JSON and HTML reports hold them)"
        )
    return "\n".join(out) + "\n"
