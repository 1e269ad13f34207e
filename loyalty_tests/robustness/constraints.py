"""Constraints: which words may change and which perturbed texts still count as the same input."""

from __future__ import annotations

import math

import numpy as np

# Function words a swap must not touch (changing them rarely keeps the meaning). Our own list of
# common English determiners, pronouns, auxiliaries, prepositions and conjunctions.
STOP_WORDS = frozenset(
    """
a about above after again against all also am an and any are as at be because been before being below
between both but by can could did do does doing down during each either else even ever every few for from
further had has have having he her here hers herself him himself his how i if in into is it its itself just
may me might more most must my myself neither no nor not now of off on once only or other ought our ours
ourselves out over own same shall she should so some such than that the their theirs them themselves then
there these they this those though through to too under until up upon us very was we were what when where
whether which while who whom whose why will with within without would yet you your yours yourself yourselves
""".split()
)


def is_stop_word(word: str) -> bool:
    return word.lower() in STOP_WORDS


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute, each cost 1).

    >>> levenshtein("kitten", "sitting")
    3
    """
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def angular_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """1 − arccos(cos)/π for unit vectors row by row (what TextFooler's threshold is stated in)."""
    cosine = np.clip((a * b).sum(axis=-1), -1.0, 1.0)
    return 1.0 - np.arccos(cosine) / math.pi


def window(words, index: int, size: int) -> tuple[int, int]:
    """The ``size``-word span around ``index`` (clamped to the text), as TextFooler compares."""
    half = size // 2
    start = max(0, min(index - half, len(words) - size))
    return start, min(len(words), start + size)


class SentenceSimilarity:
    """Angular similarity of the window around the changed word to the same window of a reference
    text (the search says which: the text as perturbed so far, as TextAttack's TextFoolerJin2019,
    or the original); a candidate passes at ``threshold`` or above. A window is the text's own
    characters from its first to its last word, punctuation included, as TextAttack cuts it.

    Texts shorter than the window are not checked (as TextAttack's TextFooler does).
    """

    def __init__(self, encoder, *, threshold: float = 0.840845057, window_size: int = 15):
        self.encoder, self.threshold, self.window_size = encoder, threshold, window_size

    def windows(self, reference, candidates: list, index: int) -> list[str] | None:
        """The texts to encode: the reference's window, then each candidate's same window; None
        when the text is too short to be checked. A search hands them to the lockstep (``Encode``),
        which encodes the windows of every example in flight at once."""
        if len(reference) < self.window_size:
            return None
        start, end = window(reference.words, index, self.window_size)
        return [reference.span(start, end)] + [c.span(start, end) for c in candidates]

    @staticmethod
    def compare(encoded: np.ndarray) -> np.ndarray:
        """One similarity per candidate, from the vectors of ``windows`` (the reference's first)."""
        return angular_similarity(encoded[1:], encoded[:1])

    def scores(self, reference, candidates: list, index: int) -> np.ndarray | None:
        """One similarity per candidate, or None when the text is too short to be checked (encoded
        here, outside any lockstep)."""
        texts = self.windows(reference, candidates, index)
        if texts is None:
            return None
        # one call: the reference's window is cached by the encoder after its first use
        return self.compare(self.encoder.encode(texts)) if candidates else np.zeros(0)

    def keep(self, reference, candidates: list, index: int) -> np.ndarray:
        scores = self.scores(reference, candidates, index)
        return np.ones(len(candidates), dtype=bool) if scores is None else scores >= self.threshold
