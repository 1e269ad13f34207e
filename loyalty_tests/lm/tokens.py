"""Token loyalty: how closely a student's next-token distributions follow its teacher's.

Pure numpy. A text's ids t1..tn give n-1 token observations: the distribution after t1..ti
predicts t(i+1). The teacher is summarized per position by its top-K log-probabilities, their
token ids (most likely first), the log of the remaining tail mass, S tokens drawn from its tail
with their log-probabilities, and its NLL of the actual next token (``summarize_teacher``), so
memory per token is O(K + S), never O(vocabulary); the student is scored against that summary
from its full log-probabilities (``token_statistics``). Per token:

- ``kl``: KL(teacher || student) in nats. The K top tokens plus one tail bucket give
  ``KL_K = sum_k p_k log(p_k / q_k) + P_T log(P_T / Q_T)``, a lower bound; the chain rule of KL
  says exactly what it misses, ``KL = KL_K + P_T KL(p_T || q_T)`` with ``p_T = p / P_T`` and
  ``q_T = q / Q_T`` the distributions within the teacher's tail. That last KL is an expectation
  over ``p_T``, estimated without bias by the mean of ``log(p_T,j / q_T,j)`` over the S tail
  samples (``kl_tail_estimate``). No deterministic bound helps here: a small LM spreads its mass
  (SmolLM2-135M keeps 27% of it outside its top 32 and 1.6% outside its top 4096 on movie
  reviews), and the worst case over every tail the top K allows averaged 7.6 nats at K = 32 and
  0.32 at K = 4096. With K = vocabulary size there is no tail and the KL is exact.
- ``kl_variance``: the Monte Carlo variance of that per-token estimate,
  ``P_T^2 s^2 / S`` (``s^2`` the tail samples' variance), 0 when exact: its mean over tokens
  gives the standard error the sampling adds to the mean KL (already inside the clustered
  interval, which sees the noise as spread between texts).
- ``same_top1``: the student's most likely token is the teacher's.
- ``top5``: the teacher's most likely token is among the student's 5 most likely.
- ``probability_loyalty``: 1 - sqrt(JSD(p, q)), JSD in log base 2 (the paper's probability
  loyalty, on the same K + 1 buckets).
- ``delta_p``: q(teacher's top token) - p(teacher's top token); its RMS is llama.cpp's "RMS Δp".
- ``teacher_nll``, ``student_nll``: -log p(actual next token); perplexity ratio =
  exp(mean student NLL - mean teacher NLL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STATISTICS = (
    "kl",
    "same_top1",
    "top5",
    "probability_loyalty",
    "delta_p",
    "teacher_nll",
    "student_nll",
    "kl_variance",
)
TAIL_SAMPLES = 32  # S: tokens drawn from the teacher's tail per position (SmolLM2: a 3% error per token in the mean KL)


def log_softmax(logits) -> np.ndarray:
    """Log-probabilities along the last axis, in float64.

    >>> np.round(np.exp(log_softmax(np.array([0.0, np.log(3.0)]))), 4).tolist()
    [0.25, 0.75]
    """
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _logsumexp(values: np.ndarray) -> np.ndarray:
    top = values.max(axis=-1, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(values - safe).sum(axis=-1, keepdims=True)) + safe)[..., 0]


def _tail_logmass(logprobs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """log of the probability outside ``ids`` per row, summed directly (never 1 - sum, which loses
    everything below 1e-16 when the top tokens hold almost all the mass)."""
    masked = logprobs.copy()
    np.put_along_axis(masked, ids, -np.inf, axis=-1)
    return _logsumexp(masked)


@dataclass(frozen=True)
class TeacherSummary:
    """The teacher at n positions: top-K log-probabilities [n, K] (descending) with their token
    ids [n, K], the log tail mass [n], the NLL of the actual next token [n], and S token ids
    drawn from the tail [n, S] with their log-probabilities [n, S] (S = 0 when there is no tail
    or no sampling)."""

    top_logprobs: np.ndarray
    top_ids: np.ndarray
    tail_logmass: np.ndarray
    nll: np.ndarray
    sample_ids: np.ndarray
    sample_logprobs: np.ndarray

    FIELDS = ("top_logprobs", "top_ids", "tail_logmass", "nll", "sample_ids", "sample_logprobs")

    def __len__(self) -> int:
        return len(self.nll)

    def rows(self, start: int, stop: int) -> TeacherSummary:
        """Positions ``start:stop``."""
        return TeacherSummary(*(getattr(self, name)[start:stop] for name in self.FIELDS))


def summarize_teacher(
    teacher_logits, next_tokens, k: int, samples: int = TAIL_SAMPLES, seed: int = 0
) -> TeacherSummary:
    """Top-K summary of teacher logits [n, vocab] at positions whose actual next ids are
    ``next_tokens``, with ``samples`` tokens per position drawn (seeded) from the teacher's tail.

    Ties are broken toward the lower token id, as ``np.argmax`` does.

    >>> s = summarize_teacher(np.log([[0.5, 0.3, 0.2]]), [2], k=1, samples=4)
    >>> s.top_ids.tolist(), np.round(np.exp(s.tail_logmass), 4).tolist(), np.round(s.nll, 4).tolist()
    ([[0]], [0.5], [1.6094])
    >>> sorted(set(s.sample_ids[0].tolist())) <= [1, 2]  # drawn from the tail only
    True
    """
    logprobs = log_softmax(teacher_logits)
    k = min(int(k), logprobs.shape[-1])
    # a stable sort of -logprob keeps equal values in id order, like np.argmax
    top_ids = np.argsort(-logprobs, axis=-1, kind="stable")[:, :k]
    next_tokens = np.asarray(next_tokens, dtype=np.int64)
    nll = -np.take_along_axis(logprobs, next_tokens[:, None], axis=-1)[:, 0]
    tail_logmass = _tail_logmass(logprobs, top_ids)
    sample_ids = _tail_samples(logprobs, top_ids, tail_logmass, samples if k < logprobs.shape[-1] else 0, seed)
    # float64 log-probabilities (float32 would cost 1e-6 nats on an NLL of 40), int32 ids: what the
    # cache stores, so a cached teacher gives bit-identical results; 12 (K + S) + 16 bytes per token
    return TeacherSummary(
        np.take_along_axis(logprobs, top_ids, axis=-1),
        top_ids.astype(np.int32),
        tail_logmass,
        nll,
        sample_ids.astype(np.int32),
        np.take_along_axis(logprobs, sample_ids, axis=-1),
    )


def _tail_samples(logprobs: np.ndarray, top_ids: np.ndarray, tail_logmass: np.ndarray, samples: int, seed: int):
    """[n, samples] token ids drawn with replacement from the teacher's distribution within its
    tail (the top ids excluded), by inverting each row's cumulative tail probabilities; one seeded
    generator for the block, so the same logits and seed give the same draws."""
    rows = len(logprobs)
    if samples <= 0 or rows == 0:
        return np.zeros((rows, 0), dtype=np.int64)
    # p / P_T, top ids zeroed next; a row with no tail mass at all (its other logits -inf) draws
    # uniformly, and its P_T = 0 weighs those draws out of the KL
    empty_tail = ~np.isfinite(tail_logmass)
    within = np.exp(logprobs - np.where(empty_tail, 0.0, tail_logmass)[:, None])
    within[empty_tail] = 1.0
    np.put_along_axis(within, top_ids, 0.0, axis=-1)
    cumulative = np.cumsum(within, axis=-1)
    cumulative /= cumulative[:, -1:]  # exactly 1 at the end despite rounding
    uniform = np.random.default_rng(seed).random((rows, samples))
    # one searchsorted over all rows: row r's cumulative values shifted into [r, r + 1]
    offsets = np.arange(rows, dtype=np.float64)[:, None]
    flat = np.searchsorted((cumulative + offsets).ravel(), (uniform + offsets).ravel(), side="right")
    ids = flat.reshape(rows, samples) - np.arange(rows)[:, None] * logprobs.shape[-1]
    return np.clip(ids, 0, logprobs.shape[-1] - 1)


def full_teacher(teacher_logits, next_tokens) -> TeacherSummary:
    """The teacher's whole distribution as a summary with K = vocabulary: every statistic of
    ``token_statistics`` is then exact (no tail, no samples, ``kl_variance`` 0). Column 0 holds the teacher's
    top-1 token (ties toward the lower id, as ``np.argmax``); the other columns need no order, so
    this costs O(vocabulary) per position, not a sort.

    >>> s = full_teacher(np.log([[0.2, 0.5, 0.3]]), [2])
    >>> s.top_ids.tolist(), np.isneginf(s.tail_logmass).tolist(), np.round(s.nll, 4).tolist()
    ([[1, 0, 2]], [True], [1.204])
    """
    logprobs = log_softmax(teacher_logits)
    rows, vocabulary = logprobs.shape
    top = logprobs.argmax(-1)
    ids = np.tile(np.arange(vocabulary, dtype=np.int64), (rows, 1))
    ids[np.arange(rows), top] = 0  # the top token and token 0 swap places
    ids[:, 0] = top
    next_tokens = np.asarray(next_tokens, dtype=np.int64)
    nll = -np.take_along_axis(logprobs, next_tokens[:, None], axis=-1)[:, 0]
    empty = np.zeros((rows, 0))
    return TeacherSummary(
        np.take_along_axis(logprobs, ids, axis=-1), ids, np.full(rows, -np.inf), nll, empty.astype(np.int64), empty
    )


def _xlogy_over(p: np.ndarray, log_p: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """p (log p - log q) with 0 log 0 = 0."""
    with np.errstate(invalid="ignore"):
        return np.where(p > 0, p * (log_p - log_q), 0.0)


def token_statistics(teacher: TeacherSummary, student_logits, next_tokens) -> dict[str, np.ndarray]:
    """Per-token statistics (see the module docstring) of a student's logits [n, vocab] against
    the teacher's summary at the same n positions.

    >>> t = np.log([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    >>> s = np.log([[0.6, 0.3, 0.1], [0.5, 0.2, 0.3]])
    >>> stats = token_statistics(summarize_teacher(t, [0, 2], k=3), s, [0, 2])
    >>> np.round(stats["kl"], 4).tolist(), stats["same_top1"].tolist(), stats["top5"].tolist()
    ([0.0268, 0.5544], [1.0, 0.0], [1.0, 1.0])
    """
    logits = np.asarray(student_logits)
    if logits.dtype not in (np.float32, np.float64):
        logits = logits.astype(np.float64)
    # Only a few passes over [n, vocabulary], all in the logits' own dtype (this is the per-token
    # cost of a student run): the normalizer log Z (sums accumulated in float64), argmax, rank and
    # minimum, which log_softmax leaves in the same order as the logits.
    largest = logits.max(-1)
    log_z = largest + np.log(np.exp(logits - largest[:, None].astype(logits.dtype)).sum(-1, dtype=np.float64))
    next_tokens = np.asarray(next_tokens, dtype=np.int64)
    top_ids = teacher.top_ids.astype(np.int64)
    log_p = teacher.top_logprobs.astype(np.float64)
    log_q = np.take_along_axis(logits, top_ids, axis=-1).astype(np.float64) - log_z[:, None]
    p, q = np.exp(log_p), np.exp(log_q)
    log_p_tail, log_q_tail = teacher.tail_logmass.astype(np.float64), _student_tail(logits, log_z, q, top_ids)
    p_tail, q_tail = np.exp(log_p_tail), np.exp(log_q_tail)
    kl = _xlogy_over(p, log_p, log_q).sum(-1) + _xlogy_over(p_tail, log_p_tail, log_q_tail)
    within, variance = kl_tail_estimate(teacher, logits, log_z, log_q_tail)
    teacher_top = top_ids[:, 0]
    rank = (logits > np.take_along_axis(logits, teacher_top[:, None], axis=-1)).sum(-1)  # tokens above it
    return {
        # KL_K >= 0 (rounding can leave -1e-17); the sampled tail term is unbiased, so never clipped
        "kl": np.maximum(kl, 0.0) + p_tail * within,
        "same_top1": (logits.argmax(-1) == teacher_top).astype(np.float64),
        "top5": (rank < 5).astype(np.float64),
        "probability_loyalty": 1.0 - np.sqrt(_jsd_base2(np.column_stack([p, p_tail]), np.column_stack([q, q_tail]))),
        "delta_p": q[:, 0] - p[:, 0],
        "teacher_nll": teacher.nll.astype(np.float64),
        "student_nll": log_z - np.take_along_axis(logits, next_tokens[:, None], axis=-1)[:, 0].astype(np.float64),
        "kl_variance": p_tail**2 * variance,
    }


def _student_tail(logits: np.ndarray, log_z: np.ndarray, q: np.ndarray, top_ids: np.ndarray) -> np.ndarray:
    """log Q_tail = log(1 - sum of q over the teacher's top ids); rows where that difference is
    too small to trust in floating point (under 1e-6) are summed over the tail directly."""
    rest = 1.0 - q.sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_tail = np.log(np.maximum(rest, 0.0))
    exact = np.flatnonzero(rest < 1e-6)
    if len(exact) and top_ids.shape[-1] < logits.shape[-1]:
        masked = logits[exact].astype(np.float64)
        np.put_along_axis(masked, top_ids[exact], -np.inf, axis=-1)
        log_tail[exact] = _logsumexp(masked) - log_z[exact]
    elif top_ids.shape[-1] >= logits.shape[-1]:
        log_tail[:] = -np.inf
    return log_tail


def _jsd_base2(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    m = (p + q) / 2
    with np.errstate(divide="ignore"):
        log_p, log_q, log_m = np.log(p), np.log(q), np.log(m)
    jsd = 0.5 * _xlogy_over(p, log_p, log_m).sum(-1) + 0.5 * _xlogy_over(q, log_q, log_m).sum(-1)
    return np.clip(jsd / np.log(2), 0.0, 1.0)


def kl_tail_estimate(teacher: TeacherSummary, logits: np.ndarray, log_z: np.ndarray, log_q_tail: np.ndarray):
    """(estimate of KL(p_T || q_T) per token, the variance of that estimate) from the teacher's S
    tail samples: the mean over samples of ``log(p_j / P_T) - log(q_j / Q_T)``, an unbiased
    estimate of the KL within the tail (module docstring); its variance is the samples' variance
    over S. Both 0 where the summary has no samples (an exact teacher, or no tail).

    >>> t = np.log([[0.6, 0.2, 0.1, 0.1]])
    >>> teacher = summarize_teacher(t, [0], k=1, samples=20000)
    >>> s = np.log([[0.5, 0.3, 0.1, 0.1]])
    >>> sampled = float(token_statistics(teacher, s, [0])["kl"][0])
    >>> exact = float((np.exp(t) * (t - s)).sum())
    >>> abs(sampled - exact) < 0.003, round(exact, 4)
    (True, 0.0283)
    """
    samples = teacher.sample_ids.shape[-1]
    if samples == 0:
        zeros = np.zeros(len(logits))
        return zeros, zeros
    ids = teacher.sample_ids.astype(np.int64)
    log_q = np.take_along_axis(logits, ids, axis=-1).astype(np.float64) - log_z[:, None]
    with np.errstate(invalid="ignore"):  # -inf - -inf where the teacher has no tail, zeroed next
        ratios = (teacher.sample_logprobs - teacher.tail_logmass[:, None]) - (log_q - log_q_tail[:, None])
    ratios[~np.isfinite(teacher.tail_logmass)] = 0.0  # no teacher tail: nothing to add
    variance = ratios.var(axis=-1, ddof=1) / samples if samples > 1 else np.zeros(len(logits))
    return ratios.mean(axis=-1), variance
