"""varinit.torch: torch.nn.init's functions, in place, with torch's parameters and errors."""

import math

import numpy as np
import pytest
from conftest import as_bytes

torch = pytest.importorskip("torch")
import torch.nn.init as I  # noqa: E402

import varinit  # noqa: E402
import varinit.torch as vi  # noqa: E402

TORCH_DTYPES = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16"}

# (function name, args, kwargs, shape, the equivalent varinit scheme)
CALLS = [
    ("uniform_", (-0.5, 1.5), {}, (33, 17), "uniform(-0.5, 1.5)"),
    ("normal_", (), {"mean": 0.25, "std": 0.02}, (33, 17), "normal(0.25, 0.02)"),
    ("trunc_normal_", (0.0, 0.02, -0.04, 0.04), {}, (33, 17), "trunc_normal(0, 0.02, -0.04, 0.04)"),
    ("trunc_normal_", (), {}, (1001, 37), "trunc_normal"),
    ("constant_", (0.3,), {}, (4, 5), "constant(0.3)"),
    ("zeros_", (), {}, (4, 5), "zeros"),
    ("ones_", (), {}, (4, 5), "ones"),
    ("eye_", (), {}, (4, 6), "eye"),
    ("dirac_", (2,), {}, (8, 4, 3, 3), "dirac(groups=2)"),
    ("xavier_uniform_", (), {"gain": 2.0}, (64, 32, 3, 3), "xavier_uniform(gain=2)"),
    ("xavier_normal_", (0.5,), {}, (64, 32), "xavier_normal(gain=0.5)"),
    ("kaiming_uniform_", (), {"a": math.sqrt(5)}, (64, 32, 3), "torch_default"),
    ("kaiming_uniform_", (), {"mode": "fan_out", "nonlinearity": "relu"}, (64, 32), "kaiming_uniform(mode=fan_out, nonlinearity=relu)"),
    ("kaiming_normal_", (), {"mode": "fan_out", "nonlinearity": "relu"}, (64, 3, 7, 7), "kaiming_normal(mode=fan_out, nonlinearity=relu)"),
    ("kaiming_normal_", (0.2, "fan_in", "leaky_relu"), {}, (10, 20), "kaiming_normal(a=0.2)"),
    ("orthogonal_", (), {"gain": 2}, (30, 50), "orthogonal(gain=2)"),
    ("sparse_", (0.3,), {"std": 0.05}, (40, 9), "sparse(0.3, std=0.05)"),
]


def _record_torch_params(fn, args, kwargs, shape):
    """What torch.nn.init passes to its sampler: ('uniform', a, b) / ('normal', mean, std) / ('trunc', ...)."""
    seen = []
    orig = (I._no_grad_uniform_, I._no_grad_normal_, I._no_grad_trunc_normal_)
    try:
        I._no_grad_uniform_ = lambda t, a, b, generator=None: seen.append(("uniform", a, b)) or t
        I._no_grad_normal_ = lambda t, m, s, generator=None: seen.append(("normal", m, s)) or t
        I._no_grad_trunc_normal_ = lambda t, m, s, a, b, generator=None: seen.append(("trunc", m, s, a, b)) or t
        getattr(I, fn)(torch.empty(shape), *args, **kwargs)
    finally:
        I._no_grad_uniform_, I._no_grad_normal_, I._no_grad_trunc_normal_ = orig
    return seen


@pytest.mark.parametrize("fn,args,kwargs,shape,scheme", CALLS)
def test_parameters_equal_torch(fn, args, kwargs, shape, scheme):
    seen = _record_torch_params(fn, args, kwargs, shape)
    d = varinit.describe(scheme, shape)
    if not seen:  # constants, eye, dirac, orthogonal, sparse: not through the samplers
        return
    kind, *p = seen[0]
    if kind == "uniform":
        assert d["kind"] == "uniform" and (d["low"], d["high"]) == (p[0], p[1])
    elif kind == "normal" and fn != "sparse_":
        assert d["kind"] == "normal" and (d["mean"], d["std"]) == (p[0], p[1])
    elif kind == "trunc":
        assert d["kind"] == "trunc_normal" and (d["mean"], d["std"], d["low"], d["high"]) == tuple(p)


