"""Attack recipes through the registry: recipe strings, configs, errors, third-party recipes and
the recipe's own end-of-run lifecycle."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.robustness import (
    AttackConfig,
    CharSwapConfig,
    PwwsConfig,
    Recipe,
    TextAttackConfig,
    TextFoolerConfig,
    attack_registry,
    known_recipes,
    parse_attack_recipe,
    register_attack_recipe,
    run_attack,
)
from loyalty_tests.robustness.attack_recipes import _content_words
from loyalty_tests.robustness.words import Words


class Keywords:
    label_names = ("negative", "positive")
    fingerprint = None
    name = "keywords"

    def predict_proba(self, texts, text_pairs=None):
        weights = {"great": 3.0, "good": 2.0, "dull": -1.0, "bad": -2.0}
        scores = np.array([sum(weights.get(w.lower(), 0.0) for w in Words.split(t).words) for t in texts])
        positive = 1.0 / (1.0 + np.exp(-scores))
        return np.stack([1.0 - positive, positive], axis=1)


@pytest.mark.parametrize(
    "text, config",
    [
        ("textfooler", TextFoolerConfig()),
        ("textfooler:min_cosine=0.6", TextFoolerConfig(min_cosine=0.6)),
        ("textfooler:min_cosine=0.6,window_size=9", TextFoolerConfig(min_cosine=0.6, window_size=9)),
        ("charswap:max_edit_distance=10", CharSwapConfig(max_edit_distance=10)),
        ("charswap:10", CharSwapConfig(10)),  # a bare first value fills the first field
        (" pwws ", PwwsConfig()),
        ("textattack:textfooler", TextAttackConfig("textfooler")),
        ("textattack:name=deepwordbug", TextAttackConfig("deepwordbug")),
    ],
)
def test_recipe_strings_parse_into_configs(text, config):
    assert parse_attack_recipe(text) == config
    assert AttackConfig(text).recipe == text  # the string the user typed, as reports show it
    assert AttackConfig(text).recipe_config == config


@pytest.mark.parametrize(
    "text, message",
    [
        ("textfoolr", r"unknown attack recipe 'textfoolr' \(did you mean textfooler\?\); known recipes: charswap"),
        ("pwss", r"did you mean pwws\?"),
        (
            "deepfool",
            r"unknown attack recipe 'deepfool'; known recipes: charswap \(keys: max_edit_distance, max_words, "
            r"max_word_share\)",
        ),
        (
            "charswap:max_edit=3",
            r"unknown option 'max_edit' in attack recipe .* \(did you mean max_edit_distance\?\); "
            r"valid keys: max_edit_distance",
        ),
        (
            "textfooler:foo=1",
            r"unknown option 'foo' in attack recipe 'textfooler:foo=1'; valid keys: candidates_per_word, min_cosine",
        ),
        ("textfooler:min_cosine=abc", r"bad value 'abc' for textfooler:min_cosine .* expects a finite number"),
        ("charswap:max_edit_distance=2.5", r"expects a whole number"),
        ("charswap:0", r"max_edit_distance must be >= 1, got 0"),
        ("charswap:", r"has nothing after ':'"),
        ("charswap:3,4", r"option '4' in attack recipe 'charswap:3,4' needs a key"),
        ("charswap:3,max_edit_distance=4", r"option 'max_edit_distance' is given twice"),
        ("pwws:0", r"pwws: max_words must be a whole number >= 1 .*; valid keys: max_words, max_word_share"),
        ("textattack", r"textattack needs a value for name in attack recipe 'textattack'; write textattack:name="),
        ("", r"unknown attack recipe ''"),
    ],
)
def test_bad_recipe_strings_are_errors_that_list_what_is_valid(text, message):
    with pytest.raises(LoyaltyError, match=message):
        AttackConfig(text)  # validated eagerly, before any model work


def test_known_recipes_come_from_the_registry():
    assert known_recipes() == ("charswap", "pwws", "textattack:<name>", "textfooler")
    assert set(attack_registry.registered_recipes()["textfooler"]) == {
        f.name for f in dataclasses.fields(TextFoolerConfig)
    }


def test_recipe_key_holds_every_setting():
    key = attack_registry.recipe_key(parse_attack_recipe("textfooler:min_cosine=0.6"))
    assert key["recipe"] == "textfooler" and key["settings"] == dataclasses.asdict(TextFoolerConfig(min_cosine=0.6))
    assert attack_registry.recipe_key(TextFoolerConfig()) != key


@pytest.fixture
def private_registry(monkeypatch):
    """Third-party registrations made by a test vanish after it."""
    attack_registry.registered_recipes()  # the built-ins are in before the copy
    monkeypatch.setattr(attack_registry.RECIPES, "handlers", dict(attack_registry.RECIPES.handlers))
    monkeypatch.setattr(attack_registry.RECIPES, "config_types", dict(attack_registry.RECIPES.config_types))


def test_a_third_party_recipe_registers_itself_and_runs_by_name(private_registry):
    built, closed = [], []

    @dataclasses.dataclass(frozen=True)
    class AntonymConfig:
        recipe = "antonyms"
        strength: int = 1

    @register_attack_recipe(AntonymConfig)
    def build_antonyms(config: AntonymConfig, *, cache_dir=None) -> Recipe:
        built.append(config)
        table = {"great": ["bad"] * config.strength}

        def candidates(original, index, current, rng):
            return [current.replace(index, w) for w in table.get(original.words[index].lower(), [])]

        return Recipe("antonyms", _content_words, candidates, on_close=(lambda: closed.append(config),))

    assert "antonyms" in known_recipes()
    data = TextDataset("hand-made", ["a great movie"], [1], ("negative", "positive"))
    result = run_attack(Keywords(), data, AttackConfig("antonyms:strength=2", examples=1))
    assert built == [AntonymConfig(2)] and closed == [AntonymConfig(2)]  # built, used, closed once
    assert result.examples[0].perturbed_text == "a bad movie" and result.config.recipe == "antonyms:strength=2"
    with pytest.raises(LoyaltyError, match=r"did you mean antonyms\?"):
        AttackConfig("antonym")


def test_registration_needs_a_frozen_config_with_a_name(private_registry):
    @dataclasses.dataclass
    class Mutable:
        recipe = "mutable"

    with pytest.raises(TypeError, match="frozen dataclass"):
        register_attack_recipe(Mutable)

    @dataclasses.dataclass(frozen=True)
    class Nameless:
        pass

    with pytest.raises(TypeError, match="class attribute `recipe`"):
        register_attack_recipe(Nameless)

    @dataclasses.dataclass(frozen=True)
    class Impostor:
        recipe = "textfooler"

    with pytest.raises(TypeError, match="already taken by TextFoolerConfig"):
        register_attack_recipe(Impostor)


def test_a_recipe_is_closed_even_when_the_attack_fails(private_registry):
    closed = []

    @dataclasses.dataclass(frozen=True)
    class BrokenConfig:
        recipe = "broken"

    @register_attack_recipe(BrokenConfig)
    def build_broken(config, *, cache_dir=None) -> Recipe:
        def candidates(original, index, current, rng):
            raise RuntimeError("transformation crashed")

        return Recipe("broken", _content_words, candidates, on_close=(lambda: closed.append(True),))

    data = TextDataset("hand-made", ["a great movie"], [1], ("negative", "positive"))
    with pytest.raises(RuntimeError, match="transformation crashed"):
        run_attack(Keywords(), data, AttackConfig("broken", examples=1))
    assert closed == [True]
