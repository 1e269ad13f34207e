"""Collects gate rows from every test report and writes the reports (xdist controller only)."""

from __future__ import annotations

import json
from pathlib import Path

from .. import report as render
from ..cache import atomic_write_text
from .gate_runner import ROW_PROPERTY


class ReportCollector:
    def __init__(self, config, teacher_spec: str | None, seed: int):
        self.config = config
        self.teacher_spec = teacher_spec
        self.seed = seed
        self.rows: list[dict] = []
        self.outcomes: dict[str, str] = {}
        self.report: dict | None = None

    @property
    def is_worker(self) -> bool:
        return hasattr(self.config, "workerinput")

    def pytest_runtest_logreport(self, report):
        for name, value in report.user_properties:
            if name == ROW_PROPERTY and report.when == "call":
                row = json.loads(value)
                self.rows.append(row)
                outcome = "warned" if report.passed and not row["gate"]["passed"] else report.outcome
                self.outcomes[f"{row['student']}::{row['gate']['gate']}"] = outcome

    def pytest_sessionfinish(self, session):
        if self.is_worker or not self.rows:
            return
        self.report = render.build_report(self.teacher_spec, self.rows, self.outcomes, seed=self.seed)
        option = self.config.getoption
        if option("loyalty_json"):
            atomic_write_text(Path(option("loyalty_json")), render.to_json(self.report))
        if option("loyalty_markdown"):
            atomic_write_text(Path(option("loyalty_markdown")), render.render_markdown(self.report))
        if option("loyalty_baseline") and option("loyalty_update_baseline"):
            atomic_write_text(Path(option("loyalty_baseline")), render.to_json(self.report))

    def pytest_terminal_summary(self, terminalreporter):
        if self.report is None:
            return
        terminalreporter.write_sep("=", "loyalty gate report")
        for line in render.render_terminal(self.report):
            terminalreporter.write_line(line)
        option = self.config.getoption
        for flag in ("loyalty_json", "loyalty_markdown"):
            if option(flag):
                terminalreporter.write_line(f"wrote {option(flag)}")
        if option("loyalty_baseline") and option("loyalty_update_baseline"):
            terminalreporter.write_line(f"wrote baseline {option('loyalty_baseline')}")
