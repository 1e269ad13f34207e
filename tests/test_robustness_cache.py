"""Attack results cached per example, and RobustnessRun's blocks: overlapping samples reuse every
example attacked before, a bad cache file is reported and redone, blocks add up to a one-shot run."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import pytest
from keyword_model import KeywordModel

from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.robustness import (
    AttackCacheWarning,
    AttackConfig,
    Recipe,
    RobustnessRun,
    attack_cache,
    attack_registry,
    compare_robustness,
    register_attack_recipe,
    run_attack,
    sample_indices,
    sample_order,
)
from loyalty_tests.robustness import attack_recipes as recipes

LABELS = ("negative", "positive")
WEIGHTS = {"great": 3.0, "good": 2.0, "fine": 1.0, "dull": -1.0, "bad": -2.0, "awful": -3.0}
TEXTS = [
    "a great movie",
    "a good film",
    "great fun",
    "a fine cast and a good plot",
    "a bad movie",
    "good good",
    "a great and good story",
    "fine work",
    "an awful film",
    "good acting",
]


def Keywords(name="keywords", weights=WEIGHTS):
    return KeywordModel(weights, name)


def data(texts=TEXTS):
    return TextDataset("hand-made", texts, [1] * len(texts), LABELS)


@pytest.fixture
def counting(monkeypatch):
    """A registered recipe "counting" (charswap underneath) that counts the searches it starts."""
    attack_registry.registered_recipes()
    monkeypatch.setattr(attack_registry.RECIPES, "handlers", dict(attack_registry.RECIPES.handlers))
    monkeypatch.setattr(attack_registry.RECIPES, "config_types", dict(attack_registry.RECIPES.config_types))
    started = []

    @dataclasses.dataclass(frozen=True)
    class CountingConfig:
        recipe = "counting"
        max_edit_distance: int = 30

    @register_attack_recipe(CountingConfig)
    def build(config, *, cache_dir=None):
        inner = recipes.charswap(config.max_edit_distance)

        def start(text, label, rng):
            started.append(text)
            return inner.start(text, label, rng)

        recipe = Recipe("counting", inner.attackable, inner.candidates, inner.search)
        recipe.start = start
        return recipe

    return started


def test_overlapping_samples_reuse_every_example_attacked_before(counting, tmp_path):
    config = AttackConfig("counting", examples=len(TEXTS), budget=40, seed=2)
    first = run_attack(Keywords(), data(), config, indices=[0, 1, 2, 3, 4, 5], cache_dir=tmp_path)
    assert len(counting) == 6 and first.cached_examples == 0
    counting.clear()
    second = run_attack(Keywords(), data(), config, indices=[3, 4, 5, 6, 7, 8], cache_dir=tmp_path)
    assert sorted(counting) == sorted(TEXTS[i] for i in (6, 7, 8))  # only the new examples are attacked
    assert [e.cached for e in second.examples] == [True] * 3 + [False] * 3
    counting.clear()
    no_cache = run_attack(Keywords(), data(), config, indices=[3, 4, 5, 6, 7, 8])
    assert second.examples == no_cache.examples and len(counting) == 6
    # a smaller sample after a larger one attacks nothing (sample_indices are prefixes)
    counting.clear()
    small = run_attack(Keywords(), data(), dataclasses.replace(config, examples=4), cache_dir=tmp_path)
    big = run_attack(Keywords(), data(), config, cache_dir=tmp_path)
    assert small.examples == big.examples[:4] and counting == [TEXTS[9]]  # the one example never attacked
    in_small = 9 in sample_indices(data(), small.config)
    assert big.cached_examples == len(TEXTS) - (0 if in_small else 1)


def test_the_key_holds_every_setting_and_the_model(counting, tmp_path):
    for recipe in ("counting", "counting:max_edit_distance=2"):
        run_attack(Keywords(), data(), AttackConfig(recipe, examples=3, budget=40), cache_dir=tmp_path)
    run_attack(Keywords(), data(), AttackConfig("counting", examples=3, budget=41), cache_dir=tmp_path)
    run_attack(Keywords("other"), data(), AttackConfig("counting", examples=3, budget=40), cache_dir=tmp_path)
    assert len(counting) == 12  # recipe settings, budget and model each make a new key
    files = list((tmp_path / "attacks").rglob("*.json"))
    assert len(files) == 12
    stored = json.loads(files[0].read_text())
    assert {"model", "recipe", "budget", "seed", "text", "pair", "label", "label_names", "engine"} <= set(stored["key"])


def test_each_result_records_its_seconds_and_when_it_was_measured(counting, tmp_path):
    config = AttackConfig("counting", examples=3, budget=40)
    first = run_attack(Keywords(), data(), config, cache_dir=tmp_path)
    again = run_attack(Keywords(), data(), config, cache_dir=tmp_path)
    for fresh, cached in zip(first.examples, again.examples):
        assert fresh.seconds > 0 and fresh.measured_at.endswith("+00:00") and not fresh.cached
        assert (cached.seconds, cached.measured_at, cached.cached) == (fresh.seconds, fresh.measured_at, True)
    assert again.measured_seconds == pytest.approx(first.measured_seconds)
    assert again.to_row()["cached_examples"] == 3


def cache_files(tmp_path):
    return sorted((tmp_path / "attacks").rglob("*.json"))


@pytest.mark.parametrize("damage", ["empty", "truncated", "not json", "no key", "other key"])
def test_a_bad_cache_file_is_reported_by_name_redone_and_replaced(counting, tmp_path, damage):
    config = AttackConfig("counting", examples=1, budget=40)
    first = run_attack(Keywords(), data(), config, cache_dir=tmp_path)
    (path,) = cache_files(tmp_path)
    text = path.read_text()
    stored = json.loads(text)
    damaged = {
        "empty": "",
        "truncated": text[: len(text) // 2],
        "not json": "\x00\x01",
        "no key": json.dumps({"example": stored["example"]}),
        "other key": json.dumps({**stored, "key": {**stored["key"], "budget": 999}}),
    }[damage]
    path.write_text(damaged)
    counting.clear()
    with pytest.warns(AttackCacheWarning, match=str(path)):
        again = run_attack(Keywords(), data(), config, cache_dir=tmp_path)
    assert counting == [first.examples[0].original_text] and again.examples == first.examples
    assert json.loads(path.read_text()) == stored | {"example": json.loads(path.read_text())["example"]}
    counting.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired: read back without a warning, nothing attacked
        run_attack(Keywords(), data(), config, cache_dir=tmp_path)
    assert counting == []


def test_a_cache_folder_that_cannot_be_written_is_read_and_warned_about(counting, tmp_path, monkeypatch):
    config = AttackConfig("counting", examples=4, budget=40)
    run_attack(Keywords(), data(), config, indices=[0, 1], cache_dir=tmp_path)

    def read_only(path):
        raise PermissionError(30, "Read-only file system", str(path))

    monkeypatch.setattr(attack_cache, "locked", read_only)
    monkeypatch.setattr(attack_cache, "atomic_write_text", lambda path, text: read_only(path))
    counting.clear()
    with pytest.warns(AttackCacheWarning, match="cannot be written .*Read-only file system"):
        result = run_attack(Keywords(), data(), config, indices=[0, 1, 2, 3], cache_dir=tmp_path)
    assert sorted(counting) == sorted(TEXTS[2:4]) and len(cache_files(tmp_path)) == 2  # read, not written
    assert result.examples == run_attack(Keywords(), data(), config, indices=[0, 1, 2, 3]).examples


def test_an_example_gets_the_same_result_in_any_sample_and_position():
    # the per-example seed is keyed by the text: charswap's random edits are the same wherever it sits
    config = AttackConfig("charswap", examples=3, budget=60, seed=7)
    texts = ["a great movie", "a good film", "great fun"]
    forward = run_attack(Keywords(), data(texts), config, indices=[0, 1, 2]).examples
    moved = run_attack(Keywords(), data(["filler"] + texts[::-1]), config, indices=[3, 2, 1]).examples

    def strip(example):
        return dataclasses.replace(example, index=0)

    assert [strip(e) for e in forward] == [strip(e) for e in moved]
    other_seed = run_attack(Keywords(), data(texts), dataclasses.replace(config, seed=8), indices=[0, 1, 2])
    assert [e.queries for e in other_seed.examples] != [e.queries for e in forward] or [
        e.perturbed_text for e in other_seed.examples
    ] != [e.perturbed_text for e in forward]


# -- blocks for sequential stopping ------------------------------------------------------------------


def test_sample_order_is_seeded_and_every_sample_is_a_prefix_of_a_larger_one():
    dataset = data()
    order = sample_order(dataset, 3)
    assert sorted(order) == list(range(len(TEXTS))) and order == sample_order(dataset, 3)
    assert order != sample_order(dataset, 4)
    for k in range(1, len(TEXTS)):
        small = sample_indices(dataset, AttackConfig("charswap", examples=k, seed=3))
        assert small == sample_indices(dataset, AttackConfig("charswap", examples=k + 2, seed=3))[:k] == order[:k]
    assert sample_indices(dataset, AttackConfig("charswap", examples=99, seed=3)) == order
    with pytest.raises(LoyaltyError, match="is empty"):
        sample_order(data([]), 0)


def comparable(comparison):
    return (
        comparison.teacher.examples,
        comparison.student.examples,
        comparison.teacher.config,
        comparison.transfer_rate,
        comparison.adversarial_label_loyalty,
    )


def test_blocks_add_up_to_the_one_shot_comparison_of_the_same_size(tmp_path):
    teacher, student = Keywords("teacher"), Keywords("student", {**WEIGHTS, "dull": 0.5, "good": 1.0})
    config = AttackConfig("charswap", examples=7, budget=60, seed=1)
    run = RobustnessRun(teacher, student, data(), config)
    partial = run.attack_next(3)
    assert len(partial.teacher.examples) == 3 == run.attacked and run.remaining == len(TEXTS) - 3
    cumulative = run.attack_next(4)
    one_shot = compare_robustness(teacher, student, data(), config)
    assert comparable(cumulative) == comparable(one_shot)
    assert partial.teacher.examples == cumulative.teacher.examples[:3]  # blocks extend, never reshuffle
    assert not math.isnan(cumulative.transfer_rate)
    tail = run.attack_next(50)  # the end of the order: what is left
    assert len(tail.teacher.examples) == len(TEXTS) and run.remaining == 0
    with pytest.raises(LoyaltyError, match="attacked already; there is no next block"):
        run.attack_next(1)
    with pytest.raises(LoyaltyError, match="block_size must be a whole number >= 1"):
        RobustnessRun(teacher, student, data(), config).attack_next(0)
    with pytest.raises(LoyaltyError, match="nothing is attacked yet"):
        RobustnessRun(teacher, student, data(), config).comparison()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(LoyaltyError, match="in_flight must be a whole number >= 1"):
            RobustnessRun(teacher, student, data(), config, in_flight=bad)
        with pytest.raises(LoyaltyError, match="--attack-in-flight N"):
            run_attack(teacher, data(), config, in_flight=bad)


def test_blocks_reuse_the_per_example_cache(counting, tmp_path):
    teacher, student = Keywords("teacher"), Keywords("student", {**WEIGHTS, "good": 1.0})
    config = AttackConfig("counting", examples=6, budget=40, seed=5)
    one_shot = compare_robustness(teacher, student, data(), config, cache_dir=tmp_path)
    assert len(counting) == 12  # six examples on each model
    counting.clear()
    run = RobustnessRun(teacher, student, data(), config, cache_dir=tmp_path)
    run.attack_next(2)
    blocks = run.attack_next(4)
    assert counting == [] and comparable(blocks) == comparable(one_shot)
    run.attack_next(1)
    assert len(counting) == 2  # the seventh example, once per model


def test_a_subset_of_the_data_keeps_the_full_orders_examples_in_their_order():
    # content-keyed: a --loyalty-limit subset's sample is the full order restricted to the subset,
    # so its first k share with the full run's first k every example the subset holds
    full = data()
    order = [TEXTS[i] for i in sample_order(full, 11)]
    subset = data(TEXTS[::2])
    assert [TEXTS[::2][i] for i in sample_order(subset, 11)] == [t for t in order if t in TEXTS[::2]]
