#!/usr/bin/env bash
# Build the varinit Python package into a virtualenv and run its tests
# (numpy API, varinit.torch, init_module_, the multi-process gloo tests, varinit.jax).
#
#   tools/test-python.sh [VENV]        # default VENV: .ci/pyvenv (created if missing)
#
# The venv gets numpy, torch, scipy, ml_dtypes, safetensors, transformers (for
# varinit.hf's fidelity tests), jax[cpu] and flax (varinit.jax),
# pytest and maturin if they are missing, then the wheel built from
# crates/varinit-py (`pip install ./crates/varinit-py`). The tests that
# compare with the command line use target/release/varinit (built here if
# missing). About 3-5 minutes on 2 cores once torch is installed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.ci/pyvenv}"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
VENV="$(cd "$VENV" && pwd)"
PY="$VENV/bin/python"
# maturin (the build backend) must be on the PATH
export PATH="$VENV/bin:$PATH"

if ! "$PY" -c "import torch" 2>/dev/null; then
    # a large install (several GB with its CUDA libraries): once per fresh venv
    "$PY" -m pip install --quiet --disable-pip-version-check torch
fi
"$PY" -m pip install --quiet --disable-pip-version-check numpy scipy ml_dtypes safetensors pytest transformers "maturin>=1.9.4,<2" "jax[cpu]" flax

echo "== build and install the wheel (pip install ./crates/varinit-py)"
"$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./crates/varinit-py

if [ ! -x target/release/varinit ]; then
    cargo build --release -p varinit-cli
fi

echo "== pytest"
cd crates/varinit-py
# eight CPU devices for varinit.jax's mesh tests
XLA_FLAGS="${XLA_FLAGS:-} --xla_force_host_platform_device_count=8" \
    VARINIT_BIN="$PWD/../../target/release/varinit" "$PY" -m pytest -q tests
