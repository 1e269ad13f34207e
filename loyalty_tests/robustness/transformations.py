"""Transformations: the candidate replacements for one word. Each is a pure function of the word
(and a seeded RNG for the random character edits), so a search is reproducible."""

from __future__ import annotations

import random
import string

from .words import recover_case

LETTERS = string.ascii_lowercase


def character_edits(word: str, rng: random.Random, *, substitutions: int = 2, insertions: int = 2) -> list[str]:
    """DeepWordBug's four edits, one edit per candidate: swap two neighbouring characters, delete
    one, substitute one with a random letter, insert a random letter. All swaps and deletions are
    listed; substitutions and insertions are sampled (``substitutions``/``insertions`` per position
    would be 26 each, far past any query budget) from ``rng``.

    >>> sorted(character_edits("abc", random.Random(0), substitutions=0, insertions=0))
    ['ab', 'ac', 'acb', 'bac', 'bc']
    """
    candidates = []
    for i in range(len(word) - 1):
        if word[i] != word[i + 1]:
            candidates.append(word[:i] + word[i + 1] + word[i] + word[i + 2 :])
    if len(word) > 1:  # deleting the only character would delete the word itself
        candidates += [word[:i] + word[i + 1 :] for i in range(len(word))]
    for _ in range(substitutions):
        i = rng.randrange(len(word))
        letter = rng.choice([c for c in LETTERS if c != word[i].lower()])
        candidates.append(word[:i] + letter + word[i + 1 :])
    for _ in range(insertions):
        i = rng.randrange(len(word) + 1)
        candidates.append(word[:i] + rng.choice(LETTERS) + word[i:])
    return [c for c in dict.fromkeys(candidates) if c != word]


def embedding_swaps(word: str, neighbours) -> list[tuple[str, float]]:
    """GloVe neighbours of the word with their cosine, in the word's capitalisation."""
    return [(recover_case(word, neighbour), cosine) for neighbour, cosine in neighbours(word)]


def synonym_swaps(word: str, synonyms) -> list[str]:
    """Synonyms from a table or WordNet (``synonyms(word) -> list[str]``), in the word's capitalisation."""
    return [recover_case(word, synonym) for synonym in synonyms(word)]
