"""The offline recipes: a transformation, its constraints and a search, put together.

charswap — DeepWordBug-style. Words ranked by deletion importance (the drop in the gold label's
    probability when the word is deleted; DeepWordBug's own scores are other heuristics); for each,
    every character swap and deletion plus a few seeded random substitutions and insertions; stop
    words kept; each word edited once (Levenshtein distance 1, or 2 for a swap) and the total
    distance to the original text at most ``max_edit_distance`` (30, as TextAttack's DeepWordBug).
textfooler — TextFooler-style. Deviations from Jin et al. 2020: GloVe 6B 50d neighbours instead
    of counter-fitted vectors (so antonyms such as funny→annoying can pass the cosine filter);
    all-MiniLM-L6-v2 instead of the Universal Sentence Encoder for the similarity check (angular
    similarity ≥ 0.8409 over a 15-word window, skipped for shorter texts, as TextAttack sets it);
    no part-of-speech check (it needs a tagger's data, a download); stop words are our own list.
    As in the paper: neighbours with cosine ≥ 0.5 (8 a word by default, as Alzantot et al. 2018,
    not TextFooler's 50: see ``bounds.py``; ``candidates_per_word=50`` restores them), greedy
    search by deletion importance, the most similar label-flipping candidate kept, else the one
    that lowers the gold probability most.
    Where TextAttack 0.3.11's TextFoolerJin2019 + GreedyWordSwapWIR("delete") and ours agree (read
    from its source): the same words (``words.py`` splits a text as its words_from_text); every
    constraint runs before the model sees a candidate, so a rejected one costs no query; the
    similarity window is compared with the text as perturbed so far
    (``compare_against_original=False``), cut from the text's own characters; candidates are tried
    in alphabetical order of their text (which decides ties and which candidates a budget cut
    leaves); a swap is kept only if it lowers the gold probability; a request cut short by the
    budget is still used (a flip in it succeeds) and the search ends after it; the budget counts
    every text sent to the model, the original and the deletions included.
    Remaining differences from TextAttack: we rank only words that have a neighbour (TextAttack
    spends a deletion query on every non-stop word, even one it cannot swap); candidate words are
    alphabetic GloVe words (the benchmark gives TextAttack the same); a text queried twice within one
    example counts once (TextAttack counts it again, which its greedy search never does in
    practice); among flips we take the most similar over all flips (TextAttack stops at the first
    non-flip in score order, which differs only with three or more labels); ties in importance
    keep word order (TextAttack's sort is not stable).
pwws — PWWS-style (Ren et al. 2019): WordNet synonyms of every part of speech (no named-entity
    swaps), word saliency by replacing the word with ``[UNK]``.

Every recipe takes the perturbation bound of ``bounds.py`` (``max_words``, ``max_word_share``;
default at most 3 words and 20% of the words, rounded up): a candidate that perturbs more words of the
original is dropped before the model sees it, and PWWS stops adding swaps at the bound.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

from . import constraints, resources, search, transformations
from .attack_registry import register_attack_recipe
from .bounds import DEFAULT_MAX_WORD_SHARE, DEFAULT_MAX_WORDS, allowed_words, check_bound, perturbed_words
from .words import Words


@dataclass
class Recipe:
    """A transformation (``candidates``), the constraints folded into it and ``attackable``, and a
    search. ``on_close``: end-of-run work (e.g. saving new GloVe neighbours to disk), run by
    ``close()``; the engine uses a recipe as a context manager, so it runs once per attack run."""

    name: str
    attackable: Callable[[Words], list[int]]
    candidates: Callable[[Words, int, Words, random.Random], list[Words]]  # (original, index, current, rng)
    search: Callable = search.greedy_by_deletion  # a generator search; a recipe's options bound with functools.partial
    on_close: tuple[Callable[[], None], ...] = ()
    max_words: int | None = None  # the perturbation bound (bounds.py); None: not bounded that way
    max_word_share: float | None = None

    def start(self, text: str, label: int, rng: random.Random):
        """The search of one example, as a generator the engine drives (see ``search.py``). With a
        bound, candidates that perturb more words of the original than it allows are dropped here,
        before any query, and the search is told the bound (``max_perturbed``)."""
        words = Words.split(text)
        indices = self.attackable(words)
        allowed = allowed_words(self.max_words, self.max_word_share, len(words))
        if allowed is None:

            def candidates(index: int, current: Words):
                return self.candidates(words, index, current, rng)

            return self.search(words, label, candidates, indices)

        def bounded(index: int, current: Words):
            found = self.candidates(words, index, current, rng)
            return [c for c in found if perturbed_words(words.words, c.words) <= allowed]

        return self.search(words, label, bounded, indices, max_perturbed=allowed)

    def close(self) -> None:
        for finish in self.on_close:
            finish()

    def __enter__(self) -> Recipe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -- configs: one frozen dataclass per recipe; ``recipe`` is its name in recipe strings ------------


# The bound fields come last in every config, so a bare first value (``charswap:10``) keeps its meaning.


@dataclass(frozen=True)
class CharSwapConfig:
    recipe = "charswap"
    max_edit_distance: int = 30  # total Levenshtein distance to the original text (TextAttack's DeepWordBug)
    max_words: int | None = DEFAULT_MAX_WORDS  # edited words, at most (bounds.py)
    max_word_share: float | None = DEFAULT_MAX_WORD_SHARE  # share of the words edited, at most (bounds.py)

    def __post_init__(self):
        if self.max_edit_distance < 1:
            raise ValueError(f"max_edit_distance must be >= 1, got {self.max_edit_distance}")
        check_bound(self.max_words, self.max_word_share)


@dataclass(frozen=True)
class TextFoolerConfig:
    recipe = "textfooler"
    candidates_per_word: int = 8  # Alzantot et al.'s 8 neighbours (TextFooler's 50 flip almost everything)
    min_cosine: float = 0.5
    similarity_threshold: float = 0.840845057
    window_size: int = 15
    compare_against_original: bool = False  # TextFoolerJin2019 compares with the text as perturbed so far
    max_words: int | None = DEFAULT_MAX_WORDS  # swapped words, at most (bounds.py)
    max_word_share: float | None = DEFAULT_MAX_WORD_SHARE  # share of the words swapped, at most (bounds.py)

    def __post_init__(self):
        if self.candidates_per_word < 1 or self.window_size < 1:
            raise ValueError("candidates_per_word and window_size must be >= 1")
        if not -1.0 <= self.min_cosine <= 1.0 or not 0.0 <= self.similarity_threshold <= 1.0:
            raise ValueError("min_cosine must lie in [-1, 1] and similarity_threshold in [0, 1]")
        check_bound(self.max_words, self.max_word_share)


@dataclass(frozen=True)
class PwwsConfig:
    recipe = "pwws"
    max_words: int | None = DEFAULT_MAX_WORDS  # swapped words, at most (bounds.py)
    max_word_share: float | None = DEFAULT_MAX_WORD_SHARE  # share of the words swapped, at most (bounds.py)

    def __post_init__(self):
        check_bound(self.max_words, self.max_word_share)


def _bounded(recipe: Recipe, config) -> Recipe:
    """The recipe with the config's perturbation bound."""
    recipe.max_words, recipe.max_word_share = config.max_words, config.max_word_share
    return recipe


