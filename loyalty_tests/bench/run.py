"""The paper's comparison as one command: compress a teacher with each recipe, then measure.

    python -m loyalty_tests.bench.run --teacher demo --recipes int8 prune:0.3 distill:layers=3+int8 \\
        --seeds 0 1 --attack textfooler --out bench-results

For every (recipe, seed): build the student (cached by fingerprint like the demo teacher), then
accuracy, label loyalty, probability loyalty, robustness (when an attack is named), latency
timed side by side with the teacher, parameter count and size on disk. Writes one JSON row per
(recipe, seed) to ``rows.jsonl``, a Markdown table (mean ± std and a 95% t interval over seeds)
with the paper's four findings below it (holds / does not hold / cannot tell, each with the
interval that decides it; ``findings``) to ``table.md``, and a plot of loyalty against speedup
to ``loyalty_vs_speedup.png``. Rows carry their config, seed and versions; the table, findings
and plot only render rows (``render``).
"""

from __future__ import annotations

import argparse
import io
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

from .. import metrics
from ..compress import parse_recipe
from ..data import load_dataset
from ..engines.latency import measure_latency
from ..errors import LoyaltyError
from ..infra.cache import atomic_write_text, default_cache_dir
from ..infra.environment import environment
from ..models.specs import ModelOptions, load_model
from ..predictions import check_same_labels, predict
from .render import render_markdown, render_plot

PAPER_RECIPES = (
    "int8",
    "prune:0.3",
    "heads:0.3",
    "distill:layers=3",
    "theseus:layers=3",
    "theseus:layers=3,kd=true",
    "distill:layers=3+int8",
)


def method_family(recipe: str) -> str:
    """The paper's families, as each method's config declares it; a chain of methods is "combined".

    >>> [method_family(r) for r in ("int8", "heads:0.3", "theseus:layers=3", "distill:layers=3+int8")]
    ['quantization', 'pruning', 'module replacing', 'combined']
    """
    configs = parse_recipe(recipe)
    return "combined" if len(configs) > 1 else type(configs[0]).family


def count_parameters(model) -> int | None:
    """Weights a student really carries: torch parameters, plus the packed weights of dynamically
    quantized Linear layers (which ``parameters()`` does not list), or an ONNX graph's initializers."""
    torch_model = getattr(model, "model", None)
    if torch_model is not None:
        total = sum(p.numel() for p in torch_model.parameters())
        for module in torch_model.modules():
            if "quantized" in type(module).__module__ and callable(getattr(module, "weight", None)):
                total += module.weight().numel()
                bias = module.bias() if callable(getattr(module, "bias", None)) else None
                total += bias.numel() if bias is not None else 0
        return int(total)
    path = getattr(model, "path", None)
    if path is not None and str(path).endswith(".onnx"):
        import onnx

        graph = onnx.load(str(path), load_external_data=False).graph
        return int(sum(int(np.prod(init.dims)) for init in graph.initializer))
    return None


def size_on_disk(model) -> int | None:
    """Bytes of the serialized weights: a torch state dict as saved, or the ONNX file."""
    torch_model = getattr(model, "model", None)
    if torch_model is not None:
        import torch

        buffer = io.BytesIO()
        torch.save(torch_model.state_dict(), buffer)
        return buffer.getbuffer().nbytes
    path = getattr(model, "path", None)
    return Path(path).stat().st_size if path is not None and Path(path).exists() else None


def _row_metrics(data, teacher_predictions, student_predictions) -> dict:
    labels = np.asarray(data.labels)
    teacher, student = teacher_predictions.probabilities, student_predictions.probabilities
    return {
        "teacher_accuracy": metrics.accuracy(labels, teacher.argmax(axis=1)),
        "accuracy": metrics.accuracy(labels, student.argmax(axis=1)),
        "label_loyalty": metrics.label_loyalty(teacher, student),
        "probability_loyalty": metrics.probability_loyalty(teacher, student),
        "kl_teacher_student": metrics.kl_divergence(teacher, student),
    }


def _robustness(teacher, student, data, args, cache_dir) -> dict:
    if not args.attack:
        return {}
    from ..robustness import AttackConfig, compare_robustness

    config = AttackConfig(
        recipe=args.attack, examples=args.attack_examples, budget=args.attack_budget, seed=args.seed_attack
    )
    result = compare_robustness(teacher, student, data, config, cache_dir=cache_dir)
    return {
        "attack": args.attack,
        "teacher_accuracy_under_attack": result.teacher.accuracy_under_attack,
        "accuracy_under_attack": result.student.accuracy_under_attack,
        "attack_success_rate": result.student.attack_success_rate,
        "transfer_rate": result.transfer_rate,
        "adversarial_label_loyalty": result.adversarial_label_loyalty,
    }


