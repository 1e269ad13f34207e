"""The options part of a recipe string, ``name:key=value,key=value``, into a frozen config.

Compression recipes (``prune:0.3,scope=layer``) and attack recipes (``charswap:10``) are written
the same way, so both registries read them here. A bare first value fills the config's first
field (``prune:0.5`` means ``prune:sparsity=0.5``); values are coerced to the field's type (int,
float, bool, str, a ``Literal`` choice, or ``X | None``); anything unknown or malformed is a
LoyaltyError that says what is valid, with a suggestion for a near miss.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Literal, Union

from ..errors import LoyaltyError
from .suggest import did_you_mean

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def parse_options(config_type: type, name: str, options: str | None, where: str, kind: str = "method") -> object:
    """``config_type(**options)``; ``options`` is the text after ':' (None when there is no ':'),
    ``where`` says which recipe, e.g. "in compression recipe 'prune:0.3+int8'".

    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Cut:
    ...     share: float = 0.5
    ...     greedy: bool = False
    >>> parse_options(Cut, "cut", "0.3,greedy=yes", "in recipe 'cut:0.3,greedy=yes'")
    Cut(share=0.3, greedy=True)
    """
    keys = [field.name for field in dataclasses.fields(config_type)]
    valid = ", ".join(keys) or f"none (this {kind} takes no options)"
    if options is not None and not options.strip():
        raise LoyaltyError(f"{name}: has nothing after ':' {where}; write {name!r} alone or {name}:key=value")
    hints = typing.get_type_hints(config_type)
    values: dict[str, object] = {}
    for position, item in enumerate(options.split(",") if options is not None else []):
        key, has_equals, raw = (part.strip() for part in item.partition("="))
        if not has_equals:  # a bare value: allowed first only, for the config's first field
            if position > 0 or not keys:
                raise LoyaltyError(
                    f"{name}: option {item.strip()!r} {where} needs a key; write key=value with a key from: {valid}"
                )
            key, raw = keys[0], key
        key = key.replace("-", "_")
        if key not in keys:
            raise LoyaltyError(f"{name}: unknown option {key!r} {where}{did_you_mean(key, keys)}; valid keys: {valid}")
        if key in values:
            raise LoyaltyError(f"{name}: option {key!r} is given twice {where}")
        values[key] = coerce(raw, hints[key], f"{name}:{key}", where)
    required = [
        field.name
        for field in dataclasses.fields(config_type)
        if field.name not in values
        and field.default is dataclasses.MISSING
        and field.default_factory is dataclasses.MISSING
    ]
    if required:
        raise LoyaltyError(
            f"{name} needs a value for {', '.join(required)} {where}; "
            f"write {name}:{required[0]}=... (or {name}:<value> for the first)"
        )
    try:
        return config_type(**values)
    except LoyaltyError:
        raise
    except (TypeError, ValueError) as error:
        raise LoyaltyError(f"{name}: {error} {where}; valid keys: {valid}") from error


def coerce(raw: str, hint, label: str, where: str):
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
            return coerce(raw, inner[0], label, where)
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
