"""One error, told once: a fixture or data error that stops every gate is shown for the first gate
it stops, and every other gate it stops is marked as errored by it in one line.

A wrong model path in a conftest's ``loyalty_teacher`` fails the setup of every gate item with the
same exception (pytest caches a session fixture's error and raises it again for each test): ten
gates, ten full tracebacks. Bad input (a ``LoyaltyError``: its message names the input and the
fix) is shown as that message and the line of the team's code that raised it, without a
traceback; any other exception (a bug, most likely) keeps pytest's traceback, once.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..errors import LoyaltyError

TOLD = pytest.StashKey[dict]()
MODEL_FIXTURES = ("loyalty_teacher", "loyalty_student", "loyalty_data", "loyalty_gate")
_PACKAGE = Path(__file__).resolve().parent.parent


def _where(excinfo) -> str:
    """The innermost frame of the team's own code (a conftest's fixture), if the error passed one."""
    found = ""
    for entry in excinfo.traceback:
        path = Path(str(entry.path))
        if "_pytest" in path.parts or "pluggy" in path.parts or _PACKAGE in path.parents:
            continue
        found = f" (raised in {path.name}:{entry.lineno + 1}, {entry.name})"
    return found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when != "setup" or not report.failed or call.excinfo is None:
        return report
    if not any(name in getattr(item, "fixturenames", ()) for name in MODEL_FIXTURES):
        return report
    error = call.excinfo.value
    key = (type(error).__name__, str(error))
    told = item.config.stash.setdefault(TOLD, {})
    if key in told:
        report.longrepr = f"errored by the {type(error).__name__} shown for {told[key]}"
    else:
        told[key] = item.nodeid
        if isinstance(error, LoyaltyError):
            report.longrepr = f"{type(error).__name__}: {error}{_where(call.excinfo)}"
    return report
