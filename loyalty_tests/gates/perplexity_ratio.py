"""Perplexity ratio: exp(mean student NLL - mean teacher NLL) on the texts' own next tokens, at
most ``max_perplexity_ratio`` (clustered interval of the NLL difference, exponentiated)."""

from __future__ import annotations

from .lm_tokens import max_perplexity_ratio
from .result import GateResult

GATE = "perplexity_ratio"


def check(result, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    """``result``: a ``lm.token_loyalty.TokenLoyaltyResult``."""
    return max_perplexity_ratio(result, thresholds, warn_only=warn_only)
