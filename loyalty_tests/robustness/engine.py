"""The model behind the attacks: one batched call per search step, a per-text output cache, a
query budget, and the goal (untargeted: the predicted label is no longer the gold one).

Every distinct text a search wants scored goes to ``predict_proba`` in one list, which the model
batches with dynamic padding itself. Outputs are cached per text for the whole run, so a text is
never scored twice; but a query is counted per example, as a distinct text this example asked
for, whether or not another example had it scored already. So an example's queries, its budget
and hence its result are what they would be if it were attacked alone, in any order or grouping
(on another worker, in another batch of examples).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import LoyaltyError
from ..predictions import check_probabilities, label_permutation


class BudgetExhausted(Exception):
    """The example's query budget is spent; the search stops and the attack counts as failed."""


class AttackedModel:
    """A classifier seen through the attack: outputs in the dataset's label order, cached per text."""

    def __init__(self, model, label_names, data_name: str = "data"):
        self.model = model
        self.name = getattr(model, "name", type(model).__name__)
        self.columns = label_permutation(model.label_names, label_names, self.name, data_name)
        self.label_names = tuple(label_names)
        self.cache: dict[tuple[str | None, str], np.ndarray] = {}
        self.forward_seconds = 0.0
        self.asked: set[tuple[str | None, str]] = set()  # texts the current example has queried
        self.budget = None

    @property
    def queries(self) -> int:
        """Queries of the current example: distinct texts it asked for."""
        return len(self.asked)

    def start_example(self, budget: int | None) -> None:
        self.asked, self.budget = set(), budget

    def probabilities(self, texts: list[str], pair: str | None = None) -> np.ndarray:
        """Probabilities for each text (the second text of a pair when ``pair`` is given).

        Texts new to this example are its queries; when they would overrun the budget, only as
        many as the budget allows are taken and BudgetExhausted is raised after scoring them.
        Of the new texts, those no example has had scored yet go to the model in one call.
        """
        new = list(dict.fromkeys(t for t in texts if (pair, t) not in self.asked))
        over_budget = self.budget is not None and self.queries + len(new) > self.budget
        if over_budget:
            new = new[: max(0, self.budget - self.queries)]
        self.asked.update((pair, t) for t in new)
        missing = [t for t in new if (pair, t) not in self.cache]
        if missing:
            start = time.perf_counter()
            if pair is None:
                raw = self.model.predict_proba(missing)
            else:  # the attacked text is the pair's second one, as predict_proba(texts, text_pairs) takes it
                raw = self.model.predict_proba([pair] * len(missing), missing)
            self.forward_seconds += time.perf_counter() - start
            raw = check_probabilities(raw, len(missing), len(self.columns), self.name)
            for text, row in zip(missing, raw[:, self.columns]):
                self.cache[(pair, text)] = row
        if over_budget:
            raise BudgetExhausted()
        return np.stack([self.cache[(pair, t)] for t in texts])


def gold_probability(probabilities: np.ndarray, label: int) -> np.ndarray:
    return probabilities[:, label]


def is_success(probabilities: np.ndarray, label: int) -> np.ndarray:
    """Untargeted goal: the argmax is no longer the gold label."""
    return probabilities.argmax(axis=1) != label


def require_text(text: str, index: int, data_name: str) -> None:
    if not str(text).strip():
        raise LoyaltyError(f"example {index} of {data_name!r} has an empty text; an attack needs words to change. "
                           "Remove empty rows from the data")
