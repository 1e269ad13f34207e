"""An LM scoring choices is a classifier: the same gates, flips and attacks apply unchanged.

Two ways to pose a choice task:

- **A choice file** (JSONL, one question a line): ``{"prompt": ..., "choices": [...], "answer": ...}``
  with ``answer`` an index into ``choices`` or the text of one of them. It becomes a
  ``TextDataset`` whose *text pair* is the prompt and whose text is the choices (as JSON): an
  attack rewrites the pair's second text, so ``--attack`` perturbs the prompt and never a
  choice. Labels are positions, named ``choice 1``, ``choice 2``, ...
- **A classification dataset with a prompt template** such as ``"Review: {text}\\nSentiment:"``
  and one label word per label (``" negative"``, ``" positive"``): the dataset is used as it is,
  the model's labels are the dataset's, and ``--attack`` perturbs the text inside the template.

``ChoiceClassifier.predict_proba`` scores every choice by its summed log-probability after the
prompt (``scoring.continuation_logprobs``), optionally divided by the choice's length in UTF-8
bytes (lm-evaluation-harness's ``acc_norm``), and returns the softmax over a question's choices
as its probability row. A question with fewer choices than the widest one gets probability 0
for the positions it lacks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.dataset import TextDataset
from ..errors import LoyaltyError
from ..infra.cache import fingerprint
from .scoring import continuation_logprobs

CHOICE_FILE_HELP = (
    'one JSON object a line: {"prompt": "...", "choices": ["...", "..."], "answer": 0} '
    "(answer: an index into choices or the text of one)"
)


@dataclass(frozen=True)
class ChoiceTask:
    """How prompts and choices are made from a dataset row.

    ``template``: a prompt template with ``{text}`` (and ``{text_pair}`` for pair data); None for a
    choice file, whose rows carry their prompts. ``label_words``: label name -> the continuation
    scored for it (template tasks only). ``normalise``: divide each choice's log-probability by
    its length in bytes before the softmax."""

    template: str | None = None
    label_words: tuple[tuple[str, str], ...] = ()
    normalise: bool = False

    def describe(self) -> str:
        if self.template is None:
            return "choice file" + (" (length-normalised)" if self.normalise else "")
        words = ", ".join(f"{name}={word!r}" for name, word in self.label_words)
        normalised = " (length-normalised)" if self.normalise else ""
        return f"template {self.template!r} with label words {words}{normalised}"


def load_choice_file(path: str | Path) -> TextDataset:
    """A JSONL choice file as a dataset: text = the choices as JSON, text pair = the prompt."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise LoyaltyError(
            f"choice file {str(path)!r} does not exist; pass --loyalty-choices PATH.jsonl, {CHOICE_FILE_HELP}"
        )
    prompts, choice_lists, answers = [], [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"choice file {str(path)!r}, line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LoyaltyError(f"{where} is not valid JSON ({error}); {CHOICE_FILE_HELP}") from None
        prompt, choices, answer = _question(record, where)
        prompts.append(prompt)
        choice_lists.append(json.dumps(choices, ensure_ascii=False))
        answers.append(answer)
    if not prompts:
        raise LoyaltyError(f"choice file {str(path)!r} has no questions; {CHOICE_FILE_HELP}")
    width = max(len(json.loads(c)) for c in choice_lists)
    names = tuple(f"choice {i + 1}" for i in range(width))
    return TextDataset(str(path), tuple(choice_lists), tuple(answers), names, tuple(prompts))


def _question(record, where: str) -> tuple[str, list[str], int]:
    if not isinstance(record, dict) or not {"prompt", "choices", "answer"} <= set(record):
        found = list(record) if isinstance(record, dict) else type(record).__name__
        raise LoyaltyError(f"{where} needs keys prompt, choices and answer (found {found}); {CHOICE_FILE_HELP}")
    prompt, choices, answer = record["prompt"], record["choices"], record["answer"]
    if not isinstance(prompt, str) or not prompt.strip():
        raise LoyaltyError(f"{where}: prompt must be non-empty text, got {prompt!r}")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c.strip() for c in choices):
        raise LoyaltyError(f"{where}: choices must be a list of at least two non-empty texts, got {choices!r}")
    if len(set(choices)) != len(choices):
        raise LoyaltyError(f"{where}: choices repeat a text ({choices!r}); each choice must differ")
    if isinstance(answer, str) and answer in choices:
        return prompt, choices, choices.index(answer)
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        return prompt, choices, answer
    raise LoyaltyError(
        f"{where}: answer {answer!r} is neither an index 0..{len(choices) - 1} nor one of the choices {choices!r}"
    )


