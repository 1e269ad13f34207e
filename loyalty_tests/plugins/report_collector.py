"""Collects every gate item's rows and outcome, then writes the reports (xdist controller only).

Which gate items to expect comes from collection (or, under pytest-xdist, from the workers'
collection); each item's outcome from its setup, call and teardown reports. An item that errored
or never reported counts against the verdict just as a failed one does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .items import ITEM_PROPERTY, NOT_APPLICABLE_PROPERTY, ROW_PROPERTY, is_gate_item, is_gate_nodeid


def _reason(report) -> str:
    """The first line a user needs from a failed or skipped report."""
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = str(getattr(report, "longreprtext", "") or report.longrepr or "").strip()
    lines = [line for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("E ")]
    return (errors[0][1:].strip() if errors else lines[-1] if lines else report.outcome)[:500]


class ReportCollector:
    def __init__(self, config, settings):
        self.config = config
        self.settings = settings
        self.expected: set[str] = set()
        self.items: dict[str, dict] = {}
        self.records: list = []  # report.records.GateRecord
        self.report = None  # report.model.Report, built once at the session's end
        self.baseline_refused = False  # a FAILED run is not written as the next baseline
        self.written: dict[str, str] = {}  # path -> what was done there (written, appended to), for the terminal
        self.unwritten: list[str] = []  # one line per report file that could not be written
        self.not_applicable: dict[str, str] = {}  # nodeid -> why the gate does not apply to this pair

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session):
        self.expected |= {item.nodeid for item in session.items if is_gate_item(item)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.expected |= {nodeid for nodeid in ids if is_gate_nodeid(nodeid)}

    def pytest_runtest_logreport(self, report):
        labelled = any(name == ITEM_PROPERTY for name, _ in report.user_properties)
        if not (labelled or report.nodeid in self.expected):
            return
        reasons = [value for name, value in report.user_properties if name == NOT_APPLICABLE_PROPERTY]
        if reasons:  # not a gate of this pair: neither a pass nor a skip in the report
            self.not_applicable[report.nodeid] = reasons[0]
            self.items.pop(report.nodeid, None)
            return
        item = self.items.setdefault(
            report.nodeid, {"student": None, "gate": None, "outcome": None, "reason": None, "gates": []}
        )
        for name, value in report.user_properties:
            if name == ITEM_PROPERTY:
                item.update({key: value for key, value in json.loads(value).items() if item.get(key) is None})
            elif name == ROW_PROPERTY and report.when == "call":
                from ..report.records import GateRecord

                record = GateRecord.from_json(value)
                self.records.append(record)
                item["gates"].append(record.result)
        outcome = self._outcome(report, item)
        if outcome is not None and item["outcome"] not in ("error", "failed"):
            item["outcome"] = outcome
            if outcome != "passed":
                item["reason"] = _reason(report)

    @staticmethod
    def _outcome(report, item) -> str | None:
        if report.failed:
            return "failed" if report.when == "call" else "error"
        if report.skipped:
            return "skipped"
        if report.when == "call":
            return "warned" if any(not g.passed and g.warn_only for g in item["gates"]) else "passed"
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session):
        if hasattr(self.config, "workerinput") or not (self.items or self.expected):
            return
        items = dict(self.items)
        for nodeid in self.expected - set(items) - set(self.not_applicable):
            name = nodeid.rsplit("::", 1)[-1]
            gate, _, student = name.partition("[")
            items[nodeid] = {
                "student": student.rstrip("]") or "student",
                "gate": gate.removeprefix("test_"),
                "outcome": "missing",
                "reason": "this gate never reported (the run stopped before it)",
                "gates": [],
            }
        for nodeid, item in items.items():
            item["outcome"] = item["outcome"] or "missing"
            # an item skipped before its fixtures labelled it (no teacher) still belongs to a student
            gate, _, student = nodeid.rsplit("::", 1)[-1].partition("[")
            item["student"] = item["student"] or student.rstrip("]") or "student"
            item["gate"] = item["gate"] or gate.removeprefix("test_")
        from ..report import document

        settings = self.settings
        self.report = document.build_report(
            settings.teacher, self.records, items, seed=settings.seed, device=settings.device
        )
        if not self.report.passed and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # e.g. every gate skipped: nothing was checked
        if settings.json_path:
            self._write(settings.json_path, lambda: self.report.to_json())
        if settings.markdown_path:
            self._write(settings.markdown_path, lambda: document.render_markdown(self.report, settings.html_path))
        if settings.html_path:
            from ..report.html import render_html  # matplotlib is imported only when a page is asked for

            self._write(settings.html_path, lambda: render_html(self.report))
        if settings.baseline and settings.update_baseline:
            if self.report.passed:
                self._write(settings.baseline, lambda: self.report.to_json())
            else:
                self.baseline_refused = True
        if self.unwritten and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a report CI asked for and did not get

    def _write(self, path: str, text) -> None:
        """Write one report file; one that cannot be written (read-only folder, full disk) is named
        after the report is printed, not raised from the session's end as a traceback."""
        from .report_paths import write_report

        try:
            self.written[path] = write_report(Path(path), text())
        except OSError as error:
            self.unwritten.append(
                f"could not write {path}: {error.strerror or type(error).__name__}"
                f"{f' ({error.filename})' if error.filename and str(error.filename) != path else ''}"
            )

    def pytest_terminal_summary(self, terminalreporter):
        if self.report is None:
            return
        terminalreporter.write_sep("=", "loyalty gate report")
        from ..report import document

        for line in document.render_terminal(self.report):
            terminalreporter.write_line(line)
        if self.not_applicable:
            gates = sorted(
                {nodeid.rsplit("::", 1)[-1].partition("[")[0].removeprefix("test_") for nodeid in self.not_applicable}
            )
            terminalreporter.write_line(
                f"left out {len(self.not_applicable)} gate item(s) that do not apply to "
                f"this pair ({', '.join(gates)}): {sorted(set(self.not_applicable.values()))[0]}"
            )
        settings = self.settings
        for path in (settings.json_path, settings.markdown_path, settings.html_path):
            if path and path in self.written:
                terminalreporter.write_line(self.written[path])
        if settings.baseline and settings.update_baseline:
            if self.baseline_refused:
                terminalreporter.write_line(
                    f"did not write baseline {settings.baseline}: the verdict is "
                    "FAILED, and a failed run must not become the next release's reference"
                )
            elif settings.baseline in self.written:
                terminalreporter.write_line(f"wrote baseline {settings.baseline}")
        for line in self.unwritten:
            terminalreporter.write_line(line, red=True)
