"""Adversarial robustness: attack teacher and student on the same examples and compare.

TextAttack's decomposition — transformation, constraints, goal, search — with the model behind
``predict_proba``; every query batched, outputs cached per text, a query budget per example,
deterministic under a seed. Recipes come from a registry (``attack_registry``): ``charswap``,
``textfooler``, ``pwws`` (see ``attack_recipes``), ``textattack:<recipe>`` through the optional
TextAttack backend, and any recipe registered with ``@register_attack_recipe``. The built-in recipes
register themselves when this package imports their modules below, which happens before any
submodule (the registry included) can be used.
"""

from .attack import run_attack, sample_indices, sample_order
from .attack_cache import AttackCacheWarning
from .attack_recipes import CharSwapConfig, PwwsConfig, Recipe, TextFoolerConfig
from .attack_registry import build_attack_recipe, parse_attack_recipe, register_attack_recipe, registered_recipes
from .comparison import RobustnessComparison, RobustnessRun, compare_robustness
from .results import AdversarialExample, AttackConfig, AttackResult, known_recipes
from .textattack_backend import TextAttackConfig

__all__ = [
    "AttackConfig",
    "AttackResult",
    "AdversarialExample",
    "RobustnessComparison",
    "run_attack",
    "compare_robustness",
    "known_recipes",
    "sample_indices",
    "Recipe",
    "CharSwapConfig",
    "TextFoolerConfig",
    "PwwsConfig",
    "TextAttackConfig",
    "register_attack_recipe",
    "parse_attack_recipe",
    "build_attack_recipe",
    "registered_recipes",
    "RobustnessRun",
    "sample_order",
    "AttackCacheWarning",
]
