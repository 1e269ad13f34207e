"""``--attack textattack:<recipe>``: any TextAttack recipe through our model wrapper.

TextAttack (extra ``[textattack]``; 0.3.11 needs transformers < 4.58) builds the attack; the model
it queries is ours, so batches are padded only to their longest text, never to 512 tokens.
Results come back as our ``AttackResult`` so reports and gates treat them like built-in recipes.
"""

from __future__ import annotations

import time

from ..errors import LoyaltyError
from .engine import AttackedModel
from .results import TEXTATTACK_PREFIX, AdversarialExample, AttackResult

MISSING = ("the textattack:<recipe> attacks need TextAttack: pip install 'pytest-loyalty[textattack]' "
           "(TextAttack 0.3.11 needs transformers>=4.45,<4.58, so use a separate environment from transformers 5)")


def _import_textattack():
    try:
        import textattack
        from textattack.models.wrappers import ModelWrapper
    except ImportError as error:
        raise LoyaltyError(MISSING) from error
    return textattack, ModelWrapper


def run_textattack(model, dataset, config, indices, progress) -> AttackResult:
    textattack, ModelWrapper = _import_textattack()
    if dataset.text_pairs:
        raise LoyaltyError("the TextAttack backend attacks single texts here; use a built-in recipe for text pairs")
    name = config.recipe[len(TEXTATTACK_PREFIX):]
    recipe_class = getattr(textattack.attack_recipes, name, None)
    if recipe_class is None:  # accept the command-line spelling too: textfooler -> TextFoolerJin2019
        lookup = {cls.lower(): cls for cls in dir(textattack.attack_recipes)}
        matches = [cls for key, cls in lookup.items() if key.startswith(name.lower().replace("-", ""))]
        if len(matches) != 1:
            raise LoyaltyError(f"unknown TextAttack recipe {name!r}; TextAttack's recipes: "
                               f"{', '.join(sorted(c for c in dir(textattack.attack_recipes) if c[0].isupper()))}")
        recipe_class = getattr(textattack.attack_recipes, matches[0])
    attacked = AttackedModel(model, dataset.label_names, dataset.name)

    class Wrapper(ModelWrapper):
        def __init__(self):
            self.model = model

        def __call__(self, texts):
            texts = [t if isinstance(t, str) else t[-1] for t in texts]  # pairs: TextAttack passes tuples
            return attacked.probabilities(list(texts))

    attack = recipe_class.build(Wrapper())
    start, examples, succeeded = time.perf_counter(), [], 0
    for done, index in enumerate(indices, 1):
        text, label = dataset.texts[index], dataset.labels[index]
        attacked.start_example(None)  # TextAttack enforces the budget itself
        attack.goal_function.query_budget = config.budget
        result = attack.attack(text, label)
        status = {"SuccessfulAttackResult": "succeeded", "SkippedAttackResult": "skipped"}.get(
            type(result).__name__, "failed")
        perturbed = result.perturbed_result.attacked_text.text if status == "succeeded" else None
        words = max(len(text.split()), 1)
        fraction = len(result.original_result.attacked_text.all_words_diff(result.perturbed_result.attacked_text)) / words \
            if status == "succeeded" else 0.0
        original = attacked.probabilities([text])[0]
        examples.append(AdversarialExample(
            index=index, label=label, original_text=text, perturbed_text=perturbed, text_pair=None, status=status,
            queries=int(result.perturbed_result.num_queries), perturbed_fraction=fraction,
            original_probs=tuple(float(p) for p in original),
            perturbed_probs=tuple(float(p) for p in attacked.probabilities([perturbed])[0]) if perturbed else None))
        succeeded += status == "succeeded"
        if progress is not None:
            progress(done, len(indices), succeeded)
    return AttackResult(attacked.name, config, tuple(examples), time.perf_counter() - start,
                        tuple(dataset.label_names), attacked.forward_seconds)

