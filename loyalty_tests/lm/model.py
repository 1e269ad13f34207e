"""What a causal language model is once loaded: a ``CausalLM``.

A CausalLM maps token ids to next-token logits, ``logits(input_ids, attention_mask)`` ->
float32 ``[batch, seq, vocab]``, computed without gradients. It carries two fingerprints:
``fingerprint`` (weights and config: caches of its outputs key on it) and
``tokenizer_fingerprint`` (the whole tokenizer: vocabulary, merges, normalizer, pre-tokenizer,
post-processor, special and added tokens). Teacher and student are compared token by token, so
they must read text into the same ids: ``check_same_tokenizer`` refuses two models whose
tokenizer fingerprints differ, and ``check_same_kind`` refuses a classifier gated against an LM.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from ..errors import LoyaltyError
from ..infra.cache import fingerprint as stable_fingerprint

# An LM whose config or class names none of these is not recognised as one (transformers' own list
# of causal-LM classes is read too, when available: see ``is_causal_lm_class``).
_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")


@dataclass(eq=False)
class CausalLM:
    """A causal LM with its tokenizer. ``model`` is a PyTorch module whose call returns
    ``.logits`` (a Hugging Face causal LM); ``max_length`` is its context limit in tokens."""

    model: object
    tokenizer: object
    name: str
    fingerprint: str | None = None
    tokenizer_fingerprint: str | None = None
    max_length: int = 2048
    device: str = "cpu"
    batch_size: int = 8
    info: dict = field(default_factory=dict)  # what made it, e.g. {"recipe": "int8-weight"}

    def __post_init__(self):
        self.model.eval()
        if not _is_dynamically_quantized(self.model):  # dynamic int8 kernels exist on the CPU only
            self.model.to(self.device)
        else:
            self.device = "cpu"
        if self.tokenizer_fingerprint is None:
            self.tokenizer_fingerprint = tokenizer_fingerprint(self.tokenizer)
        if self.fingerprint is None:
            self.fingerprint = weights_fingerprint(self.model)

    @property
    def kind(self) -> str:
        return "lm"

    def logits(self, input_ids, attention_mask=None):
        """Next-token logits, float32 ``[batch, seq, vocab]`` on the CPU: row ``i`` predicts token ``i + 1``."""
        import torch

        input_ids = torch.as_tensor(input_ids).to(self.device)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        attention_mask = torch.as_tensor(attention_mask).to(self.device)
        with torch.inference_mode():
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return output.logits.float().cpu()


def _is_dynamically_quantized(model) -> bool:
    return any(type(module).__module__.startswith("torch.ao.nn.quantized") for module in model.modules())


def is_causal_lm_class(name: str) -> bool:
    """Whether a model class (or a config's ``architectures`` entry) is a causal LM.

    >>> is_causal_lm_class("LlamaForCausalLM"), is_causal_lm_class("GPT2LMHeadModel")
    (True, True)
    >>> is_causal_lm_class("BertForSequenceClassification")
    False
    """
    if name.endswith(_CAUSAL_SUFFIXES):
        return True
    try:
        from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
    except ImportError:  # an older or newer transformers without the table: the suffixes decide
        return False
    return name in set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())


def is_causal_lm_model(model) -> bool:
    """A PyTorch model that is a causal LM: by its class, or by its config's architectures."""
    architectures = getattr(getattr(model, "config", None), "architectures", None) or []
    return is_causal_lm_class(type(model).__name__) or any(is_causal_lm_class(str(a)) for a in architectures)


def tokenizer_fingerprint(tokenizer) -> str:
    """sha256 over everything that decides how text becomes ids.

    A fast tokenizer serialises itself whole (``backend_tokenizer.to_str()``: vocabulary, merges,
    normalizer, pre-tokenizer, post-processor and added tokens); special tokens, the added-token
    table and the padding/BOS settings are hashed on top, since two tokenizers with the same
    backend can still add different special tokens. A slow tokenizer is hashed by its vocabulary.
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    parts = {
        "class": type(tokenizer).__name__,
        "backend": backend.to_str() if backend is not None else None,
        "vocab": None if backend is not None else sorted(tokenizer.get_vocab().items()),
        "special": {key: str(value) for key, value in sorted(getattr(tokenizer, "special_tokens_map", {}).items())},
        "added": sorted((str(token), int(index)) for token, index in tokenizer.get_added_vocab().items()),
        "add_bos": getattr(tokenizer, "add_bos_token", None),
        "add_eos": getattr(tokenizer, "add_eos_token", None),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def weights_fingerprint(model) -> str:
    """sha256 over the config and every tensor of the state dict (quantized tensors by their int8
    values, scales and zero points), for a model that came with no file to hash."""
    digest = hashlib.sha256(type(model).__name__.encode())
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "to_json_string"):
        digest.update(config.to_json_string(use_diff=False).encode())
    for key, value in model.state_dict().items():
        digest.update(key.encode())
        _hash_value(digest, value)
    return digest.hexdigest()


def _hash_value(digest, value) -> None:
    import torch

    if isinstance(value, (tuple, list)):
        for item in value:
            _hash_value(digest, item)
    elif isinstance(value, torch.Tensor):
        if value.is_quantized:
            digest.update(value.int_repr().contiguous().cpu().numpy().tobytes())
            scales = value.q_per_channel_scales() if value.qscheme() in (torch.per_channel_affine,) else value.q_scale()
            digest.update(repr(torch.as_tensor(scales).tolist()).encode())
        else:
            digest.update(str(value.dtype).encode())
            digest.update(value.detach().contiguous().cpu().reshape(-1).view(torch.uint8).numpy().tobytes())
    elif hasattr(value, "__getstate__") and hasattr(value, "unpack"):  # packed quantized params
        _hash_value(digest, value.unpack())
    else:
        digest.update(repr(value).encode())


def model_kind(model) -> str:
    """``"lm"`` for a CausalLM (anything with a ``logits`` method and a ``tokenizer``), else ``"classifier"``.

    >>> model_kind(object())
    'classifier'
    """
    if isinstance(model, CausalLM) or (callable(getattr(model, "logits", None)) and hasattr(model, "tokenizer")):
        return "lm"
    return "classifier"


def check_same_kind(teacher, student) -> None:
    """A classifier is never gated against an LM: their outputs mean different things."""
    teacher_kind, student_kind = model_kind(teacher), model_kind(student)
    if teacher_kind != student_kind:
        words = {"lm": "a causal language model", "classifier": "a text classifier"}
        raise LoyaltyError(
            f"teacher {getattr(teacher, 'name', teacher)!r} is {words[teacher_kind]} but student "
            f"{getattr(student, 'name', student)!r} is {words[student_kind]}; give two models of the same kind "
            "(both classifiers or both causal LMs)"
        )


def check_same_tokenizer(teacher, student) -> None:
    """Token loyalty compares next-token distributions id by id: the two models must share one tokenizer."""
    if teacher.tokenizer_fingerprint != student.tokenizer_fingerprint:
        raise LoyaltyError(
            f"teacher {teacher.name!r} (tokenizer {str(teacher.tokenizer_fingerprint)[:12]}) and student "
            f"{student.name!r} (tokenizer {str(student.tokenizer_fingerprint)[:12]}) use different tokenizers, so "
            "their next-token distributions cannot be compared token by token; give the student the teacher's "
            "tokenizer (save it next to the student's weights)"
        )


def derived_fingerprint(*parts: object) -> str:
    """A fingerprint derived from what made a model (a teacher's fingerprint and a recipe)."""
    return stable_fingerprint("lm", *parts)
