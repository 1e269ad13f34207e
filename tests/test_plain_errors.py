"""Issue 17, items 4-11: a sentence where a traceback was, gates asked for are gates checked, and
the obvious import works. Each test failed on the code before the fix."""

from __future__ import annotations

import numpy as np
import pytest
from test_plugin_fail_closed import toy  # noqa: F401  (a project with toy models, run by pytester)

from conftest import NEGATIVE, POSITIVE

TEXTS = POSITIVE + NEGATIVE


# -- item 10: the obvious import -------------------------------------------------------------------
def test_compress_imported_from_the_package_is_callable(tiny_hf, tmp_path):
    from loyalty_tests import compress
    from loyalty_tests.compress import Int8Config

    student = compress(tiny_hf, "int8", cache_dir=tmp_path)
    same = compress(tiny_hf, Int8Config(), cache_dir=tmp_path)
    assert student.name == "tiny+int8" and np.array_equal(student.predict_proba(TEXTS), same.predict_proba(TEXTS))
    from loyalty_tests.compress import compress as function

    assert function(tiny_hf, "int8").name == "tiny+int8"


# -- item 8: a Ray address that does not answer ----------------------------------------------------
def test_a_ray_address_that_does_not_answer_fails_in_bounded_time_naming_it():
    """Before: ray.init retried 127.0.0.1:1 until killed. A subprocess bounds the wait here."""
    import subprocess
    import sys

    pytest.importorskip("ray")
    script = (
        "from loyalty_tests.engines import get_engine\n"
        "from loyalty_tests.errors import LoyaltyError\n"
        "try:\n    get_engine('ray', address='127.0.0.1:1').connect()\n"
        "except LoyaltyError as error:\n    print(error)\n"
    )
    try:
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("connecting to 127.0.0.1:1 did not end within 90 s")
    assert "could not reach the Ray cluster at '127.0.0.1:1'" in out.stdout, out.stdout + out.stderr


# -- item 7: one sentence each, naming the file ----------------------------------------------------
def one_sentence(error) -> str:
    message = str(error.value)
    assert "\n" not in message and error.value.__cause__ is None  # no chained traceback under it
    return message


def test_a_folder_named_like_a_data_file_is_called_a_folder(tmp_path):
    from loyalty_tests.data import load_dataset
    from loyalty_tests.errors import LoyaltyError

    folder = tmp_path / "dev.csv"
    folder.mkdir()
    with pytest.raises(LoyaltyError) as error:
        load_dataset(str(folder))
    assert f"data file {str(folder)!r} is a folder, not a file" in one_sentence(error)


def test_a_symlink_loop_as_data_is_one_sentence(tmp_path):
    from loyalty_tests.data import load_dataset
    from loyalty_tests.errors import LoyaltyError

    loop = tmp_path / "loop.csv"
    loop.symlink_to(tmp_path / "other.csv")
    (tmp_path / "other.csv").symlink_to(loop)
    with pytest.raises(LoyaltyError) as error:  # before: RuntimeError "Symlink loop" from pathlib
        load_dataset(str(loop))
    assert f"data file {str(loop)!r} is a symbolic link that leads to no file" in one_sentence(error)


def test_an_onnx_file_of_random_bytes_is_one_sentence(tmp_path):
    pytest.importorskip("onnxruntime")
    from tiny import save_tiny_bert

    from loyalty_tests.errors import LoyaltyError
    from loyalty_tests.models.specs import ModelOptions, load_model

    folder = save_tiny_bert(tmp_path / "model")
    (folder / "model.onnx").write_bytes(np.random.default_rng(0).bytes(2000))
    with pytest.raises(LoyaltyError) as error:
        load_model(str(folder / "model.onnx"), options=ModelOptions(cache_dir=tmp_path / "cache"))
    assert f"ONNX model {str(folder / 'model.onnx')!r} cannot be loaded by onnxruntime" in one_sentence(error)


class RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("echo this must never run",))


def test_a_malicious_pickle_with_allow_pickle_is_blocked_in_one_sentence(tmp_path):
    import torch
    from tiny import save_tiny_bert

    from loyalty_tests.errors import LoyaltyError
    from loyalty_tests.models.specs import ModelOptions, load_model

    folder = save_tiny_bert(tmp_path / "model")
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    torch.save({"bert.embeddings.word_embeddings.weight": RunsCode()}, folder / "pytorch_model.bin")
    with pytest.raises(LoyaltyError) as error:
        load_model(str(folder), options=ModelOptions(allow_pickle=True, cache_dir=tmp_path / "cache"))
    message = one_sentence(error)
    assert (
        f"refused to load the pickle weights (pytorch_model.bin) in folder {str(folder)!r}: they call posix.system"
        in message
    )


