"""Where a result was measured: library versions, the CPU's kernel level, the machine, the device.

int8 figures depend on the CPU: torch's dynamic int8 kernels differ between CPUs with and without
VNNI (the demo's int8 student scores label loyalty 0.934 on one CPU and 0.938 on another), so a
report quotes ``torch_cpu_capability`` next to them. The report carries ``environment()``.
"""

from __future__ import annotations

import importlib
import os
import platform

from .. import __version__

LIBRARIES = ("numpy", "torch", "transformers", "onnxruntime")


def environment(device: str = "cpu") -> dict:
    """Versions of loyalty_tests, python and the libraries that are installed (a missing one is
    left out), torch's CPU capability (e.g. "AVX512", "AVX2"), the machine and ``device``."""
    versions = {"loyalty_tests": __version__, "python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = str(importlib.import_module(name).__version__)
        except ImportError:
            continue
    found = {
        "versions": versions,
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "device": describe_device(device),
    }
    if "torch" in versions:
        import torch

        found["torch_cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        found["torch_threads"] = torch.get_num_threads()
    return found


def describe_device(device: str) -> str:
    """``"cpu"``, or a CUDA device with its name, e.g. ``"cuda:0 (NVIDIA H200)"``."""
    device = str(device)
    if not device.startswith("cuda"):
        return device
    try:
        import torch

        if torch.cuda.is_available():
            index = torch.device(device).index
            return (
                f"{device} ({torch.cuda.get_device_name(index if index is not None else torch.cuda.current_device())})"
            )
    except (ImportError, RuntimeError, AssertionError):  # torch without CUDA raises AssertionError here
        pass
    return f"{device} (not available)"
