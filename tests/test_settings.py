"""Option parsing and ``LoyaltySettings``, as units: pytest's own option parser with our options
added, then the settings built from what it parsed (no pytester run)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from pathlib import Path

import pytest
from _pytest.config.argparsing import Parser

from loyalty_tests.errors import LoyaltyError
from loyalty_tests.plugins.options import add_options
from loyalty_tests.plugins.settings import INI_KEYS, LoyaltySettings, check_ini_keys, unknown_ini_keys


def parse(*args: str) -> dict:
    parser = Parser(_ispytest=True)
    add_options(parser)
    return vars(parser.parse(list(args)))


def settings(*args: str, ini: dict | None = None) -> LoyaltySettings:
    return LoyaltySettings.from_mappings(parse(*args), ini or {})


def test_defaults():
    s = settings()
    assert (s.teacher, s.students, s.data, s.seed, s.batch_size, s.engine) == (
        None,
        (),
        "rotten_tomatoes",
        0,
        32,
        "local",
    )
    assert s.use_cache and not s.attacking and s.attack_block == 25
    assert s.thresholds()["min_label_loyalty"].value == 0.90 and s.thresholds()["min_label_loyalty"].source == "default"


def test_short_and_long_forms_and_repeated_students():
    s = settings(
        "--teacher",
        "demo",
        "--student",
        "int8",
        "--loyalty-student",
        "prune:0.5",
        "--student",
        "int8",
        "--attack",
        "charswap",
        "--attack-block",
        "10",
        "--loyalty-no-cache",
        "--loyalty-cache-dir",
        "~/c",
    )
    assert s.teacher == "demo" and s.students == ("int8", "prune:0.5")  # a repeated spec runs once
    assert s.attack == "charswap" and s.attacking and s.attack_block == 10
    assert not s.use_cache and s.cache_dir == Path("~/c").expanduser()


def test_precedence_default_ini_command_line_marker():
    ini = {"loyalty_min_label_loyalty": "0.8", "loyalty_engine": "ray"}
    assert settings(ini=ini).thresholds()["min_label_loyalty"].source == "ini loyalty_min_label_loyalty"
    s = settings("--loyalty-min-label-loyalty", "0.7", ini=ini)
    assert s.thresholds()["min_label_loyalty"].value == 0.7
    assert s.thresholds({"min_label_loyalty": 0.6})["min_label_loyalty"].source == "@pytest.mark.loyalty"
    assert s.engine == "ray"  # ini only
    assert settings("--loyalty-engine", "local", ini=ini).engine == "local"  # command line over ini


def test_settings_are_frozen():
    with pytest.raises(FrozenInstanceError):
        settings().seed = 1


@pytest.mark.parametrize(
    "args, message",
    [
        (("--loyalty-batch-size", "-1"), "must be a whole number >= 1, got '-1'"),
        (("--loyalty-device", "gpu"), "must be cpu, cuda, cuda:N or mps, got 'gpu'"),
        (("--loyalty-engine", "spark"), "invalid choice"),
    ],
)
def test_bad_values_stop_the_parser(args, message):
    with pytest.raises(pytest.UsageError) as error:
        parse(*args)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "args, ini, message",
    [
        (("--loyalty-min-label-loyalty", "1.5"), {}, "must lie in [0, 1], got '1.5'"),
        ((), {"loyalty_engine": "spark"}, "ini loyalty_engine must be local or ray, got 'spark'"),
        (("--loyalty-ray-address", "auto"), {}, "--loyalty-ray-address needs --loyalty-engine ray"),
        (("--loyalty-latency-rounds", "10", "--loyalty-latency-max-rounds", "5"), {}, "must be at least"),
        (("--loyalty-latency-rounds", "2", "--loyalty-latency-max-rounds", "2"), {}, "too few for the latency gate"),
    ],
)
def test_check_refuses_what_no_model_is_needed_for(args, ini, message):
    with pytest.raises(LoyaltyError, match=None) as error:
        settings(*args, ini=ini).check()
    assert message in str(error.value)


def test_ray_and_xdist_refused_together():
    s = LoyaltySettings.from_mappings({**parse("--loyalty-engine", "ray"), "numprocesses": 2}, {})
    with pytest.raises(LoyaltyError, match="both spread the work"):
        s.check()


def test_unknown_ini_keys_are_named_with_a_hint(tmp_path):
    ini = tmp_path / "pytest.ini"
    ini.write_text("[pytest]\nloyalty_min_label_loyality = 0.9\nloyalty_engine = local\nloyalty_seed = 1\n")
    assert unknown_ini_keys(ini) == ["loyalty_min_label_loyality", "loyalty_seed"]  # loyalty_engine is known
    with pytest.raises(LoyaltyError, match="did you mean loyalty_min_label_loyalty"):
        check_ini_keys(ini)
    assert "loyalty_engine" in INI_KEYS and unknown_ini_keys(None) == []
