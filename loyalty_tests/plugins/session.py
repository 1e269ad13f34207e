"""Session-wide work: data, models, predictions, reports, latency and attacks, each done once.

Nothing runs until a test asks for it (through a fixture), so ``--collect-only`` and deselected
gates cost no model work, and ``-k label_loyalty`` attacks nothing. Within a process results
are held in memory, keyed by the model objects; across pytest-xdist workers they are shared
through the on-disk caches (fingerprinted, under file locks). Every phase's wall time is kept
for the report, marked when it came from a cache.
"""

from __future__ import annotations

import dataclasses
import random
import time

from ..comparison import LoyaltyReport, compare_predictions
from ..data import EMBEDDED_DATASETS, load_dataset
from ..engines.latency import LatencyResult, measure_latency
from ..errors import LoyaltyError
from ..models.spec_forms import check_spec
from ..models.specs import ModelOptions, as_classifier, load_model
from ..predictions import predict
from .labels import split_label
from .settings import LoyaltySettings


class LoyaltySession:
    """The run's state and caches; every option comes from ``settings`` (read once)."""

    def __init__(
        self,
        settings: LoyaltySettings,
        config,
        *,
        declared_teacher: str | None = None,
        declared_students: str | None = None,
    ):
        self.settings = settings
        self.config = config  # for the terminal reporter only (progress lines)
        self.teacher_spec = settings.teacher
        self.student_specs = list(settings.students)
        self.data_spec = settings.data
        self.seed = settings.seed
        self.cache_dir = settings.cache_dir
        self.use_cache = settings.use_cache
        self.declared_teacher = declared_teacher  # where a loyalty_teacher fixture is declared, if one is
        self.declared_students = declared_students
        self.engine_name = settings.engine
        self._engine = None
        self.phases: list[dict] = []
        self._memo: dict[tuple, object] = {}
        self._data = None
        self._train_data = None
        from .lm_session import LMPart

        self.lm = LMPart(self)  # the causal-LM gates' work (plugins/lm_session.py)

    @property
    def has_teacher(self) -> bool:
        return bool(self.teacher_spec or self.declared_teacher)

    @property
    def has_students(self) -> bool:
        return bool(self.student_specs or self.declared_students)

    @property
    def replaced_teacher(self) -> bool:
        """``--teacher`` given while a conftest declares ``loyalty_teacher``: the command line wins."""
        return bool(self.teacher_spec and self.declared_teacher)

    @property
    def replaced_students(self) -> bool:
        return bool(self.student_specs and self.declared_students)

    @property
    def active(self) -> bool:
        return self.has_teacher and self.has_students

    @property
    def declared(self) -> bool:
        return bool(self.declared_teacher or self.declared_students)

    # -- progress, visible even while pytest captures output --------------------------------
    def progress(self, message: str) -> None:
        if hasattr(self.config, "workerinput"):
            return  # xdist workers' output is not shown; the report's phase timings tell what happened
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        if capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"loyalty: {message}")
        else:
            reporter.write_line(f"loyalty: {message}")

    def _timed(self, key: tuple, phase: str, model_name: str, work, cached=lambda result: False):
        """``work()`` once per key; its wall time recorded as a phase of the report. Bad input
        (a LoyaltyError) is remembered too: every gate that needs the result fails with the same
        message, and a crashing model is not asked again by each of them."""
        if isinstance(self._memo.get(key), LoyaltyError):
            raise self._memo[key]
        if key not in self._memo:
            start = time.perf_counter()
            try:
                result = work()
            except LoyaltyError as error:
                self._memo[key] = error
                raise
            entry = {"phase": phase, "model": model_name, "seconds": round(time.perf_counter() - start, 3)}
            entry.update(cached(result) or {})
            self.phases.append(entry)
            self._memo[key] = result
        return self._memo[key]

    # -- thresholds ----------------------------------------------------------------------------
    def thresholds(self, marker_kwargs: dict | None = None):
        return self.settings.thresholds(marker_kwargs)

    # -- data ----------------------------------------------------------------------------------
    def data(self):
        if self._data is None:
            self._data = (
                self.lm.choice_data()
            )  # an LM choice file (None without): the prediction gates read its answers
        if self._data is None:
            s = self.settings
            self._data = load_dataset(
                self.data_spec,
                text_column=s.text_column,
                text_pair_column=s.text_pair_column,
                label_column=s.label_column,
                limit=s.limit,
                seed=self.seed,
            )
        return self._data

    def train_data(self):
        """Training data for recipes that train; None when there is none (int8 needs none)."""
        if self._train_data is None:
            s = self.settings
            spec = s.train_data
            if spec is None and self.data_spec.split(":")[0] in EMBEDDED_DATASETS:
                spec = self.data_spec.split(":")[0] + ":train"
            if spec is not None:
                self._train_data = load_dataset(
                    spec, text_column=s.text_column, text_pair_column=s.text_pair_column, label_column=s.label_column
                )
        return self._train_data

    # -- models --------------------------------------------------------------------------------
    def model_options(self) -> ModelOptions:
        s = self.settings
        return ModelOptions(
            batch_size=s.batch_size,
            max_length=s.max_length,
            device=s.device,
            tokenizer=s.tokenizer,
            cache_dir=self.cache_dir,
            use_cache=self.use_cache,
            trust_remote_code=s.trust_remote_code,
            allow_pickle=s.allow_pickle,
            seed=self.seed,
            progress=self.progress,
            train_data=self.train_data,  # called only by recipes that train
        )

    def teacher_from_spec(self):
        def load():
            self.progress(f"loading teacher {self.teacher_spec}")
            return load_model(self.teacher_spec, options=self.model_options())

        return self._timed(("spec", "teacher"), "load", f"teacher {self.teacher_spec}", load)

    def student_from_spec(self, spec: str, teacher):
        def load():
            self.progress(f"loading student {spec}")
            return load_model(spec, teacher=getattr(teacher, "lm", teacher), options=self.model_options())

        return self._timed(("spec", "student", spec, id(teacher)), "load", spec, load)

    def classifier(self, obj, name: str):
        """A declared fixture's value as a classifier (a loaded HF model and tokenizer pair, an
        object with ``predict_proba`` and ``label_names``, or a classifier already)."""
        key = ("classifier", id(obj))
        if key not in self._memo:
            from .lm_session import is_lm

            # an LM answers through its choice task, when one is given; the LM gates read it as it is
            self._memo[key] = self.lm.wrap(obj) if is_lm(obj) else as_classifier(obj, name, self.model_options())
            self._memo[("keep", id(obj))] = obj  # keep obj alive, so its id is not reused
        return self._memo[key]

    # -- where the work runs ------------------------------------------------------------------
    def engine(self):
        """The engine (``--loyalty-engine``): built on first use; Ray starts or joins on its first call."""
        if self._engine is None:
            from ..engines import get_engine

            address = self.settings.ray_address
            self._engine = get_engine(
                self.engine_name, device=self.settings.device, **({"address": address} if address else {})
            )
        return self._engine

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()

    # -- predictions -> the teacher/student report ----------------------------------------------
    def predictions(self, model):
        def run():
            return predict(
                model,
                self.data(),
                cache_dir=self.cache_dir if self.use_cache else None,
                progress=self.progress,
                predict_proba=self.engine().predict_proba,
            )

        def cached(result):
            return {"cached": result.from_cache, "measured_seconds": round(result.seconds, 3)}

        return self._timed(("predictions", id(model)), "predict", model.name, run, cached)

    def loyalty_report(self, teacher, student, marker_kwargs: dict | None = None) -> LoyaltyReport:
        key = ("report", id(teacher), id(student))
        if key not in self._memo:
            self._memo[key] = compare_predictions(
                self.data(),
                self.predictions(teacher),
                self.predictions(student),
                n_resamples=self.settings.bootstrap,
                seed=self.seed,
            )
        base = self._memo[key]
        return dataclasses.replace(base, thresholds=self.thresholds(marker_kwargs))

    # -- latency ---------------------------------------------------------------------------------
    def latency(self, teacher, student, limit: float | None, rule) -> LatencyResult:
        """Time teacher and student side by side on a seeded batch of the data, in blocks of rounds
        until the speedup's CI clears ``limit`` or the cap is reached."""

        def measure():
            data = self.data()
            s = self.settings
            count = min(s.latency_examples, len(data))
            indices = sorted(random.Random(self.seed).sample(range(len(data)), count))
            texts = [data.texts[i] for i in indices]
            pairs = [data.text_pairs[i] for i in indices] if data.text_pairs else None
            self.progress(
                f"timing teacher and student {student.name} side by side on {count} texts "
                f"(blocks of {s.latency_rounds} rounds, at most {s.latency_max_rounds})"
            )
            return measure_latency(
                teacher,
                student,
                texts,
                pairs,
                rounds=s.latency_rounds,
                max_rounds=s.latency_max_rounds,
                limit=limit,
                rule=rule.name,
                inconclusive=rule.inconclusive,
            )

        return self._timed(("latency", id(teacher), id(student), limit, rule), "latency", student.name, measure)

    # -- robustness (with --attack) -----------------------------------------------------------
    @property
    def attacking(self) -> bool:
        return self.settings.attacking

    def attack_config(self):
        """The attack every model gets: same recipe, seeded examples, seed and query budget."""
        from ..robustness import AttackConfig

        s = self.settings
        return AttackConfig(recipe=s.attack, examples=s.attack_examples, budget=s.attack_budget, seed=self.seed)

    def robustness(self, teacher, student, limit: float | None = None, rule=None):
        """Teacher and student attacked on the same seeded examples, block by block (``--attack-block``)
        until the robustness verdict is decided or ``--attack-examples`` are attacked; without a
        ``limit`` (the ``attack_results`` fixture), all of them. Returns the comparison and the
        sequential decision (None when one block covers the run) and the paired outcomes (indices,
        teacher − student correct under attack), computed once here for the gate to reuse."""
        from ..gates.robustness import in_attack_order, robustness_sequence
        from ..robustness import RobustnessRun, summary

        config = self.attack_config()

        def progress(role: str, done: int, total: int, succeeded: int) -> None:
            # A line every tenth of a block keeps long attacks visible without flooding the log.
            if done == total or done % max(1, total // 10) == 0:
                name = teacher.name if role == "teacher" else student.name
                self.progress(
                    f"{config.recipe} on {role} {name}: {done}/{total} examples of this block, {succeeded} successful"
                )

        def attack():
            data = self.data()
            cap = min(config.examples, len(data))
            block = min(self.settings.attack_block, cap)
            self.progress(
                f"attacking teacher and student {student.name} with {config.recipe} (blocks of {block} "
                f"examples, at most {cap}, budget {config.budget} queries each)"
            )
            run = RobustnessRun(
                teacher,
                student,
                data,
                config,
                progress=progress,
                cache_dir=self.cache_dir if self.use_cache else None,
                in_flight=self.settings.attack_in_flight,
                attack_examples=self.engine().attack_examples,
            )
            while True:
                comparison = run.attack_next(min(block, cap - run.attacked))
                outcomes = summary.paired_outcomes(comparison)
                decision = (
                    robustness_sequence(in_attack_order(outcomes, run.order), limit, rule, block, cap)
                    if rule is not None
                    else None
                )
                if run.attacked >= cap or (decision is not None and decision.stopped):
                    return comparison, decision, outcomes

        def cached(result):
            comparison = result[0]
            parts = (comparison.teacher, comparison.student)
            examples = sum(len(part.examples) for part in parts)
            stamps = [e.measured_at for part in parts for e in part.examples if e.cached and e.measured_at]
            cached_examples = sum(part.cached_examples for part in parts)
            return {
                "cached": examples > 0 and cached_examples == examples,
                "examples": examples,
                "cached_examples": cached_examples,
                "measured_seconds": round(sum(part.measured_seconds for part in parts), 3),
                "measured_at": min(stamps)[:10] if stamps else None,
            }

        key = ("robustness", id(teacher), id(student), limit, rule)
        return self._timed(key, "attack", student.name, attack, cached)

    def robustness_feasibility(self) -> str | None:
        """Before any attack: can this many attacked examples give the robustness gate a PASS at all?"""
        from ..gates.robustness import robustness_feasibility

        limit = self.thresholds()["max_robustness_drop"].value
        return robustness_feasibility(limit, self.settings.attack_examples, self.settings.attack_block)

    def check(self) -> None:
        """Everything that can be checked without loading a model, so a bad option stops pytest
        before any work: thresholds and their ranges, the engine, the attack recipe, the specs' form."""
        self.settings.check()
        self.lm.check()
        self.engine()  # its extra and address; Ray is not started
        if self.attacking:
            self.attack_config()
        if self.teacher_spec:
            check_spec(self.teacher_spec, "teacher")
        for spec in self.student_specs:
            check_spec(split_label(spec)[1], "student")
