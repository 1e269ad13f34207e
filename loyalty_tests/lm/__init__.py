"""Causal language models (generative LLMs) as teacher and student.

``model`` is what an LM is once loaded (a ``CausalLM``: next-token logits plus its tokenizer, both
fingerprinted); ``loading`` turns a folder, a ``.gguf`` file or a factory's return value into one;
``tokens`` holds the pure per-token loyalty formulas; ``teacher_cache`` runs the teacher once and
keeps its top-K log-probabilities; ``token_loyalty`` compares a student against that cache.
"""
