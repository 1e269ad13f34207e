"""The one list of gates: name, kind, the module that decides it, and when it is collected.

Everything that names gates reads this list: the built-in suite makes one test item per
prediction gate from it, ``warn_only`` checks names against it, the plugin deselects an optional
gate whose setting is absent, ``assert_loyal`` runs its prediction gates. See the package
docstring (``loyalty_tests.gates``) for how to add one.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

PREDICTION, LATENCY, ROBUSTNESS, BASELINE = "prediction", "latency", "robustness", "baseline"
LM = "lm"  # causal-LM gates: items in suite/test_lm_gates.py, run by plugins/lm_session.py


@dataclass(frozen=True)
class Gate:
    name: str
    kind: str  # PREDICTION gates read a LoyaltyReport; the others their own measurement
    module: str  # loyalty_tests.gates.<module>, whose check() decides it
    summary: str  # the suite item's docstring
    # None: always collected; a LoyaltySettings attribute ("attack", "baseline") or "threshold" (its
    # threshold is set): collected only then, deselected otherwise
    collected_with: str | None = None
    threshold: str | None = None

    def check(self, *args, **kwargs):
        return importlib.import_module(f"{__package__}.{self.module}").check(*args, **kwargs)

    def failure_examples(self, report, k: int = 5) -> tuple[str, list[dict]]:
        """What a failed prediction gate shows under its line: (title, example rows)."""
        module = importlib.import_module(f"{__package__}.{self.module}")
        return module.failure_examples(report, k) if hasattr(module, "failure_examples") else ("", [])


GATES: dict[str, Gate] = {
    gate.name: gate
    for gate in (
        Gate(
            "accuracy_drop",
            PREDICTION,
            "accuracy_drop",
            "The student's accuracy may fall at most max_accuracy_drop below the teacher's.",
        ),
        Gate(
            "label_loyalty",
            PREDICTION,
            "label_loyalty",
            "The student predicts the teacher's label on at least min_label_loyalty of the examples.",
        ),
        Gate(
            "probability_loyalty",
            PREDICTION,
            "probability_loyalty",
            "Mean 1 - sqrt(JSD) between the two models' probabilities is at least min_probability_loyalty.",
        ),
        Gate(
            "negative_flip_rate",
            PREDICTION,
            "negative_flip_rate",
            "At most max_negative_flip_rate of all examples go from right (teacher) to wrong (student).",
        ),
        Gate(
            "label_distribution",
            PREDICTION,
            "label_distribution",
            "The student has not collapsed onto a few labels the teacher spreads its predictions over.",
        ),
        Gate(
            "kl_divergence",
            PREDICTION,
            "kl_divergence",
            "Mean KL(teacher || student) in nats is at most max_kl_divergence (only when that is set).",
            collected_with="threshold",
            threshold="max_kl_divergence",
        ),
        Gate(
            "latency",
            LATENCY,
            "latency",
            "The student is at least min_speedup times as fast, timed side by side with the teacher.",
        ),
        Gate(
            "robustness",
            ROBUSTNESS,
            "robustness",
            "Accuracy under attack falls at most max_robustness_drop below the teacher's on the same examples.",
            collected_with="attack",
        ),
        Gate(
            "margin_drop",
            ROBUSTNESS,
            "margin_drop",
            "The mean words-to-flip margin falls at most max_margin_drop words below the teacher's.",
            collected_with="attack",
        ),
        Gate(
            "baseline",
            BASELINE,
            "baseline",
            "No metric fell more than baseline_tolerance below the previous release's report.",
            collected_with="baseline",
        ),
        Gate(
            "token_agreement",
            LM,
            "lm_tokens",
            "The student's top-1 next token equals the teacher's on at least min_token_agreement of the tokens.",
            threshold="min_token_agreement",
        ),
        Gate(
            "mean_kl",
            LM,
            "lm_tokens",
            "Mean per-token KL(teacher || student) in nats is at most max_mean_kl.",
            threshold="max_mean_kl",
        ),
        Gate(
            "perplexity_ratio",
            LM,
            "lm_tokens",
            "The student's perplexity on the corpus is at most max_perplexity_ratio times the teacher's.",
            threshold="max_perplexity_ratio",
        ),
        Gate(
            "generation_agreement",
            LM,
            "lm_generation",
            "At least min_generation_agreement of the prompts get identical greedy continuations.",
            threshold="min_generation_agreement",
        ),
    )
}
GATE_NAMES = tuple(GATES)
PREDICTION_GATES = tuple(name for name, gate in GATES.items() if gate.kind == PREDICTION)
