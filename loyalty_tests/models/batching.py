"""Whether a model's output for a text depends on the other texts in its batch.

Every transformer's last float bits follow the padding of its batch; that is rounding. A model
*batch-dependent* here is one whose arithmetic itself changes with the batch: dynamic int8
quantization (torch's ``quantize_dynamic``, ONNX Runtime's ``quantize_dynamic``) picks each
activation's scale from the whole batch, so the same text alone or in a batch of 16 gets
probabilities up to 1.7e-4 apart (tiny BERT). Its predictions then depend on
``--loyalty-batch-size``; the report says so, cache keys hold the batch size, and attacks score
each example's texts in batches of their own so that their results do not depend on grouping.
"""

from __future__ import annotations

from pathlib import Path

DYNAMIC_INT8 = (
    "dynamic int8: activation scales are computed per batch, so a text's probabilities depend on the "
    "other texts in its batch (--loyalty-batch-size {batch_size})"
)
# the operator ONNX Runtime's dynamic quantization puts before every int8 MatMul; protobuf stores
# operator names as plain strings, so the file's bytes show it without the onnx package
ONNX_DYNAMIC_OPERATOR = b"DynamicQuantizeLinear"


def batch_dependence(model) -> str | None:
    """Why ``model``'s outputs depend on its batch, or None. A model (or the object it wraps)
    may say so itself with a ``batch_dependent`` attribute (True or a reason)."""
    for obj in (model, getattr(model, "wrapped", None)):
        declared = getattr(obj, "batch_dependent", None)
        if declared:
            return declared if isinstance(declared, str) else "the model declares batch_dependent"
    batch_size = getattr(model, "batch_size", None)
    torch_model = getattr(model, "model", None)
    if hasattr(torch_model, "modules") and any(
        ".dynamic" in type(m).__module__ and "quantized" in type(m).__module__ for m in torch_model.modules()
    ):
        return DYNAMIC_INT8.format(batch_size=batch_size)
    path = getattr(model, "path", None)
    if (
        path
        and str(path).endswith(".onnx")
        and Path(path).is_file()
        and ONNX_DYNAMIC_OPERATOR in Path(path).read_bytes()
    ):
        return DYNAMIC_INT8.format(batch_size=batch_size)
    return None


def batch_size_for(model, batch_size: int) -> int:
    """The batch size at which ``model`` should run where each text's output must be its own
    (token loyalty, choice scores): 1 for a batch-dependent model, whose dynamic activation
    scales would otherwise follow the other texts of its batch, padding included; else
    ``batch_size``."""
    return 1 if batch_dependence(model) else batch_size
