"""Our textfooler attack vs TextAttack's, on the same Rotten Tomatoes examples, side by side.

    bash benchmarks/setup_textattack_env.sh             # once: TextAttack's own venv (/work/ta-venv)
    LOYALTY_CACHE_DIR=/tmp/demo_cache .venv/bin/python benchmarks/bench_attack.py [--examples 50]
    .venv/bin/python benchmarks/bench_attack.py --textattack-only --examples 5   # TextAttack half alone

A seeded sample of rotten_tomatoes:test is written to a JSON file; benchmarks/textattack_reference.py
attacks it inside the TextAttack venv (a subprocess: TextAttack needs transformers 4.x), then our
engine attacks the same examples through the public API, run_attack(teacher, data, AttackConfig(
recipe="textfooler", ...), indices=...). Both attack the demo teacher (built on first use under
--cache-dir / $LOYALTY_CACHE_DIR). Targets, per attacked example (attacked = originally correct):
  - speedup >= 5x: TextAttack's attack-loop seconds vs ours (setup excluded on both sides: our
    engine first attacks one extra example, outside the sample, to load its resources);
  - success rate within 5 points of TextAttack's;
  - < 25% of our attack time outside the teacher's forward passes (predict_proba calls, timed by
    wrapping the teacher; the sentence encoder and search count as "outside").
TextAttack's model wrapper pads every batch to 512 tokens; that is how it ships and how users run
it, so the comparison keeps it. Timings share 2 CPU cores with whatever else runs: run it on a
quiet machine and the two engines one after the other, never alongside each other.
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

from loyalty_tests.cache import fingerprint
from loyalty_tests.data import TextDataset, load_dataset
from loyalty_tests.errors import LoyaltyError

HERE = Path(__file__).resolve().parent
REFERENCE = HERE / "textattack_reference.py"
DATA_SPEC = "rotten_tomatoes:test"
TARGET_SPEEDUP = 5.0
TARGET_SUCCESS_POINTS = 5.0
TARGET_OUTSIDE_SHARE = 0.25
# Options handed to textattack_reference.py unchanged: the knobs that must match our recipe.
PASSTHROUGH = ("max_candidates", "min_cos_sim", "glove_vocab", "sim_metric", "sim_threshold", "sim_window",
               "stopwords")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=50, help="size of the seeded sample")
    parser.add_argument("--budget", type=int, default=500, help="max model queries per attacked example")
    parser.add_argument("--seed", type=int, default=0, help="picks the sample; handed to both engines")
    parser.add_argument("--ta-python", default=os.environ.get("TA_PYTHON", "/work/ta-venv/bin/python"),
                        help="python of the TextAttack venv (benchmarks/setup_textattack_env.sh)")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where the demo teacher is cached (default: $LOYALTY_CACHE_DIR or ~/.cache)")
    parser.add_argument("--textattack-only", action="store_true", help="run only TextAttack's half")
    parser.add_argument("--no-warm-up", action="store_true",
                        help="time our engine cold, its resource loading included")
    parser.add_argument("--json", type=Path, default=None, help="also write both results here")
    reference = parser.add_argument_group("TextAttack settings (keep them equal to our textfooler recipe)")
    reference.add_argument("--max-candidates", type=int, default=None)
    reference.add_argument("--min-cos-sim", type=float, default=None)
    reference.add_argument("--glove-vocab", type=int, default=None, help="N most frequent GloVe words (0: all)")
    reference.add_argument("--sim-metric", choices=("angular", "cosine"), default=None)
    reference.add_argument("--sim-threshold", type=float, default=None)
    reference.add_argument("--sim-window", type=int, default=None)
    reference.add_argument("--stopwords", type=Path, default=None, help="one word a line")
    args = parser.parse_args(argv)
    if args.examples <= 0 or args.budget <= 0:
        parser.error("--examples and --budget must be positive")
    return args


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
        raise LoyaltyError(f"--ta-python {args.ta_python} does not exist; make the TextAttack venv with "
                           "`bash benchmarks/setup_textattack_env.sh` (TA_VENV=... to put it elsewhere)")
    output = examples_path.with_name("textattack_result.json")
    if args.stopwords is None:  # same components on both sides: hand TextAttack our recipe's stop words
        from loyalty_tests.robustness.constraints import STOP_WORDS

        args.stopwords = examples_path.with_name("stopwords.txt")
        args.stopwords.write_text("\n".join(sorted(STOP_WORDS)) + "\n", encoding="utf-8")
    command = [args.ta_python, str(REFERENCE), str(examples_path), "--output", str(output),
               "--budget", str(args.budget), "--seed", str(args.seed), "--model", str(teacher_folder)]
    for name in PASSTHROUGH:
        if getattr(args, name) is not None:
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    # The child is another venv's python: none of this venv's import paths may leak into it.
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    print(f"[textattack] attacking {args.examples} examples in {args.ta_python} ...", flush=True)
    finished = subprocess.run(command, env=environment)
    if finished.returncode != 0 or not output.is_file():
        raise LoyaltyError(f"textattack_reference.py exited with {finished.returncode} (its errors are above); "
                           "rerun `bash benchmarks/setup_textattack_env.sh` if TextAttack fails to import")
    return json.loads(output.read_text(encoding="utf-8"))


class TimedClassifier:
    """The teacher with its predict_proba calls timed. A fingerprint of its own, fresh every run, so
    no prediction cached by an earlier run can make the forward passes look free."""

    def __init__(self, model, tag: str):
        self.model = model
        self.name = model.name
        self.label_names = model.label_names
        self.fingerprint = fingerprint(model.fingerprint, "bench_attack", tag, os.getpid(), time.time_ns())
        self.seconds = 0.0
        self.calls = 0
        self.texts = 0

    def predict_proba(self, texts, text_pairs=None):
        start = time.perf_counter()
        try:
            return self.model.predict_proba(texts, text_pairs=text_pairs)
        finally:
            self.seconds += time.perf_counter() - start
            self.calls += 1
            self.texts += len(texts)

    def __getattr__(self, name):  # anything else a Classifier may offer (batch_size, tokenizer, ...)
        return getattr(self.model, name)


def run_engine(args: argparse.Namespace, teacher, data: TextDataset, indices: list[int]) -> dict:
    try:
        from loyalty_tests.robustness import AttackConfig, run_attack
    except ImportError as error:
        raise LoyaltyError(f"our attack engine does not import ({error}); run with --textattack-only until "
                           "loyalty_tests.robustness is in place") from error
    warm_up_seconds = None
    spare = spare_index(len(data), args.examples, args.seed)
    if not args.no_warm_up and spare is not None:
        # GloVe, the sentence encoder and the neighbour index load on first use; TextAttack's setup
        # is outside its timed loop too, so load ours on an example that is not in the sample.
        config = AttackConfig(recipe="textfooler", examples=1, budget=args.budget, seed=args.seed)
        start = time.perf_counter()
        run_attack(TimedClassifier(teacher, "warm-up"), data, config, indices=[spare])
        warm_up_seconds = time.perf_counter() - start

    from loyalty_tests.robustness import resources

    encoder = resources.sentence_encoder()
    encoder_before = encoder.seconds
    timed = TimedClassifier(teacher, "sample")
    config = AttackConfig(recipe="textfooler", examples=len(indices), budget=args.budget, seed=args.seed)
    print(f"[ours] attacking {len(indices)} examples ...", flush=True)
    start = time.perf_counter()
    result = run_attack(timed, data, config, indices=indices, progress=_progress)
    wall = time.perf_counter() - start
    encoder_seconds = encoder.seconds - encoder_before  # the similarity model's own forward passes
    attacked = [example for example in result.examples if example.status != "skipped"]
    rows = [{"index": example.index, "label": example.label, "status": example.status,
             "queries": example.queries, "original_text": example.original_text,
             "perturbed_text": example.perturbed_text, "perturbed_fraction": example.perturbed_fraction}
            for example in result.examples]
    return {"engine": "loyalty_tests", "examples": len(result.examples), "attacked": len(attacked),
            "succeeded": sum(example.status == "succeeded" for example in attacked),
            "success_rate": result.attack_success_rate, "mean_queries": result.mean_queries,
            "mean_perturbed_fraction": result.mean_perturbed_fraction,
            "wall_seconds": wall, "reported_seconds": result.seconds, "warm_up_seconds": warm_up_seconds,
            "seconds_per_attacked_example": wall / len(attacked) if attacked else None,
            "forward_seconds": timed.seconds, "forward_calls": timed.calls, "forward_texts": timed.texts,
            "encoder_seconds": encoder_seconds,
            "outside_forward_share": 1 - timed.seconds / wall if wall else None,
            "outside_all_forward_share": 1 - (timed.seconds + encoder_seconds) / wall if wall else None,
            "per_example": rows}


def _progress(done: int, total: int, succeeded: int) -> None:
    if done == total or done % 10 == 0:
        print(f"[ours] {done}/{total} examples, {succeeded} succeeded", file=sys.stderr, flush=True)


def _cell(value, form: str = "{:.2f}") -> str:
    return "n/a" if value is None else form.format(value)


def print_side_by_side(ta: dict, ours: dict | None) -> None:
    ours = ours or {}
    rows = [("examples (attacked)", f"{ta['examples']} ({ta['attacked']})",
             f"{ours['examples']} ({ours['attacked']})" if ours else "n/a", ""),
            ("wall seconds, attack loop", _cell(ta["wall_seconds"], "{:.1f}"), _cell(ours.get("wall_seconds"), "{:.1f}"), ""),
            ("setup seconds", _cell(ta["import_seconds"] + ta["setup_seconds"], "{:.1f}"),
             _cell(ours.get("warm_up_seconds"), "{:.1f}"), "(ours: the warm-up example)"),
            ("seconds / attacked example", _cell(ta["seconds_per_attacked_example"]),
             _cell(ours.get("seconds_per_attacked_example")), ""),
            ("success rate", _cell(ta["success_rate"], "{:.1%}"), _cell(ours.get("success_rate"), "{:.1%}"), ""),
            ("mean queries (attacked)", _cell(ta["mean_queries"], "{:.1f}"), _cell(ours.get("mean_queries"), "{:.1f}"), ""),
            ("mean perturbed fraction", _cell(ta["mean_perturbed_fraction"], "{:.1%}"),
             _cell(ours.get("mean_perturbed_fraction"), "{:.1%}"), "(over successful)"),
            ("time outside forward passes", "n/a", _cell(ours.get("outside_forward_share"), "{:.1%}"),
             "(the classifier's; the MiniLM similarity encoder counts as outside)"),
            ("... outside both models' passes", "n/a", _cell(ours.get("outside_all_forward_share"), "{:.1%}"),
             "(classifier and similarity encoder counted as forward passes)")]
    print(f"\n{'':30} {'TextAttack ' + ta['versions']['textattack']:>18} {'loyalty_tests':>15}")
    for label, theirs, mine, note in rows:
        print(f"{label:30} {theirs:>18} {mine:>15}  {note}")
    print(f"TextAttack pads every batch to {ta['settings']['padded_to_tokens']} tokens (its stock "
          f"HuggingFaceModelWrapper); torch threads {ta['torch_threads']}")
    if not ours:
        return
    checks = []
    if ta["seconds_per_attacked_example"] and ours["seconds_per_attacked_example"]:
        speedup = ta["seconds_per_attacked_example"] / ours["seconds_per_attacked_example"]
        checks.append((f"speedup per attacked example {speedup:.1f}x", speedup >= TARGET_SPEEDUP, f">= {TARGET_SPEEDUP:g}x"))
    if ta["success_rate"] is not None and ours["success_rate"] is not None:
        points = 100 * abs(ours["success_rate"] - ta["success_rate"])
        checks.append((f"success rates {points:.1f} points apart", points <= TARGET_SUCCESS_POINTS,
                       f"<= {TARGET_SUCCESS_POINTS:g} points"))
    if ours["outside_forward_share"] is not None:
        share = ours["outside_forward_share"]
        checks.append((f"outside forward passes {share:.1%}", share < TARGET_OUTSIDE_SHARE, f"< {TARGET_OUTSIDE_SHARE:.0%}"))
    for text, met, target in checks:
        print(f"[{'met ' if met else 'MISS'}] {text} (target {target})")
    # Same model, same texts: both engines must skip the same examples (the teacher was wrong there).
    skipped = ({row["index"] for row in ta["per_example"] if row["status"] == "skipped"},
               {row["index"] for row in ours["per_example"] if row["status"] == "skipped"})
    if skipped[0] != skipped[1]:
        print(f"[warn] the engines disagree on which examples the teacher got wrong: TextAttack only "
              f"{sorted(skipped[0] - skipped[1])}, ours only {sorted(skipped[1] - skipped[0])}")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.cache_dir is not None:
        os.environ["LOYALTY_CACHE_DIR"] = str(args.cache_dir.expanduser())
    from loyalty_tests.cache import default_cache_dir
    from loyalty_tests.demo import build_demo_teacher

    data = load_dataset(DATA_SPEC)
    indices = sample_indices(len(data), args.examples, args.seed)
    teacher_folder = build_demo_teacher(default_cache_dir())  # built on first use (a few minutes)
    print(f"data: {DATA_SPEC}, {len(indices)} of {len(data)} examples (seed {args.seed}); budget {args.budget}; "
          f"teacher: {teacher_folder}")
    with tempfile.TemporaryDirectory(prefix="bench_attack-") as folder:
        examples_path = Path(folder) / "examples.json"
        write_examples(data, indices, examples_path)
        ta = run_textattack(args, examples_path, teacher_folder)
    ours = None
    if not args.textattack_only:
        from loyalty_tests.specs import ModelOptions, load_model

        teacher = load_model("demo", options=ModelOptions(cache_dir=default_cache_dir()))
        if tuple(teacher.label_names) != tuple(data.label_names):
            raise LoyaltyError(f"the demo teacher's labels {teacher.label_names} are not the data's "
                               f"{data.label_names}; rebuild the demo teacher")
        ours = run_engine(args, teacher, data, indices)
    print_side_by_side(ta, ours)
    if args.json:
        args.json.write_text(json.dumps({"textattack": ta, "loyalty_tests": ours}, indent=1) + "\n", encoding="utf-8")
        print(f"results: {args.json}")


if __name__ == "__main__":
    main()
