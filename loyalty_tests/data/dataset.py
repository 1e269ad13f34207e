"""``TextDataset``: labelled texts, label names, and a seeded, machine-independent sample."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import numbers
from collections.abc import Iterable

import numpy as np

from ..errors import LoyaltyError


def positive_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise LoyaltyError(
            f"{what} must be a positive number of examples, got {value!r}; "
            "leave the limit (--loyalty-limit) unset to use every example"
        )
    return int(value)


def seeded_order(keys: Iterable[str], seed: int) -> list[int]:
    """Positions of ``keys`` sorted by sha256(seed, key): a shuffle that is the same on every
    machine and numpy version, and where a smaller sample is a prefix of a larger one."""
    digests = [hashlib.sha256(f"{seed}\0{key}".encode()).digest() for key in keys]
    return sorted(range(len(digests)), key=lambda position: (digests[position], position))


@dataclasses.dataclass(frozen=True)
class TextDataset:
    """Labelled texts; ``labels[i]`` indexes ``label_names``; ``text_pairs`` for sentence pairs."""

    name: str
    texts: tuple[str, ...]
    labels: tuple[int, ...]
    label_names: tuple[str, ...]
    text_pairs: tuple[str, ...] | None = None

    def __post_init__(self):
        # Accept lists from callers building a dataset by hand; store tuples (hashable, immutable).
        for field in ("texts", "labels", "label_names", "text_pairs"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, field, tuple(value))
        if len(self.labels) != len(self.texts):
            raise LoyaltyError(f"dataset {self.name!r}: {len(self.texts)} texts but {len(self.labels)} labels")
        if self.text_pairs is not None and len(self.text_pairs) != len(self.texts):
            raise LoyaltyError(f"dataset {self.name!r}: {len(self.texts)} texts but {len(self.text_pairs)} text pairs")
        if any(not 0 <= label < len(self.label_names) for label in self.labels):
            raise LoyaltyError(
                f"dataset {self.name!r}: a label is outside label_names {self.label_names}; "
                f"labels are indices into label_names, 0 to {len(self.label_names) - 1}"
            )

    def __len__(self) -> int:
        return len(self.texts)

    @functools.cached_property
    def fingerprint(self) -> str:
        """sha256 hex over texts, pairs, labels and label names (not the name), stable across runs."""
        digest = hashlib.sha256(b"loyalty_tests.TextDataset/1")
        sections = [
            ("label_names", self.label_names),
            ("labels", [str(label) for label in self.labels]),
            ("texts", self.texts),
            ("text_pairs", self.text_pairs or ()),
        ]
        digest.update(b"pairs" if self.text_pairs is not None else b"no pairs")
        for section, strings in sections:
            digest.update(f"{section}:{len(strings)}".encode())
            for string in strings:  # length-prefixed, so ("ab", "c") and ("a", "bc") differ
                encoded = string.encode("utf-8", "surrogatepass")
                digest.update(len(encoded).to_bytes(8, "little") + encoded)
        return digest.hexdigest()

    @property
    def label_array(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.int64)

    def example_keys(self) -> list[str]:
        """What makes each example, as one string: its text, or its pair's first text, NUL, second."""
        if self.text_pairs is None:
            return list(self.texts)
        return [f"{first}\0{second}" for first, second in zip(self.texts, self.text_pairs)]

    def sample(self, n: int, seed: int) -> TextDataset:
        """``n`` examples drawn without replacement under ``seed``, kept in their original order;
        the whole dataset when ``n >= len(self)``.

        The draw is keyed by each example's content (``example_keys``), the same order the attacks
        sample in (``robustness.sample_order``): so a sample's attacked examples are the first ones
        of the full data's attack order, and ``--loyalty-limit N`` after a full run reuses every
        attack result it can."""
        if positive_count(n, "sample size") >= len(self):
            return self
        keep = sorted(seeded_order(self.example_keys(), seed)[:n])
        return self.subset(keep)

    def subset(self, indices: Iterable[int]) -> TextDataset:
        """The examples at ``indices``, in the order given; same name and label names."""
        indices = list(indices)
        pairs = None if self.text_pairs is None else tuple(self.text_pairs[i] for i in indices)
        return TextDataset(
            self.name,
            tuple(self.texts[i] for i in indices),
            tuple(self.labels[i] for i in indices),
            self.label_names,
            pairs,
        )
