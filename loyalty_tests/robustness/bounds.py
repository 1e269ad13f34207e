"""The perturbation bound every recipe takes: at most ``max_words`` perturbed words and at most a
share ``max_word_share`` of the text's words (both must hold when both are set), as TextAttack's
``MaxWordsPerturbed(max_num_words, max_percent)``. A perturbed word is a word of the original text
that differs in the candidate (a swapped word, or for charswap an edited one).

It is a constraint: a candidate over the bound is dropped before the model sees it, so it costs
no query. The bound is a field of each recipe's config, so it is in every cache key
(``attack_registry.recipe_key``) and in the report's robustness row (``bound_row``).

Why these defaults (``DEFAULT_MAX_WORDS``, ``DEFAULT_MAX_WORD_SHARE``): unbounded, textfooler,
charswap and pwws flipped every example the demo teacher got right (0.0% accuracy under attack),
so the robustness drop could never exceed zero and the gate could not FAIL. A share of 0.2 alone
(the bound of Alzantot et al. 2018 and of TextAttack's Alzantot, Faster-Alzantot and IGA recipes)
still left the demo teacher 1.3% under textfooler; a share of 0.05 (one word in most sentences)
left it 29% but made every margin (``margin.py``) one word, so the margin gate could not tell
students apart. At most 3 words and 20% of the words leaves room for margins of 1, 2 and 3 words,
and with textfooler's 8 neighbours per word (``attack_recipes.TextFoolerConfig``) the demo teacher
keeps about a quarter to a third of its sentences (75 seeded sentences of rotten_tomatoes:test,
2026-12-03: textfooler 26.7%, charswap 25.3%, pwws 30.7%, margins 2.1 to 2.2 words). The figures
are measured on the demo teacher, so the choice is calibrated on it: a stronger or weaker model
moves them, which is what the gate is for.
"""

from __future__ import annotations

import math

DEFAULT_MAX_WORDS = 3  # see the module docstring: room for margins of 1 to 3 words
DEFAULT_MAX_WORD_SHARE = 0.2  # the share of TextAttack's Alzantot-family recipes
BOUND_KEYS = ("max_words", "max_word_share")


def check_bound(max_words, max_word_share) -> None:
    """Raise ValueError for a bound no attack could use: a count below 1, a share outside (0, 1].
    None means "not bounded this way". The registry prefixes the recipe's name and valid keys.

    >>> check_bound(3, 0.2)
    >>> check_bound(0, None)
    Traceback (most recent call last):
    ...
    ValueError: max_words must be a whole number >= 1 (or none), got 0
    """
    if max_words is not None and (isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 1):
        raise ValueError(f"max_words must be a whole number >= 1 (or none), got {max_words!r}")
    if max_word_share is not None and (
        isinstance(max_word_share, bool)
        or not isinstance(max_word_share, (int, float))
        or not 0.0 < max_word_share <= 1.0
    ):
        raise ValueError(f"max_word_share must lie in (0, 1] (or none), got {max_word_share!r}")


def bound_of(config) -> tuple[int | None, float | None]:
    """(max_words, max_word_share) of a recipe config; (None, None) for one without a bound."""
    return getattr(config, "max_words", None), getattr(config, "max_word_share", None)


def allowed_words(max_words: int | None, max_word_share: float | None, n_words: int) -> int | None:
    """How many words of an ``n_words``-word text may be perturbed; None when unbounded.

    allowed = min(max_words, ceil(max_word_share × n_words)), the share rounded up as TextAttack's
    MaxWordsPerturbed rounds it, so a short text may still change one word:

    >>> allowed_words(None, 0.2, 21), allowed_words(None, 0.2, 3), allowed_words(3, 0.2, 40)
    (5, 1, 3)
    >>> allowed_words(None, None, 10) is None
    True
    """
    limits = []
    if max_words is not None:
        limits.append(int(max_words))
    if max_word_share is not None:
        limits.append(math.ceil(round(max_word_share * n_words, 9)))  # round: 0.2 × 15 is 3.0000000000000004
    return min(limits) if limits else None


def perturbed_words(original_words, perturbed_words_) -> int:
    """Words of the original that differ in the perturbed text (a word more or less counts too).

    >>> perturbed_words(("a", "good", "film"), ("a", "fine", "flim"))
    2
    """
    changed = sum(a != b for a, b in zip(original_words, perturbed_words_))
    return changed + abs(len(original_words) - len(perturbed_words_))


def describe_bound(max_words: int | None, max_word_share: float | None) -> str:
    """The bound as the report prints it.

    >>> describe_bound(None, 0.2), describe_bound(3, 0.2), describe_bound(None, None)
    ('at most 20% of the words', 'at most 3 words and 20% of the words', 'no bound on perturbed words')
    """
    parts = []
    if max_words is not None:
        parts.append(f"{max_words} word{'s' * (max_words != 1)}")
    if max_word_share is not None:
        parts.append(f"{round(max_word_share * 100, 6):g}% of the words")
    return "at most " + " and ".join(parts) if parts else "no bound on perturbed words"


def bound_row(config) -> dict:
    """The bound for the report's robustness row (fractions stored, as everywhere)."""
    max_words, max_word_share = bound_of(config)
    return {"max_words": max_words, "max_word_share": max_word_share}
