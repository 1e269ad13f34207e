"""Compression methods that make a student from a teacher.

``compress(teacher, "int8")`` returns a new classifier and never mutates the teacher. A method is
a frozen config dataclass with a handler registered for it (see ``registry``); recipe strings
(``"distill:layers=3+int8"``) parse into the same configs and are applied left to right, so a
pipeline such as distillation followed by int8 — the paper's best combined strategy — is one call.

Registered: ``int8`` (post-training dynamic quantization), ``prune`` (unstructured magnitude),
``heads`` (attention heads physically removed), ``distill`` (knowledge distillation) and
``theseus`` (BERT-of-Theseus module replacing), ``qat`` (quantization-aware training, then int8)
and ``onnx-int8`` (ONNX Runtime int8 export; a last step, since what it makes is not a torch model).
"""

from __future__ import annotations

import dataclasses

from ..errors import LoyaltyError
from . import distill  # noqa: F401  (importing registers each method)
from . import dynamic_int8
from . import heads
from . import onnx_int8
from . import prune
from . import qat
from . import theseus
from .distill import DistillConfig
from .dynamic_int8 import Int8Config
from .heads import HeadsConfig
from .onnx_int8 import OnnxInt8Config
from .prune import PruneConfig
from .qat import QatConfig
from .context import BuildContext
from .parse import config_to_recipe, parse_recipe
from .registry import FAMILIES, MethodConfig, describe_methods, handler_for, known_method_names, register, registered_methods
from .theseus import TheseusConfig

__all__ = [
    "compress", "BuildContext", "parse_recipe", "config_to_recipe", "registered_methods", "known_method_names",
    "register", "MethodConfig", "FAMILIES",
    "Int8Config", "OnnxInt8Config", "QatConfig", "PruneConfig", "HeadsConfig", "DistillConfig", "TheseusConfig",
]


def compress(teacher, config, data=None, *, seed: int = 0, progress=None, cache_dir=None, use_cache: bool = True,
             context: BuildContext | None = None):
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
    student = teacher
    for position, step in enumerate(configs):
        if not hasattr(student, "model"):
            raise LoyaltyError(f"recipe step {config_to_recipe(step)!r} needs a PyTorch model, but step "
                               f"{config_to_recipe(configs[position - 1])!r} made a {type(student).__name__}; "
                               "put onnx-int8 last in the recipe")
        student = handler_for(step)(student, step, data, seed, context)
    # a copy, not an attribute write: a handler that hands back its input must not rename the teacher
    return dataclasses.replace(student, name=f"{teacher.name}+{config_to_recipe(configs)}")


def _as_configs(config) -> tuple[object, ...]:
    if isinstance(config, str):
        return parse_recipe(config)
    configs = tuple(config) if isinstance(config, (list, tuple)) else (config,)
    if not configs:
        raise LoyaltyError(f"no compression config given; give a recipe such as 'int8' ({describe_methods()})")
    for step in configs:
        handler_for(step)  # fail before any work when one step is not a registered config
    return configs
