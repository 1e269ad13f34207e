"""The baseline gate's file side: read the previous release's JSON report, warn when it was made
in another environment, and hand it to the pure gate (``gates/baseline.py``).

One made in another environment (library versions, the CPU's int8 kernels) is compared with a
warning; other data or another teacher is "not comparable" (the gate says so).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..gates.baseline import BASELINE_METRICS
from ..gates.registry import GATES
from ..gates.result import GateResult

# environment entries whose change can move the numbers (int8 kernels differ with the CPU's capability)
COMPARED_ENVIRONMENT = ("loyalty_tests", "torch", "transformers", "onnxruntime", "torch_cpu_capability", "device")


class LoyaltyBaselineWarning(UserWarning):
    """The baseline was made in another environment; its numbers may differ for that reason alone."""


def load_baseline(path: Path):
    """The baseline report (``report.model.Report``), or the reason it cannot be used."""
    if not path.exists():
        return "no baseline report there"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"cannot be read as a JSON report ({type(error).__name__}: {error})"
    if not isinstance(report, dict) or not isinstance(report.get("students"), list):
        return "is not a loyalty gate report (no 'students' list); was it written by --loyalty-json?"
    problem = baseline_shape_problem(report)
    if problem:
        return f"is malformed: {problem}"
    from ..report.model import Report

    try:
        return Report.from_dict(report)
    except (ValueError, TypeError) as error:  # e.g. an unknown field, a verdict its gates contradict
        return f"is malformed: {error}"


def baseline_shape_problem(report: dict) -> str | None:
    """The first field of a baseline report whose type is wrong, named by its path, or None.

    Checked before anything is read from it, so a hand-edited or damaged file is a sentence, not
    a TypeError; a metric value must be a real number (``true`` is not 1.0)."""

    def kind(value) -> str:
        return "null" if value is None else type(value).__name__

    for field in ("data", "environment"):
        if field in report and not isinstance(report[field], dict):
            return f"field {field!r} is {report[field]!r} (a {kind(report[field])}), expected an object"
    versions = (report.get("environment") or {}).get("versions")
    if versions is not None and not isinstance(versions, dict):
        return f"field 'environment.versions' is a {kind(versions)}, expected an object"
    teacher = report.get("teacher_fingerprint")
    if teacher is not None and not isinstance(teacher, str):
        return f"field 'teacher_fingerprint' is a {kind(teacher)}, expected a string"
    for number, row in enumerate(report["students"]):
        where = f"students[{number}]"
        if not isinstance(row, dict):
            return f"field {where!r} is a {kind(row)}, expected an object with 'spec' and 'metrics'"
        if not isinstance(row.get("spec"), str):
            return f"field '{where}.spec' is a {kind(row.get('spec'))}, expected the student's spec string"
        metrics = row.get("metrics")
        if not isinstance(metrics, dict):
            return f"field '{where}.metrics' is {metrics!r} (a {kind(metrics)}), expected an object of metrics"
        for name in BASELINE_METRICS:
            entry = metrics.get(name)
            if entry is None:
                continue  # a metric the baseline lacks is reported by the gate for that metric
            value = entry.get("value") if isinstance(entry, dict) else entry
            if not isinstance(entry, dict) or isinstance(value, bool) or not isinstance(value, (int, float)):
                return (
                    f"field '{where}.metrics.{name}.value' is {value!r} (a {kind(value)}), expected a number"
                    if isinstance(entry, dict)
                    else f"field '{where}.metrics.{name}' is a {kind(entry)}, expected an object with a 'value'"
                )
    return None


def check_baseline(
    settings, label: str, report, teacher, thresholds, rule, *, warn: bool, run_students=()
) -> list[GateResult]:
    path = Path(settings.baseline)
    if settings.update_baseline:
        import pytest

        pytest.skip(f"--loyalty-update-baseline: this run's report will be written to {path}")
    baseline = load_baseline(path)
    results = GATES["baseline"].check(
        baseline,
        path,
        label,
        report,
        teacher.fingerprint,
        thresholds["baseline_tolerance"],
        rule,
        warn_only=warn,
        run_students=run_students,
    )
    if len(results) == len(BASELINE_METRICS):  # compared: say when the environments differ
        _warn_on_environment(baseline.environment or {}, path)
    return results


def _warn_on_environment(old: dict, path: Path) -> None:
    from ..infra.environment import environment

    def flat(env: dict) -> dict:
        return {**(env.get("versions") or {}), **{k: v for k, v in env.items() if k != "versions"}}

    old, new = flat(old), flat(environment())
    changed = [
        f"{key} {old.get(key)} -> {new.get(key)}" for key in COMPARED_ENVIRONMENT if old.get(key) != new.get(key)
    ]
    if changed:
        warnings.warn(
            LoyaltyBaselineWarning(
                f"baseline {path} was made in another environment ({'; '.join(changed)}); "
                "differences may come from that alone"
            ),
            stacklevel=2,
        )
