"""int8 ONNX Runtime export (recipe ``onnx-int8``; needs the ``[onnx]`` extra).

The teacher is exported to ONNX (TorchScript exporter, dynamic batch and sequence axes), then
onnxruntime's dynamic quantization stores every MatMul weight as int8. The student runs in
onnxruntime with the teacher's tokenizer and label names. Files live in the cache under the
student's fingerprint, in a folder whose ``student.json`` (written last) holds the key, so a second
run reuses them and a folder from another key, or one that onnxruntime cannot load, is rebuilt.
"""

from __future__ import annotations

import copy
import json
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import LoyaltyError
from ..infra.cache import cached_folder
from .context import BuildContext
from .registry import MethodConfig, register
from .student import student_fingerprint

MODEL_FILE = "model-int8.onnx"
KEY_FILE = "student.json"
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
        torch.onnx.export(
            model,
            tuple(sample[n] for n in names),
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={n: {0: "batch", 1: "tokens"} for n in names},
            opset_version=17,
            dynamo=False,
        )


@register(OnnxInt8Config)
def onnx_int8(teacher, config: OnnxInt8Config, data=None, seed: int = 0, context: BuildContext = BuildContext()):
    try:
        import onnxruntime
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as error:
        raise LoyaltyError("the onnx-int8 recipe needs onnxruntime: pip install 'pytest-loyalty[onnx]'") from error
    from ..models.classifiers import OnnxClassifier

    key = student_fingerprint(teacher, config, None, 0)

    def save(folder: Path, _prepared=None) -> None:
        model = copy.deepcopy(teacher.model).cpu().eval()
        float_path = folder / "model-fp32.onnx"
        _export(model, teacher.tokenizer, float_path)
        quantize_dynamic(
            str(float_path), str(folder / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=config.per_channel
        )
        float_path.unlink()
        (folder / KEY_FILE).write_text(
            json.dumps({"key": key, "recipe": "onnx-int8"}) + "\n"
        )  # last: a finished folder

    def read_key(folder: Path):
        return json.loads((folder / KEY_FILE).read_text()).get("key")

    def load(folder: Path):
        return onnxruntime.InferenceSession(str(folder / MODEL_FILE), providers=["CPUExecutionProvider"])

    students = context.students_dir()
    if key is None or students is None:  # not cacheable, or no cache wanted: a fresh folder, outside the cache
        folder = Path(tempfile.mkdtemp(prefix="loyalty-onnx-int8-"))
        save(folder)
        session = load(folder)
    else:
        session, _, folder = cached_folder(students / f"onnx-{key[:32]}", key, save=save, read_key=read_key, load=load)
    return OnnxClassifier(
        session,
        teacher.tokenizer,
        teacher.name,
        teacher.label_names,
        teacher.batch_size,
        teacher.max_length,
        key,
        str(folder / MODEL_FILE),
    )
