"""Options that only causal-LM runs read (the model says it is an LM; no option says so).

A choice task turns the LM pair into classifiers for the prediction gates: ``--loyalty-choices``
(a JSONL choice file) or ``--loyalty-prompt`` with ``--loyalty-label-words`` over the
classification data of ``--loyalty-data``. Token loyalty and generation agreement read the
texts of ``--loyalty-data`` (default: the embedded rotten_tomatoes test sentences).
"""

from __future__ import annotations

DEFAULT_LM_TEXTS = 64  # token loyalty texts when --loyalty-limit is not given: a few minutes on 2 CPU cores
DEFAULT_TOP_K = 32  # the teacher's tokens cached per position (with lm.tokens.TAIL_SAMPLES from the rest)


def add_lm_options(group, whole_number) -> None:
    """``whole_number``: options.py's argparse type for counts (passed in: options imports this module)."""
    import argparse

    positive = whole_number(1)

    def top_k(text: str) -> int:
        """A whole number >= 1, or ``exact`` (read as 0: the teacher beside every student)."""
        if str(text).strip().lower() == "exact":
            return 0
        try:
            return positive(text)
        except argparse.ArgumentTypeError:
            raise argparse.ArgumentTypeError(f"must be a whole number >= 1 or 'exact', got {text!r}") from None

    add = group.addoption
    add(
        "--loyalty-choices",
        default=None,
        metavar="PATH.jsonl",
        help='causal LMs: a choice task, one {"prompt", "choices", "answer"} object a line; the prediction '
        "gates then compare the two models' answers",
    )
    add(
        "--loyalty-prompt",
        default=None,
        metavar="TEMPLATE",
        help="causal LMs: a prompt template with {text}, e.g. 'Review: {text}\\nSentiment:'; with "
        "--loyalty-label-words the classification data of --loyalty-data becomes a choice task",
    )
    add(
        "--loyalty-label-words",
        default=None,
        metavar="W1,W2",
        help="causal LMs: the word scored for each label, in the data's label order or as name=word items, "
        "e.g. negative,positive",
    )
    add(
        "--loyalty-length-normalise",
        action="store_true",
        default=False,
        help="causal LMs: divide each choice's log-likelihood by its length in bytes (acc_norm)",
    )
    add(
        "--loyalty-top-k",
        type=top_k,
        default=None,
        metavar="K|exact",
        help=f"causal LMs: the teacher runs once and its top K next tokens per position, plus tokens "
        f"sampled from the rest for an unbiased KL, are cached, so each student costs one pass (default: "
        f"{DEFAULT_TOP_K}); 'exact' runs the teacher beside every student over the whole vocabulary",
    )
    add(
        "--loyalty-generation-prompts",
        type=whole_number(1),
        default=16,
        metavar="N",
        help="causal LMs: prompts continued greedily by both models for the generation agreement gate (default: 16)",
    )
    add(
        "--loyalty-max-new-tokens",
        type=whole_number(1),
        default=16,
        metavar="M",
        help="causal LMs: tokens generated per prompt (default: 16)",
    )
