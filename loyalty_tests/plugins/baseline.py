"""The baseline gate: this run's metrics against the previous release's JSON report.

Only like is compared with like: a baseline made on other data (its data fingerprint differs) or
with another teacher is "not comparable", named with both fingerprints, never compared; one made
in another environment (library versions, the CPU's int8 kernels) is compared with a warning.
A missing, corrupt or malformed baseline fails the gate with what to do about it.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

from ..gates import checks as gate_checks
from ..gates.thresholds import Threshold

BASELINE_METRICS = ("student_accuracy", "label_loyalty", "probability_loyalty")
UPDATE = "write a new baseline with --loyalty-baseline {path} --loyalty-update-baseline"
# environment entries whose change can move the numbers (int8 kernels differ with the CPU's capability)
COMPARED_ENVIRONMENT = ("loyalty_tests", "torch", "transformers", "onnxruntime", "torch_cpu_capability", "device")


class LoyaltyBaselineWarning(UserWarning):
    """The baseline was made in another environment; its numbers may differ for that reason alone."""


def _failure(reason: str, tolerance: Threshold, path: Path) -> list[gate_checks.GateResult]:
    message = f"baseline {path}: {reason}; {UPDATE.format(path=path)}"
    return [gate_checks.GateResult("baseline", False, None, None, tolerance.source, message)]


def load_baseline(path: Path) -> dict | str:
    """The baseline report, or the reason it cannot be used."""
    if not path.exists():
        return "no baseline report there"
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"cannot be read as a JSON report ({type(error).__name__}: {error})"
    if not isinstance(report, dict) or not isinstance(report.get("students"), list):
        return "is not a loyalty gate report (no 'students' list); was it written by --loyalty-json?"
    return report


def match_baseline_student(label: str, run_students, baseline_students) -> tuple[str | None, str]:
    """Which of the baseline's students this run's student ``label`` is compared with, and a note
    naming both when they differ; (None, the reason) when none fits.

    A student is matched by its label (``--student LABEL=SPEC``, a declared fixture's param id, or
    its spec); a release baseline holds the last release's student wherever its files were, so
    when each report has exactly one student, those two are compared.

    >>> match_baseline_student("release", ["release"], ["release", "int8"])
    ('release', '')
    >>> match_baseline_student("./models/mid", ["./models/mid"], ["./models/student"])[0]
    './models/student'
    >>> match_baseline_student("mid", ["mid", "int8"], ["student", "int8"])[0] is None
    True
    """
    baseline_students = sorted(map(str, baseline_students))
    if label in baseline_students:
        return label, ""
    if len(baseline_students) == 1 and len(set(run_students)) == 1:
        old = baseline_students[0]
        return old, f"this run's student {label!r} against the baseline's {old!r} (one student in each report)"
    return None, (f"has no student {label!r} (it has {baseline_students}); label the students so they match: "
                  "--student LABEL=SPEC, or the loyalty_student fixture's param ids")


def check_baseline(config, label: str, report, teacher, thresholds, rule, *, warn: bool,
                   run_students=()) -> list[gate_checks.GateResult]:
    path = Path(config.getoption("loyalty_baseline"))
    tolerance = thresholds["baseline_tolerance"]
    if config.getoption("loyalty_update_baseline"):
        import pytest

        pytest.skip(f"--loyalty-update-baseline: this run's report will be written to {path}")
    baseline = load_baseline(path)
    if isinstance(baseline, str):
        return _failure(baseline, tolerance, path)
    data = report.data
    old_data = baseline.get("data") or {}
    if old_data.get("fingerprint") != data.fingerprint:
        return _failure(f"not comparable: made on other data ({old_data.get('name')!r}, n={old_data.get('n')}, "
                        f"fingerprint {old_data.get('fingerprint')}) than this run ({data.name!r}, n={len(data)}, "
                        f"fingerprint {data.fingerprint})", tolerance, path)
    old_teacher = baseline.get("teacher_fingerprint")
    if teacher.fingerprint is None or old_teacher != teacher.fingerprint:
        why = ("this run's teacher has no fingerprint to compare (give it a `fingerprint` attribute)"
               if teacher.fingerprint is None else "made with another teacher")
        return _failure(f"not comparable: {why} (baseline teacher fingerprint {old_teacher}, this run's "
                        f"{teacher.fingerprint})", tolerance, path)
    students = {row.get("spec"): row for row in baseline["students"] if isinstance(row, dict)}
    matched, note = match_baseline_student(label, run_students or [label], students)
    if matched is None:
        return _failure(note, tolerance, path)
    _warn_on_environment(baseline.get("environment") or {}, path)
    old = students[matched].get("metrics") or {}
    results = [gate_checks.gate_baseline(name, report.metrics[name], (old.get(name) or {}).get("value"), tolerance,
                                         rule, warn_only=warn) for name in BASELINE_METRICS]
    if note:
        results = [dataclasses.replace(result, message=f"{result.message}; {note}") for result in results]
    return results


def _warn_on_environment(old: dict, path: Path) -> None:
    from ..infra.environment import environment

    def flat(env: dict) -> dict:
        return {**(env.get("versions") or {}), **{k: v for k, v in env.items() if k != "versions"}}

    old, new = flat(old), flat(environment())
    changed = [f"{key} {old.get(key)} -> {new.get(key)}" for key in COMPARED_ENVIRONMENT
               if old.get(key) != new.get(key)]
    if changed:
        warnings.warn(LoyaltyBaselineWarning(f"baseline {path} was made in another environment ({'; '.join(changed)}); "
                                             "differences may come from that alone"), stacklevel=2)
