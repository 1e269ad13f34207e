"""predict(): label alignment by name, output checks, and the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest
from faults import Fixed

from loyalty_tests.data import load_dataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.models.classifiers import CallableClassifier
from loyalty_tests.predictions import check_probabilities, label_permutation, predict


@pytest.fixture
def data(sentiment_csv):
    return load_dataset(str(sentiment_csv))


def test_permuted_student_is_aligned_by_name(data):
    teacher = CallableClassifier(Fixed([[0.9, 0.1], [0.2, 0.8]]), "t", ("negative", "positive"))
    permuted = CallableClassifier(Fixed([[0.1, 0.9], [0.8, 0.2]]), "s", ("positive", "negative"))
    a, b = predict(teacher, data), predict(permuted, data)
    np.testing.assert_allclose(a.probabilities, b.probabilities)
    assert a.label_names == data.label_names


def test_mismatched_label_sets_list_both():
    with pytest.raises(LoyaltyError) as error:
        label_permutation(("LABEL_0", "LABEL_1"), ("negative", "positive"), "student", "dev.csv")
    text = str(error.value)
    assert "['LABEL_0', 'LABEL_1']" in text and "['negative', 'positive']" in text and "id2label" in text


@pytest.mark.parametrize(
    "rows, message",
    [
        (np.full((3, 2), np.nan), "NaN"),
        (np.ones((3, 3)) / 3, "shape"),
        (np.ones((2, 2)) / 2, "shape"),
        (np.array([[2.0, -1.0]] * 3), r"model 'student' has negative values in 3 rows \(first: row 0\).*logits"),
        (np.array([[3.0, 1.0]] * 3), r"rows must sum to 1.*apply a softmax to logits"),
    ],
)
def test_bad_outputs_are_named(rows, message):
    with pytest.raises(LoyaltyError, match=message):
        check_probabilities(rows, 3, 2, "student")


def test_cache_reuses_predictions(data, tmp_path):
    source = Fixed([[0.7, 0.3]])
    model = CallableClassifier(source, "m", ("negative", "positive"), fingerprint="abc")
    first = predict(model, data, cache_dir=tmp_path)
    second = predict(model, data, cache_dir=tmp_path)
    assert source.calls == 1
    assert not first.from_cache and second.from_cache
    np.testing.assert_array_equal(first.probabilities, second.probabilities)
    other_data = data.sample(5, seed=1)
    predict(model, other_data, cache_dir=tmp_path)
    assert source.calls == 2  # new data, new fingerprint


def test_no_fingerprint_means_no_cache(data, tmp_path):
    source = Fixed([[0.7, 0.3]])
    model = CallableClassifier(source, "m", ("negative", "positive"))
    predict(model, data, cache_dir=tmp_path)
    predict(model, data, cache_dir=tmp_path)
    assert source.calls == 2


def test_columns_follow_the_data_then_the_models_other_labels_by_name():
    columns = label_permutation(("c", "a", "b", "d"), ("b", "d"), "m", "data")
    assert [("c", "a", "b", "d")[i] for i in columns] == ["b", "d", "a", "c"]
