"""Tiny random causal LMs (Llama and GPT-2 shapes) with a character tokenizer, built in memory.

``TinyLM`` is the smallest object the ``lm`` package reads (name, fingerprint, tokenizer,
max_length, ``logits(input_ids, attention_mask)``): the choice and generation code is tested
against that contract, independent of how a model was loaded.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import torch

CHARACTERS = string.ascii_letters + string.digits + string.punctuation + " \n"


def char_tokenizer(bos: bool = True):
    """Every character its own token; BOS put in front of every text when ``bos``."""
    from tokenizers import Regex, Tokenizer, decoders, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<unk>": 1, "<s>": 2, "</s>": 3}
    vocab.update({c: i + 4 for i, c in enumerate(CHARACTERS)})
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tokenizer.decoder = decoders.Fuse()
    if bos:
        tokenizer.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 2)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )


def tiny_llama(seed: int = 0, *, vocab_size: int = len(CHARACTERS) + 4, hidden: int = 32, layers: int = 2):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


def tiny_gpt2(seed: int = 0, *, vocab_size: int = len(CHARACTERS) + 4, hidden: int = 32, layers: int = 2):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_embd=hidden,
        n_layer=layers,
        n_head=4,
        n_positions=256,
        bos_token_id=2,
        eos_token_id=3,
        pad_token_id=0,
    )
    return GPT2LMHeadModel(config).eval()


def perturbed(model, scale: float, seed: int = 1):
    """A copy of ``model`` with Gaussian noise of ``scale`` added to every weight."""
    import copy

    torch.manual_seed(seed)
    copied = copy.deepcopy(model)
    with torch.no_grad():
        for parameter in copied.parameters():
            parameter.add_(torch.randn_like(parameter) * scale)
    return copied


@dataclass
class TinyLM:
    model: object
    tokenizer: object
    name: str = "tiny"
    fingerprint: str | None = None
    max_length: int = 256
    device: str = "cpu"

    def logits(self, input_ids, attention_mask):
        with torch.inference_mode():
            return self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()


def save_tiny_lm(folder: Path, model, tokenizer) -> Path:
    """A tiny LM as a local Hugging Face folder (safetensors, config, tokenizer)."""
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
