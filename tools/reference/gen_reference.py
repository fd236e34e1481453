#!/usr/bin/env python3
"""Record what PyTorch, Keras 3 and JAX ACTUALLY compute for fans, gains and
initializer distribution parameters, as golden values for
crates/varinit/tests/reference.rs.

Nothing here re-derives a formula.  Every number is captured from the
libraries' own code paths:

* PyTorch: fans from torch.nn.init._calculate_fan_in_and_fan_out, gains from
  torch.nn.init.calculate_gain; the parameters of xavier_*/kaiming_*/
  trunc_normal_ and of nn.Linear/nn.ConvNd/nn.ConvTranspose2d
  reset_parameters() are the arguments the library passes to
  Tensor.uniform_ / Tensor.normal_ (monkeypatched on torch.Tensor; the
  __torch_function__ subclass recorder below cross-checks it wherever
  PyTorch does not re-dispatch), and the arguments of
  torch.nn.init._no_grad_trunc_normal_.  Tensors live on the meta device, so
  even 128256x4096 costs nothing; a few cases are re-run on real CPU tensors
  to prove the meta device takes the same path.
* Keras 3 (KERAS_BACKEND=jax): `random` as seen from
  keras.src.initializers.random_initializers is replaced by a proxy recording
  normal/uniform/truncated_normal arguments; the proxy then calls the real
  backend function (on a 2-element shape) with jax.random.truncated_normal
  spied on, to capture the truncation bounds Keras really uses.
* JAX: `random` as seen from jax._src.nn.initializers is replaced by a proxy
  returning probes that record the lower/upper/minval/maxval arguments and
  the factor the initializer multiplies the standard sample by (JAX scales
  after sampling).  JAX computes that factor in the weight dtype, so every
  JAX case is recorded for float64 (jax_enable_x64) and for float32.

Every float is written as its Python repr() inside a JSON *string*: repr is
the shortest string that round-trips, and the Rust test parses it with
str::parse::<f64> (correctly rounded), not with serde_json's float parser,
which without its float_roundtrip feature may be off by one ulp.

Run (from the repository root):
    KERAS_BACKEND=jax /tmp/peers/bin/python tools/reference/gen_reference.py
"""

import contextlib
import json
import math
import os
import platform
import sys
import warnings

if os.environ.get("PYTHONHASHSEED") != "0":
    # Keras formats Python sets in its error messages: fix the string hash seed so the output is reproducible
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)
os.environ.setdefault("KERAS_BACKEND", "jax")
if os.environ["KERAS_BACKEND"] != "jax":
    sys.exit("run with KERAS_BACKEND=jax (tensorflow is not needed)")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 JAX cases; float32 is passed explicitly

import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.init as tinit  # noqa: E402
import jax._src.nn.initializers as jinit  # noqa: E402
import keras.src.backend.jax.random as keras_jax_random  # noqa: E402
from keras.src.initializers import random_initializers as kri  # noqa: E402

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "varinit", "tests", "data", "reference.json"
)


def f(x):
    """A float as the repr string of the double (full precision)."""
    return repr(float(x))


def num(x):
    """A Python number argument as written (int stays int)."""
    if isinstance(x, bool):
        raise TypeError("bool is not a number here")
    return repr(x) if isinstance(x, int) else repr(float(x))


CASES = []
IDS = set()


def add(case):
    if case["id"] in IDS:
        raise RuntimeError("duplicate case id " + case["id"])
    IDS.add(case["id"])
    CASES.append(case)


