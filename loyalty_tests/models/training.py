"""The one seeded training loop, shared by the demo teacher, distillation, Theseus and QAT.

AdamW with linear warmup then linear decay to zero; batches of similar length (shuffle with the
seed, sort by length within chunks, shuffle the batches) padded only to their own longest
member; gradient clipping. ``loss_fn`` lets a method replace cross-entropy (distillation plugs
its KD loss in here) and ``before_step`` lets it act before each step (Theseus raises its
replacement rate on a curriculum). Same seed, same data, same start weights -> same weights.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import LoyaltyError

# How many batches share one length-sorting chunk: big enough that neighbours have similar
# lengths (little padding), small enough that batches still mix examples from the whole set.
CHUNK_BATCHES = 50


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 1
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.1  # fraction of all steps spent warming the learning rate up from 0
    weight_decay: float = 0.01  # AdamW decay, not applied to biases and LayerNorm weights
    max_length: int = 128  # tokens per example after truncation
    max_grad_norm: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if self.epochs < 1 or self.batch_size < 1 or self.max_length < 2:
            raise LoyaltyError(f"{self}: epochs and batch_size must be >= 1 and max_length >= 2")
        if not (self.learning_rate > 0 and 0 <= self.warmup_ratio < 1 and self.weight_decay >= 0):
            raise LoyaltyError(f"{self}: learning_rate must be > 0, warmup_ratio in [0, 1), weight_decay >= 0")


LossFn = Callable[[object, dict], "object"]  # (model outputs, batch) -> scalar loss tensor


def cross_entropy_loss(outputs, batch):
    """The default loss: cross-entropy of the model's logits against the gold labels."""
    import torch.nn.functional as F

    return F.cross_entropy(outputs.logits, batch["labels"])


def train(
    model,
    tokenizer,
    data,
    config: TrainConfig = TrainConfig(),
    *,
    loss_fn: LossFn = cross_entropy_loss,
    parameters=None,
    before_step: Callable[[int, int], None] | None = None,
    progress: Callable[[int, int, float], None] | None = None,
):
    """Fine-tune ``model`` in place on ``data`` (a TextDataset) and return it in eval mode.

    data's labels are matched to the model's classes by name (``model.config.label2id``).
    loss_fn gets the model outputs and the batch: input tensors, ``labels`` (model class ids)
    and ``indices`` (positions in ``data``, so a teacher's outputs can be looked up).
    parameters: what to train (default: every parameter with requires_grad).
    progress(step, total_steps, loss) is called after every optimizer step.
    The global torch RNG is seeded inside a fork, so the caller's random state is untouched.
    """
    import torch

    labels = _model_label_ids(model, data)
    device = next(model.parameters()).device
    steps_per_epoch = math.ceil(len(data) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    encoded = _encode(tokenizer, data, config.max_length)

    fork_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices), warnings.catch_warnings():
        # torch warns when the schedule moves before the first update; a skipped step (below)
        # moves it on purpose, so the warning would only be noise.
        warnings.filterwarnings(
            "ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before", category=UserWarning
        )
        torch.manual_seed(config.seed)  # dropout masks
        generator = torch.Generator().manual_seed(config.seed)  # example and batch order
        optimizer = _adamw(model, parameters, config)
        scheduler = _linear_warmup_decay(optimizer, config, total_steps)
        model.train()
        step = 0
        for _ in range(config.epochs):
            for indices in _length_bucketed_batches(encoded, config.batch_size, generator):
                if before_step is not None:
                    before_step(step, total_steps)
                batch = _collate(tokenizer, encoded, indices, labels, device)
                inputs = {key: value for key, value in batch.items() if key not in ("labels", "indices")}
                loss = loss_fn(model(**inputs), batch)
                # No gradient means nothing trained took part in this step (Theseus kept every
                # teacher block): skip the update, keep the schedule moving.
                if loss.requires_grad:
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(_trained(model, parameters), config.max_grad_norm)
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                step += 1
                if progress is not None:
                    progress(step, total_steps, float(loss.detach()))
    return model.eval()


def _model_label_ids(model, data) -> list[int]:
    """Dataset label index -> model class id, matched by label name, never silently by position."""
    label2id = {str(name): int(i) for name, i in model.config.label2id.items()}
    missing = [name for name in data.label_names if name not in label2id]
    if missing:
        raise LoyaltyError(
            f"training data {data.name!r} has labels {missing} that the model does not know "
            f"(model labels: {sorted(label2id)}); give the model matching id2label/label2id"
        )
    return [label2id[data.label_names[label]] for label in data.labels]


def _encode(tokenizer, data, max_length: int) -> dict[str, list]:
    pairs = list(data.text_pairs) if data.text_pairs is not None else None
    encoded = tokenizer(list(data.texts), pairs, truncation=True, max_length=max_length)
    keys = [key for key in ("input_ids", "attention_mask", "token_type_ids") if key in encoded]
    return {key: encoded[key] for key in keys}


def _length_bucketed_batches(encoded, batch_size: int, generator) -> Iterator[list[int]]:
    """Shuffle, sort by length within chunks of CHUNK_BATCHES batches, then shuffle the batches."""
    import torch

    lengths = [len(ids) for ids in encoded["input_ids"]]
    order = torch.randperm(len(lengths), generator=generator).tolist()
    chunk = batch_size * CHUNK_BATCHES
    batches = []
    for start in range(0, len(order), chunk):
        # sorted() is stable, so ties keep their shuffled order: still a pure function of the seed
        members = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(members[i : i + batch_size] for i in range(0, len(members), batch_size))
    for position in torch.randperm(len(batches), generator=generator).tolist():
        yield batches[position]


def _collate(tokenizer, encoded, indices: list[int], labels: list[int], device) -> dict:
    import torch

    features = [{key: values[i] for key, values in encoded.items()} for i in indices]
    batch = {key: value.to(device) for key, value in tokenizer.pad(features, return_tensors="pt").items()}
    batch["labels"] = torch.tensor([labels[i] for i in indices], device=device)
    batch["indices"] = torch.tensor(indices)
    return batch


def _trained(model, parameters) -> list:
    chosen = model.parameters() if parameters is None else parameters
    return [parameter for parameter in chosen if parameter.requires_grad]


def _adamw(model, parameters, config: TrainConfig):
    import torch

    trained = {id(parameter) for parameter in _trained(model, parameters)}
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if id(parameter) in trained:
            # biases and LayerNorm weights are not decayed (standard BERT fine-tuning practice)
            (no_decay if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name else decay).append(
                parameter
            )
    if not decay and not no_decay:
        raise LoyaltyError("nothing to train: no parameter of the model requires a gradient")
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([group for group in groups if group["params"]], lr=config.learning_rate)


def _linear_warmup_decay(optimizer, config: TrainConfig, total_steps: int):
    import torch

    warmup = int(config.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
