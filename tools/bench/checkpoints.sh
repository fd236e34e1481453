#!/usr/bin/env bash
# Side-by-side timing of `varinit init` for the 0.85B Llama (bf16) against
# transformers (LlamaForCausalLM(config) + save_pretrained) and against dd
# writing the same number of bytes to the same disk, repeated; plus the peak
# RSS of a 7B Llama. Needs /usr/bin/time (Debian package `time`) and a Python
# with torch + transformers for the baseline:
#
#   PYTHON=/path/to/venv/bin/python tools/bench/checkpoints.sh /scratch/dir [reps] [--7b]
#
# The machine's load is printed with each repetition: on a shared machine,
# compare ratios taken in the same minute, and CPU (user) times.
set -euo pipefail
DIR=${1:?output folder on the disk to measure}
REPS=${2:-3}
PY=${PYTHON:-python3}
V=${VARINIT:-$(cd "$(dirname "$0")/../.." && pwd)/target/release/varinit}
mkdir -p "$DIR"
cat > "$DIR/hf_baseline.py" <<'PYEOF'
import sys, time
t0 = time.time()
import torch
from transformers import LlamaConfig, LlamaForCausalLM
c = LlamaConfig(hidden_size=2048, intermediate_size=5632, num_hidden_layers=16, num_attention_heads=32,
                num_key_value_heads=8, vocab_size=32000, tie_word_embeddings=False, dtype="bfloat16")
t1 = time.time()
m = LlamaForCausalLM(c).to(torch.bfloat16)
t2 = time.time()
m.save_pretrained(sys.argv[1])
print(f"transformers: import {t1-t0:.2f} s, construct {t2-t1:.2f} s, save {time.time()-t2:.2f} s")
PYEOF
T='/usr/bin/time -f'
for rep in $(seq "$REPS"); do
  echo "== repetition $rep, load $(cut -d' ' -f1-3 /proc/loadavg)"
  rm -rf "$DIR/vi" "$DIR/hf" "$DIR/dd.bin"; sync
  $T "varinit (synced): %e s wall, %U s user, %S s sys, %M KB max RSS" "$V" init --preset llama --dtype bf16 -o "$DIR/vi" >/dev/null
  BYTES=$(stat -c %s "$DIR/vi/model.safetensors"); rm -rf "$DIR/vi"; sync
  $T "varinit (--no-sync): %e s wall, %U s user, %S s sys" "$V" init --preset llama --dtype bf16 -o "$DIR/vi" --no-sync >/dev/null
  rm -rf "$DIR/vi"; sync
  $T "dd conv=fsync: %e s wall, %S s sys" dd if=/dev/zero of="$DIR/dd.bin" bs=16M count=$((BYTES / 16777216 + 1)) conv=fsync status=none
  rm -f "$DIR/dd.bin"; sync
  $T "dd (no sync): %e s wall, %S s sys" dd if=/dev/zero of="$DIR/dd.bin" bs=16M count=$((BYTES / 16777216 + 1)) status=none
  rm -f "$DIR/dd.bin"; sync
  $T "transformers total: %e s wall, %U s user, %M KB max RSS" "$PY" "$DIR/hf_baseline.py" "$DIR/hf" 2>&1 | grep -E "^transformers"
  rm -rf "$DIR/hf"; sync
done
if [[ "${3:-}" == "--7b" ]]; then
  echo "== 7B, load $(cut -d' ' -f1-3 /proc/loadavg)"
  $T "varinit 7B (--no-sync): %e s wall, %U s user, %M KB max RSS" "$V" init --preset llama --set size=7b --dtype bf16 -o "$DIR/v7" --no-sync >/dev/null
  $T "audit 7B: %e s wall, %U s user, %M KB max RSS" "$V" audit "$DIR/v7" >/dev/null
  rm -rf "$DIR/v7"
fi
