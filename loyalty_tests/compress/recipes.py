"""Recipe strings <-> config tuples: ``"distill:layers=3+int8"`` <-> ``(DistillConfig(3), Int8Config())``.

Grammar: methods joined by ``+`` and applied left to right; each method is ``name`` or
``name:options``; options are ``key=value`` pairs joined by ``,``. A bare first value fills the
config's first field, so ``prune:0.5`` means ``prune:sparsity=0.5``. Values are coerced to the
config field's type (int, float, bool, str, a ``Literal`` choice, or ``X | None``); anything
unknown or malformed is a LoyaltyError that lists what is valid.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Literal, Sequence, Union

from ..errors import LoyaltyError
from .registry import config_type_for, describe_methods

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_SEPARATORS = ("+", ",", "=", ":")


def parse_recipe(recipe: str) -> tuple[object, ...]:
    """Parse a recipe string into a tuple of frozen configs, one per ``+``-joined method."""
    text = str(recipe).strip()
    if not text:
        raise LoyaltyError(f"empty compression recipe; give one of the registered methods: {describe_methods()}")
    configs = []
    for step in text.split("+"):
        if not step.strip():
            raise LoyaltyError(f"compression recipe {recipe!r} has an empty step; join methods with a single '+'")
        configs.append(_parse_step(step.strip(), recipe))
    return tuple(configs)


def _parse_step(step: str, recipe: str) -> object:
    name, has_options, options = step.partition(":")
    config_type = config_type_for(name.strip())
    fields = dataclasses.fields(config_type)
    keys = [field.name for field in fields]
    where = f"in compression recipe {recipe!r}"
    if has_options and not options.strip():
        raise LoyaltyError(f"{name}: has nothing after ':' {where}; write {name!r} alone or {name}:key=value")
    hints = typing.get_type_hints(config_type)
    values: dict[str, object] = {}
    for position, item in enumerate(options.split(",") if has_options else []):
        key, has_equals, raw = (part.strip() for part in item.partition("="))
        if not has_equals:  # a bare value: allowed first only, for the config's first field
            if position > 0 or not keys:
                raise LoyaltyError(
                    f"{name}: option {item.strip()!r} {where} needs a key; write key=value "
                    f"with a key from: {', '.join(keys) or 'none (this method takes no options)'}"
                )
            key, raw = keys[0], key
        key = key.replace("-", "_")
        if key not in keys:
            raise LoyaltyError(
                f"{name}: unknown option {key!r} {where}; valid keys: {', '.join(keys) or 'none (this method takes no options)'}"
            )
        if key in values:
            raise LoyaltyError(f"{name}: option {key!r} is given twice {where}")
        values[key] = _coerce(raw, hints[key], f"{name}:{key}", where)
    try:
        return config_type(**values)
    except LoyaltyError:
        raise
    except (TypeError, ValueError) as error:
        raise LoyaltyError(f"{name}: {error} {where}; valid keys: {', '.join(keys)}") from error


def _coerce(raw: str, hint, label: str, where: str):
    """Turn the option text into the field's type, or say which values the field accepts."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        for choice in args:
            if str(choice).lower() == raw.lower():
                return choice
        raise LoyaltyError(f"bad value {raw!r} for {label} {where}; valid values: {', '.join(map(str, args))}")
    if origin in (Union, types.UnionType):
        if type(None) in args and raw.lower() == "none":
            return None
        inner = [arg for arg in args if arg is not type(None)]
        if len(inner) == 1:
            return _coerce(raw, inner[0], label, where)
    if hint is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise LoyaltyError(f"bad value {raw!r} for {label} {where}; valid values: true, false")
    if hint in (int, float):
        try:
            value = hint(raw)
        except ValueError:
            value = None
        if value is None or (hint is float and not math.isfinite(value)):
            kind = "a whole number" if hint is int else "a finite number"
            raise LoyaltyError(f"bad value {raw!r} for {label} {where}; expects {kind}")
        return value
    if hint is str:
        if not raw:
            raise LoyaltyError(f"empty value for {label} {where}")
        return raw
    raise TypeError(f"{label}: recipe strings cannot express fields of type {hint!r}")


def config_to_recipe(config: object | Sequence[object]) -> str:
    """The recipe string for a config (or a sequence of them); ``parse_recipe`` reads it back.

    Only fields that differ from their defaults are written, so the default int8 config is ``int8``.
    """
    if isinstance(config, (list, tuple)):
        if not config:
            raise LoyaltyError("an empty sequence of compression configs has no recipe; give at least one")
        return "+".join(config_to_recipe(item) for item in config)
    name = getattr(type(config), "method", None)
    if not dataclasses.is_dataclass(config) or not isinstance(name, str):
        raise LoyaltyError(f"{config!r} is not a compression config; registered methods: {describe_methods()}")
    options = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if value == _default(field):
            continue
        options.append(f"{field.name}={_format(value, f'{name}:{field.name}')}")
    return f"{name}:{','.join(options)}" if options else name


def _default(field: dataclasses.Field):
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING  # a required field is always written


def _format(value, label: str) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        # repr is the shortest text that reads back to the same float; "1e+16" would split the
        # recipe at its '+', and float("1e16") reads the same number
        return repr(value).replace("e+", "e")
    text = str(value)
    if any(separator in text for separator in _SEPARATORS) or not text:
        raise LoyaltyError(f"{label}={text!r} cannot be written in a recipe (it contains one of {' '.join(_SEPARATORS)})")
    return text
