"""The causal-LM part of a gate session: which gates apply, the corpus, token and generation work.

The loaded models say whether a run gates LMs (``lm.model.model_kind``), never an option. For an
LM pair: the token gates (``token_agreement``, ``mean_kl``, ``perplexity_ratio``) and the
generation gate run on the text corpus of ``--loyalty-data``; with a choice task
(``--loyalty-choices`` or ``--loyalty-prompt`` + ``--loyalty-label-words``) each LM is wrapped as
a ``ChoiceClassifier`` and the classifier gates (accuracy drop, loyalty, flips, latency,
``--attack``, baseline) run on its answers unchanged; without one they are skipped with the
reason. For a classifier pair the LM gates are skipped with theirs. A classifier facing an LM is
an error naming both.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import LoyaltyError
from .lm_options import DEFAULT_LM_TEXTS

TOKEN_GATES = ("token_agreement", "mean_kl", "perplexity_ratio")
LM_GATES = TOKEN_GATES + ("generation_agreement",)
TASK_HELP = (
    "give a choice task: --loyalty-choices PATH.jsonl, or --loyalty-prompt 'Review: {text}\\nSentiment:' "
    "--loyalty-label-words negative,positive with a classification --loyalty-data"
)


def underlying(model):
    """The LM behind a ``ChoiceClassifier`` (or the model itself)."""
    return getattr(model, "lm", model)


def is_lm(model) -> bool:
    from ..lm.model import model_kind

    return model_kind(underlying(model)) == "lm"


def pair_is_lm(teacher, student) -> bool:
    """True for an LM pair, False for classifiers; a mixed pair is an error naming both."""
    from ..lm.model import check_same_kind, check_same_tokenizer

    check_same_kind(underlying(teacher), underlying(student))
    if not is_lm(teacher):
        return False
    check_same_tokenizer(underlying(teacher), underlying(student))
    return True


def skip_reason(gate: str, lm_run: bool, teacher) -> str | None:
    """Why ``gate`` does not apply to this pair, or None when it does."""
    if gate in LM_GATES and not lm_run:
        return f"{gate} gates causal language models; teacher and student here are classifiers"
    if gate not in LM_GATES and lm_run and not hasattr(teacher, "task"):
        return f"{gate} compares answers: for causal language models it needs a choice task; {TASK_HELP}"
    return None


def spec_kind(spec: str | None) -> str | None:
    """What a teacher spec is, from the spec alone: "lm", "classifier", or None when only loading
    would tell (a factory, a hub id, a declared fixture). Used to leave the LM gates out of a run
    that cannot be an LM run, so plain classifier runs list no LM gates at all."""
    if not spec:
        return None
    path = Path(spec).expanduser()
    if spec == "demo" or spec.endswith(".onnx"):
        return "classifier"
    if spec.endswith(".gguf"):
        return "lm"
    if not path.is_dir():
        return None
    from ..lm.loading import folder_architectures, folder_is_causal_lm  # the loader's own rule

    if folder_is_causal_lm(path):
        return "lm"
    return "classifier" if folder_architectures(path) else None


class LMPart:
    """LM work of one ``LoyaltySession``, each piece done once (memoized through the session)."""

    def __init__(self, session):
        self.session = session
        self.settings = session.settings

    @property
    def has_task(self) -> bool:
        return bool(self.settings.choices or self.settings.prompt)

    def check(self) -> None:
        """Option combinations, before any model loads."""
        choices, prompt, words = self.settings.choices, self.settings.prompt, self.settings.label_words
        if choices and prompt:
            raise LoyaltyError("--loyalty-choices and --loyalty-prompt both pose a choice task; give one of them")
        if prompt and not words:
            raise LoyaltyError(
                "--loyalty-prompt needs --loyalty-label-words (one word per label, e.g. negative,positive)"
            )
        if words and not prompt:
            raise LoyaltyError("--loyalty-label-words needs --loyalty-prompt (a template with {text})")
        if choices and not Path(choices).expanduser().is_file():
            raise LoyaltyError(
                f"--loyalty-choices {choices!r} does not exist (looked for "
                f"{Path(choices).expanduser().absolute()}); give a JSONL choice file"
            )

    def choice_data(self):
        """The choice file as the data the prediction gates read (None without one)."""
        path = self.settings.choices
        if not path:
            return None
        from ..lm.choices import load_choice_file

        data, limit = load_choice_file(path), self.settings.limit
        return data if limit is None else data.sample(limit, self.session.seed)

    def wrap(self, lm):
        """The LM as the classifier gates see it: a ``ChoiceClassifier`` when a task is given."""
        if not self.has_task:
            return lm
        from ..lm.choices import ChoiceClassifier, ChoiceTask, template_task

        data, normalise = self.session.data(), self.settings.length_normalise
        if self.settings.choices:
            task = ChoiceTask(normalise=normalise)
        else:
            words = [w for w in self.settings.label_words.split(",")]
            template = self.settings.prompt.replace("\\n", "\n").replace("\\t", "\t")  # typed as \n in a shell
            task = template_task(template, words, data.label_names, normalise=normalise)
        return ChoiceClassifier(lm, task, data.label_names, batch_size=self.settings.batch_size)

    def corpus(self) -> tuple[str, ...]:
        def load():
            from ..lm.corpus import load_corpus

            limit = self.settings.limit or DEFAULT_LM_TEXTS
            return load_corpus(
                self.session.data_spec,
                limit=limit,
                seed=self.session.seed,
                text_column=self.settings.text_column,
                label_column=self.settings.label_column,
            )

        return self.session._timed(("lm-corpus",), "corpus", self.session.data_spec, load)

    def corpus_row(self) -> dict:
        """The corpus as the report names data: spec, number of texts, fingerprint."""
        from ..infra.cache import fingerprint

        texts = self.corpus()
        return {"name": self.session.data_spec, "n": len(texts), "fingerprint": fingerprint("lm-corpus", texts)}

    def token_loyalty(self, teacher, student):
        teacher, student = underlying(teacher), underlying(student)

        def run():
            from ..lm.token_loyalty import token_loyalty

            texts = self.corpus()
            self.session.progress(f"token loyalty of {student.name} on {len(texts)} texts of {self.session.data_spec}")
            return token_loyalty(
                teacher,
                student,
                texts,
                top_k=self.settings.top_k or None,  # 0: exact
                cache_dir=self.session.cache_dir,
                use_cache=self.session.use_cache,
                progress=self.session.progress,
            )

        return self.session._timed(("lm-tokens", id(teacher), id(student)), "token loyalty", student.name, run)

    def generation(self, teacher, student):
        teacher, student = underlying(teacher), underlying(student)

        from ..lm.generation import compare_continuations

        prompts, tokens = self.prompts(), self.settings.max_new_tokens
        return compare_continuations(
            teacher.tokenizer, prompts, self.continuations(teacher), self.continuations(student), tokens
        )

    def prompts(self) -> tuple[str, ...]:
        from ..lm.corpus import generation_prompts

        return generation_prompts(self.corpus(), self.settings.generation_prompts)

    def continuations(self, lm) -> list[list[int]]:
        """``lm``'s greedy continuations of the prompts, once per model (the teacher's serve every student)."""

        def run():
            from ..lm.generation_cache import continuations

            prompts, tokens = self.prompts(), self.settings.max_new_tokens
            self.session.progress(f"greedy continuations of {len(prompts)} prompts, {tokens} tokens each, by {lm.name}")
            return continuations(
                lm,
                prompts,
                tokens,
                batch_size=min(16, self.settings.batch_size),
                cache_dir=self.session.cache_dir,
                use_cache=self.session.use_cache,
            )

        rows, _ = self.session._timed(
            ("lm-generation", id(lm)), "generation", lm.name, run, cached=lambda found: {"cached": found[1]}
        )
        return rows


def check_lm_gate(runner, gate: str, failing):
    """Run one LM gate for ``runner`` (a ``GateRunner``) and record it like every other gate;
    ``failing`` turns bad input into the test's failure (fixtures.failing)."""
    from ..gates.lm_generation import generation_agreement_gate
    from ..lm.generation import format_side_by_side

    part = runner.session.lm
    warn_only = gate in runner.warn_only
    if gate == "generation_agreement":
        agreement = failing(lambda: part.generation(runner.teacher, runner.student))
        result = generation_agreement_gate(
            agreement, runner.thresholds["min_generation_agreement"], runner.rule, warn_only=warn_only
        )

        def worst() -> str:
            rows = agreement.worst(3)
            return "\nearliest diverging continuations:\n" + format_side_by_side(rows) if rows else ""

        return runner.finish(result, details=worst, lm={"generation": agreement.to_row()})
    from ..gates.lm_tokens import lm_token_gate

    found = failing(lambda: part.token_loyalty(runner.teacher, runner.student))
    result = lm_token_gate(gate, found, runner.thresholds, warn_only=warn_only)
    texts = part.corpus()

    def worst() -> str:
        rows = [f"  mean KL {kl:.3f} nats: {texts[index][:120]!r}" for index, kl in found.worst_texts(3)]
        return "\ntexts the student follows least:\n" + "\n".join(rows) if rows else ""

    row = {
        name: {"value": m.value, "ci_low": m.ci_low, "ci_high": m.ci_high, "n": m.n}
        for name, m in found.summary.items()
    }
    row.update(
        n_tokens=found.n_tokens,
        n_texts=found.n_texts,
        top_k=found.top_k,
        teacher_from_cache=found.teacher_from_cache,
        exact=found.info["exact"],
        tail_samples=found.info["tail_samples"],
    )
    return runner.finish(result, details=worst, lm={"tokens": row, **page_rows(found, texts, runner.teacher)})


