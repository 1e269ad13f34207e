"""One registry helper for "a method is a frozen config dataclass plus a registered handler".

Compression methods (``compress/registry.py``) and attack recipes (``robustness/attack_registry.py``)
are both a ``Registry``: a recipe name (a class attribute of the config) -> config type -> handler.
Registration refuses what cannot work with a ``TypeError`` (a programming error, found on import):
a config that is not a frozen dataclass, lacks the registry's base class or its name, or takes a
name another class holds (the same class registered again, e.g. on re-import, is fine). Lookups
that come from user input fail with a ``LoyaltyError`` listing what is valid, with a "did you mean".
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..errors import LoyaltyError
from .suggest import did_you_mean

Handler = Callable[..., object]


def _identity(config_type: type) -> str:
    return f"{config_type.__module__}.{config_type.__qualname__}"


class Registry:
    """``what``: how messages name an entry ("compression method"); ``name_attribute``: the config
    class attribute holding its recipe name ("method", "recipe"); ``base``: a class every config
    must derive from, if any; ``listing``: how messages introduce the valid names."""

    def __init__(self, what: str, name_attribute: str, *, base: type | None = None, listing: str = "registered"):
        self.what, self.name_attribute, self.base, self.listing = what, name_attribute, base, listing
        self.handlers: dict[type, Handler] = {}
        self.config_types: dict[str, type] = {}

    def check(self, config_type: type) -> str:
        """The config's recipe name, once it is fit to be registered."""
        if not (dataclasses.is_dataclass(config_type) and config_type.__dataclass_params__.frozen):
            raise TypeError(f"{config_type.__name__} must be a frozen dataclass to be a {self.what} config")
        if self.base is not None and not issubclass(config_type, self.base):
            raise TypeError(
                f"{config_type.__name__} must derive from {self.base.__module__.rsplit('.', 1)[0]}.{self.base.__name__}"
            )
        name = getattr(config_type, self.name_attribute, None)
        if not isinstance(name, str) or not name or ":" in name:
            raise TypeError(
                f"{config_type.__name__} needs a class attribute `{self.name_attribute}` with its recipe name (no ':')"
            )
        taken = self.config_types.get(name)
        if taken is not None and _identity(taken) != _identity(config_type):
            raise TypeError(f"{self.what} name {name!r} is already taken by {taken.__name__}")
        return name

    def register(self, config_type: type) -> Callable[[Handler], Handler]:
        name = self.check(config_type)

        def decorator(handler: Handler) -> Handler:
            self.handlers[config_type] = handler
            self.config_types[name] = config_type
            return handler

        return decorator

    def keys(self) -> dict[str, tuple[str, ...]]:
        """Each registered name with the option keys its config accepts."""
        return {name: tuple(f.name for f in dataclasses.fields(t)) for name, t in sorted(self.config_types.items())}

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.config_types))

    def describe(self) -> str:
        """``int8 (keys: per_channel); prune (keys: sparsity)``: for error messages."""
        return "; ".join(f"{name} (keys: {', '.join(keys) or 'none'})" for name, keys in self.keys().items()) or "none"

    def config_type_for(self, name: str, shown: str | None = None) -> type:
        """The config class for a recipe name (``shown``: the text the user wrote, when it was longer)."""
        if name in self.config_types:
            return self.config_types[name]
        text = shown if shown is not None else repr(name)
        raise LoyaltyError(
            f"unknown {self.what} {text}{did_you_mean(name, self.config_types)}; {self.listing}: {self.describe()}"
        )

    def handler_for(self, config: object) -> Handler:
        handler = self.handlers.get(type(config))
        if handler is None:
            raise LoyaltyError(
                f"no {self.what} is registered for {type(config).__name__}; "
                f"give a recipe string or a registered config: {self.describe()}"
            )
        return handler
