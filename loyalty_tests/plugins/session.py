"""Session-wide work: data, teacher, students, predictions and comparisons, each done once.

Within a process the results are held in memory; across pytest-xdist workers they are shared
through the on-disk prediction cache (fingerprinted, under a file lock), so the controller's
first pass does the work and the workers read it.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ..cache import default_cache_dir
from ..loyalty_report import LoyaltyReport, compare_predictions
from ..data import load_dataset
from ..errors import LoyaltyError
from ..latency import LatencyResult, measure_latency
from ..specs import ModelOptions, load_model
from ..predictions import predict
from ..thresholds import resolve
from .options import cli_thresholds, ini_thresholds

DEFAULT_DATA = "rotten_tomatoes"


class LoyaltySession:
    def __init__(self, config):
        self.config = config
        option = config.getoption
        self.teacher_spec = option("loyalty_teacher")
        self.student_specs = list(dict.fromkeys(option("loyalty_students")))  # repeated specs run once
        self.data_spec = option("loyalty_data") or DEFAULT_DATA
        self.seed = option("loyalty_seed")
        cache = option("loyalty_cache_dir")
        self.cache_dir = Path(cache).expanduser() if cache else default_cache_dir()
        self.use_cache = not option("loyalty_no_cache")
        self._models: dict[str, object] = {}
        self._predictions: dict[str, object] = {}
        self._comparisons: dict[str, LoyaltyReport] = {}
        self._latency: dict[str, LatencyResult] = {}
        self._robustness: dict[str, object] = {}
        self._data = None
        self._train_data = None

    @property
    def active(self) -> bool:
        return bool(self.teacher_spec and self.student_specs)

    # -- progress, visible even while pytest captures output --------------------------------
    def progress(self, message: str) -> None:
        if hasattr(self.config, "workerinput"):
            return  # xdist workers' output is not shown; the controller reported this work already
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"loyalty: {message}")
        else:
            reporter.write_line(f"loyalty: {message}")

    # -- thresholds ----------------------------------------------------------------------------
    def thresholds(self, marker_kwargs: dict | None = None):
        return resolve(cli_thresholds(self.config), ini_thresholds(self.config), marker_kwargs)

    # -- data -> models -> predictions -> comparisons ------------------------------------------
    def data(self):
        if self._data is None:
            option = self.config.getoption
            self._data = load_dataset(
                self.data_spec, text_column=option("loyalty_text_column"),
                text_pair_column=option("loyalty_text_pair_column"), label_column=option("loyalty_label_column"),
                limit=option("loyalty_limit"), seed=self.seed,
            )
        return self._data

    def train_data(self):
        """Training data for recipes that train; None when there is none (int8 needs none)."""
        if self._train_data is None:
            spec = self.config.getoption("loyalty_train_data")
            if spec is None and self.data_spec.split(":")[0] in _embedded_names():
                spec = self.data_spec.split(":")[0] + ":train"
            if spec is not None:
                option = self.config.getoption
                self._train_data = load_dataset(
                    spec, text_column=option("loyalty_text_column"),
                    text_pair_column=option("loyalty_text_pair_column"), label_column=option("loyalty_label_column"),
                )
        return self._train_data

    def model_options(self) -> ModelOptions:
        option = self.config.getoption
        return ModelOptions(
            batch_size=option("loyalty_batch_size"), max_length=option("loyalty_max_length"),
            device=option("loyalty_device"), tokenizer=option("loyalty_tokenizer"), cache_dir=self.cache_dir,
            trust_remote_code=option("loyalty_trust_remote_code"), allow_pickle=option("loyalty_allow_pickle"), seed=self.seed, progress=self.progress,
            train_data=self.train_data,  # called only by recipes that train
        )

    def teacher(self):
        if "teacher" not in self._models:
            self.progress(f"loading teacher {self.teacher_spec}")
            self._models["teacher"] = load_model(self.teacher_spec, options=self.model_options())
        return self._models["teacher"]

    def student(self, spec: str):
        key = "student:" + spec
        if key not in self._models:
            self.progress(f"loading student {spec}")
            self._models[key] = load_model(spec, teacher=self.teacher(), options=self.model_options())
        return self._models[key]

    def _predict(self, key: str, model):
        if key not in self._predictions:
            cache_dir = self.cache_dir if self.use_cache else None
            self._predictions[key] = predict(model, self.data(), cache_dir=cache_dir, progress=self.progress)
        return self._predictions[key]

    def teacher_predictions(self):
        return self._predict("teacher", self.teacher())

    def student_predictions(self, spec: str):
        return self._predict("student:" + spec, self.student(spec))

    def loyalty_report(self, spec: str, marker_kwargs: dict | None = None) -> LoyaltyReport:
        if spec not in self._comparisons:
            self._comparisons[spec] = compare_predictions(
                self.data(), self.teacher_predictions(), self.student_predictions(spec),
                n_resamples=self.config.getoption("loyalty_bootstrap"), seed=self.seed,
            )
        base = self._comparisons[spec]
        return LoyaltyReport(base.teacher_name, base.student_name, base.data, base.teacher_predictions,
                          base.student_predictions, base.metrics, self.thresholds(marker_kwargs), base.seed)

    def latency(self, spec: str) -> LatencyResult:
        """Time teacher and student side by side on a seeded batch of the data."""
        if spec not in self._latency:
            data = self.data()
            count = min(self.config.getoption("loyalty_latency_examples"), len(data))
            indices = sorted(random.Random(self.seed).sample(range(len(data)), count))
            texts = [data.texts[i] for i in indices]
            pairs = [data.text_pairs[i] for i in indices] if data.text_pairs else None
            self.progress(f"timing teacher and student {spec} side by side on {count} texts")
            self._latency[spec] = measure_latency(self.teacher(), self.student(spec), texts, pairs,
                                                  rounds=self.config.getoption("loyalty_latency_rounds"))
        return self._latency[spec]

    # -- robustness (with --attack) -----------------------------------------------------------
    @property
    def attacking(self) -> bool:
        return bool(self.config.getoption("loyalty_attack"))

    def attack_config(self):
        """The attack every model gets: same recipe, seeded examples, seed and query budget."""
        from ..robustness import AttackConfig

        option = self.config.getoption
        return AttackConfig(recipe=option("loyalty_attack"), examples=option("loyalty_attack_examples"),
                            budget=option("loyalty_attack_budget"), seed=self.seed)

    def robustness(self, spec: str):
        """Teacher and student attacked on the same examples (results cached on disk by fingerprint)."""
        if spec not in self._robustness:
            from ..robustness import compare_robustness

            config = self.attack_config()

            def progress(role: str, done: int, total: int, succeeded: int) -> None:
                # A line every tenth of the way keeps long attacks visible without flooding the log.
                if done == total or done % max(1, total // 10) == 0:
                    name = self.teacher_spec if role == "teacher" else spec
                    self.progress(f"{config.recipe} on {role} {name}: {done}/{total} examples, {succeeded} successful")

            self.progress(f"attacking teacher and student {spec} with {config.recipe} "
                          f"({config.examples} examples, budget {config.budget} queries each)")
            self._robustness[spec] = compare_robustness(
                self.teacher(), self.student(spec), self.data(), config, progress=progress,
                cache_dir=self.cache_dir if self.use_cache else None)
        return self._robustness[spec]

    def prepare(self) -> None:
        """Do the session-wide work up front, with progress shown (controller / single process)."""
        try:
            self.data()
            self.teacher_predictions()
            for spec in self.student_specs:
                self.student_predictions(spec)
            if self.attacking:
                for spec in self.student_specs:
                    self.robustness(spec)
        except LoyaltyError as error:
            raise pytest.UsageError(f"loyalty: {error}") from error


def _embedded_names() -> tuple[str, ...]:
    from ..data import EMBEDDED_DATASETS

    return tuple(EMBEDDED_DATASETS)

