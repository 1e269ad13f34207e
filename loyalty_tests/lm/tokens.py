"""Token loyalty: how closely a student's next-token distributions follow its teacher's.

Pure numpy. A text's ids t1..tn give n-1 token observations: the distribution after t1..ti
predicts t(i+1). The teacher is summarized per position by its top-K log-probabilities, their
token ids (most likely first), the log of the remaining tail mass and its NLL of the actual next
token (``summarize_teacher``), so memory per token is O(K), never O(vocabulary); the student is
scored against that summary from its full log-probabilities (``token_statistics``). Per token:

- ``kl``: KL(teacher || student) in nats over the K top tokens plus one tail bucket,
  ``sum_k p_k log(p_k / q_k) + P_tail log(P_tail / Q_tail)``. See ``kl_tail_bound`` for how far it
  can sit below the full-vocabulary KL; with K = vocabulary size both are equal.
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
    "kl_tail_bound",
)


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
    ids [n, K], the log tail mass [n] and the NLL of the actual next token [n]."""

    top_logprobs: np.ndarray
    top_ids: np.ndarray
    tail_logmass: np.ndarray
    nll: np.ndarray

    def __len__(self) -> int:
        return len(self.nll)

    def rows(self, start: int, stop: int) -> TeacherSummary:
        """Positions ``start:stop``."""
        return TeacherSummary(
            self.top_logprobs[start:stop], self.top_ids[start:stop], self.tail_logmass[start:stop], self.nll[start:stop]
        )


def summarize_teacher(teacher_logits, next_tokens, k: int) -> TeacherSummary:
    """Top-K summary of teacher logits [n, vocab] at positions whose actual next ids are ``next_tokens``.

    Ties are broken toward the lower token id, as ``np.argmax`` does.

    >>> s = summarize_teacher(np.log([[0.5, 0.3, 0.2]]), [2], k=1)
    >>> s.top_ids.tolist(), np.round(np.exp(s.tail_logmass), 4).tolist(), np.round(s.nll, 4).tolist()
    ([[0]], [0.5], [1.6094])
    """
    logprobs = log_softmax(teacher_logits)
    k = min(int(k), logprobs.shape[-1])
    # a stable sort of -logprob keeps equal values in id order, like np.argmax
    top_ids = np.argsort(-logprobs, axis=-1, kind="stable")[:, :k]
    next_tokens = np.asarray(next_tokens, dtype=np.int64)
    nll = -np.take_along_axis(logprobs, next_tokens[:, None], axis=-1)[:, 0]
    # float64 log-probabilities (float32 would cost 1e-6 nats on an NLL of 40), int32 ids: what the
    # cache stores, so a cached teacher gives bit-identical results; 12 K + 16 bytes per token
    return TeacherSummary(
        np.take_along_axis(logprobs, top_ids, axis=-1), top_ids.astype(np.int32), _tail_logmass(logprobs, top_ids), nll
    )


def full_teacher(teacher_logits, next_tokens) -> TeacherSummary:
    """The teacher's whole distribution as a summary with K = vocabulary: every statistic of
    ``token_statistics`` is then exact (no tail, ``kl_tail_bound`` 0). Column 0 holds the teacher's
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
    return TeacherSummary(np.take_along_axis(logprobs, ids, axis=-1), ids, np.full(rows, -np.inf), nll)


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
    teacher_top = top_ids[:, 0]
    rank = (logits > np.take_along_axis(logits, teacher_top[:, None], axis=-1)).sum(-1)  # tokens above it
    return {
        "kl": np.maximum(kl, 0.0),  # rounding can leave -1e-17
        "same_top1": (logits.argmax(-1) == teacher_top).astype(np.float64),
        "top5": (rank < 5).astype(np.float64),
        "probability_loyalty": 1.0 - np.sqrt(_jsd_base2(np.column_stack([p, p_tail]), np.column_stack([q, q_tail]))),
        "delta_p": q[:, 0] - p[:, 0],
        "teacher_nll": teacher.nll.astype(np.float64),
        "student_nll": log_z - np.take_along_axis(logits, next_tokens[:, None], axis=-1)[:, 0].astype(np.float64),
        "kl_tail_bound": _tail_bound(teacher, logits, log_z, log_q_tail),
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


def _tail_bound(teacher: TeacherSummary, logits: np.ndarray, log_z: np.ndarray, log_q_tail: np.ndarray):
    """``kl_tail_bound`` from the logits: the student's smallest tail probability is its smallest
    probability overall unless that token is one of the teacher's top K (then searched without them)."""
    top_ids = teacher.top_ids.astype(np.int64)
    if top_ids.shape[-1] >= logits.shape[-1]:
        return np.zeros(len(logits))
    smallest_id = logits.argmin(-1)
    smallest = np.take_along_axis(logits, smallest_id[:, None], axis=-1)[:, 0].astype(np.float64)
    clash = np.flatnonzero((top_ids == smallest_id[:, None]).any(-1))
    if len(clash):
        masked = logits[clash].astype(np.float64)
        np.put_along_axis(masked, top_ids[clash], np.inf, axis=-1)
        smallest[clash] = masked.min(-1)
    return kl_tail_bound(teacher, smallest - log_z - log_q_tail)


def _jsd_base2(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    m = (p + q) / 2
    with np.errstate(divide="ignore"):
        log_p, log_q, log_m = np.log(p), np.log(q), np.log(m)
    jsd = 0.5 * _xlogy_over(p, log_p, log_m).sum(-1) + 0.5 * _xlogy_over(q, log_q, log_m).sum(-1)
    return np.clip(jsd / np.log(2), 0.0, 1.0)


def kl_tail_bound(teacher: TeacherSummary, log_m: np.ndarray) -> np.ndarray:
    """How far the top-K + tail KL can sit below the full-vocabulary KL, per token.

    Merging the tail tokens T into one bucket loses exactly (chain rule of KL)
    ``KL_full - KL_K = P_T * KL(p_T || q_T)``, where ``p_T = p / P_T`` and ``q_T = q / Q_T`` are
    the distributions within the tail; it is >= 0 (so the cached KL never overstates the full one).
    The teacher's tail is not stored, but every tail token has ``p_j <= p_(K)`` (the smallest
    stored top-K probability), so ``p_T,j <= c = min(1, p_(K) / P_T)``; with ``m`` the student's
    smallest tail probability within its tail, ``sum_j p_T,j log(p_T,j / q_T,j) <= log(c / m)``. So

        0 <= KL_full - KL_K <= P_T * max(0, log(c / m)).

    The bound is small when the teacher keeps little mass outside its top K (the usual case for
    an LM at K = 32), and 0 when K covers the vocabulary. ``log_m``: log of ``m`` per token.
    It is a worst case over every teacher tail the summary allows, so it is loose on
    high-entropy text: on SmolLM2-135M and 16 movie-review sentences at K = 32 it averaged 7.6
    nats, while the measured gap was 0.002 (int8-weight student: top-32 KL 0.0033 vs full 0.0052)
    and 0.21 (naive int8: 1.35 vs 1.56). The top-K KL is a lower bound of the full one, here
    65-87% of it; ``benchmarks/bench_lm_tokens.py --real --real-gap`` measures it.
    """
    p_tail = np.exp(teacher.tail_logmass.astype(np.float64))
    with np.errstate(divide="ignore"):
        log_c = np.minimum(0.0, teacher.top_logprobs[:, -1].astype(np.float64) - np.log(p_tail))
    return np.where(p_tail > 0, p_tail * np.maximum(0.0, log_c - log_m), 0.0)