def page_rows(found, texts, teacher, worst: int = 10) -> dict:
    """What the HTML page's LM section reads (report/html.py's docstring): the summary values, one
    row per text and the ``worst`` tokens by KL, each with the few tokens before it."""
    import numpy as np

    tokenizer = underlying(teacher).tokenizer
    per_text = [
        {
            "text": texts[index][:200],
            "tokens": int(found.offsets[index + 1] - found.offsets[index]),
            "token_agreement": float(agreement),
            "kl": float(kl),
        }
        for index, (agreement, kl) in enumerate(zip(found.per_text("same_top1"), found.per_text("kl")))
    ]
    kl = found.per_token["kl"]
    rows = []
    for flat in np.argsort(-kl, kind="stable")[:worst]:
        index = int(np.searchsorted(found.offsets, flat, side="right") - 1)
        position = int(flat - found.offsets[index])  # the distribution after token `position` of the text
        ids = tokenizer(texts[index])["input_ids"]
        rows.append(
            {
                "text_index": index,
                "position": position,
                "context": tokenizer.decode(ids[max(0, position - 5) : position + 1]),
                "next token": tokenizer.decode(ids[position + 1 : position + 2]),
                "kl": float(kl[flat]),
            }
        )
    return {"summary": {name: m.value for name, m in found.summary.items()}, "per_text": per_text, "worst_tokens": rows}
