"""How the Ray engine cuts the data into blocks: in the order, and at the batch boundaries, that
reproduce a local run's batches, so the workers' outputs equal the local ones."""

from __future__ import annotations

import numpy as np


def local_batch_order(model, texts, text_pairs) -> tuple[np.ndarray, int]:
    """Example order and batch size that reproduce the model's local batches inside each block.

    Our classifiers sort texts by token count (longest first, stable) and pad each batch of
    ``batch_size`` to its longest text (models._tokenized_batches). Blocks cut from that order
    at whole batches get the very same batches on the workers, so the outputs equal a local run's
    bit for bit when torch uses as many threads as a replica does (one per CPU), and to float
    rounding otherwise (2e-7 measured on the demo teacher, 2 threads locally against 1); with
    other batches they would differ by the batch shape's rounding too (6.6e-7 measured on a tiny
    BERT). Other models: example order, blocks of any size.
    """
    tokenizer, batch_size = getattr(model, "tokenizer", None), getattr(model, "batch_size", None)
    max_length = getattr(model, "max_length", None)
    if tokenizer is None or not isinstance(batch_size, int) or batch_size < 1 or not max_length:
        return np.arange(len(texts)), 1
    encoded = tokenizer(
        list(texts), list(text_pairs) if text_pairs is not None else None, truncation=True, max_length=max_length
    )
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    return np.argsort(-lengths, kind="stable"), batch_size


def arrow_block(texts, text_pairs, chosen: np.ndarray):
    """One Arrow block: the chosen examples' indices, texts and (for pairs) second texts."""
    import pyarrow as pa

    columns = {"index": chosen, "text": [texts[i] for i in chosen]}
    if text_pairs is not None:
        columns["pair"] = [text_pairs[i] for i in chosen]
    return pa.table(columns)
