#!/usr/bin/env bash
# README command 1: set up, then gate the embedded demo teacher against its int8 student,
# robustness included (TextFooler-style attack in seeded blocks of 25 sentences, at most 100).
# The first run fine-tunes the demo teacher (about 2.5 minutes on 2 cores) and caches it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec "${LOYALTY_VENV:-.venv}/bin/pytest" loyalty_tests/suite --teacher demo --student int8 --attack textfooler --attack-examples 100 \
  --loyalty-json loyalty-report.json --loyalty-markdown loyalty-report.md --loyalty-html loyalty-report.html "$@"
