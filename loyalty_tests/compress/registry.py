"""The registry of compression methods: recipe name -> config type -> handler.

A method is a frozen config dataclass plus a handler registered for it (torchao's
``quantize_(model, config)`` pattern). The config class names its recipe spelling in a
``method`` class attribute, so ``int8`` in a recipe string finds ``Int8Config``, and
``compress`` finds the handler from ``type(config)``.

Adding a method (e.g. pruning): write ``prune.py`` with ``PruneConfig`` (``method = "prune"``)
and ``@register(PruneConfig) def prune(teacher, config, data, seed) -> HFClassifier``, then
import the module in ``compress/__init__.py``. Nothing here changes.
"""

from __future__ import annotations

import contextvars
import dataclasses
from typing import Callable

from ..errors import LoyaltyError

# Methods the design lists that are not written yet. They are named only so that a recipe such
# as "prune:0.5" is recognised as a recipe and fails with "not registered yet" rather than as an
# unknown model path; no handler or stub is registered for them.
PLANNED_METHODS: tuple[str, ...] = ()

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
    name = getattr(config_type, "method", None)
    if not isinstance(name, str) or not name:
        raise TypeError(f"{config_type.__name__} needs a class attribute `method` with its recipe name")
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
    """Registered methods plus the planned ones: every name that starts a compression recipe."""
    return tuple(sorted(set(_CONFIG_TYPES) | set(PLANNED_METHODS)))


def describe_methods() -> str:
    """``int8 (keys: per_channel)``-style listing of the registered methods, for error messages."""
    parts = [f"{name} (keys: {', '.join(keys) or 'none'})" for name, keys in registered_methods().items()]
    return "; ".join(parts) or "none"


def config_type_for(name: str) -> type:
    """The config class for a recipe name; an unknown or not-yet-written method is a LoyaltyError."""
    if name in _CONFIG_TYPES:
        return _CONFIG_TYPES[name]
    if name in PLANNED_METHODS:
        raise LoyaltyError(
            f"compression method {name!r} is not registered yet (planned); "
            f"registered methods: {describe_methods()}"
        )
    raise LoyaltyError(f"unknown compression method {name!r}; registered methods: {describe_methods()}")


def make_student(teacher, model, config, data=None, seed: int = 0, *, device: str | None = None):
    """Wrap a handler's new model as an ``HFClassifier`` that inherits the teacher's settings.

    Its fingerprint is derived from the teacher's fingerprint, the step's recipe, the seed and
    the training data, so it is known without hashing the new weights (quantized weights have
    no stable byte form) and equal for equal inputs — every method is deterministic under a seed.
    """
    from ..cache import fingerprint
    from ..models import HFClassifier
    from .recipes import config_to_recipe

    from .. import __version__

    stamp = None
    if getattr(teacher, "fingerprint", None) is not None:
        data_stamp = getattr(data, "fingerprint", None) if data is not None else None
        # The code and method versions are part of it: predictions and attack results cached for a
        # student built the old way must not be served for one built the new way.
        stamp = fingerprint("student", __version__, getattr(type(config), "version", 1), teacher.fingerprint,
                            config_to_recipe(config), seed, data_stamp)
    return HFClassifier(
        model, teacher.tokenizer, teacher.name, batch_size=teacher.batch_size,
        max_length=teacher.max_length, device=device or teacher.device, fingerprint=stamp,
    )


def handler_for(config: object) -> Handler:
    """The handler registered for ``type(config)``."""
    handler = _HANDLERS.get(type(config))
    if handler is None:
        raise LoyaltyError(
            f"no compression method is registered for {type(config).__name__}; "
            f"give one of the registered configs or a recipe string: {describe_methods()}"
        )
    return handler
