"""Hypothesis strategies for teacher/student outputs, and a checker for metric invariants.

Users import these to property-test their own metrics::

    from loyalty_tests.strategies import prediction_pairs, check_metric_invariants

    check_metric_invariants(my_metric, bounds=(0, 1), identity_value=1.0, symmetric=True)

Generated probability vectors deliberately include the edge cases metrics get wrong: exact zeros,
one-hot rows, ties, and near-identical teacher/student pairs.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

_WEIGHT = st.one_of(st.just(0.0), st.just(1.0), st.floats(0.0, 1.0, allow_subnormal=False))


def _size(value, low: int, high: int):
    """A fixed size when one is given, otherwise a drawn one in [low, high]."""
    return st.just(int(value)) if value is not None else st.integers(low, high)


@st.composite
def probability_vectors(
    draw, n_classes: int | None = None, *, min_classes: int = 2, max_classes: int = 6, unique_argmax: bool = False
) -> np.ndarray:
    """A float64 vector of ``n_classes`` (or ``min_classes..max_classes``) non-negative
    probabilities summing to 1. ``unique_argmax=True`` breaks ties for the largest entry, for
    properties that only hold when the predicted label is unambiguous.

    >>> @settings(max_examples=20, deadline=None, database=None)
    ... @given(probability_vectors(n_classes=3))
    ... def test_is_distribution(p):
    ...     assert p.shape == (3,) and (p >= 0).all() and abs(p.sum() - 1) < 1e-9
    >>> test_is_distribution()
    """
    k = draw(_size(n_classes, min_classes, max_classes))
    weights = np.array(draw(st.lists(_WEIGHT, min_size=k, max_size=k)), dtype=np.float64)
    if weights.sum() <= 0:
        weights[draw(st.integers(0, k - 1))] = 1.0  # all zeros: make it one-hot
    probs = weights / weights.sum()
    if unique_argmax and _near_tie(probs[None, :]).any():
        # Lift the first of the (near-)tied maxima. The check runs after normalising because
        # division can round two almost-equal weights to the same probability.
        probs[np.argmax(probs)] *= 1.01
        probs /= probs.sum()
    return probs


def _near_tie(probs: np.ndarray) -> np.ndarray:
    """Per row: is the runner-up within a relative 1e-6 of the maximum (so argmax is fragile)?"""
    if probs.shape[1] < 2:
        return np.zeros(probs.shape[0], dtype=bool)
    top_two = np.sort(probs, axis=1)[:, -2:]
    return top_two[:, 1] - top_two[:, 0] <= 1e-6 * top_two[:, 1]


@st.composite
def probability_matrices(
    draw,
    n_rows: int | None = None,
    n_classes: int | None = None,
    *,
    min_rows: int = 1,
    max_rows: int = 12,
    min_classes: int = 2,
    max_classes: int = 6,
    unique_argmax: bool = False,
) -> np.ndarray:
    """An (n_rows, n_classes) float64 array whose rows are probability vectors.

    >>> @settings(max_examples=20, deadline=None, database=None)
    ... @given(probability_matrices(n_rows=4, n_classes=2))
    ... def test_rows(probs):
    ...     assert probs.shape == (4, 2) and np.allclose(probs.sum(axis=1), 1)
    >>> test_rows()
    """
    k = draw(_size(n_classes, min_classes, max_classes))
    # A list whose length is drawn with it (not fixed first) lets hypothesis shrink by deleting rows.
    low, high = (n_rows, n_rows) if n_rows is not None else (min_rows, max_rows)
    rows = draw(st.lists(probability_vectors(k, unique_argmax=unique_argmax), min_size=low, max_size=high))
    return np.stack(rows)


def _nudge(teacher: np.ndarray, noise: np.ndarray, scale: float) -> np.ndarray:
    """A student close to the teacher: mix in a little of another distribution."""
    return (1.0 - scale) * teacher + scale * noise


@st.composite
def prediction_pairs(
    draw,
    n_rows: int | None = None,
    n_classes: int | None = None,
    *,
    min_rows: int = 1,
    max_rows: int = 12,
    min_classes: int = 2,
    max_classes: int = 6,
    unique_argmax: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """``(teacher_probs, student_probs)`` of the same shape. The student is independent of the
    teacher, identical to it, or a small perturbation of it (the near-identity regime where
    rounding errors in a metric show up).

    >>> @settings(max_examples=20, deadline=None, database=None)
    ... @given(prediction_pairs(n_classes=3))
    ... def test_same_shape(pair):
    ...     teacher, student = pair
    ...     assert teacher.shape == student.shape and teacher.shape[1] == 3
    >>> test_same_shape()
    """
    k = draw(_size(n_classes, min_classes, max_classes))
    teacher = draw(probability_matrices(n_rows, k, min_rows=min_rows, max_rows=max_rows, unique_argmax=unique_argmax))
    matrices = probability_matrices(teacher.shape[0], k, unique_argmax=unique_argmax)
    kind = draw(st.sampled_from(["independent", "identical", "perturbed"]))
    if kind == "identical":
        return teacher, teacher.copy()
    student = draw(matrices)
    if kind == "perturbed":
        student = _nudge(teacher, student, draw(st.sampled_from([1e-9, 1e-4, 0.05])))
        if unique_argmax and _near_tie(student).any():  # the mixture can tie again; draw afresh then
            student = draw(matrices)
    return teacher, student


@st.composite
def label_arrays(
    draw,
    n: int | None = None,
    n_classes: int | None = None,
    *,
    min_size: int = 1,
    max_size: int = 12,
    min_classes: int = 2,
    max_classes: int = 6,
) -> np.ndarray:
    """An int64 array of ``n`` class indices in ``[0, n_classes)``.

    >>> @settings(max_examples=20, deadline=None, database=None)
    ... @given(label_arrays(n=5, n_classes=3))
    ... def test_labels(y):
    ...     assert y.shape == (5,) and y.min() >= 0 and y.max() < 3
    >>> test_labels()
    """
    size = draw(_size(n, min_size, max_size))
    k = draw(_size(n_classes, min_classes, max_classes))
    return np.array(draw(st.lists(st.integers(0, k - 1), min_size=size, max_size=size)), dtype=np.int64)


def _show(array: np.ndarray) -> str:
    return np.array2string(np.asarray(array), precision=17, separator=", ")


def _call(fn, name: str, teacher: np.ndarray, student: np.ndarray) -> float:
    """Call the metric; anything but a finite real number is itself a broken invariant."""
    try:
        value = float(fn(teacher, student))
    except Exception as error:  # a metric must accept every valid pair of probability arrays
        raise AssertionError(
            f"invariant 'accepts valid input' broken: {name} raised {type(error).__name__}: "
            f"{error}\nteacher_probs={_show(teacher)}\nstudent_probs={_show(student)}"
        ) from error
    if not math.isfinite(value):
        raise AssertionError(
            f"invariant 'finite' broken: {name} returned {value}\n"
            f"teacher_probs={_show(teacher)}\nstudent_probs={_show(student)}"
        )
    return value


def check_metric_invariants(
    fn,
    *,
    bounds: tuple[float, float] | None = (0.0, 1.0),
    identity_value: float | None = 1.0,
    symmetric: bool = True,
    permutation_invariant: bool = True,
    max_examples: int | None = None,
    derandomize: bool | None = None,
    tolerance: float = 1e-6,
) -> None:
    """Run hypothesis-driven checks of a metric ``fn(teacher_probs, student_probs) -> float``.

    Invariants, each skipped when its argument is None/False:
    ``bounds``: ``lo <= fn(t, s) <= hi``; ``identity_value``: ``fn(t, t) == identity_value``;
    ``symmetric``: ``fn(t, s) == fn(s, t)``; ``permutation_invariant``: relabelling the classes
    the same way in both arrays leaves the value unchanged (checked on pairs whose argmax is
    unique, since argmax ties resolve by class index). Always: fn returns a finite number and
    does not raise. Comparisons allow ``tolerance``. ``max_examples`` and ``derandomize`` default
    to the active hypothesis profile's (a CI profile can fix the examples, a developer's profile
    can search at random); no example database is written.

    Raises AssertionError naming the broken invariant and the shrunk counterexample.

    >>> from loyalty_tests.metrics import probability_loyalty
    >>> check_metric_invariants(probability_loyalty, max_examples=20)
    >>> check_metric_invariants(lambda t, s: 2.0, max_examples=5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    AssertionError: invariant 'bounds' broken: <lambda> returned 2.0 outside [0.0, 1.0]...
    """
    name = getattr(fn, "__name__", repr(fn))
    profile = settings.default
    run = settings(
        max_examples=profile.max_examples if max_examples is None else max_examples,
        deadline=None,
        derandomize=profile.derandomize if derandomize is None else derandomize,
        database=None,
        # a metric under test may be slow on hypothesis's large arrays; that is not a bug
        suppress_health_check=[HealthCheck.too_slow],
        report_multiple_bugs=False,
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
    )  # no slow "explain" phase

    def where(teacher, student) -> str:
        return f"\nteacher_probs={_show(teacher)}\nstudent_probs={_show(student)}"

    def check_bounds(pair):
        value = _call(fn, name, *pair)
        low, high = bounds
        assert low - tolerance <= value <= high + tolerance, (
            f"invariant 'bounds' broken: {name} returned {value!r} outside [{low}, {high}]" + where(*pair)
        )

    def check_identity(pair):
        teacher = pair[0]
        value = _call(fn, name, teacher, teacher.copy())
        assert abs(value - identity_value) <= tolerance, (
            f"invariant 'identity' broken: {name}(t, t) returned {value!r}, expected {identity_value!r}"
            + where(teacher, teacher)
        )

    def check_symmetry(pair):
        forward, backward = _call(fn, name, *pair), _call(fn, name, pair[1], pair[0])
        assert abs(forward - backward) <= tolerance, (
            f"invariant 'symmetric' broken: {name}(t, s)={forward!r} but {name}(s, t)={backward!r}" + where(*pair)
        )

    def check_permutation(pair, data):
        teacher, student = pair
        order = np.array(data.draw(st.permutations(range(teacher.shape[1])), label="class permutation"))
        before, after = _call(fn, name, teacher, student), _call(fn, name, teacher[:, order], student[:, order])
        assert abs(before - after) <= tolerance, (
            f"invariant 'permutation_invariant' broken: {name} gave {before!r}, but {after!r} after reordering "
            f"the classes of both arrays by {order.tolist()}" + where(teacher, student)
        )

    checks = []
    if bounds is not None:
        checks.append(given(prediction_pairs())(check_bounds))
    if identity_value is not None:
        checks.append(given(prediction_pairs())(check_identity))
    if symmetric:
        checks.append(given(prediction_pairs())(check_symmetry))
    if permutation_invariant:
        checks.append(given(prediction_pairs(unique_argmax=True), st.data())(check_permutation))
    for check in checks:
        run(check)()
