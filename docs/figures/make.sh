#!/usr/bin/env bash
# Regenerates every figure of docs/theory.md with the tool itself.
# Run from the repository root: bash docs/figures/make.sh
# The digits data set (UCI optical digits, CC BY 4.0) is the copy vendored with its attribution in
# crates/varinit-candle/examples/data/, or $DIGITS.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q
v=target/release/varinit
digits=${DIGITS:-crates/varinit-candle/examples/data/digits.csv.gz}

# The default run: {tanh, relu} x {xavier_normal, kaiming_normal}, 50 layers of 512.
$v propagate --plot docs/figures/propagate-default.svg > docs/figures/propagate-default.txt
$v propagate --plot docs/figures/propagate-default.png > /dev/null

# Real inputs: the first 256 digits (64 pixels, standardised), ReLU under three inits.
$v propagate --data "$digits" -a relu -i xavier_normal,kaiming_normal,lsuv --plot docs/figures/propagate-digits-relu.png \
    > docs/figures/propagate-digits-relu.txt

# The same with 3x3 convolutions (64 channels) on the 8x8 digit images.
$v propagate --data "$digits" --conv 3 -n 64 -B 128 -L 30 -a relu -i xavier_normal,kaiming_normal,lsuv \
    --plot docs/figures/propagate-digits-conv.png > docs/figures/propagate-digits-conv.txt

# tanh at the edge of chaos for sigma_b^2 = 0.05 (sigma_w^2 = 1.76095, from `varinit critical tanh --sigma-b2 0.05`),
# next to an ordered and a chaotic sigma_w^2.
$v propagate -a tanh -i "normal(std=sqrt(1.2/512)),normal(std=sqrt(1.76095/512)),normal(std=sqrt(3/512))" \
    --bias "normal(std=sqrt(0.05))" --plot docs/figures/propagate-tanh-edge.png > docs/figures/propagate-tanh-edge.txt

# Phase diagrams.
$v phase tanh --plot docs/figures/phase-tanh.svg > docs/figures/phase-tanh.txt
$v phase tanh --plot docs/figures/phase-tanh.png > /dev/null
$v phase relu --plot docs/figures/phase-relu.png > /dev/null
$v phase selu --plot docs/figures/phase-selu.png > /dev/null
$v phase gelu --plot docs/figures/phase-gelu.png > /dev/null
$v gain --numeric > docs/figures/gain-numeric.txt

# Pre-norm residual stacks, 50 blocks: unscaled, 1/sqrt(2L) and torchtitan's 1/sqrt(2(l+1)) output projections.
$v propagate --residual --plot docs/figures/propagate-residual.png > docs/figures/propagate-residual.txt
