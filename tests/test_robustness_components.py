"""Each transformation, constraint and search rule of the attack engine on its own, with hand-made
models, neighbour tables and encoders, so every expected output is certain."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
from keyword_model import KeywordModel

from loyalty_tests.data import TextDataset
from loyalty_tests.robustness import AttackConfig, AttackResult, run_attack, search
from loyalty_tests.robustness import attack_recipes as recipes
from loyalty_tests.robustness.constraints import (
    SentenceSimilarity,
    is_stop_word,
    levenshtein,
)
from loyalty_tests.robustness.lockstep import AttackedModel
from loyalty_tests.robustness.transformations import (
    character_edits,
    embedding_swaps,
    synonym_swaps,
)
from loyalty_tests.robustness.words import Words, recover_case

LABELS = ("negative", "positive")
WEIGHTS = {"great": 3.0, "good": 2.0, "fine": 1.0, "nice": 1.0, "dull": -1.0, "poor": -1.0, "bad": -2.0}


def Keywords(weights=WEIGHTS):
    return KeywordModel(weights, fingerprint=None)


def data(texts, labels, pairs=None):
    return TextDataset("hand-made", texts, labels, LABELS, pairs)


# -- transformations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, distance",
    [
        ("", "", 0),
        ("", "abc", 3),
        ("film", "film", 0),
        ("film", "flim", 2),
        ("film", "fil", 1),
        ("film", "fxlm", 1),
        ("movie", "mvoei", 3),
    ],
)
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == levenshtein(b, a) == distance


def test_character_edits_cover_all_four_kinds():
    word = "film"
    edits = character_edits(word, random.Random(1), substitutions=3, insertions=3)
    kinds = {
        "swap": [e for e in edits if sorted(e) == sorted(word) and e != word],
        "delete": [e for e in edits if len(e) == 3],
        "insert": [e for e in edits if len(e) == 5],
        "substitute": [e for e in edits if len(e) == 4 and sorted(e) != sorted(word)],
    }
    assert all(kinds.values()), kinds
    assert set(kinds["delete"]) == {"ilm", "flm", "fim", "fil"}
    assert all(levenshtein(word, e) == 1 for e in kinds["insert"] + kinds["substitute"])
    assert character_edits("a", random.Random(1), substitutions=0, insertions=0) == []  # never delete a word
    assert character_edits(word, random.Random(1)) != character_edits(word, random.Random(2))  # the seed matters


def test_embedding_and_synonym_swaps_keep_the_capitalisation():
    table = {"great": [("fine", 0.8), ("dull", 0.6)]}
    assert embedding_swaps("Great", lambda w: table.get(w.lower(), [])) == [("Fine", 0.8), ("Dull", 0.6)]
    assert synonym_swaps("GREAT", lambda w: ["fine"]) == ["FINE"]
    assert recover_case("I", "me") == "Me" and recover_case("movie", "film") == "film"


# -- constraints -------------------------------------------------------------------------------


def test_stop_words_are_never_attackable():
    words = Words.split("The film is not good at all")
    assert [words.words[i] for i in recipes._content_words(words)] == ["film", "good"]
    assert is_stop_word("NOT")


def test_charswap_bounds_the_total_edit_distance():
    recipe = recipes.charswap(max_edit_distance=3)
    original = Words.split("great movie")
    rng = random.Random(0)
    first = recipe.candidates(original, 0, original, rng)
    assert first and all(levenshtein("great", c.words[0]) <= 2 and c.words[1] == "movie" for c in first)
    changed = original.replace(0, "gerat")  # 2 of the 3 allowed edits spent
    assert all(levenshtein("movie", c.words[1]) == 1 for c in recipe.candidates(original, 1, changed, rng))
    assert recipe.candidates(original, 0, changed, rng) == []  # a word changes at most once


class LetterEncoder:
    """A fake sentence encoder: a window is 'similar' when its words start with the same letters."""

    def __init__(self):
        self.encoded = []

    def encode(self, texts):
        self.encoded += texts
        vectors = []
        for text in texts:
            vector = np.zeros(26)
            for word in text.split():
                vector[ord(word[0].lower()) - ord("a")] += 1
            vectors.append(vector / np.linalg.norm(vector))
        return np.array(vectors)


def test_sentence_similarity_scores_the_window_and_skips_short_texts():
    original = Words.split("alpha bravo charlie delta")
    similarity = SentenceSimilarity(LetterEncoder(), threshold=0.9, window_size=4)
    candidates = [original.replace(1, "beta"), original.replace(1, "zulu")]
    scores = similarity.scores(original, candidates, 1)
    assert scores[0] == pytest.approx(1.0) and scores[1] < 0.9
    assert similarity.keep(original, candidates, 1).tolist() == [True, False]
    short = SentenceSimilarity(LetterEncoder(), window_size=5)
    assert short.scores(original, [original.replace(1, "zulu")], 1) is None
    assert short.keep(original, [original.replace(1, "zulu")], 1).tolist() == [True]


# -- search ------------------------------------------------------------------------------------


def greedy_with(table, similarity=None):
    def candidates(original, index, current, rng):
        return [current.replace(index, w) for w in table.get(original.words[index].lower(), [])]

    return recipes.Recipe(
        "table",
        recipes._content_words,
        candidates,
        lambda *args, **kwargs: search.greedy_by_deletion(*args, similarity=similarity, **kwargs),
    )


def test_greedy_keeps_the_most_similar_label_flip_and_never_a_rejected_one():
    # "great"'s swaps "bad", "apple", "grim" and "gross" all flip the label. Window similarity to
    # "a great movie" (letters a, g, m): grim = gross = 1.0 > apple 0.78 > threshold 0.75 > bad 0.73
    weights = {**WEIGHTS, "apple": -4.0, "grim": -1.5, "gross": -0.5}
    table = {"great": ["bad", "apple", "grim", "gross", "fine"]}
    encoder = LetterEncoder()
    similarity = SentenceSimilarity(encoder, threshold=0.75, window_size=3)
    result = run_attack(
        Keywords(weights),
        data(["a great movie"], [1]),
        AttackConfig("charswap", examples=1),
        recipe=greedy_with(table, similarity),
    )
    (example,) = result.examples
    # not "bad" (rejected) nor "apple" (lowest gold probability but less similar); of the two most
    # similar, "grim" lowers the gold probability more
    assert (example.status, example.perturbed_text) == ("succeeded", "a grim movie")
    # the check runs before the query: "bad" and "fine" were encoded but never sent to the model
    assert example.queries == 1 + 2 + 3  # original, two deletions, the three passing candidates
    assert sorted(encoder.encoded) == sorted(
        ["a great movie", "a bad movie", "a apple movie", "a grim movie", "a gross movie", "a fine movie"]
    )


def test_greedy_keeps_the_best_passing_step_when_nothing_flips_yet():
    # first word: "nice" lowers the gold probability most but fails the similarity check → "good"
    table = {"great": ["nice", "good"], "film": ["dull", "flop"]}
    similarity = SentenceSimilarity(LetterEncoder(), threshold=0.95, window_size=2)
    weights = {**WEIGHTS, "great": 4.0, "good": 2.0, "nice": 0.5, "film": 0.0, "dull": -2.5, "flop": -2.5}
    result = run_attack(
        Keywords(weights),
        data(["great film"], [1]),
        AttackConfig("charswap", examples=1),
        recipe=greedy_with(table, similarity),
    )
    # great film (4) → good film (2; "nice film" fails the check) → good flop (-0.5; "good dull" fails)
    assert result.examples[0].perturbed_text == "good flop"


def test_queries_are_counted_per_example_and_never_exceed_the_budget():
    model, seen = Keywords(), []
    sizes = []

    def progress(done, total, succeeded):  # texts sent to the model so far, after each example
        sizes.append(len({t for texts in model.calls for t in texts}))
        seen.append((done, total, succeeded))

    texts = ["a great good fine movie", "a good film indeed", "a bad movie", "great great great great"]
    # one example at a time (in_flight=1), so the texts sent between two progress calls are one example's
    result = run_attack(
        model,
        data(texts, [1, 1, 1, 1]),
        AttackConfig("charswap", examples=4, budget=6),
        indices=[0, 1, 2, 3],
        progress=progress,
        in_flight=1,
    )
    per_example = np.diff([0] + sizes).tolist()
    assert [e.queries for e in result.examples] == per_example
    assert all(q <= 6 for q in per_example)
    assert [e.status for e in result.examples][2] == "skipped" and result.examples[2].queries == 1
    assert [(done, total) for done, total, _ in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    successes = np.cumsum([e.status == "succeeded" for e in result.examples]).tolist()
    assert [succeeded for _, _, succeeded in seen] == successes
    assert result.mean_queries == pytest.approx(np.mean([e.queries for e in result.attacked]))


def test_pairs_reach_the_model_in_order_and_only_the_second_text_changes():
    model = Keywords()
    pairs = data(["the premise"], [1], pairs=["a great movie"])
    result = run_attack(model, pairs, AttackConfig("charswap", examples=1), recipe=greedy_with({"great": ["bad"]}))
    (example,) = result.examples
    assert (example.text_pair, example.original_text, example.perturbed_text) == (
        "the premise",
        "a great movie",
        "a bad movie",
    )
    assert all(texts == ["the premise"] * len(texts) for texts in model.calls)
    assert "a bad movie" in {t for second in model.pairs for t in second}


# -- results -----------------------------------------------------------------------------------


def test_rows_are_json_and_round_trip():
    texts = data(["a great movie", "a bad movie"], [1, 1])
    result = run_attack(Keywords(), texts, AttackConfig("charswap", examples=2))
    row = json.loads(json.dumps(result.to_row()))
    assert row["original_accuracy"] == 0.5 and 0 <= row["accuracy_under_attack"] <= 0.5
    again = AttackResult.from_row(row)
    assert again.examples == result.examples and again.config == result.config
    skipped_only = run_attack(Keywords(), data(["a bad movie"], [1]), AttackConfig("charswap", examples=1))
    assert math.isnan(skipped_only.to_row()["attack_success_rate"])  # nothing attacked: undefined, not 0


def test_attacks_are_cached_only_for_models_with_a_fingerprint(tmp_path):
    texts = data(["a great movie"], [1])
    run_attack(Keywords(), texts, AttackConfig("charswap", examples=1), cache_dir=tmp_path)
    assert not list(tmp_path.rglob("*.json"))  # fingerprint None: nothing to key a cache entry on
    model = Keywords()
    model.fingerprint = "keywords-v1"
    run_attack(model, texts, AttackConfig("charswap", examples=1, seed=0), cache_dir=tmp_path)
    run_attack(model, texts, AttackConfig("charswap", examples=1, seed=1), cache_dir=tmp_path)
    assert len(list((tmp_path / "attacks").rglob("*.json"))) == 2  # the seed is part of the key


def test_attacked_model_aligns_labels_by_name():
    class Reversed(KeywordModel):
        label_names = ("positive", "negative")

        def predict_proba(self, texts, text_pairs=None):
            return super().predict_proba(texts, text_pairs)[:, ::-1]

    straight, flipped = AttackedModel(Keywords(), LABELS), AttackedModel(Reversed(WEIGHTS, fingerprint=None), LABELS)
    assert np.allclose(straight.probabilities(["a great movie"]), flipped.probabilities(["a great movie"]))


@pytest.mark.parametrize(
    "text, words",
    [
        ("a well-made , funny film .", ("a", "well-made", "funny", "film")),
        ("stevens' vibrant 'creative' instincts", ("stevens", "vibrant", "creative", "instincts")),
        ("it's [nelson's] x_y _z 8 1/2 café", ("it's", "nelson's", "x_y", "z", "8", "1", "2", "café")),
        ("ballistic : ecks vs . sever -- done", ("ballistic", "ecks", "vs", "sever", "done")),
    ],
)
def test_words_are_split_as_textattack_splits_them_and_the_text_round_trips(text, words):
    # TextAttack's words_from_text: letters/digits with ' - _ * @ inside a word, never at its ends
    split = Words.split(text)
    assert split.words == words and split.text() == text
