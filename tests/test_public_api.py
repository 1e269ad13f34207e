"""What ``import loyalty_tests`` offers a user: every exported name resolves, lazily, and the
import itself loads neither torch nor transformers."""

from __future__ import annotations

import subprocess
import sys

import loyalty_tests


def test_every_exported_name_resolves_to_what_it_names():
    import types

    for name in loyalty_tests.__all__:
        value = getattr(loyalty_tests, name)
        # a name shared with a subpackage would resolve to the module once it is imported
        assert value is not None and not isinstance(value, types.ModuleType), name


def test_the_documented_alias_is_the_same_class():
    assert loyalty_tests.Comparison is loyalty_tests.LoyaltyReport


def test_importing_the_package_loads_no_model_library():
    code = "import sys, loyalty_tests; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def test_compress_exports_configs_not_internals():
    import loyalty_tests.compress as compress

    assert {
        "Int8Config",
        "PruneConfig",
        "HeadsConfig",
        "DistillConfig",
        "TheseusConfig",
        "QatConfig",
        "OnnxInt8Config",
        "MethodConfig",
        "register",
        "compress",
    } <= set(compress.__all__)
    assert not {"make_student", "PLANNED_METHODS", "handler_for"} & set(compress.__all__)