# -- item 5: a malformed baseline names its bad field ----------------------------------------------
def set_field(report: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for part in parents:
        report = report[int(part)] if isinstance(report, list) else report[part]
    report[int(last) if isinstance(report, list) else last] = value


@pytest.mark.parametrize(
    "path, value, named",
    [
        (
            "students.0.metrics.label_loyalty.value",
            "abc",
            "field 'students[0].metrics.label_loyalty.value' is 'abc' (a str)",
        ),
        (
            "students.0.metrics.label_loyalty.value",
            True,
            "field 'students[0].metrics.label_loyalty.value' is True (a bool)",
        ),
        ("students.0.metrics", "garbage", "field 'students[0].metrics' is 'garbage' (a str)"),
        ("students.0", [1, 2], "field 'students[0]' is a list"),
        ("environment", [1], "field 'environment' is [1] (a list)"),
    ],
)
def test_a_malformed_baseline_names_the_bad_field(toy, path, value, named):  # noqa: F811
    import json

    from test_plugin_fail_closed import toy_args, write_baseline

    write_baseline(toy)
    report = json.loads((toy.path / "base.json").read_text())
    set_field(report, path, value)
    (toy.path / "base.json").write_text(json.dumps(report))
    result = toy.runpytest(*toy_args(toy, "toy_models:twin", "--loyalty-baseline", "base.json", "-k", "baseline"))
    assert result.ret == 1
    output = result.stdout.str()  # (not fnmatch: the expected text holds brackets)
    assert f"baseline base.json: is malformed: {named}" in output and "--loyalty-update-baseline" in output
    assert "Traceback" not in output and "TypeError" not in output and "AttributeError" not in output


# -- item 9: the default max length fits the model --------------------------------------------------
def short_model_folder(tmp_path, positions: int = 64):
    from tiny import tiny_bert, tiny_tokenizer

    folder = tmp_path / "short"
    model = tiny_bert()
    model.config.max_position_embeddings = positions  # what the tokenizer's model_max_length would say too
    short = type(model)(model.config).eval()
    short.save_pretrained(folder)
    tiny_tokenizer(folder).save_pretrained(folder)
    return folder


def test_an_unset_max_length_becomes_the_models_limit_and_says_so(tmp_path):
    from loyalty_tests.models.specs import ModelOptions, load_model

    said = []
    model = load_model(
        str(short_model_folder(tmp_path)), options=ModelOptions(cache_dir=tmp_path / "c", progress=said.append)
    )
    assert model.max_length == 64
    assert any(
        "reads at most 64 tokens: its texts are truncated to 64 (--loyalty-max-length was not set" in line
        for line in said
    ), said
    assert model.predict_proba(["good " * 100]).shape == (1, 2)  # a long text is truncated, not a crash


def test_an_explicit_max_length_above_the_limit_is_still_refused(tmp_path):
    from loyalty_tests.errors import LoyaltyError
    from loyalty_tests.models.specs import ModelOptions, load_model

    with pytest.raises(LoyaltyError, match="max_length 128 is above model .* limit of 64 tokens"):
        load_model(str(short_model_folder(tmp_path)), options=ModelOptions(max_length=128, cache_dir=tmp_path / "c"))


# -- items 4, 6, 11: the plugin ---------------------------------------------------------------------
SUB_CONFTEST = """
import pytest
from toy_models import Fixed


@pytest.fixture(scope="session")
def loyalty_teacher():
    return Fixed("teacher")


@pytest.fixture(scope="session")
def loyalty_student():
    return Fixed("twin")
"""


def test_gates_asked_for_with_models_only_in_a_sub_folder_fail_with_a_message(toy):  # noqa: F811
    sub = toy.mkpydir("sub")
    (sub / "conftest.py").write_text(SUB_CONFTEST)
    (sub / "test_own.py").write_text("def test_own():\n    assert True\n")
    common = [
        "--loyalty-data",
        "dev.csv",
        "--loyalty-cache-dir",
        str(toy.path / "cache"),
        "-p",
        "no:cacheprovider",
        "-k",
        "not latency",
        "--loyalty-gates",
    ]
    from_root = toy.runpytest(*common)  # before: exit 0, no gate checked, no report
    assert from_root.ret == pytest.ExitCode.USAGE_ERROR
    from_root.stderr.fnmatch_lines(["*--loyalty-gates, but no teacher and student were found*root conftest.py*"])
    from_sub = toy.runpytest("sub", *common)  # before: gates skipped "no teacher", then a TypeError
    assert from_sub.ret == pytest.ExitCode.TESTS_FAILED
    output = from_sub.stdout.str()
    assert "Traceback" not in output and "TypeError" not in output
    from_sub.stdout.fnmatch_lines(
        [
            "*loyalty_teacher is declared in *sub*conftest.py, but the gate suite cannot see it*",
            "*gate verdict: FAILED (no gate was checked)*",
        ]
    )


def test_a_report_that_cannot_be_written_is_one_line_after_the_report(toy):  # noqa: F811
    from test_plugin_fail_closed import toy_args

    result = toy.runpytest(*toy_args(toy), "--loyalty-json", "dev.csv/report.json")  # a folder that is a file
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "Traceback" not in output and "INTERNAL" not in output
    result.stdout.fnmatch_lines(
        ["*gate verdict: PASSED*", "*could not write dev.csv/report.json: File exists (dev.csv)*"]
    )
    assert "wrote dev.csv/report.json" not in output


def test_a_zero_speedup_limit_says_how_to_turn_the_gate_off(toy):  # noqa: F811
    from test_plugin_fail_closed import toy_args

    result = toy.runpytest(*toy_args(toy), "--loyalty-min-speedup", "0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(['*min_speedup*must lie in*warn only (*--loyalty-warn-only latency*-k "not latency")*'])


def test_the_report_header_never_reads_data_none(toy):  # noqa: F811
    from test_plugin_fail_closed import toy_args

    result = toy.runpytest(*toy_args(toy, "toy_models:crasher"), "-k", "label_loyalty")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    output = result.stdout.str()
    assert "data None" not in output and "n=None" not in output
    result.stdout.fnmatch_lines(
        ["*teacher toy_models:teacher | data not read (no gate got as far as predicting) | seed 0*"]
    )
