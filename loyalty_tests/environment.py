"""Where a run happened: library versions, the CPU's kernels, the device. Reports carry it so a
baseline from another environment is recognised (int8 kernels differ between CPUs)."""

from __future__ import annotations

import platform


def environment(device: str = "cpu") -> dict:
    versions = {"loyalty_tests": __import__("loyalty_tests").__version__, "python": platform.python_version()}
    for name in ("numpy", "torch", "transformers", "onnxruntime"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    try:
        import torch

        versions["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    except (ImportError, AttributeError):
        versions["cpu_capability"] = None
    return {**versions, "machine": platform.machine(), "device": device}
