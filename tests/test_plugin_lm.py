"""The real plugin on causal LM pairs, end to end through pytester: token, generation and answer gates."""

from __future__ import annotations

import json

import pytest
from tiny_causal import char_tokenizer, perturbed, save_tiny_lm, tiny_llama

SENTENCES = [
    "the film was a delight from start to end",
    "a dull and tired story",
    "great acting, weak plot",
    "i would watch it again",
    "nothing works here",
    "a small gem of a movie",
    "too long by an hour",
    "funny, warm and clever",
    "the ending falls flat",
    "a bold and moving film",
] * 2
QUESTIONS = [
    {"prompt": f"Review: {s}\nSentiment:", "choices": [" good", " bad"], "answer": i % 2}
    for i, s in enumerate(SENTENCES[:10])
]


@pytest.fixture
def lm_project(pytester):
    """A tiny Llama teacher, a byte-identical twin, a noisy student, a text corpus and a choice file."""
    model, tokenizer = tiny_llama(seed=0), char_tokenizer()
    save_tiny_lm(pytester.path / "teacher", model, tokenizer)
    save_tiny_lm(pytester.path / "twin", model, tokenizer)
    save_tiny_lm(pytester.path / "noisy", perturbed(model, 0.3), tokenizer)
    (pytester.path / "corpus.txt").write_text("\n".join(SENTENCES) + "\n")
    (pytester.path / "choices.jsonl").write_text("\n".join(json.dumps(q) for q in QUESTIONS) + "\n")
    return pytester


def lm_args(pytester, student, *extra):
    return [
        "--teacher",
        "./teacher",
        "--student",
        student,
        "--loyalty-data",
        "corpus.txt",
        "--loyalty-cache-dir",
        str(pytester.path / "cache"),
        "--loyalty-bootstrap",
        "200",
        "--loyalty-generation-prompts",
        "8",
        "--loyalty-max-new-tokens",
        "6",
        "-p",
        "no:cacheprovider",
        "-k",
        "not latency",
        "-rs",
        *extra,
    ]


def student_report(path) -> dict:
    student = json.loads(path.read_text())["students"][0]
    student["by_gate"] = {gate["gate"]: gate for gate in student["gates"]}
    return student


def test_an_identical_lm_passes_every_gate_and_answers_alike(lm_project):
    result = lm_project.runpytest(
        *lm_args(lm_project, "./twin", "--loyalty-choices", "choices.jsonl", "--loyalty-json", "report.json")
    )
    result.assert_outcomes(passed=9, deselected=5)  # 4 LM gates + 5 answer gates; latency and the optional gates off
    assert result.ret == 0
    report = student_report(lm_project.path / "report.json")
    assert report["by_gate"]["label_loyalty"]["value"] == 1.0
    assert report["by_gate"]["generation_agreement"]["value"] == 1.0
    assert report["lm"]["generation"]["n"] == 8 and report["lm"]["tokens"]["token_agreement"]["value"] == 1.0


def test_a_perturbed_lm_fails_with_the_worst_continuation(lm_project):
    result = lm_project.runpytest(
        *lm_args(lm_project, "./noisy", "--loyalty-json", "report.json", "--loyalty-html", "page.html")
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*token_agreement*", "*earliest diverging continuations*", "*teacher:*", "*student:*"])
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] >= 3 and outcomes["skipped"] == 5  # no choice task: the answer gates say so
    result.stdout.fnmatch_lines(["*needs a choice task*--loyalty-choices*"])
    report = student_report(lm_project.path / "report.json")
    assert report["by_gate"]["generation_agreement"]["value"] < 1.0
    assert report["lm"]["tokens"]["mean_kl"]["value"] > 0.1
    # the page's LM section gets the rows it draws: the summary, one row per text, the worst tokens
    texts = report["lm"]["per_text"]
    assert len(texts) == report["lm"]["tokens"]["n_texts"] and all(row["kl"] >= 0 for row in texts)
    worst = report["lm"]["worst_tokens"]
    assert worst[0]["kl"] == max(row["kl"] for row in worst) >= max(row["kl"] for row in texts)
    page = (lm_project.path / "page.html").read_text()
    assert "Token loyalty (language model)" in page and "worst tokens" in page and "per text" in page
    assert f"{report['lm']['summary']['token_agreement']:.3f}" in page


def test_the_teacher_runs_once_and_exact_is_an_option(lm_project):
    """By default the teacher's top 32 tokens and tail samples are cached: the second run reads
    them (its KL equal to the first's) and states the sampling; ``--loyalty-top-k exact`` runs
    the teacher beside the student, whose exact KL lies within 4 sampling errors of the cached one."""
    args = lm_args(lm_project, "./noisy", "-k", "mean_kl", "--loyalty-json", "report.json")
    runs = []
    for extra in ((), (), ("--loyalty-top-k", "exact")):
        result = lm_project.runpytest(*args, *extra)
        assert result.ret == 1  # the noisy student fails mean_kl either way
        runs.append(student_report(lm_project.path / "report.json")["lm"]["tokens"])
    first, second, exact = runs
    assert (first["top_k"], first["teacher_from_cache"], first["exact"]) == (32, False, False)
    assert second["teacher_from_cache"] and second["mean_kl"]["value"] == first["mean_kl"]["value"]
    assert exact["exact"] and exact["tail_samples"] == 0 and exact["kl_sampling_se"]["value"] == 0.0
    error = first["kl_sampling_se"]["value"]
    assert 0 < error and abs(exact["mean_kl"]["value"] - first["mean_kl"]["value"]) <= 4 * error
    result.stdout.no_fnmatch_line("*tail samples per token cached*")
    lm_project.runpytest(*args).stdout.fnmatch_lines(["*mean_kl*32 tail samples per token cached, sampling SE*"])


