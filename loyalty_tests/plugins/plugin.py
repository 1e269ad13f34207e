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

from pathlib import Path

import pytest

from ..errors import LoyaltyError
from . import fixtures, gate_runner, students, told_once
from .configfile import realign
from .fixtures import DECLARED_KEY, SESSION_KEY, SETTINGS_KEY, loyalty_session
from .items import is_gate_item
from .options import add_options
from .report_collector import ReportCollector
from .settings import LoyaltySettings, check_ini_keys

SUITE = Path(__file__).resolve().parent.parent / "suite" / "test_loyalty_gates.py"
DECLARED = ("loyalty_teacher", "loyalty_student")


def pytest_addoption(parser):
    add_options(parser)


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config, args, parser):
    realign(early_config, args)  # `--teacher /abs/path` must read the same ini file as `--teacher=/abs/path`


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "loyalty(**thresholds): override loyalty gate thresholds for this test, "
        "e.g. @pytest.mark.loyalty(min_label_loyalty=0.95)",
    )
    try:
        check_ini_keys(config.inipath, registered_ini_keys(config))
    except LoyaltyError as error:
        raise pytest.UsageError(str(error)) from error
    settings = LoyaltySettings.from_config(config)  # the one place options and ini keys are read
    declared = declared_fixtures(config)
    config.stash[SETTINGS_KEY], config.stash[DECLARED_KEY] = settings, declared
    has_teacher = bool(settings.teacher or declared.get("loyalty_teacher"))
    has_students = bool(settings.students or declared.get("loyalty_student"))
    _check_sources(settings, declared, has_teacher, has_students)
    try:
        settings.check()  # thresholds, their ranges, latency rounds, the engine's name
        _check_warn_only(settings)
        if has_teacher and has_students:  # a gate run: the session (and the modules it needs) now
            loyalty_session(config).check()  # the attack recipe, the specs' form, the engine's extra
    except LoyaltyError as error:
        raise pytest.UsageError(f"loyalty: {error}") from error
    config.pluginmanager.register(fixtures, "loyalty-fixtures")
    config.pluginmanager.register(gate_runner, "loyalty-gates")
    config.pluginmanager.register(told_once, "loyalty-told-once")
    if (
        has_teacher
        and has_students
        and (loyalty_session(config).replaced_teacher or loyalty_session(config).replaced_students)
    ):
        config.pluginmanager.register(students, "loyalty-students")  # the command line over a declared fixture
    if not hasattr(config, "workerinput"):
        config.pluginmanager.register(ReportCollector(config, settings), "loyalty-report")
    if has_teacher and has_students and not settings.no_suite:
        _add_suite(config, loyalty_session(config))
    elif settings.add_gates and not (has_teacher and has_students):
        # asking for gates and getting none is a failure, never a green run
        raise pytest.UsageError(
            "loyalty: --loyalty-gates, but no teacher and student were found: pass --teacher "
            "and --student, or declare loyalty_teacher and loyalty_student fixtures in the root "
            "conftest.py (a conftest.py in a sub-folder is read only when its tests are collected)"
        )


def _add_suite(config, session) -> None:
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    if session.declared:
        if (not explicit or session.settings.add_gates) and not _suite_collected(config.args):
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


def _check_sources(settings, declared: dict, has_teacher: bool, has_students: bool) -> None:
    """A teacher needs a student (and the other way round). A role given both on the command line
    and by a declared fixture takes the command line's model for this run (``students.py``)."""
    if has_students and not has_teacher:
        raise pytest.UsageError(
            "loyalty: students need a teacher to be compared against: pass --teacher SPEC "
            "(e.g. --teacher demo --student int8) or declare a loyalty_teacher fixture"
        )
    if has_teacher and not has_students:
        raise pytest.UsageError(
            f"loyalty: teacher {settings.teacher or 'fixture'} needs at least one student: "
            "pass --student SPEC (a model or a recipe, e.g. --student int8) or declare a "
            "loyalty_student fixture"
        )


def registered_ini_keys(config) -> set[str]:
    """Every ``loyalty_*`` ini key registered with pytest's parser (by this plugin or another), so
    a key ``--help`` documents is never refused."""
    try:
        registered = config._parser._inidict  # pytest keeps addini's keys here; it has no public list
    except AttributeError:  # a pytest whose internals moved: the keys this plugin registers itself
        from ..gates.thresholds import THRESHOLD_SPECS, ini_name

        registered = {ini_name(key): None for key in THRESHOLD_SPECS}
        registered.update(dict.fromkeys(("loyalty_engine", "loyalty_json", "loyalty_markdown")))
    return {key for key in registered if key.startswith("loyalty_")}


def _check_warn_only(settings) -> None:
    from ..gates.registry import GATE_NAMES
    from ..gates.thresholds import warn_only_gates
    from ..infra.suggest import did_you_mean

    for name in warn_only_gates(settings.thresholds()):
        if name not in GATE_NAMES:
            raise LoyaltyError(
                f"warn_only names an unknown gate {name!r}{did_you_mean(name, GATE_NAMES)}; "
                f"gates: {', '.join(GATE_NAMES)}"
            )


def _suite_collected(args) -> bool:
    """True when a path given to pytest is the suite file or a folder holding it."""
    for arg in args:
        path = Path(str(arg).split("::")[0]).resolve()
        if path == SUITE or path in SUITE.parents:
            return True
    return False


def pytest_report_header(config):
    session = config.stash.get(SESSION_KEY, None)
    if session is None or not session.active:
        return None
    lines = [
        f"loyalty: {students.header_lines(session)}; data {session.data_spec}; "
        f"cache {session.cache_dir if session.use_cache else 'off (--loyalty-no-cache)'}; engine {session.engine_name}"
    ]
    if session.attacking:
        attack = session.attack_config()
        from ..robustness.bounds import bound_of, describe_bound

        bound = describe_bound(*bound_of(attack.recipe_config))
        lines.append(
            f"loyalty attack: {attack.recipe} ({bound}) on at most {attack.examples} seeded examples in blocks of "
            f"{session.settings.attack_block}, budget {attack.budget} queries each, seed {attack.seed}"
        )
        feasibility = session.robustness_feasibility()
        if feasibility:
            lines.append(f"loyalty note: {feasibility}")
    lines += [f"loyalty threshold {t.key} = {t.value} [{t.source}]" for t in session.thresholds().values()]
    return lines


def pytest_unconfigure(config):
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        session.close()  # a Ray instance the engine started goes down with the run


def pytest_collection_modifyitems(config, items):
    """An optional gate (the registry's ``collected_with``) exists only with its setting: the
    baseline gate with a baseline, the robustness gate with an attack."""
    from ..gates.registry import GATES

    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return
    thresholds = settings.thresholds()

    def collected(name: str) -> bool:
        gate = GATES.get(name)
        if gate is None or gate.collected_with is None:
            return True
        if gate.collected_with == "threshold":
            return thresholds[gate.threshold].value is not None
        return bool(getattr(settings, gate.collected_with))

    dropped = [item for item in items if is_gate_item(item) and not collected(item.originalname.removeprefix("test_"))]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
    from .items import LM_SUITE_MODULE
    from .lm_session import spec_kind

    lm_items = [item for item in items if is_gate_item(item) and item.path.name == LM_SUITE_MODULE]
    items[:] = [item for item in items if item not in lm_items]
    if spec_kind(settings.teacher) != "classifier":  # plainly no LM: no LM gates listed at all
        items += lm_items  # last: a classifier pair's own gates run (and tell a load error) first
