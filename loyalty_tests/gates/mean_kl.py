"""Mean KL: the mean per-token KL(teacher || student) in nats, at most ``max_mean_kl``
(clustered score interval over texts, longer above: see stats.clustered)."""

from __future__ import annotations

from .lm_tokens import max_mean_kl
from .result import GateResult

GATE = "mean_kl"


def check(result, thresholds, *, warn_only: bool = False, **_) -> GateResult:
    """``result``: a ``lm.token_loyalty.TokenLoyaltyResult``."""
    return max_mean_kl(result, thresholds, warn_only=warn_only)
