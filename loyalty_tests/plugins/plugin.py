"""pytest entry point (``pytest11``): options, fixtures, the built-in gate suite and reports.

Teacher and students come from the command line (``--teacher``/``--student``) or from fixtures a
conftest declares (``loyalty_teacher``/``loyalty_student``); for a role given both ways, the
command line wins for that run (``students.py``). The
gate suite (``loyalty_tests/suite``) is collected when there is a teacher and a student: with
command-line specs and no test paths, it is all that runs (``pytest --teacher demo --student int8``
in a project with its own tests gates the models and nothing else); with declared fixtures,
plain ``pytest`` runs it beside the project's tests.
"""

from __future__ import annotations

import configparser
import tomllib
from pathlib import Path

import pytest

from ..errors import LoyaltyError
from ..infra.suggest import did_you_mean
from ..gates.thresholds import THRESHOLD_SPECS, ini_name, warn_only_gates
from . import fixtures
from . import gate_runner
from . import students
from . import told_once
from .configfile import realign
from .options import add_options
from .report_collector import ReportCollector
from .session import LoyaltySession

SUITE = Path(__file__).resolve().parent.parent / "suite" / "test_loyalty_gates.py"
GATES = ("accuracy_drop", "label_loyalty", "probability_loyalty", "negative_flip_rate", "label_distribution",
         "latency", "robustness", "baseline")
DECLARED = ("loyalty_teacher", "loyalty_student")


def pytest_addoption(parser):
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, args, parser):
    realign(early_config, args)  # `--teacher /abs/path` must read the same ini file as `--teacher=/abs/path`


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line("markers", "loyalty(**thresholds): override loyalty gate thresholds for this test, "
                                       "e.g. @pytest.mark.loyalty(min_label_loyalty=0.95)")
    _check_ini_keys(config)
    session = LoyaltySession(config)
    declared = declared_fixtures(config)
    session.declared_teacher, session.declared_students = declared.get("loyalty_teacher"), declared.get("loyalty_student")
    _check_sources(session)
    try:
        session.check()  # thresholds, their ranges and the attack recipe fail here, before any model loads
        _check_warn_only(session)
    except LoyaltyError as error:
        raise pytest.UsageError(f"loyalty: {error}") from error
    config.stash[fixtures.SESSION_KEY] = session
    config.pluginmanager.register(fixtures, "loyalty-fixtures")
    config.pluginmanager.register(gate_runner, "loyalty-gates")
    if session.replaced_teacher or session.replaced_students:  # the command line over a declared fixture
        config.pluginmanager.register(students, "loyalty-students")
    config.pluginmanager.register(told_once, "loyalty-told-once")
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ReportCollector(config, session), "loyalty-report")
    if session.active and not config.getoption("loyalty_no_suite"):
        _add_suite(config, session)


def _add_suite(config, session) -> None:
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    if session.declared:
        if (not explicit or config.getoption("loyalty_gates")) and not _suite_collected(config.args):
            config.args.append(str(SUITE.parent))
    elif not explicit:
        config.args[:] = [str(SUITE.parent)]  # the folder, so node ids read test_loyalty_gates.py::test_…
    elif not _suite_collected(config.args):
        config.args.append(str(SUITE.parent))


def declared_fixtures(config) -> dict[str, str]:
    """Which of ``loyalty_teacher``/``loyalty_student`` a loaded conftest or plugin defines, and where.

    Conftests at the root and in ``testpaths`` are loaded before this runs; declare the fixtures
    there (a conftest deeper down is only read during collection)."""
    from _pytest.fixtures import getfixturemarker

    found = {}
    for plugin in config.pluginmanager.get_plugins():
        if plugin is fixtures or not hasattr(plugin, "__dict__"):
            continue
        for attribute, obj in list(vars(plugin).items()):
            try:
                marker = getfixturemarker(obj)
            except Exception:  # an attribute that cannot be inspected is no fixture of ours
                continue
            name = (marker.name or attribute) if marker is not None else None
            if name in DECLARED:
                found.setdefault(name, getattr(plugin, "__file__", None) or repr(plugin))
    return found


