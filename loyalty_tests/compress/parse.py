"""Recipe strings <-> config tuples: ``"distill:layers=3+int8"`` <-> ``(DistillConfig(3), Int8Config())``.

Grammar: methods joined by ``+`` and applied left to right; each method is ``name`` or
``name:options``; options are ``key=value`` pairs joined by ``,``. A bare first value fills the
config's first field, so ``prune:0.5`` means ``prune:sparsity=0.5``. Values are coerced to the
config field's type (int, float, bool, str, a ``Literal`` choice, or ``X | None``); anything
unknown or malformed is a LoyaltyError that lists what is valid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..errors import LoyaltyError
from ..infra.recipe_options import parse_options
from .registry import config_type_for, describe_methods

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
    return parse_options(
        config_type_for(name.strip()),
        name.strip(),
        options if has_options else None,
        f"in compression recipe {recipe!r}",
    )


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
        raise LoyaltyError(
            f"{label}={text!r} cannot be written in a recipe (it contains one of {' '.join(_SEPARATORS)})"
        )
    return text
