"""Weight-only int8, one scale per output channel (recipe ``int8-weight``).

Each ``nn.Linear`` (and ``nn.Embedding``) stores its weight as int8 plus one float scale per
output row, ``scale_r = max_j |W_rj| / 127`` and ``q_rj = round(W_rj / scale_r)``; the forward
pass dequantizes (``q * scale``) and computes in float. Activations are never quantized, which
is where naive dynamic int8 loses a causal LM: its per-batch activation scale is set by a few
outlier features, and the LM head then ranks 49k tokens from coarse inputs. Rounding error per
weight is at most ``scale_r / 2``, relative to the row's own largest weight rather than the
matrix's. Memory for weights is a quarter of float32's; speed is float's (this recipe is about
fidelity, not latency). ``keep`` names modules left float, joined by '/'.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

from .context import BuildContext
from .dynamic_int8 import conv1d_as_linear, quantized_names
from .registry import MethodConfig, register
from .student import make_student


@dataclass(frozen=True)
class Int8WeightConfig(MethodConfig):
    """Weight-only int8 per output channel on every Linear and Embedding except those in ``keep``.

    keep: module names (or name suffixes) left float, joined by '/', e.g. ``lm_head/embed_tokens``.
    embeddings: also quantize ``nn.Embedding`` tables (one scale per token row).
    """

    method: ClassVar[str] = "int8-weight"
    family: ClassVar[str] = "quantization"
    lm: ClassVar[bool] = True
    keep: str | None = None
    embeddings: bool = True


def quantize_rows(weight):
    """(int8 values, float scale per row) with ``values * scale[:, None]`` within scale/2 of ``weight``.

    >>> import torch
    >>> q, s = quantize_rows(torch.tensor([[1.0, -0.5], [0.0, 0.0]]))
    >>> q.tolist(), [round(x, 4) for x in s.tolist()]
    ([[127, -64], [0, 0]], [0.0079, 1.0])
    """
    import torch

    largest = weight.detach().abs().amax(dim=1)
    scale = torch.where(largest > 0, largest / 127.0, torch.ones_like(largest))  # an all-zero row stays zero
    values = torch.clamp(torch.round(weight.detach() / scale[:, None]), -127, 127).to(torch.int8)
    return values, scale.float()


def _int8_modules():
    """The two module types, defined on first use so importing compress does not import torch."""
    import torch
    from torch import nn

    class Int8WeightLinear(nn.Module):
        def __init__(self, linear: nn.Linear):
            super().__init__()
            values, scale = quantize_rows(linear.weight)
            self.register_buffer("weight_int8", values)
            self.register_buffer("weight_scale", scale)
            self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone(), requires_grad=False)
            self.in_features, self.out_features = linear.in_features, linear.out_features

        def forward(self, x):
            weight = self.weight_int8.to(x.dtype) * self.weight_scale.to(x.dtype)[:, None]
            return torch.nn.functional.linear(x, weight, self.bias)

    class Int8WeightEmbedding(nn.Module):
        def __init__(self, embedding: nn.Embedding):
            super().__init__()
            values, scale = quantize_rows(embedding.weight)
            self.register_buffer("weight_int8", values)
            self.register_buffer("weight_scale", scale)
            self.padding_idx = embedding.padding_idx

        def forward(self, ids):
            # dequantize only the rows looked up: O(tokens x width), never the whole table
            return self.weight_int8[ids].float() * self.weight_scale[ids][..., None]

    return Int8WeightLinear, Int8WeightEmbedding


@register(Int8WeightConfig)
def quantize_int8_weights(
    teacher, config: Int8WeightConfig, data=None, seed: int = 0, context: BuildContext = BuildContext()
):
    """A copy of ``teacher`` with int8 weights per output channel; the teacher is left untouched."""
    from torch import nn

    linear_type, embedding_type = _int8_modules()
    model = conv1d_as_linear(copy.deepcopy(teacher.model).cpu().eval())
    types = (nn.Linear, nn.Embedding) if config.embeddings else (nn.Linear,)
    for name in quantized_names(model, config.keep, types):
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        module = getattr(parent, child)
        replacement = linear_type(module) if isinstance(module, nn.Linear) else embedding_type(module)
        setattr(parent, child, replacement)
    return make_student(teacher, model, config, data, seed, device=teacher.device)
