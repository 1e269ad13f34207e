"""``GateRecord``: one checked gate of one student, as the reports receive it.

The gate's typed result (``gates.result``) plus what the report shows beside it: the two models'
names and fingerprints, the metrics and flips, the latency or robustness measurement, the data,
the thresholds in force and where the time went. It crosses from a pytest-xdist worker to the
controller as JSON (``to_json`` / ``from_json``, exact) and is read by ``model.build_report``
by attribute, so its shape is written down here once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from ..gates.result import GateResult, result_from_row


@dataclass(frozen=True)
class GateRecord:
    student: str  # how reports name the student: its --student spec or the declared fixture's param id
    result: GateResult
    data: dict  # name, n, fingerprint
    student_name: str | None = None
    student_fingerprint: str | None = None
    teacher_name: str | None = None
    teacher_fingerprint: str | None = None
    metrics: dict | None = None  # name -> {value, ci_low, ci_high, n}; None for a gate that predicted nothing
    flips: dict | None = None
    latency: dict | None = None  # LatencyResult.to_row()
    robustness: dict | None = None  # robustness.summary.robustness_row()
    lm: dict | None = None  # causal LMs: {"tokens": ..., "generation": ...} (plugins/lm_session.py)
    evidence: dict | None = None  # report.evidence.prediction_evidence(): what the HTML page draws
    phases: tuple = ()
    engine: str = "local"
    batch_dependent: str | None = None  # why the student's outputs follow its batch (models/batching.py)
    thresholds: dict = field(default_factory=dict)  # key -> {value, source}

    def to_json(self) -> str:
        row = {f.name: getattr(self, f.name) for f in fields(self)}
        row["result"] = self.result.to_row()
        row["phases"] = list(self.phases)
        return json.dumps(row, default=float)

    @classmethod
    def from_json(cls, text: str) -> GateRecord:
        row = json.loads(text)
        return cls(**{**row, "result": result_from_row(row["result"]), "phases": tuple(row.get("phases") or ())})
