"""What an attack is asked to do (``AttackConfig``) and what it found (``AttackResult``).

Fractions are stored; percentages appear only when rendering. Definitions follow the paper:
attacked = originally correct; success rate = successful / attacked; accuracy under attack =
still correct after the attack / all sampled examples.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..errors import LoyaltyError


def known_recipes() -> tuple[str, ...]:
    """The registered recipe names (``textattack`` is written ``textattack:<name>``)."""
    from .attack_registry import registered_recipes

    return tuple(f"{name}:<name>" if name == "textattack" else name for name in registered_recipes())


@dataclass(frozen=True)
class AttackConfig:
    recipe: str = "textfooler"  # a recipe string as the user typed it: "textfooler:min_cosine=0.6", "textattack:<name>"
    examples: int = 50  # seeded sample of the data (all of it when the data is smaller)
    budget: int = 500  # model queries allowed per attacked example
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.examples, int) or self.examples <= 0:
            raise LoyaltyError(
                f"attack examples must be a whole number >= 1, got {self.examples!r} (--attack-examples N)"
            )
        if not isinstance(self.budget, int) or self.budget <= 0:
            raise LoyaltyError(
                f"attack budget must be a whole number of queries >= 1, got {self.budget!r} (--attack-budget Q)"
            )
        _ = self.recipe_config  # parsed now: a bad recipe string fails before any model work

    @property
    def recipe_config(self) -> object:
        """The frozen recipe config ``recipe`` stands for (``TextFoolerConfig(...)``)."""
        from .attack_registry import parse_attack_recipe

        return parse_attack_recipe(self.recipe)


@dataclass(frozen=True)
class AdversarialExample:
    index: int  # position in the dataset
    label: int  # gold label index, dataset order
    original_text: str
    perturbed_text: str | None  # None when skipped (already wrong) or failed
    text_pair: str | None  # the untouched first text when the second of a pair is attacked
    status: str  # "succeeded" | "failed" | "skipped"
    queries: int
    perturbed_fraction: float  # words changed / words in the text; 0 unless succeeded
    original_probs: tuple[float, ...]
    perturbed_probs: tuple[float, ...] | None
    # How the result was got; not part of what was found, so two equal results compare equal:
    seconds: float = field(default=0.0, compare=False)  # wall seconds its attack took (its share of shared calls)
    measured_at: str | None = field(default=None, compare=False)  # when it was attacked (UTC, ISO 8601)
    cached: bool = field(default=False, compare=False)  # read from the attack cache in this run


def _mean(values) -> float:
    values = list(values)
    return float(np.mean(values)) if values else math.nan


@dataclass(frozen=True)
class AttackResult:
    model_name: str
    config: AttackConfig
    examples: tuple[AdversarialExample, ...]
    seconds: float
    label_names: tuple[str, ...] = ()
    forward_seconds: float = 0.0  # time inside the model's predict_proba

    @property
    def attacked(self) -> list[AdversarialExample]:
        return [e for e in self.examples if e.status != "skipped"]

    @property
    def original_accuracy(self) -> float:
        return _mean(e.status != "skipped" for e in self.examples)

    @property
    def accuracy_under_attack(self) -> float:
        return _mean(e.status == "failed" for e in self.examples)

    @property
    def attack_success_rate(self) -> float:
        return _mean(e.status == "succeeded" for e in self.attacked)

    @property
    def mean_perturbed_fraction(self) -> float:
        return _mean(e.perturbed_fraction for e in self.examples if e.status == "succeeded")

    @property
    def mean_queries(self) -> float:
        return _mean(e.queries for e in self.attacked)

    @property
    def cached_examples(self) -> int:
        """Examples read from the attack cache rather than attacked in this run."""
        return sum(e.cached for e in self.examples)

    @property
    def measured_seconds(self) -> float:
        """The attack seconds of every example as measured when it was attacked (cached ones too)."""
        return float(sum(e.seconds for e in self.examples))

    def to_row(self) -> dict:
        return {
            "model": self.model_name,
            "config": asdict(self.config),
            "seconds": self.seconds,
            "forward_seconds": self.forward_seconds,
            "original_accuracy": self.original_accuracy,
            "accuracy_under_attack": self.accuracy_under_attack,
            "attack_success_rate": self.attack_success_rate,
            "mean_perturbed_fraction": self.mean_perturbed_fraction,
            "mean_queries": self.mean_queries,
            "cached_examples": self.cached_examples,
            "measured_seconds": self.measured_seconds,
            "label_names": list(self.label_names),
            "examples": [asdict(e) for e in self.examples],
        }

    @classmethod
    def from_row(cls, row: dict) -> AttackResult:
        examples = tuple(
            AdversarialExample(
                **{
                    **e,
                    "original_probs": tuple(e["original_probs"]),
                    "perturbed_probs": tuple(e["perturbed_probs"]) if e["perturbed_probs"] else None,
                }
            )
            for e in row["examples"]
        )
        return cls(
            row["model"],
            AttackConfig(**row["config"]),
            examples,
            row["seconds"],
            tuple(row.get("label_names", ())),
            row.get("forward_seconds", 0.0),
        )
