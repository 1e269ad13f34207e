"""A handler's new model -> a student classifier, and the one fingerprint every student gets.

The fingerprint is derived from what made the student — the teacher's fingerprint, the recipe
step, its method version, the seed, the training data (for methods that use data) and the code
version — so it is known without hashing the new weights (quantized weights have no stable byte
form) and equal for equal inputs: every method is deterministic under a seed. The prediction and
attack caches key on it, and so does the trained-student cache (``student_cache``).
"""

from __future__ import annotations

from .. import __version__
from ..infra.cache import fingerprint
from ..lm.model import CausalLM
from ..models.classifiers import HFClassifier
from .parse import config_to_recipe


def student_fingerprint(teacher, config, data, seed: int) -> str | None:
    """None when the teacher has none (its outputs are not cached, so neither are the student's)."""
    if getattr(teacher, "fingerprint", None) is None:
        return None
    data_stamp = data.fingerprint if data is not None and type(config).uses_data else None
    return fingerprint(
        "student", __version__, type(config).version, teacher.fingerprint, config_to_recipe(config), seed, data_stamp
    )


def make_student(
    teacher, model, config, data=None, seed: int = 0, *, device: str | None = None
) -> HFClassifier | CausalLM:
    """Wrap a handler's new model as a student of the teacher's kind (an ``HFClassifier`` or a
    ``CausalLM``, sharing the teacher's tokenizer) that inherits the teacher's settings."""
    if isinstance(teacher, CausalLM):
        return CausalLM(
            model,
            teacher.tokenizer,
            teacher.name,
            student_fingerprint(teacher, config, data, seed),
            teacher.tokenizer_fingerprint,
            teacher.max_length,
            device or teacher.device,
            teacher.batch_size,
        )
    return HFClassifier(
        model,
        teacher.tokenizer,
        teacher.name,
        batch_size=teacher.batch_size,
        max_length=teacher.max_length,
        device=device or teacher.device,
        fingerprint=student_fingerprint(teacher, config, data, seed),
    )
