"""Tiny random BERT classifiers built in memory, for tests that need a real model fast.

A character-level WordPiece vocabulary (every lowercase letter and digit, alone and as a
"##" continuation) tokenizes any ASCII text without the network, and a 2-layer, 32-wide BERT
runs a batch in milliseconds.
"""

from __future__ import annotations

import string
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["good", "bad", "great", "awful", "movie", "film", "the", "a", "is", "not", "very"]


def tiny_vocab() -> list[str]:
    symbols = list(string.ascii_lowercase + string.digits + string.punctuation)
    return SPECIALS + WORDS + symbols + ["##" + s for s in symbols]


def tiny_tokenizer(folder: Path) -> BertTokenizerFast:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab()) + "\n")
    # from_pretrained on a folder holding only vocab.txt works on transformers 4.x and 5.x alike
    # (the constructor's argument was renamed from vocab_file to vocab in 5.0).
    return BertTokenizerFast.from_pretrained(str(folder), do_lower_case=True)


def tiny_bert(
    label_names=("negative", "positive"),
    *,
    seed: int = 0,
    layers: int = 2,
    hidden: int = 32,
    heads: int = 2,
) -> BertForSequenceClassification:
    """A random BERT whose config names its labels (id2label) in the given order."""
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tiny_vocab()),
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        intermediate_size=hidden * 2,
        max_position_embeddings=128,
        id2label=dict(enumerate(label_names)),
        label2id={name: i for i, name in enumerate(label_names)},
    )
    return BertForSequenceClassification(config).eval()


def save_tiny_bert(folder: Path, label_names=("negative", "positive"), *, seed: int = 0) -> Path:
    """A tiny BERT saved as a local Hugging Face directory (safetensors + tokenizer)."""
    from loyalty_tests.infra.quiet import no_progress_bars

    folder = Path(folder)
    tokenizer = tiny_tokenizer(folder)
    with no_progress_bars():  # "Writing model shards" bars would clutter every test's output
        tiny_bert(label_names, seed=seed).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return folder


def sensitive_bert(seed: int, label_names=("negative", "positive")) -> BertForSequenceClassification:
    """A tiny BERT whose weights are drawn wide (std 0.5): freshly initialised (std 0.02) it gives
    every text the same probability to three decimals, so no attack could flip it; this one gives
    texts clearly different outputs, and attacks flip some."""
    model = tiny_bert(label_names, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "LayerNorm" not in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    return model