@pytest.mark.parametrize("fn,args,kwargs,shape,scheme", CALLS)
@pytest.mark.parametrize("dtype", list(TORCH_DTYPES))
def test_bytes_equal_sample(fn, args, kwargs, shape, scheme, dtype):
    t = torch.empty(shape, dtype=dtype)
    out = getattr(vi, fn)(t, *args, **kwargs, seed=5, name="layer.weight")
    assert out is t
    want = varinit.sample(scheme, shape, seed=5, name="layer.weight", dtype=TORCH_DTYPES[dtype])
    assert as_bytes(t) == as_bytes(want)
    # the same values as torch's function for the non-random schemes
    if fn in ("constant_", "zeros_", "ones_", "eye_", "dirac_"):
        ref = getattr(I, fn)(torch.empty(shape, dtype=dtype), *args, **kwargs)
        assert torch.equal(ref, t)


def test_keras_families():
    for fn, scheme in [("lecun_normal_", "lecun_normal"), ("glorot_uniform_", "glorot_uniform"), ("he_normal_", "he_normal"),
                       ("lecun_uniform_", "lecun_uniform"), ("glorot_normal_", "glorot_normal"), ("he_uniform_", "he_uniform")]:
        t = getattr(vi, fn)(torch.empty(20, 30), seed=1, name="w")
        assert as_bytes(t) == as_bytes(varinit.sample(scheme, (20, 30), seed=1, name="w"))
    t = vi.variance_scaling_(torch.empty(20, 30), 2.0, "fan_avg", "uniform", seed=1, name="w")
    assert as_bytes(t) == as_bytes(varinit.sample("variance_scaling(2, fan_avg, uniform)", (20, 30), seed=1, name="w"))
    t = vi.delta_orthogonal_(torch.empty(8, 4, 3, 3), seed=1, name="w")
    assert as_bytes(t) == as_bytes(varinit.sample("delta_orthogonal", (8, 4, 3, 3), seed=1, name="w"))
    t = vi.init_(torch.empty(7, 9), "trunc_normal(std=0.02)", seed=1, name="w")
    assert as_bytes(t) == as_bytes(varinit.sample("trunc_normal(std=0.02)", (7, 9), seed=1, name="w"))


def test_non_contiguous_and_parameters():
    want = varinit.sample("normal", (40, 30), seed=2, name="w")
    base = torch.zeros(30, 40)
    vi.normal_(base.t(), seed=2, name="w")
    assert as_bytes(base.t()) == as_bytes(want)
    big = torch.full((50, 70), float("nan"))
    view = big[5:45, 10:70:2]
    vi.normal_(view, seed=2, name="w")
    assert as_bytes(view) == as_bytes(want)
    assert torch.isnan(big[:5]).all() and torch.isnan(big[:, 11::2]).all()
    p = torch.nn.Parameter(torch.empty(40, 30))
    v0 = p._version
    vi.normal_(p, seed=2, name="w")
    assert p.requires_grad and as_bytes(p) == as_bytes(want)
    assert p._version > v0  # autograd sees the in-place change
    (p * 2).sum().backward()
    assert p.grad is not None
    # zero-size and meta tensors are left alone
    assert vi.normal_(torch.empty(0, 5)).shape == (0, 5)
    m = torch.empty(4, 4, device="meta")
    assert vi.kaiming_normal_(m) is m
    with pytest.raises(ValueError):
        vi.kaiming_normal_(torch.empty(4, device="meta"))


def test_chunked_device_path_on_cpu():
    # the path used for CUDA tensors, forced on CPU with tiny chunks
    for shape, scheme in [((37, 11), "normal"), ((5, 4, 3), "orthogonal"), ((), "uniform"), ((9,), "uniform")]:
        for dtype in TORCH_DTYPES:
            t = torch.empty(shape, dtype=dtype)
            p = varinit.plan(scheme, shape, seed=4, name="c")
            code = {"float32": "f32", "float64": "f64", "float16": "f16", "bfloat16": "bf16"}[TORCH_DTYPES[dtype]]
            vi._fill_chunked(p, t, [0] * len(shape), list(shape), code, chunk_bytes=7)
            assert as_bytes(t) == as_bytes(varinit.sample(scheme, shape, seed=4, name="c", dtype=TORCH_DTYPES[dtype]))


