"""The registry of attack recipes: recipe name -> config type -> handler (as ``compress/registry.py``).

A recipe is a frozen config dataclass naming its spelling in a ``recipe`` class attribute, plus a
handler registered for it that builds the runnable recipe:

    @dataclass(frozen=True)
    class MyConfig:
        recipe = "mine"
        strength: int = 3

    @register_attack_recipe(MyConfig)
    def build_mine(config: MyConfig, *, cache_dir=None) -> Recipe: ...

after which ``AttackConfig("mine:strength=5")`` parses, validates and runs it. Recipe strings
follow the compression grammar: ``name`` or ``name:key=value,key=value``; a bare first value fills
the config's first field (``charswap:10``, ``textattack:textfooler``). Unknown names and keys are a
LoyaltyError listing what is valid, with a "did you mean" for a near miss.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..infra.recipe_options import parse_options
from ..infra.registry import Handler, Registry

# Handler: handler(config, *, cache_dir=None) -> a recipe (see attack_recipes.Recipe)
RECIPES = Registry("attack recipe", "recipe", listing="known recipes")
_HANDLERS, _CONFIG_TYPES = RECIPES.handlers, RECIPES.config_types  # the registry's own dicts (tests swap them)


def register_attack_recipe(config_type: type) -> Callable[[Handler], Handler]:
    """Decorator: ``@register_attack_recipe(CharSwapConfig) def charswap(config, *, cache_dir=None): ...``."""
    return RECIPES.register(config_type)


def registered_recipes() -> dict[str, tuple[str, ...]]:
    """Each registered recipe name with its option keys, e.g. ``{"pwws": ("max_words", "max_word_share")}``."""
    return RECIPES.keys()


def describe_recipes() -> str:
    """``charswap (keys: max_edit_distance); pwws (keys: none)``: for error messages."""
    return RECIPES.describe()


def parse_attack_recipe(recipe: str) -> object:
    """The frozen config a recipe string stands for.

    >>> parse_attack_recipe("charswap:max_edit_distance=10")
    CharSwapConfig(max_edit_distance=10, max_words=3, max_word_share=0.2)
    """
    text = str(recipe or "").strip()
    name, has_options, options = (part.strip() for part in text.partition(":"))
    config_type = RECIPES.config_type_for(name, shown=repr(recipe))
    return parse_options(
        config_type, name, options if has_options else None, f"in attack recipe {recipe!r}", kind="recipe"
    )


def recipe_key(config: object) -> dict:
    """Everything that makes a recipe: its name and ALL its settings (defaults included), for cache keys."""
    return {"recipe": type(config).recipe, "config": type(config).__name__, "settings": dataclasses.asdict(config)}


def build_attack_recipe(config: object, *, cache_dir=None):
    """The runnable recipe for a config (or a recipe string), built by its registered handler."""
    if isinstance(config, str):
        config = parse_attack_recipe(config)
    return RECIPES.handler_for(config)(config, cache_dir=cache_dir)
