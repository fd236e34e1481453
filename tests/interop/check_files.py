"""Check that the files `varinit sample --out` writes load in numpy and in the
Python `safetensors` package, with the right shape, dtype, values and
metadata. Run by .ci/run with the varinit binary on PATH.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def varinit(*args):
    out = subprocess.run(["varinit", *args], check=True, capture_output=True, text=True).stdout
    return json.loads(out) if "--json" in args else out


def close(a, b, tol):
    return abs(a - b) <= tol * max(1.0, abs(b))


def check_stats(arr, info, what):
    s = info["sample"]
    x = arr.astype(np.float64)
    assert x.size == info["numel"], what
    assert close(x.mean(), s["mean"], 1e-9), (what, x.mean(), s["mean"])
    assert close(x.std(), s["std"], 1e-9), (what, x.std(), s["std"])
    assert x.min() == s["min"] and x.max() == s["max"], what


def main():
    failures = 0
    cases = [
        ("kaiming_normal", "256x512", "f32"),
        ("xavier_uniform", "64x3x7x7", "f64"),
        ("trunc_normal(std=0.02)", "1000x17", "f16"),
        ("orthogonal", "32x48", "f32"),
        ("ones", "[]", "f32"),
        ("sparse(0.25)", "40x9", "f64"),
    ]
    with tempfile.TemporaryDirectory() as d:
        for scheme, shape, dtype in cases:
            npy = os.path.join(d, "t.npy")
            info = varinit("sample", scheme, "--shape", shape, "--dtype", dtype, "--seed", "3", "--out", npy, "--json")
            arr = np.load(npy)
            want_dtype = {"f32": np.float32, "f64": np.float64, "f16": np.float16}[dtype]
            assert arr.dtype == want_dtype, (scheme, arr.dtype)
            assert list(arr.shape) == info["shape"], (scheme, arr.shape, info["shape"])
            check_stats(arr, info, f"npy {scheme} {shape} {dtype}")

            st = os.path.join(d, "t.safetensors")
            info2 = varinit("sample", scheme, "--shape", shape, "--dtype", dtype, "--seed", "3", "--out", st, "--json")
            tensors = load_file(st)
            assert np.array_equal(tensors["weight"], arr), scheme
            with safe_open(st, framework="numpy") as f:
                meta = f.metadata()
            assert meta["format"] == "pt", meta
            assert meta["varinit.scheme.weight"] == info2["scheme"], meta
            print(f"ok  {scheme:28s} {shape:10s} {dtype}: npy and safetensors")

        # bf16: numpy has no bfloat16; read the raw bytes and widen to f32
        st = os.path.join(d, "b.safetensors")
        info = varinit("sample", "xavier_normal", "--shape", "128x96", "--dtype", "bf16", "--out", st, "--json")
        with open(st, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
            data = f.read()
        entry = header["weight"]
        assert entry["dtype"] == "BF16" and entry["shape"] == [128, 96], entry
        raw = np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16
        check_stats(raw.view(np.float32), info, "bf16 safetensors")
        with safe_open(st, framework="numpy") as f:
            assert list(f.keys()) == ["weight"]
        print("ok  xavier_normal bf16 safetensors (raw bytes)")

        # bf16 to .npy is refused with exit status 2 and no file
        bad = os.path.join(d, "bad.npy")
        r = subprocess.run(["varinit", "sample", "normal", "--shape", "4x4", "--dtype", "bf16", "--out", bad],
                           capture_output=True, text=True)
        assert r.returncode == 2 and "bfloat16" in r.stderr and not os.path.exists(bad), r
        assert os.listdir(d) == [x for x in os.listdir(d) if not x.startswith(".")], os.listdir(d)
        print("ok  bf16 .npy refused, no partial files")
    return failures


if __name__ == "__main__":
    sys.exit(main())
