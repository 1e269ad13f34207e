"""Gate rows -> one report dict -> JSON, Markdown and terminal lines. Rendering only.

Fractions are stored; percentages appear only when rendering.
"""

from __future__ import annotations

import json
import math
import platform
from datetime import datetime, timezone

from . import __version__


def library_versions() -> dict:
    versions = {"loyalty_tests": __version__, "python": platform.python_version()}
    for name in ("numpy", "torch", "transformers"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    return versions


def build_report(teacher: str, rows: list[dict], outcomes: dict[str, str], *, seed: int) -> dict:
    """Merge gate rows (one per gate item) into one report: per student, metrics and gates.

    ``outcomes`` maps "student::gate" to the pytest outcome ("passed", "failed", "skipped", "warned").
    """
    students: dict[str, dict] = {}
    report = {"loyalty_tests_version": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "teacher": teacher, "seed": seed, "versions": library_versions(), "data": None, "thresholds": None,
              "students": []}
    for row in rows:
        report["data"] = report["data"] or row["data"]
        report["thresholds"] = report["thresholds"] or row["thresholds"]
        entry = students.setdefault(row["student"], {"spec": row["student"], "metrics": row["metrics"],
                                                     "latency": None, "robustness": None, "gates": []})
        entry["latency"] = row.get("latency") or entry["latency"]
        entry["robustness"] = row.get("robustness") or entry["robustness"]
        gate = dict(row["gate"])
        gate["outcome"] = outcomes.get(f"{row['student']}::{gate['gate']}", "passed" if gate["passed"] else "failed")
        entry["gates"].append(gate)
    report["students"] = list(students.values())
    report["passed"] = all(g["passed"] or g["warn_only"] for s in report["students"] for g in s["gates"])
    return report


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


def _value(metrics: dict, name: str, ci: bool = False) -> str:
    metric = metrics.get(name)
    if not metric or metric.get("value") is None:
        return "–"
    text = f"{metric['value']:.3f}"
    if ci and metric.get("ci_low") is not None:
        text += f" [{metric['ci_low']:.3f}–{metric['ci_high']:.3f}]"
    return text


def table_rows(report: dict) -> list[list[str]]:
    attacked = [s["robustness"] for s in report["students"] if s.get("robustness")]
    header = ["model", "accuracy", "acc. drop", "label loyalty (95% CI)", "prob. loyalty (95% CI)",
              "speedup"] + (["acc. under attack"] if attacked else []) + ["gates"]
    rows = [header]
    first = report["students"][0]["metrics"] if report["students"] else {}
    teacher_row = [f"teacher {report['teacher']}", _value(first, "teacher_accuracy"), "", "", "", ""]
    if attacked:
        teacher_row.append(f"{attacked[0]['teacher']['accuracy_under_attack']:.3f}")
    rows.append(teacher_row + [""])
    for student in report["students"]:
        metrics, gates = student["metrics"], student["gates"]
        passed = sum(1 for g in gates if g["passed"])
        failed = [g["gate"] for g in gates if not g["passed"]]
        verdict = f"{passed}/{len(gates)} passed" + (f" (failed: {', '.join(failed)})" if failed else "")
        speedup = f"{student['latency']['speedup']:.2f}x" if student.get("latency") else "–"
        row = [student["spec"], _value(metrics, "student_accuracy"), _value(metrics, "accuracy_drop"),
               _value(metrics, "label_loyalty", True), _value(metrics, "probability_loyalty", True), speedup]
        if attacked:
            robustness = student.get("robustness")
            row.append(f"{robustness['student']['accuracy_under_attack']:.3f}" if robustness else "–")
        rows.append(row + [verdict])
    return rows


def robustness_lines(report: dict, examples: int = 2) -> list[str]:
    """Per attacked student: both models' attack figures (percentages only here) and a few
    adversarial examples that fool the student but not the teacher."""
    lines = []
    for student in report["students"]:
        r = student.get("robustness")
        if not r:
            continue
        t, s = r["teacher"], r["student"]
        lines.append(f"robustness [{student['spec']}] {r['recipe']}, {r['examples']} examples, seed {r['seed']}, "
                     f"budget {r['budget']} queries (teacher / student):")
        lines.append(f"  accuracy {_pct(t['original_accuracy'])} / {_pct(s['original_accuracy'])}; under attack "
                     f"{_pct(t['accuracy_under_attack'])} / {_pct(s['accuracy_under_attack'])}; attack success "
                     f"{_pct(t['attack_success_rate'])} / {_pct(s['attack_success_rate'])}")
        queries = "queries " + " / ".join("–" if x is None or x != x else f"{x:.0f}" for x in (t["mean_queries"], s["mean_queries"]))
        lines.append(f"  words perturbed {_pct(t['mean_perturbed_fraction'])} / {_pct(s['mean_perturbed_fraction'])}; "
                     f"{queries}; seconds {t['seconds']:.1f} / {s['seconds']:.1f}; transfer rate "
                     f"{_pct(r['transfer_rate'])}; label loyalty on adversarial inputs {_pct(r['adversarial_label_loyalty'])}")
        for example in r["adversarial_examples"][:examples]:
            lines.append(f"  #{example['index']} fools the student only: {example['original']!r}")
            lines.append(f"    -> {example['perturbed']!r}")
    return lines


def render_terminal(report: dict) -> list[str]:
    rows = table_rows(report)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    data = report.get("data") or {}
    lines = [f"teacher {report['teacher']} | data {data.get('name')} (n={data.get('n')}) | seed {report['seed']}"]
    for row in rows:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    for student in report["students"]:
        for gate in student["gates"]:
            mark = "PASS" if gate["passed"] else ("WARN" if gate["warn_only"] else "FAIL")
            lines.append(f"{mark} [{student['spec']}] {gate['message']}")
    lines += robustness_lines(report)
    lines.append("gate verdict: " + ("PASSED" if report["passed"] else "FAILED"))
    return lines


def render_markdown(report: dict) -> str:
    data = report.get("data") or {}
    rows = table_rows(report)
    lines = [f"## Loyalty gate: {'✅ passed' if report['passed'] else '❌ failed'}", "",
             f"Teacher `{report['teacher']}` on `{data.get('name')}` (n={data.get('n')}), seed {report['seed']}.", "",
             "| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows[1:]]
    lines += ["", "| student | gate | value | limit | result | why |", "|---|---|---|---|---|---|"]
    for student in report["students"]:
        for gate in student["gates"]:
            value = "–" if gate["value"] is None else f"{gate['value']:.3f}"
            limit = "–" if gate["limit"] is None else f"{gate['limit']:.3f}"
            mark = "pass" if gate["passed"] else ("warn" if gate["warn_only"] else "**fail**")
            why = gate["message"].replace("|", "\\|")
            lines.append(f"| `{student['spec']}` | {gate['gate']} | {value} | {limit} | {mark} | {why} |")
    robustness = robustness_lines(report, examples=3)
    if robustness:
        lines += ["", "<details><summary>Robustness</summary>", "", "```text", *robustness, "```", "", "</details>"]
    if report.get("thresholds"):
        lines += ["", "<details><summary>Thresholds</summary>", "", "| threshold | value | source |", "|---|---|---|"]
        lines += [f"| {k} | {v['value']} | {v['source']} |" for k, v in report["thresholds"].items()]
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