def _check_sources(session) -> None:
    """A teacher needs a student (and the other way round). A role given both on the command line
    and by a declared fixture takes the command line's model for this run (``students.py``)."""
    if session.has_students and not session.has_teacher:
        raise pytest.UsageError("loyalty: students need a teacher to be compared against: pass --teacher SPEC "
                                "(e.g. --teacher demo --student int8) or declare a loyalty_teacher fixture")
    if session.has_teacher and not session.has_students:
        raise pytest.UsageError(f"loyalty: teacher {session.teacher_spec or 'fixture'} needs at least one student: "
                                "pass --student SPEC (a model or a recipe, e.g. --student int8) or declare a "
                                "loyalty_student fixture")


def _check_warn_only(session) -> None:
    for name in warn_only_gates(session.thresholds()):
        if name not in GATES:
            raise LoyaltyError(f"warn_only names an unknown gate {name!r}{did_you_mean(name, GATES)}; "
                               f"gates: {', '.join(GATES)}")


def _suite_collected(args) -> bool:
    """True when a path given to pytest is the suite file or a folder holding it."""
    for arg in args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == SUITE or path in SUITE.parents:
            return True
    return False


def _check_ini_keys(config) -> None:
    """A misspelt key would otherwise leave its setting at the default with only a warning. The
    known keys are every ``loyalty_*`` key registered with pytest's parser (``addini``), so a key
    ``--help`` documents is never refused."""
    known = registered_ini_keys(config)
    unknown = sorted(key for key in _ini_keys(config.inipath) if key.startswith("loyalty_") and key not in known)
    if unknown:
        hints = "".join(did_you_mean(key, known) for key in unknown)
        raise pytest.UsageError(f"unknown ini key(s) {', '.join(unknown)}{hints} in {config.inipath}; "
                                f"known loyalty keys: {', '.join(sorted(known))}")


def registered_ini_keys(config) -> set[str]:
    """Every ``loyalty_*`` ini key registered with pytest's parser, by this plugin or another."""
    try:
        registered = config._parser._inidict  # pytest keeps addini's keys here; it has no public list
    except AttributeError:  # a pytest whose internals moved: the keys this plugin registers itself
        registered = {ini_name(key): None for key in THRESHOLD_SPECS}
        registered.update(dict.fromkeys(("loyalty_engine", "loyalty_json", "loyalty_markdown")))
    return {key for key in registered if key.startswith("loyalty_")}


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
    lines = [f"loyalty: {students.header_lines(session)}; data {session.data_spec}; "
             f"cache {session.cache_dir if session.use_cache else 'off (--loyalty-no-cache)'}; engine {session.engine_name}"]
    if session.attacking:
        attack = session.attack_config()
        lines.append(f"loyalty attack: {attack.recipe} on at most {attack.examples} seeded examples in blocks of "
                     f"{config.getoption('loyalty_attack_block')}, budget {attack.budget} queries each, seed {attack.seed}")
        feasibility = session.robustness_feasibility()
        if feasibility:
            lines.append(f"loyalty note: {feasibility}")
    lines += [f"loyalty threshold {t.key} = {t.value} [{t.source}]" for t in session.thresholds().values()]
    return lines


def pytest_unconfigure(config):
    session = config.stash.get(fixtures.SESSION_KEY, None)
    if session is not None:
        session.close()  # a Ray instance the engine started goes down with the run


def pytest_collection_modifyitems(config, items):
    """The baseline gate exists only with a baseline, the robustness gate only with an attack."""
    optional = {"test_baseline": config.getoption("loyalty_baseline"), "test_robustness": config.getoption("loyalty_attack")}
    dropped = [item for item in items if gate_runner.is_gate_item(item) and not optional.get(item.originalname, True)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
