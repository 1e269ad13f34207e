"""The perturbation bound of every recipe: parsed from the recipe string, refused when invalid,
enforced before the model sees a candidate, in every cache key and in the report's row."""

from __future__ import annotations

import dataclasses

import pytest
from keyword_model import KeywordModel

from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.robustness import (
    AttackConfig,
    CharSwapConfig,
    PwwsConfig,
    TextAttackConfig,
    TextFoolerConfig,
    compare_robustness,
    parse_attack_recipe,
    run_attack,
)
from loyalty_tests.robustness import attack_recipes as recipes
from loyalty_tests.robustness.bounds import DEFAULT_MAX_WORD_SHARE, DEFAULT_MAX_WORDS, allowed_words
from loyalty_tests.robustness.summary import robustness_drop, robustness_row
from loyalty_tests.robustness.words import Words

# "great" and "good" each outweigh "dull": the label flips only once both are swapped to "dull"
WEIGHTS = {"great": 2.0, "good": 2.0, "dull": -1.5}
SYNONYMS = {"great": ["dull"], "good": ["dull"]}
TEXT = "a great and good movie"  # 5 words; positive by 4, after one swap by 0.5, after two by -3


EDITED = {"great": 2.0, "good": 2.0, "movie": -1.0}  # an edited keyword scores 0: editing both flips it


def data(texts=(TEXT,)):
    return TextDataset("hand-made", list(texts), [1] * len(texts), ("negative", "positive"))


def synonym_recipe(max_words=None, max_word_share=None, search="greedy"):
    if search == "pwws":
        recipe = recipes.pwws(synonyms=lambda word: SYNONYMS.get(word.lower(), []))
    else:
        recipe = recipes.Recipe(
            "greedy-synonyms",
            recipes._content_words,
            lambda original, i, current, rng: [current.replace(i, w) for w in SYNONYMS.get(original.words[i], [])],
        )
    recipe.max_words, recipe.max_word_share = max_words, max_word_share
    return recipe


def changed(text: str) -> int:
    before, after = Words.split(TEXT), Words.split(text)
    return sum(a != b for a, b in zip(before.words, after.words)) if len(before) == len(after) else -1


@pytest.mark.parametrize(
    "text, config",
    [
        ("charswap", CharSwapConfig(30, DEFAULT_MAX_WORDS, DEFAULT_MAX_WORD_SHARE)),
        ("charswap:max_words=none,max_word_share=none", CharSwapConfig(30, None, None)),
        ("charswap:10,max_words=2", CharSwapConfig(10, max_words=2)),
        ("textfooler", TextFoolerConfig(candidates_per_word=8, max_words=3, max_word_share=0.2)),
        ("textfooler:max_word_share=0.1", TextFoolerConfig(max_word_share=0.1)),
        ("textfooler:max_words=3,max_word_share=none", TextFoolerConfig(max_words=3, max_word_share=None)),
        ("pwws:max_words=4", PwwsConfig(max_words=4)),
        ("pwws:4", PwwsConfig(max_words=4)),  # a bare value fills the first field
        ("textattack:textfooler,max_word_share=0.2", TextAttackConfig("textfooler", max_word_share=0.2)),
    ],
)
def test_every_recipe_takes_a_bound_in_its_recipe_string(text, config):
    assert parse_attack_recipe(text) == config


def test_the_built_in_recipes_are_bounded_by_default_and_textattack_keeps_its_own():
    for config in (CharSwapConfig(), TextFoolerConfig(), PwwsConfig()):
        assert (config.max_words, config.max_word_share) == (3, 0.2)
    assert (TextAttackConfig("textfooler").max_words, TextAttackConfig("textfooler").max_word_share) == (None, None)


@pytest.mark.parametrize(
    "text, message",
    [
        ("charswap:max_words=0", r"charswap: max_words must be a whole number >= 1 .* got 0"),
        ("textfooler:max_words=-2", r"textfooler: max_words must be a whole number >= 1 .* got -2"),
        ("pwws:max_word_share=1.5", r"pwws: max_word_share must lie in \(0, 1\] .* got 1.5"),
        ("textfooler:max_word_share=0", r"textfooler: max_word_share must lie in \(0, 1\]"),
        ("charswap:max_word_share=-0.1", r"charswap: max_word_share must lie in \(0, 1\]"),
        ("textattack:textfooler,max_words=0", r"textattack: max_words must be a whole number >= 1"),
        ("charswap:max_word=3", r"charswap: unknown option 'max_word' .*did you mean max_words"),
    ],
)
def test_an_invalid_bound_names_the_recipe_and_the_valid_keys(text, message):
    with pytest.raises(LoyaltyError, match=message) as error:
        AttackConfig(text)
    assert "valid keys: " in str(error.value) and "max_words, max_word_share" in str(error.value)


