"""Attention-head pruning that physically removes heads (recipe ``heads:<fraction>``).

Head importance, ``importance=auto`` (the default): with training data, the gradient score of
Michel et al. (2019), I_h = E_x |∂L(x)/∂ξ_h|, where ξ_h is a gate (1.0) multiplying head h's
output and L the cross-entropy against the gold labels, on a seeded sample of ``examples`` train
sentences, each layer's scores divided by their L2 norm as the paper recommends. transformers 5
no longer takes a ``head_mask``, so the gates are applied by a hook on each attention output
projection's input (the concatenated heads); the model's weights never change while scoring.
Without data, a weight-magnitude proxy is used instead (and said so in the progress output): the
norm of the head's slice of the value projection times that of the output projection, i.e. how
much the head can write into the residual stream. ``importance=gradient`` or ``norm`` forces one.
The ``round(fraction × heads)`` least important heads over the whole encoder go; at least one
head stays in every layer.

Removing a head slices its rows out of the query, key and value projections and its columns out
of the attention output projection, and updates the module's head count and width: fewer
parameters and less compute. Written against BERT-style attention (``attention.self`` with
query/key/value, ``attention.output.dense``) in transformers 4.x and 5.x alike.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import ClassVar, Literal

from ..errors import LoyaltyError
from .context import BuildContext
from .registry import MethodConfig, register, require_data
from .student import make_student


@dataclass(frozen=True)
class HeadsConfig(MethodConfig):
    """fraction: share of all attention heads to remove, in [0, 1); importance: how heads are
    ranked (auto = gradient with data, norm without); examples: train sentences scored."""

    method: ClassVar[str] = "heads"
    family: ClassVar[str] = "pruning"
    uses_data: ClassVar[bool] = True  # used when available: the plugin then passes its train split
    version: ClassVar[int] = 2  # 2: gradient importance when data is given
    fraction: float = 0.3
    importance: Literal["auto", "gradient", "norm"] = "auto"
    examples: int = 256

    def __post_init__(self):
        if not 0.0 <= self.fraction < 1.0:
            raise LoyaltyError(f"heads: fraction must lie in [0, 1), got {self.fraction!r} (e.g. heads:0.3)")
        if self.examples < 1:
            raise LoyaltyError(f"heads: examples must be >= 1, got {self.examples!r}")


def attention_modules(model) -> list:
    layers = getattr(model.base_model.encoder, "layer", None)
    if layers is None or not all(hasattr(layer, "attention") and hasattr(layer.attention, "self") for layer in layers):
        raise LoyaltyError(
            "heads: the teacher's encoder is not BERT-style (encoder.layer[i].attention.self); "
            "head pruning supports BERT, RoBERTa, MiniLM and similar encoders"
        )
    return [layer.attention for layer in layers]


def norm_importance(attention) -> list[float]:
    self_attention, output = attention.self, attention.output.dense
    size = self_attention.attention_head_size
    scores = []
    for head in range(self_attention.num_attention_heads):
        rows = slice(head * size, (head + 1) * size)
        scores.append(float(self_attention.value.weight[rows].detach().norm() * output.weight[:, rows].detach().norm()))
    return scores


def gradient_importance(
    model, tokenizer, data, attentions, *, examples: int, seed: int, max_length: int, batch_size: int = 32
) -> list[list[float]]:
    """Michel et al.'s I_h per layer, layer-normalised. One gate per example and head, so summing
    |∂L/∂gate| over the batch is the per-example expectation, not |∂(mean L)/∂gate|."""
    import torch
    import torch.nn.functional as F

    from ..models.training import _model_label_ids

    labels = _model_label_ids(model, data)
    chosen = sorted(random.Random(seed).sample(range(len(data)), min(examples, len(data))))
    totals = [torch.zeros(attention.self.num_attention_heads) for attention in attentions]
    gates: list = [None] * len(attentions)

    def gate_hook(layer: int):
        def hook(module, args):
            context = args[0]  # (batch, tokens, heads · head size): the heads side by side
            shape = context.shape
            gated = context.reshape(shape[0], shape[1], gates[layer].shape[1], -1) * gates[layer][:, None, :, None]
            return (gated.reshape(shape),) + tuple(args[1:])

        return hook

    hooks = [attention.output.dense.register_forward_pre_hook(gate_hook(i)) for i, attention in enumerate(attentions)]
    was_training = model.training
    model.eval()  # no dropout: the score is a pure function of the weights and the sample
    try:
        for start in range(0, len(chosen), batch_size):
            indices = chosen[start : start + batch_size]
            pairs = [data.text_pairs[i] for i in indices] if data.text_pairs else None
            inputs = tokenizer(
                [data.texts[i] for i in indices],
                pairs,
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            )
            for i, attention in enumerate(attentions):
                gates[i] = torch.ones(len(indices), attention.self.num_attention_heads, requires_grad=True)
            logits = model(**inputs).logits
            loss = F.cross_entropy(logits, torch.tensor([labels[i] for i in indices]), reduction="sum")
            for total, gradient in zip(totals, torch.autograd.grad(loss, gates)):
                total += gradient.abs().sum(0)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return [(total / (total.norm() or 1.0)).tolist() for total in totals]


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
    # transformers 5 reshapes with (-1, attention_head_size); 4.x uses num_attention_heads and
    # all_head_size: keeping all three right serves both
    self_attention.num_attention_heads = len(kept_heads)
    self_attention.all_head_size = len(kept_heads) * size


def heads_to_remove(scores: list[list[float]], fraction: float) -> dict[int, set[int]]:
    """The round(fraction × all heads) lowest scores, at least one head left in every layer.

    >>> heads_to_remove([[0.9, 0.1], [0.2, 0.3]], 0.5)
    {0: {1}, 1: {0}}
    >>> heads_to_remove([[0.1, 0.2], [0.9, 0.8]], 0.5)  # layer 0 keeps one head, so layer 1 gives one
    {0: {0}, 1: {1}}
    """
    ranked = sorted((score, layer, head) for layer, row in enumerate(scores) for head, score in enumerate(row))
    to_remove = round(fraction * len(ranked))
    remaining = [len(row) for row in scores]
    removed: dict[int, set[int]] = {}
    for _, layer, head in ranked:  # least important first; ties by position, deterministic
        if to_remove == 0:
            break
        if remaining[layer] > 1:
            removed.setdefault(layer, set()).add(head)
            remaining[layer] -= 1
            to_remove -= 1
    return removed


@register(HeadsConfig)
def prune_heads(teacher, config: HeadsConfig, data=None, seed: int = 0, context: BuildContext = BuildContext()):
    progress = context.progress
    model = copy.deepcopy(teacher.model).cpu().eval()
    attentions = attention_modules(model)
    use_gradient = config.importance == "gradient" or (
        config.importance == "auto" and data is not None and len(data) > 0
    )
    if use_gradient:
        data = require_data(data, "heads:importance=gradient")
        scores = gradient_importance(
            model,
            teacher.tokenizer,
            data,
            attentions,
            examples=config.examples,
            seed=seed,
            max_length=teacher.max_length,
        )
    else:
        if config.importance == "auto":
            progress(
                "heads: no training data, so heads are ranked by weight norm, not by gradient importance "
                "(pass --loyalty-train-data for the gradient score of Michel et al. 2019)"
            )
        scores = [norm_importance(attention) for attention in attentions]
        data = None  # not used: the student does not depend on it
    removed = heads_to_remove(scores, config.fraction)
    for layer, heads in removed.items():
        remove_heads(attentions[layer], heads)
    student = make_student(teacher, model, config, data, seed)
    per_layer = [attention.self.num_attention_heads for attention in attentions]
    student.info.update(
        heads_removed=sum(len(h) for h in removed.values()),
        heads_total=sum(len(r) for r in scores),
        heads_per_layer=per_layer,
        importance="gradient" if use_gradient else "norm",
    )
    progress(
        f"heads: removed {student.info['heads_removed']} of {student.info['heads_total']} attention heads "
        f"({student.info['importance']} importance); heads per layer now {per_layer}"
    )
    return student
