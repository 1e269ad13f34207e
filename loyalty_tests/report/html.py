"""The gate report as one self-contained HTML page: what a reviewer pastes into the release ticket.

``render_html(report)`` turns the typed report (``model.Report``; ``Report.from_json`` reads a
saved one, so a page can be drawn from any JSON report) into one page: no network, no CDN, no
script; every style inline and every chart an inline SVG drawn by matplotlib (``charts.py``).
A Content-Security-Policy of ``default-src 'none'`` lets the browser load nothing beyond the
file. Without matplotlib (the ``html`` extra) the page keeps every table and says which extra
draws the charts. Light and dark modes follow ``prefers-color-scheme``.

Per student: the verdict banner, the gates (value, interval against the limit, outcome, decision
rule, how many examples would decide), the agreement matrix with negative flips, the worst
negative flips and departures, calibration, latency, robustness, an LM part when present, and,
folded away at the end, the environment and fingerprints. Sections are ``section[data-section]``
elements, which is how the browser test finds them.

LM students: a student entry may carry an ``lm`` part; the page renders it when present and
leaves the section out when absent. The schema (all keys optional, every list capped by whoever
writes it)::

    "lm": {
      "summary":     {"token_agreement": 0.93, "kl_teacher_student": 0.041, ...},  # name -> number
      "per_text":    [{"text": "...", "tokens": 57, "token_agreement": 0.95, "kl": 0.03, ...}],
      "worst_tokens": [{"text_index": 3, "position": 17, "context": "... the model", "teacher_token": " said",
                        "student_token": " told", "kl": 2.31, ...}]
    }

``summary`` becomes a table of name and value; ``per_text`` a table (the text first) and one bar
panel per numeric column; ``worst_tokens`` a table of whatever columns its rows have.
"""

from __future__ import annotations

import html

from . import charts
from .document import phase_line
from .html_sections import (
    agreement_section,
    calibration_section,
    examples_section,
    gates_section,
    latency_section,
    lm_section,
    robustness_section,
)
from .html_style import CSS, table
from .model import Report, StudentEntry

CSP = "default-src 'none'; style-src 'unsafe-inline'"  # inline styles only: no script, image, font or fetch


def _student_passed(student: StudentEntry) -> bool:
    return bool(student.gates) and all(g.lets_pass for g in student.gates)


def _banner(student: StudentEntry) -> str:
    gates = student.gates
    passed = _student_passed(student)
    counts = {}
    for gate in gates:
        counts[gate.outcome] = counts.get(gate.outcome, 0) + 1
    detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    state = "pass" if passed else "fail"
    word = "PASSED" if passed else "FAILED"
    return (
        f'<div class="banner {state}" role="status"><strong>{word}</strong> {len(gates)} gates: '
        f"{html.escape(detail) or 'none checked'}</div>"
    )


def _student(student: StudentEntry, number: int, report: Report) -> str:
    key = f"s{number}"
    spec = html.escape(student.spec)
    parts = [
        f'<section class="student" id="{key}" aria-labelledby="{key}-h">',
        f'<h2 id="{key}-h">Student <code>{spec}</code></h2>',
        _banner(student),
        gates_section(student, key),
        agreement_section(student, key),
        examples_section(student),
        calibration_section(student, key),
        latency_section(student, report, key),
        robustness_section(student, report, key),
    ]
    if student.lm:
        parts.append(lm_section(student.lm, key))
    parts.append("</section>")
    return "\n".join(parts)


def _environment(report: Report) -> str:
    data = report.data or {}
    fingerprints = [
        ["teacher", report.teacher or "–", report.teacher_fingerprint or "–"],
        ["data", data.get("name") or "–", data.get("fingerprint") or "–"],
    ]
    fingerprints += [["student", s.spec, s.fingerprint or "–"] for s in report.students]
    environment = report.environment or {}
    versions = environment.get("versions") or {}
    rows = [[key, str(value)] for key, value in environment.items() if key != "versions"]
    thresholds = [[k, str(v["value"]), v["source"]] for k, v in (report.thresholds or {}).items()]
    phases = phase_line(report.phases)
    return "\n".join(
        [
            '<section data-section="environment" class="wide"><h2>Environment and fingerprints</h2>',
            "<details><summary>Machine, versions, fingerprints, thresholds</summary>",
            table(["what", "name", "fingerprint"], fingerprints, "fingerprints"),
            table(
                ["setting", "value"],
                rows + [["engine", report.engine or "local"], ["seed", str(report.seed)]],
                "environment",
            ),
            table(["package", "version"], [[k, str(v)] for k, v in versions.items()], "versions"),
            table(["threshold", "value", "source"], thresholds, "thresholds") if thresholds else "",
            f"<p>{html.escape(phases)}</p>" if phases else "",
            "</details></section>",
        ]
    )


def render_html(report: Report) -> str:
    """The whole page as one string (UTF-8 when written)."""
    data = report.data or {}
    state = "pass" if report.passed else "fail"
    title = f"Loyalty gate {report.verdict}: teacher {report.teacher}"
    students = report.students
    verdict = report.verdict + (f" ({report.verdict_reason})" if report.verdict_reason else "")
    nav = " · ".join(f'<a href="#s{i}">{html.escape(s.spec)}</a>' for i, s in enumerate(students))
    note = (
        ""
        if charts.available()
        else (
            '<p class="note" data-section="no-charts">Charts are not drawn: matplotlib is not installed. The tables '
            f"hold the same data; <code>{html.escape(charts.INSTALL)}</code> draws them.</p>"
        )
    )
    body = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        '<header data-section="verdict">',
        f'<h1>Loyalty gate <span class="verdict {state}">{html.escape(verdict)}</span></h1>',
        (
            f"<p>Teacher <code>{html.escape(str(report.teacher))}</code> on <code>"
            f"{html.escape(str(data.get('name')))}</code> (n={data.get('n')}), seed {report.seed}, "
            f"{html.escape(str(report.created))}, loyalty_tests "
            f"{html.escape(str(report.loyalty_tests_version))}.</p>"
        ),
        f'<nav aria-label="students">Students: {nav or "none"}</nav>',
        note,
        "</header>",
        "<main>",
        *[_student(student, i, report) for i, student in enumerate(students)],
        _environment(report),
        "</main>",
        "</body>",
        "</html>",
    ]
    return "\n".join(part for part in body if part) + "\n"
