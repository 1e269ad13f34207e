"""environment(): what a report needs to say where its figures were measured."""

from __future__ import annotations

import importlib
import platform

import numpy as np
import torch

from loyalty_tests import __version__
from loyalty_tests.infra.environment import describe_device, environment


def test_environment_names_versions_cpu_capability_machine_and_device():
    found = environment("cpu")
    versions = found["versions"]
    assert versions["loyalty_tests"] == __version__ and versions["python"] == platform.python_version()
    assert versions["numpy"] == np.__version__ and versions["torch"] == torch.__version__
    assert found["torch_cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert found["machine"] == platform.machine() and found["cpu_count"] >= 1 and found["device"] == "cpu"


def test_a_library_that_is_not_installed_is_left_out(monkeypatch):
    real = importlib.import_module

    def without_onnxruntime(name, *args):
        if name == "onnxruntime":
            raise ImportError("not installed")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_onnxruntime)
    assert "onnxruntime" not in environment()["versions"]


def test_a_cuda_device_is_named_or_said_to_be_missing():
    described = describe_device("cuda:0")
    if torch.cuda.is_available():
        assert described == f"cuda:0 ({torch.cuda.get_device_name(0)})"
    else:
        assert described == "cuda:0 (not available)"