def _content_words(words: Words) -> list[int]:
    return [i for i, word in enumerate(words.words) if not constraints.is_stop_word(word)]


def _distance(original: Words, current: Words) -> int:
    return sum(constraints.levenshtein(a, b) for a, b in zip(original.words, current.words) if a != b)


def charswap(max_edit_distance: int = 30) -> Recipe:
    def candidates(original: Words, index: int, current: Words, rng: random.Random):
        if current.words[index] != original.words[index]:
            return []  # each word changes at most once
        used = _distance(original, current)
        word = original.words[index]
        edits = [
            e
            for e in transformations.character_edits(word, rng)
            if used + constraints.levenshtein(word, e) <= max_edit_distance
        ]
        return [current.replace(index, e) for e in edits]

    return Recipe("charswap", _content_words, candidates)


@register_attack_recipe(CharSwapConfig)
def _build_charswap(config: CharSwapConfig, *, cache_dir=None) -> Recipe:
    return _bounded(charswap(config.max_edit_distance), config)


def textfooler(
    cache_dir=None,
    *,
    candidates_per_word: int = 50,
    min_cosine: float = 0.5,
    similarity_threshold: float = 0.840845057,
    window_size: int = 15,
    compare_against_original: bool = False,
) -> Recipe:
    neighbours = resources.glove_neighbours(str(cache_dir) if cache_dir else None, candidates_per_word, min_cosine)
    similarity = constraints.SentenceSimilarity(
        resources.sentence_encoder(), threshold=similarity_threshold, window_size=window_size
    )

    def attackable(words: Words) -> list[int]:
        content = _content_words(words)
        neighbours.prefetch([words.words[i] for i in content])
        return [i for i in content if neighbours(words.words[i])]

    def candidates(original: Words, index: int, current: Words, rng: random.Random):
        swaps = transformations.embedding_swaps(original.words[index], neighbours)
        return [current.replace(index, word) for word, _ in swaps]

    greedy = functools.partial(
        search.greedy_by_deletion, similarity=similarity, compare_against_original=compare_against_original
    )
    # new neighbour rows go to the disk table once per run
    return Recipe("textfooler", attackable, candidates, greedy, on_close=(neighbours.save,))


@register_attack_recipe(TextFoolerConfig)
def _build_textfooler(config: TextFoolerConfig, *, cache_dir=None) -> Recipe:
    recipe = textfooler(
        cache_dir,
        candidates_per_word=config.candidates_per_word,
        min_cosine=config.min_cosine,
        similarity_threshold=config.similarity_threshold,
        window_size=config.window_size,
        compare_against_original=config.compare_against_original,
    )
    return _bounded(recipe, config)


def pwws(synonyms: Callable[[str], list[str]] | None = None, cache_dir=None) -> Recipe:
    """``synonyms(word)``: a table for tests; by default WordNet (a clear error when not installed)."""
    if synonyms is None:
        reader = resources.wordnet(str(cache_dir) if cache_dir else None)

        def synonyms(word: str) -> list[str]:
            return resources.wordnet_synonyms(reader, word)

    def attackable(words: Words) -> list[int]:
        return [i for i in _content_words(words) if synonyms(words.words[i])]

    def candidates(original: Words, index: int, current: Words, rng: random.Random):
        swaps = transformations.synonym_swaps(original.words[index], synonyms)
        return [current.replace(index, word) for word in swaps]

    return Recipe("pwws", attackable, candidates, search.pwws)


@register_attack_recipe(PwwsConfig)
def _build_pwws(config: PwwsConfig, *, cache_dir=None) -> Recipe:
    return _bounded(pwws(cache_dir=cache_dir), config)
