"""Gate thresholds and decision settings: their defaults, valid ranges, and where each effective
value came from.

Precedence: default < ini (``loyalty_*`` in ``[tool.pytest.ini_options]``) < command line
(``--loyalty-*``) < ``@pytest.mark.loyalty(...)`` on a test. Every value keeps its source so the
report header and each failure line can say why a threshold is what it is. A value outside its
range (a loyalty of 1.5, a speedup of 0) is refused with the range: such a gate could never pass,
or never fail.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import LoyaltyError
from ..infra.suggest import did_you_mean

DECISION_RULES = ("estimate", "confident", "three-way")
INCONCLUSIVE_POLICIES = ("fail", "warn", "pass")


@dataclass(frozen=True)
class ThresholdSpec:
    key: str
    default: float | bool | str | None
    kind: type
    help: str
    low: float | None = None  # inclusive range for numbers
    high: float | None = None
    choices: tuple[str, ...] = ()  # for words


def _fraction(key, default, help_text):
    return ThresholdSpec(key, default, float, help_text, 0.0, 1.0)


THRESHOLD_SPECS = {
    spec.key: spec
    for spec in (
        _fraction(
            "max_accuracy_drop",
            0.02,
            "largest allowed accuracy drop, teacher minus student, absolute (0.02 = 2 points)",
        ),
        _fraction(
            "max_accuracy_drop_relative",
            None,
            "largest allowed accuracy drop relative to the teacher's accuracy (0.03 = 3 percent); unset: not gated",
        ),
        _fraction(
            "min_label_loyalty",
            0.90,
            "smallest allowed label loyalty: share of examples where student and teacher predict the same label",
        ),
        _fraction(
            "min_probability_loyalty",
            0.85,
            "smallest allowed probability loyalty: mean of 1 - sqrt(JSD base 2) between their probabilities",
        ),
        _fraction(
            "max_negative_flip_rate",
            0.05,
            "largest allowed negative flip rate: share of all examples the teacher gets right and the "
            "student gets wrong (Yan et al. 2021)",
        ),
        _fraction(
            "min_label_share_ratio",
            0.5,
            "collapse gate: for every label, student's share of predictions >= this times the teacher's",
        ),
        ThresholdSpec(
            "max_kl_divergence",
            None,
            float,
            "largest allowed mean KL(teacher || student) in nats; unset: the kl_divergence gate is not collected",
            low=0.0,
            high=1e6,
        ),
        ThresholdSpec(
            "min_speedup",
            0.90,
            float,
            "smallest allowed latency ratio teacher/student, timed side by side in this run (0.90: a "
            "student as fast as its teacher passes despite timing noise; raise it to demand a faster one)",
            low=1e-6,
            high=1e6,
        ),
        _fraction(
            "max_robustness_drop",
            0.10,
            "with --attack: largest allowed fall of accuracy under attack, teacher minus student, "
            "on the same attacked examples",
        ),
        ThresholdSpec(
            "max_margin_drop",
            0.5,
            float,
            "with --attack: largest allowed fall of the robustness margin (words the attack perturbs to flip "
            "an example, censored at the recipe's bound), teacher minus student, on the examples both got right",
            low=0.0,
            high=1e6,
        ),
        _fraction(
            "min_token_agreement",
            0.90,
            "causal LMs: smallest allowed share of tokens where the student's most likely next token is "
            "the teacher's (llama.cpp's 'same top p')",
        ),
        ThresholdSpec(
            "max_mean_kl",
            0.10,
            float,
            "causal LMs: largest allowed mean per-token KL(teacher || student) in nats",
            low=0.0,
            high=1e6,
        ),
        ThresholdSpec(
            "max_perplexity_ratio",
            1.05,
            float,
            "causal LMs: largest allowed student/teacher perplexity ratio on the texts' own next tokens",
            low=1e-6,
            high=1e6,
        ),
        _fraction(
            "min_generation_agreement",
            0.25,
            "causal LMs: smallest allowed share of prompts whose greedy continuations by teacher and "
            "student are identical (--loyalty-max-new-tokens tokens each; exact identity over 16 tokens is "
            "strict: SmolLM2-135M's careful int8 student kept 7 of 16, its naive one 0)",
        ),
        ThresholdSpec(
            "decision",
            "estimate",
            str,
            "how a gate decides from its 95% CI: estimate (the point estimate), confident (the "
            "pessimistic end of the CI) or three-way (PASS, FAIL, or INCONCLUSIVE, see inconclusive)",
            choices=DECISION_RULES,
        ),
        ThresholdSpec(
            "inconclusive",
            "fail",
            str,
            "with decision = three-way: what an INCONCLUSIVE gate does (fail, warn or pass)",
            choices=INCONCLUSIVE_POLICIES,
        ),
        ThresholdSpec("gate_on_lower_bound", False, bool, "alias kept from 0.1: true means decision = confident"),
        _fraction(
            "baseline_tolerance",
            0.01,
            "largest allowed fall of a metric below the baseline report (--loyalty-baseline)",
        ),
        ThresholdSpec(
            "warn_only",
            "",
            str,
            "comma-separated gate names that warn instead of failing (e.g. 'latency,label_distribution')",
        ),
    )
}


@dataclass(frozen=True)
class Threshold:
    key: str
    value: float | bool | str | None
    source: str  # "default", "ini loyalty_min_label_loyalty", "--loyalty-min-label-loyalty", "marker"

    def __str__(self) -> str:
        return f"{self.value} [{self.source}]"


def cli_flag(key: str) -> str:
    return "--loyalty-" + key.replace("_", "-")


def ini_name(key: str) -> str:
    return "loyalty_" + key


def coerce(key: str, raw, source: str):
    """Parse a raw threshold value (ini strings, CLI strings, marker values) into its kind and range."""
    if key not in THRESHOLD_SPECS:
        raise LoyaltyError(
            f"unknown loyalty threshold {key!r} ({source}){did_you_mean(key, THRESHOLD_SPECS)}; "
            f"known: {', '.join(sorted(THRESHOLD_SPECS))}"
        )
    spec = THRESHOLD_SPECS[key]
    if spec.kind is not str and _blank(raw):
        # A CI line such as --loyalty-min-label-loyalty "$UNSET" must not switch a gate off.
        raise LoyaltyError(
            f"threshold {key} ({source}) is empty ({raw!r}); an empty, blank, 'none' or '=' value "
            f"would switch the gate off silently, so it is refused: give a value"
            f"{_range_text(spec)}. {off_on_purpose(key)}"
        )
    if spec.kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise LoyaltyError(f"threshold {key} ({source}) must be true or false, got {raw!r}")
    if spec.kind is float:
        if isinstance(raw, bool):
            raise LoyaltyError(f"threshold {key} ({source}) must be a number, got {raw!r}")
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise LoyaltyError(f"threshold {key} ({source}) must be a number, got {raw!r}") from None
        if not math.isfinite(value) or not spec.low <= value <= spec.high:
            raise LoyaltyError(
                f"threshold {key} ({source}) must lie in [{spec.low:g}, {spec.high:g}], got {raw!r}; "
                "a limit outside that range makes a gate that can never pass or never fail"
                f". {off_on_purpose(key)}"
            )
        return value
    text = str(raw).strip()
    if spec.choices and text not in spec.choices:
        raise LoyaltyError(
            f"threshold {key} ({source}) must be one of {', '.join(spec.choices)}, got {raw!r}"
            f"{did_you_mean(text, spec.choices)}"
        )
    return text


# The gate (and its test item) each threshold belongs to, for the "turn it off on purpose" hint.
GATE_OF = {
    "max_accuracy_drop": "accuracy_drop",
    "max_accuracy_drop_relative": "accuracy_drop",
    "min_label_loyalty": "label_loyalty",
    "min_probability_loyalty": "probability_loyalty",
    "max_negative_flip_rate": "negative_flip_rate",
    "min_label_share_ratio": "label_distribution",
    "max_kl_divergence": "kl_divergence",
    "min_speedup": "latency",
    "max_robustness_drop": "robustness",
    "max_margin_drop": "margin_drop",
    "baseline_tolerance": "baseline",
    "min_token_agreement": "token_agreement",
    "max_mean_kl": "mean_kl",
    "max_perplexity_ratio": "perplexity_ratio",
    "min_generation_agreement": "generation_agreement",
}


def _blank(raw) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none", "null", "="))


def _range_text(spec: ThresholdSpec) -> str:
    if spec.kind is bool:
        return " (true or false)"
    return f" in [{spec.low:g}, {spec.high:g}]" if spec.kind is float else ""


def off_on_purpose(key: str) -> str:
    """How to turn a gate off on purpose, for error messages.

    >>> print(off_on_purpose("min_label_loyalty").replace("(", "\\n("))
    To turn the label_loyalty gate off on purpose, make it warn only
    (loyalty_warn_only = label_loyalty, or --loyalty-warn-only label_loyalty) or deselect it
    (-k "not label_loyalty").
    """
    gate = GATE_OF.get(key)
    if gate is None:
        return "Leave the option out to keep its default."
    return (
        f"To turn the {gate} gate off on purpose, make it warn only (loyalty_warn_only = {gate}, or "
        f'--loyalty-warn-only {gate}) or deselect it (-k "not {gate}").'
    )


def resolve(cli: dict, ini: dict, marker: dict | None = None) -> dict[str, Threshold]:
    """Effective thresholds; each of ``cli``/``ini``/``marker`` maps key -> raw value (None: unset)."""
    for key in marker or {}:
        if key not in THRESHOLD_SPECS:  # fail closed on a misspelt marker key (coerce says which keys exist)
            coerce(key, 0, "@pytest.mark.loyalty")
    effective = {}
    for key, spec in THRESHOLD_SPECS.items():
        threshold = Threshold(key, spec.default, "default")
        if ini.get(key) is not None:  # pytest gives None when the key is absent; "" is a value, refused below
            threshold = Threshold(key, coerce(key, ini[key], f"ini {ini_name(key)}"), f"ini {ini_name(key)}")
        if cli.get(key) is not None:
            threshold = Threshold(key, coerce(key, cli[key], cli_flag(key)), cli_flag(key))
        if marker and key in marker:
            threshold = Threshold(key, coerce(key, marker[key], "@pytest.mark.loyalty"), "@pytest.mark.loyalty")
        effective[key] = threshold
    return _apply_alias(effective)


def _apply_alias(effective: dict[str, Threshold]) -> dict[str, Threshold]:
    """``gate_on_lower_bound = true`` (0.1's setting) means ``decision = confident`` unless a
    decision was set explicitly where it takes precedence."""
    alias, decision = effective["gate_on_lower_bound"], effective["decision"]
    if alias.value and decision.source == "default":
        effective["decision"] = Threshold("decision", "confident", alias.source)
    return effective


def warn_only_gates(thresholds: dict[str, Threshold]) -> set[str]:
    raw = thresholds["warn_only"].value or ""
    return {name.strip() for name in str(raw).split(",") if name.strip()}
