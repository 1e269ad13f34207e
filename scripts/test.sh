#!/usr/bin/env bash
# README command 2: set up, then run the project's own test suite.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh || exit 1
# WordNet (for the pwws attack recipe's tests) comes from Debian packages. Install it where we can
# (CI runs as root with apt-get); elsewhere its two tests skip and say which packages to install.
if [ ! -e /usr/share/wordnet/data.noun ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test.sh: installing Debian's WordNet (wordnet-base wordnet-sense-index) for the pwws tests"
  { apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq wordnet-base wordnet-sense-index >/dev/null 2>&1; }; } \
    || echo "test.sh: could not install WordNet; the pwws tests will be skipped" >&2
fi
# Chromium (Debian's package) for the HTML report's browser test; elsewhere that test skips and says
# how to install it.
if ! command -v chromium >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "test.sh: installing Debian's chromium for the HTML report's browser test"
  { apt-get install -y -qq chromium >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq chromium >/dev/null 2>&1; }; } \
    || echo "test.sh: could not install chromium; the browser test will be skipped" >&2
fi
# Lint and format before the tests: a ruff failure fails the script (ruff comes with the dev extra).
VENV="${LOYALTY_VENV:-.venv}"
"$VENV/bin/ruff" check --quiet . || { echo "test.sh: ruff check failed (fix, or run: ruff check --fix .)" >&2; exit 1; }
"$VENV/bin/ruff" format --check --quiet . || { echo "test.sh: not formatted (run: ruff format .)" >&2; exit 1; }
"$VENV/bin/pytest" "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure" >&2
  exit 1
fi
exit "$status"
