"""Texts as words and the gaps between them, so one word can change and the rest stays byte-exact."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A word starts and ends with a letter or digit and may hold underscores and the marks ' - * @
# inside ("well-made", "it's"; not the quote in "stevens'"): the words TextAttack's AttackedText
# sees (its words_from_text), so a word-level attack ranks and swaps the same words in both engines.
_WORD = re.compile(r"[^\W_](?:[\w'*@-]*[^\W_])?")


@dataclass(frozen=True)
class Words:
    """``text == gaps[0] + words[0] + gaps[1] + ... + words[-1] + gaps[-1]``."""

    words: tuple[str, ...]
    gaps: tuple[str, ...]

    @classmethod
    def split(cls, text: str) -> Words:
        words, gaps, position = [], [], 0
        for match in _WORD.finditer(text):
            gaps.append(text[position : match.start()])
            words.append(match.group())
            position = match.end()
        gaps.append(text[position:])
        return cls(tuple(words), tuple(gaps))

    def __len__(self) -> int:
        return len(self.words)

    def text(self) -> str:
        return "".join(gap + word for gap, word in zip(self.gaps, self.words)) + self.gaps[-1]

    def replace(self, index: int, word: str) -> Words:
        words = list(self.words)
        words[index] = word
        return Words(tuple(words), self.gaps)

    def span(self, start: int, end: int) -> str:
        """The text from word ``start`` to word ``end - 1``, the gaps between them included (as
        TextAttack's ``text_window_around_index`` cuts it)."""
        if start >= end:
            return ""
        return self.words[start] + "".join(
            gap + word for gap, word in zip(self.gaps[start + 1 : end], self.words[start + 1 : end])
        )

    def delete(self, index: int) -> str:
        """The text without word ``index``, for importance scores, spaced as TextAttack's
        delete_word_at_index leaves it (the model must score the same text in both engines): the
        punctuation around the word stays, and unless the word ends the text one space goes, the
        one after the first word, else the one right before the word.

        >>> Words.split("like ballistic : ecks vs . sever").delete(2)
        'like ballistic : vs . sever'
        """
        left, right = self.gaps[index], self.gaps[index + 1]
        if right or index < len(self.words) - 1:  # something follows the word
            if index == 0:
                right = right[1:] if right.startswith(" ") else right
            elif left.endswith(" "):
                left = left[:-1]
        gaps = [*self.gaps[:index], left + right, *self.gaps[index + 2 :]]
        words = [*self.words[:index], *self.words[index + 1 :]]
        return "".join(gap + word for gap, word in zip(gaps, words)) + gaps[-1]


def recover_case(original: str, replacement: str) -> str:
    """Give ``replacement`` the capitalisation pattern of ``original`` (GloVe words are lower case)."""
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    if original[:1].isupper():
        return replacement[:1].upper() + replacement[1:]
    return replacement
