"""loyalty_tests: gate a compressed text classifier (student) against its teacher.

Follows Xu et al., EMNLP 2021, "Beyond Preserved Accuracy: Evaluating Loyalty and Robustness
of BERT Compression". Importing this package loads no model, no torch and touches no network;
the names below are imported on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    # assertion helpers for users' own tests
    "assert_loyal": "assertions",
    "assert_faster": "assertions",
    "assert_robust": "assertions",
    # data -> models -> predictions -> the teacher/student report
    "load_dataset": "data",
    "TextDataset": "data",
    "load_model": "models.specs",
    "ModelOptions": "models.specs",
    "predict": "predictions",
    "Predictions": "predictions",
    "compare_predictions": "comparison",
    "LoyaltyReport": "comparison",
    "Comparison": "comparison",
    # robustness and latency
    "run_attack": "robustness",
    "compare_robustness": "robustness",
    "AttackConfig": "robustness",
    "RobustnessComparison": "robustness",
    "measure_latency": "engines.latency",
    "LatencyResult": "engines.latency",
    # making students: `from loyalty_tests import compress` gives the compress package, which is
    # callable as the function is: compress(teacher, "int8") (see compress/__init__.py)
    "LoyaltyError": "errors",
    "LoyaltyCacheWarning": "errors",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'loyalty_tests' has no attribute {name!r}")