def test_greedy_continuations_are_generated_once_then_read_from_the_cache(lm_project):
    args = lm_args(lm_project, "./noisy", "-k", "generation_agreement", "--loyalty-json", "report.json")
    first = lm_project.runpytest(*args)
    first.stdout.fnmatch_lines(["*greedy continuations of 8 prompts*"])
    first.stdout.no_fnmatch_line("*generation*from the cache*")
    report = student_report(lm_project.path / "report.json")
    second = lm_project.runpytest(*args)
    second.stdout.fnmatch_lines(["time:*generation * s (2 of 2 from the cache)*"])
    assert student_report(lm_project.path / "report.json")["by_gate"] == report["by_gate"]
    entries = list((lm_project.path / "cache" / "lm-generation").glob("*.json"))
    assert len(entries) == 2  # the teacher's and the student's
    entries[0].write_text("{not json")  # a damaged entry is generated again, with a warning
    third = lm_project.runpytest(*args)
    third.stdout.fnmatch_lines(["time:*generation * s (1 of 2 from the cache)*"])
    assert student_report(lm_project.path / "report.json")["by_gate"] == report["by_gate"]


@pytest.mark.parametrize("value", ["", "0", "all", "-3"])
def test_a_bad_top_k_is_refused_before_any_model_loads(lm_project, value):
    result = lm_project.runpytest(*lm_args(lm_project, "./twin", "--loyalty-top-k", value))
    assert result.ret == 4  # pytest's usage error
    result.stderr.fnmatch_lines([f"*--loyalty-top-k: must be a whole number >= 1 or 'exact', got {value!r}*"])


def test_a_prompt_template_poses_a_classification_dataset(lm_project):
    rows = [{"text": s, "label": ["positive", "negative"][i % 2]} for i, s in enumerate(SENTENCES)]
    (lm_project.path / "reviews.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    result = lm_project.runpytest(
        *lm_args(
            lm_project,
            "./twin",
            "--loyalty-data",
            "reviews.jsonl",
            "--loyalty-prompt",
            "Review: {text}\\nSentiment:",
            "--loyalty-label-words",
            "negative=bad,positive=good",
            "-k",
            "label_loyalty or token_agreement",
        )
    )
    result.assert_outcomes(passed=2, deselected=12)
    assert result.ret == 0


def test_a_classifier_teacher_and_an_lm_student_are_refused(lm_project):
    from tiny import save_tiny_bert

    save_tiny_bert(lm_project.path / "bert", seed=0)
    result = lm_project.runpytest(
        "--teacher",
        "./bert",
        "--student",
        "./twin",
        "--loyalty-data",
        "corpus.txt",
        "-p",
        "no:cacheprovider",
        "-k",
        "label_loyalty",
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*is a text classifier but student*is a causal language model*"])


def test_choice_options_are_checked_before_any_model_loads(lm_project):
    result = lm_project.runpytest(*lm_args(lm_project, "./twin", "--loyalty-prompt", "Review: {text}"))
    assert result.ret != 0
    result.stderr.fnmatch_lines(["*--loyalty-prompt needs --loyalty-label-words*"])


def test_declared_classifiers_skip_the_lm_gates_with_the_reason(pytester):
    """Declared models are known only once loaded, so the LM gates are collected and say why they skip;
    a classifier spec on the command line leaves them out altogether."""
    from tiny import save_tiny_bert

    save_tiny_bert(pytester.path / "bert", seed=0)
    (pytester.path / "corpus.txt").write_text("a good film\n")
    pytester.makeconftest("""
        import pytest
        from loyalty_tests.models.specs import load_model

        @pytest.fixture(scope="session")
        def loyalty_teacher():
            return load_model("./bert")

        @pytest.fixture(scope="session")
        def loyalty_student():
            return load_model("./bert")
    """)
    declared = pytester.runpytest("-p", "no:cacheprovider", "-rs", "-k", "token_agreement or mean_kl")
    declared.assert_outcomes(skipped=2, deselected=12)
    declared.stdout.fnmatch_lines(
        ["*token_agreement gates causal language models; teacher and student here are classifiers*"]
    )
    (pytester.path / "conftest.py").unlink()
    by_spec = pytester.runpytest("--teacher", "./bert", "--student", "./bert", "-p", "no:cacheprovider", "--co", "-q")
    assert "test_lm_gates" not in by_spec.stdout.str() and "test_label_loyalty" in by_spec.stdout.str()


def test_attack_rewrites_the_prompts_of_a_choice_task(lm_project):
    result = lm_project.runpytest(
        *lm_args(
            lm_project,
            "./noisy",
            "--loyalty-choices",
            "choices.jsonl",
            "--attack",
            "charswap",
            "--attack-examples",
            "10",
            "--attack-budget",
            "30",
            "--loyalty-json",
            "report.json",
            "-k",
            "robustness",
        )
    )
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 1 and outcomes["deselected"] == 13
    robustness = student_report(lm_project.path / "report.json")["robustness"]
    assert robustness["recipe"] == "charswap" and robustness["student"]
    examples = robustness["adversarial_examples"]
    assert examples  # the noisy student flips on a rewritten prompt (seeded: the same example every run)
    prompts, choice_lists = {q["prompt"] for q in QUESTIONS}, {json.dumps(q["choices"]) for q in QUESTIONS}
    for example in examples:  # the prompt is what was rewritten; the choices (the pair's first text) never are
        assert example["original"] in prompts and example["perturbed"] != example["original"]
        assert example["text_pair"] in choice_lists
