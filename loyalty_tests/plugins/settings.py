"""``LoyaltySettings``: every ``--loyalty-*`` option and ``loyalty_*`` ini key, read once.

``pytest_configure`` builds one frozen settings object from the command line, the ini file and
the defaults (as pytest-benchmark's ``BenchmarkSession`` does); the session, the gates, the
baseline and the report collector read its fields. Nothing else in the package reads an option
by its string name, so a renamed option breaks here, in one place, and a test can build settings
from two plain mappings (``from_mappings``) without running pytest.
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass, field, fields
from pathlib import Path

import tomllib

from ..errors import LoyaltyError
from ..gates.thresholds import THRESHOLD_SPECS, Threshold, ini_name, resolve
from ..infra.cache import default_cache_dir
from ..infra.suggest import did_you_mean
from .lm_options import DEFAULT_TOP_K

DEFAULT_DATA = "rotten_tomatoes"
# every key options.add_options adds; report paths in ini are relative to the ini file
INI_KEYS = (
    "loyalty_engine",
    "loyalty_json",
    "loyalty_markdown",
    "loyalty_html",
    *(ini_name(key) for key in THRESHOLD_SPECS),
)
ENGINES = ("local", "ray")


@dataclass(frozen=True)
class LoyaltySettings:
    teacher: str | None = None
    students: tuple[str, ...] = ()
    data: str = DEFAULT_DATA
    train_data: str | None = None
    text_column: str = "text"
    text_pair_column: str | None = None
    label_column: str = "label"
    limit: int | None = None
    seed: int = 0
    batch_size: int = 32
    max_length: int | None = None  # None: 128, or a model's limit when it reads fewer (models/specs.py)
    device: str = "cpu"
    tokenizer: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    cache_dir: Path = field(default_factory=default_cache_dir)
    use_cache: bool = True
    bootstrap: int = 1000
    latency_rounds: int = 10
    latency_max_rounds: int = 50
    latency_examples: int = 64
    engine: str = "local"
    ray_address: str | None = None
    json_path: str | None = None
    markdown_path: str | None = None
    html_path: str | None = None  # --loyalty-html, else ini loyalty_html
    baseline: str | None = None
    update_baseline: bool = False
    no_suite: bool = False
    add_gates: bool = False  # --loyalty-gates
    attack: str | None = None
    attack_examples: int = 50
    attack_budget: int = 500
    attack_block: int = 25
    attack_in_flight: int = 16
    # causal LMs (plugins/lm_options.py)
    choices: str | None = None
    prompt: str | None = None
    label_words: str | None = None
    length_normalise: bool = False
    generation_prompts: int = 16
    max_new_tokens: int = 16
    top_k: int = DEFAULT_TOP_K  # 0: exact (the teacher beside every student)
    xdist_workers: int | None = None  # pytest-xdist's -n, when it is installed and given
    cli_thresholds: dict = field(default_factory=dict)  # threshold key -> raw command-line value (None: unset)
    ini_thresholds: dict = field(default_factory=dict)  # threshold key -> raw ini value (None: unset)

    @classmethod
    def from_config(cls, config) -> LoyaltySettings:
        """The only place that reads the ``loyalty`` options and ini keys from pytest."""
        options = {dest: config.getoption(dest) for dest in OPTION_FIELDS}
        options.update(
            {"loyalty_threshold_" + key: config.getoption("loyalty_threshold_" + key) for key in THRESHOLD_SPECS}
        )
        options["numprocesses"] = getattr(config.option, "numprocesses", None)
        ini = {name: config.getini(name) for name in INI_KEYS}
        return cls.from_mappings(options, ini, ini_folder=config.inipath.parent if config.inipath else config.rootpath)

    @classmethod
    def from_mappings(cls, options: dict, ini: dict, ini_folder: Path | None = None) -> LoyaltySettings:
        """Settings from parsed options (argparse ``dest`` -> value) and ini values (name -> raw
        value); a missing entry takes its default. Precedence: default < ini < command line. A report
        path from ini is relative to ``ini_folder``; one from the command line to the current folder."""
        values = {name: options[dest] for dest, name in OPTION_FIELDS.items() if options.get(dest) is not None}
        cache = values.pop("cache_dir", None)
        engine = values.get("engine") or ini.get("loyalty_engine") or "local"
        return cls(
            **{
                **values,
                "students": tuple(dict.fromkeys(options.get("loyalty_students") or ())),  # repeats run once
                "data": options.get("loyalty_data") or DEFAULT_DATA,
                "cache_dir": Path(cache).expanduser() if cache else default_cache_dir(),
                "use_cache": not options.get("loyalty_no_cache"),
                "engine": engine,
                "xdist_workers": options.get("numprocesses"),
                "json_path": values.get("json_path") or _ini_path(ini.get("loyalty_json"), ini_folder),
                "markdown_path": values.get("markdown_path") or _ini_path(ini.get("loyalty_markdown"), ini_folder),
                "html_path": values.get("html_path") or _ini_path(ini.get("loyalty_html"), ini_folder),
                "cli_thresholds": {key: options.get("loyalty_threshold_" + key) for key in THRESHOLD_SPECS},
                "ini_thresholds": {key: ini.get(ini_name(key)) for key in THRESHOLD_SPECS},
            }
        )

    def thresholds(self, marker: dict | None = None) -> dict[str, Threshold]:
        """Effective thresholds: default < ini < command line < ``@pytest.mark.loyalty`` (``marker``)."""
        return resolve(self.cli_thresholds, self.ini_thresholds, marker)

    @property
    def attacking(self) -> bool:
        return bool(self.attack)

    def check(self) -> None:
        """What needs no model: thresholds, latency rounds and the engine's name and address."""
        self.thresholds()
        if self.engine not in ENGINES:
            raise LoyaltyError(f"ini loyalty_engine must be local or ray, got {self.engine!r}")
        if self.ray_address and self.engine != "ray":
            raise LoyaltyError("--loyalty-ray-address needs --loyalty-engine ray")
        if self.engine == "ray" and self.xdist_workers:
            raise LoyaltyError(
                "--loyalty-engine ray and pytest-xdist -n both spread the work: Ray shards predictions "
                "and attacks over its cluster already; run without -n"
            )
        self._check_latency_rounds()

    def _check_latency_rounds(self) -> None:
        """Enough rounds that the speedup's CI can be finite at the cap (order statistics at the
        per-look confidence), and a cap no smaller than a block."""
        from ..stats.sequential import planned_looks
        from ..stats.speedup import order_statistic_rank

        block, cap = self.latency_rounds, self.latency_max_rounds
        if cap < block:
            raise LoyaltyError(
                f"--loyalty-latency-max-rounds ({cap}) must be at least --loyalty-latency-rounds ({block})"
            )
        per_look = 1.0 - 0.05 / len(planned_looks(block, cap))
        if order_statistic_rank(cap, per_look) == 0:
            fewest = next(
                n for n in range(cap, 10_000) if order_statistic_rank(n, 1.0 - 0.05 / len(planned_looks(block, n)))
            )
            raise LoyaltyError(
                f"--loyalty-latency-max-rounds {cap} is too few for the latency gate ever to decide "
                f"(its CI would stay unbounded); use at least {fewest}"
            )


