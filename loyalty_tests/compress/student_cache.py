"""Trained students on disk: built once, keyed by the student's fingerprint (``student.py``:
teacher, recipe step, method version, seed, training data, code version), written atomically
under a lock so pytest-xdist workers train nothing twice. The architecture is rebuilt cheaply by
the method; only the weights are stored (safetensors), with the key in the file's metadata, and a
file is used only when its key and its tensors' names, shapes and dtypes match (``cache.py``) and
its tensors hash to the sha256 stored beside the key: safetensors itself has no checksum, so a
flipped bit in a weight would otherwise load silently and move every number a little."""

from __future__ import annotations

from pathlib import Path

from ..infra.cache import cached_file
from .context import BuildContext


def load_or_train(model, key: str | None, train, context: BuildContext) -> None:
    """Fill ``model`` with cached weights for ``key``, or run ``train()`` and cache the result
    (in ``context``'s student folder; not at all when it says not to use the cache)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save

    folder = context.students_dir()
    if key is None or folder is None:
        train()
        return
    path = folder / f"{key[:32]}.safetensors"
    expected = {name: (tuple(tensor.shape), tensor.dtype) for name, tensor in model.state_dict().items()}

    def metadata(file: Path) -> dict:
        with safe_open(str(file), framework="pt") as handle:
            return handle.metadata() or {}

    def load(file: Path) -> dict:
        tensors = load_file(str(file))
        found = {name: (tuple(tensor.shape), tensor.dtype) for name, tensor in tensors.items()}
        if found != expected:
            differ = sorted(map(str, set(found.items()) ^ set(expected.items())))[:3]
            raise ValueError(f"its tensors do not fit the student's architecture (first differences: {differ})")
        stored = metadata(file).get("sha256")
        if stored != tensors_sha256(tensors):
            raise ValueError(
                "its weights do not match the sha256 stored with them (damaged on disk)"
                if stored
                else "it stores no checksum of its weights (written by an older version)"
            )
        return tensors

    def compute() -> dict:
        train()
        return {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}

    tensors, from_cache = cached_file(
        path,
        key,
        compute=compute,
        read_key=lambda file: metadata(file).get("key"),
        load=load,
        dump=lambda tensors: save(tensors, metadata={"key": key, "sha256": tensors_sha256(tensors)}),
    )
    if from_cache:
        context.progress(f"loading trained student from {path}")
        model.load_state_dict(tensors)


def tensors_sha256(tensors: dict) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in name order."""
    import hashlib

    import torch

    digest = hashlib.sha256()
    for name in sorted(tensors):
        tensor = tensors[name].detach().cpu().contiguous()
        digest.update(f"{name}\0{tensor.dtype}\0{tuple(tensor.shape)}\0".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()
