"""The numpy API: sample, sample_region, fill_, describe, fans, calculate_gain."""

import subprocess
import sys

import numpy as np
import pytest
from conftest import as_bytes
from scipy import stats

import varinit

SCHEMES = [
    ("uniform(-1, 2)", (1001, 37)),
    ("normal(0.1, 3)", (1001, 37)),
    ("trunc_normal(std=0.02)", (64, 65)),
    ("kaiming_normal(mode=fan_out, nonlinearity=relu)", (16, 8, 3, 3)),
    ("xavier_uniform", (130, 7)),
    ("constant(0.5)", (5, 7)),
    ("eye", (17, 30)),
    ("dirac(groups=2)", (8, 4, 3, 3)),
    ("orthogonal(gain=2)", (48, 40)),
    ("sparse(0.3)", (60, 20)),
    ("lecun_normal", (33, 9)),
]
DTYPES = ["float32", "float64", "float16", "bfloat16"]


def test_sample_is_deterministic_and_typed():
    a = varinit.sample("normal", (100, 7), seed=3, name="w")
    b = varinit.sample("normal", [100, 7], seed=3, name="w")
    assert a.dtype == np.float32 and a.shape == (100, 7)
    assert a.tobytes() == b.tobytes()
    assert varinit.sample("normal", (100, 7), seed=4, name="w").tobytes() != a.tobytes()
    assert varinit.sample("normal", (100, 7), seed=3, name="v").tobytes() != a.tobytes()
    for dt, np_name in [("float64", "float64"), ("float16", "float16"), ("bfloat16", "bfloat16")]:
        x = varinit.sample("normal", (4,), dtype=dt)
        assert x.dtype.name == np_name
    # bf16 is the rounding of the f32 stream
    f32 = varinit.sample("normal", (1000,), seed=1, name="x")
    bf = varinit.sample("normal", (1000,), seed=1, name="x", dtype="bfloat16")
    import ml_dtypes

    assert f32.astype(ml_dtypes.bfloat16).tobytes() == bf.tobytes()
    assert varinit.sample("normal", ()).shape == ()
    assert varinit.sample("normal", (0, 5)).shape == (0, 5)


