"""Quantization-aware training (recipe ``qat``): fake-quant fine-tuning, then int8.

Every Linear layer's weight is seen through a symmetric per-tensor int8 fake quantizer (a
parametrization; the rounding passes gradients straight through), and so are its inputs, with a
scale taken from each batch — the way dynamic int8 quantizes activations at run time. The model
is fine-tuned that way on a seeded share of the train split (``fraction``, default a quarter: QAT
here adapts a trained teacher, it does not retrain it), the fake quantizers are removed, and the
trained float weights go through the same dynamic int8 conversion as the ``int8`` recipe.

Like Q8BERT-style QAT (Zafrir et al. 2019): symmetric linear int8 on every Linear's weights and
inputs during fine-tuning, straight-through gradients, max-abs scales. Not like it: activation
scales come from each batch (as dynamic int8 computes them at run time) instead of a moving
average fixed for inference; embeddings stay float; training adapts the already fine-tuned
teacher on a share of the train split instead of fine-tuning from the pretrained model; there is
no observer calibration or per-channel scheme. The goal is a student whose weights already sit
well on the int8 grid that ``int8`` then uses.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass
from typing import ClassVar

from ..errors import LoyaltyError
from ..models.training import TrainConfig, train
from .context import BuildContext
from .dynamic_int8 import Int8Config, quantize_int8
from .registry import MethodConfig, register, require_data
from .student import make_student, student_fingerprint
from .student_cache import load_or_train


@dataclass(frozen=True)
class QatConfig(MethodConfig):
    method: ClassVar[str] = "qat"
    family: ClassVar[str] = "quantization"
    trains: ClassVar[bool] = True
    uses_data: ClassVar[bool] = True
    fraction: float = 0.25
    epochs: int = 1
    learning_rate: float = 2e-5

    def __post_init__(self):
        if not 0.0 < self.fraction <= 1.0 or self.epochs < 1 or self.learning_rate <= 0:
            raise LoyaltyError(f"qat: need fraction in (0, 1], epochs >= 1, learning_rate > 0; got {self}")


def fake_quantize(tensor):
    """Symmetric per-tensor int8 round trip with a straight-through gradient."""
    import torch

    scale = float(tensor.detach().abs().max()) / 127.0 or 1.0
    return torch.fake_quantize_per_tensor_affine(tensor, scale, 0, -127, 127)


def attach_fake_quant(model) -> list:
    import torch
    from torch.nn.utils import parametrize

    class WeightFakeQuant(torch.nn.Module):
        def forward(self, weight):
            return fake_quantize(weight)

    handles = []
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            parametrize.register_parametrization(module, "weight", WeightFakeQuant())
            handles.append(
                (module, module.register_forward_pre_hook(lambda m, args: (fake_quantize(args[0]),) + tuple(args[1:])))
            )
    return handles


def detach_fake_quant(handles) -> None:
    from torch.nn.utils import parametrize

    for module, hook in handles:
        hook.remove()
        parametrize.remove_parametrizations(module, "weight", leave_parametrized=False)  # the float weights


@register(QatConfig)
def qat(teacher, config: QatConfig, data=None, seed: int = 0, context: BuildContext = BuildContext()):
    data = require_data(data, "qat")
    count = max(1, round(config.fraction * len(data)))
    subset = sorted(random.Random(seed).sample(range(len(data)), count))
    from ..data import TextDataset

    sample = TextDataset(
        f"{data.name}[qat sample {count}]",
        [data.texts[i] for i in subset],
        [data.labels[i] for i in subset],
        data.label_names,
        [data.text_pairs[i] for i in subset] if data.text_pairs else None,
    )
    model = copy.deepcopy(teacher.model).cpu()

    def run_training():
        handles = attach_fake_quant(model)
        train(
            model,
            teacher.tokenizer,
            sample,
            TrainConfig(
                epochs=config.epochs, learning_rate=config.learning_rate, seed=seed, max_length=teacher.max_length
            ),
            progress=context.reporter(f"quantization-aware training of {teacher.name}"),
        )
        detach_fake_quant(handles)

    load_or_train(model, student_fingerprint(teacher, config, data, seed), run_training, context)
    trained = make_student(teacher, model.eval(), config, data, seed, device="cpu")
    return quantize_int8(trained, Int8Config(), None, seed, context)
