"""Compression methods that make a student from a teacher.

``compress(teacher, "int8")`` returns a new classifier and never mutates the teacher. A method is
a frozen config dataclass with a handler registered for it (see ``registry``); recipe strings
(``"distill:layers=3+int8"``) parse into the same configs and are applied left to right, so a
pipeline such as distillation followed by int8 — the paper's best combined strategy — is one call.

Registered: ``int8`` (post-training dynamic quantization), ``prune`` (unstructured magnitude),
``heads`` (attention heads physically removed), ``distill`` (knowledge distillation) and
``theseus`` (BERT-of-Theseus module replacing), ``qat`` (quantization-aware training, then int8)
and ``onnx-int8`` (ONNX Runtime int8 export; a last step, since what it makes is not a torch model).
Causal LMs (``lm.CausalLM``) take the methods whose config says ``lm = True``: ``int8`` (naive
dynamic int8; ``keep=lm_head`` leaves named modules float) and ``int8-weight`` (weight-only int8
per output channel).
"""

from __future__ import annotations

import dataclasses
import sys
import types

from ..errors import LoyaltyError

# importing each method's module registers it
from . import distill, dynamic_int8, heads, onnx_int8, prune, qat, theseus, weight_int8  # noqa: F401
from .context import BuildContext
from .distill import DistillConfig
from .dynamic_int8 import Int8Config
from .heads import HeadsConfig
from .onnx_int8 import OnnxInt8Config
from .parse import config_to_recipe, parse_recipe
from .prune import PruneConfig
from .qat import QatConfig
from .registry import (
    FAMILIES,
    MethodConfig,
    describe_methods,
    handler_for,
    known_method_names,
    register,
    registered_methods,
)
from .theseus import TheseusConfig
from .weight_int8 import Int8WeightConfig

__all__ = [
    "compress",
    "BuildContext",
    "parse_recipe",
    "config_to_recipe",
    "registered_methods",
    "known_method_names",
    "register",
    "MethodConfig",
    "FAMILIES",
    "Int8Config",
    "Int8WeightConfig",
    "OnnxInt8Config",
    "QatConfig",
    "PruneConfig",
    "HeadsConfig",
    "DistillConfig",
    "TheseusConfig",
]


def compress(
    teacher,
    config,
    data=None,
    *,
    seed: int = 0,
    progress=None,
    cache_dir=None,
    use_cache: bool = True,
    context: BuildContext | None = None,
):
    """Apply one config, a tuple of configs, or a recipe string to ``teacher``, left to right.

    teacher: an ``HFClassifier`` (never mutated); data: a ``TextDataset`` for methods that train
    (ignored by int8); seed: passed to every method, so the same call gives the same student.
    The student is named ``f"{teacher.name}+{recipe}"``, e.g. ``demo+int8``. ``context`` (a
    ``BuildContext``) is handed to every method: progress(message) receives training progress
    (default: print); cache_dir: where trained students are stored (default: ``$LOYALTY_CACHE_DIR``
    or the user cache folder); use_cache=False trains afresh and writes nothing there. Without a
    context, one is made from ``progress``, ``cache_dir`` and ``use_cache``.
    """
    if context is None:
        context = BuildContext(cache_dir=cache_dir, use_cache=bool(use_cache), progress=progress or print)
    configs = _as_configs(config)
    if not hasattr(teacher, "model") or not hasattr(teacher, "tokenizer"):
        raise LoyaltyError(
            f"compress needs a PyTorch Hugging Face teacher (an HFClassifier), got {type(teacher).__name__} "
            f"{getattr(teacher, 'name', '')!r}; load the teacher from a model folder or hub id"
        )
    _check_lm_steps(teacher, configs)
    student = teacher
    for position, step in enumerate(configs):
        if not hasattr(student, "model"):
            raise LoyaltyError(
                f"recipe step {config_to_recipe(step)!r} needs a PyTorch model, but step "
                f"{config_to_recipe(configs[position - 1])!r} made a {type(student).__name__}; "
                "put onnx-int8 last in the recipe"
            )
        student = handler_for(step)(student, step, data, seed, context)
    # a copy, not an attribute write: a handler that hands back its input must not rename the teacher
    return dataclasses.replace(student, name=f"{teacher.name}+{config_to_recipe(configs)}")


def _check_lm_steps(teacher, configs) -> None:
    """A causal LM goes only through methods written for one (``lm = True`` on the config)."""
    from ..lm.model import model_kind

    if model_kind(teacher) != "lm":
        return
    refused = [config_to_recipe(step) for step in configs if not type(step).lm]
    if refused:
        fit = ", ".join(sorted(name for name in known_method_names() if _is_lm_method(name)))
        raise LoyaltyError(
            f"recipe step(s) {', '.join(map(repr, refused))} cannot compress the causal LM "
            f"{getattr(teacher, 'name', '')!r}; methods for causal LMs: {fit}"
        )


def _is_lm_method(name: str) -> bool:
    from .registry import config_type_for

    return bool(config_type_for(name).lm)


def _as_configs(config) -> tuple[object, ...]:
    if isinstance(config, str):
        return parse_recipe(config)
    configs = tuple(config) if isinstance(config, (list, tuple)) else (config,)
    if not configs:
        raise LoyaltyError(f"no compression config given; give a recipe such as 'int8' ({describe_methods()})")
    for step in configs:
        handler_for(step)  # fail before any work when one step is not a registered config
    return configs


class _CallablePackage(types.ModuleType):
    """``from loyalty_tests import compress`` gives this package (a submodule wins over any name
    the parent exports), so the package itself answers ``compress(teacher, "int8")`` as the
    function does; ``from loyalty_tests.compress import Int8Config`` works as before."""

    def __call__(self, teacher, config, data=None, **options):
        return compress(teacher, config, data, **options)


sys.modules[__name__].__class__ = _CallablePackage
