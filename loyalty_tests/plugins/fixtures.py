"""Fixtures: the two the plugin looks for, and the ones users' own tests use.

``loyalty_teacher`` and ``loyalty_student`` are where the models come from. By default they load
``--teacher SPEC`` and each ``--student SPEC`` (tests run once per student, the spec as their id:
``test_label_loyalty[int8]``). A team whose models load their own way declares them instead, in
its ``conftest.py`` under those same names: a parametrized ``loyalty_student`` gives one gate
run per param. The ``loyalty_`` prefix keeps an unrelated fixture called ``teacher`` from
replacing the models the gates use.

For users' tests: ``teacher``, ``student`` (the two above, as classifiers), ``loyalty_data``,
``teacher_predictions``, ``student_predictions``, ``loyalty_report``, ``loyalty_thresholds``,
``attack_results``. The plugin's own fixtures and gates use only ``loyalty_``-prefixed names
(``loyalty_teacher_model``/``loyalty_student_model`` are the wrapped classifiers), so a team's
``teacher`` or ``student`` fixture, which pytest lets override the plugin's, reaches no gate.
"""

from __future__ import annotations

import pytest

from ..errors import LoyaltyError
from .labels import split_label

SETTINGS_KEY = pytest.StashKey[object]()  # LoyaltySettings, built in pytest_configure
DECLARED_KEY = pytest.StashKey[dict]()  # which of loyalty_teacher/loyalty_student a conftest declares, and where
SESSION_KEY = pytest.StashKey[object]()  # LoyaltySession, made when first needed


def loyalty_session(config):
    """The run's ``LoyaltySession``: made (and its modules imported) the first time a gate or a
    fixture needs it, so a run that uses none of them loads no model code."""
    session = config.stash.get(SESSION_KEY, None)
    if session is None:
        from .session import LoyaltySession

        declared = config.stash.get(DECLARED_KEY, {})
        session = LoyaltySession(
            config.stash[SETTINGS_KEY],
            config,
            declared_teacher=declared.get("loyalty_teacher"),
            declared_students=declared.get("loyalty_student"),
        )
        config.stash[SESSION_KEY] = session
    return session


def marker_thresholds(node) -> dict:
    """Keyword arguments of every ``@pytest.mark.loyalty(...)`` on the test, the closest winning."""
    merged = {}
    for mark in reversed(list(node.iter_markers("loyalty"))):
        if mark.args:
            raise pytest.UsageError(
                f"@pytest.mark.loyalty takes keyword thresholds only, got {mark.args!r} on {node.nodeid}"
            )
        merged.update(mark.kwargs)
    return merged


