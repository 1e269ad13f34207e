"""BERT-of-Theseus progressive module replacing (recipe ``theseus:layers=3,schedule=linear``).

The teacher's encoder layers are grouped into ``layers`` blocks of k. Successor i, a copy of
teacher layer i (Xu et al. 2020 initialise successors from the predecessor's bottom layers),
stands in for block i with probability r at each training step — a seeded Bernoulli draw per
block per step. r is constant (``rate``) or the linear curriculum r_t = min(1, k·t + b) over
steps t, with ``b`` and the slope ``k`` (default: reach 1 at 80% of the steps). Only successors
are trained in this phase; embeddings, teacher layers and the classifier are frozen and shared,
as in the paper. Afterwards only the successors are kept — a ``layers``-layer student — and,
as the paper's second phase, that student is fine-tuned on its own for ``finetune_epochs``
(without it, successors trained mostly next to teacher blocks do not yet work as one stack:
0.51 accuracy on the demo teacher after one constant-rate epoch). ``kd=true`` uses the
distillation loss in both phases (the paper's KD variant). This wraps ``encoder.layer``; no
modeling file is forked.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar, Literal

from ..errors import LoyaltyError
from ..models.training import TrainConfig, train
from .context import BuildContext
from .distill import kd_loss_fn, keep_layers, kept_layers, teacher_log_probabilities
from .registry import MethodConfig, register, require_data
from .student import make_student, student_fingerprint
from .student_cache import load_or_train


@dataclass(frozen=True)
class TheseusConfig(MethodConfig):
    method: ClassVar[str] = "theseus"
    family: ClassVar[str] = "module replacing"
    trains: ClassVar[bool] = True
    uses_data: ClassVar[bool] = True
    version: ClassVar[int] = 2  # 2: successor fine-tuning phase; cached students of version 1 are not reused
    layers: int = 3
    schedule: Literal["constant", "linear"] = "constant"
    rate: float = 0.5  # constant schedule: replacement probability
    b: float = 0.3  # linear schedule: r_0
    k: float | None = None  # linear schedule: slope per step; None reaches 1 at 80% of the steps
    kd: bool = False
    temperature: float = 2.0
    alpha: float = 0.5
    epochs: int = 1
    finetune_epochs: int = 1
    learning_rate: float = 1e-4

    def __post_init__(self):
        if (
            self.layers < 1
            or not 0.0 <= self.rate <= 1.0
            or not 0.0 <= self.b <= 1.0
            or self.epochs < 1
            or self.finetune_epochs < 0
        ):
            raise LoyaltyError(f"theseus: need layers >= 1, rate and b in [0, 1], epochs >= 1; got {self}")


def replacement_rate(config: TheseusConfig, step: int, total_steps: int) -> float:
    """r_t for this step.

    >>> replacement_rate(TheseusConfig(schedule="linear", b=0.2, k=0.1), 3, 100)
    0.5
    >>> replacement_rate(TheseusConfig(schedule="linear", b=0.2, k=0.1), 30, 100)
    1.0
    """
    if config.schedule == "constant":
        return config.rate
    slope = config.k if config.k is not None else (1.0 - config.b) / max(1.0, 0.8 * total_steps)
    return round(min(1.0, slope * step + config.b), 12)


class Block:
    """One encoder slot: the successor layer or, when not replaced this step, its teacher layers."""

    def __init__(self, successor, predecessors):
        self.successor, self.predecessors, self.replaced = successor, predecessors, True


def make_blocks_module(blocks: list[Block]):
    import torch

    class TheseusLayer(torch.nn.Module):
        """Called by the encoder like a layer; runs the successor or the predecessor block."""

        def __init__(self, block: Block):
            super().__init__()
            self.block = block
            self.successor = block.successor
            self.predecessors = torch.nn.ModuleList(block.predecessors)

        def forward(self, hidden_states, *args, **kwargs):
            if self.block.replaced:
                return self.successor(hidden_states, *args, **kwargs)
            output = None
            for layer in self.predecessors:
                output = layer(hidden_states, *args, **kwargs)
                # transformers 5 layers return the hidden states, 4.x a tuple starting with them
                hidden_states = output[0] if isinstance(output, tuple) else output
            return output

    return torch.nn.ModuleList([TheseusLayer(block) for block in blocks])


@register(TheseusConfig)
def theseus(teacher, config: TheseusConfig, data=None, seed: int = 0, context: BuildContext = BuildContext()):
    import torch

    data = require_data(data, "theseus")
    predecessor = copy.deepcopy(teacher.model).cpu()
    teacher_layers = list(predecessor.base_model.encoder.layer)
    kept_layers(len(teacher_layers), config.layers)  # checks that the blocks divide evenly
    size = len(teacher_layers) // config.layers
    blocks = [
        Block(copy.deepcopy(teacher_layers[i]), teacher_layers[i * size : (i + 1) * size]) for i in range(config.layers)
    ]
    student = copy.deepcopy(teacher.model).cpu()
    keep_layers(student, list(range(config.layers)))  # the architecture the successors end up in

    def run_training():
        for parameter in predecessor.parameters():
            parameter.requires_grad_(False)
        predecessor.base_model.encoder.layer = make_blocks_module(blocks)
        successors = [p for block in blocks for p in block.successor.parameters()]
        for parameter in successors:
            parameter.requires_grad_(True)
        generator = torch.Generator().manual_seed(seed)

        def before_step(step: int, total: int) -> None:
            rate = replacement_rate(config, step, total)
            for block in blocks:
                block.replaced = bool(torch.rand((), generator=generator) < rate)

        loss_fn = {}
        if config.kd:
            loss_fn = {
                "loss_fn": kd_loss_fn(teacher_log_probabilities(teacher, data), config.temperature, config.alpha)
            }
        train(
            predecessor,
            teacher.tokenizer,
            data,
            TrainConfig(
                epochs=config.epochs, learning_rate=config.learning_rate, seed=seed, max_length=teacher.max_length
            ),
            parameters=successors,
            before_step=before_step,
            progress=context.reporter(f"theseus {teacher.name} -> {config.layers} layers"),
            **loss_fn,
        )
        with torch.no_grad():
            for target, block in zip(student.base_model.encoder.layer, blocks):
                target.load_state_dict(block.successor.state_dict())
        if config.finetune_epochs:
            train(
                student,
                teacher.tokenizer,
                data,
                TrainConfig(
                    epochs=config.finetune_epochs,
                    learning_rate=config.learning_rate,
                    seed=seed + 1,
                    max_length=teacher.max_length,
                ),
                progress=context.reporter(f"theseus: fine-tuning the {config.layers}-layer successor"),
                **loss_fn,
            )

    load_or_train(student, student_fingerprint(teacher, config, data, seed), run_training, context)
    return make_student(teacher, student.eval(), config, data, seed)
