"""The text corpus an LM pair is compared on: token loyalty reads its texts, generation its prompts.

``--loyalty-data`` of an LM run names it: a ``.txt`` file (one text a line, blank lines skipped)
or any dataset spec the classifier gates accept (its labels are not read), by default the
embedded rotten_tomatoes test sentences, which need no network. A seeded sample keeps a run to a
few minutes on a CPU.
"""

from __future__ import annotations

from pathlib import Path

from ..data import load_dataset
from ..data.dataset import seeded_order
from ..errors import LoyaltyError


def load_corpus(
    spec: str, *, limit: int, seed: int = 0, text_column: str = "text", label_column: str = "label"
) -> tuple[str, ...]:
    """At most ``limit`` texts of ``spec``, a seeded sample kept in file order."""
    path = Path(spec).expanduser()
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise LoyaltyError(
                f"text corpus {spec!r} does not exist (looked for {path.absolute()}); give a .txt "
                "file with one text a line, or a dataset such as rotten_tomatoes"
            )
        texts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        if not texts:
            raise LoyaltyError(f"text corpus {spec!r} has no non-blank lines; put one text on each line")
    else:
        texts = list(load_dataset(spec, text_column=text_column, label_column=label_column).texts)
    keep = sorted(seeded_order(texts, seed)[:limit])
    return tuple(texts[i] for i in keep)


def generation_prompts(texts, count: int) -> tuple[str, ...]:
    """The first half (by words, at least one word) of each of the first ``count`` texts: the
    models continue a sentence they have begun, where teacher and student can be compared.

    >>> generation_prompts(["a fine and moving film", "dull"], 5)
    ('a fine', 'dull')
    """
    prompts = []
    for text in list(texts)[:count]:
        words = text.split()
        prompts.append(" ".join(words[: max(1, len(words) // 2)]))
    return tuple(prompts)