def student_label(item) -> str:
    """How reports name this item's student: its --student spec, or the declared fixture's param id."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return "student"
    if "loyalty_student_spec" in callspec.params:
        return split_label(callspec.params["loyalty_student_spec"])[0]
    return callspec.id


def failing(work):
    """Run ``work()``; bad input (a LoyaltyError) fails the test with its message, not a traceback."""
    try:
        return work()
    except LoyaltyError as error:
        message = str(error)
    pytest.fail(message, pytrace=False)  # outside the except: no "during handling" chain in the report


def pytest_generate_tests(metafunc):
    if "loyalty_student_spec" in metafunc.fixturenames:
        specs = list(metafunc.config.stash[SETTINGS_KEY].students) or [None]
        metafunc.parametrize(
            "loyalty_student_spec",
            specs,
            ids=[split_label(s)[0] if s else "no-student" for s in specs],
            scope="session",
        )


@pytest.fixture(scope="session")
def loyalty_student_spec(request):
    return request.param


def unseen_fixture(name: str, declared_in: str | None) -> str | None:
    """Why the gate suite runs without a fixture a conftest declares: the conftest sits in a
    sub-folder, and its fixtures reach only the tests in that folder, not the suite."""
    if not declared_in:
        return None
    return (
        f"no gate checked: {name} is declared in {declared_in}, but the gate suite cannot see it (a "
        f"conftest.py's fixtures reach only the tests in its own folder); declare {name} in the root "
        "conftest.py, or pass --teacher and --student"
    )


@pytest.fixture(scope="session")
def loyalty_teacher(request):
    """The teacher: ``--teacher SPEC``, unless a conftest declares this fixture itself."""
    if not request.config.stash[SETTINGS_KEY].teacher:
        declared = request.config.stash.get(DECLARED_KEY, {})
        pytest.skip(
            unseen_fixture("loyalty_teacher", declared.get("loyalty_teacher"))
            or "no teacher: pass --teacher SPEC, or declare a loyalty_teacher fixture in conftest.py"
        )
    return failing(loyalty_session(request.config).teacher_from_spec)


@pytest.fixture(scope="session")
def loyalty_student(request, loyalty_student_spec, loyalty_teacher):
    """A student: each ``--student SPEC`` in turn, unless a conftest declares this fixture itself."""
    session = loyalty_session(request.config)
    if loyalty_student_spec is None:
        pytest.skip(
            unseen_fixture("loyalty_student", session.declared_students)
            or "no student: pass --student SPEC, or declare a loyalty_student fixture in conftest.py"
        )
    teacher = session.classifier(loyalty_teacher, "teacher")
    return failing(lambda: session.student_from_spec(split_label(loyalty_student_spec)[1], teacher))


@pytest.fixture(scope="session")
def loyalty_data(request):
    """The evaluation data (``--loyalty-data``, default the embedded rotten_tomatoes test split)."""
    return failing(loyalty_session(request.config).data)


@pytest.fixture(scope="session")
def loyalty_teacher_model(request, loyalty_teacher):
    """The teacher as a classifier (``predict_proba``, ``label_names``, ``name``, ``fingerprint``)."""
    return failing(lambda: loyalty_session(request.config).classifier(loyalty_teacher, "teacher"))


@pytest.fixture(scope="session")
def loyalty_student_model(request, loyalty_student):
    """This test's student as a classifier: one per ``--student`` or per declared param."""
    return failing(lambda: loyalty_session(request.config).classifier(loyalty_student, "student"))


@pytest.fixture(scope="session")
def teacher(loyalty_teacher_model):
    """The teacher as a classifier (``predict_proba``, ``label_names``, ``name``)."""
    return loyalty_teacher_model


@pytest.fixture(scope="session")
def student(loyalty_student_model):
    """This test's student as a classifier: one per ``--student`` or per declared param."""
    return loyalty_student_model


@pytest.fixture(scope="session")
def teacher_predictions(request, loyalty_teacher_model):
    """The teacher's ``Predictions`` on ``loyalty_data`` (cached on disk by fingerprint)."""
    return failing(lambda: loyalty_session(request.config).predictions(loyalty_teacher_model))


@pytest.fixture(scope="session")
def student_predictions(request, loyalty_student_model):
    """This test's student's ``Predictions`` on ``loyalty_data``."""
    return failing(lambda: loyalty_session(request.config).predictions(loyalty_student_model))


@pytest.fixture
def loyalty_thresholds(request):
    """Effective thresholds for this test: default < ini < command line < @pytest.mark.loyalty."""
    return failing(lambda: loyalty_session(request.config).thresholds(marker_thresholds(request.node)))


@pytest.fixture
def loyalty_report(request, loyalty_teacher_model, loyalty_student_model):
    """The teacher/student ``LoyaltyReport`` (metrics with CIs, worst examples) for this test's student."""
    session = loyalty_session(request.config)
    return failing(
        lambda: session.loyalty_report(loyalty_teacher_model, loyalty_student_model, marker_thresholds(request.node))
    )


@pytest.fixture
def attack_results(request, loyalty_teacher_model, loyalty_student_model):
    """Teacher and this student attacked on the same seeded examples (``--attack RECIPE``): a
    ``RobustnessComparison`` with both ``AttackResult``s, transfer rate and adversarial loyalty."""
    if not request.config.stash[SETTINGS_KEY].attacking:
        # Fail closed: a test that asks for attack results must not pass without an attack.
        pytest.fail(
            "fixture 'attack_results' needs an attack: pass --attack RECIPE "
            "(e.g. --attack textfooler; also --attack-examples N, --attack-budget Q)",
            pytrace=False,
        )
    session = loyalty_session(request.config)
    return failing(lambda: session.robustness(loyalty_teacher_model, loyalty_student_model)[0])
