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

import contextvars
import dataclasses
from typing import Callable, ClassVar

from ..errors import LoyaltyError
from ..infra.suggest import did_you_mean

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


Handler = Callable[..., object]  # handler(teacher, config, data, seed) -> HFClassifier

# Where long-running methods report progress: compress() sets it for the duration of one call
# (the pytest plugin passes its terminal reporter), so handlers keep their four-argument form.
PROGRESS: contextvars.ContextVar[Callable[[str], None]] = contextvars.ContextVar("loyalty_compress_progress",
                                                                                default=print)

_HANDLERS: dict[type, Handler] = {}
_CONFIG_TYPES: dict[str, type] = {}


def register(config_type: type) -> Callable[[Handler], Handler]:
    """Decorator: ``@register(Int8Config) def quantize_int8(teacher, config, data, seed): ...``."""
    if not (dataclasses.is_dataclass(config_type) and config_type.__dataclass_params__.frozen):
        raise TypeError(f"{config_type.__name__} must be a frozen dataclass to be a compression config")
    if not issubclass(config_type, MethodConfig):
        raise TypeError(f"{config_type.__name__} must derive from loyalty_tests.compress.MethodConfig")
    name = config_type.method
    if not isinstance(name, str) or not name:
        raise TypeError(f"{config_type.__name__} needs a class attribute `method` with its recipe name")
    if config_type.family not in FAMILIES:
        raise TypeError(f"{config_type.__name__}.family must be one of {FAMILIES}, got {config_type.family!r}")
    if config_type.trains and not config_type.uses_data:
        raise TypeError(f"{config_type.__name__} trains, so it uses data: set uses_data = True")
    if name in _CONFIG_TYPES and _CONFIG_TYPES[name] is not config_type:
        raise TypeError(f"recipe name {name!r} is already taken by {_CONFIG_TYPES[name].__name__}")

    def decorator(handler: Handler) -> Handler:
        _HANDLERS[config_type] = handler
        _CONFIG_TYPES[name] = config_type
        return handler

    return decorator


def registered_methods() -> dict[str, tuple[str, ...]]:
    """Each registered recipe name with the option keys it accepts, e.g. ``{"int8": ("per_channel",)}``."""
    return {
        name: tuple(field.name for field in dataclasses.fields(config_type))
        for name, config_type in sorted(_CONFIG_TYPES.items())
    }


def known_method_names() -> tuple[str, ...]:
    """Every name that starts a compression recipe."""
    return tuple(sorted(_CONFIG_TYPES))


def describe_methods() -> str:
    """``int8 (keys: per_channel)``-style listing of the registered methods, for error messages."""
    parts = [f"{name} (keys: {', '.join(keys) or 'none'})" for name, keys in registered_methods().items()]
    return "; ".join(parts) or "none"


def config_type_for(name: str) -> type:
    """The config class for a recipe name; an unknown method is a LoyaltyError with a suggestion."""
    if name in _CONFIG_TYPES:
        return _CONFIG_TYPES[name]
    raise LoyaltyError(f"unknown compression method {name!r}{did_you_mean(name, _CONFIG_TYPES)}; "
                       f"registered methods: {describe_methods()}")


def handler_for(config: object) -> Handler:
    """The handler registered for ``type(config)``."""
    handler = _HANDLERS.get(type(config))
    if handler is None:
        raise LoyaltyError(
            f"no compression method is registered for {type(config).__name__}; "
            f"give one of the registered configs or a recipe string: {describe_methods()}"
        )
    return handler


def require_data(data, method: str):
    """The training data a method needs, or a LoyaltyError saying how to give it."""
    if data is None or len(data) == 0:
        raise LoyaltyError(f"{method} trains the student and needs training data: pass --loyalty-train-data SPEC "
                           "(or use an embedded --loyalty-data, whose train split is the default)")
    return data


def progress_reporter(label: str):
    """A train-loop callback that reports every tenth of the way to the caller's progress sink."""
    sink = PROGRESS.get()

    def report(step: int, total: int, loss: float) -> None:
        if step % max(1, total // 10) == 0 or step == total:
            sink(f"{label}: step {step}/{total}, loss {loss:.3f}")

    return report
