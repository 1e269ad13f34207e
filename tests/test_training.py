"""The shared training loop: seeded, deterministic, length-bucketed, with hooks for KD and Theseus."""

from __future__ import annotations

import math

import pytest
import torch
from tiny import tiny_bert, tiny_tokenizer

from conftest import NEGATIVE, POSITIVE
from loyalty_tests.data import TextDataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.models.training import (
    TrainConfig,
    _encode,
    _length_bucketed_batches,
    _model_label_ids,
    cross_entropy_loss,
    train,
)

FAST = TrainConfig(epochs=3, batch_size=4, learning_rate=1e-3, warmup_ratio=0.2, max_length=16, seed=0)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tiny_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="module")
def data():
    texts = POSITIVE + NEGATIVE
    return TextDataset("tiny:train", texts, [1] * len(POSITIVE) + [0] * len(NEGATIVE), ("negative", "positive"))


def weights(model) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_gives_identical_weights_and_another_seed_does_not(tokenizer, data):
    first = weights(train(tiny_bert(), tokenizer, data, FAST))
    second = weights(train(tiny_bert(), tokenizer, data, FAST))
    other = weights(train(tiny_bert(), tokenizer, data, TrainConfig(**{**FAST.__dict__, "seed": 1})))
    assert same(first, second)
    assert not same(first, other)
    assert not same(first, weights(tiny_bert()))  # it did train


def test_training_fits_a_tiny_sentiment_set(tokenizer, data):
    losses = []
    config = TrainConfig(epochs=20, batch_size=4, learning_rate=1e-2, warmup_ratio=0.1, max_length=16)
    model = train(tiny_bert(), tokenizer, data, config, progress=lambda step, total, loss: losses.append(loss))
    assert not model.training  # handed back in eval mode
    assert sum(losses[:3]) / 3 > 0.6 and sum(losses[-3:]) / 3 < 0.1
    with torch.no_grad():
        logits = model(**tokenizer(list(data.texts), padding=True, return_tensors="pt")).logits
    assert logits.argmax(dim=1).tolist() == list(data.labels)  # class ids match label order here


def test_progress_and_before_step_see_every_step(tokenizer, data):
    seen, before = [], []
    train(
        tiny_bert(),
        tokenizer,
        data,
        FAST,
        progress=lambda *args: seen.append(args),
        before_step=lambda step, total: before.append((step, total)),
    )
    total = math.ceil(len(data) / FAST.batch_size) * FAST.epochs
    assert [(step, t) for step, t, _ in seen] == [(step, total) for step in range(1, total + 1)]
    assert before == [(step, total) for step in range(total)]
    assert all(math.isfinite(loss) for _, _, loss in seen)


def test_loss_hook_gets_outputs_labels_and_example_indices(tokenizer, data):
    seen = []

    def loss_fn(outputs, batch):
        seen.extend(batch["indices"].tolist())
        assert outputs.logits.shape == (len(batch["indices"]), 2)
        assert batch["labels"].tolist() == [data.labels[i] for i in batch["indices"].tolist()]
        return cross_entropy_loss(outputs, batch)

    train(tiny_bert(), tokenizer, data, FAST, loss_fn=loss_fn)
    assert sorted(seen) == sorted(list(range(len(data))) * FAST.epochs)  # each example once per epoch


def test_only_the_given_parameters_train(tokenizer, data):
    model = tiny_bert()
    start = weights(model)
    train(model, tokenizer, data, FAST, parameters=model.classifier.parameters())
    end = weights(model)
    changed = {key for key in start if not torch.equal(start[key], end[key])}
    assert changed == {"classifier.weight", "classifier.bias"}


def test_the_callers_random_state_is_left_alone(tokenizer, data):
    model = tiny_bert()  # seeds torch itself, so build it first
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    train(model, tokenizer, data, FAST)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_batches_cover_every_example_once_and_group_similar_lengths(tokenizer):
    texts = [("a " * n).strip() for n in range(1, 41)]  # 40 texts of 1..40 words
    dataset = TextDataset("lengths", texts, [0] * 40, ("negative",))
    encoded = _encode(tokenizer, dataset, max_length=64)
    batches = list(_length_bucketed_batches(encoded, 4, torch.Generator().manual_seed(0)))
    assert sorted(i for batch in batches for i in batch) == list(range(40))
    assert all(max(batch) - min(batch) == 3 for batch in batches)  # one chunk: sorted, so neighbours
    again = list(_length_bucketed_batches(encoded, 4, torch.Generator().manual_seed(0)))
    other = list(_length_bucketed_batches(encoded, 4, torch.Generator().manual_seed(1)))
    assert batches == again and batches != other


def test_labels_are_matched_to_the_model_by_name(data):
    swapped = tiny_bert(("positive", "negative"))  # model class 0 is "positive"
    assert _model_label_ids(swapped, data) == [1 - label for label in data.labels]
    with pytest.raises(LoyaltyError, match=r"labels \['sports'\].*model labels: \['negative', 'positive'\]"):
        _model_label_ids(tiny_bert(), TextDataset("news", ["x"], [0], ("sports",)))


def test_text_pairs_are_encoded_together(tokenizer):
    pairs = TextDataset("nli", ["a good movie"], [0], ("entailment",), text_pairs=["great film"])
    encoded = _encode(tokenizer, pairs, max_length=64)
    assert encoded["input_ids"][0].count(tokenizer.sep_token_id) == 2
    assert set(encoded["token_type_ids"][0]) == {0, 1}


@pytest.mark.parametrize("bad", [dict(epochs=0), dict(batch_size=0), dict(learning_rate=0), dict(warmup_ratio=1.0)])
def test_bad_training_configs_are_refused(bad):
    with pytest.raises(LoyaltyError, match="TrainConfig"):
        TrainConfig(**bad)
