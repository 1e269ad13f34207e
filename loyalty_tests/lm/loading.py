"""Causal LMs from a Hugging Face folder, a ``.gguf`` file, or what a factory returned.

The model decides what it is: a folder whose ``config.json`` names a ``*ForCausalLM`` (or
``*LMHeadModel``) architecture, a file ending in ``.gguf``, or a factory returning a CausalLM-like
object (``logits`` + ``tokenizer``) or a Hugging Face causal LM with its tokenizer. ``models.specs``
calls these; nothing here imports it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from ..errors import LoyaltyError
from ..infra.cache import fingerprint, hash_files
from ..infra.quiet import no_progress_bars
from .model import CausalLM, is_causal_lm_class, is_causal_lm_model

_FOLDER_FILES = (
    "*.safetensors",
    "*.bin",
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "special_tokens_map.json",
    "*.model",
)
LM_EXTRA = "pip install 'pytest-loyalty[lm]'"


def folder_architectures(folder: Path) -> list[str]:
    """The ``architectures`` that ``folder/config.json`` names; [] without a readable one (the
    classifier loader reports an unreadable config)."""
    config = Path(folder) / "config.json"
    if not config.is_file():
        return []
    try:
        return [str(name) for name in json.loads(config.read_text(encoding="utf-8")).get("architectures") or []]
    except (OSError, ValueError, AttributeError):
        return []


def folder_is_causal_lm(folder: Path) -> bool:
    """Whether ``folder/config.json`` names a causal-LM architecture."""
    return any(is_causal_lm_class(name) for name in folder_architectures(folder))


def position_limit(model, tokenizer) -> int:
    """The context limit: the config's position embeddings, else the tokenizer's, else 2048."""
    config = model.config
    for key in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 10**7 else 2048


def load_lm_folder(
    folder: str,
    name: str,
    *,
    device: str = "cpu",
    batch_size: int = 8,
    allow_pickle: bool = False,
    trust_remote_code: bool = False,
) -> CausalLM:
    """A local Hugging Face causal-LM folder (safetensors unless ``allow_pickle``)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(folder)
    if not allow_pickle and not list(path.glob("*.safetensors")):
        found = sorted(p.name for p in path.iterdir())
        raise LoyaltyError(
            f"LM folder {folder!r} has no .safetensors weights (it has {found}); save it with "
            "save_pretrained(..., safe_serialization=True), or pass --loyalty-allow-pickle to load "
            ".bin (pickle) weights you trust"
        )
    try:
        with no_progress_bars():
            tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(
                folder,
                trust_remote_code=trust_remote_code,
                use_safetensors=None if allow_pickle else True,
                dtype="float32",
            )
    except (OSError, ValueError) as error:
        raise LoyaltyError(f"could not load a causal LM from folder {folder!r}: {error}") from error
    files = sorted(p for pattern in _FOLDER_FILES for p in path.glob(pattern))
    return CausalLM(
        model,
        tokenizer,
        name,
        fingerprint("lm-dir", hash_files(files)),
        None,
        position_limit(model, tokenizer),
        device,
        batch_size,
    )


def load_gguf(file: str, name: str, *, device: str = "cpu", batch_size: int = 8) -> CausalLM:
    """A ``.gguf`` file, dequantized to float32 by transformers (needs the ``gguf`` package)."""
    path = Path(file).expanduser()
    if not path.is_file():
        raise LoyaltyError(f"GGUF model {file!r} does not exist (looked for {path.absolute()}); check the path")
    try:
        import accelerate  # noqa: F401  (transformers' GGUF loader needs it)
        import gguf  # noqa: F401
    except ImportError as error:
        raise LoyaltyError(
            f"loading the GGUF model {file!r} needs the gguf and accelerate packages "
            f"({error.name} is missing): {LM_EXTRA}"
        ) from error
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        with no_progress_bars(), _no_tqdm():  # transformers' GGUF converter draws its own tqdm bar
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype="float32")
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        raise LoyaltyError(
            f"could not load GGUF model {file!r} through transformers "
            f"({type(error).__name__}: {error}); its architecture may not be supported"
        ) from error
    return CausalLM(
        model,
        tokenizer,
        name,
        fingerprint("gguf", hash_files([path])),
        None,
        position_limit(model, tokenizer),
        device,
        batch_size,
    )


@contextlib.contextmanager
def _no_tqdm():
    """tqdm reads TQDM_DISABLE when a bar is made; set for the block, restored afterwards."""
    before = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = before


def as_causal_lm(made, name: str, *, device: str = "cpu", batch_size: int = 8) -> CausalLM | None:
    """What a factory returned, as a CausalLM; None when it is not an LM (then it is a classifier).

    Accepted: a CausalLM; any object with ``logits(input_ids, attention_mask)``, ``tokenizer`` and
    ``name`` (used as it is); a ``(causal LM, tokenizer)`` pair."""
    if isinstance(made, CausalLM):
        return made
    if callable(getattr(made, "logits", None)) and hasattr(made, "tokenizer"):
        for attribute in ("name", "fingerprint", "tokenizer_fingerprint", "max_length"):
            if not hasattr(made, attribute):
                raise LoyaltyError(
                    f"{name!r} returned an LM-like {type(made).__name__} without {attribute!r}; "
                    "give it name, fingerprint, tokenizer_fingerprint and max_length, or return "
                    "a (causal LM, tokenizer) pair"
                )
        return made
    if isinstance(made, tuple) and len(made) == 2 and is_causal_lm_model(made[0]):
        model, tokenizer = made
        return CausalLM(model, tokenizer, name, None, None, position_limit(model, tokenizer), device, batch_size)
    return None
