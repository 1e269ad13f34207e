"""Searches: which word to change next and which candidate to keep.

A search is a generator: ``rows = yield texts`` asks for the texts' probabilities and receives
them, one row per text of a prefix (all of them unless the example's budget ran out; see
``lockstep.py``); ``vectors = yield Encode(encoder, texts)`` asks for sentence-encoder vectors
(the similarity check). Written this way, the scheduler can gather the requests of many examples
into one model call, and their encodings into one encoder call, while each search runs exactly
as it would alone. A search returns ``(perturbed Words or None, status, original probabilities,
perturbed probabilities or None)``.

``greedy_by_deletion`` is TextFooler's and DeepWordBug's order (words ranked by how much deleting
them lowers the gold label's probability, then the best candidate per word, stopping at the
first success). ``pwws`` ranks words by softmax(saliency) × the best synonym's effect.
"""

from __future__ import annotations

import functools

import numpy as np

from .bounds import perturbed_words
from .lockstep import BudgetExhausted, Encode, is_success


def _framed(body):
    """What every search shares: skip examples the model already gets wrong, fail when no word may
    change or the budget runs out; ``body`` returns the adversarial Words or None.
    ``max_perturbed``: the most words of the original a perturbed text may differ in (the recipe's
    bound, ``bounds.py``; its candidates arrive within it already), or None."""

    @functools.wraps(body)
    def search(words, label: int, candidates, attackable, max_perturbed: int | None = None, **options):
        original = (yield [words.text()])[0]
        if original.argmax() != label:
            return None, "skipped", original, None
        found = None
        if attackable:
            try:
                found = yield from body(
                    words, label, candidates, attackable, original, max_perturbed=max_perturbed, **options
                )
            except BudgetExhausted:
                found = None
        if found is None:
            return None, "failed", original, None
        perturbed = (yield [found.text()])[0]  # scored already: no query, no budget
        return found, "succeeded", original, perturbed

    return search


@_framed
def greedy_by_deletion(
    words,
    label,
    candidates,
    attackable,
    original,
    similarity=None,
    compare_against_original: bool = False,
    max_perturbed: int | None = None,
):
    """``candidates(index, current_words) -> list[Words]`` (transformation and cheap constraints
    applied); ``attackable``: the word indices the constraints let change; ``similarity``: an
    optional ``constraints.SentenceSimilarity``, which scores the window around the swapped word
    against the same window of the text as perturbed so far (TextAttack's TextFoolerJin2019:
    ``compare_against_original=False``) or of the original text.

    As TextAttack's greedy word-importance search: candidates in alphabetical order of their text;
    every constraint runs before the model sees a candidate, so a rejected candidate costs no
    query; among label flips the most similar wins (ties: the lowest gold probability, then the
    first); else the candidate that lowers the gold probability most is kept, if it lowers it at
    all, and the next word is tried. A request the budget cuts short is still used: a flip in it
    succeeds, and the search ends after it. Once ``max_perturbed`` words are changed without a flip,
    no candidate can pass the bound and the search fails without another query.
    """
    deleted = yield [words.delete(i) for i in attackable]
    if len(deleted) < len(attackable):
        raise BudgetExhausted()  # TextAttack ends the search when ranking spends the budget
    importance = original[label] - deleted[:, label]
    order = [attackable[i] for i in np.argsort(-importance, kind="stable")]
    current, current_gold = words, original[label]
    for index in order:
        if max_perturbed is not None and perturbed_words(words.words, current.words) >= max_perturbed:
            return None  # every further swap would break the bound
        options = {o.text(): o for o in candidates(index, current) if o.words[index] != current.words[index]}
        options = [options[text] for text in sorted(options)]
        scores = np.ones(len(options))
        if similarity is not None and options:
            reference = words if compare_against_original else current
            checked = yield from _similarities(similarity, reference, options, index)
            if checked is not None:
                options = [o for o, keep in zip(options, checked >= similarity.threshold) if keep]
                scores = checked[checked >= similarity.threshold]
        if not options:
            continue
        probabilities = yield [o.text() for o in options]
        cut_short = len(probabilities) < len(options)
        options, scores = options[: len(probabilities)], scores[: len(probabilities)]
        gold, flipped = probabilities[:, label], is_success(probabilities, label)
        if flipped.any():
            return options[min(np.flatnonzero(flipped), key=lambda i: (-scores[i], gold[i], i))]
        best = int(np.argmin(gold)) if len(gold) else None
        if best is not None and gold[best] < current_gold:  # keep a swap only when it moves toward the goal
            current, current_gold = options[best], gold[best]
        if cut_short:
            raise BudgetExhausted()
    return None


def _similarities(similarity, reference, options: list, index: int):
    """``similarity.scores`` as a search step: the windows go to the lockstep as an ``Encode``
    request (encoded with every in-flight example's in one call) and their vectors come back."""
    windows = similarity.windows(reference, options, index)
    if windows is None:
        return None
    return similarity.compare((yield Encode(similarity.encoder, tuple(windows))))


@_framed
def pwws(words, label, candidates, attackable, original, unknown: str = "[UNK]", max_perturbed: int | None = None):
    """Probability Weighted Word Saliency: score each word by softmax(saliency) times the largest
    drop in the gold probability its best synonym achieves, then swap in best synonyms in that
    order, keeping each swap, until the label flips or ``max_perturbed`` words are swapped (the
    bound: the next swap is never queried). Saliency and every synonym of every word depend only
    on the original text, so they are scored in one request."""
    options = {index: candidates(index, words) for index in attackable}
    texts = [words.replace(i, unknown).text() for i in attackable]
    texts += [option.text() for index in attackable for option in options[index]]
    scored = yield texts
    if len(scored) < len(texts):
        raise BudgetExhausted()  # TextAttack's PWWS cannot rank the words either
    gold = scored[:, label]
    saliency = original[label] - gold[: len(attackable)]
    weights = np.exp(saliency - saliency.max())
    weights /= weights.sum()
    best_swap, effect, offset = {}, np.zeros(len(attackable)), len(attackable)
    for position, index in enumerate(attackable):
        swapped = gold[offset : offset + len(options[index])]
        offset += len(options[index])
        if len(swapped):
            best = int(np.argmin(swapped))
            best_swap[index] = options[index][best].words[index]
            effect[position] = original[label] - swapped[best]
    current = words
    for index in [attackable[i] for i in np.argsort(-(weights * effect), kind="stable")]:
        if index not in best_swap:
            continue
        if max_perturbed is not None and perturbed_words(words.words, current.words) >= max_perturbed:
            return None
        current = current.replace(index, best_swap[index])
        if is_success((yield [current.text()]), label)[0]:
            return current
    return None
