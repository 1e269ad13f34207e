"""Command line over configuration: ``--teacher``/``--student`` replace a declared fixture for one run.

A team whose ``conftest.py`` declares ``loyalty_teacher``/``loyalty_student`` can still try
``pytest --student ./candidate``: as in pytest itself, the command line wins over what is
configured. The declared fixture stays where pytest put it (so everything that requests it, the
team's own tests and a declared student that compresses ``loyalty_teacher``, still finds a
fixture), but for this run its body is not called: the command-line model is returned instead,
and a replaced ``loyalty_student`` is parametrized by the ``--student`` specs instead of its own
params. The report header says which declared fixture was replaced.
"""

from __future__ import annotations

import pytest

from . import fixtures as plugin_fixtures
from .fixtures import failing, loyalty_session
from .labels import split_label


def _is_declared(fixturedef) -> bool:
    """A fixture of the team's, not the plugin's own default of the same name."""
    return getattr(fixturedef.func, "__module__", None) != plugin_fixtures.__name__


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc):
    """A replaced ``loyalty_student`` runs once per ``--student`` (id: its label), not per its params.

    The parametrize mark is added before pytest reads marks and fixture params, so pytest itself
    gives the mark precedence over the declared fixture's own params."""
    session = loyalty_session(metafunc.config)
    if not session.replaced_students or "loyalty_student" not in metafunc.fixturenames:
        return
    if "loyalty_student_spec" in metafunc.fixturenames:
        return  # the plugin's own loyalty_student serves this test
    specs = session.student_specs
    metafunc.definition.add_marker(
        pytest.mark.parametrize(
            "loyalty_student", specs, ids=[split_label(s)[0] for s in specs], indirect=True, scope="session"
        )
    )


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(fixturedef, request):
    """For a replaced role, the declared fixture returns the command-line model, not its own."""
    __tracebackhide__ = True  # a fixture's error is the team's, not this wrapper's
    session = loyalty_session(request.config)
    role = {"loyalty_teacher": session.replaced_teacher, "loyalty_student": session.replaced_students}
    if not role.get(fixturedef.argname) or not _is_declared(fixturedef):
        return (yield)
    if fixturedef.argname == "loyalty_teacher":

        def replacement(**_declared_arguments):
            return failing(session.teacher_from_spec)
    else:

        def replacement(**_declared_arguments):
            teacher = session.classifier(request.getfixturevalue("loyalty_teacher"), "teacher")
            return failing(lambda: session.student_from_spec(split_label(request.param)[1], teacher))

    declared, fixturedef.func = fixturedef.func, replacement
    try:
        return (yield)
    finally:
        fixturedef.func = declared


def header_lines(session) -> str:
    """``teacher …; students …`` for the report header, naming a declared fixture the run replaced."""

    def source(flag, specs, fixture, declared, replaced):
        if not specs:
            return f"{fixture} fixture ({declared})"
        text = ", ".join(specs)
        return f"{text} ({flag}, replacing the {fixture} fixture in {declared} for this run)" if replaced else text

    teacher = source(
        "--teacher",
        [session.teacher_spec] if session.teacher_spec else [],
        "loyalty_teacher",
        session.declared_teacher,
        session.replaced_teacher,
    )
    students = source(
        "--student", session.student_specs, "loyalty_student", session.declared_students, session.replaced_students
    )
    return f"teacher {teacher}; students {students}"
