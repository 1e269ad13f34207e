"""The typed report: what the terminal, Markdown and JSON renderers read, built once per run.

``build_report`` merges the gate records (``records.GateRecord``, one per checked gate) and the
gate items' outcomes into a frozen ``Report``: per student a ``StudentEntry`` whose gates are
``GateEntry(result, outcome, item)``, each holding the gate's own typed ``GateResult``. The
renderers read attributes of these, never dict keys, so a result keeps one shape from the gate to
the terminal. The measurements shown beside the gates (metrics, flips, latency, robustness,
evidence, the LM part) stay the plain rows their producers wrote (``GateRecord``'s fields).

The verdict is derived from every gate's outcome, not from the rows alone: a gate that errored
(a crash, bad input), failed, or never reported (an interrupted run) makes it FAILED; so does a
run in which no gate was checked at all. It is computed, never stored, so it cannot disagree with
the gates.

``Report.to_json`` writes the JSON report (the file ``--loyalty-json`` and the baseline hold; its
shape is the one earlier versions wrote) and ``Report.from_json`` reads one back, equal to the
original for finite numbers (JSON has no NaN: an undefined figure is written as null).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone

from .. import __version__
from ..gates.result import GateResult, result_from_row
from ..infra.environment import environment
from .records import GateRecord

# outcome of a gate -> does it let the verdict pass, and its mark in the terminal
OUTCOMES = {
    "passed": (True, "PASS"),
    "warned": (True, "WARN"),
    "skipped": (True, "SKIP"),
    "failed": (False, "FAIL"),
    "error": (False, "ERROR"),
    "missing": (False, "MISSING"),
}
CHECKED = ("passed", "warned", "failed")  # outcomes of a gate that decided; skipped, error, missing did not


@dataclass(frozen=True)
class GateEntry:
    """One gate result of one student and how its test item ended (a key of ``OUTCOMES``)."""

    result: GateResult
    outcome: str
    item: str  # the gate item's pytest node id

    def __post_init__(self):
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown gate outcome {self.outcome!r}; known: {', '.join(OUTCOMES)}")

    @property
    def lets_pass(self) -> bool:
        return OUTCOMES[self.outcome][0]

    @property
    def mark(self) -> str:
        return OUTCOMES[self.outcome][1]

    def to_row(self) -> dict:
        return {**self.result.to_row(), "outcome": self.outcome, "item": self.item}

    @classmethod
    def from_row(cls, row: dict) -> GateEntry:
        if not isinstance(row, dict) or "outcome" not in row:
            raise ValueError(f"a gate row must be an object with an 'outcome', not {str(row)[:80]}")
        row = dict(row)
        outcome, item = row.pop("outcome"), row.pop("item", "")
        return cls(result_from_row(row), outcome, item)


@dataclass(frozen=True)
class StudentEntry:
    """One student: its gates and the measurements its gate records carried (plain rows)."""

    spec: str  # how reports name the student: its --student spec or the declared fixture's param id
    fingerprint: str | None = None
    metrics: dict | None = None  # name -> {value, ci_low, ci_high, n}
    latency: dict | None = None
    robustness: dict | None = None
    evidence: dict | None = None  # what the HTML page draws (report/evidence.py)
    batch_dependent: str | None = None
    gates: tuple[GateEntry, ...] = ()
    flips: dict | None = None
    lm: dict | None = None  # causal LMs only; left out of the JSON when absent

    def to_dict(self) -> dict:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["gates"] = [gate.to_row() for gate in self.gates]
        if self.lm is None:
            del row["lm"]
        return row

    @classmethod
    def from_dict(cls, row: dict) -> StudentEntry:
        if not isinstance(row, dict) or not isinstance(row.get("gates", []), list):
            raise ValueError(f"a student must be an object with a list of gates, not {str(row)[:80]}")
        _no_unknown(cls, row, f"student {row.get('spec')!r}")
        return cls(**{**row, "gates": tuple(GateEntry.from_row(gate) for gate in row.get("gates") or ())})


@dataclass(frozen=True)
class Report:
    """One run's report: the run's setting, per student its entry, and the verdict derived from them.

    Its fields are the JSON report's keys in order; ``passed``, ``verdict`` and ``verdict_reason``
    follow them in the file but are computed here from the gates' outcomes."""

    loyalty_tests_version: str = __version__
    created: str = ""
    teacher: str | None = None
    teacher_fingerprint: str | None = None
    seed: int | None = None
    engine: str = "local"
    environment: dict = field(default_factory=dict)
    data: dict | None = None  # name, n, fingerprint; None when no gate got as far as predicting
    thresholds: dict | None = None  # key -> {value, source}
    phases: tuple[dict, ...] = ()
    students: tuple[StudentEntry, ...] = ()

    @property
    def gates(self) -> list[GateEntry]:
        return [gate for student in self.students for gate in student.gates]

    @property
    def passed(self) -> bool:
        gates = self.gates
        return any(g.outcome in CHECKED for g in gates) and all(g.lets_pass for g in gates)

    @property
    def verdict(self) -> str:
        return "PASSED" if self.passed else "FAILED"

    @property
    def verdict_reason(self) -> str | None:
        gates = self.gates
        if all(g.lets_pass for g in gates) and not any(g.outcome in CHECKED for g in gates):
            return "no gate was checked"
        return None

    def to_dict(self) -> dict:
        """The JSON report's content, key for key (numbers as they are, NaN included)."""
        report = {f.name: getattr(self, f.name) for f in fields(self)}
        report["phases"] = list(self.phases)
        report["students"] = [student.to_dict() for student in self.students]
        report["passed"], report["verdict"] = self.passed, self.verdict
        if self.verdict_reason:
            report["verdict_reason"] = self.verdict_reason
        return report

    def to_json(self) -> str:
        return json.dumps(_finite_or_none(self.to_dict()), indent=2, default=float, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, report: dict) -> Report:
        """A report read back; the stored verdict is checked against the one its gates give, so a
        hand-edited or damaged file is an error, not a second opinion."""
        derived = {"passed", "verdict", "verdict_reason"}
        _no_unknown(cls, {k: v for k, v in report.items() if k not in derived}, "report")
        typed = cls(
            **{k: v for k, v in report.items() if k not in derived | {"phases", "students"}},
            phases=tuple(report.get("phases") or ()),
            students=tuple(StudentEntry.from_dict(row) for row in report.get("students") or ()),
        )
        if "verdict" in report and report["verdict"] != typed.verdict:
            raise ValueError(f"the stored verdict {report['verdict']} disagrees with its gates' ({typed.verdict})")
        return typed

    @classmethod
    def from_json(cls, text: str) -> Report:
        return cls.from_dict(json.loads(text))


