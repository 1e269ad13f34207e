"""Gate records and item outcomes -> one report dict -> JSON, Markdown and terminal lines.

The verdict is derived from every gate item's outcome, not from the rows alone: a gate that
errored (a crash, bad input), failed, or never reported (an interrupted run) makes the verdict
FAILED; so does a run in which no gate was checked at all. Fractions are stored; percentages
appear only when rendering.
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone

from .. import __version__
from ..gates.result import GateResult
from ..infra.environment import environment
from ..robustness.margin import margin_lines
from .records import GateRecord

# outcome of a gate item -> does it let the verdict pass, and its mark in the terminal
OUTCOMES = {
    "passed": (True, "PASS"),
    "warned": (True, "WARN"),
    "skipped": (True, "SKIP"),
    "failed": (False, "FAIL"),
    "error": (False, "ERROR"),
    "missing": (False, "MISSING"),
}


def build_report(
    teacher: str | None, records: list[GateRecord], items: dict[str, dict], *, seed: int, device: str = "cpu"
) -> dict:
    """Merge gate records and item outcomes into one report: per student, metrics and gates.

    ``items`` maps a gate item's node id to ``{"student", "gate", "outcome", "reason", "gates"}``
    (``gates``: the item's typed ``GateResult``s); ``records`` (one per checked gate) carry the
    numbers, the data and model fingerprints and the thresholds.
    """
    students: dict[str, dict] = {}
    report = {
        "loyalty_tests_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "teacher": teacher,
        "teacher_fingerprint": None,
        "seed": seed,
        "engine": "local",
        "environment": environment(device),
        "data": None,
        "thresholds": None,
        "phases": [],
        "students": [],
    }
    for record in records:
        report["data"] = report["data"] or record.data
        report["thresholds"] = report["thresholds"] or record.thresholds
        report["teacher_fingerprint"] = report["teacher_fingerprint"] or record.teacher_fingerprint
        report["teacher"] = report["teacher"] or record.teacher_name
        report["engine"] = record.engine
        entry = _student(students, record.student)
        entry["metrics"] = entry["metrics"] or record.metrics
        entry["fingerprint"] = entry["fingerprint"] or record.student_fingerprint
        entry["flips"] = record.flips or entry.get("flips")
        entry["latency"] = record.latency or entry["latency"]
        entry["robustness"] = record.robustness or entry["robustness"]
        if record.lm:  # causal LMs: token loyalty summary and generation agreement (plugins/lm_session.py)
            entry.setdefault("lm", {}).update(record.lm)
        entry["evidence"] = entry["evidence"] or record.evidence  # what the HTML page draws
        entry["batch_dependent"] = entry.get("batch_dependent") or record.batch_dependent
        for phase in record.phases:
            if phase not in report["phases"]:
                report["phases"].append(phase)
    for nodeid, item in sorted(items.items()):
        entry = _student(students, item["student"])
        reason = f"{item['gate']}: {item.get('reason') or item['outcome']}"
        gates = item.get("gates") or [GateResult(item["gate"], False, None, None, "", reason)]
        for gate in gates:
            entry["gates"].append({**gate.to_row(), "outcome": gate_outcome(item["outcome"], gate), "item": nodeid})
    report["students"] = list(students.values())
    outcomes = [gate["outcome"] for student in report["students"] for gate in student["gates"]]
    checked = [o for o in outcomes if o in ("passed", "warned", "failed")]
    report["passed"] = bool(checked) and all(OUTCOMES[o][0] for o in outcomes)
    report["verdict"] = "PASSED" if report["passed"] else "FAILED"
    if not checked and all(OUTCOMES[o][0] for o in outcomes):
        report["verdict_reason"] = "no gate was checked"
    return report


def _student(students: dict, label: str) -> dict:
    return students.setdefault(
        label,
        {
            "spec": label,
            "fingerprint": None,
            "metrics": None,
            "latency": None,
            "robustness": None,
            "evidence": None,
            "batch_dependent": None,
            "gates": [],
        },
    )


def gate_outcome(item_outcome: str, gate: GateResult) -> str:
    """One gate's outcome from its item's: one item may hold several results (the baseline gate
    checks three metrics), so a passed item's failed warn-only result is "warned" and a failed
    item's passing result is "passed".

    >>> ok = GateResult("baseline:label_loyalty", True, 0.9, 0.8, "default", "")
    >>> gate_outcome("failed", ok), gate_outcome("error", ok)
    ('passed', 'error')
    """
    if item_outcome in ("passed", "warned"):
        if not gate.passed:
            return "warned" if gate.warn_only else "failed"
        return "passed"
    if item_outcome == "failed" and gate.passed:
        return "passed"  # a sibling row failed the item
    return item_outcome


def _finite_or_none(value):
    """JSON has no NaN: an undefined figure (e.g. a success rate with nothing attacked) becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


def to_json(report: dict) -> str:
    return json.dumps(_finite_or_none(report), indent=2, sort_keys=False, default=float, allow_nan=False) + "\n"


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


def table_rows(report: dict) -> list[list[str]]:
    attacked = [s["robustness"] for s in report["students"] if s.get("robustness")]
    header = (
        ["model", "accuracy", "acc. drop", "label loyalty (95% CI)", "prob. loyalty (95% CI)", "speedup"]
        + (["acc. under attack"] if attacked else [])
        + ["gates"]
    )
    rows = [header]
    first = next((s["metrics"] for s in report["students"] if s["metrics"]), {})
    teacher_row = [f"teacher {report['teacher'] or '(not loaded)'}", _value(first, "teacher_accuracy"), "", "", "", ""]
    if attacked:
        teacher_row.append(f"{attacked[0]['teacher']['accuracy_under_attack']:.3f}")
    rows.append(teacher_row + [""])
    for student in report["students"]:
        metrics, gates = student["metrics"], student["gates"]
        bad = [
            f"{g['gate']} {g['outcome']}" for g in gates if not OUTCOMES[g["outcome"]][0] or g["outcome"] == "warned"
        ]
        verdict = gate_counts(gates) + (f" ({', '.join(bad)})" if bad else "")
        speedup = f"{student['latency']['speedup']:.2f}x" if student.get("latency") else "–"
        row = [
            student["spec"],
            _value(metrics, "student_accuracy"),
            _value(metrics, "accuracy_drop"),
            _value(metrics, "label_loyalty", True),
            _value(metrics, "probability_loyalty", True),
            speedup,
        ]
        if attacked:
            robustness = student.get("robustness")
            row.append(f"{robustness['student']['accuracy_under_attack']:.3f}" if robustness else "–")
        rows.append(row + [verdict])
    return rows


def gate_counts(gates: list[dict]) -> str:
    """Each outcome counted apart, as pytest counts tests: a skipped gate is neither passed nor failed.

    >>> gate_counts([{"outcome": "passed"}] * 5 + [{"outcome": "skipped"}])
    '5 passed, 1 skipped'
    >>> gate_counts([{"outcome": "error"}, {"outcome": "passed"}, {"outcome": "error"}])
    '1 passed, 2 errors'
    """
    counts = {outcome: sum(1 for g in gates if g["outcome"] == outcome) for outcome in OUTCOMES}
    return (
        ", ".join(f"{n} {outcome}{'s' if outcome == 'error' and n > 1 else ''}" for outcome, n in counts.items() if n)
        or "no gates"
    )


def robustness_lines(report: dict, examples: int = 2) -> list[str]:
    """Per attacked student: both models' attack figures (percentages only here) and a few
    adversarial examples that fool the student but not the teacher."""
    lines = []
    for student in report["students"]:
        r = student.get("robustness")
        if not r:
            continue
        t, s = r["teacher"], r["student"]
        stop = f" ({r['stop_reason']})" if r.get("stop_reason") else ""
        lines.append(
            f"robustness [{student['spec']}] {r['recipe']}, {r['examples']} examples attacked{stop}, "
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


def phase_line(report: dict) -> str | None:
    """Where the time went before and during the gates: pytest's own timing hides model work."""
    phases: dict[str, list[dict]] = {}
    for entry in report.get("phases") or []:
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
                f"{e['model']} {e.get('measured_seconds', 0):.1f} s"
                + (f" on {e['measured_at']}" if e.get("measured_at") else "")
                for e in cached
            )
            note = f" ({len(cached)} of {len(entries)} from the cache, measured {measured})"
        parts.append(f"{phase} {total:.1f} s{note}")
    return "time: " + "; ".join(parts)


def _gate_lines(report: dict) -> list[str]:
    lines = []
    for student in report["students"]:
        for gate in student["gates"]:
            mark = OUTCOMES[gate["outcome"]][1]
            message = gate["message"] or f"{gate['gate']}: {gate['outcome']}"
            lines.append(f"{mark} [{student['spec']}] {message}")
    return lines


def flip_lines(report: dict) -> list[str]:
    """Per student: negative and positive flips (Yan et al. 2021), and which labels the student broke."""
    lines = []
    for student in report["students"]:
        f = student.get("flips")
        if not f:
            continue
        share = f.get("negative_flip_share_of_errors")
        share_text = "" if share is None or share != share else f"; {_pct(share)} of the student's errors are new"
        top = ", ".join(f"{t} -> {s} ({count})" for t, s, count in f.get("top_negative_flips") or [])
        lines.append(
            f"flips [{student['spec']}] negative {f['negative_flips']} ({_pct(f['negative_flip_rate'])} of "
            f"{f['n']}), positive {f['positive_flips']} ({_pct(f['positive_flip_rate'])}){share_text}"
            + (f"; most broken: {top}" if top else "")
        )
    return lines


def batch_lines(report: dict) -> list[str]:
    """A note per student whose outputs depend on its batch (``models/batching.py``)."""
    return [
        f"batch-dependent [{student['spec']}]: {student['batch_dependent']}"
        for student in report["students"]
        if student.get("batch_dependent")
    ]


def _verdict(report: dict) -> str:
    reasons = [report["verdict_reason"]] if report.get("verdict_reason") else []
    reasons += [
        f"{gate['gate']} [{student['spec']}] {gate['cannot']}"
        for student in report.get("students", [])
        for gate in student.get("gates", [])
        if gate.get("cannot")
    ]
    return report["verdict"] + (f" ({'; '.join(reasons)})" if reasons else "")


def family_footer() -> str:
    """The measured A/A family-wise false-FAIL rate of the default settings (benchmarks/bench_verdicts.py --all)."""
    from ..stats.measured import FAMILY_AA_FALSE_FAIL

    return FAMILY_AA_FALSE_FAIL


def render_terminal(report: dict) -> list[str]:
    rows = table_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    data = report.get("data") or {}
    # no data in the report: no gate got as far as predicting (e.g. a model failed to load)
    read = (
        f"data {data.get('name')} (n={data.get('n')})" if data else "data not read (no gate got as far as predicting)"
    )
    lines = [f"teacher {report['teacher'] or 'not loaded'} | {read} | seed {report['seed']}"]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    lines += _gate_lines(report)
    lines += flip_lines(report)
    lines += robustness_lines(report)
    lines += batch_lines(report)
    phases = phase_line(report)
    if phases:
        lines.append(phases)
    lines.append(family_footer())
    lines.append("gate verdict: " + _verdict(report))
    return lines


def render_markdown(report: dict, html_path: str | None = None) -> str:
    """The GitHub job summary: the essentials in view, long parts in ``<details>``, under 1 MiB
    (``summary.fit_to_limit``); ``html_path``: the HTML page written next to it, named so a reader finds it."""
    from .summary import evidence_details, fit_to_limit

    data = report.get("data") or {}
    rows = table_rows(report)
    page = f" Charts and examples: `{html_path}` (one self-contained HTML page)." if html_path else ""
    lines = [
        f"## Loyalty gate: {'✅ passed' if report['passed'] else '❌ failed'}",
        "",
        f"Teacher `{report['teacher'] or '(not loaded)'}` on `{data.get('name')}` (n={data.get('n')}), "
        f"seed {report['seed']}.{page}",
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
    for student in report["students"]:
        for gate in student["gates"]:
            value = "–" if gate["value"] is None else f"{gate['value']:.3f}"
            if gate.get("ci_low") is not None and gate.get("ci_high") is not None:
                value += f" [{gate['ci_low']:.3f}–{gate['ci_high']:.3f}]"
            limit = "–" if gate["limit"] is None else f"{gate['limit']:.3f}"
            mark = OUTCOMES[gate["outcome"]][1].lower()
            mark = mark if OUTCOMES[gate["outcome"]][0] else f"**{mark}**"
            why = (gate["message"] or "").replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| `{student['spec']}` | {gate['gate']} | {value} | {limit} | {gate.get('three_way') or '–'} "
                f"| {mark} | {why} |"
            )
    lines += flip_lines(report) and ["", *flip_lines(report)]
    lines += batch_lines(report) and ["", *batch_lines(report)]
    lines += ["", f"Verdict: **{_verdict(report)}**", "", f"<sub>{family_footer()}</sub>"]
    robustness = robustness_lines(report, examples=3)
    if robustness:
        lines += ["", "<details><summary>Robustness</summary>", "", "```text", *robustness, "```", "", "</details>"]
    phases = phase_line(report)
    if phases:
        lines += ["", phases]
    if report.get("thresholds"):
        lines += ["", "<details><summary>Thresholds</summary>", "", "| threshold | value | source |", "|---|---|---|"]
        lines += [f"| {k} | {v['value']} | {v['source']} |" for k, v in report["thresholds"].items()]
        lines += ["", "</details>"]
    return fit_to_limit(lines, evidence_details(report))
