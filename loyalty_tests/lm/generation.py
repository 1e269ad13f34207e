"""Generation agreement: do teacher and student write the same greedy continuation?

Each prompt is tokenized as the tokenizer returns it (BOS in front where it adds one) and both
models continue it greedily (the arg-max token each step; ties go to the lowest id, so a run is
deterministic) for up to ``max_new_tokens`` tokens, stopping early at the tokenizer's EOS.
Per prompt: whether the two continuations are identical, and the first position where they
differ (in tokens, 0-based; ``max_new_tokens`` when identical: censored, the divergence lies
beyond what was generated). Reported as the share identical (Clopper-Pearson interval over
prompts, as the other proportion gates) and the mean first divergence as a fraction of
``max_new_tokens`` (``bounded_mean_interval`` over prompts); a prompt's tokens are never treated
as independent observations.

A Hugging Face model (``CausalLM.model``) decodes one prompt at a time with its key/value cache,
so nothing is padded. Any other model behind ``logits`` recomputes the whole sequence each step
(``max_new_tokens`` forwards per batch), padded on the right, where a causal model's outputs for
the real tokens do not change, each row's next token read at its own last position. Both paths
give the same tokens (tested).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..errors import LoyaltyError
from ..metrics import MetricValue
from ..stats.exact import clopper_pearson_interval
from ..stats.intervals import bounded_mean_interval


def greedy_continuations(model, prompts: Sequence[str], max_new_tokens: int, *, batch_size: int = 8) -> list[list[int]]:
    """The greedy continuation (token ids, EOS excluded) of every prompt."""
    import torch

    if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) or max_new_tokens < 1:
        raise LoyaltyError(
            f"max_new_tokens must be a whole number >= 1, got {max_new_tokens!r}; "
            "pass --loyalty-max-new-tokens 16 (or another positive number)"
        )
    room = model.max_length - max_new_tokens
    if room < 1:
        raise LoyaltyError(
            f"max_new_tokens {max_new_tokens} leaves no room for a prompt within model "
            f"{model.name!r}'s max_length {model.max_length}; generate fewer tokens"
        )
    eos = getattr(model.tokenizer, "eos_token_id", None)
    encoded = []
    for prompt in prompts:
        ids = list(model.tokenizer(prompt)["input_ids"])[-room:]  # the prompt's end is what leads on
        if not ids:
            raise LoyaltyError(f"prompt {prompt!r} has no tokens; generation needs a non-empty prompt")
        encoded.append(ids)
    if _has_key_value_cache(model):
        return [_greedy_cached(model, ids, max_new_tokens, eos, torch) for ids in encoded]
    continuations: list[list[int]] = [[] for _ in prompts]
    for start in range(0, len(encoded), batch_size):
        rows = list(range(start, min(start + batch_size, len(encoded))))
        active = list(rows)
        for _ in range(max_new_tokens):
            sequences = [encoded[i] + continuations[i] for i in active]
            width = max(len(s) for s in sequences)
            input_ids = torch.zeros((len(active), width), dtype=torch.long)
            attention_mask = torch.zeros((len(active), width), dtype=torch.long)
            for row, sequence in enumerate(sequences):
                input_ids[row, : len(sequence)] = torch.tensor(sequence)
                attention_mask[row, : len(sequence)] = 1
            with torch.inference_mode():
                logits = torch.as_tensor(model.logits(input_ids, attention_mask))
            last = torch.tensor([len(s) - 1 for s in sequences])
            chosen = logits[torch.arange(len(active)), last].argmax(dim=-1).tolist()
            still = []
            for i, token in zip(active, chosen):
                if token == eos:
                    continue
                continuations[i].append(int(token))
                still.append(i)
            active = still
            if not active:
                break
    return continuations


def _has_key_value_cache(model) -> bool:
    """A Hugging Face module behind the LM (``CausalLM.model``): it can reuse its keys and values."""
    module = getattr(model, "model", None)
    return module is not None and hasattr(module, "config") and hasattr(module, "forward")


def _greedy_cached(model, ids: list[int], max_new_tokens: int, eos, torch) -> list[int]:
    """One prompt, no padding: the prompt once, then one token per step with the model's key/value
    cache (what ``generate`` does), so a step costs one token's forward, not the whole sequence's."""
    import inspect

    device = getattr(model, "device", "cpu")
    # transformers 5 names the argument and output ``cache``; 4.x names them ``past_key_values``
    name = "cache" if "cache" in inspect.signature(model.model.forward).parameters else "past_key_values"
    generated: list[int] = []
    with torch.inference_mode():
        output = model.model(input_ids=torch.tensor([ids], device=device), use_cache=True)
        for _ in range(max_new_tokens):
            token = int(output.logits[0, -1].float().argmax())
            if token == eos:
                break
            generated.append(token)
            if len(generated) == max_new_tokens:
                break
            output = model.model(
                input_ids=torch.tensor([[token]], device=device), use_cache=True, **{name: getattr(output, name)}
            )
    return generated


def first_divergence(teacher: Sequence[int], student: Sequence[int], max_new_tokens: int) -> int:
    """The first position where two continuations differ; ``max_new_tokens`` when identical
    (one ending earlier differs where it ends).

    >>> first_divergence([5, 6, 7], [5, 9, 7], 3), first_divergence([5, 6], [5, 6], 3), first_divergence([5], [5, 6], 3)
    (1, 3, 1)
    """
    for position, (a, b) in enumerate(zip(teacher, student)):
        if a != b:
            return position
    return max_new_tokens if len(teacher) == len(student) else min(len(teacher), len(student))


@dataclass(frozen=True)
class GenerationAgreement:
    """Teacher and student continuations of the same prompts, and how far they agree."""

    prompts: tuple[str, ...]
    teacher_texts: tuple[str, ...]
    student_texts: tuple[str, ...]
    divergence: tuple[int, ...]  # first differing token per prompt; max_new_tokens when identical
    max_new_tokens: int
    identical: MetricValue  # share of prompts with identical continuations, Clopper-Pearson CI
    mean_divergence: MetricValue  # mean first divergence / max_new_tokens, bounded-mean CI
    extra: dict = field(default_factory=dict)

    def worst(self, k: int = 1) -> list[dict]:
        """The ``k`` earliest-diverging pairs, side by side (ties in prompt order)."""
        order = sorted(range(len(self.prompts)), key=lambda i: (self.divergence[i], i))
        return [
            {
                "prompt": self.prompts[i],
                "teacher": self.teacher_texts[i],
                "student": self.student_texts[i],
                "first_divergence": self.divergence[i],
            }
            for i in order[:k]
            if self.divergence[i] < self.max_new_tokens
        ]

    def to_row(self) -> dict:
        return {
            "n": len(self.prompts),
            "max_new_tokens": self.max_new_tokens,
            "identical": self.identical.value,
            "identical_ci": [self.identical.ci_low, self.identical.ci_high],
            "mean_first_divergence": self.mean_divergence.value,
            "mean_first_divergence_ci": [self.mean_divergence.ci_low, self.mean_divergence.ci_high],
            "mean_first_divergence_tokens": self.mean_divergence.value * self.max_new_tokens,
            "worst": self.worst(3),
        }


def generation_agreement(
    teacher, student, prompts: Sequence[str], *, max_new_tokens: int = 16, batch_size: int = 8
) -> GenerationAgreement:
    """Greedy continuations of ``prompts`` by both models, compared (see the module docstring)."""
    prompts = list(prompts)
    if not prompts:
        raise LoyaltyError("generation agreement needs at least one prompt; give a text corpus with --loyalty-data")
    teacher_ids = greedy_continuations(teacher, prompts, max_new_tokens, batch_size=batch_size)
    student_ids = greedy_continuations(student, prompts, max_new_tokens, batch_size=batch_size)
    return compare_continuations(teacher.tokenizer, prompts, teacher_ids, student_ids, max_new_tokens)


def compare_continuations(tokenizer, prompts, teacher_ids, student_ids, max_new_tokens: int) -> GenerationAgreement:
    """The agreement of continuations already generated (a teacher's are computed once per run)."""
    prompts = list(prompts)
    divergence = [first_divergence(t, s, max_new_tokens) for t, s in zip(teacher_ids, student_ids)]
    same = sum(d == max_new_tokens for d in divergence)
    fractions = np.array(divergence, dtype=np.float64) / max_new_tokens
    identical = MetricValue(
        same / len(prompts), *map(float, clopper_pearson_interval(same, len(prompts))), len(prompts)
    )
    mean = MetricValue(float(fractions.mean()), *map(float, bounded_mean_interval(fractions)), len(prompts))

    def decode(ids):
        return tuple(tokenizer.decode(i) for i in ids)

    return GenerationAgreement(
        tuple(prompts), decode(teacher_ids), decode(student_ids), tuple(divergence), max_new_tokens, identical, mean
    )


def format_side_by_side(rows: list[dict]) -> str:
    """The worst diverging pairs for a failure message."""
    lines = []
    for row in rows:
        lines.append(f"  prompt:  {row['prompt'][:120]!r} (first divergence at token {row['first_divergence']})")
        lines.append(f"  teacher: {row['teacher'][:160]!r}")
        lines.append(f"  student: {row['student'][:160]!r}")
    return "\n".join(lines)
