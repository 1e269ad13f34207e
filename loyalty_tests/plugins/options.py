"""The ``loyalty`` option group and ``loyalty_*`` ini keys."""

from __future__ import annotations

from ..thresholds import THRESHOLD_SPECS, cli_flag, ini_name


def add_options(parser) -> None:
    group = parser.getgroup("loyalty", "loyalty: gate a compressed student against its teacher")
    group.addoption("--teacher", "--loyalty-teacher", dest="loyalty_teacher", default=None, metavar="SPEC",
                    help="teacher model: demo, ./hf-dir, ./model.onnx, pkg.module:factory or ORG/NAME")
    group.addoption("--student", "--loyalty-student", dest="loyalty_students", action="append", default=[],
                    metavar="SPEC", help="student model (repeatable): any teacher spec or a compression recipe "
                                         "of the teacher, e.g. int8; every gate runs once per student")
    group.addoption("--loyalty-data", default=None, metavar="SPEC",
                    help="evaluation data: file.csv/.tsv/.jsonl, rotten_tomatoes (default), imdb, bbc_news "
                         "(add :train/:validation/:test), or a hub dataset name/config:split")
    group.addoption("--loyalty-train-data", default=None, metavar="SPEC",
                    help="training data for recipes that train (default: the train split of an embedded --loyalty-data)")
    group.addoption("--text-column", "--loyalty-text-column", dest="loyalty_text_column", default="text")
    group.addoption("--text-pair-column", "--loyalty-text-pair-column", dest="loyalty_text_pair_column", default=None,
                    help="second text column for NLI-style pairs")
    group.addoption("--label-column", "--loyalty-label-column", dest="loyalty_label_column", default="label")
    group.addoption("--loyalty-limit", type=int, default=None, metavar="N",
                    help="evaluate on a seeded sample of N examples")
    group.addoption("--loyalty-seed", type=int, default=0, help="seed for sampling, bootstrap and compression")
    group.addoption("--loyalty-batch-size", type=int, default=32)
    group.addoption("--loyalty-max-length", type=int, default=128, help="tokens per text (truncation)")
    group.addoption("--loyalty-device", default="cpu")
    group.addoption("--tokenizer", "--loyalty-tokenizer", dest="loyalty_tokenizer", default=None, metavar="DIR",
                    help="tokenizer folder for .onnx specs (default: the .onnx file's folder)")
    group.addoption("--loyalty-trust-remote-code", action="store_true", default=False,
                    help="allow hub models to run their own code (off by default)")
    group.addoption("--loyalty-allow-pickle", action="store_true", default=False,
                    help="allow .bin (pickle) weights; by default only safetensors weights load")
    group.addoption("--loyalty-cache-dir", default=None, metavar="DIR",
                    help="cache for the demo teacher and predictions (default $LOYALTY_CACHE_DIR or ~/.cache/loyalty_tests)")
    group.addoption("--loyalty-no-cache", action="store_true", default=False, help="do not read or write cached predictions")
    group.addoption("--loyalty-bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for CIs")
    group.addoption("--loyalty-latency-rounds", type=int, default=5, help="interleaved timing rounds per model")
    group.addoption("--loyalty-latency-examples", type=int, default=64, help="texts per timed batch")
    group.addoption("--loyalty-json", default=None, metavar="PATH", help="write the gate report as JSON")
    group.addoption("--loyalty-markdown", default=None, metavar="PATH",
                    help="write the gate report as Markdown (e.g. $GITHUB_STEP_SUMMARY)")
    group.addoption("--loyalty-baseline", default=None, metavar="PATH",
                    help="previous release's JSON report; fail when a metric fell by more than the tolerance")
    group.addoption("--loyalty-update-baseline", action="store_true", default=False,
                    help="write this run's report to --loyalty-baseline instead of failing on a missing one")
    group.addoption("--loyalty-no-suite", action="store_true", default=False,
                    help="do not add the built-in gate tests (fixtures stay available)")
    group.addoption("--attack", "--loyalty-attack", dest="loyalty_attack", default=None, metavar="RECIPE",
                    help="add the robustness gate: attack teacher and each student with RECIPE (charswap, "
                         "textfooler, pwws or textattack:NAME) on the same seeded examples")
    group.addoption("--attack-examples", "--loyalty-attack-examples", dest="loyalty_attack_examples", type=int,
                    default=50, metavar="N", help="how many examples to attack (seeded sample of the data)")
    group.addoption("--attack-budget", "--loyalty-attack-budget", dest="loyalty_attack_budget", type=int,
                    default=500, metavar="Q", help="model queries allowed per attacked example")
    for key, spec in THRESHOLD_SPECS.items():
        # The robustness threshold also answers to the short form the other attack options use.
        short = ("--max-robustness-drop",) if key == "max_robustness_drop" else ()
        group.addoption(cli_flag(key), *short, dest="loyalty_threshold_" + key, default=None, help=spec.help)
        parser.addini(ini_name(key), help=spec.help, default=None)


def cli_thresholds(config) -> dict:
    return {key: config.getoption("loyalty_threshold_" + key) for key in THRESHOLD_SPECS}


def ini_thresholds(config) -> dict:
    return {key: config.getini(ini_name(key)) for key in THRESHOLD_SPECS}
