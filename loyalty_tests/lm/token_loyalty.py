"""Token loyalty of a student LM to its teacher over a corpus, position by position.

``token_loyalty(teacher, student, texts)`` runs both models over the same token ids, batch by
batch, and compares their full next-token distributions (``tokens.full_teacher`` and
``tokens.token_statistics``): every statistic, KL included, is exact over the whole vocabulary.
With ``top_k=K`` the teacher runs once and its summary (top K, tail mass, S tokens drawn from
its tail) is cached, so a later run costs one student pass; the KL is then the top-K KL plus an
unbiased sampled estimate of what the tail adds (``tokens.kl_tail_estimate``; on SmolLM2-135M at
K = 32 the top-K part alone was 13-40% low), and its Monte Carlo standard error is reported.
The result keeps per-token values of a few scalars (O(tokens), never O(vocabulary)) and per-text
totals, and summarizes them with intervals that treat texts, not tokens, as the sampled unit
(``stats.clustered.cluster_ratio_interval``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import LoyaltyError
from ..metrics import MetricValue
from ..models.batching import batch_size_for
from ..stats.clustered import cluster_ratio_interval
from .model import check_same_kind, check_same_tokenizer
from .teacher_cache import next_token_logits, teacher_summaries, tokenize
from .tokens import STATISTICS, TAIL_SAMPLES, full_teacher, token_statistics

# float64 values per chunk of positions (2**20: 8 MiB, about 20 positions of a 49k vocabulary)
WORK_AREA = 1 << 20
# Which kind of mean each interval is for (see stats.clustered: it sets the score interval's working
# variance): shares "logit", positive means "log", differences "identity".
_SHARES = {"token_agreement": "same_top1", "top5_agreement": "top5", "probability_loyalty": "probability_loyalty"}


@dataclass(frozen=True)
class TokenLoyaltyResult:
    """Per-token values (``per_token[name]``, concatenated over texts; ``offsets`` splits them) and
    the corpus summary (``summary[name]``: a MetricValue with n = number of texts)."""

    teacher: str
    student: str
    top_k: int
    offsets: np.ndarray
    per_token: dict[str, np.ndarray]
    summary: dict[str, MetricValue]
    truncated_texts: int = 0
    teacher_from_cache: bool = False
    info: dict = field(default_factory=dict)

    @property
    def n_texts(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    def per_text(self, name: str) -> np.ndarray:
        """Mean of ``name`` within each text."""
        totals = np.add.reduceat(self.per_token[name], self.offsets[:-1])
        return totals / np.diff(self.offsets)

    def worst_texts(self, k: int = 5) -> list[tuple[int, float]]:
        """(text index, mean KL) of the ``k`` texts the student follows least."""
        means = self.per_text("kl")
        return [(int(i), float(means[i])) for i in np.argsort(-means, kind="stable")[:k]]


def summarize(
    per_token: dict[str, np.ndarray], offsets: np.ndarray, confidence: float = 0.95
) -> dict[str, MetricValue]:
    """Corpus summary of per-token statistics: means with clustered intervals, KL quantiles.

    >>> values = {name: np.zeros(4) for name in STATISTICS}
    >>> values.update(same_top1=np.ones(4), top5=np.ones(4), probability_loyalty=np.ones(4))
    >>> s = summarize(values, np.array([0, 2, 4]))
    >>> s["token_agreement"].value, s["mean_kl"].value, s["perplexity_ratio"].value
    (1.0, 0.0, 1.0)
    """
    counts = np.diff(offsets).astype(np.float64)
    groups = len(counts)

    def totals(values):
        return np.add.reduceat(values, offsets[:-1])

    def mean(values, transform, confidence=confidence):
        return cluster_ratio_interval(totals(values), counts, confidence, transform)

    summary = {}
    for name, statistic in _SHARES.items():
        summary[name] = MetricValue(*mean(per_token[statistic], "logit"), groups)
    kl = per_token["kl"]
    # a KL is never negative; a sampled tail's estimate can be, by rounding (a copy of the
    # teacher: -3e-9) or by chance, so the mean and its ends are read as at least 0
    summary["mean_kl"] = MetricValue(*(max(x, 0.0) for x in mean(kl, "log")), groups)
    for name, quantile in (("median_kl", 0.5), ("p99_kl", 0.99), ("max_kl", 1.0)):
        summary[name] = MetricValue(float(np.quantile(kl, quantile)), None, None, groups)
    square = mean(per_token["delta_p"] ** 2, "log")
    summary["rms_delta_p"] = MetricValue(*(math.sqrt(max(x, 0.0)) for x in square), groups)
    difference = mean(per_token["student_nll"] - per_token["teacher_nll"], "identity")
    summary["perplexity_ratio"] = MetricValue(*(math.exp(min(x, 700.0)) for x in difference), groups)
    for role in ("teacher", "student"):
        summary[f"{role}_perplexity"] = MetricValue(
            math.exp(min(float(per_token[f"{role}_nll"].mean()), 700.0)), None, None, groups
        )
    # what sampling the teacher's tail adds to the mean KL's error (0 when exact); inside the CI already
    sampling = math.sqrt(float(per_token["kl_variance"].sum())) / max(len(kl), 1)
    summary["kl_sampling_se"] = MetricValue(sampling, None, None, groups)
    return summary


def _text_statistics(teacher_rows, student_logits: np.ndarray, next_tokens: np.ndarray):
    """``token_statistics`` over one text, a few positions at a time: the float64 work area stays
    near ``WORK_AREA`` values (a few positions x vocabulary), whatever the vocabulary or text length.
    ``teacher_rows(start, stop)``: the teacher's ``TeacherSummary`` at those positions (the cached
    top-K summary's ``rows``, or ``_full_rows`` of its logits)."""
    rows = max(1, WORK_AREA // student_logits.shape[-1])
    parts = [
        token_statistics(
            teacher_rows(start, start + rows), student_logits[start : start + rows], next_tokens[start : start + rows]
        )
        for start in range(0, len(next_tokens), rows)
    ]
    return {name: np.concatenate([part[name] for part in parts]) for name in STATISTICS}


def _full_rows(teacher_logits: np.ndarray, next_tokens: np.ndarray, start: int, stop: int):
    """The teacher's whole distribution at positions ``start:stop`` (``tokens.full_teacher``)."""
    return full_teacher(teacher_logits[start:stop], next_tokens[start:stop])


def _side_by_side(teacher, student, tokenized, batch_size: int, progress) -> tuple[list, int]:
    """Per-text statistics and the vocabulary size: both models over the same batches in the same
    order, one batch of each held at a time."""
    per_text: list[dict[str, np.ndarray] | None] = [None] * len(tokenized.ids)
    vocabulary = 0
    teacher_rows = next_token_logits(teacher, "teacher", tokenized, batch_size, progress)
    student_rows = next_token_logits(student, "student", tokenized, batch_size, progress)
    for (index, teacher_logits, next_tokens), (same, student_logits, _) in zip(teacher_rows, student_rows):
        if teacher_logits.shape[-1] != student_logits.shape[-1]:
            raise LoyaltyError(
                f"teacher {teacher.name} scores {teacher_logits.shape[-1]} tokens and student {student.name} "
                f"{student_logits.shape[-1]}: token loyalty needs one vocabulary; give a student made from this teacher"
            )
        assert index == same, "teacher and student batches must line up"  # both batch by length alike
        teacher_rows = functools.partial(_full_rows, teacher_logits, next_tokens)
        per_text[index] = _text_statistics(teacher_rows, student_logits, next_tokens)
        vocabulary = student_logits.shape[-1]
    return per_text, vocabulary


def token_loyalty(
    teacher,
    student,
    texts: Sequence[str],
    *,
    top_k: int | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Callable[[str], None] | None = None,
    confidence: float = 0.95,
) -> TokenLoyaltyResult:
    """Compare ``student`` with ``teacher`` (both ``CausalLM``) token by token on ``texts``.

    top_k: None (default) runs the teacher beside the student and is exact; K keeps the teacher's
    top K tokens and ``tokens.TAIL_SAMPLES`` tail samples per position in a cache instead (the KL
    then an unbiased estimate, ``summary["kl_sampling_se"]`` its sampling error); batch_size: texts
    per forward pass (default: the student's); max_length: tokens kept per text (default: the
    smaller context limit, at most 512); cache_dir/use_cache: the teacher's top-K cache.
    """
    check_same_kind(teacher, student)
    check_same_tokenizer(teacher, student)
    # a dynamic-int8 student runs one text per pass (a naive int8 SmolLM2: mean KL 1.87 nats in
    # batches of 8, 1.56 with each text alone), whatever --loyalty-batch-size says
    batch_size = batch_size_for(student, int(batch_size or getattr(student, "batch_size", 8)))
    max_length = int(max_length or min(teacher.max_length, student.max_length, 512))
    tokenized = tokenize(teacher.tokenizer, texts, max_length)
    if top_k is None:
        (per_text, top_k), from_cache = _side_by_side(teacher, student, tokenized, batch_size, progress), False
        exact = True
    else:
        summaries, from_cache = teacher_summaries(
            teacher,
            tokenized,
            k=top_k,
            batch_size=batch_size,
            cache_dir=cache_dir,
            use_cache=use_cache,
            progress=progress,
        )
        per_text = [None] * len(tokenized.ids)
        for index, logits, next_tokens in next_token_logits(student, "student", tokenized, batch_size, progress):
            per_text[index] = _text_statistics(summaries[index].rows, logits, next_tokens)
        exact = all(summary.sample_ids.shape[-1] == 0 for summary in summaries)  # K covered the vocabulary
    per_token = {name: np.concatenate([values[name] for values in per_text]) for name in STATISTICS}
    offsets = np.concatenate([[0], np.cumsum(tokenized.observations)])
    return TokenLoyaltyResult(
        teacher.name,
        student.name,
        int(top_k),
        offsets,
        per_token,
        summarize(per_token, offsets, confidence),
        tokenized.truncated,
        from_cache,
        {
            "max_length": max_length,
            "batch_size": batch_size,
            "exact": exact,
            "tail_samples": 0 if exact else TAIL_SAMPLES,
        },
    )
