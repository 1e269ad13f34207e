"""Hub datasets (extra ``[hub]``, needs network), read with the ``datasets`` package."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from ..errors import LoyaltyError
from .dataset import TextDataset
from .files import SPEC_HELP, from_rows

HUB_EXTRA = "pip install 'pytest-loyalty[hub]'"


def parse_hub_spec(spec: str) -> tuple[str, str | None, str]:
    """``name:split``, ``name/config:split`` or ``org/name/config:split`` -> (name, config, split).

    >>> parse_hub_spec("glue/sst2:validation")
    ('glue', 'sst2', 'validation')
    >>> parse_hub_spec("stanfordnlp/imdb/plain_text:test")
    ('stanfordnlp/imdb', 'plain_text', 'test')
    """
    path, _, split = spec.partition(":")
    parts = path.split("/")
    if len(parts) == 1:
        return parts[0], None, split
    return "/".join(parts[:-1]), parts[-1], split


def load_hub(
    spec: str, *, text_column: str = "text", text_pair_column: str | None = None, label_column: str = "label"
) -> TextDataset:
    """A split of a Hugging Face hub dataset; label names from its ClassLabel feature when it has one."""
    try:
        import datasets  # optional: only hub specs need it
    except ImportError as error:
        raise LoyaltyError(
            f"data spec {spec!r} is not a file or an embedded dataset, so it was read as a hub "
            f"dataset id, which needs the 'datasets' package: run {HUB_EXTRA}; {SPEC_HELP}"
        ) from error
    name, config, split = parse_hub_spec(spec)
    try:
        hub = datasets.load_dataset(name, config, split=split)
    except Exception as error:  # network, unknown id/config/split: say which spec and why
        raise LoyaltyError(
            f"could not load hub dataset {spec!r} (name={name!r}, config={config!r}, split={split!r}): "
            f"{type(error).__name__}: {error}; hub datasets need network access; {SPEC_HELP}"
        ) from error
    feature = hub.features.get(label_column)
    names = tuple(map(str, feature.names)) if isinstance(feature, datasets.ClassLabel) else None
    rows = _hub_rows(hub, spec, label_column, names)
    dataset = from_rows(spec, rows, text_column, text_pair_column, label_column)
    if names is None:
        return dataset
    # Keep the ClassLabel's own order and all its names, also those absent from this split.
    position = {label_name: index for index, label_name in enumerate(names)}
    labels = tuple(position[dataset.label_names[label]] for label in dataset.labels)
    return TextDataset(spec, dataset.texts, labels, names, dataset.text_pairs)


def _hub_rows(hub, spec: str, label_column: str, names: tuple[str, ...] | None) -> Iterator[tuple[str, Mapping]]:
    yield "header", dict.fromkeys(hub.column_names)
    for number, row in enumerate(hub, start=1):
        label = row.get(label_column)
        if names is not None and label is not None:  # a ClassLabel index; -1 marks an unlabelled row
            if not 0 <= label < len(names):
                raise LoyaltyError(
                    f"data {spec!r}, row {number}: label {label} is not an index into {names} "
                    "(-1 means unlabelled: test splits such as GLUE's have no labels; use validation)"
                )
            row = {**row, label_column: names[label]}
        yield f"row {number}", row
