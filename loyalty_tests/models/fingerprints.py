"""What a model's outputs depend on besides its weights, for the keys of cached outputs (the run
settings, batch size, device and dtype, are ``predictions.output_settings``).

A cached prediction or attack result may be served only to a run that would compute the same
numbers. Weights are not enough: the tokenizer decides the ids a text becomes (its normaliser
lower-cases or not, its pre-tokeniser splits, its special tokens, which side it truncates), and
the batch size, the device and the dtype decide the arithmetic (a batch is padded to its
longest text; dynamic int8 picks its activation scales per batch).
"""

from __future__ import annotations

import json

from ..infra.cache import fingerprint

# Settings a fast tokenizer's backend records while it is being called (each call sets its own
# truncation and padding): they say what the last call asked, not what the tokenizer is.
_CALL_STATE = ("truncation", "padding")


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 over everything in ``tokenizer`` that changes the ids of a text: the whole backend
    pipeline of a fast tokenizer (normaliser, pre-tokeniser, model, post-processor), the vocabulary
    and added tokens, the special tokens, and the truncation and padding sides."""
    parts: dict = {"type": type(tokenizer).__name__, "vocab": sorted(tokenizer.get_vocab().items())}
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        pipeline = json.loads(backend.to_str())
        parts["backend"] = {key: value for key, value in pipeline.items() if key not in _CALL_STATE}
    parts["special_tokens"] = {str(key): str(value) for key, value in (tokenizer.special_tokens_map or {}).items()}
    for attribute in ("truncation_side", "padding_side", "do_lower_case", "model_input_names"):
        parts[attribute] = getattr(tokenizer, attribute, None)
    # a slow tokenizer's settings live in its constructor arguments (paths excluded: they move)
    settings = getattr(tokenizer, "init_kwargs", {}) or {}
    parts["settings"] = {
        key: value
        for key, value in settings.items()
        if isinstance(value, (bool, int, float, str)) and not key.endswith(("_file", "name_or_path"))
    }
    return fingerprint("tokenizer", parts)
