"""What the token-loyalty gates of a causal-LM student share: ``token_agreement``, ``mean_kl`` and
``perplexity_ratio`` (one module each, with ``check``), each three-way from its clustered 95% CI
against its limit.

Pure functions over a ``lm.token_loyalty.TokenLoyaltyResult`` and the effective thresholds;
``checks.gate_metric`` makes the verdict, as for the classifier gates. The unit of ``n`` is
the text (the intervals resample texts, not tokens), so an undecided gate says how many texts
would decide it.
"""

from __future__ import annotations

from ..stats import intervals as stats
from ..stats import power
from .checks import gate_metric
from .result import GateResult, Rule
from .thresholds import Threshold

# gate name -> (summary metric, threshold key, direction)
LM_TOKEN_GATES = {
    "token_agreement": ("token_agreement", "min_token_agreement", stats.AT_LEAST),
    "mean_kl": ("mean_kl", "max_mean_kl", stats.AT_MOST),
    "perplexity_ratio": ("perplexity_ratio", "max_perplexity_ratio", stats.AT_MOST),
}


def lm_token_gate(gate: str, result, thresholds: dict[str, Threshold], *, warn_only: bool = False) -> GateResult:
    """``gate`` (one of ``LM_TOKEN_GATES``) on a token-loyalty result under ``thresholds``."""
    if gate not in LM_TOKEN_GATES:
        raise ValueError(f"unknown LM token gate {gate!r}; gates: {', '.join(LM_TOKEN_GATES)}")
    metric_name, key, direction = LM_TOKEN_GATES[gate]
    metric, limit = result.summary.get(metric_name), thresholds[key]
    summary = result.summary
    detail = (
        f" ({result.n_tokens} tokens in {result.n_texts} texts; same top-1 "
        f"{summary['token_agreement'].value:.3f}, mean KL {summary['mean_kl'].value:.4f} nats, "
        f"p99 KL {summary['p99_kl'].value:.3f})"
    )
    if gate == "mean_kl" and not result.info.get("exact", False):
        # the KL's tail is sampled from the cached teacher: say so, and how much error that adds
        detail = detail[:-1] + (
            f"; teacher's top {result.top_k} and {result.info.get('tail_samples')} tail samples per token cached, "
            f"sampling SE {result.summary['kl_sampling_se'].value:.4f} within the CI)"
        )
    needed = None
    if limit.value is not None and metric is not None and metric.ci_low is not None and metric.n:
        # an unbounded CI (one text, or a mean KL whose relative half-width reaches 1) gives None
        needed = power.normal_examples_for_power(
            metric.value, metric.ci_low, metric.ci_high, metric.n, float(limit.value)
        )
    return gate_metric(
        gate,
        metric,
        limit.value,
        limit.source,
        direction,
        Rule.from_thresholds(thresholds),
        warn_only=warn_only,
        needed=needed,
        unit="texts",
        detail=detail,
    )


def min_token_agreement(result, thresholds: dict[str, Threshold], **options):
    """Share of tokens where the student's top-1 next token is the teacher's, at least the limit."""
    return lm_token_gate("token_agreement", result, thresholds, **options)


def max_mean_kl(result, thresholds: dict[str, Threshold], **options):
    """Mean per-token KL(teacher || student) in nats, at most the limit."""
    return lm_token_gate("mean_kl", result, thresholds, **options)


def max_perplexity_ratio(result, thresholds: dict[str, Threshold], **options):
    """exp(mean student NLL - mean teacher NLL) on the texts' own next tokens, at most the limit."""
    return lm_token_gate("perplexity_ratio", result, thresholds, **options)
