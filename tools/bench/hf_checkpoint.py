"""Time to a loadable checkpoint: varinit.hf.init_checkpoint against
transformers' AutoModelForCausalLM.from_config + save_pretrained.

Each job runs in its own process (so peak memory is that job's own), on the
same machine, in the same run, one after the other; the wall time includes
importing torch/transformers and building the model, i.e. what a user
waits for. Peak memory is the child's maximum resident set (ru_maxrss).

    python bench_hf_checkpoint.py --sizes 1b          # llama and qwen3, ~1B
    python bench_hf_checkpoint.py --sizes 1b,7b --dtype bf16 --dir /scratch
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    # TinyLlama-1.1B's shape
    ("llama", "1b"): dict(
        model_type="llama",
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        vocab_size=32000,
        max_position_embeddings=2048,
    ),
    # Llama-2-7B's shape
    ("llama", "7b"): dict(
        model_type="llama",
        hidden_size=4096,
        intermediate_size=11008,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=32,
        vocab_size=32000,
        max_position_embeddings=4096,
    ),
    # a ~1B Qwen3 (Qwen3-1.7B's width and vocabulary, 16 layers, tied embeddings)
    ("qwen3", "1b"): dict(
        model_type="qwen3",
        hidden_size=2048,
        intermediate_size=6144,
        num_hidden_layers=16,
        num_attention_heads=16,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=151936,
        tie_word_embeddings=True,
        max_position_embeddings=4096,
    ),
    # Qwen3-8B's shape
    ("qwen3", "7b"): dict(
        model_type="qwen3",
        hidden_size=4096,
        intermediate_size=12288,
        num_hidden_layers=36,
        num_attention_heads=32,
        num_key_value_heads=8,
        head_dim=128,
        vocab_size=151936,
        max_position_embeddings=4096,
    ),
}

CHILD = r"""
import json, sys, time
t0 = time.perf_counter()
job, cfg, out, dtype = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
import torch
if job == "varinit":
    from varinit import hf
    rep = hf.init_checkpoint(cfg, out, seed=0, dtype=dtype, sync=False, max_shard_size="5GB")
    n = rep.parameters
else:
    import transformers
    c = transformers.AutoConfig.for_model(cfg.pop("model_type"), **cfg)
    td = {"bf16": torch.bfloat16, "f32": torch.float32, "f16": torch.float16}[dtype]
    m = transformers.AutoModelForCausalLM.from_config(c, dtype=td)
    m.save_pretrained(out, max_shard_size="5GB")
    n = sum(p.numel() for p in m.parameters())
print(json.dumps({"seconds": time.perf_counter() - t0, "parameters": n}))
"""


def run(job: str, cfg: dict, out: str, dtype: str) -> dict:
    t0 = time.perf_counter()
    p = subprocess.Popen(
        [sys.executable, "-c", CHILD, job, json.dumps(cfg), out, dtype], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    stdout = p.stdout.read().decode()
    stderr = p.stderr.read().decode()
    if status != 0:
        raise RuntimeError(f"{job} failed:\n{stderr[-2000:]}")
    inner = json.loads(stdout.strip().splitlines()[-1])
    size = sum(os.path.getsize(os.path.join(out, f)) for f in os.listdir(out))
    return {"wall_s": wall, "peak_rss_gb": ru.ru_maxrss / 1e6, "bytes": size, "parameters": inner["parameters"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1b")
    ap.add_argument("--archs", default="llama,qwen3")
    ap.add_argument("--dtype", default="bf16")
    ap.add_argument("--dir", default=None, help="scratch folder (default: a temporary folder)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    base = a.dir or tempfile.mkdtemp(prefix="varinit-bench-")
    rows = []
    for arch in a.archs.split(","):
        for size in a.sizes.split(","):
            cfg = CONFIGS[(arch, size)]
            r = {"arch": arch, "size": size}
            for job in ("varinit", "transformers"):
                out = os.path.join(base, f"{arch}-{size}-{job}")
                shutil.rmtree(out, ignore_errors=True)
                r[job] = run(job, dict(cfg), out, a.dtype)
                shutil.rmtree(out, ignore_errors=True)
            r["speedup"] = r["transformers"]["wall_s"] / r["varinit"]["wall_s"]
            r["memory_ratio"] = r["transformers"]["peak_rss_gb"] / r["varinit"]["peak_rss_gb"]
            rows.append(r)
            v, t = r["varinit"], r["transformers"]
            print(
                f"{arch} {size} ({v['parameters'] / 1e9:.2f}B params, {v['bytes'] / 1e9:.2f} GB {a.dtype}): "
                f"varinit {v['wall_s']:.1f} s, {v['peak_rss_gb']:.2f} GB peak | "
                f"from_config+save_pretrained {t['wall_s']:.1f} s, {t['peak_rss_gb']:.2f} GB peak | "
                f"x{r['speedup']:.1f} faster, x{r['memory_ratio']:.1f} less memory",
                flush=True,
            )
    if a.json:
        print(json.dumps(rows, indent=2))
    if a.dir is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
