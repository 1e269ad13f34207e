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
import difflib
import math
import typing
from typing import Callable

from ..errors import LoyaltyError

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


def _suggestion(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]}? " if close else ""


def parse_attack_recipe(recipe: str) -> object:
    """The frozen config a recipe string stands for.

    >>> parse_attack_recipe("charswap:max_edit_distance=10")
    CharSwapConfig(max_edit_distance=10)
    """
    text = str(recipe or "").strip()
    name, has_options, options = (part.strip() for part in text.partition(":"))
    if name not in _CONFIG_TYPES:
        raise LoyaltyError(f"unknown attack recipe {recipe!r}; {_suggestion(name, _CONFIG_TYPES)}"
                           f"known recipes: {describe_recipes()}")
    config_type = _CONFIG_TYPES[name]
    keys = [f.name for f in dataclasses.fields(config_type)]
    if has_options and not options:
        raise LoyaltyError(f"attack recipe {recipe!r} has nothing after ':'; write {name!r} or {name}:key=value")
    hints, values = typing.get_type_hints(config_type), {}
    for position, item in enumerate(options.split(",") if has_options else []):
        key, has_equals, raw = (part.strip() for part in item.partition("="))
        if not has_equals:  # a bare value fills the first field, and only in first place
            if position > 0 or not keys:
                raise LoyaltyError(f"attack recipe {recipe!r}: option {item.strip()!r} needs a key; write key=value "
                                   f"with a key from: {', '.join(keys) or 'none (this recipe takes no options)'}")
            key, raw = keys[0], key
        key = key.replace("-", "_")
        if key not in keys:
            raise LoyaltyError(f"attack recipe {recipe!r}: unknown option {key!r}; {_suggestion(key, keys)}"
                               f"valid keys: {', '.join(keys) or 'none (this recipe takes no options)'}")
        if key in values:
            raise LoyaltyError(f"attack recipe {recipe!r}: option {key!r} is given twice")
        values[key] = _coerce(raw, hints[key], f"{name}:{key}", recipe)
    required = [f.name for f in dataclasses.fields(config_type) if f.name not in values
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if required:
        raise LoyaltyError(f"attack recipe {recipe!r} needs a value for {', '.join(required)}; "
                           f"write {name}:{required[0]}=... (or {name}:<value> for the first)")
    try:
        return config_type(**values)
    except LoyaltyError:
        raise
    except (TypeError, ValueError) as error:
        raise LoyaltyError(f"attack recipe {recipe!r}: {error}; valid keys: {', '.join(keys)}") from error


def _coerce(raw: str, hint, label: str, recipe: str):
    if hint is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise LoyaltyError(f"bad value {raw!r} for {label} in attack recipe {recipe!r}; valid values: true, false")
    if hint in (int, float):
        try:
            value = hint(raw)
        except ValueError:
            value = None
        if value is None or (hint is float and not math.isfinite(value)):
            kind = "a whole number" if hint is int else "a finite number"
            raise LoyaltyError(f"bad value {raw!r} for {label} in attack recipe {recipe!r}; expects {kind}")
        return value
    if hint is str and raw:
        return raw
    if hint is str:
        raise LoyaltyError(f"empty value for {label} in attack recipe {recipe!r}")
    raise TypeError(f"{label}: recipe strings cannot express fields of type {hint!r}")


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
