"""Every docstring example in the modules that carry them runs and passes."""

from __future__ import annotations

import doctest

import pytest

from loyalty_tests import bench, bench_render, metrics, strategies
from loyalty_tests.robustness import constraints, summary, transformations

MODULES = [metrics, strategies, summary, bench, bench_render, constraints, transformations]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_docstring_examples(module):
    results = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert results.attempted > 0, f"{module.__name__} has no docstring examples"
    assert results.failed == 0, f"{results.failed} of {results.attempted} docstring examples failed in {module.__name__}"


def test_every_public_metric_has_a_formula_and_an_example():
    """The design pins each metric's formula in its docstring: an inline ``...`` span that states
    it (an equation or an expression with an operator), plus a doctest (run above)."""
    import re

    formula = re.compile(r"``[^`]*(=|\bmean\(|\bsum|\bsqrt|·|\|\|)[^`]*``")
    public = [name for name in dir(metrics) if not name.startswith("_") and callable(getattr(metrics, name))
              and getattr(getattr(metrics, name), "__module__", None) == metrics.__name__]
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