def test_automatic_names():
    vi.manual_seed(3)
    a = vi.normal_(torch.empty(10))
    b = vi.normal_(torch.empty(10))
    vi.manual_seed(3)
    a2 = vi.normal_(torch.empty(10))
    assert not torch.equal(a, b) and torch.equal(a, a2)
    assert as_bytes(a) == as_bytes(varinit.sample("normal", (10,), seed=3, name="#0"))
    vi.manual_seed(0)


def _exc(f):
    try:
        f()
    except Exception as e:  # noqa: BLE001
        return type(e)
    return None


BAD = [
    ("uniform_", lambda: torch.empty(3, 4), (1.0, 0.0), {}),
    ("normal_", lambda: torch.empty(3, 4), (0.0, -1.0), {}),
    ("uniform_", lambda: torch.empty(3, 4), (-1e300, 1e300), {}),
    ("uniform_", lambda: torch.empty(3, 4, dtype=torch.float16), (-1e6, 1e6), {}),
    ("kaiming_normal_", lambda: torch.empty(3, 4), (), {"mode": "bad"}),
    ("kaiming_normal_", lambda: torch.empty(3, 4), (), {"nonlinearity": "bad"}),
    ("kaiming_normal_", lambda: torch.empty(3), (), {}),
    ("xavier_normal_", lambda: torch.empty(3), (), {}),
    ("eye_", lambda: torch.empty(3, 3, 3), (), {}),
    ("dirac_", lambda: torch.empty(3, 3), (), {}),
    ("dirac_", lambda: torch.empty(4, 3, 3), (3,), {}),
    ("orthogonal_", lambda: torch.empty(3), (), {}),
    ("sparse_", lambda: torch.empty(3, 3, 3), (0.1,), {}),
    ("normal_", lambda: torch.empty(3, dtype=torch.long), (), {}),
    ("uniform_", lambda: torch.empty(3, dtype=torch.long), (), {}),
    ("kaiming_uniform_", lambda: torch.empty(3, 3, dtype=torch.long), (), {}),
    ("orthogonal_", lambda: torch.empty(3, 3, dtype=torch.int32), (), {}),
    ("normal_", lambda: torch.empty(3, dtype=torch.float8_e4m3fn), (), {}),
    ("normal_", lambda: torch.empty(3).expand(2, 3), (), {}),
    ("calculate_gain", lambda: "leaky_relu", (True,), {}),
    ("calculate_gain", lambda: "foo", (), {}),
]


@pytest.mark.parametrize("fn,make,args,kwargs", BAD)
def test_errors_are_torchs_types(fn, make, args, kwargs):
    theirs = _exc(lambda: getattr(I, fn)(make(), *args, **kwargs))
    ours = _exc(lambda: getattr(vi, fn)(make(), *args, **kwargs, **({} if fn == "calculate_gain" else {"seed": 0, "name": "x"})))
    assert theirs is not None
    assert ours is theirs, f"{fn}{args}: torch raises {theirs.__name__}, varinit {ours}"


def test_other_bad_input_never_crashes():
    with torch.inference_mode():
        x = torch.empty(3)
    with pytest.raises(RuntimeError, match="inference"):
        vi.normal_(x)
    with pytest.raises(TypeError):
        vi.normal_([1.0, 2.0])
    with pytest.raises(TypeError):
        vi.normal_(torch.empty(3), seed="x")
    with pytest.raises(ValueError):
        vi.normal_(torch.empty(3), seed=-1)
    with pytest.raises(ValueError, match="generator"):
        vi.normal_(torch.empty(3), 0.0, 1.0, torch.Generator())
    with pytest.raises(ValueError):
        vi.init_(torch.empty(3), "no_such_scheme")
    with pytest.raises(ValueError):
        vi.normal_(torch.empty(3), float("nan"))
    # integer tensors with non-random schemes behave as torch.nn.init
    z = vi.zeros_(torch.ones(3, 3, dtype=torch.long))
    assert torch.equal(z, torch.zeros(3, 3, dtype=torch.long))
    assert torch.equal(vi.eye_(torch.zeros(3, 3, dtype=torch.int32)), torch.eye(3, dtype=torch.int32))


def test_fans_and_gain():
    for shape in [(3, 4), (64, 3, 7, 7)]:
        assert vi.fans(torch.empty(shape)) == I._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert vi.calculate_gain("leaky_relu", 0.2) == I.calculate_gain("leaky_relu", 0.2)
