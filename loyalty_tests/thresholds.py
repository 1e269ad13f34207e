"""Gate thresholds: their defaults and where each effective value came from.

Precedence: default < ini (``loyalty_*`` in ``[tool.pytest.ini_options]``) < command line
(``--loyalty-*``) < ``@pytest.mark.loyalty(...)`` on a test. Every value keeps its source so the
report header and each failure line can say why a threshold is what it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import LoyaltyError


@dataclass(frozen=True)
class ThresholdSpec:
    key: str
    default: float | bool | str | None
    kind: type
    help: str


THRESHOLD_SPECS = {
    spec.key: spec
    for spec in (
        ThresholdSpec("max_accuracy_drop", 0.02, float,
                      "largest allowed accuracy drop, teacher minus student, absolute (0.02 = 2 points)"),
        ThresholdSpec("max_accuracy_drop_relative", None, float,
                      "largest allowed accuracy drop relative to the teacher's accuracy (0.03 = 3%); unset: not gated"),
        ThresholdSpec("min_label_loyalty", 0.90, float,
                      "smallest allowed label loyalty: share of examples where student and teacher predict the same label"),
        ThresholdSpec("min_probability_loyalty", 0.85, float,
                      "smallest allowed probability loyalty: mean of 1 - sqrt(JSD base 2) between their probabilities"),
        ThresholdSpec("min_label_share_ratio", 0.5, float,
                      "collapse gate: for every label, student's share of predictions >= this times the teacher's"),
        ThresholdSpec("min_speedup", 1.0, float,
                      "smallest allowed latency ratio teacher/student, timed side by side in this run"),
        ThresholdSpec("max_robustness_drop", 0.10, float,
                      "with --attack: largest allowed fall of accuracy under attack, teacher minus student, "
                      "on the same attacked examples"),
        ThresholdSpec("gate_on_lower_bound", False, bool,
                      "gate on the pessimistic end of the bootstrap 95% CI instead of the point estimate"),
        ThresholdSpec("baseline_tolerance", 0.01, float,
                      "largest allowed fall of a metric below the baseline report (--loyalty-baseline)"),
        ThresholdSpec("warn_only", "", str,
                      "comma-separated gate names that warn instead of failing (e.g. 'latency,label_distribution')"),
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
    """Parse a raw threshold value (ini strings, CLI strings, marker values) into its kind."""
    if key not in THRESHOLD_SPECS:
        raise LoyaltyError(
            f"unknown loyalty threshold {key!r} ({source}); known: {', '.join(sorted(THRESHOLD_SPECS))}"
        )
    kind = THRESHOLD_SPECS[key].kind
    if raw is None or (isinstance(raw, str) and raw.strip().lower() in ("", "none") and kind is not str):
        return None
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise LoyaltyError(f"threshold {key} ({source}) must be true or false, got {raw!r}")
    if kind is float:
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise LoyaltyError(f"threshold {key} ({source}) must be a number, got {raw!r}") from None
        if value != value or value < 0:
            raise LoyaltyError(f"threshold {key} ({source}) must be a number >= 0, got {raw!r}")
        return value
    return str(raw)


def resolve(cli: dict, ini: dict, marker: dict | None = None) -> dict[str, Threshold]:
    """Effective thresholds; each of ``cli``/``ini``/``marker`` maps key -> raw value (None: unset)."""
    for key in (marker or {}):
        coerce(key, None, "@pytest.mark.loyalty")  # fail closed on a misspelt marker key
    effective = {}
    for key, spec in THRESHOLD_SPECS.items():
        threshold = Threshold(key, spec.default, "default")
        if ini.get(key) not in (None, ""):
            threshold = Threshold(key, coerce(key, ini[key], f"ini {ini_name(key)}"), f"ini {ini_name(key)}")
        if cli.get(key) is not None:
            threshold = Threshold(key, coerce(key, cli[key], cli_flag(key)), cli_flag(key))
        if marker and key in marker:
            threshold = Threshold(key, coerce(key, marker[key], "@pytest.mark.loyalty"), "@pytest.mark.loyalty")
        effective[key] = threshold
    return effective


def warn_only_gates(thresholds: dict[str, Threshold]) -> set[str]:
    raw = thresholds["warn_only"].value or ""
    return {name.strip() for name in str(raw).split(",") if name.strip()}