def shape_id(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def error_of(e):
    return {"error_type": type(e).__name__, "error": str(e)}


# ---------------------------------------------------------------------------
# PyTorch recording

TORCH_LOG = []  # (method, args...) captured from Tensor.uniform_ / normal_ / trunc path
_orig_uniform = torch.Tensor.uniform_
_orig_normal = torch.Tensor.normal_
_orig_trunc = tinit._no_grad_trunc_normal_


def _rec_uniform(self, *args, **kwargs):
    a = args[0] if len(args) > 0 else kwargs.get("from", 0.0)
    b = args[1] if len(args) > 1 else kwargs.get("to", 1.0)
    TORCH_LOG.append(("uniform_", tuple(self.shape), a, b))
    return _orig_uniform(self, *args, **kwargs)


def _rec_normal(self, *args, **kwargs):
    mean = args[0] if len(args) > 0 else kwargs.get("mean", 0.0)
    std = args[1] if len(args) > 1 else kwargs.get("std", 1.0)
    TORCH_LOG.append(("normal_", tuple(self.shape), mean, std))
    return _orig_normal(self, *args, **kwargs)


def _rec_trunc(tensor, mean, std, a, b, generator=None):
    TORCH_LOG.append(("trunc_normal", tuple(tensor.shape), mean, std, a, b))
    return _orig_trunc(tensor, mean, std, a, b, generator=generator)


@contextlib.contextmanager
def torch_recording():
    TORCH_LOG.clear()
    torch.Tensor.uniform_ = _rec_uniform
    torch.Tensor.normal_ = _rec_normal
    tinit._no_grad_trunc_normal_ = _rec_trunc
    try:
        yield TORCH_LOG
    finally:
        torch.Tensor.uniform_ = _orig_uniform
        torch.Tensor.normal_ = _orig_normal
        tinit._no_grad_trunc_normal_ = _orig_trunc


class RecordingTensor(torch.Tensor):
    """__torch_function__ recorder. It sees Tensor.uniform_/normal_ only where
    the nn.init function does not re-dispatch itself through
    handle_torch_function (xavier_*, kaiming_normal_); used to cross-check the
    monkeypatch on those."""

    log = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is torch.Tensor.uniform_:
            cls.log.append(("uniform_", tuple(args[0].shape), args[1], args[2]))
        elif func is torch.Tensor.normal_:
            cls.log.append(("normal_", tuple(args[0].shape), args[1], args[2]))
        return super().__torch_function__(func, types, args, kwargs)


def torch_draws(fn, shape, device="meta", **kwargs):
    """Run fn(tensor, **kwargs) and return the draw calls it made (or the error)."""
    t = torch.empty(shape, device=device)
    with torch_recording() as log, warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn(t, **kwargs)
        except Exception as e:  # noqa: BLE001 - we record whatever PyTorch raises
            return None, error_of(e), [str(x.message) for x in w]
        return list(log), None, [str(x.message) for x in w]


def draw_to_expect(draw):
    kind = draw[0]
    if kind == "uniform_":
        return {"dist": "uniform", "low": f(draw[2]), "high": f(draw[3])}
    if kind == "normal_":
        return {"dist": "normal", "mean": f(draw[2]), "std": f(draw[3])}
    if kind == "trunc_normal":
        return {"dist": "trunc_normal", "mean": f(draw[2]), "std": f(draw[3]), "low": f(draw[4]), "high": f(draw[5])}
    raise ValueError(kind)


TORCH_SHAPES = [
    # Linear (out, in)
    (1, 1), (1, 7), (7, 1), (3, 5), (5, 3), (10, 100), (100, 10), (256, 512), (512, 256), (768, 768),
    (3072, 768), (768, 3072), (1000, 2048), (1, 4096), (4096, 1), (50257, 768), (32000, 2048), (2048, 32000),
    (128256, 4096), (4096, 14336),
    # Conv1d (out, in, k)
    (1, 1, 1), (64, 32, 3), (16, 8, 5), (512, 512, 1), (256, 80, 3),
    # Conv2d (out, in, kh, kw)
    (1, 1, 1, 1), (64, 3, 7, 7), (64, 64, 3, 3), (128, 64, 1, 1), (256, 128, 3, 3), (4, 1, 3, 3),
    (32, 3, 3, 3), (2048, 512, 1, 1), (16, 32, 3, 3), (96, 3, 11, 11), (3, 64, 7, 7), (1, 512, 3, 3),
    (7, 5, 2, 3),
    # Conv3d (out, in, kd, kh, kw)
    (1, 1, 1, 1, 1), (32, 16, 3, 3, 3), (64, 3, 7, 7, 7), (8, 4, 2, 3, 5), (16, 1, 1, 1, 1),
    # rank 6: PyTorch multiplies every trailing dimension into the receptive field
    (2, 3, 2, 2, 2, 2),
]
TORCH_GRID_SHAPES = [(1, 1), (1, 7), (7, 1), (256, 512), (32000, 2048), (64, 3, 7, 7), (4, 1, 3, 3), (16, 32, 3, 3),
                     (32, 16, 3, 3, 3), (2, 3, 2, 2, 2, 2)]
TORCH_BAD_RANK = [(), (5,), (1,), (4096,)]
TORCH_ZERO = [(0, 5), (5, 0), (0, 0), (0,), (0, 3, 3, 3), (4, 0, 3, 3)]

GAIN_NAMES = [
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
    "sigmoid", "tanh", "relu", "leaky_relu", "selu",
]
SLOPES = [0, 0.0, 0.01, 0.2, 1, 1.0, -0.5, 0.1, 0.3, 0.25, 1e-3, 5.5, 3, -1, 2, 10, math.sqrt(5), 0.7, 1e-8, 100.0]


def gen_torch():
    # --- fans
    for shape in TORCH_SHAPES + TORCH_BAD_RANK + TORCH_ZERO:
        case = {"id": f"torch/fans/{shape_id(shape)}", "framework": "torch", "kind": "fans", "shape": list(shape),
                "call": f"torch.nn.init._calculate_fan_in_and_fan_out(torch.empty{shape})"}
        try:
            fi, fo = tinit._calculate_fan_in_and_fan_out(torch.empty(shape, device="meta"))
            case["expect"] = {"fan_in": fi, "fan_out": fo}
        except Exception as e:  # noqa: BLE001
            case["expect"] = error_of(e)
        add(case)

    # --- calculate_gain
    params = [None] + SLOPES + [True, False, [0.1], "x", float("inf"), float("-inf"), float("nan")]
    for name in GAIN_NAMES + ["gelu", "silu", "Relu", "LEAKY_RELU", "rleu", "identity", "elu"]:
        for p in params if name == "leaky_relu" else [None, 0.2, 3, True]:
            ptype = "none" if p is None else type(p).__name__
            pid = "none" if p is None else f"{ptype}:{p!r}"
            case = {"id": f"torch/calculate_gain/{name}/{pid}", "framework": "torch", "kind": "gain",
                    "nonlinearity": name, "param_type": ptype, "param": None if p is None else str(p),
                    "call": f"torch.nn.init.calculate_gain({name!r}, {p!r})"}
            try:
                case["expect"] = {"gain": f(tinit.calculate_gain(name, p))}
            except Exception as e:  # noqa: BLE001
                case["expect"] = error_of(e)
            add(case)

    # --- xavier_uniform_ / xavier_normal_
    gains = [(None, None), (1, None), (0.5, None), (2, None), (math.sqrt(2), None), (1e-3, None)]
    gains += [(tinit.calculate_gain(n), n) for n in ["relu", "tanh", "selu", "sigmoid"]]
    gains += [(tinit.calculate_gain("leaky_relu", 0.2), "leaky_relu(0.2)")]
    for fn_name in ["xavier_uniform_", "xavier_normal_"]:
        fn = getattr(tinit, fn_name)
        for shape in TORCH_SHAPES + TORCH_BAD_RANK + TORCH_ZERO:
            for g, gname in gains:
                if shape in TORCH_BAD_RANK + TORCH_ZERO and g is not None:
                    continue
                if shape not in TORCH_GRID_SHAPES and g is not None and gname != "relu" and g != 0.5:
                    continue
                kwargs = {} if g is None else {"gain": g}
                args = {} if g is None else {"gain": num(g)}
                if gname is not None:
                    args["gain_name"] = gname
                gid = "" if g is None else (f"gain={gname}" if gname else f"gain={num(g)}")
                draws, err, warns = torch_draws(fn, shape, **kwargs)
                call = f"torch.nn.init.{fn_name}(torch.empty{shape}{''.join(f', {k}={v!r}' for k, v in kwargs.items())})"
                if gname:
                    call += f"  # gain = calculate_gain of {gname}"
                add(torch_init_case(fn_name, gid, args, shape, draws, err, warns, call))

    # --- kaiming_uniform_ / kaiming_normal_
    # a smaller set of combinations on every shape, the full grid on TORCH_GRID_SHAPES
    combos = [{}, {"a": math.sqrt(5)}, {"a": 0.2, "mode": "fan_out"}, {"a": -0.5}, {"a": 3}, {"a": 1e-3},
              {"nonlinearity": "relu"}, {"mode": "fan_out", "nonlinearity": "relu"}, {"nonlinearity": "tanh"},
              {"mode": "fan_out", "nonlinearity": "selu"}, {"nonlinearity": "sigmoid"}, {"nonlinearity": "linear"},
              {"mode": "fan_out", "nonlinearity": "conv2d"}, {"nonlinearity": "conv_transpose2d"}]
    grid = []
    for a in SLOPES:
        for mode in ["fan_in", "fan_out"]:
            grid.append({"a": a, "mode": mode, "nonlinearity": "leaky_relu"})
    for nl in ["relu", "tanh", "selu", "sigmoid", "linear", "conv2d", "conv_transpose2d", "conv1d"]:
        for mode in ["fan_in", "fan_out"]:
            grid.append({"mode": mode, "nonlinearity": nl})
    grid.append({"a": 0.2, "nonlinearity": "relu"})  # a is ignored unless leaky_relu
    grid.append({"mode": "FAN_OUT", "nonlinearity": "relu"})  # mode is lower-cased
    grid.append({"mode": "Fan_In"})
    error_combos = [
        {"mode": "fan_avg"}, {"mode": "FAN_AVG"}, {"mode": "fanin"}, {"nonlinearity": "gelu"},
        {"nonlinearity": "Relu"}, {"nonlinearity": "leaky_relu", "a": True}, {"nonlinearity": "leaky_relu", "a": "0.2"},
    ]
    for fn_name in ["kaiming_uniform_", "kaiming_normal_"]:
        fn = getattr(tinit, fn_name)
        for shape in TORCH_SHAPES:
            for kw in combos + [g for g in grid if g not in combos] if shape in TORCH_GRID_SHAPES else combos:
                add(torch_kaiming_case(fn_name, fn, shape, kw))
        for shape in [(64, 3, 7, 7), (10, 100)]:
            for kw in error_combos:
                add(torch_kaiming_case(fn_name, fn, shape, kw))
        for shape in TORCH_BAD_RANK + TORCH_ZERO:
            for kw in [{}, {"mode": "fan_avg"}, {"nonlinearity": "gelu"}]:
                add(torch_kaiming_case(fn_name, fn, shape, kw))

    # --- trunc_normal_ (a, b are absolute bounds)
    for kw in [{}, {"std": 0.02}, {"std": 0.02, "a": -0.04, "b": 0.04}, {"mean": 1.0, "std": 0.5, "a": 0.0, "b": 3.0},
               {"std": 0.02, "a": -2.0, "b": 2.0}, {"mean": -1.5, "std": 2.0, "a": -1.0, "b": 10.0},
               {"std": 1 / math.sqrt(768)}, {"mean": 0.0, "std": 1.0, "a": 0.5, "b": 3.0},
               {"mean": 0.0, "std": 1.0, "a": 2.0, "b": 3.0}]:  # mass < 0.3: PyTorch's uniform-proposal sampler
        shape = (768, 768)
        draws, err, warns = torch_draws(tinit.trunc_normal_, shape, **kw)
        args = {k: num(v) for k, v in kw.items()}
        gid = ",".join(f"{k}={v}" for k, v in args.items())
        add(torch_init_case("trunc_normal_", gid, args, shape, draws, err, warns,
                            f"torch.nn.init.trunc_normal_(torch.empty{shape}{''.join(f', {k}={v!r}' for k, v in kw.items())})"))

    # --- module defaults: reset_parameters()
    modules = [
        ("Linear", (1, 1), {}), ("Linear", (784, 128), {}), ("Linear", (128, 10), {}), ("Linear", (768, 3072), {}),
        ("Linear", (3072, 768), {}), ("Linear", (4096, 14336), {}), ("Linear", (2048, 32000), {}),
        ("Linear", (100, 10), {"bias": False}), ("Linear", (1, 4096), {}), ("Linear", (0, 5), {}),
        ("Linear", (5, 0), {}),
        ("Conv1d", (80, 256, 3), {}), ("Conv1d", (1, 1, 1), {}), ("Conv1d", (64, 64, 5), {"groups": 64}),
        ("Conv1d", (512, 512, 1), {}),
        ("Conv2d", (3, 64, 7), {}), ("Conv2d", (64, 64, 3), {}), ("Conv2d", (64, 128, 1), {}),
        ("Conv2d", (4, 4, 3), {"groups": 4}), ("Conv2d", (32, 64, 3), {"groups": 8}),
        ("Conv2d", (3, 96, 11), {"bias": False}), ("Conv2d", (5, 7, (2, 3)), {}), ("Conv2d", (512, 512, 3), {}),
        ("Conv3d", (3, 64, 7), {}), ("Conv3d", (16, 32, 3), {}), ("Conv3d", (4, 8, (2, 3, 5)), {}),
        ("ConvTranspose2d", (16, 32, 3), {}), ("ConvTranspose2d", (64, 3, 4), {}),
        ("ConvTranspose2d", (32, 16, 3), {"groups": 4}), ("ConvTranspose2d", (8, 8, 1), {"bias": False}),
    ]
    for mod_name, pos, kw in modules:
        cls = getattr(nn, mod_name)
        ctor = f"nn.{mod_name}({', '.join(repr(p) for p in pos)}{''.join(f', {k}={v!r}' for k, v in kw.items())})"
        with torch_recording() as log, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = cls(*pos, device="meta", **kw)
            calls = list(log)
        w_shape = tuple(m.weight.shape)
        b_shape = tuple(m.bias.shape) if m.bias is not None else None
        w_draws = [c for c in calls if c[1] == w_shape and len(c[1]) >= 2]
        b_draws = [c for c in calls if c[1] == b_shape and len(c[1]) == 1]
        if len(w_draws) > 1 or len(b_draws) > 1 or len(calls) != len(w_draws) + len(b_draws):
            raise RuntimeError(f"{ctor}: unexpected draw calls {calls}")
        fan_in = tinit._calculate_fan_in_and_fan_out(m.weight)[0]
        add({
            "id": f"torch/module/{ctor}", "framework": "torch", "kind": "module", "call": ctor,
            "weight_shape": list(w_shape), "weight_fan_in": fan_in,
            "weight": draw_to_expect(w_draws[0]) if w_draws else {"dist": "none"},
            "bias_shape": None if b_shape is None else list(b_shape),
            "bias": None if b_shape is None else (draw_to_expect(b_draws[0]) if b_draws else {"dist": "none"}),
        })

    # --- cross-checks: meta vs CPU tensors, monkeypatch vs __torch_function__ subclass
    for shape in [(64, 3, 7, 7), (256, 512), (7, 1)]:
        for fn_name, kw in [("xavier_uniform_", {}), ("xavier_normal_", {"gain": 5 / 3}), ("kaiming_uniform_", {"a": 0.2}),
                            ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "relu"})]:
            fn = getattr(tinit, fn_name)
            meta, _, _ = torch_draws(fn, shape, **kw)
            cpu, _, _ = torch_draws(fn, shape, device="cpu", **kw)
            assert meta == cpu, (fn_name, shape, meta, cpu)
            if fn_name != "kaiming_uniform_":  # kaiming_uniform_ re-dispatches as a whole via handle_torch_function
                RecordingTensor.log = []
                t = torch.empty(shape).as_subclass(RecordingTensor)
                fn(t, **kw)
                assert RecordingTensor.log == meta, (fn_name, shape, RecordingTensor.log, meta)
    with torch_recording() as log:
        nn.Linear(20, 30)
        cpu_calls = list(log)
    with torch_recording() as log:
        nn.Linear(20, 30, device="meta")
        assert list(log) == cpu_calls


