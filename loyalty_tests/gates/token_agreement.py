"""Token agreement: the share of tokens on which the student's most likely next token is the
teacher's (llama.cpp's "same top p"), at least ``min_token_agreement`` (clustered interval over texts)."""

from __future__ import annotations

from .lm_tokens import min_token_agreement
from .result import GateResult

GATE = "token_agreement"


def check(result, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    """``result``: a ``lm.token_loyalty.TokenLoyaltyResult``."""
    return min_token_agreement(result, thresholds, warn_only=warn_only)
