#!/usr/bin/env python3
"""Benchmark (not a test): varinit.torch against PyTorch's own initialization.

1. A Llama-style model of about 1.1B parameters (TinyLlama's shape: hidden
   2048, MLP 5632, 22 layers, 32/4 heads, vocabulary 32000) built on the meta
   device and materialized on the CPU with ``to_empty``; then, alternating,
   the model's own init (transformers' ``model.apply(model._init_weights)``:
   N(0, 0.02²) for linear and embedding weights, ones for the norms) and
   ``varinit.torch.init_module_`` with the equivalent rules.
2. The rank-local cost of a 1/4 shard against the full tensor: one 8192x8192
   f32 normal tensor, the full fill against the region a rank holds under
   Shard(0) and Shard(1) over 4 ranks (the fill of a DTensor's local shard).

Both use the same thread count (``--threads``, default: all cores) for
PyTorch and varinit. Prints a table and the ratios; ``--json`` for one JSON
document. Usage: python tools/bench/python_init.py [--threads N] [--repeats R]
[--layers L] [--dtype float32|bfloat16]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--layers", type=int, default=22)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--skip-model", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)  # before varinit's pool starts

    import numpy as np
    import torch

    import varinit
    import varinit.torch as vi

    torch.set_num_threads(a.threads)
    dtype = getattr(torch, a.dtype)
    out: dict = {"threads": a.threads, "repeats": a.repeats, "dtype": a.dtype, "load_before": os.getloadavg()}

    def best(f, repeats=a.repeats):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            f()
            times.append(time.perf_counter() - t0)
        return min(times), times

    if not a.skip_model:
        from transformers import LlamaConfig, LlamaForCausalLM

        cfg = LlamaConfig(
            hidden_size=2048,
            intermediate_size=5632,
            num_hidden_layers=a.layers,
            num_attention_heads=32,
            num_key_value_heads=4,
            vocab_size=32000,
            initializer_range=0.02,
            tie_word_embeddings=False,
        )
        with torch.device("meta"):
            model = LlamaForCausalLM(cfg).to(dtype)
        model.to_empty(device="cpu")
        n = sum(p.numel() for p in model.parameters())
        rules = [("*norm.weight", "ones"), ("*.bias", "zeros"), ("*", "normal(std=0.02)")]
        t_torch, t_var = [], []
        for _ in range(a.repeats):  # interleaved, so load changes hit both
            t0 = time.perf_counter()
            with torch.no_grad():
                model.apply(model._init_weights)
            t_torch.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            vi.init_module_(model, rules, seed=0)
            t_var.append(time.perf_counter() - t0)
        out["model"] = {
            "parameters": n,
            "torch_init_s": t_torch,
            "varinit_init_module_s": t_var,
            "speedup_best": min(t_torch) / min(t_var),
        }
        del model

    # 1/4 shard vs the full tensor
    shape = (8192, 8192)
    p = varinit.plan("normal(std=0.02)", shape, seed=0, name="w")
    full = np.empty(shape, dtype=np.float32)
    rows = np.empty((shape[0] // 4, shape[1]), dtype=np.float32)
    cols = np.empty((shape[0], shape[1] // 4), dtype=np.float32)
    t_full, t_rows, t_cols = [], [], []
    for _ in range(a.repeats):
        t_full.append(best(lambda: varinit.fill_(full, "normal(std=0.02)", seed=0, name="w"), 1)[0])
        t_rows.append(
            best(lambda: varinit.fill_(rows, "normal(std=0.02)", seed=0, name="w", shape=shape, offsets=(2048, 0)), 1)[0]
        )
        t_cols.append(
            best(lambda: varinit.fill_(cols, "normal(std=0.02)", seed=0, name="w", shape=shape, offsets=(0, 2048)), 1)[0]
        )
    del p
    # the model's own path for the same tensor, for scale
    tt = torch.empty(shape)
    t_torch_full = best(lambda: tt.normal_(0, 0.02))[0]
    out["shard"] = {
        "shape": shape,
        "full_s": t_full,
        "shard0_quarter_s": t_rows,
        "shard1_quarter_s": t_cols,
        "ratio_shard0": min(t_rows) / min(t_full),
        "ratio_shard1": min(t_cols) / min(t_full),
        "torch_normal_full_s": t_torch_full,
    }
    out["load_after"] = os.getloadavg()
    if a.json:
        json.dump(out, sys.stdout, indent=1)
        print()
        return
    print(f"threads {a.threads}, repeats {a.repeats}, load {out['load_before'][0]:.1f} -> {out['load_after'][0]:.1f}")
    if "model" in out:
        m = out["model"]
        print(f"Llama-style model, {m['parameters'] / 1e9:.2f}B parameters, {a.dtype}:")
        print("  model.apply(_init_weights): " + ", ".join(f"{t:.2f}s" for t in m["torch_init_s"]))
        print("  varinit init_module_:       " + ", ".join(f"{t:.2f}s" for t in m["varinit_init_module_s"]))
        print(f"  speed-up (best of each): {m['speedup_best']:.1f}x")
    s = out["shard"]
    print(f"normal f32 {shape[0]}x{shape[1]}: full " + ", ".join(f"{t * 1e3:.0f}ms" for t in s["full_s"]))
    print("  1/4 shard, Shard(0): " + ", ".join(f"{t * 1e3:.0f}ms" for t in s["shard0_quarter_s"]) + f"  ratio {s['ratio_shard0']:.3f}")
    print("  1/4 shard, Shard(1): " + ", ".join(f"{t * 1e3:.0f}ms" for t in s["shard1_quarter_s"]) + f"  ratio {s['ratio_shard1']:.3f}")
    print(f"  (torch normal_ on the full tensor: {s['torch_normal_full_s'] * 1e3:.0f}ms)")


if __name__ == "__main__":
    main()
