"""Log-likelihood of a continuation after a context, batched: how a causal LM answers a choice.

lm-evaluation-harness's convention: the context and context + continuation are tokenized
separately, and only the tokens of the whole beyond the context's length are scored, each given
everything before it. A context's trailing whitespace moves to the continuation first
(``"Sentiment: " + "positive"`` is scored as ``"Sentiment:" + " positive"``), because most
tokenizers glue a space to the word after it. Special tokens the tokenizer puts in front of a
text (Llama's BOS) are kept in front; ones it appends (an EOS) are not, since scoring the
continuation must not score an end-of-text token the choice does not contain.

Batches are padded on the right. A causal model's position ``i`` attends to positions ``<= i``
only, so padding after a sequence changes none of its logits and positions count from 0 as they
would alone; ``tests/test_lm_choices.py`` checks a text scored alone and in a batch agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import LoyaltyError


@dataclass(frozen=True)
class Request:
    """One (context, continuation) pair as token ids: ``ids[:n_context]`` is the context."""

    ids: tuple[int, ...]
    n_context: int


def split_whitespace(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the front of the continuation.

    >>> split_whitespace("Sentiment: ", "positive")
    ('Sentiment:', ' positive')
    """
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def front_special_ids(tokenizer) -> list[int]:
    """The ids the tokenizer puts before every text (e.g. BOS), found by comparing an encoding
    with and without special tokens; ``[]`` for a tokenizer that adds nothing in front."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    for start in range(len(full) - len(plain) + 1):
        if full[start : start + len(plain)] == plain:
            return list(full[:start])
    return []


def encode_requests(tokenizer, pairs: Sequence[tuple[str, str]], max_length: int, model_name: str) -> list[Request]:
    """Token ids of every (context, continuation); over-long ones keep their last ``max_length``
    tokens (the continuation and the context nearest it), as lm-evaluation-harness does."""
    front = front_special_ids(tokenizer)
    requests = []
    for context, continuation in pairs:
        context, continuation = split_whitespace(context, continuation)
        context_ids = front + tokenizer(context, add_special_tokens=False)["input_ids"]
        whole = front + tokenizer(context + continuation, add_special_tokens=False)["input_ids"]
        n_context = len(context_ids)
        if n_context == 0:
            raise LoyaltyError(
                f"model {model_name!r}: an empty prompt leaves nothing to predict the choice "
                f"{continuation!r} from (its tokenizer adds no BOS token); give every question a prompt"
            )
        if len(whole) <= n_context:
            raise LoyaltyError(
                f"model {model_name!r}: the choice {continuation!r} after {context[-40:]!r} has no "
                "tokens of its own; choices must be non-empty text"
            )
        if len(whole) - n_context >= max_length:
            raise LoyaltyError(
                f"model {model_name!r}: the choice {continuation[:40]!r} is {len(whole) - n_context} "
                f"tokens, no room for a prompt within max_length {max_length}; shorten the choices "
                "or raise --loyalty-max-length"
            )
        cut = max(0, len(whole) - max_length)
        requests.append(Request(tuple(whole[cut:]), n_context - cut))
    return requests


def continuation_logprobs(model, pairs: Sequence[tuple[str, str]], *, batch_size: int = 8) -> np.ndarray:
    """Summed log-probability (nats) of each continuation after its context, one forward per batch.

    ``model`` is a causal LM (``tokenizer``, ``max_length``, ``logits(input_ids, attention_mask)``).
    Identical requests are scored once. Returns ``(log_prob_sum, n_tokens)`` rows as float64.
    A dynamic-int8 model is given one request per forward: its activation scales follow the batch.
    """
    import torch

    from ..models.batching import batch_size_for

    batch_size = batch_size_for(model, batch_size)
    requests = encode_requests(model.tokenizer, pairs, model.max_length, model.name)
    unique = list(dict.fromkeys(requests))
    scores = {}
    order = sorted(range(len(unique)), key=lambda i: -len(unique[i].ids))  # similar lengths share a batch
    for start in range(0, len(order), batch_size):
        batch = [unique[i] for i in order[start : start + batch_size]]
        for request, score in zip(batch, _score_batch(model, batch, torch)):
            scores[request] = score
    return np.array([(scores[r], len(r.ids) - r.n_context) for r in requests], dtype=np.float64).reshape(-1, 2)


def _score_batch(model, batch: list[Request], torch) -> list[float]:
    width = max(len(r.ids) for r in batch)
    input_ids = torch.zeros((len(batch), width), dtype=torch.long)  # pad id 0: masked, and after the text
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, request in enumerate(batch):
        input_ids[row, : len(request.ids)] = torch.tensor(request.ids)
        attention_mask[row, : len(request.ids)] = 1
    with torch.inference_mode():
        logits = torch.as_tensor(model.logits(input_ids, attention_mask))
    scores = []
    for row, request in enumerate(batch):
        # positions n_context-1 .. end-2 predict the continuation's tokens n_context .. end-1
        positions = logits[row, request.n_context - 1 : len(request.ids) - 1].double()
        targets = input_ids[row, request.n_context : len(request.ids)]
        log_probs = torch.log_softmax(positions, dim=-1).gather(1, targets[:, None])
        scores.append(float(log_probs.sum()))
    return scores
