"""The model behind the attacks: a per-text output cache, per-example query budgets, the goal
(untargeted: the predicted label is no longer the gold one), and the lockstep scheduler that
lets one model call carry the queries of many examples.

A search is a generator (see ``search.py``): it yields the list of texts it wants scored and
receives their probabilities. ``run_lockstep`` keeps up to ``in_flight`` examples' searches
going at once; in every round it admits each example's request under that example's budget,
gathers the texts each example has not had scored yet into ONE ``predict_proba`` call, and sends
each search its rows. A query is counted per example, as a distinct text this example asked for.

In that call, our classifiers batch each example's texts on their own (``group_sizes``; sorted by
length, so padding stays short): an example's texts are never scored in a batch with another
example's, and never served from another example's outputs, so the batches a text is scored in
are a function of its own example's requests alone. So an example's result is bit for bit what
it is when attacked alone, whatever
``in_flight``, the order, the block or the engine (a Ray worker attacks a shard of examples on
its own). That matters: a transformer's last float bits follow the padding of its batch, and
dynamic int8 picks its activation scales per batch (1.7e-4 apart for one text alone or in a
batch of 16, enough to change which candidate a search keeps). The price is batch fill: a request
smaller than the batch size is no longer topped up with other examples' texts (the call count
stays one per round). A user's model without ``group_sizes`` gets the round's new texts in one
list, as before, and its outputs are shared between examples; its batching is its own.

A search may also yield an ``Encode`` request (the similarity check's windows, for the sentence
encoder): before each round's model call, every in-flight example waiting on an encoding gets it
from ONE ``encode`` call, over the de-duplicated windows of all of them (repeated while some
search asks again, e.g. when no candidate of a word passes and it moves to the next word). That
shares nothing an outcome depends on as long as the encoder gives each text the same vector
whatever else it encodes, which ``resources.SentenceEncoder`` makes sure of (its docstring says
how); an encoding costs no query and no budget.

Budget (as TextAttack counts it: every text sent to the model, the original included): a request
that would overrun the budget is cut to the texts the budget still allows, in order; the search
gets the rows of that prefix (it may still succeed with them, as in TextAttack) and the next
request that needs a new text raises BudgetExhausted inside the search, which ends as failed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field

import numpy as np

from ..errors import LoyaltyError
from ..predictions import check_probabilities, label_permutation

# Bump when a change alters what an attack finds: cached results of another version are never read.
# 5: TextAttack's candidate order, window vs the current text, budget cut, seed keyed by the text.
# 6: words split and deleted (for importance) as TextAttack splits and deletes them.
# 7: each example's texts scored in batches of their own (issue 17: batch-independent results).
# 8: sentence windows encoded together, unpadded (similarities move by at most 4e-7; no decision
#    changed on the benchmark sample, but a score that close to the threshold could).
ENGINE_VERSION = "8"
DEFAULT_IN_FLIGHT = 16  # examples whose searches advance together


@dataclass(frozen=True)
class Encode:
    """A search's request for the sentence encoder's vectors of ``texts`` (rows in that order);
    ``encoder`` is the object whose ``encode(texts)`` makes them. No model query, no budget."""

    encoder: object
    texts: tuple[str, ...]


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
        self.forward_seconds = 0.0  # inside predict_proba
        self.forward_calls = 0
        self.scored_texts = 0

    def score(self, keys: Iterable[tuple[str | None, str]]) -> float:
        """Score the (pair, text) keys not cached yet, longest first, one call per kind (single
        texts, pairs); returns the seconds spent in the model."""
        missing = sorted(
            {key for key in keys if key not in self.cache},
            key=lambda key: (-len(key[1]) - len(key[0] or ""), key[0] or "", key[1]),
        )
        seconds = 0.0
        for paired in (False, True):
            chunk = [key for key in missing if (key[0] is not None) == paired]
            if not chunk:
                continue
            texts = [text for _, text in chunk]
            start = time.perf_counter()
            # the attacked text is a pair's second one, as predict_proba(texts, text_pairs) takes it
            raw = self.model.predict_proba([p for p, _ in chunk], texts) if paired else self.model.predict_proba(texts)
            seconds += time.perf_counter() - start
            raw = check_probabilities(raw, len(chunk), len(self.columns), self.name)
            for key, row in zip(chunk, raw[:, self.columns]):
                self.cache[key] = row
            self.forward_calls += 1
            self.scored_texts += len(chunk)
        self.forward_seconds += seconds
        return seconds

    def score_requests(self, requests: list[tuple[Job, list[str]]]) -> None:
        """Score each job's texts that it has not had scored yet into the job's own outputs, all in
        ONE call whose batches never mix two jobs' texts (``group_sizes``: our classifiers); each job
        is charged the call's time in proportion to the texts it brought. A model without groups
        (a user's ``predict_proba`` object: its batching is its own) is called as before, on the
        texts no job has had scored, and outputs are shared through the run's cache."""
        if not getattr(self.model, "batches_within_groups", False):
            owners = {}  # each new text, charged to the first job that asked for it
            for job, texts in requests:
                for text in texts:
                    if (job.pair, text) not in self.cache:
                        owners.setdefault((job.pair, text), job)
            seconds = self.score(owners)
            for job in owners.values():
                job.seconds += seconds / len(owners)
            for job, texts in requests:
                job.outputs.update((text, self.cache[(job.pair, text)]) for text in texts)
            return
        groups = [
            (job, sorted((t for t in dict.fromkeys(texts) if t not in job.outputs), key=lambda t: (-len(t), t)))
            for job, texts in requests
        ]
        groups = [(job, new) for job, new in groups if new]
        if not groups:
            return
        texts = [text for _, new in groups for text in new]
        firsts = [job.pair for job, new in groups for _ in new]
        start = time.perf_counter()
        # the attacked text is a pair's second one, as predict_proba(texts, text_pairs) takes it
        raw = (
            self.model.predict_proba(firsts, texts, group_sizes=[len(new) for _, new in groups])
            if groups[0][0].pair is not None
            else self.model.predict_proba(texts, group_sizes=[len(new) for _, new in groups])
        )
        seconds = time.perf_counter() - start
        rows = iter(check_probabilities(raw, len(texts), len(self.columns), self.name)[:, self.columns])
        for job, new in groups:
            job.outputs.update((text, next(rows)) for text in new)
            job.seconds += seconds * len(new) / len(texts)
        self.forward_calls += 1
        self.scored_texts += len(texts)
        self.forward_seconds += seconds

    def probabilities(self, texts: list[str], pair: str | None = None) -> np.ndarray:
        """Probabilities for each text (the second text of a pair when ``pair`` is given); no budget."""
        self.score([(pair, text) for text in texts])
        return np.stack([self.cache[(pair, t)] for t in texts]) if texts else np.zeros((0, len(self.columns)))


@dataclass
class Job:
    """One example's search in the scheduler: its own budget, its own queries."""

    key: object  # the caller's handle (the dataset index)
    pair: str | None
    search: Generator  # yields list[str] (receives rows for a prefix) or Encode (its vectors); returns the outcome
    budget: int | None
    asked: set = field(default_factory=set)  # distinct texts this example has queried
    outputs: dict = field(default_factory=dict)  # text -> row, scored for this example alone
    request: list | Encode | None = None
    outcome: object = None
    seconds: float = 0.0  # its search steps, plus its share of the model calls it took part in

    @property
    def queries(self) -> int:
        return len(self.asked)

    @property
    def encoding(self) -> bool:
        """Whether the search waits on the sentence encoder (else on the classifier, or it is done)."""
        return isinstance(self.request, Encode)

    def step(self, action: Callable[[], list | Encode]) -> bool:
        """Run the search to its next request; False when it has finished (``outcome`` set)."""
        start = time.perf_counter()
        try:
            request = action()
            self.request = request if isinstance(request, Encode) else list(request)
            return True
        except StopIteration as stop:
            self.outcome, self.request = stop.value, None
            return False
        finally:
            self.seconds += time.perf_counter() - start

    def admit(self) -> int | None:
        """How many of the request's texts (a prefix) this example may have scored; texts new to it
        count against its budget. None when the search ended (BudgetExhausted raised in it)."""
        while True:
            new = [t for t in dict.fromkeys(self.request) if t not in self.asked]
            room = len(new) if self.budget is None else self.budget - len(self.asked)
            if new and room <= 0:
                if not self.step(lambda: self.search.throw(BudgetExhausted())):
                    return None
                continue
            self.asked.update(new[:room])
            served = 0
            for text in self.request:
                if text not in self.asked:
                    break
                served += 1
            return served


def check_in_flight(in_flight) -> int:
    if isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
        raise LoyaltyError(
            f"in_flight must be a whole number >= 1 (examples attacked at once; "
            f"--attack-in-flight N), got {in_flight!r}"
        )
    return in_flight


def run_lockstep(
    model: AttackedModel,
    jobs: Iterable[Job],
    *,
    in_flight: int = DEFAULT_IN_FLIGHT,
    on_done: Callable[[Job], None] = lambda job: None,
) -> None:
    """Drive the jobs' searches, up to ``in_flight`` at once, one model call per round (each
    example's texts in batches of their own), the round's encodings shared before it."""
    check_in_flight(in_flight)
    waiting, active = iter(jobs), []
    while True:
        while len(active) < in_flight:
            job = next(waiting, None)
            if job is None:
                break
            (active.append if job.step(lambda job=job: next(job.search)) else on_done)(job)
        active = serve_encodings(active, on_done)
        if not active:
            return
        served = {}
        for job in active:
            count = job.admit()
            if count is not None:
                served[id(job)] = count
        model.score_requests([(job, job.request[: served[id(job)]]) for job in active if id(job) in served])
        still = []
        for job in active:
            if id(job) not in served:
                on_done(job)
                continue
            texts = job.request[: served[id(job)]]
            rows = np.stack([job.outputs[t] for t in texts]) if texts else np.zeros((0, len(model.columns)))
            (still.append if job.step(lambda job=job, rows=rows: job.search.send(rows)) else on_done)(job)
        active = still


def serve_encodings(active: list[Job], on_done: Callable[[Job], None]) -> list[Job]:
    """Give every job waiting on the encoder its vectors, one ``encode`` call per pass over all of
    them, until none waits (each then waits on the classifier, or has finished); returns the jobs
    still searching, in order."""
    while any(job.encoding for job in active):
        vectors = encode_requests([job for job in active if job.encoding])
        still = []
        for job in active:
            if job.encoding:
                rows = vectors[id(job)]
                if not job.step(lambda job=job, rows=rows: job.search.send(rows)):
                    on_done(job)
                    continue
            still.append(job)
        active = still
    return active


def encode_requests(jobs: list[Job]) -> dict[int, np.ndarray]:
    """Each job's vectors (by ``id(job)``): ONE ``encode`` call per encoder on the distinct texts
    all its jobs asked for; each job is charged the call's time in proportion to its texts."""
    vectors = {}
    for encoder in {id(job.request.encoder): job.request.encoder for job in jobs}.values():
        asking = [job for job in jobs if job.request.encoder is encoder]
        texts = list(dict.fromkeys(text for job in asking for text in job.request.texts))
        start = time.perf_counter()
        encoded = dict(zip(texts, encoder.encode(texts)))
        seconds_per_text = (time.perf_counter() - start) / sum(len(job.request.texts) for job in asking)
        for job in asking:
            vectors[id(job)] = np.stack([encoded[text] for text in job.request.texts])
            job.seconds += seconds_per_text * len(job.request.texts)
    return vectors


def is_success(probabilities: np.ndarray, label: int) -> np.ndarray:
    """Untargeted goal: the argmax is no longer the gold label."""
    return probabilities.argmax(axis=1) != label


def example_rng(config, text: str, pair: str | None) -> random.Random:
    """The example's own random stream. Keyed by what makes the example (its text and pair), not
    by its position in the data, so an example gets the same result in any sample, block or
    order (a dataset index would change when the sample does). ``random.Random`` seeds a string
    through SHA-512, so the stream is the same in every process."""
    return random.Random(f"{config.seed}\x00{pair or ''}\x00{text}")


def require_text(text: str, index: int, data_name: str) -> None:
    if not str(text).strip():
        raise LoyaltyError(
            f"example {index} of {data_name!r} has an empty text; an attack needs words to change. "
            "Remove empty rows from the data"
        )