def template_task(template: str, label_words, label_names, *, normalise: bool = False) -> ChoiceTask:
    """A template task for data with ``label_names``; ``label_words`` is a list of words in the
    data's label order, or of ``name=word`` items. A word gets a leading space when neither it
    nor the template's end has one, so ``Sentiment:`` + ``positive`` reads ``Sentiment: positive``."""
    if "{text}" not in template:
        raise LoyaltyError(
            f"prompt template {template!r} has no {{text}} placeholder; e.g. "
            "--loyalty-prompt 'Review: {text}\\nSentiment:'"
        )
    words = [str(w) for w in label_words]
    if all("=" in w for w in words):
        mapping = dict(w.split("=", 1) for w in words)
    elif any("=" in w for w in words):
        raise LoyaltyError(f"label words {words!r} mix name=word items and plain words; use one form")
    elif len(words) != len(label_names):
        raise LoyaltyError(
            f"{len(words)} label words {words!r} for {len(label_names)} labels {list(label_names)}; "
            "give one word per label in this order, or name=word items"
        )
    else:
        mapping = dict(zip(label_names, words))
    missing, unknown = set(label_names) - set(mapping), set(mapping) - set(label_names)
    if missing or unknown:
        raise LoyaltyError(
            f"label words name {sorted(mapping)} but the data's labels are {list(label_names)}; "
            "give a word for every label, e.g. --loyalty-label-words negative=' bad',positive=' good'"
        )
    if any(not word.strip() for word in mapping.values()):
        raise LoyaltyError(f"label words {mapping!r}: every word needs visible text")
    spaced = {
        name: (word if word[:1].isspace() or template[-1:].isspace() else " " + word) for name, word in mapping.items()
    }
    if len(set(spaced.values())) != len(spaced):
        raise LoyaltyError(f"label words {mapping!r} repeat a word; each label needs its own")
    return ChoiceTask(template, tuple((name, spaced[name]) for name in label_names), normalise)


@dataclass
class ChoiceClassifier:
    """A causal LM answering ``task``'s choices; ``predict_proba`` as every classifier has it.

    ``lm``: the model (``name``, ``fingerprint``, ``tokenizer``, ``max_length``, ``logits``);
    ``label_names``: the data's labels (template task) or ``choice 1..K`` (choice file)."""

    lm: object
    task: ChoiceTask
    label_names: tuple[str, ...]
    batch_size: int = 8
    name: str = ""
    fingerprint: str | None = None

    def __post_init__(self):
        from ..models.batching import batch_size_for

        self.name = self.name or self.lm.name
        # the batch size scoring.continuation_logprobs will use, so the predictions' cache key
        # (predictions.output_settings) says 1 for a dynamic-int8 model
        self.batch_size = batch_size_for(self.lm, self.batch_size)
        if self.fingerprint is None and getattr(self.lm, "fingerprint", None):
            # the task is part of what the "classifier" is: another template gives other outputs
            self.fingerprint = fingerprint(
                "lm-choices",
                self.lm.fingerprint,
                self.task.template,
                self.task.label_words,
                self.task.normalise,
                self.label_names,
            )

    def questions(self, texts, text_pairs=None) -> list[tuple[str, list[str]]]:
        """(prompt, choices) of each row."""
        if self.task.template is None:
            if text_pairs is None:
                raise LoyaltyError(
                    f"model {self.name!r} answers a choice file: rows need their prompt "
                    "(load the data with --loyalty-choices PATH.jsonl)"
                )
            return [(prompt, json.loads(choices)) for choices, prompt in zip(texts, text_pairs)]
        words = [word for _, word in self.task.label_words]
        pairs = text_pairs if text_pairs is not None else [None] * len(texts)
        if text_pairs is not None and "{text_pair}" not in self.task.template:
            raise LoyaltyError(
                f"the data has text pairs but the prompt template {self.task.template!r} has no "
                "{text_pair} placeholder; add it, or the second texts would be ignored"
            )
        return [(self.task.template.format(text=text, text_pair=pair), words) for text, pair in zip(texts, pairs)]

    def predict_proba(self, texts, text_pairs=None) -> np.ndarray:
        questions = self.questions(list(texts), None if text_pairs is None else list(text_pairs))
        width = len(self.label_names)
        for _, choices in questions:
            if len(choices) > width:
                raise LoyaltyError(
                    f"a question has {len(choices)} choices but model {self.name!r} was set up for "
                    f"{width}; use the choice file the task was loaded from"
                )
        pairs = [(prompt, choice) for prompt, choices in questions for choice in choices]
        scored = continuation_logprobs(self.lm, pairs, batch_size=self.batch_size)[:, 0]
        if self.task.normalise:
            scored = scored / np.array([max(1, len(c.encode("utf-8"))) for _, c in pairs])
        rows, start = np.zeros((len(questions), width)), 0
        for row, (_, choices) in enumerate(questions):
            block = scored[start : start + len(choices)]
            start += len(choices)
            exp = np.exp(block - block.max())
            rows[row, : len(choices)] = exp / exp.sum()
        return rows
