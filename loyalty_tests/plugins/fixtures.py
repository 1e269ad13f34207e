"""Fixtures for users' own tests, and the per-student parametrization.

Every test that uses ``student`` (or a fixture built on it) runs once per ``--student``, with the
student spec as its id: ``test_label_loyalty[int8]``.
"""

from __future__ import annotations

import pytest

from ..errors import LoyaltyError
from .session import LoyaltySession

SESSION_KEY = pytest.StashKey[LoyaltySession]()


def loyalty_session(config) -> LoyaltySession:
    return config.stash[SESSION_KEY]


def _require(session: LoyaltySession, what: str) -> None:
    if not session.teacher_spec:
        pytest.skip(f"fixture {what!r} needs --teacher SPEC (and --student SPEC)")
    if what != "teacher" and not session.student_specs:
        pytest.skip(f"fixture {what!r} needs --student SPEC")


def marker_thresholds(node) -> dict:
    """Keyword arguments of every ``@pytest.mark.loyalty(...)`` on the test, the closest winning."""
    merged = {}
    for mark in reversed(list(node.iter_markers("loyalty"))):
        if mark.args:
            raise pytest.UsageError(f"@pytest.mark.loyalty takes keyword thresholds only, got {mark.args!r} on {node.nodeid}")
        merged.update(mark.kwargs)
    return merged


def pytest_generate_tests(metafunc):
    if "loyalty_student_spec" in metafunc.fixturenames:
        specs = loyalty_session(metafunc.config).student_specs or [None]
        metafunc.parametrize("loyalty_student_spec", specs, ids=[s or "no-student" for s in specs], scope="session")


@pytest.fixture(scope="session")
def loyalty_student_spec(request):
    return request.param


@pytest.fixture(scope="session")
def loyalty_data(request):
    """The evaluation data (``--loyalty-data``, default the embedded rotten_tomatoes test split)."""
    return loyalty_session(request.config).data()


@pytest.fixture(scope="session")
def teacher(request):
    """The teacher classifier (``--teacher``)."""
    session = loyalty_session(request.config)
    _require(session, "teacher")
    return session.teacher()


@pytest.fixture(scope="session")
def student(request, loyalty_student_spec):
    """The student classifier: one per ``--student``, tests parametrized by its spec."""
    session = loyalty_session(request.config)
    _require(session, "student")
    return session.student(loyalty_student_spec)


@pytest.fixture(scope="session")
def teacher_predictions(request, teacher):
    """The teacher's ``Predictions`` on ``loyalty_data`` (cached on disk by fingerprint)."""
    return loyalty_session(request.config).teacher_predictions()


@pytest.fixture(scope="session")
def student_predictions(request, student, loyalty_student_spec):
    return loyalty_session(request.config).student_predictions(loyalty_student_spec)


@pytest.fixture
def loyalty_thresholds(request):
    """Effective thresholds for this test: default < ini < command line < @pytest.mark.loyalty."""
    return loyalty_session(request.config).thresholds(marker_thresholds(request.node))


@pytest.fixture
def loyalty_report(request, student, loyalty_student_spec):
    """The teacher/student ``LoyaltyReport`` (metrics with CIs, worst examples) for this test's student."""
    session = loyalty_session(request.config)
    try:
        return session.loyalty_report(loyalty_student_spec, marker_thresholds(request.node))
    except LoyaltyError as error:  # bad input reads as a failure with its reason, not a traceback
        pytest.fail(str(error), pytrace=False)


@pytest.fixture(scope="session")
def attack_results(request, student, loyalty_student_spec):
    """Teacher and this student attacked on the same seeded examples (``--attack RECIPE``): a
    ``RobustnessComparison`` with both ``AttackResult``s, transfer rate and adversarial loyalty."""
    session = loyalty_session(request.config)
    if not session.attacking:
        # Fail closed: a test that asks for attack results must not pass without an attack.
        pytest.fail("fixture 'attack_results' needs an attack: pass --attack RECIPE "
                    "(e.g. --attack textfooler; also --attack-examples N, --attack-budget Q)", pytrace=False)
    try:
        return session.robustness(loyalty_student_spec)
    except LoyaltyError as error:
        pytest.fail(str(error), pytrace=False)
