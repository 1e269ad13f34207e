"""pytest entry point (``pytest11``): options, fixtures, the built-in gate suite and reports.

The gate suite (``loyalty_tests/suite``) is added to the collected paths whenever both
``--teacher`` and ``--student`` are given.
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import pytest

from ..thresholds import THRESHOLD_SPECS, ini_name
from . import fixtures, gate_runner
from .options import add_options
from .report_writer import ReportCollector
from .session import LoyaltySession

SUITE = Path(__file__).resolve().parent.parent / "suite" / "test_loyalty_gates.py"


def pytest_addoption(parser):
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "loyalty(**thresholds): override loyalty gate thresholds for this test, "
                                       "e.g. @pytest.mark.loyalty(min_label_loyalty=0.95)")
    _check_ini_keys(config)
    session = LoyaltySession(config)
    if session.student_specs and not session.teacher_spec:
        raise pytest.UsageError("--student needs --teacher: give the model the student is compared against, "
                                "e.g. --teacher demo --student int8")
    try:
        session.thresholds()  # a bad threshold value fails here, before any model loads
        if session.attacking:
            session.attack_config()  # and so does an unknown attack recipe or a budget <= 0
    except ValueError as error:
        raise pytest.UsageError(f"loyalty: {error}") from error
    config.stash[fixtures.SESSION_KEY] = session
    config.pluginmanager.register(fixtures, "loyalty-fixtures")
    config.pluginmanager.register(gate_runner, "loyalty-gates")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ReportCollector(config, session.teacher_spec, session.seed), "loyalty-report")
    if session.active and not config.getoption("loyalty_no_suite") and not _suite_collected(config.args):
        config.args.append(str(SUITE.parent))  # the folder, so node ids read test_loyalty_gates.py::test_…


def _suite_collected(args) -> bool:
    """True when a path given to pytest is the suite file or a folder holding it."""
    for arg in args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == SUITE or path in SUITE.parents:
            return True
    return False


def _check_ini_keys(config) -> None:
    """A misspelt threshold key would otherwise leave its gate at the default with only a warning."""
    known = {ini_name(key) for key in THRESHOLD_SPECS}
    unknown = sorted(key for key in _ini_keys(config.inipath) if key.startswith("loyalty_") and key not in known)
    if unknown:
        raise pytest.UsageError(f"unknown ini key(s) {', '.join(unknown)} in {config.inipath}; "
                                f"known loyalty keys: {', '.join(sorted(known))}")


def _ini_keys(inipath) -> set[str]:
    """The keys of pytest's own section in its config file (``config.inicfg`` is deprecated)."""
    if inipath is None or not Path(inipath).is_file():
        return set()
    path = Path(inipath)
    if path.suffix == ".toml":
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("pytest", {})
        # pytest 9 reads [tool.pytest] natively and [tool.pytest.ini_options] as before.
        return set(table.get("ini_options", {})) | {key for key in table if key != "ini_options"}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return {key for section in ("pytest", "tool:pytest") if parser.has_section(section) for key in parser[section]}


def pytest_report_header(config):
    session = config.stash.get(fixtures.SESSION_KEY, None)
    if session is None or not session.active:
        return None
    lines = [f"loyalty: teacher {session.teacher_spec}; students {', '.join(session.student_specs)}; "
             f"data {session.data_spec}; cache {session.cache_dir}"]
    if session.attacking:
        attack = session.attack_config()
        lines.append(f"loyalty attack: {attack.recipe} on {attack.examples} seeded examples, "
                     f"budget {attack.budget} queries each, seed {attack.seed}")
    lines += [f"loyalty threshold {t.key} = {t.value} [{t.source}]" for t in session.thresholds().values()]
    return lines


def pytest_collection_modifyitems(config, items):
    """The baseline gate exists only with a baseline, the robustness gate only with an attack."""
    optional = {"test_baseline": config.getoption("loyalty_baseline"), "test_robustness": config.getoption("loyalty_attack")}
    dropped = [item for item in items if item.path == SUITE and not optional.get(item.originalname, True)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pytest_sessionstart(session):
    """Do the model work up front on the controller, where its progress is visible."""
    config = session.config
    loyalty = config.stash.get(fixtures.SESSION_KEY, None)
    if loyalty is None or not loyalty.active or config.getoption("collectonly") or hasattr(config, "workerinput"):
        return
    if config.getoption("loyalty_no_suite"):
        return  # users' own tests load what they use, lazily
    loyalty.prepare()
