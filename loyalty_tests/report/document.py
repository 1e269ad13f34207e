"""The typed report (``model.Report``) -> terminal lines and the Markdown job summary.

The renderers read the report's typed entries: each gate's ``GateResult`` and its outcome, by
attribute. The measurements beside the gates (metrics, flips, latency, robustness) are the rows
their producers wrote. Fractions are stored; percentages appear only when rendering. The JSON
report is ``Report.to_json``.
"""

from __future__ import annotations

import math

from ..robustness.margin import margin_lines
from .model import OUTCOMES, GateEntry, Report, build_report, gate_outcome

__all__ = ["OUTCOMES", "Report", "build_report", "gate_outcome", "render_markdown", "render_terminal"]


def _pct(value) -> str:
    return "–" if value is None or (isinstance(value, float) and not math.isfinite(value)) else f"{value:.1%}"


def _value(metrics: dict | None, name: str, ci: bool = False) -> str:
    metric = (metrics or {}).get(name)
    if not metric or metric.get("value") is None:
        return "–"
    text = f"{metric['value']:.3f}"
    if ci and metric.get("ci_low") is not None:
        text += f" [{metric['ci_low']:.3f}–{metric['ci_high']:.3f}]"
    return text


def table_rows(report: Report) -> list[list[str]]:
    attacked = [s.robustness for s in report.students if s.robustness]
    header = (
        ["model", "accuracy", "acc. drop", "label loyalty (95% CI)", "prob. loyalty (95% CI)", "speedup"]
        + (["acc. under attack"] if attacked else [])
        + ["gates"]
    )
    rows = [header]
    first = next((s.metrics for s in report.students if s.metrics), {})
    teacher_row = [f"teacher {report.teacher or '(not loaded)'}", _value(first, "teacher_accuracy"), "", "", "", ""]
    if attacked:
        teacher_row.append(f"{attacked[0]['teacher']['accuracy_under_attack']:.3f}")
    rows.append(teacher_row + [""])
    for student in report.students:
        metrics, gates = student.metrics, student.gates
        bad = [f"{g.result.gate} {g.outcome}" for g in gates if not g.lets_pass or g.outcome == "warned"]
        verdict = gate_counts([g.outcome for g in gates]) + (f" ({', '.join(bad)})" if bad else "")
        speedup = f"{student.latency['speedup']:.2f}x" if student.latency else "–"
        row = [
            student.spec,
            _value(metrics, "student_accuracy"),
            _value(metrics, "accuracy_drop"),
            _value(metrics, "label_loyalty", True),
            _value(metrics, "probability_loyalty", True),
            speedup,
        ]
        if attacked:
            robustness = student.robustness
            row.append(f"{robustness['student']['accuracy_under_attack']:.3f}" if robustness else "–")
        rows.append(row + [verdict])
    return rows


def gate_counts(outcomes: list[str]) -> str:
    """Each outcome counted apart, as pytest counts tests: a skipped gate is neither passed nor failed.

    >>> gate_counts(["passed"] * 5 + ["skipped"])
    '5 passed, 1 skipped'
    >>> gate_counts(["error", "passed", "error"])
    '1 passed, 2 errors'
    """
    counts = {outcome: outcomes.count(outcome) for outcome in OUTCOMES}
    return (
        ", ".join(f"{n} {outcome}{'s' if outcome == 'error' and n > 1 else ''}" for outcome, n in counts.items() if n)
        or "no gates"
    )