def run(args, log=print) -> list[dict]:
    from ..data import EMBEDDED_DATASETS

    for recipe in args.recipes:
        parse_recipe(recipe)  # a typo fails now, not after an hour of training the recipes before it
    cache_dir = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    use_cache = not args.no_cache
    results_cache = cache_dir if use_cache else None  # predictions and attacks
    data = load_dataset(args.data, limit=args.limit, seed=0)
    train_spec = args.train_data
    if train_spec is None and args.data.split(":")[0] in EMBEDDED_DATASETS:
        train_spec = args.data.split(":")[0] + ":train"

    def train_data():  # None: a method that trains then names --train-data in its error
        return load_dataset(train_spec, limit=args.train_limit, seed=0) if train_spec else None

    teacher = load_model(args.teacher, options=ModelOptions(cache_dir=cache_dir, use_cache=use_cache, progress=log))
    teacher_predictions = predict(teacher, data, cache_dir=results_cache)
    rng = random.Random(0)
    timing_texts = [data.texts[i] for i in sorted(rng.sample(range(len(data)), min(64, len(data))))]
    teacher_parameters, teacher_size = count_parameters(teacher), size_on_disk(teacher)
    rows = []
    for recipe in args.recipes:
        for seed in args.seeds:
            log(f"bench: {recipe} (seed {seed})")
            options = ModelOptions(
                cache_dir=cache_dir, use_cache=use_cache, seed=seed, progress=log, train_data=train_data
            )
            start = time.perf_counter()
            student = load_model(recipe, teacher=teacher, options=options)
            build_seconds = time.perf_counter() - start
            student_predictions = predict(student, data, cache_dir=results_cache)
            check_same_labels(teacher_predictions, student_predictions)
            latency = measure_latency(teacher, student, timing_texts, rounds=args.latency_rounds)
            row = {
                "recipe": recipe,
                "family": method_family(recipe),
                "seed": seed,
                "teacher": args.teacher,
                "data": data.name,
                "n": len(data),
                **_row_metrics(data, teacher_predictions, student_predictions),
                "speedup": latency.speedup,
                "teacher_ms": latency.teacher_seconds * 1e3,
                "student_ms": latency.student_seconds * 1e3,
                "parameters": count_parameters(student),
                "teacher_parameters": teacher_parameters,
                "size_bytes": size_on_disk(student),
                "teacher_size_bytes": teacher_size,
                "build_seconds": build_seconds,
                **_robustness(teacher, student, data, args, results_cache),
                "environment": environment(),
            }
            log(
                f"bench: {recipe} seed {seed}: accuracy {row['accuracy']:.3f}, label loyalty "
                f"{row['label_loyalty']:.3f}, probability loyalty {row['probability_loyalty']:.3f}, "
                f"speedup {row['speedup']:.2f}x"
            )
            rows.append(row)
    return rows


def write_outputs(rows: list[dict], out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rows_path, table_path, plot_path = out / "rows.jsonl", out / "table.md", out / "loyalty_vs_speedup.png"
    atomic_write_text(rows_path, "".join(json.dumps(row, default=float) + "\n" for row in rows))
    atomic_write_text(table_path, render_markdown(rows))
    render_plot(rows, plot_path)
    return [rows_path, table_path, plot_path]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m loyalty_tests.bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--teacher", default="demo", help="teacher spec (default: the embedded demo teacher)")
    parser.add_argument("--data", default="rotten_tomatoes:test", help="evaluation data spec")
    parser.add_argument(
        "--train-data",
        default=None,
        help="training data for recipes that train (default: the train split of an embedded --data)",
    )
    parser.add_argument("--recipes", nargs="+", default=list(PAPER_RECIPES), metavar="RECIPE")
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0],
        metavar="SEED",
        help="one row per recipe and seed; 2 or more give 95%% intervals over seeds and decide the findings",
    )
    parser.add_argument("--limit", type=int, default=None, help="evaluate on a seeded sample of N examples")
    parser.add_argument("--train-limit", type=int, default=None, help="train on a seeded sample of N examples")
    parser.add_argument("--attack", default=None, help="also attack teacher and students (e.g. textfooler)")
    parser.add_argument("--attack-examples", type=int, default=50)
    parser.add_argument("--attack-budget", type=int, default=500)
    parser.add_argument("--seed-attack", type=int, default=0, help="seed of the attacked sample and the attack")
    parser.add_argument("--latency-rounds", type=int, default=5)
    parser.add_argument(
        "--cache-dir",
        default=None,
        help="cache for the demo teacher, trained students, predictions "
        "and attacks (default $LOYALTY_CACHE_DIR or ~/.cache/loyalty_tests)",
    )
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="train students afresh and neither read nor write "
        "cached students, predictions or attacks (the demo teacher is still cached)",
    )
    parser.add_argument("--out", default="bench-results", help="folder for rows.jsonl, table.md and the plot")
    args = parser.parse_args(argv)
    # rows are paired by (recipe, seed): a repeat would count one model twice in every interval
    for option, values in (("--seeds", args.seeds), ("--recipes", args.recipes)):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            parser.error(f"{option} names {', '.join(repeated)} more than once; give each once")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    start = time.perf_counter()
    try:
        rows = run(args)
        paths = write_outputs(rows, Path(args.out))
    except LoyaltyError as error:
        print(f"loyalty bench: {error}", file=sys.stderr)
        return 2
    print(render_markdown(rows))
    print(f"wrote {', '.join(map(str, paths))} in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
