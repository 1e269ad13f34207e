"""The baseline gate: this run's metrics against the previous release's JSON report.

Only like is compared with like: a baseline made on other data (its data fingerprint differs) or
with another teacher is "not comparable", named with both fingerprints, never compared; one made
in another environment (library versions, the CPU's int8 kernels) is compared with a warning.
A missing, corrupt or malformed baseline fails the gate with what to do about it.
"""

from __future__ import annotations

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


def check_baseline(config, label: str, report, teacher, thresholds, rule, *, warn: bool) -> list[gate_checks.GateResult]:
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
    if label not in students:
        return _failure(f"has no student {label!r} (it has {sorted(map(str, students))})", tolerance, path)
    _warn_on_environment(baseline.get("environment") or {}, path)
    old = students[label].get("metrics") or {}
    return [gate_checks.gate_baseline(name, report.metrics[name], (old.get(name) or {}).get("value"), tolerance,
                                      rule, warn_only=warn, duplicates=getattr(report, "duplicates", 0))
            for name in BASELINE_METRICS]


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
