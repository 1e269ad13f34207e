"""int8 ONNX Runtime export (recipe ``onnx-int8``; needs the ``[onnx]`` extra).

The teacher is exported to ONNX (TorchScript exporter, dynamic batch and sequence axes), then
onnxruntime's dynamic quantization stores every MatMul weight as int8. The student runs in
onnxruntime with the teacher's tokenizer and label names. Files live in the cache under the
student's fingerprint, so a second run reuses them.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..cache import locked
from ..errors import LoyaltyError
from .registry import MethodConfig, register
from .student import student_fingerprint
from .student_cache import students_dir

# forward()'s positional order; the tokenizer's key order differs, and a positional export must follow forward
INPUT_ORDER = ("input_ids", "attention_mask", "token_type_ids")


@dataclass(frozen=True)
class OnnxInt8Config(MethodConfig):
    method: ClassVar[str] = "onnx-int8"
    family: ClassVar[str] = "quantization"
    per_channel: bool = False


def _export(model, tokenizer, path: Path) -> None:
    import torch

    sample = tokenizer(["a short example", "and a second, longer example text"], padding=True, return_tensors="pt")
    names = [name for name in INPUT_ORDER if name in sample]
    with warnings.catch_warnings():  # the exporter's tracer notes are about control flow BERT does not use
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(sample[n] for n in names), str(path), input_names=names,
                          output_names=["logits"], dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
                          opset_version=17, dynamo=False)


@register(OnnxInt8Config)
def onnx_int8(teacher, config: OnnxInt8Config, data=None, seed: int = 0):
    try:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:
        raise LoyaltyError("the onnx-int8 recipe needs onnxruntime: pip install 'pytest-loyalty[onnx]'") from error
    from ..models import OnnxClassifier

    key = student_fingerprint(teacher, config, None, 0)
    # a teacher without a fingerprint cannot be cached: export into a fresh folder every time
    folder = students_dir() / f"onnx-{key[:32]}" if key else Path(tempfile.mkdtemp(prefix="loyalty-onnx-int8-"))
    quantized = folder / "model-int8.onnx"
    with locked(folder):
        if not quantized.exists():
            folder.mkdir(parents=True, exist_ok=True)
            model = copy.deepcopy(teacher.model).cpu().eval()
            float_path = folder / "model-fp32.onnx"
            _export(model, teacher.tokenizer, float_path)
            temporary = folder / f".model-int8.{os.getpid()}.onnx"
            quantize_dynamic(str(float_path), str(temporary), weight_type=QuantType.QInt8,
                             per_channel=config.per_channel)
            temporary.replace(quantized)
            float_path.unlink()
    session = onnxruntime.InferenceSession(str(quantized), providers=["CPUExecutionProvider"])
    return OnnxClassifier(session, teacher.tokenizer, teacher.name, teacher.label_names, teacher.batch_size,
                          teacher.max_length, key, str(quantized))
