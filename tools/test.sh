#!/usr/bin/env bash
# Every test of varinit, Rust and Python: the README's test command, and what
# .ci/run runs after formatting and lints.
#
#   tools/test.sh [VENV]     # VENV defaults to .ci/pyvenv, created and filled on first use
#
# 1. Rust: `cargo test --workspace --release` (core, theory, io, CLI, candle,
#    burn; the examples in their fast modes).
# 2. Python: the wheel built from crates/varinit-py into VENV with numpy,
#    PyTorch, JAX/Flax and transformers, then pytest (torch functions, gloo
#    DTensor/FSDP2 processes, 8 XLA host devices, transformers fidelity).
#    PyTorch is several GB: the first run installs it once.
# 3. Interoperability: numpy, safetensors and transformers read the files
#    `varinit sample` and `varinit init` write.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${1:-.ci/pyvenv}"

echo "== Rust: cargo test --workspace --release"
cargo test --workspace --release

echo "== Python: the varinit package"
tools/test-python.sh "$VENV"

echo "== interoperability: numpy, safetensors and transformers read varinit's files"
PATH="$PWD/target/release:$PATH" "$VENV/bin/python" tests/interop/check_files.py
PATH="$PWD/target/release:$PATH" "$VENV/bin/python" tests/interop/check_checkpoints.py

echo "== every test passed"
