"""Tiny random causal LMs (Llama and GPT-2) with a byte-level tokenizer, built in memory.

The tokenizer is byte-level BPE with no merges: every byte is one token, so any text tokenizes
without the network, and it is saved to a folder and read back with ``from_pretrained`` (a
tokenizer constructed from files directly can silently map everything to one token).
"""

from __future__ import annotations

from pathlib import Path

import torch

EOS = "<|endoftext|>"


def tiny_lm_tokenizer(folder: Path, *, extra_tokens: tuple[str, ...] = ()):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {symbol: index for index, symbol in enumerate(alphabet)}
    vocab[EOS] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token=EOS, pad_token=EOS)
    if extra_tokens:
        tokenizer.add_tokens(list(extra_tokens))
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(folder)
    return AutoTokenizer.from_pretrained(str(folder))


def tiny_llama(vocab_size: int = 257, *, seed: int = 0, hidden: int = 32, layers: int = 2, scale: float = 0.0):
    """A random LlamaForCausalLM; ``scale`` > 0 redraws the weights wider so next-token
    distributions are far from uniform (a fresh init gives nearly flat ones)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=False,
    )
    return _widen(LlamaForCausalLM(config).eval(), seed, scale)


def tiny_gpt2(vocab_size: int = 257, *, seed: int = 0, hidden: int = 32, layers: int = 2, scale: float = 0.0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_embd=hidden,
        n_layer=layers,
        n_head=2,
        n_positions=256,
        bos_token_id=vocab_size - 1,
        eos_token_id=vocab_size - 1,
    )
    return _widen(GPT2LMHeadModel(config).eval(), seed, scale)


def _widen(model, seed: int, scale: float):
    if scale > 0:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for parameter in model.parameters():
                if parameter.dim() == 2:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * scale)
    return model


def save_tiny_llama(folder: Path, *, seed: int = 0, scale: float = 0.0) -> Path:
    from loyalty_tests.infra.quiet import no_progress_bars

    folder = Path(folder)
    tokenizer = tiny_lm_tokenizer(folder)
    with no_progress_bars():
        tiny_llama(len(tokenizer), seed=seed, scale=scale).save_pretrained(folder)
    return folder


def tiny_causal_lm(folder: Path, *, kind: str = "llama", seed: int = 0, scale: float = 0.5, name: str = "tiny"):
    """A ``CausalLM`` around a tiny random model and the byte-level tokenizer saved in ``folder``."""
    from loyalty_tests.lm.model import CausalLM

    tokenizer = tiny_lm_tokenizer(folder)
    build = tiny_llama if kind == "llama" else tiny_gpt2
    model = build(len(tokenizer), seed=seed, scale=scale)
    return CausalLM(model, tokenizer, name, max_length=256, batch_size=4)