def robustness_lines(report: Report, examples: int = 2) -> list[str]:
    """Per attacked student: both models' attack figures (percentages only here) and a few
    adversarial examples that fool the student but not the teacher."""
    lines = []
    for student in report.students:
        r = student.robustness
        if not r:
            continue
        t, s = r["teacher"], r["student"]
        stop = f" ({r['stop_reason']})" if r.get("stop_reason") else ""
        lines.append(
            f"robustness [{student.spec}] {r['recipe']}, {r['examples']} examples attacked{stop}, "
            f"seed {r['seed']}, budget {r['budget']} queries (teacher / student):"
        )
        lines.append(
            f"  accuracy {_pct(t['original_accuracy'])} / {_pct(s['original_accuracy'])}; under attack "
            f"{_pct(t['accuracy_under_attack'])} / {_pct(s['accuracy_under_attack'])}; attack success "
            f"{_pct(t['attack_success_rate'])} / {_pct(s['attack_success_rate'])}"
        )
        lines += margin_lines(r)  # the robustness margin beside accuracy under attack (robustness/margin.py)
        queries = "queries " + " / ".join(
            "–" if x is None or x != x else f"{x:.0f}" for x in (t["mean_queries"], s["mean_queries"])
        )
        lines.append(
            f"  words perturbed {_pct(t['mean_perturbed_fraction'])} / {_pct(s['mean_perturbed_fraction'])}; "
            f"{queries}; seconds {t['seconds']:.1f} / {s['seconds']:.1f}; transfer rate "
            f"{_pct(r['transfer_rate'])}; label loyalty on adversarial inputs {_pct(r['adversarial_label_loyalty'])}"
        )
        for example in r["adversarial_examples"][:examples]:
            lines.append(f"  #{example['index']} fools the student only: {example['original']!r}")
            lines.append(f"    -> {example['perturbed']!r}")
    return lines


def phase_line(phase_rows) -> str | None:
    """Where the time went before and during the gates (``Report.phases``): pytest's own timing
    hides model work."""
    phases: dict[str, list[dict]] = {}
    for entry in phase_rows or []:
        phases.setdefault(entry["phase"], []).append(entry)
    if not phases:
        return None
    parts = []
    for phase, entries in phases.items():
        total = sum(entry["seconds"] for entry in entries)
        cached = [e for e in entries if e.get("cached")]
        note = ""
        partly = [e for e in entries if not e.get("cached") and e.get("cached_examples")]
        if partly:  # an attack that found some examples in the cache and attacked the rest
            note = "; ".join(
                f" ({e['cached_examples']} of {e['examples']} attacked examples from the cache"
                + (f", measured {e['measured_at']}" if e.get("measured_at") else "")
                + ")"
                for e in partly
            )
        elif cached:
            measured = ", ".join(
                f"{e['model']} {e['measured_seconds']:.1f} s"
                + (f" on {e['measured_at']}" if e.get("measured_at") else "")
                for e in cached
                if "measured_seconds" in e  # what the first run spent, where the cache keeps it
            )
            note = f" ({len(cached)} of {len(entries)} from the cache" + (
                f", measured {measured})" if measured else ")"
            )
        parts.append(f"{phase} {total:.1f} s{note}")
    return "time: " + "; ".join(parts)


def _gate_lines(report: Report) -> list[str]:
    return [
        f"{gate.mark} [{student.spec}] {gate.result.message or f'{gate.result.gate}: {gate.outcome}'}"
        for student in report.students
        for gate in student.gates
    ]


def flip_lines(report: Report) -> list[str]:
    """Per student: negative and positive flips (Yan et al. 2021), and which labels the student broke."""
    lines = []
    for student in report.students:
        f = student.flips
        if not f:
            continue
        share = f.get("negative_flip_share_of_errors")
        share_text = "" if share is None or share != share else f"; {_pct(share)} of the student's errors are new"
        top = ", ".join(f"{t} -> {s} ({count})" for t, s, count in f.get("top_negative_flips") or [])
        lines.append(
            f"flips [{student.spec}] negative {f['negative_flips']} ({_pct(f['negative_flip_rate'])} of "
            f"{f['n']}), positive {f['positive_flips']} ({_pct(f['positive_flip_rate'])}){share_text}"
            + (f"; most broken: {top}" if top else "")
        )
    return lines


def batch_lines(report: Report) -> list[str]:
    """A note per student whose outputs depend on its batch (``models/batching.py``)."""
    return [
        f"batch-dependent [{student.spec}]: {student.batch_dependent}"
        for student in report.students
        if student.batch_dependent
    ]


