"""Built-in gates for causal language models: one test item per gate and student.

Collected beside the classifier gates; for a classifier pair they are left out (a teacher spec
that is plainly a classifier) or skipped with the reason. Thresholds: ``loyalty_min_token_agreement``,
``loyalty_max_mean_kl``, ``loyalty_max_perplexity_ratio``, ``loyalty_min_generation_agreement``.
"""


def test_token_agreement(loyalty_gate):
    """The student's top-1 next token equals the teacher's on at least min_token_agreement of the tokens."""
    loyalty_gate.check_lm("token_agreement")


def test_mean_kl(loyalty_gate):
    """Mean per-token KL(teacher || student) in nats is at most max_mean_kl."""
    loyalty_gate.check_lm("mean_kl")


def test_perplexity_ratio(loyalty_gate):
    """The student's perplexity on the corpus is at most max_perplexity_ratio times the teacher's."""
    loyalty_gate.check_lm("perplexity_ratio")


def test_generation_agreement(loyalty_gate):
    """At least min_generation_agreement of the prompts get identical greedy continuations."""
    loyalty_gate.check_lm("generation_agreement")
