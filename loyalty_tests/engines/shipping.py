"""Models on their way to Ray workers: through Ray's object store, never through a shared disk.

``ship(model)`` turns a classifier into something that pickles; ``unship(shipped, device)``
rebuilds it on a worker, on that worker's device:

- a Hugging Face classifier (``HFClassifier``, the int8-quantized students included) travels
  as ``torch.save`` bytes and is loaded with ``map_location="cpu"``, so a model the driver
  holds on a GPU still reaches a CPU-only worker; the classifier is then rebuilt on the
  worker's device (int8 kernels stay on the CPU, as locally);
- an ONNX classifier travels as the ``.onnx`` file's bytes plus its tokenizer, and the
  onnxruntime session is rebuilt on the worker (a session does not pickle);
- anything else (a fixture's own object with ``predict_proba``) travels as itself, pickled by
  Ray's cloudpickle. Classes from modules that are not installed packages (``conftest.py``, a
  test file) are pickled by value, because a worker on another machine cannot import them.
"""

from __future__ import annotations

import dataclasses
import io
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import LoyaltyError


@dataclass(frozen=True)
class Shipped:
    kind: str  # "torch" | "onnx" | "object"
    payload: object
    name: str


def ship(model) -> Shipped:
    """A picklable form of ``model`` (see the module docstring)."""
    from ..models.classifiers import HFClassifier, OnnxClassifier

    name = getattr(model, "name", type(model).__name__)
    if isinstance(model, HFClassifier):
        import torch

        buffer = io.BytesIO()
        torch.save(model, buffer)
        return Shipped("torch", buffer.getvalue(), name)
    if isinstance(model, OnnxClassifier):
        if not model.path or not Path(model.path).is_file():
            raise LoyaltyError(
                f"ONNX model {name!r} cannot be sent to Ray workers: its .onnx file "
                f"({model.path!r}) is not readable here; load it with load_model('./model.onnx')"
            )
        fields = {f.name: getattr(model, f.name) for f in dataclasses.fields(model) if f.name != "session"}
        return Shipped("onnx", {"onnx": Path(model.path).read_bytes(), "fields": fields}, name)
    register_user_modules(model)
    return Shipped("object", model, name)


def unship(shipped: Shipped, device: str = "cpu"):
    """The classifier again, on a worker, placed on ``device``."""
    if shipped.kind == "torch":
        import torch

        model = torch.load(io.BytesIO(shipped.payload), map_location="cpu", weights_only=False)
        # replace() runs the classifier's __post_init__ again: eval mode, moved to this worker's device
        return dataclasses.replace(model, device=device)
    if shipped.kind == "onnx":
        import onnxruntime

        from ..models.classifiers import OnnxClassifier

        wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"] if device.startswith("cuda") else []
        providers = [p for p in wanted if p in onnxruntime.get_available_providers()] or ["CPUExecutionProvider"]
        session = onnxruntime.InferenceSession(shipped.payload["onnx"], providers=providers)
        return OnnxClassifier(session=session, **shipped.payload["fields"])
    return shipped.payload


def register_user_modules(model) -> None:
    """Pickle the classes of ``model`` (and of the object it wraps), and every base class they
    derive from, by value when their module is not an installed package, so a worker that cannot
    import ``conftest`` (or a helper module of the user's beside it) still gets them."""
    from ray import cloudpickle

    for obj in (model, getattr(model, "wrapped", None)):
        for cls in type(obj).__mro__ if obj is not None else ():
            module = _user_module(cls)
            if module is not None:
                cloudpickle.register_pickle_by_value(module)


def _user_module(cls):
    module_name = cls.__module__
    module = sys.modules.get(module_name)
    top = module_name.split(".")[0]
    if module is None or module_name == "__main__" or top == "loyalty_tests" or top in sys.stdlib_module_names:
        return None  # __main__ is pickled by value anyway; our own package is installed on workers
    file = getattr(module, "__file__", None)
    if not file or {"site-packages", "dist-packages"} & set(Path(file).resolve().parts):
        return None
    return module
