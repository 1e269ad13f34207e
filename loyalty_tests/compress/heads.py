"""Attention-head pruning that physically removes heads (recipe ``heads:<fraction>``).

Head importance is a weight-magnitude proxy: the Frobenius norm of the head's slice of the value
projection times that of the output projection (what the head can write into the residual
stream). Michel et al. (2019) score heads by the gradient of the loss with respect to a head
mask instead; transformers 5 no longer takes a head mask, so this gradient-free proxy is used
(a documented deviation) and the recipe needs no data. The ``round(fraction × heads)`` least
important heads over the whole encoder go, at least one head stays in every layer.

Removing a head slices its rows out of the query, key and value projections and its columns out
of the attention output projection, and updates the module's head count and width: fewer
parameters and less compute. Written against BERT-style attention (``attention.self`` with
query/key/value, ``attention.output.dense``) in transformers 4.x and 5.x alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

from ..errors import LoyaltyError
from .registry import make_student, register


@dataclass(frozen=True)
class HeadsConfig:
    """fraction: share of all attention heads to remove, in [0, 1)."""

    method: ClassVar[str] = "heads"
    fraction: float = 0.3

    def __post_init__(self):
        if not 0.0 <= self.fraction < 1.0:
            raise LoyaltyError(f"heads: fraction must lie in [0, 1), got {self.fraction!r} (e.g. heads:0.3)")


def attention_modules(model) -> list:
    layers = getattr(model.base_model.encoder, "layer", None)
    if layers is None or not all(hasattr(layer, "attention") and hasattr(layer.attention, "self") for layer in layers):
        raise LoyaltyError("heads: the teacher's encoder is not BERT-style (encoder.layer[i].attention.self); "
                           "head pruning supports BERT, RoBERTa, MiniLM and similar encoders")
    return [layer.attention for layer in layers]


def head_importance(attention) -> list[float]:
    self_attention, output = attention.self, attention.output.dense
    size = self_attention.attention_head_size
    scores = []
    for head in range(self_attention.num_attention_heads):
        rows = slice(head * size, (head + 1) * size)
        scores.append(float(self_attention.value.weight[rows].detach().norm() * output.weight[:, rows].detach().norm()))
    return scores


def _sliced(linear, keep, dim: int):
    import torch

    weight = linear.weight.detach().index_select(dim, keep)
    new = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=linear.bias is not None)
    with torch.no_grad():
        new.weight.copy_(weight)
        if linear.bias is not None:
            new.bias.copy_(linear.bias.detach() if dim == 1 else linear.bias.detach().index_select(0, keep))
    return new


def remove_heads(attention, heads: set[int]) -> None:
    """Drop ``heads`` from one attention module in place."""
    import torch

    self_attention = attention.self
    size, count = self_attention.attention_head_size, self_attention.num_attention_heads
    kept_heads = [h for h in range(count) if h not in heads]
    keep = torch.tensor([h * size + i for h in kept_heads for i in range(size)], dtype=torch.long)
    for name in ("query", "key", "value"):
        setattr(self_attention, name, _sliced(getattr(self_attention, name), keep, 0))
    attention.output.dense = _sliced(attention.output.dense, keep, 1)
    self_attention.num_attention_heads = len(kept_heads)
    self_attention.all_head_size = len(kept_heads) * size


@register(HeadsConfig)
def prune_heads(teacher, config: HeadsConfig, data=None, seed: int = 0):
    model = copy.deepcopy(teacher.model).cpu().eval()
    attentions = attention_modules(model)
    scored = [(score, layer, head) for layer, attention in enumerate(attentions)
              for head, score in enumerate(head_importance(attention))]
    total = len(scored)
    to_remove = round(config.fraction * total)
    remaining = {layer: attention.self.num_attention_heads for layer, attention in enumerate(attentions)}
    removed: dict[int, set[int]] = {}
    for score, layer, head in sorted(scored):  # least important first; ties by position, deterministic
        if to_remove == 0:
            break
        if remaining[layer] > 1:
            removed.setdefault(layer, set()).add(head)
            remaining[layer] -= 1
            to_remove -= 1
    for layer, heads in removed.items():
        remove_heads(attentions[layer], heads)
    student = make_student(teacher, model, config, data, seed)
    student.info.update(heads_removed=sum(len(h) for h in removed.values()), heads_total=total,
                        heads_per_layer=[remaining[layer] for layer in range(len(attentions))])
    return student
