"""Adversarial robustness: attack teacher and student on the same examples and compare.

TextAttack's decomposition — transformation, constraints, goal, search — with the model behind
``predict_proba``; every query batched, outputs cached per text, a query budget per example,
deterministic under a seed. Recipes: ``charswap``, ``textfooler``, ``pwws`` (see ``attack_recipes``) and
``textattack:<recipe>`` through the optional TextAttack backend.
"""

from .attack import compare_robustness, run_attack, sample_indices
from .results import AdversarialExample, AttackConfig, AttackResult, RobustnessComparison, known_recipes

__all__ = ["AttackConfig", "AttackResult", "AdversarialExample", "RobustnessComparison", "run_attack",
           "compare_robustness", "known_recipes", "sample_indices"]
