"""The registry of compression methods: recipe name -> config type -> handler.

A method is a frozen config dataclass (a ``MethodConfig``) plus a handler registered for it
(torchao's ``quantize_(model, config)`` pattern). The config class names its recipe spelling in
``method``, so ``int8`` in a recipe string finds ``Int8Config``, and ``compress`` finds the
handler from ``type(config)``.

Adding a method: write ``my_method.py`` with ``@dataclass(frozen=True) class MyConfig(MethodConfig)``
(``method = "mine"``, its family, whether it trains) and ``@register(MyConfig) def mine(teacher,
config, data, seed) -> HFClassifier``, then import the module in ``compress/__init__.py`` (or in
your own code, for a method of your own). Nothing here changes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import ClassVar

from ..errors import LoyaltyError
from ..infra.registry import Handler, Registry

FAMILIES = ("quantization", "pruning", "distillation", "module replacing")


@dataclasses.dataclass(frozen=True)
class MethodConfig:
    """What every compression config declares about its method (class attributes, not fields)."""

    method: ClassVar[str] = ""  # the recipe name, e.g. "int8"
    family: ClassVar[str] = ""  # one of FAMILIES: the paper's grouping, used by the benchmark
    trains: ClassVar[bool] = False  # fine-tunes weights, so it needs training data
    uses_data: ClassVar[bool] = False  # reads training data (every method that trains, and heads' importance)
    version: ClassVar[int] = 1  # bump when the same config makes a different student: caches key on it
    lm: ClassVar[bool] = False  # also compresses a causal LM (lm.CausalLM) teacher


# Handler: handler(teacher, config, data, seed, context: BuildContext) -> HFClassifier


METHODS = Registry("compression method", "method", base=MethodConfig, listing="registered methods")
_HANDLERS, _CONFIG_TYPES = METHODS.handlers, METHODS.config_types  # the registry's own dicts (tests add to them)


def register(config_type: type) -> Callable[[Handler], Handler]:
    """Decorator: ``@register(Int8Config) def quantize_int8(teacher, config, data, seed, context): ...``."""
    METHODS.check(config_type)  # frozen dataclass, a MethodConfig, a free name: before reading its attributes
    if config_type.family not in FAMILIES:
        raise TypeError(f"{config_type.__name__}.family must be one of {FAMILIES}, got {config_type.family!r}")
    if config_type.trains and not config_type.uses_data:
        raise TypeError(f"{config_type.__name__} trains, so it uses data: set uses_data = True")
    return METHODS.register(config_type)


def registered_methods() -> dict[str, tuple[str, ...]]:
    """Each registered recipe name with the option keys it accepts, e.g. ``{"int8": ("per_channel",)}``."""
    return METHODS.keys()


def known_method_names() -> tuple[str, ...]:
    """Every name that starts a compression recipe."""
    return METHODS.names()


def describe_methods() -> str:
    """``int8 (keys: per_channel)``-style listing of the registered methods, for error messages."""
    return METHODS.describe()


def config_type_for(name: str) -> type:
    """The config class for a recipe name; an unknown method is a LoyaltyError with a suggestion."""
    return METHODS.config_type_for(name)


def handler_for(config: object) -> Handler:
    """The handler registered for ``type(config)``."""
    return METHODS.handler_for(config)


def require_data(data, method: str):
    """The training data a method needs, or a LoyaltyError saying how to give it."""
    if data is None or len(data) == 0:
        raise LoyaltyError(
            f"{method} trains the student and needs training data: pass --loyalty-train-data SPEC "
            "(or use an embedded --loyalty-data, whose train split is the default)"
        )
    return data
