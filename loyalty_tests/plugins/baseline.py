"""The baseline gate's file side: read the previous release's JSON report, warn when it was made
in another environment, and hand it to the pure gate (``gates/baseline.py``).

One made in another environment (library versions, the CPU's int8 kernels) is compared with a
warning; other data or another teacher is "not comparable" (the gate says so).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from ..gates import baseline as baseline_gate
from ..gates.result import GateResult

# environment entries whose change can move the numbers (int8 kernels differ with the CPU's capability)
COMPARED_ENVIRONMENT = ("loyalty_tests", "torch", "transformers", "onnxruntime", "torch_cpu_capability", "device")


class LoyaltyBaselineWarning(UserWarning):
    """The baseline was made in another environment; its numbers may differ for that reason alone."""


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


def check_baseline(settings, label: str, report, teacher, thresholds, rule, *, warn: bool,
                   run_students=()) -> list[GateResult]:
    path = Path(settings.baseline)
    if settings.update_baseline:
        import pytest

        pytest.skip(f"--loyalty-update-baseline: this run's report will be written to {path}")
    baseline = load_baseline(path)
    results = baseline_gate.check(baseline, path, label, report, teacher.fingerprint,
                                  thresholds["baseline_tolerance"], rule, warn_only=warn, run_students=run_students)
    if len(results) == len(baseline_gate.BASELINE_METRICS):  # compared: say when the environments differ
        _warn_on_environment(baseline.get("environment") or {}, path)
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