# argparse dest -> settings field (thresholds and the students list are handled on their own)
OPTION_FIELDS = {
    "loyalty_teacher": "teacher",
    "loyalty_students": "students",
    "loyalty_data": "data",
    "loyalty_train_data": "train_data",
    "loyalty_text_column": "text_column",
    "loyalty_text_pair_column": "text_pair_column",
    "loyalty_label_column": "label_column",
    "loyalty_limit": "limit",
    "loyalty_seed": "seed",
    "loyalty_batch_size": "batch_size",
    "loyalty_max_length": "max_length",
    "loyalty_device": "device",
    "loyalty_tokenizer": "tokenizer",
    "loyalty_trust_remote_code": "trust_remote_code",
    "loyalty_allow_pickle": "allow_pickle",
    "loyalty_cache_dir": "cache_dir",
    "loyalty_no_cache": "use_cache",
    "loyalty_bootstrap": "bootstrap",
    "loyalty_latency_rounds": "latency_rounds",
    "loyalty_latency_max_rounds": "latency_max_rounds",
    "loyalty_latency_examples": "latency_examples",
    "loyalty_engine": "engine",
    "loyalty_ray_address": "ray_address",
    "loyalty_json": "json_path",
    "loyalty_markdown": "markdown_path",
    "loyalty_html": "html_path",
    "loyalty_baseline": "baseline",
    "loyalty_update_baseline": "update_baseline",
    "loyalty_no_suite": "no_suite",
    "loyalty_gates": "add_gates",
    "loyalty_attack": "attack",
    "loyalty_attack_examples": "attack_examples",
    "loyalty_attack_budget": "attack_budget",
    "loyalty_attack_block": "attack_block",
    "loyalty_attack_in_flight": "attack_in_flight",
    "loyalty_choices": "choices",
    "loyalty_prompt": "prompt",
    "loyalty_label_words": "label_words",
    "loyalty_length_normalise": "length_normalise",
    "loyalty_generation_prompts": "generation_prompts",
    "loyalty_max_new_tokens": "max_new_tokens",
    "loyalty_top_k": "top_k",
}
assert set(OPTION_FIELDS.values()) <= {f.name for f in fields(LoyaltySettings)}


def unknown_ini_keys(inipath, known=INI_KEYS) -> list[str]:
    """``loyalty_*`` keys in pytest's config file that name no threshold or setting: a misspelt
    threshold key would otherwise leave its gate at the default with only a warning. ``known``: the
    keys registered with pytest's parser, so a key ``--help`` documents (this plugin's or another's)
    is never refused."""
    return sorted(key for key in _ini_keys(inipath) if key.startswith("loyalty_") and key not in known)


def check_ini_keys(inipath, known=INI_KEYS) -> None:
    unknown = unknown_ini_keys(inipath, known)
    if unknown:
        hints = "".join(did_you_mean(key, known) for key in unknown)
        raise LoyaltyError(
            f"unknown ini key(s) {', '.join(unknown)}{hints} in {inipath}; "
            f"known loyalty keys: {', '.join(sorted(known))}"
        )


def _ini_path(value, folder: Path | None) -> str | None:
    """A report path from ini: relative to the ini file's folder, as pytest's own ``paths`` values."""
    if not value:
        return None
    path = Path(str(value)).expanduser()
    return str(path if path.is_absolute() or folder is None else Path(folder) / path)


def _ini_keys(inipath) -> set[str]:
    """The keys of pytest's own section in its config file (``config.inicfg`` is deprecated)."""
    if inipath is None or not Path(inipath).is_file():
        return set()
    path = Path(inipath)
    if path.suffix == ".toml":
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("tool", {}).get("pytest", {})
        # pytest 9 reads [tool.pytest] natively and [tool.pytest.ini_options] as before.
        return set(table.get("ini_options", {})) | {key for key in table if key != "ini_options"}
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path, encoding="utf-8")
    return {key for section in ("pytest", "tool:pytest") if parser.has_section(section) for key in parser[section]}
