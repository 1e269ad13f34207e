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
from typing import Callable

from ..errors import LoyaltyError
from ..infra.recipe_options import parse_options
from ..infra.suggest import did_you_mean

Handler = Callable[..., object]  # handler(config, *, cache_dir=None) -> a recipe (see attack_recipes.Recipe)

_HANDLERS: dict[type, Handler] = {}
_CONFIG_TYPES: dict[str, type] = {}
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def register_attack_recipe(config_type: type) -> Callable[[Handler], Handler]:
    """Decorator: ``@register_attack_recipe(CharSwapConfig) def charswap(config, *, cache_dir=None): ...``."""
    if not (dataclasses.is_dataclass(config_type) and config_type.__dataclass_params__.frozen):
        raise TypeError(f"{config_type.__name__} must be a frozen dataclass to be an attack recipe config")
    name = getattr(config_type, "recipe", None)
    if not isinstance(name, str) or not name or ":" in name:
        raise TypeError(f"{config_type.__name__} needs a class attribute `recipe` with its name (no ':')")
    if name in _CONFIG_TYPES and _CONFIG_TYPES[name].__qualname__ != config_type.__qualname__:
        raise TypeError(f"attack recipe name {name!r} is already taken by {_CONFIG_TYPES[name].__name__}")

    def decorator(handler: Handler) -> Handler:
        _HANDLERS[config_type] = handler
        _CONFIG_TYPES[name] = config_type
        return handler

    return decorator


def registered_recipes() -> dict[str, tuple[str, ...]]:
    """Each registered recipe name with its option keys, e.g. ``{"charswap": ("max_edit_distance",)}``."""
    return {name: tuple(f.name for f in dataclasses.fields(t)) for name, t in sorted(_CONFIG_TYPES.items())}


def describe_recipes() -> str:
    """``charswap (keys: max_edit_distance); pwws (keys: none)``: for error messages."""
    return "; ".join(f"{name} (keys: {', '.join(keys) or 'none'})" for name, keys in registered_recipes().items())


def parse_attack_recipe(recipe: str) -> object:
    """The frozen config a recipe string stands for.

    >>> parse_attack_recipe("charswap:max_edit_distance=10")
    CharSwapConfig(max_edit_distance=10)
    """
    text = str(recipe or "").strip()
    name, has_options, options = (part.strip() for part in text.partition(":"))
    if name not in _CONFIG_TYPES:
        raise LoyaltyError(f"unknown attack recipe {recipe!r}{did_you_mean(name, _CONFIG_TYPES)}; "
                           f"known recipes: {describe_recipes()}")
    return parse_options(_CONFIG_TYPES[name], name, options if has_options else None, f"in attack recipe {recipe!r}",
                         kind="recipe")


def recipe_key(config: object) -> dict:
    """Everything that makes a recipe: its name and ALL its settings (defaults included), for cache keys."""
    return {"recipe": type(config).recipe, "config": type(config).__name__, "settings": dataclasses.asdict(config)}


def build_attack_recipe(config: object, *, cache_dir=None):
    """The runnable recipe for a config (or a recipe string), built by its registered handler."""
    if isinstance(config, str):
        config = parse_attack_recipe(config)
    handler = _HANDLERS.get(type(config))
    if handler is None:
        raise LoyaltyError(f"no attack recipe is registered for {type(config).__name__}; "
                           f"give a recipe string or a registered config: {describe_recipes()}")
    return handler(config, cache_dir=cache_dir)