def torch_init_case(fn_name, gid, args, shape, draws, err, warns, call):
    case = {"id": f"torch/{fn_name}/{gid}/{shape_id(shape)}", "framework": "torch", "kind": "init", "fn": fn_name,
            "args": args, "shape": list(shape), "call": call}
    if err is not None:
        case["expect"] = err
    elif not draws:
        case["expect"] = {"dist": "none", "warnings": warns}
    else:
        if len(draws) != 1 and fn_name != "trunc_normal_":
            raise RuntimeError(f"{call}: {draws}")
        case["expect"] = draw_to_expect(draws[0])
        if fn_name == "trunc_normal_":
            # which internal sampler PyTorch 2.15 used: normal_ rejection (mass > 0.3) or uniform_ proposals;
            # on the meta device the sampler returns before drawing, so rerun on CPU just for this
            t = torch.empty(shape)
            with torch_recording() as log:
                tinit.trunc_normal_(t, **{k: float(v) for k, v in args.items()})
                case["sampler"] = log[1][0] if len(log) > 1 else None
    return case


def torch_kaiming_case(fn_name, fn, shape, kw):
    args = {}
    for k, v in kw.items():
        args[k] = v if isinstance(v, str) else (repr(v) if isinstance(v, bool) else num(v))
    gid = ",".join(f"{k}={args[k]}" for k in kw) or "default"
    draws, err, warns = torch_draws(fn, shape, **kw)
    call = f"torch.nn.init.{fn_name}(torch.empty{shape}{''.join(f', {k}={v!r}' for k, v in kw.items())})"
    case = torch_init_case(fn_name, gid, args, shape, draws, err, warns, call)
    if any(isinstance(v, bool) or (k == "a" and isinstance(v, str)) for k, v in kw.items()):
        case["args_python_types"] = {k: type(v).__name__ for k, v in kw.items()}
    return case