@pytest.mark.parametrize(
    "text, message",
    [
        ("pwws:max_words=2.5", r"bad value '2.5' for pwws:max_words .* expects a whole number"),
        ("pwws:max_word_share=", r"bad value '' for pwws:max_word_share .* expects a finite number"),
    ],
)
def test_a_bound_that_is_no_number_names_the_recipe_and_key(text, message):
    with pytest.raises(LoyaltyError, match=message):
        AttackConfig(text)


@pytest.mark.parametrize("search", ["greedy", "pwws"])
def test_a_bound_stops_the_attack_before_the_model_sees_a_candidate_over_it(search):
    unbounded_model, bounded_model = KeywordModel(WEIGHTS), KeywordModel(WEIGHTS)
    config = AttackConfig("charswap", examples=1, budget=100)
    unbounded = run_attack(unbounded_model, data(), config, recipe=synonym_recipe(search=search))
    bounded = run_attack(bounded_model, data(), config, recipe=synonym_recipe(max_words=1, search=search))
    assert unbounded.examples[0].status == "succeeded" and changed(unbounded.examples[0].perturbed_text) == 2
    assert bounded.examples[0].status == "failed"
    seen = [text for call in bounded_model.calls for text in call]
    assert max(changed(text) for text in seen) == 1  # never a two-word candidate: no query spent on one
    assert any(changed(text) == 2 for call in unbounded_model.calls for text in call)
    assert bounded.examples[0].queries < unbounded.examples[0].queries


def test_a_share_bound_rounds_up_as_textattack_does():
    assert allowed_words(None, 0.2, 5) == 1 and allowed_words(None, 0.4, 5) == 2
    config = AttackConfig("charswap", examples=1, budget=100)
    one = run_attack(KeywordModel(WEIGHTS), data(), config, recipe=synonym_recipe(max_word_share=0.2))
    two = run_attack(KeywordModel(WEIGHTS), data(), config, recipe=synonym_recipe(max_word_share=0.4))
    assert (one.examples[0].status, two.examples[0].status) == ("failed", "succeeded")


def test_charswap_counts_edited_words_against_its_bound():
    model = KeywordModel(EDITED)
    config = AttackConfig("charswap:max_word_share=none", examples=1, budget=400)
    free = run_attack(model, data(), config)
    bounded = run_attack(model, data(), dataclasses.replace(config, recipe="charswap:max_words=1,max_word_share=none"))
    assert free.examples[0].status == "succeeded" and changed(free.examples[0].perturbed_text) == 2
    assert bounded.examples[0].status == "failed"


def test_another_bound_is_never_served_the_cached_result_of_the_old_one(tmp_path):
    model = KeywordModel(EDITED)
    loose = AttackConfig("charswap:max_word_share=0.4", examples=1, budget=400)
    first = run_attack(model, data(), loose, cache_dir=tmp_path)
    assert first.examples[0].status == "succeeded" and first.cached_examples == 0
    again = run_attack(model, data(), loose, cache_dir=tmp_path)
    assert again.cached_examples == 1 and again.examples == first.examples  # same bound: served from the cache
    for tight in ("charswap:max_word_share=0.2", "charswap:max_words=1,max_word_share=0.4"):
        result = run_attack(model, data(), dataclasses.replace(loose, recipe=tight), cache_dir=tmp_path)
        assert result.cached_examples == 0 and result.examples[0].status == "failed", tight
    # the key holds the parsed bound, defaults included: plain "charswap" is the 0.2 share run above
    default = run_attack(model, data(), dataclasses.replace(loose, recipe="charswap"), cache_dir=tmp_path)
    assert default.cached_examples == 1 and default.examples[0].status == "failed"


def test_the_robustness_row_records_the_bound():
    model = KeywordModel(WEIGHTS)
    comparison = compare_robustness(model, model, data(), AttackConfig("charswap:max_words=2", examples=1))
    row = robustness_row(comparison, robustness_drop(comparison))
    assert row["bound"] == {"max_words": 2, "max_word_share": 0.2, "text": "at most 2 words and 20% of the words"}
