"""Every docstring example in the modules that carry them runs and passes."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from loyalty_tests import metrics

PACKAGE = Path(metrics.__file__).resolve().parent
# Every module of the package whose source holds a docstring example, found, not listed: a new
# module's examples run without anyone remembering to add it here.
MODULES = sorted(
    ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    for path in PACKAGE.rglob("*.py")
    if ">>>" in path.read_text(encoding="utf-8")
)


def test_the_discovery_finds_the_modules_with_examples():
    assert {
        "loyalty_tests.metrics",
        "loyalty_tests.stats.intervals",
        "loyalty_tests.stats.sequential",
        "loyalty_tests.robustness.summary",
    } <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    results = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert results.attempted > 0, f"{name} has no docstring examples"
    assert results.failed == 0, f"{results.failed} of {results.attempted} docstring examples failed in {name}"


def test_every_public_metric_has_a_formula_and_an_example():
    """The design pins each metric's formula in its docstring: an inline ``...`` span that states
    it (an equation or an expression with an operator), plus a doctest (run above)."""
    import re

    formula = re.compile(r"``[^`]*(=|\bmean\(|\bsum|\bsqrt|·|\|\|)[^`]*``")
    public = [
        name
        for name in dir(metrics)
        if not name.startswith("_")
        and callable(getattr(metrics, name))
        and getattr(getattr(metrics, name), "__module__", None) == metrics.__name__
    ]
    assert len(public) >= 13
    for name in public:
        doc = getattr(metrics, name).__doc__ or ""
        assert ">>>" in doc, f"metrics.{name} has no doctest"
        if name != "MetricValue":  # a container, not a formula
            assert formula.search(doc), f"metrics.{name} states no formula in its docstring"


def test_the_formula_check_rejects_prose():
    import re

    formula = re.compile(r"``[^`]*(=|\bmean\(|\bsum|\bsqrt|·|\|\|)[^`]*``")
    assert not formula.search("Share of examples predicted correctly, see ``accuracy``.")
    assert formula.search("Share predicted correctly: ``mean(y_pred == y_true)``.")
