"""One hand-made classifier for the attack tests: which word swap flips it is plain arithmetic.

p(positive) = sigmoid(sum of the word weights of the scored text, a pair's second text). Each
test file passes the weights its cases are worked out with; every call is recorded.
"""

from __future__ import annotations

import numpy as np

from loyalty_tests.robustness.words import Words

LABELS = ("negative", "positive")


class KeywordModel:
    label_names = LABELS

    def __init__(self, weights: dict, name: str = "keywords", fingerprint: str | None = "derived"):
        self.name, self.weights = name, dict(weights)
        # cacheable by default, keyed by what decides its outputs; None: never cached
        self.fingerprint = (
            f"keywords-{name}-{sorted(self.weights.items())}" if fingerprint == "derived" else fingerprint
        )
        self.calls: list[list[str]] = []  # the texts of each predict_proba call
        self.pairs: list[list[str] | None] = []  # and their pairs' second texts

    def predict_proba(self, texts, text_pairs=None):
        self.calls.append(list(texts))
        self.pairs.append(None if text_pairs is None else list(text_pairs))
        scored = texts if text_pairs is None else text_pairs
        scores = np.array([sum(self.weights.get(w.lower(), 0.0) for w in Words.split(t).words) for t in scored])
        positive = 1.0 / (1.0 + np.exp(-scores))
        return np.stack([1.0 - positive, positive], axis=1)
