"""Baseline: this run's metrics against the previous release's JSON report, each at least the
baseline's value minus ``baseline_tolerance``.

Only like is compared with like: a baseline made on other data (its data fingerprint differs) or
with another teacher is "not comparable", named with both fingerprints, never compared. A
missing, corrupt or malformed baseline fails with what to do about it. Pure: the plugin reads the
file (``plugins/baseline.py``) into a typed report (``report.model.Report``) and hands it over, or
the reason it could not; this gate reads its ``data``, ``teacher_fingerprint`` and each student's
``spec`` and ``metrics`` by attribute (it cannot import the report, a higher layer).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .checks import gate_baseline
from .result import GateResult, Rule
from .thresholds import Threshold

GATE = "baseline"
BASELINE_METRICS = ("student_accuracy", "label_loyalty", "probability_loyalty")
UPDATE = "write a new baseline with --loyalty-baseline {path} --loyalty-update-baseline"


def _failure(reason: str, tolerance: Threshold, path: Path) -> list[GateResult]:
    """A baseline that cannot be compared fails even a warn-only gate: nothing was checked."""
    message = f"baseline {path}: {reason}; {UPDATE.format(path=path)}"
    return [GateResult(GATE, False, None, None, tolerance.source, message)]


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
    return None, (
        f"has no student {label!r} (it has {baseline_students}); label the students so they match: "
        "--student LABEL=SPEC, or the loyalty_student fixture's param ids"
    )


def check(
    baseline,
    path: Path,
    label: str,
    report,
    teacher_fingerprint: str | None,
    tolerance: Threshold,
    rule: Rule = Rule(),
    *,
    warn_only: bool = False,
    run_students=(),
) -> list[GateResult]:
    """One result per metric of ``BASELINE_METRICS`` for student ``label``; ``baseline`` is the
    report read from ``path`` or the reason it could not be used; ``run_students`` are the labels
    of every student in this run."""
    if isinstance(baseline, str):
        return _failure(baseline, tolerance, path)
    data = report.data
    old_data = baseline.data or {}
    if old_data.get("fingerprint") != data.fingerprint:
        return _failure(
            f"not comparable: made on other data ({old_data.get('name')!r}, n={old_data.get('n')}, "
            f"fingerprint {old_data.get('fingerprint')}) than this run ({data.name!r}, n={len(data)}, "
            f"fingerprint {data.fingerprint})",
            tolerance,
            path,
        )
    old_teacher = baseline.teacher_fingerprint
    if teacher_fingerprint is None or old_teacher != teacher_fingerprint:
        why = (
            "this run's teacher has no fingerprint to compare (give it a `fingerprint` attribute)"
            if teacher_fingerprint is None
            else "made with another teacher"
        )
        return _failure(
            f"not comparable: {why} (baseline teacher fingerprint {old_teacher}, this run's {teacher_fingerprint})",
            tolerance,
            path,
        )
    students = {student.spec: student for student in baseline.students}
    matched, note = match_baseline_student(label, run_students or [label], students)
    if matched is None:
        return _failure(note, tolerance, path)
    old = students[matched].metrics or {}
    results = [
        gate_baseline(
            name,
            report.metrics[name],
            (old.get(name) or {}).get("value"),
            tolerance,
            rule,
            warn_only=warn_only,
            duplicates=getattr(report, "duplicates", 0),
        )
        for name in BASELINE_METRICS
    ]
    return [dataclasses.replace(result, message=f"{result.message}; {note}") for result in results] if note else results
