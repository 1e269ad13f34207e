"""The typed, frozen results every gate returns, and their exact JSON round trip.

One result type per kind of gate (TextAttack's ``attack_results/`` idea, not status strings):
``GateResult`` for a metric against a limit, ``LatencyGateResult`` and ``RobustnessGateResult``
with what their failure lines and reports show besides. ``to_json`` writes the type's ``kind``
next to its fields; ``result_from_json`` reads any of them back, equal to the original
(``result_from_json(r.to_json()) == r``), which is how a result crosses from a pytest-xdist worker
to the controller and into the reports without changing shape on the way.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import ClassVar


@dataclass(frozen=True)
class Rule:
    """How gates decide: the rule and, for ``three-way``, what an INCONCLUSIVE gate does."""

    name: str = "estimate"
    inconclusive: str = "fail"

    @classmethod
    def from_thresholds(cls, thresholds) -> Rule:
        return cls(str(thresholds["decision"].value), str(thresholds["inconclusive"].value))


@dataclass(frozen=True)
class GateResult:
    kind: ClassVar[str] = "metric"
    gate: str  # "accuracy_drop", "label_loyalty", ...
    passed: bool  # the rule's verdict; a warn-only gate that did not pass still lets its test pass
    value: float | None
    limit: float | None
    source: str
    message: str
    warn_only: bool = False
    three_way: str | None = None  # the CI against the limit: PASS, FAIL or INCONCLUSIVE; None without an estimate
    rule: str | None = None
    warned: bool = False  # passed, but only because inconclusive = warn
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    direction: str | None = None
    needed: int | None = None  # about this many examples (or rounds) would decide an INCONCLUSIVE gate in 80% of runs
    duplicates: int = 0  # repeated texts left out of n (the interval counts distinct examples)
    cannot: str | None = None  # e.g. "cannot FAIL: the teacher keeps 0.0% accuracy under this attack, ..."

    @property
    def outcome_mark(self) -> str:
        """How the gate ended for its test: passed, warned (warn-only, or inconclusive = warn) or failed."""
        if self.passed:
            return "warned" if self.warned else "passed"
        return "warned" if self.warn_only else "failed"

    def to_row(self) -> dict:
        return {"kind": self.kind, **asdict(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_row(), allow_nan=True)

    @classmethod
    def from_row(cls, row: dict) -> GateResult:
        names = {f.name for f in fields(cls)}
        unknown = set(row) - names - {"kind"}
        if unknown:
            raise ValueError(f"{cls.__name__} has no field(s) {sorted(unknown)}")
        return cls(**{key: value for key, value in row.items() if key in names})


@dataclass(frozen=True)
class LatencyGateResult(GateResult):
    """The speedup gate, with the two models' median batch times it came from."""

    kind: ClassVar[str] = "latency"
    teacher_seconds: float | None = None
    student_seconds: float | None = None
    batch_size: int | None = None
    stop_reason: str = ""


@dataclass(frozen=True)
class RobustnessGateResult(GateResult):
    """The robustness-drop gate, with both models' accuracy under the same attack."""

    kind: ClassVar[str] = "robustness"
    recipe: str = ""
    teacher_accuracy_under_attack: float | None = None
    student_accuracy_under_attack: float | None = None
    stop_reason: str = ""


RESULT_TYPES = {cls.kind: cls for cls in (GateResult, LatencyGateResult, RobustnessGateResult)}


def result_from_row(row: dict) -> GateResult:
    kind = row.get("kind", GateResult.kind)
    if kind not in RESULT_TYPES:
        raise ValueError(f"unknown gate result kind {kind!r}; known: {', '.join(RESULT_TYPES)}")
    return RESULT_TYPES[kind].from_row(row)


def result_from_json(text: str) -> GateResult:
    return result_from_row(json.loads(text))
