"""Knowledge distillation (recipe ``distill:layers=3,temperature=2,alpha=0.5``).

The student is the teacher with every k-th encoder layer kept (k = teacher layers / ``layers``;
the last layer of each block of k, so the top layer survives), then trained on the task's train
split with loss α·CE(labels) + (1−α)·T²·KL(teacher_T ‖ student_T), softmax at temperature T.
The teacher's outputs on the train split are computed once, before training.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import ClassVar

from ..errors import LoyaltyError
from ..models.training import TrainConfig, train
from .context import BuildContext
from .registry import MethodConfig, register, require_data
from .student import make_student, student_fingerprint
from .student_cache import load_or_train


@dataclass(frozen=True)
class DistillConfig(MethodConfig):
    method: ClassVar[str] = "distill"
    family: ClassVar[str] = "distillation"
    trains: ClassVar[bool] = True
    uses_data: ClassVar[bool] = True
    layers: int = 3
    temperature: float = 2.0
    alpha: float = 0.5
    epochs: int = 1
    learning_rate: float = 1e-4

    def __post_init__(self):
        if self.layers < 1 or self.temperature <= 0 or not 0.0 <= self.alpha <= 1.0 or self.epochs < 1:
            raise LoyaltyError(f"distill: need layers >= 1, temperature > 0, alpha in [0, 1], epochs >= 1; got {self}")


def kept_layers(teacher_layers: int, layers: int) -> list[int]:
    """Every k-th layer, the last of each block: 6 -> 3 keeps [1, 3, 5].

    >>> kept_layers(6, 3), kept_layers(6, 2), kept_layers(12, 4)
    ([1, 3, 5], [2, 5], [2, 5, 8, 11])
    """
    if not 1 <= layers <= teacher_layers or teacher_layers % layers:
        raise LoyaltyError(
            f"cannot keep {layers} of the teacher's {teacher_layers} layers evenly; "
            f"choose a divisor of {teacher_layers}"
        )
    step = teacher_layers // layers
    return [step * (i + 1) - 1 for i in range(layers)]


def keep_layers(model, indices: list[int]):
    import torch

    encoder = model.base_model.encoder
    encoder.layer = torch.nn.ModuleList([encoder.layer[i] for i in indices])
    model.config.num_hidden_layers = len(indices)
    for position, layer in enumerate(encoder.layer):  # attention caches index layers by position
        for module in layer.modules():
            if hasattr(module, "layer_idx"):
                module.layer_idx = position
    return model


def teacher_log_probabilities(teacher, data):
    """log p_teacher on every training example, in the model's class order (softmax is shift-
    invariant, so these serve as logits for the tempered softmax)."""
    import numpy as np
    import torch

    probabilities = teacher.predict_proba(list(data.texts), list(data.text_pairs) if data.text_pairs else None)
    return torch.from_numpy(np.log(np.clip(probabilities, 1e-12, 1.0))).float()


def kd_loss(student_logits, teacher_logits, labels, temperature: float, alpha: float):
    """α·CE(labels) + (1−α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T)), batch mean."""
    import torch.nn.functional as F

    hard = F.cross_entropy(student_logits, labels)
    soft = F.kl_div(
        F.log_softmax(student_logits / temperature, dim=-1),
        F.log_softmax(teacher_logits / temperature, dim=-1),
        log_target=True,
        reduction="batchmean",
    )
    return alpha * hard + (1.0 - alpha) * temperature**2 * soft


def kd_loss_fn(teacher_logits, temperature: float, alpha: float):
    def loss(outputs, batch):
        return kd_loss(outputs.logits, teacher_logits[batch["indices"]], batch["labels"], temperature, alpha)

    return loss


@register(DistillConfig)
def distill(teacher, config: DistillConfig, data=None, seed: int = 0, context: BuildContext = BuildContext()):
    data = require_data(data, "distill")
    model = copy.deepcopy(teacher.model).cpu()
    keep_layers(model, kept_layers(model.config.num_hidden_layers, config.layers))

    def run_training():
        teacher_logits = teacher_log_probabilities(teacher, data)
        train(
            model,
            teacher.tokenizer,
            data,
            TrainConfig(
                epochs=config.epochs, learning_rate=config.learning_rate, seed=seed, max_length=teacher.max_length
            ),
            loss_fn=kd_loss_fn(teacher_logits, config.temperature, config.alpha),
            progress=context.reporter(f"distilling {teacher.name} to {config.layers} layers"),
        )

    load_or_train(model, student_fingerprint(teacher, config, data, seed), run_training, context)
    return make_student(teacher, model.eval(), config, data, seed)