# ---------------------------------------------------------------------------
# Keras recording

KERAS_LOG = []
TRUNC_SPY = []


class KerasRandomProxy:
    """Stands in for keras.src.backend.random inside random_initializers."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def _call_real(self, name, kwargs):
        # run the real backend function on a tiny shape, spying on jax.random.truncated_normal
        kw = dict(kwargs)
        kw["shape"] = (2,)
        TRUNC_SPY.clear()
        getattr(self._real, name)(**kw)
        return list(TRUNC_SPY)

    def normal(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        KERAS_LOG.append(("normal", {"mean": mean, "stddev": stddev}, self._call_real(
            "normal", {"shape": shape, "mean": mean, "stddev": stddev, "dtype": dtype, "seed": seed})))

    def uniform(self, shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
        KERAS_LOG.append(("uniform", {"minval": minval, "maxval": maxval}, self._call_real(
            "uniform", {"shape": shape, "minval": minval, "maxval": maxval, "dtype": dtype, "seed": seed})))

    def truncated_normal(self, shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
        KERAS_LOG.append(("truncated_normal", {"mean": mean, "stddev": stddev}, self._call_real(
            "truncated_normal", {"shape": shape, "mean": mean, "stddev": stddev, "dtype": dtype, "seed": seed})))


_real_jax_trunc = jax.random.truncated_normal


def _spy_trunc(key, lower, upper, shape=None, dtype=None, **kw):
    TRUNC_SPY.append({"lower": lower, "upper": upper})
    return _real_jax_trunc(key, lower, upper, shape, dtype, **kw)


@contextlib.contextmanager
def keras_recording():
    real = kri.random
    kri.random = KerasRandomProxy(real)
    keras_jax_random.jax.random.truncated_normal = _spy_trunc
    KERAS_LOG.clear()
    try:
        yield KERAS_LOG
    finally:
        kri.random = real
        keras_jax_random.jax.random.truncated_normal = _real_jax_trunc


KERAS_SHAPES = [
    (), (1,), (7,), (128,), (4096,),
    (1, 1), (1, 7), (7, 1), (3, 5), (784, 128), (128, 10), (512, 256), (256, 512), (768, 768), (768, 3072),
    (3072, 768), (2048, 32000), (32000, 2048), (1, 4096), (4096, 1), (50257, 768), (4096, 14336),
    (3, 32, 64), (1, 256, 256), (5, 16, 8), (1, 1, 1),
    (3, 3, 3, 64), (7, 7, 3, 64), (1, 1, 64, 128), (3, 3, 64, 64), (3, 3, 1, 1), (11, 11, 3, 96), (3, 3, 16, 32),
    (3, 3, 512, 1), (2, 3, 5, 7),
    (3, 3, 3, 16, 32), (7, 7, 7, 3, 64), (1, 1, 1, 1, 1), (2, 3, 5, 4, 8), (3, 3, 3, 1, 1),
]
KERAS_ZERO = [(0,), (0, 5), (5, 0), (3, 3, 0, 8)]
# shapes that get every scale in VS_SCALES (the others get scales 1 and 2)
SCALE_GRID_SHAPES = [(), (7,), (1, 7), (7, 1), (784, 128), (3, 32, 64), (3, 3, 16, 32), (2, 3, 5, 4, 8)]
KERAS_NAMED = ["GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal"]
VS_SCALES = [1.0, 2.0, 0.1, 0.5, 3.0, 1 / 3, 1e-3, 10.0]
VS_MODES = ["fan_in", "fan_out", "fan_avg"]
VS_DISTS = ["truncated_normal", "untruncated_normal", "uniform", "normal"]


def keras_expect(log):
    if len(log) != 1:
        raise RuntimeError(f"expected one draw, got {log}")
    kind, kw, spy = log[0]
    if kind == "uniform":
        return {"dist": "uniform", "low": f(kw["minval"]), "high": f(kw["maxval"])}
    if kind == "normal":
        return {"dist": "normal", "mean": f(kw["mean"]), "std": f(kw["stddev"])}
    # truncated: the backend draws jax.random.truncated_normal(lower, upper) and returns sample * stddev + mean
    if len(spy) != 1:
        raise RuntimeError(f"truncation spy saw {spy}")
    lo, hi = spy[0]["lower"], spy[0]["upper"]
    return {"dist": "trunc_normal", "mean": f(kw["mean"]), "std": f(kw["stddev"]),
            "low": f(lo * kw["stddev"] + kw["mean"]), "high": f(hi * kw["stddev"] + kw["mean"]),
            "lower_in_std": f(lo), "upper_in_std": f(hi)}


def keras_case(cls_name, cfg, shape, tag):
    cls = getattr(keras.initializers, cls_name)
    call = f"keras.initializers.{cls_name}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})({shape})"
    case = {"id": f"keras/{cls_name}/{tag}/{shape_id(shape)}", "framework": "keras", "kind": "init",
            "fn": cls_name, "args": {k: (v if isinstance(v, str) else num(v)) for k, v in cfg.items()},
            "shape": list(shape), "call": call}
    try:
        init = cls(**cfg)
        with keras_recording() as log:
            init(shape)
            case["expect"] = keras_expect(log)
    except Exception as e:  # noqa: BLE001
        case["expect"] = error_of(e)
    return case


def gen_keras():
    for shape in KERAS_SHAPES + KERAS_ZERO:
        fi, fo = kri.compute_fans(shape)
        add({"id": f"keras/fans/{shape_id(shape)}", "framework": "keras", "kind": "fans", "shape": list(shape),
             "call": f"keras.src.initializers.random_initializers.compute_fans({shape})",
             "expect": {"fan_in": fi, "fan_out": fo}})
    for shape in KERAS_SHAPES + KERAS_ZERO:
        for name in KERAS_NAMED:
            add(keras_case(name, {}, shape, "default"))
        scales = VS_SCALES if shape in SCALE_GRID_SHAPES else [1.0, 2.0]
        for scale in scales:
            for mode in VS_MODES:
                for dist in VS_DISTS:
                    cfg = {"scale": scale, "mode": mode, "distribution": dist}
                    add(keras_case("VarianceScaling", cfg, shape, f"scale={num(scale)},mode={mode},distribution={dist}"))
        add(keras_case("VarianceScaling", {}, shape, "default"))
    for cls_name, cfgs in [
        ("RandomNormal", [{}, {"mean": 0.1, "stddev": 0.02}, {"stddev": 1.0}, {"mean": -3.0, "stddev": 2.5}]),
        ("RandomUniform", [{}, {"minval": -1.0, "maxval": 2.0}, {"minval": 0.0, "maxval": 1e-3}]),
        ("TruncatedNormal", [{}, {"mean": 0.1, "stddev": 0.02}, {"stddev": 1.0}, {"mean": 1.0, "stddev": 0.5},
                             {"stddev": 0.3}]),
    ]:
        for cfg in cfgs:
            tag = ",".join(f"{k}={num(v)}" for k, v in cfg.items()) or "default"
            for shape in [(3, 3), (784, 128), (7,), (3, 3, 16, 32)]:
                add(keras_case(cls_name, cfg, shape, tag))
    # errors Keras raises at construction
    for cfg in [{"mode": "FAN_IN"}, {"mode": "fan_geo_avg"}, {"distribution": "gaussian"}, {"scale": 0.0},
                {"scale": -1.0}, {"distribution": "Uniform"}, {"distribution": "UNTRUNCATED_NORMAL"}]:
        tag = ",".join(f"{k}={v!r}" for k, v in cfg.items())
        add(keras_case("VarianceScaling", cfg, (3, 5), tag))

    # Empirical check of the truncation, on the real backend: |x - mean| <= 2 stddev, and the bound is reached.
    checks = []
    for cls_name, cfg, shape in [("TruncatedNormal", {"seed": 1}, (1000, 1000)),
                                 ("TruncatedNormal", {"mean": 1.0, "stddev": 0.5, "seed": 2}, (1000, 1000)),
                                 ("GlorotNormal", {"seed": 3}, (1000, 1000)), ("HeNormal", {"seed": 4}, (3, 3, 64, 64)),
                                 ("VarianceScaling", {"scale": 2.0, "mode": "fan_out", "seed": 5}, (1000, 1000))]:
        init = getattr(keras.initializers, cls_name)(**cfg)
        with keras_recording() as log:
            init(shape)
        _, kw, _ = log[0]
        x = np.asarray(init(shape), dtype=np.float64)
        dev = np.abs(x - kw["mean"]) / kw["stddev"]
        checks.append({"initializer": f"{cls_name}({cfg})", "shape": list(shape), "stddev": f(kw["stddev"]),
                       "max_abs_dev_in_std": f(dev.max()), "sample_std_over_stddev": f(x.std() / kw["stddev"])})
        assert dev.max() <= 2.0 + 1e-6 and dev.max() > 1.99, checks[-1]
    return checks


# ---------------------------------------------------------------------------
# JAX recording


class Probe:
    """What jax._src.nn.initializers' `random.*` returns under recording: it
    remembers the standard-sample parameters and the factor it is multiplied by."""

    def __init__(self, kind, **params):
        self.kind = kind
        self.params = params
        self.factor = None

    def __mul__(self, other):
        if self.factor is not None:
            raise RuntimeError("multiplied twice")
        self.factor = other
        return self

    __rmul__ = __mul__


class JaxRandomProxy:
    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def truncated_normal(self, key, lower, upper, shape=None, dtype=None, *, out_sharding=None):
        return Probe("truncated_normal", lower=lower, upper=upper, dtype=dtype)

    def normal(self, key, shape=(), dtype=None, *, out_sharding=None):
        return Probe("normal", dtype=dtype)

    def uniform(self, key, shape=(), dtype=None, minval=0.0, maxval=1.0, *, out_sharding=None):
        return Probe("uniform", minval=minval, maxval=maxval, dtype=dtype)


@contextlib.contextmanager
def jax_recording():
    real = jinit.random
    jinit.random = JaxRandomProxy(real)
    try:
        yield
    finally:
        jinit.random = real


def jax_value(x):
    a = np.asarray(x)
    return a.dtype.name, float(a.item())


def jax_expect(init, shape, dtype):
    try:
        with jax_recording():
            p = init(jax.random.key(0), shape, dtype)
    except Exception as e:  # noqa: BLE001
        return error_of(e)
    if not isinstance(p, Probe) or p.factor is None:
        raise RuntimeError(f"JAX initializer did not scale a standard sample: {p!r}")
    fdt, m = jax_value(p.factor)
    if fdt != np.dtype(dtype).name:
        raise RuntimeError(f"factor dtype {fdt} != {dtype}")
    if p.kind == "truncated_normal":
        lo, hi = float(p.params["lower"]), float(p.params["upper"])
        return {"dist": "trunc_normal", "mean": f(0.0), "std": f(m), "low": f(lo * m), "high": f(hi * m),
                "lower_in_std": f(lo), "upper_in_std": f(hi)}
    if p.kind == "normal":
        return {"dist": "normal", "mean": f(0.0), "std": f(m)}
    lo, hi = float(p.params["minval"]), float(p.params["maxval"])
    return {"dist": "uniform", "low": f(lo * m), "high": f(hi * m), "minval_in_limit": f(lo), "maxval_in_limit": f(hi)}


JAX_SHAPES = [s for s in KERAS_SHAPES if len(s) >= 2] + [(2, 2, 2, 2, 2, 2)]
JAX_BAD_RANK = [(), (1,), (7,), (4096,)]
JAX_ZERO = [(0, 5), (5, 0), (3, 3, 0, 8)]
JAX_NAMED = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
             "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"]


def jax_case(name, cfg, shape, tag, factory):
    call = f"jax.nn.initializers.{name}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})(key, {shape}, dtype)"
    case = {"id": f"jax/{name}/{tag}/{shape_id(shape)}", "framework": "jax", "kind": "init", "fn": name,
            "args": {k: (v if isinstance(v, str) else num(v)) for k, v in cfg.items()}, "shape": list(shape),
            "call": call}
    init = factory(**cfg)
    case["expect"] = jax_expect(init, shape, jnp.float64)
    case["expect_f32"] = jax_expect(init, shape, jnp.float32)
    return case


def gen_jax():
    assert jax.nn.initializers.xavier_uniform is jax.nn.initializers.glorot_uniform
    assert jax.nn.initializers.kaiming_normal is jax.nn.initializers.he_normal
    for shape in JAX_SHAPES + JAX_BAD_RANK + JAX_ZERO:
        case = {"id": f"jax/fans/{shape_id(shape)}", "framework": "jax", "kind": "fans", "shape": list(shape),
                "call": f"jax._src.nn.initializers._compute_fans({shape})"}
        try:
            fi, fo = jinit._compute_fans(shape)
            # JAX's fans are floats (receptive field = prod(shape) / in / out); record them exactly
            case["expect"] = {"fan_in": f(fi), "fan_out": f(fo)}
        except Exception as e:  # noqa: BLE001
            case["expect"] = error_of(e)
        add(case)
    for shape in JAX_SHAPES + JAX_BAD_RANK + JAX_ZERO:
        for name in JAX_NAMED:
            add(jax_case(name, {}, shape, "default", getattr(jax.nn.initializers, name)))
        scales = VS_SCALES if shape in SCALE_GRID_SHAPES else [1.0, 2.0]
        if shape in JAX_BAD_RANK + JAX_ZERO:
            scales = [1.0]
        for scale in scales:
            for mode in VS_MODES + ["fan_geo_avg"]:
                for dist in ["truncated_normal", "normal", "uniform"]:
                    if mode == "fan_geo_avg" and (scale != 1.0 or shape in JAX_BAD_RANK + JAX_ZERO):
                        continue
                    cfg = {"scale": scale, "mode": mode, "distribution": dist}
                    add(jax_case("variance_scaling", cfg, shape, f"scale={num(scale)},mode={mode},distribution={dist}",
                                 jax.nn.initializers.variance_scaling))
    for cfg in [{"scale": 1.0, "mode": "fan_in", "distribution": "untruncated_normal"},
                {"scale": 1.0, "mode": "FAN_IN", "distribution": "uniform"},
                {"scale": 1.0, "mode": "fan_in", "distribution": "Uniform"}]:
        tag = ",".join(f"{k}={v}" for k, v in cfg.items())
        add(jax_case("variance_scaling", cfg, (3, 5), tag, jax.nn.initializers.variance_scaling))


# ---------------------------------------------------------------------------


def main():
    gen_torch()
    keras_checks = gen_keras()
    gen_jax()
    counts = {}
    for c in CASES:
        counts[c["framework"]] = counts.get(c["framework"], 0) + 1
    doc = {
        "generated_by": "KERAS_BACKEND=jax /tmp/peers/bin/python tools/reference/gen_reference.py",
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "keras": keras.__version__,
                     "jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": np.__version__,
                     "keras_backend": keras.backend.backend()},
        "float_encoding": "every float is the Python repr() of the double, as a JSON string",
        "counts": counts,
        "keras_truncation_checks": keras_checks,
        "cases": CASES,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as fh:
        fh.write("{\n")
        for k in ["generated_by", "versions", "float_encoding", "counts", "keras_truncation_checks"]:
            fh.write(f"{json.dumps(k)}: {json.dumps(doc[k], sort_keys=True)},\n")
        fh.write('"cases": [\n')
        fh.write(",\n".join(json.dumps(c, sort_keys=True) for c in CASES))
        fh.write("\n]\n}\n")
    print(f"wrote {len(CASES)} cases to {os.path.normpath(OUT)}: {counts}")


if __name__ == "__main__":
    main()
