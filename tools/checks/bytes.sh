#!/usr/bin/env bash
# Byte-identity check for refactors: prints one SHA-256 line per file that
# `varinit init` (every preset and style, small sizes, sharded and not,
# every dtype) and `varinit sample` (several schemes x dtypes x layouts,
# .npy and .safetensors) write. Run it with the binary before and after a
# change and diff the outputs:
#
#   tools/checks/bytes.sh path/to/varinit > before.txt
#   ... change, rebuild ...
#   tools/checks/bytes.sh target/release/varinit > after.txt && diff before.txt after.txt
#
# Set SKIP_SAMPLE_SAFETENSORS=1 to leave out the sample .safetensors files
# (their metadata changed on purpose in issue 9: `varinit.layout` and
# `varinit.transposed` were added).
set -euo pipefail
bin=$(realpath "${1:-target/release/varinit}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

hash_dir() { # label dir
    (cd "$2" && find . -type f | LC_ALL=C sort | while read -r f; do
        printf '%s %s/%s\n' "$(sha256sum "$f" | cut -d' ' -f1)" "$1" "${f#./}"
    done)
}

i=0
init() { # label args...
    local label=$1; shift
    i=$((i + 1))
    "$bin" init "$@" -o "out$i" --no-sync >/dev/null
    hash_dir "$label" "out$i"
}

for style in hf megatron torchtitan; do
    init "llama-tiny-$style" --preset llama --set size=tiny --set style=$style
done
init llama-tiny-depth --preset llama --set size=tiny --set style=torchtitan --set depth_init=false
init llama-tiny-bf16 --preset llama --set size=tiny --dtype bf16 --seed 7
init llama-tiny-f16-sharded --preset llama --set size=tiny --dtype f16 --max-shard-size 200KB
init llama-tiny-tied --preset llama --set size=tiny --set tie_word_embeddings=true --set attention_bias=true
init llama-small-7b-shape --preset llama --set size=7b --set num_hidden_layers=1 --set vocab_size=64 \
    --set intermediate_size=512 --set hidden_size=256 --set num_attention_heads=8 --set num_key_value_heads=2 --set head_dim=32
for style in hf megatron; do
    init "gpt2-tiny-$style" --preset gpt2 --set size=tiny --set style=$style
done
init gpt2-tiny-f64 --preset gpt2 --set size=tiny --dtype f64 --seed 3
for style in torch hf kaiming; do
    init "mlp-$style" --preset mlp --set style=$style --set dims=64,32,10
done
init mlp-nobias --preset mlp --set bias=false --set dims=20,30

cat > llama.json <<'JSON'
{"model_type": "llama", "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "torch_dtype": "bfloat16"}
JSON
init hf-llama --hf-config llama.json
cat > qwen.json <<'JSON'
{"model_type": "qwen2", "hidden_size": 64, "intermediate_size": 160, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": true}
JSON
init hf-qwen2 --hf-config qwen.json
cat > gpt2.json <<'JSON'
{"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 32}
JSON
init hf-gpt2 --hf-config gpt2.json

cat > spec.toml <<'TOML'
seed = 5
dtype = "f32"
layout = "torch"
[[tensor]]
name = "conv.weight"
shape = [16, 8, 3, 3]
init = "kaiming_uniform(a=sqrt(5))"
[[tensor]]
name = "fc.weight"
shape = "32x64"
[[tensor]]
name = "fc.bias"
shape = [32]
dtype = "bf16"
[[tensor]]
name = "q.weight"
shape = [48, 48]
init = "orthogonal(gain=relu)"
[[rule]]
match = "*.weight"
init = "xavier_normal"
[[rule]]
match = "*.bias"
init = "zeros"
TOML
init spec --spec spec.toml

n=0
for scheme in "kaiming_normal(nonlinearity=relu)" "glorot_uniform" "he_normal" "trunc_normal(std=0.02)" \
    "orthogonal" "sparse(0.3)" "eye" "variance_scaling(2, fan_avg, uniform)"; do
    for dtype in f32 f64 f16 bf16; do
        for layout in torch keras jax; do
            n=$((n + 1))
            shape=48x40
            if [ $dtype != bf16 ]; then # numpy has no bfloat16
                "$bin" sample "$scheme" --shape $shape --dtype $dtype --layout $layout --seed $n -o "s$n.npy" >/dev/null
                printf '%s sample %s %s %s npy\n' "$(sha256sum "s$n.npy" | cut -d' ' -f1)" "$scheme" $dtype $layout
            fi
            if [ -z "${SKIP_SAMPLE_SAFETENSORS:-}" ]; then
                "$bin" sample "$scheme" --shape $shape --dtype $dtype --layout $layout --seed $n -o "s$n.safetensors" >/dev/null
                printf '%s sample %s %s %s safetensors\n' "$(sha256sum "s$n.safetensors" | cut -d' ' -f1)" "$scheme" $dtype $layout
            fi
        done
    done
done
for layout in torch keras; do
    "$bin" sample "glorot_uniform" --shape 3x3x16x32 --layout $layout --transposed -o "t$layout.npy" >/dev/null
    printf '%s sample transposed %s npy\n' "$(sha256sum "t$layout.npy" | cut -d' ' -f1)" $layout
done
