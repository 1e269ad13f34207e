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


@_framed
def greedy_by_deletion(model, words, label, pair, candidates, attackable, original, similarity=None):
    """``candidates(index, current_words) -> list[Words]`` (transformation and cheap constraints
    applied); ``attackable``: the word indices the constraints let change; ``similarity``: an
    optional ``constraints.SentenceSimilarity``.

    The similarity check runs before the model sees a candidate, so a rejected candidate costs no
    query (as in TextAttack; measured on the demo teacher, querying first and checking only the
    candidates that could be kept cost 50% more queries: on long texts most candidates fail).
    Among label flips the most similar wins (without a check: the lowest gold probability); else
    the candidate that lowers the gold probability most is kept and the next word is tried.
    """
    deleted = model.probabilities([words.delete(i) for i in attackable], pair)
    importance = original[label] - deleted[:, label]
    order = [attackable[i] for i in np.argsort(-importance, kind="stable")]
    current, current_gold = words, original[label]
    for index in order:
        options = candidates(index, current)
        scores = similarity.scores(words, options, index) if similarity is not None and options else None
        if scores is None:
            scores = np.ones(len(options))
        else:
            passing = scores >= similarity.threshold
            options, scores = [o for o, keep in zip(options, passing) if keep], scores[passing]
        if not options:
            continue
        probabilities = model.probabilities([o.text() for o in options], pair)
        gold, flipped = probabilities[:, label], is_success(probabilities, label)
        if flipped.any():
            return options[max((scores[i], -gold[i], i) for i in np.flatnonzero(flipped))[2]]
        best = int(np.argmin(gold))
        if gold[best] < current_gold:  # keep a swap only when it moves toward the goal
            current, current_gold = options[best], gold[best]
    return None


@_framed
def pwws(model, words, label, pair, candidates, attackable, original, unknown: str = "[UNK]"):
    """Probability Weighted Word Saliency: score each word by softmax(saliency) times the largest
    drop in the gold probability its best synonym achieves, then swap in best synonyms in that
    order, keeping each swap, until the label flips. Saliency and every synonym of every word depend
    only on the original text, so they are scored in one batch."""
    options = {index: candidates(index, words) for index in attackable}
    texts = [words.replace(i, unknown).text() for i in attackable]
    texts += [option.text() for index in attackable for option in options[index]]
    gold = model.probabilities(texts, pair)[:, label]
    saliency = original[label] - gold[:len(attackable)]
    weights = np.exp(saliency - saliency.max())
    weights /= weights.sum()
    best_swap, effect, offset = {}, np.zeros(len(attackable)), len(attackable)
    for position, index in enumerate(attackable):
        swapped = gold[offset:offset + len(options[index])]
        offset += len(options[index])
        if len(swapped):
            best = int(np.argmin(swapped))
            best_swap[index] = options[index][best].words[index]
            effect[position] = original[label] - swapped[best]
    current = words
    for index in [attackable[i] for i in np.argsort(-(weights * effect), kind="stable")]:
        if index not in best_swap:
            continue
        current = current.replace(index, best_swap[index])
        if is_success(model.probabilities([current.text()], pair), label)[0]:
            return current
    return None