@pytest.mark.parametrize("scheme,shape", SCHEMES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_regions_equal_slices(scheme, shape, dtype):
    full = varinit.sample(scheme, shape, seed=9, name="t", dtype=dtype)
    rng = np.random.default_rng(0)
    for _ in range(6):
        lo = [int(rng.integers(0, d + 1)) for d in shape]
        hi = [int(rng.integers(a, d + 1)) for a, d in zip(lo, shape)]
        local = [b - a for a, b in zip(lo, hi)]
        part = varinit.sample_region(scheme, shape, lo, local, seed=9, name="t", dtype=dtype)
        want = full[tuple(slice(a, b) for a, b in zip(lo, hi))]
        assert part.shape == want.shape
        assert as_bytes(part) == as_bytes(want), (scheme, lo, local)


def test_fill_views_by_logical_index():
    want = varinit.sample("normal", (40, 30), seed=1, name="w")
    base = np.zeros((30, 40), dtype=np.float32)
    varinit.fill_(base.T, "normal", seed=1, name="w")  # Fortran-order view
    assert as_bytes(base.T) == as_bytes(want)
    big = np.full((50, 70), np.nan, dtype=np.float32)
    view = big[5:45, 10:70:2]  # strided slice
    varinit.fill_(view, "normal", seed=1, name="w")
    assert as_bytes(view) == as_bytes(want)
    assert np.isnan(big[:5]).all() and np.isnan(big[:, 11::2]).all()  # nothing outside the view
    rev = np.zeros((40, 30), dtype=np.float32)[::-1, ::-1]  # negative strides
    varinit.fill_(rev, "normal", seed=1, name="w")
    assert as_bytes(rev) == as_bytes(want)
    # a region of a larger tensor
    part = np.zeros((10, 30), dtype=np.float64)
    varinit.fill_(part, "normal", seed=1, name="w", shape=(40, 30), offsets=(20, 0))
    assert as_bytes(part) == as_bytes(varinit.sample("normal", (40, 30), seed=1, name="w", dtype="float64")[20:30])


def test_fill_refuses_bad_arrays():
    ro = np.zeros((3, 3), dtype=np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        varinit.fill_(ro, "normal")
    with pytest.raises(TypeError, match="float32"):
        varinit.fill_(np.zeros(3, dtype=np.int64), "normal")
    with pytest.raises(TypeError):
        varinit.fill_([1.0, 2.0], "normal")
    overlapping = np.lib.stride_tricks.as_strided(np.zeros(4, dtype=np.float32), shape=(3, 3), strides=(4, 4))
    with pytest.raises(ValueError, match="share"):
        varinit.fill_(overlapping, "normal")
    with pytest.raises(ValueError, match="kaiming_normal"):
        varinit.sample("kaiming_nromal", (3, 3))
    with pytest.raises(ValueError):
        varinit.sample("kaiming_normal", (3,))  # fans of a vector
    with pytest.raises(ValueError):
        varinit.sample("normal", (-1, 3))
    with pytest.raises(ValueError, match="region"):
        varinit.sample_region("normal", (10, 10), (5, 5), (6, 5))
    with pytest.raises(varinit.DistributionError):
        varinit.sample("uniform(1, 0)", (3,))
    with pytest.raises(varinit.DistributionError):
        varinit.sample("uniform(-1e300, 1e300)", (3,))
    with pytest.raises(TypeError):
        varinit.sample("normal", (3,), dtype="int32")
    with pytest.raises(ValueError):
        varinit.sample("normal", (3,), seed=-1)


def test_bf16_needs_ml_dtypes(monkeypatch):
    monkeypatch.setitem(sys.modules, "ml_dtypes", None)
    with pytest.raises(ImportError, match="ml_dtypes"):
        varinit.sample("normal", (3,), dtype="bfloat16")


def test_describe():
    d = varinit.describe("kaiming_normal(nonlinearity=relu)", (256, 512))
    assert str(d) == "N(0, 0.0625^2)"
    assert d["kind"] == "normal" and d["std"] == 0.0625 and d["mean"] == 0
    assert (d["fan_in"], d["fan_out"]) == (512, 256)
    k = varinit.describe("glorot_uniform", (3, 3, 16, 32), layout="keras")
    assert k["kind"] == "uniform" and (k["fan_in"], k["fan_out"]) == (144, 288)
    assert varinit.describe("orthogonal", (4, 6))["elementwise"] is False


def test_fans_and_gains_equal_torch():
    torch = pytest.importorskip("torch")
    import torch.nn.init as I

    for shape in [(3, 4), (64, 3, 7, 7), (5, 2, 3), (1, 1), (2, 3, 4, 5, 6), (0, 5)]:
        assert varinit.fans(shape) == I._calculate_fan_in_and_fan_out(torch.empty(shape))
    for shape in [(), (5,)]:
        with pytest.raises(ValueError) as ours:
            varinit.fans(shape)
        with pytest.raises(ValueError) as theirs:
            I._calculate_fan_in_and_fan_out(torch.empty(shape))
        assert str(theirs.value) in str(ours.value)
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
               "sigmoid", "tanh", "relu", "selu"]:
        assert varinit.calculate_gain(nl) == I.calculate_gain(nl)
    for p in [None, 0, 0.2, 1, 3, -0.5]:
        assert varinit.calculate_gain("leaky_relu", p) == I.calculate_gain("leaky_relu", p)
    for bad in [("foo", None), ("leaky_relu", True), ("leaky_relu", "x"), ("gelu", None)]:
        with pytest.raises(ValueError) as ours:
            varinit.calculate_gain(*bad)
        with pytest.raises(ValueError) as theirs:
            I.calculate_gain(*bad)
        assert str(ours.value).startswith(str(theirs.value))


# KS tests against the exact distributions (fixed seeds: deterministic)
KS = [
    ("uniform(-1, 2)", stats.uniform(-1, 3)),
    ("normal(0.5, 2)", stats.norm(0.5, 2)),
    ("trunc_normal(mean=0.1, std=1, a=-0.5, b=2)", stats.truncnorm(-0.6, 1.9, loc=0.1, scale=1)),
    ("kaiming_normal(nonlinearity=relu)", stats.norm(0, (2 / 512) ** 0.5)),
    ("xavier_uniform", stats.uniform(-(6 / 768) ** 0.5, 2 * (6 / 768) ** 0.5)),
    ("lecun_normal", stats.truncnorm(-2, 2, scale=(1 / 512) ** 0.5 / 0.87962566103423978)),
]


@pytest.mark.parametrize("scheme,dist", KS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_ks(scheme, dist, dtype):
    x = varinit.sample(scheme, (256, 512), seed=2024, name="ks", dtype=dtype).ravel().astype(np.float64)
    assert stats.kstest(x, dist.cdf).pvalue > 1e-4
    # the test can fail: the same values with a 10% wrong scale are rejected
    m = dist.mean()
    assert stats.kstest(m + (x - m) * 1.1, dist.cdf).pvalue < 1e-6


def test_cli_bytes_equal(varinit_bin, tmp_path):
    cases = [
        ("kaiming_normal(nonlinearity=relu)", "64x3x7x7", "f32", "float32", "torch"),
        ("trunc_normal(std=0.02)", "1001x37", "f64", "float64", "torch"),
        ("glorot_uniform", "3x3x16x32", "f16", "float16", "keras"),
        ("orthogonal", "40x30", "f32", "float32", "torch"),
    ]
    for scheme, shape, cli_dt, dt, layout in cases:
        out = tmp_path / "x.npy"
        subprocess.run(
            [varinit_bin, "sample", scheme, "--shape", shape, "--seed", "7", "--name", "layers.0.w",
             "--dtype", cli_dt, "--layout", layout, "-o", str(out), "--json"],
            check=True, capture_output=True,
        )
        dims = tuple(int(d) for d in shape.split("x"))
        ours = varinit.sample(scheme, dims, seed=7, name="layers.0.w", dtype=dt, layout=layout)
        theirs = np.load(out)
        assert theirs.shape == dims and as_bytes(theirs) == as_bytes(ours), scheme
    # bf16 through safetensors (npy has no bfloat16)
    from safetensors.numpy import load_file

    out = tmp_path / "x.safetensors"
    subprocess.run([varinit_bin, "sample", "normal(std=0.02)", "--shape", "33x65", "--seed", "1", "--name", "emb",
                    "--dtype", "bf16", "-o", str(out), "--json"], check=True, capture_output=True)
    import ml_dtypes  # noqa: F401

    ours = varinit.sample("normal(std=0.02)", (33, 65), seed=1, name="emb", dtype="bfloat16")
    # safetensors.numpy cannot read bf16; compare the raw payload after the header
    raw = out.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    assert raw[8 + n:] == ours.tobytes()
    del load_file


def test_docstring_examples():
    import doctest

    assert doctest.testmod(varinit).failed == 0
