"""Unstructured magnitude pruning (recipe ``prune:<sparsity>``), made permanent.

The smallest-magnitude weights of the encoder's Linear layers are set to zero in a copy of the
teacher: exactly ``round(sparsity × n)`` of them, over all layers at once (``scope=global``) or
in each layer (``scope=layer``). No masks or hooks remain, so the student is an ordinary model;
the achieved sparsity is measured afterwards and reported in ``student.info``. Dense kernels do
not skip zeros, so this saves no time on CPU by itself — the paper's point is what it does to
loyalty and robustness.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar, Literal

from ..errors import LoyaltyError
from .context import BuildContext
from .registry import MethodConfig, register
from .student import make_student


@dataclass(frozen=True)
class PruneConfig(MethodConfig):
    """sparsity: share of encoder Linear weights set to zero, in [0, 1)."""

    method: ClassVar[str] = "prune"
    family: ClassVar[str] = "pruning"
    sparsity: float = 0.5
    scope: Literal["global", "layer"] = "global"

    def __post_init__(self):
        if not 0.0 <= self.sparsity < 1.0:
            raise LoyaltyError(f"prune: sparsity must lie in [0, 1), got {self.sparsity!r} (e.g. prune:0.3)")


def encoder_linear_weights(model) -> list:
    encoder = model.base_model.encoder
    import torch

    return [module.weight for module in encoder.modules() if isinstance(module, torch.nn.Linear)]


def _zero_smallest(weights: list, count: int) -> None:
    import torch

    if count == 0:
        return
    magnitudes = torch.cat([w.detach().abs().reshape(-1) for w in weights])
    smallest = torch.topk(magnitudes, count, largest=False, sorted=False).indices
    mask = torch.ones_like(magnitudes, dtype=torch.bool)
    mask[smallest] = False
    offset = 0
    with torch.no_grad():
        for weight in weights:
            size = weight.numel()
            weight.mul_(mask[offset : offset + size].reshape(weight.shape).to(weight.dtype))
            offset += size


def measured_sparsity(weights: list) -> float:
    zeros = sum(int((w == 0).sum()) for w in weights)
    return zeros / max(1, sum(w.numel() for w in weights))


@register(PruneConfig)
def prune(teacher, config: PruneConfig, data=None, seed: int = 0, context: BuildContext = BuildContext()):
    model = copy.deepcopy(teacher.model).cpu().eval()
    weights = encoder_linear_weights(model)
    if not weights:
        raise LoyaltyError(f"prune: teacher {teacher.name!r} has no encoder Linear layers to prune")
    if config.scope == "global":
        _zero_smallest(weights, round(config.sparsity * sum(w.numel() for w in weights)))
    else:
        for weight in weights:
            _zero_smallest([weight], round(config.sparsity * weight.numel()))
    student = make_student(teacher, model, config, data, seed)
    student.info["sparsity"] = measured_sparsity(weights)
    context.progress(
        f"prune: {student.info['sparsity']:.4f} of {sum(w.numel() for w in weights)} encoder Linear "
        f"weights are zero (asked for {config.sparsity}, scope {config.scope})"
    )
    return student
