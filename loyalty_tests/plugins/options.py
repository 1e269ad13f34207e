"""The ``loyalty`` option group and ``loyalty_*`` ini keys, each checked when pytest parses them.

Numbers are parsed by small argparse types, so ``--loyalty-batch-size -1`` stops pytest at once
with a usage error naming the option and the valid range, before any model is loaded; a bad
value never reaches the code that would score garbage with it.
"""

from __future__ import annotations

import argparse
import re

from ..gates.thresholds import THRESHOLD_SPECS, cli_flag, ini_name
from .report_paths import add_report_ini


def whole_number(minimum: int, maximum: int | None = None):
    """An argparse type: an int in [minimum, maximum], else a message naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except (TypeError, ValueError):
            value = None
        if value is None or value < minimum or (maximum is not None and value > maximum):
            upper = f" and <= {maximum}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}{upper}, got {text!r}")
        return value

    parse.__name__ = "whole number"
    return parse


def device(text: str) -> str:
    if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", text):
        raise argparse.ArgumentTypeError(f"must be cpu, cuda, cuda:N or mps, got {text!r}")
    return text


def add_options(parser) -> None:
    group = parser.getgroup("loyalty", "loyalty: gate a compressed student against its teacher")
    add = group.addoption
    add(
        "--teacher",
        "--loyalty-teacher",
        dest="loyalty_teacher",
        default=None,
        metavar="SPEC",
        help="teacher model: demo, ./hf-dir, ./model.onnx, pkg.module:factory or ORG/NAME; replaces a declared "
        "loyalty_teacher fixture for this run",
    )
    add(
        "--student",
        "--loyalty-student",
        dest="loyalty_students",
        action="append",
        default=[],
        metavar="SPEC",
        help="student model (repeatable): any teacher spec or a compression recipe of the teacher, e.g. int8; "
        "LABEL=SPEC names it in ids, reports and baselines (release=./models/mid); every gate runs once per "
        "student; replaces a declared loyalty_student fixture for this run",
    )
    add(
        "--loyalty-data",
        default=None,
        metavar="SPEC",
        help="evaluation data: file.csv/.tsv/.jsonl, rotten_tomatoes (default), imdb, bbc_news "
        "(add :train/:validation/:test), or a hub dataset name/config:split",
    )
    add(
        "--loyalty-train-data",
        default=None,
        metavar="SPEC",
        help="training data for recipes that train (default: the train split of an embedded --loyalty-data)",
    )
    add(
        "--text-column",
        "--loyalty-text-column",
        dest="loyalty_text_column",
        default="text",
        metavar="NAME",
        help="column holding the text (default: text)",
    )
    add(
        "--text-pair-column",
        "--loyalty-text-pair-column",
        dest="loyalty_text_pair_column",
        default=None,
        metavar="NAME",
        help="column holding the second text of NLI-style pairs (default: none)",
    )
    add(
        "--label-column",
        "--loyalty-label-column",
        dest="loyalty_label_column",
        default="label",
        metavar="NAME",
        help="column holding the gold label (default: label)",
    )
    add(
        "--loyalty-limit",
        type=whole_number(1),
        default=None,
        metavar="N",
        help="evaluate on a seeded sample of N examples (default: all)",
    )
    add(
        "--loyalty-seed",
        type=whole_number(0),
        default=0,
        metavar="N",
        help="seed for sampling, bootstrap, attacks and compression (default: 0)",
    )
    add(
        "--loyalty-batch-size",
        type=whole_number(1),
        default=32,
        metavar="N",
        help="texts per forward pass (default: 32)",
    )
    add(
        "--loyalty-max-length",
        type=whole_number(2),
        default=None,
        metavar="TOKENS",
        help="tokens per text after truncation (default: 128, or a model's limit when it reads fewer)",
    )
    add(
        "--loyalty-device",
        type=device,
        default="cpu",
        metavar="DEVICE",
        help="where models run: cpu (default), cuda, cuda:N or mps",
    )
    add(
        "--tokenizer",
        "--loyalty-tokenizer",
        dest="loyalty_tokenizer",
        default=None,
        metavar="DIR",
        help="tokenizer folder for .onnx specs (default: the .onnx file's folder)",
    )
    add(
        "--loyalty-trust-remote-code",
        action="store_true",
        default=False,
        help="allow hub models to run their own code (off by default)",
    )
    add(
        "--loyalty-allow-pickle",
        action="store_true",
        default=False,
        help="allow .bin (pickle) weights; by default only safetensors weights load",
    )
    add(
        "--loyalty-cache-dir",
        default=None,
        metavar="DIR",
        help="cache for the demo teacher, trained students, predictions and attacks "
        "(default $LOYALTY_CACHE_DIR or ~/.cache/loyalty_tests)",
    )
    add(
        "--loyalty-no-cache",
        action="store_true",
        default=False,
        help="neither read nor write cached predictions, attacks or trained students (the demo teacher is "
        "still built once into the cache folder)",
    )
    add(
        "--loyalty-bootstrap",
        type=whole_number(100),
        default=1000,
        metavar="N",
        help="bootstrap resamples for the CIs of KL and calibration (default: 1000)",
    )
    add(
        "--loyalty-latency-rounds",
        type=whole_number(2),
        default=10,
        metavar="N",
        help="interleaved timing rounds per block; blocks are added until the speedup's CI clears its limit "
        "(default: 10)",
    )
    add(
        "--loyalty-latency-max-rounds",
        type=whole_number(2),
        default=50,
        metavar="N",
        help="at most this many rounds per model before the latency gate decides (default: 50)",
    )
    add(
        "--loyalty-latency-examples",
        type=whole_number(1),
        default=64,
        metavar="N",
        help="texts per timed batch (default: 64)",
    )
    add(
        "--loyalty-engine",
        default=None,
        choices=("local", "ray"),
        metavar="local|ray",
        help="where predictions and attacks run: local (this process, default) or ray (a Ray cluster: the [ray] "
        "extra); ini loyalty_engine",
    )
    add(
        "--loyalty-ray-address",
        default=None,
        metavar="ADDRESS",
        help="with --loyalty-engine ray: the cluster to join (auto: the one `ray start` made; HOST:PORT or "
        "ray://...); default: start a local Ray instance",
    )
    add(
        "--loyalty-json",
        default=None,
        metavar="PATH",
        help="write the gate report as JSON (ini loyalty_json; default: no file)",
    )
    add(
        "--loyalty-markdown",
        default=None,
        metavar="PATH",
        help="write the gate report as Markdown (ini loyalty_markdown; default: no file); replaces the file, "
        "except $GITHUB_STEP_SUMMARY's, which it appends to",
    )
    add(
        "--loyalty-html",
        default=None,
        metavar="PATH",
        help="write the gate report as one self-contained HTML page (charts need the [html] extra); ini loyalty_html",
    )
    add(
        "--loyalty-baseline",
        default=None,
        metavar="PATH",
        help="previous release's JSON report; fail when a metric fell by more than the tolerance",
    )
    add(
        "--loyalty-update-baseline",
        action="store_true",
        default=False,
        help="write this run's report to --loyalty-baseline instead of comparing with it",
    )
    add(
        "--loyalty-no-suite",
        action="store_true",
        default=False,
        help="do not add the built-in gate tests (the fixtures stay available to your own tests)",
    )
    add(
        "--loyalty-gates",
        action="store_true",
        default=False,
        help="add the built-in gate tests even though test paths were given (with teacher and students "
        "declared as fixtures, plain `pytest` adds them by itself)",
    )
    add(
        "--attack",
        "--loyalty-attack",
        dest="loyalty_attack",
        default=None,
        metavar="RECIPE",
        help="add the robustness gate: attack teacher and each student with RECIPE (charswap, textfooler, "
        "pwws or textattack:NAME) on the same seeded examples; the built-in recipes perturb at most 3 words "
        "and 20%% of a text's words unless told otherwise (textfooler:max_words=none,max_word_share=none)",
    )
    add(
        "--attack-examples",
        "--loyalty-attack-examples",
        dest="loyalty_attack_examples",
        type=whole_number(1),
        default=100,
        metavar="N",
        help="at most this many examples to attack (a seeded sample of the data; the "
        "sequential gate stops once decided, after 75 for an identical student; "
        "default: 100)",
    )
    add(
        "--attack-budget",
        "--loyalty-attack-budget",
        dest="loyalty_attack_budget",
        type=whole_number(1),
        default=500,
        metavar="Q",
        help="model queries allowed per attacked example (default: 500)",
    )
    add(
        "--attack-block",
        "--loyalty-attack-block",
        dest="loyalty_attack_block",
        type=whole_number(1),
        default=25,
        metavar="N",
        help="attack in seeded blocks of N examples and stop once the robustness verdict is decided "
        "(a confidence sequence keeps the error rates valid); --attack-examples is the cap "
        "(default: 25)",
    )
    add(
        "--attack-in-flight",
        "--loyalty-attack-in-flight",
        dest="loyalty_attack_in_flight",
        type=whole_number(1),
        default=16,
        metavar="N",
        help="examples attacked in lockstep, so one model call carries the queries of "
        "many (results are the same as one at a time; default: 16)",
    )
    from .lm_options import add_lm_options

    add_lm_options(group, whole_number)
    parser.addini("loyalty_engine", help="where predictions and attacks run: local (default) or ray", default=None)
    add_report_ini(parser)
    for key, spec in THRESHOLD_SPECS.items():
        # The robustness threshold also answers to the short form the other attack options use.
        short = ("--max-robustness-drop",) if key == "max_robustness_drop" else ()
        metavar = (
            "|".join(spec.choices)
            if spec.choices
            else ("BOOL" if spec.kind is bool else "NAMES" if spec.kind is str else "X")
        )
        # argparse formats help with %-interpolation: a bare % (as in "3%") would crash `pytest --help`
        add(
            cli_flag(key),
            *short,
            dest="loyalty_threshold_" + key,
            default=None,
            metavar=metavar,
            help=spec.help.replace("%", "%%") + _default_text(spec),
        )
        parser.addini(ini_name(key), help=spec.help + _default_text(spec), default=None)


def _default_text(spec) -> str:
    return f" (default: {spec.default})" if spec.default not in (None, "") else ""
