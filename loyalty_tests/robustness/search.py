"""Searches: which word to change next and which candidate to keep.

``greedy_by_deletion`` is TextFooler's and DeepWordBug's order (words ranked by how much deleting
them lowers the gold label's probability, then the best candidate per word, stopping at the
first success). ``pwws`` ranks words by softmax(saliency) × the best synonym's effect.
A search returns ``(perturbed Words or None, status, original probabilities)``; BudgetExhausted
ends it as failed.
"""

from __future__ import annotations

import functools

import numpy as np

from .engine import AttackedModel, BudgetExhausted, is_success


def _framed(body):
    """What every search shares: skip examples the model already gets wrong, fail when no word may
    change or the budget runs out; ``body`` returns the adversarial Words or None."""

    @functools.wraps(body)
    def search(model: AttackedModel, words, label: int, pair, candidates, attackable, **options) -> tuple:
        original = model.probabilities([words.text()], pair)[0]
        if original.argmax() != label:
            return None, "skipped", original
        found = None
        if attackable:
            try:
                found = body(model, words, label, pair, candidates, attackable, original, **options)
            except BudgetExhausted:
                found = None
        return (found, "succeeded", original) if found is not None else (None, "failed", original)

    return search


def _best_success(probabilities, label, successes, preference):
    """Among the successful candidates the most preferred one (higher is better)."""
    ranked = [i for i in np.flatnonzero(successes)]
    return max(ranked, key=lambda i: (preference[i] if preference is not None else -probabilities[i, label]))


@_framed
def greedy_by_deletion(model, words, label, pair, candidates, attackable, original):
    """``candidates(index, current_words) -> (list[Words], preference or None)``, already filtered
    by the constraints; ``attackable``: the word indices the constraints let change."""
    deleted = model.probabilities([words.delete(i) for i in attackable], pair)
    importance = original[label] - deleted[:, label]
    order = [attackable[i] for i in np.argsort(-importance, kind="stable")]
    current, current_gold = words, original[label]
    for index in order:
        options, preference = candidates(index, current)
        if not options:
            continue
        probabilities = model.probabilities([o.text() for o in options], pair)
        successes = is_success(probabilities, label)
        if successes.any():
            return options[_best_success(probabilities, label, successes, preference)]
        best = int(np.argmin(probabilities[:, label]))
        if probabilities[best, label] < current_gold:  # keep a swap only when it moves toward the goal
            current, current_gold = options[best], probabilities[best, label]
    return None


@_framed
def pwws(model, words, label, pair, candidates, attackable, original, unknown: str = "[UNK]"):
    """Probability Weighted Word Saliency: score each word by softmax(saliency) times the largest
    drop in the gold probability its best synonym achieves, then swap in best synonyms in that
    order, keeping each swap, until the label flips."""
    masked = model.probabilities([words.replace(i, unknown).text() for i in attackable], pair)
    saliency = original[label] - masked[:, label]
    weights = np.exp(saliency - saliency.max())
    weights /= weights.sum()
    best_swap, effect = {}, np.zeros(len(attackable))
    for position, index in enumerate(attackable):
        options, _ = candidates(index, words)
        if not options:
            continue
        probabilities = model.probabilities([o.text() for o in options], pair)
        best = int(np.argmin(probabilities[:, label]))
        best_swap[index] = options[best].words[index]
        effect[position] = original[label] - probabilities[best, label]
    current = words
    for index in [attackable[i] for i in np.argsort(-(weights * effect), kind="stable")]:
        if index not in best_swap:
            continue
        current = current.replace(index, best_swap[index])
        if is_success(model.probabilities([current.text()], pair), label)[0]:
            return current
    return None