def _no_unknown(cls, row: dict, where: str) -> None:
    unknown = set(row) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(f"{where} has unknown field(s) {sorted(unknown)}")


def _finite_or_none(value):
    """JSON has no NaN: an undefined figure (e.g. a success rate with nothing attacked) becomes null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


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


def build_report(
    teacher: str | None, records: list[GateRecord], items: dict[str, dict], *, seed: int, device: str = "cpu"
) -> Report:
    """Merge gate records and item outcomes into one report: per student, metrics and gates.

    ``items`` maps a gate item's node id to ``{"student", "gate", "outcome", "reason", "gates"}``
    (``gates``: the item's typed ``GateResult``s); ``records`` (one per checked gate) carry the
    numbers, the data and model fingerprints and the thresholds. Of each measurement the first
    record that has one wins (flips, latency and robustness: the last), as in earlier versions.
    """
    head = {"teacher": teacher, "teacher_fingerprint": None, "engine": "local", "data": None, "thresholds": None}
    phases: list[dict] = []
    students: dict[str, dict] = {}
    for record in records:
        head["data"] = head["data"] or record.data
        head["thresholds"] = head["thresholds"] or record.thresholds
        head["teacher_fingerprint"] = head["teacher_fingerprint"] or record.teacher_fingerprint
        head["teacher"] = head["teacher"] or record.teacher_name
        head["engine"] = record.engine
        entry = students.setdefault(record.student, {"spec": record.student, "gates": []})
        for name, value in (
            ("metrics", record.metrics),
            ("fingerprint", record.student_fingerprint),
            ("evidence", record.evidence),
            ("batch_dependent", record.batch_dependent),
        ):
            entry[name] = entry.get(name) or value
        for name, value in (("flips", record.flips), ("latency", record.latency), ("robustness", record.robustness)):
            entry[name] = value or entry.get(name)
        if record.lm:  # causal LMs: token loyalty summary and generation agreement (plugins/lm_session.py)
            entry["lm"] = {**(entry.get("lm") or {}), **record.lm}
        for phase in record.phases:
            if phase not in phases:
                phases.append(phase)
    for nodeid, item in sorted(items.items()):
        entry = students.setdefault(item["student"], {"spec": item["student"], "gates": []})
        reason = f"{item['gate']}: {item.get('reason') or item['outcome']}"
        results = item.get("gates") or [GateResult(item["gate"], False, None, None, "", reason)]
        entry["gates"] += [GateEntry(result, gate_outcome(item["outcome"], result), nodeid) for result in results]
    return Report(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seed=seed,
        environment=environment(device),
        phases=tuple(phases),
        students=tuple(StudentEntry(**{**entry, "gates": tuple(entry["gates"])}) for entry in students.values()),
        **head,
    )
