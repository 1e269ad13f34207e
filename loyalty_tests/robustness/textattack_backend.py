"""``--attack textattack:<recipe>``: any TextAttack recipe through our model wrapper.

TextAttack (extra ``[textattack]``; 0.3.11 needs transformers < 4.58) builds the attack; the model
it queries is ours, so batches are padded only to their longest text, never to 512 tokens.
Results come back as our ``AttackResult`` so reports and gates treat them like built-in recipes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone

from ..errors import LoyaltyError
from .attack_registry import register_attack_recipe
from .bounds import check_bound
from .lockstep import AttackedModel, example_rng
from .results import AdversarialExample, AttackResult

MISSING = (
    "the textattack:<recipe> attacks need TextAttack: pip install 'pytest-loyalty[textattack]' "
    "(TextAttack 0.3.11 needs transformers>=4.45,<4.58, so use a separate environment from transformers 5)"
)


def _import_textattack():
    try:
        import textattack
        from textattack.models.wrappers import ModelWrapper
    except ImportError as error:
        raise LoyaltyError(MISSING) from error
    return textattack, ModelWrapper


def _recipe_class(textattack, name: str):
    """A recipe by TextAttack's command-line name (``textfooler``, ``deepwordbug``) or class name
    (``TextFoolerJin2019``)."""
    from textattack.attack_args import ATTACK_RECIPE_NAMES  # command-line name -> dotted class path

    by_name = {key: path.rsplit(".", 1)[-1] for key, path in ATTACK_RECIPE_NAMES.items()}
    class_name = by_name.get(name.lower(), name)
    recipe_class = getattr(textattack.attack_recipes, class_name, None)
    if not isinstance(recipe_class, type):
        raise LoyaltyError(
            f"unknown TextAttack recipe {name!r}; TextAttack's recipes: {', '.join(sorted(by_name))} "
            f"(or their class names, e.g. {by_name['textfooler']})"
        )
    return recipe_class


@dataclass(frozen=True)
class TextAttackConfig:
    """``textattack:<name>``: TextAttack's recipe ``name`` (its command-line name or class name).
    ``max_words`` / ``max_word_share`` add TextAttack's own ``MaxWordsPerturbed(max_num_words,
    max_percent)`` to the recipe's constraints; unset by default, since a TextAttack recipe brings
    its own constraints (several bound the words already) and is the reference ours are checked against."""

    recipe = "textattack"
    name: str
    max_words: int | None = None
    max_word_share: float | None = None

    def __post_init__(self):
        check_bound(self.max_words, self.max_word_share)


class TextAttackRecipe:
    """Runs TextAttack's own attack loop (TextAttack enforces the budget and draws its own
    randomness); imported only when run, so naming it needs no TextAttack installed."""

    def __init__(self, config: TextAttackConfig):
        self.config, self.name = config, f"textattack:{config.name}"

    def run(self, model, dataset, attack_config, indices, progress) -> AttackResult:
        bound = (self.config.max_words, self.config.max_word_share)
        return run_textattack(model, dataset, attack_config, indices, progress, self.config.name, bound)

    def close(self) -> None:
        pass

    def __enter__(self) -> TextAttackRecipe:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


@register_attack_recipe(TextAttackConfig)
def _build_textattack(config: TextAttackConfig, *, cache_dir=None) -> TextAttackRecipe:
    return TextAttackRecipe(config)


def _with_bound(attack, max_words, max_word_share):
    """The attack with TextAttack's MaxWordsPerturbed added to its constraints (checked against the
    original text before the model sees a candidate, as TextAttack runs every constraint)."""
    if max_words is None and max_word_share is None:
        return attack
    from textattack import Attack
    from textattack.constraints.overlap import MaxWordsPerturbed

    bound = MaxWordsPerturbed(max_num_words=max_words, max_percent=max_word_share)
    constraints = [*attack.pre_transformation_constraints, *attack.constraints, bound]
    return Attack(attack.goal_function, constraints, attack.transformation, attack.search_method)


def run_textattack(model, dataset, config, indices, progress, name: str, bound=(None, None)) -> AttackResult:
    textattack, ModelWrapper = _import_textattack()
    if dataset.text_pairs:
        raise LoyaltyError("the TextAttack backend attacks single texts here; use a built-in recipe for text pairs")
    recipe_class = _recipe_class(textattack, name)
    attacked = AttackedModel(model, dataset.label_names, dataset.name)

    class Wrapper(ModelWrapper):
        def __init__(self):
            self.model = model

        def __call__(self, texts):
            texts = [t if isinstance(t, str) else t[-1] for t in texts]  # pairs: TextAttack passes tuples
            return attacked.probabilities(list(texts))

    attack = _with_bound(recipe_class.build(Wrapper()), *bound)
    start, examples, succeeded = time.perf_counter(), [], 0
    for done, index in enumerate(indices, 1):
        text, label = dataset.texts[index], dataset.labels[index]
        attack.goal_function.query_budget = config.budget  # TextAttack enforces the budget itself
        # TextAttack draws from the global random, numpy and torch generators: seed them per example
        # (keyed by its text, as our engine) so a result does not depend on the examples before it
        textattack.shared.utils.set_seed(example_rng(config, text, None).randrange(2**31))
        began = time.perf_counter()
        result = attack.attack(text, label)
        seconds = time.perf_counter() - began
        status = {"SuccessfulAttackResult": "succeeded", "SkippedAttackResult": "skipped"}.get(
            type(result).__name__, "failed"
        )
        perturbed = result.perturbed_result.attacked_text.text if status == "succeeded" else None
        fraction = 0.0
        if status == "succeeded":
            before, after = result.original_result.attacked_text, result.perturbed_result.attacked_text
            fraction = len(before.all_words_diff(after)) / max(len(before.words), 1)
        original = attacked.probabilities([text])[0]
        examples.append(
            AdversarialExample(
                index=index,
                label=label,
                original_text=text,
                perturbed_text=perturbed,
                text_pair=None,
                status=status,
                queries=int(result.perturbed_result.num_queries),
                perturbed_fraction=fraction,
                original_probs=tuple(float(p) for p in original),
                perturbed_probs=tuple(float(p) for p in attacked.probabilities([perturbed])[0]) if perturbed else None,
                seconds=seconds,
                measured_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            )
        )
        succeeded += status == "succeeded"
        if progress is not None:
            progress(done, len(indices), succeeded)
    return AttackResult(
        attacked.name,
        config,
        tuple(examples),
        time.perf_counter() - start,
        tuple(dataset.label_names),
        attacked.forward_seconds,
    )
