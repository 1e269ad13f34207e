"""The generation agreement gate: the share of prompts whose greedy continuations are identical.

One prompt is one observation (its tokens are not independent), so the interval is Clopper-
Pearson's over prompts (a FAIL outcome at the limit stays under 2.5% at every n, as for label
loyalty) and an INCONCLUSIVE outcome says how many prompts would decide it in 80% of runs.
"""

from __future__ import annotations

from ..stats import intervals as stats
from ..stats.power import proportion_examples_for_power
from . import checks as gate_checks
from .thresholds import Threshold


def generation_agreement_gate(
    agreement, limit: Threshold, rule: gate_checks.Rule = gate_checks.Rule(), *, warn_only: bool = False
) -> gate_checks.GateResult:
    """``agreement.identical`` (a share with its CI) at least ``limit``; the failure line adds the
    mean first divergence in tokens.

    >>> from loyalty_tests.metrics import MetricValue
    >>> from types import SimpleNamespace
    >>> found = SimpleNamespace(identical=MetricValue(0.25, 0.10, 0.50, 16), max_new_tokens=16,
    ...                         mean_divergence=MetricValue(0.4, 0.2, 0.6, 16))
    >>> generation_agreement_gate(found, Threshold("min_generation_agreement", 0.5, "default")).passed
    False
    """
    share, n = agreement.identical.value, agreement.identical.n
    needed = None if limit.value is None else proportion_examples_for_power(round(share * n), n, limit.value)
    tokens = agreement.mean_divergence.value * agreement.max_new_tokens
    detail = (
        f" (greedy, {agreement.max_new_tokens} new tokens; mean first divergence at token {tokens:.1f} "
        f"of {agreement.max_new_tokens})"
    )
    return gate_checks.gate_metric(
        "generation_agreement",
        agreement.identical,
        limit.value,
        limit.source,
        stats.AT_LEAST,
        rule,
        warn_only=warn_only,
        needed=needed,
        unit="prompts",
        detail=detail,
    )


check = generation_agreement_gate  # the registry's entry point (gates.registry.Gate.check)
