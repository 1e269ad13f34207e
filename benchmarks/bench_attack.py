"""Our textfooler attack vs TextAttack's, on the same Rotten Tomatoes examples, side by side.

    bash benchmarks/setup_textattack_env.sh                        # once: TextAttack's venv (.venv-textattack/)
    .venv/bin/python benchmarks/bench_attack.py [--examples 50]    # the comparison
    .venv/bin/python benchmarks/bench_attack.py --per-recipe       # charswap, textfooler, pwws alone (20 sentences)

A seeded sample of rotten_tomatoes:test is written to a JSON file; benchmarks/textattack_reference.py
attacks it inside the TextAttack venv (a subprocess: TextAttack needs transformers 4.x) twice: with
TextAttack's stock model wrapper (pads every batch to 512 tokens: how TextAttack ships) and with
the same wrapper padding each batch to its longest text (every outcome must be the same; checked
here). Then our engine attacks the same examples through the public API, run_attack(teacher,
data, AttackConfig(recipe="textfooler:..."), indices=..., in_flight=...). All three attack the demo
teacher, with the same components (GloVe 6B 50d neighbours, all-MiniLM-L6-v2 similarity over a
15-word window compared with the text as perturbed so far, our stop words, no part-of-speech
check, greedy search by deletion importance) and the same budget.

Printed per engine: seconds per attacked example (attacked = originally correct; setup excluded on
every side: our engine first attacks one extra example outside the sample to load its resources),
success rate, mean queries, mean perturbed fraction, the share of attack time outside the
classifier's forward passes (and outside the classifier's and the similarity encoder's), and the
ratio of attack time to the BARE forward time of the same texts: every predict_proba call the
engine made is made once more after the attack, same texts in the same calls (so the same batch
shapes: TextAttack's batches of 32; ours as its lockstep calls were, which the classifier splits
into length-sorted batches of its batch size), and timed.
Targets (benchmark, not test): >= 2x faster per attacked example than TextAttack with dynamic
padding (>= 18x against TextAttack as shipped); mean queries <= TextAttack's; success rate >=
TextAttack's - 1 point; attack time / bare classifier forward time of the same texts <= 1.1.
Timings share the machine's cores with whatever else runs: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from loyalty_tests.data import TextDataset, load_dataset
from loyalty_tests.errors import LoyaltyError
from loyalty_tests.infra.cache import fingerprint

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "textattack_reference.py"
DATA_SPEC = "rotten_tomatoes:test"
TARGETS = {"speedup_dynamic": 2.0, "speedup_shipped": 18.0, "success_points": 1.0, "bare_forward_ratio": 1.1}


def textattack_venv() -> Path:
    """Where setup_textattack_env.sh puts TextAttack's venv: $TA_VENV, else .venv-textattack/ here."""
    return Path(os.environ.get("TA_VENV") or HERE.parent / ".venv-textattack")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--examples", type=int, default=None, help="size of the seeded sample (50; 20 with --per-recipe)"
    )
    parser.add_argument("--budget", type=int, default=500, help="max model queries per attacked example")
    parser.add_argument("--seed", type=int, default=0, help="picks the sample; handed to both engines")
    parser.add_argument("--in-flight", type=int, default=None, help="examples our engine attacks in lockstep")
    parser.add_argument(
        "--ta-python",
        default=os.environ.get("TA_PYTHON", str(textattack_venv() / "bin" / "python")),
        help="python of the TextAttack venv (benchmarks/setup_textattack_env.sh; default "
        "$TA_VENV/bin/python, else .venv-textattack/bin/python in the project)",
    )
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where the demo teacher is cached (default: $LOYALTY_CACHE_DIR or ~/.cache)",
    )
    parser.add_argument("--textattack-only", action="store_true", help="run only TextAttack's half")
    parser.add_argument("--ours-only", action="store_true", help="run only our engine (no TextAttack venv needed)")
    parser.add_argument(
        "--skip-shipped",
        action="store_true",
        help="run TextAttack with dynamic padding only (quick parity checks; no shipped ratio)",
    )
    parser.add_argument(
        "--per-recipe", action="store_true", help="our charswap, textfooler and pwws on the demo teacher; no TextAttack"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write every result here")
    same = parser.add_argument_group("textfooler settings, given to both engines")
    same.add_argument("--max-candidates", type=int, default=50)
    same.add_argument("--min-cos-sim", type=float, default=0.5)
    same.add_argument("--sim-threshold", type=float, default=0.840845057)
    same.add_argument("--sim-window", type=int, default=15)
    same.add_argument("--sim-compare", choices=("current", "original"), default="current")
    args = parser.parse_args(argv)
    args.examples = args.examples or (20 if args.per_recipe else 50)
    if args.examples <= 0 or args.budget <= 0:
        parser.error("--examples and --budget must be positive")
    return args


def our_recipe(args) -> str:
    """The textfooler recipe string with the settings TextAttack gets too (unbounded, as its recipe)."""
    return (
        f"textfooler:candidates_per_word={args.max_candidates},min_cosine={args.min_cos_sim},"
        f"similarity_threshold={args.sim_threshold},window_size={args.sim_window},"
        f"compare_against_original={str(args.sim_compare == 'original').lower()},"
        "max_words=none,max_word_share=none"  # TextAttack's TextFoolerJin2019 has no bound on perturbed words
    )


def sample_indices(size: int, examples: int, seed: int) -> list[int]:
    """``examples`` positions of a dataset of ``size``, seeded; a smaller sample is part of a larger one."""
    order = np.random.default_rng(seed).permutation(size)
    return sorted(int(index) for index in order[:examples])


def spare_index(size: int, examples: int, seed: int) -> int | None:
    """The next position of the same seeded order: an example outside the sample, for the warm-up."""
    order = np.random.default_rng(seed).permutation(size)
    return int(order[examples]) if examples < size else None


def write_examples(data: TextDataset, indices: list[int], path: Path) -> None:
    rows = [{"index": index, "text": data.texts[index], "label": data.labels[index]} for index in indices]
    payload = {"dataset": data.name, "label_names": list(data.label_names), "examples": rows}
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")


def run_textattack(args: argparse.Namespace, examples_path: Path, teacher_folder: Path) -> dict:
    if not Path(args.ta_python).is_file():
        raise LoyaltyError(
            f"--ta-python {args.ta_python} does not exist; make the TextAttack venv with "
            "`bash benchmarks/setup_textattack_env.sh` (TA_VENV=... to put it elsewhere)"
        )
    from loyalty_tests.robustness.constraints import STOP_WORDS

    output, stopwords = examples_path.with_name("textattack_result.json"), examples_path.with_name("stopwords.txt")
    stopwords.write_text("\n".join(sorted(STOP_WORDS)) + "\n", encoding="utf-8")  # same stop words on both sides
    command = [
        args.ta_python,
        str(REFERENCE),
        str(examples_path),
        "--output",
        str(output),
        "--budget",
        str(args.budget),
        "--seed",
        str(args.seed),
        "--model",
        str(teacher_folder),
        "--stopwords",
        str(stopwords),
        "--max-candidates",
        str(args.max_candidates),
        "--min-cos-sim",
        str(args.min_cos_sim),
        "--sim-threshold",
        str(args.sim_threshold),
        "--sim-window",
        str(args.sim_window),
        "--sim-compare",
        args.sim_compare,
        "--wrappers",
        "dynamic" if args.skip_shipped else "shipped,dynamic",
    ]
    # The child is another venv's python: none of this venv's import paths may leak into it.
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    print(f"[textattack] attacking {args.examples} examples twice in {args.ta_python} ...", flush=True)
    finished = subprocess.run(command, env=environment)
    if finished.returncode != 0 or not output.is_file():
        raise LoyaltyError(
            f"textattack_reference.py exited with {finished.returncode} (its errors are above); "
            "rerun `bash benchmarks/setup_textattack_env.sh` if TextAttack fails to import"
        )
    return json.loads(output.read_text(encoding="utf-8"))


def check_identical(ta: dict) -> None:
    """The two TextAttack runs differ only in padding: every outcome must be the same."""
    keys = ("index", "status", "queries", "perturbed_text")
    shipped, dynamic = (
        [{k: row[k] for k in keys} for row in ta["runs"][name]["per_example"]] for name in ("shipped", "dynamic")
    )
    differing = [(a, b) for a, b in zip(shipped, dynamic) if a != b]
    if differing or len(shipped) != len(dynamic):
        raise AssertionError(
            f"TextAttack's outcomes differ between padding to 512 and dynamic padding on "
            f"{len(differing)} examples, e.g. {differing[:2]}; the speed comparison would be unfair"
        )
    print(
        f"[check] TextAttack shipped vs dynamic padding: all {len(shipped)} outcomes identical "
        "(status, queries, adversarial text)"
    )


class TimedClassifier:
    """The teacher with its predict_proba calls timed and recorded. A fingerprint of its own,
    fresh every run, so no prediction cached by an earlier run can make forward passes look free."""

    def __init__(self, model, tag: str):
        self.model, self.name, self.label_names = model, model.name, model.label_names
        self.fingerprint = fingerprint(model.fingerprint, "bench_attack", tag, os.getpid(), time.time_ns())
        self.seconds, self.calls = 0.0, []

    def predict_proba(self, texts, text_pairs=None, **options):
        # options: the lockstep's group_sizes (the teacher batches each example's texts on its own)
        start = time.perf_counter()
        try:
            return self.model.predict_proba(texts, text_pairs=text_pairs, **options)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls.append((list(texts), None if text_pairs is None else list(text_pairs), options))

    def bare_forward_seconds(self) -> float:
        start = time.perf_counter()
        for texts, pairs, options in self.calls:
            self.model.predict_proba(texts, text_pairs=pairs, **options)
        return time.perf_counter() - start

    def __getattr__(self, name):  # anything else a Classifier may offer (batch_size, tokenizer, ...)
        return getattr(self.model, name)


def run_engine(args: argparse.Namespace, teacher, data: TextDataset, indices: list[int], recipe: str) -> dict:
    from loyalty_tests.robustness import AttackConfig, resources, run_attack
    from loyalty_tests.robustness.lockstep import DEFAULT_IN_FLIGHT
    from loyalty_tests.robustness.words import Words

    in_flight = args.in_flight or DEFAULT_IN_FLIGHT
    spare, warm_up_seconds = spare_index(len(data), args.examples, args.seed), None
    if spare is not None:  # resources load on first use; TextAttack's setup is outside its timed loop too
        start = time.perf_counter()
        run_attack(
            TimedClassifier(teacher, "warm-up"),
            data,
            AttackConfig(recipe, examples=1, budget=args.budget, seed=args.seed),
            indices=[spare],
        )
        warm_up_seconds = time.perf_counter() - start
    encoder = None
    if recipe.startswith("textfooler"):
        encoder = resources.sentence_encoder()
        # TextAttack's side computes the GloVe neighbours of the sample's words in its setup; so do we
        # (our table on disk usually has them already from an earlier run)
        start = time.perf_counter()
        neighbours = resources.glove_neighbours(None, args.max_candidates, args.min_cos_sim)
        neighbours.prefetch([word for i in indices for word in Words.split(data.texts[i]).words])
        neighbours.save()
        warm_up_seconds = (warm_up_seconds or 0.0) + time.perf_counter() - start
    encoder_before = encoder.seconds if encoder else 0.0
    timed = TimedClassifier(teacher, "sample")
    config = AttackConfig(recipe, examples=len(indices), budget=args.budget, seed=args.seed)
    print(f"[ours] {recipe}: attacking {len(indices)} examples, {in_flight} in flight ...", flush=True)
    start = time.perf_counter()
    result = run_attack(timed, data, config, indices=indices, progress=_progress, in_flight=in_flight)
    wall = time.perf_counter() - start
    encoder_seconds = (encoder.seconds - encoder_before) if encoder else 0.0
    attacked = result.attacked
    rows = [
        {
            "index": e.index,
            "label": e.label,
            "status": e.status,
            "queries": e.queries,
            "original_text": e.original_text,
            "perturbed_text": e.perturbed_text,
            "perturbed_fraction": e.perturbed_fraction,
        }
        for e in result.examples
    ]
    return {
        "engine": "loyalty_tests",
        "recipe": recipe,
        "in_flight": in_flight,
        "examples": len(result.examples),
        "attacked": len(attacked),
        "succeeded": sum(e.status == "succeeded" for e in attacked),
        "success_rate": result.attack_success_rate,
        "mean_queries": result.mean_queries,
        "mean_perturbed_fraction": result.mean_perturbed_fraction,
        "wall_seconds": wall,
        "warm_up_seconds": warm_up_seconds,
        "seconds_per_attacked_example": wall / len(attacked) if attacked else None,
        "forward_seconds": timed.seconds,
        "forward_calls": len(timed.calls),
        "forward_texts": sum(len(texts) for texts, _, _ in timed.calls),
        "encoder_seconds": encoder_seconds,
        "bare_forward_seconds": timed.bare_forward_seconds(),
        "per_example": rows,
    }


def _progress(done: int, total: int, succeeded: int) -> None:
    if done == total or done % 10 == 0:
        print(f"[ours] {done}/{total} examples, {succeeded} succeeded", file=sys.stderr, flush=True)


def derived(run: dict) -> dict:
    """Shares and ratios every engine's row shows."""
    wall = run["wall_seconds"]
    return {
        "outside_forward": 1 - run["forward_seconds"] / wall,
        "outside_both": 1 - (run["forward_seconds"] + run["encoder_seconds"]) / wall,
        "bare_ratio": wall / run["bare_forward_seconds"] if run["bare_forward_seconds"] else None,
        "bare_both_ratio": wall / (run["bare_forward_seconds"] + run["encoder_seconds"]),
    }


def _cell(value, form: str = "{:.2f}") -> str:
    return "n/a" if value is None else form.format(value)


def print_side_by_side(columns: dict[str, dict]) -> None:
    rows = [
        ("examples (attacked)", lambda r, d: f"{r['examples']} ({r['attacked']})"),
        ("wall seconds, attack loop", lambda r, d: _cell(r["wall_seconds"], "{:.1f}")),
        ("seconds / attacked example", lambda r, d: _cell(r["seconds_per_attacked_example"], "{:.3f}")),
        ("success rate", lambda r, d: _cell(r["success_rate"], "{:.1%}")),
        ("mean queries (attacked)", lambda r, d: _cell(r["mean_queries"], "{:.1f}")),
        ("mean perturbed fraction", lambda r, d: _cell(r["mean_perturbed_fraction"], "{:.1%}")),
        ("classifier calls / texts", lambda r, d: f"{r['forward_calls']} / {r['forward_texts']}"),
        ("seconds classifier / encoder", lambda r, d: f"{r['forward_seconds']:.1f} / {r['encoder_seconds']:.1f}"),
        ("outside classifier forward", lambda r, d: _cell(d["outside_forward"], "{:.1%}")),
        ("outside classifier+encoder", lambda r, d: _cell(d["outside_both"], "{:.1%}")),
        ("attack / bare classifier fwd", lambda r, d: _cell(d["bare_ratio"], "{:.2f}")),
        ("attack / (bare fwd + encoder)", lambda r, d: _cell(d["bare_both_ratio"], "{:.2f}")),
    ]
    print("\n" + f"{'':31}" + "".join(f"{name:>20}" for name in columns))
    for label, cell in rows:
        print(f"{label:31}" + "".join(f"{cell(run, derived(run)):>20}" for run in columns.values()))
    print(
        "bare forward = every classifier call the engine made, made again after the attack with the same "
        "texts in the same calls (TextAttack: its batches of 32; ours: its lockstep calls, split by the "
        "classifier into length-sorted batches of its batch size); the encoder's seconds are as measured "
        "during the attack"
    )


def print_targets(shipped: dict, dynamic: dict, ours: dict) -> None:
    checks = []
    for name, theirs, target in (
        ("dynamic", dynamic, TARGETS["speedup_dynamic"]),
        ("shipped", shipped, TARGETS["speedup_shipped"]),
    ):
        speedup = theirs["seconds_per_attacked_example"] / ours["seconds_per_attacked_example"]
        checks.append(
            (f"speedup per attacked example vs TextAttack {name} {speedup:.1f}x", speedup >= target, f">= {target:g}x")
        )
    checks.append(
        (
            f"mean queries {ours['mean_queries']:.1f} vs TextAttack's {dynamic['mean_queries']:.1f}",
            ours["mean_queries"] <= dynamic["mean_queries"],
            "<= TextAttack's",
        )
    )
    # the per-example targets: the same outcome and adversarial text, never more queries
    same, extra_queries = parity(dynamic, ours)
    more = sum(extra > 0 for extra in extra_queries)
    checks.append((f"same outcome and adversarial text on {sum(same)}/{len(same)} examples", all(same), "all"))
    checks.append((f"more queries than TextAttack on {more}/{len(same)} examples", more == 0, "none"))
    points = 100 * (ours["success_rate"] - dynamic["success_rate"])
    checks.append(
        (
            f"success rate {points:+.1f} points vs TextAttack",
            points >= -TARGETS["success_points"],
            f">= -{TARGETS['success_points']:g} points",
        )
    )
    ratio = derived(ours)["bare_ratio"]
    checks.append(
        (
            f"attack / bare classifier forward {ratio:.2f}",
            ratio <= TARGETS["bare_forward_ratio"],
            f"<= {TARGETS['bare_forward_ratio']:g}",
        )
    )
    for text, met, target in checks:
        print(f"[{'met ' if met else 'MISS'}] {text} (target {target})")
    # Same model, same texts: both engines must skip the same examples (the teacher was wrong there).
    skipped = [{row["index"] for row in run["per_example"] if row["status"] == "skipped"} for run in (dynamic, ours)]
    if skipped[0] != skipped[1]:
        print(
            f"[warn] the engines disagree on which examples the teacher got wrong: TextAttack only "
            f"{sorted(skipped[0] - skipped[1])}, ours only {sorted(skipped[1] - skipped[0])}"
        )


def parity(theirs: dict, ours: dict) -> tuple[list[bool], list[int]]:
    """Per example: (the same outcome and adversarial text?, our queries minus theirs)."""
    pairs = list(zip(theirs["per_example"], ours["per_example"]))
    same = [a["status"] == b["status"] and a["perturbed_text"] == b["perturbed_text"] for a, b in pairs]
    return same, [b["queries"] - a["queries"] for a, b in pairs]


def print_parity(dynamic: dict, ours: dict) -> None:
    """Per example: do the engines reach the same outcome with the same queries?"""
    same, queries = parity(dynamic, ours)
    print(
        f"[parity] same outcome and adversarial text on {sum(same)}/{len(same)} examples; our queries minus "
        f"TextAttack's per example: {queries}"
    )


def per_recipe(args, teacher, data, indices) -> dict:
    results = {}
    for recipe in ("charswap", "textfooler", "pwws"):
        results[recipe] = run_engine(args, teacher, data, indices, recipe)
    print(f"\nper recipe on the demo teacher: {len(indices)} sentences of {DATA_SPEC}, budget {args.budget}")
    print(
        f"{'recipe':12}{'seconds':>9}{'s/attacked':>12}{'attacked':>10}{'success':>9}{'queries':>9}{'outside fwd':>13}"
    )
    for recipe, run in results.items():
        print(
            f"{recipe:12}{run['wall_seconds']:>9.1f}{_cell(run['seconds_per_attacked_example'], '{:.3f}'):>12}"
            f"{run['attacked']:>10}{_cell(run['success_rate'], '{:.1%}'):>9}{_cell(run['mean_queries'], '{:.1f}'):>9}"
            f"{derived(run)['outside_forward']:>13.1%}"
        )
    return results


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.cache_dir is not None:
        os.environ["LOYALTY_CACHE_DIR"] = str(args.cache_dir.expanduser())
    import torch

    from loyalty_tests.infra.cache import default_cache_dir
    from loyalty_tests.models.demo import build_demo_teacher
    from loyalty_tests.models.specs import ModelOptions, load_model

    data = load_dataset(DATA_SPEC)
    indices = sample_indices(len(data), args.examples, args.seed)
    teacher_folder = build_demo_teacher(default_cache_dir())  # built on first use (a few minutes)
    print(
        f"data: {DATA_SPEC}, {len(indices)} of {len(data)} examples (seed {args.seed}); budget {args.budget}; "
        f"teacher: {teacher_folder}; torch threads {torch.get_num_threads()}"
    )
    teacher = None
    if not args.textattack_only:
        teacher = load_model("demo", options=ModelOptions(cache_dir=default_cache_dir()))
        if tuple(teacher.label_names) != tuple(data.label_names):
            raise LoyaltyError(
                f"the demo teacher's labels {teacher.label_names} are not the data's "
                f"{data.label_names}; rebuild the demo teacher"
            )
    if args.per_recipe:
        payload = per_recipe(args, teacher, data, indices)
    else:
        columns = {}
        if not args.ours_only:
            with tempfile.TemporaryDirectory(prefix="bench_attack-") as folder:
                examples_path = Path(folder) / "examples.json"
                write_examples(data, indices, examples_path)
                ta = run_textattack(args, examples_path, teacher_folder)
            version = ta["versions"]["textattack"]
            if not args.skip_shipped:
                check_identical(ta)
                columns[f"TA {version} shipped"] = ta["runs"]["shipped"]
            columns[f"TA {version} dynamic"] = ta["runs"]["dynamic"]
        if teacher is not None:
            columns["loyalty_tests"] = run_engine(args, teacher, data, indices, our_recipe(args))
        print_side_by_side(columns)
        if len(columns) == 3:
            shipped, dynamic, ours = columns.values()
            print_targets(shipped, dynamic, ours)
        elif args.skip_shipped and len(columns) == 2:
            print_parity(*columns.values())
        payload = columns
    if args.json:
        args.json.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