def _verdict(report: Report) -> str:
    reasons = [report.verdict_reason] if report.verdict_reason else []
    reasons += [
        f"{gate.result.gate} [{student.spec}] {gate.result.cannot}"
        for student in report.students
        for gate in student.gates
        if gate.result.cannot
    ]
    return report.verdict + (f" ({'; '.join(reasons)})" if reasons else "")


def family_footer() -> str:
    """The measured A/A family-wise false-FAIL rate of the default settings (benchmarks/bench_verdicts.py --all)."""
    from ..stats.measured import FAMILY_AA_FALSE_FAIL

    return FAMILY_AA_FALSE_FAIL


def render_terminal(report: Report) -> list[str]:
    rows = table_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    data = report.data or {}
    # no data in the report: no gate got as far as predicting (e.g. a model failed to load)
    read = (
        f"data {data.get('name')} (n={data.get('n')})" if data else "data not read (no gate got as far as predicting)"
    )
    lines = [f"teacher {report.teacher or 'not loaded'} | {read} | seed {report.seed}"]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    lines += _gate_lines(report)
    lines += flip_lines(report)
    lines += robustness_lines(report)
    lines += batch_lines(report)
    phases = phase_line(report.phases)
    if phases:
        lines.append(phases)
    lines.append(family_footer())
    lines.append("gate verdict: " + _verdict(report))
    return lines


def render_markdown(report: Report, html_path: str | None = None) -> str:
    """The GitHub job summary: the essentials in view, long parts in ``<details>``, under 1 MiB
    (``summary.fit_to_limit``); ``html_path``: the HTML page written next to it, named so a reader finds it."""
    from .summary import evidence_details, fit_to_limit

    data = report.data or {}
    rows = table_rows(report)
    page = f" Charts and examples: `{html_path}` (one self-contained HTML page)." if html_path else ""
    lines = [
        f"## Loyalty gate: {'✅ passed' if report.passed else '❌ failed'}",
        "",
        f"Teacher `{report.teacher or '(not loaded)'}` on `{data.get('name')}` (n={data.get('n')}), "
        f"seed {report.seed}.{page}",
        "",
        "| " + " | ".join(rows[0]) + " |",
        "|" + "---|" * len(rows[0]),
    ]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows[1:]]
    lines += [
        "",
        "| student | gate | value (95% CI) | limit | outcome | result | why |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [_gate_row(student.spec, gate) for student in report.students for gate in student.gates]
    lines += flip_lines(report) and ["", *flip_lines(report)]
    lines += batch_lines(report) and ["", *batch_lines(report)]
    lines += ["", f"Verdict: **{_verdict(report)}**", "", f"<sub>{family_footer()}</sub>"]
    robustness = robustness_lines(report, examples=3)
    if robustness:
        lines += ["", "<details><summary>Robustness</summary>", "", "```text", *robustness, "```", "", "</details>"]
    phases = phase_line(report.phases)
    if phases:
        lines += ["", phases]
    if report.thresholds:
        lines += ["", "<details><summary>Thresholds</summary>", "", "| threshold | value | source |", "|---|---|---|"]
        lines += [f"| {k} | {v['value']} | {v['source']} |" for k, v in report.thresholds.items()]
        lines += ["", "</details>"]
    return fit_to_limit(lines, evidence_details(report))


def _gate_row(spec: str, gate: GateEntry) -> str:
    """One row of the Markdown gates table."""
    result = gate.result
    value = "–" if result.value is None else f"{result.value:.3f}"
    if result.ci_low is not None and result.ci_high is not None:
        value += f" [{result.ci_low:.3f}–{result.ci_high:.3f}]"
    limit = "–" if result.limit is None else f"{result.limit:.3f}"
    mark = gate.mark.lower() if gate.lets_pass else f"**{gate.mark.lower()}**"
    why = (result.message or "").replace("|", "\\|").replace("\n", " ")
    return f"| `{spec}` | {result.gate} | {value} | {limit} | {result.three_way or '–'} | {mark} | {why} |"
