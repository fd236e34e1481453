"""Record what JAX's `jax.nn.initializers` ACTUALLY compute for the parameters
varinit's `jax.` schemes must reproduce: `normal(stddev)`,
`truncated_normal(stddev, lower, upper)`, `uniform(scale)`, and
`variance_scaling` / the named families with explicit `in_axis`, `out_axis`
and `batch_axis` (Flax's DenseGeneral kernels, multi-axis fans).

The default-axis variance-scaling cases live in reference.json
(gen_reference.py); this file adds the rest, in
crates/varinit/tests/data/reference_jax.json, replayed without Python by
crates/varinit/tests/all/reference_jax.rs.

How values are captured (nothing is re-derived): `random`, as seen from
`jax._src.nn.initializers`, is replaced by a proxy whose functions return
probes. JAX draws a *standard* sample and multiplies it afterwards, so a
probe records lower/upper (truncated normal), minval/maxval (uniform) and the
factor. JAX computes that factor in the weight dtype, so every case is
recorded for float64 (`expect`, with jax_enable_x64) and float32
(`expect_f32`). Fans come from `jax._src.nn.initializers._compute_fans`.
Floats are stored as the repr() of the double, as JSON strings.

Run from the repository root (about 5 s):

    python tools/reference/gen_reference_jax.py
"""

import contextlib
import json
import math
import os
import platform

import jax

jax.config.update("jax_enable_x64", True)

import jax._src.nn.initializers as jinit  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402
import numpy as np  # noqa: E402

OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "varinit", "tests", "data", "reference_jax.json"
)

CASES = []
IDS = set()


def f(x):
    return repr(float(x))


def num(x):
    if isinstance(x, bool):
        raise TypeError("bool is not a number here")
    return repr(x) if isinstance(x, int) else repr(float(x))


def add(case):
    if case["id"] in IDS:
        raise RuntimeError("duplicate case id " + case["id"])
    IDS.add(case["id"])
    CASES.append(case)


def shape_id(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def axes_id(a):
    return str(a) if isinstance(a, int) else "(" + ",".join(str(x) for x in a) + ")"


def error_of(e):
    return {"error_type": type(e).__name__, "error": str(e)}


class Probe:
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
        return Probe("truncated_normal", lower=lower, upper=upper)

    def normal(self, key, shape=(), dtype=None, *, out_sharding=None):
        return Probe("normal")

    def uniform(self, key, shape=(), dtype=None, minval=0.0, maxval=1.0, *, out_sharding=None):
        return Probe("uniform", minval=minval, maxval=maxval)


@contextlib.contextmanager
def recording():
    real = jinit.random
    jinit.random = JaxRandomProxy(real)
    try:
        yield
    finally:
        jinit.random = real


def expect(init, shape, dtype):
    try:
        with recording():
            p = init(jax.random.key(0), shape, dtype)
    except Exception as e:  # noqa: BLE001
        return error_of(e)
    if not isinstance(p, Probe) or p.factor is None:
        raise RuntimeError(f"JAX initializer did not scale a standard sample: {p!r}")
    a = np.asarray(p.factor)
    if a.dtype != np.dtype(dtype):
        raise RuntimeError(f"factor dtype {a.dtype} != {dtype}")
    m = float(a.item())
    if p.kind == "truncated_normal":
        lo, hi = float(p.params["lower"]), float(p.params["upper"])
        return {"dist": "trunc_normal", "mean": f(0.0), "std": f(m), "low": f(lo * m), "high": f(hi * m)}
    if p.kind == "normal":
        return {"dist": "normal", "mean": f(0.0), "std": f(m)}
    lo, hi = float(p.params["minval"]), float(p.params["maxval"])
    return {"dist": "uniform", "low": f(lo * m), "high": f(hi * m)}


def case(name, cfg, shape, tag):
    args = {}
    for k, v in cfg.items():
        if isinstance(v, str):
            args[k] = v
        elif isinstance(v, tuple):
            args[k] = [int(x) for x in v]
        elif isinstance(v, int) and k.endswith("axis"):
            args[k] = v
        else:
            args[k] = num(v)
    call = f"jax.nn.initializers.{name}({', '.join(f'{k}={v!r}' for k, v in cfg.items())})(key, {shape}, dtype)"
    c = {"id": f"jax/{name}/{tag}/{shape_id(shape)}", "fn": name, "args": args, "shape": list(shape), "call": call}
    init = getattr(jax.nn.initializers, name)(**cfg)
    c["expect"] = expect(init, shape, jnp.float64)
    c["expect_f32"] = expect(init, shape, jnp.float32)
    return c


# Shapes: dense, conv 1-3-D, DenseGeneral kernels (several input or output axes), batched weights, large.
SHAPES = [
    (3, 5), (784, 128), (128256, 4096), (4096, 11008), (1, 1), (2, 3, 4), (16, 4, 64), (7, 3, 5),
    (3, 3, 16, 32), (8, 12, 4, 32), (4, 6, 10, 3), (2, 3, 5, 4, 8), (3, 3, 3, 8, 16), (2, 2, 2, 2, 2, 2),
    (768, 12, 64), (12, 64, 768),
]


def axis_configs(rank):
    """(in_axis, out_axis, batch_axis) triples valid for a rank, disjoint."""
    out = [(-2, -1, ()), (0, 1, ()), (1, 0, ())]
    if rank >= 3:
        out += [
            (tuple(range(rank - 1)), rank - 1, ()),  # DenseGeneral: every leading axis is an input
            (0, tuple(range(1, rank)), ()),  # DenseGeneral: one input, several output axes
            (-2, -1, 0),  # a stacked (batched) weight
            ((-3, -2), -1, ()),
            (1, 2, (0,)),
            ((0,), (-1,), ()),  # one-element sequences
        ]
    if rank >= 4:
        out += [((0, 1), (2, 3), ()), (-2, -1, (0, 1)), ((1, 2), -1, 0), (2, (3,), ())]
    if rank >= 5:
        out += [((0, 2), (1, 4), ()), (-3, -1, (0, 1))]
    return out


BAD = [
    ((7,), (-2, -1, ())),  # rank 1 with the default in_axis: JAX's ValueError
    ((), (-2, -1, ())),
    ((3, 5), (2, -1, ())),  # out of range: IndexError
    ((3, 5), (-3, -1, ())),
    ((3, 5), ((0, 5), -1, ())),
    ((2, 3, 4), (-2, -1, 3)),
    ((3, 5), (0, 0, ())),  # the same axis twice: JAX computes with it, varinit refuses
    ((2, 3, 4), ((0, 1), (1, 2), ())),
    ((2, 3, 4), (-2, -1, -1)),
    ((7,), (0, 0, ())),
]

VS_GRID = [(1.0, "fan_in"), (1.0, "fan_out"), (1.0, "fan_avg"), (1.0, "fan_geo_avg"), (2.0, "fan_in"),
           (0.1, "fan_avg"), (1 / 3, "fan_out"), (2.0, "fan_geo_avg")]
NAMED = ["glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
         "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"]


def axis_tag(cfg):
    return ",".join(f"{k}={axes_id(cfg[k])}" for k in ["in_axis", "out_axis", "batch_axis"])


def gen():
    for shape in SHAPES:
        for ia, oa, ba in axis_configs(len(shape)):
            ax = {"in_axis": ia, "out_axis": oa, "batch_axis": ba}
            fans_case = {"id": f"jax/fans/{axis_tag(ax)}/{shape_id(shape)}", "fn": "_compute_fans",
                         "args": {k: (list(v) if isinstance(v, tuple) else v) for k, v in ax.items()},
                         "shape": list(shape), "call": f"_compute_fans({shape}, {ia!r}, {oa!r}, {ba!r})"}
            fi, fo = jinit._compute_fans(shape, ia, oa, ba)
            fans_case["expect"] = {"fan_in": f(fi), "fan_out": f(fo)}
            add(fans_case)
            for scale, mode in VS_GRID:
                for dist in ["truncated_normal", "normal", "uniform"]:
                    cfg = {"scale": scale, "mode": mode, "distribution": dist, **ax}
                    add(case("variance_scaling", cfg, shape, f"scale={num(scale)},mode={mode},distribution={dist},"
                             + axis_tag(ax)))
            if (ia, oa, ba) != (-2, -1, ()):
                for n in NAMED:
                    add(case(n, dict(ax), shape, axis_tag(ax)))
    for shape, (ia, oa, ba) in BAD:
        ax = {"in_axis": ia, "out_axis": oa, "batch_axis": ba}
        for n in ["variance_scaling", "he_normal"]:
            cfg = {"scale": 1.0, "mode": "fan_in", "distribution": "normal", **ax} if n == "variance_scaling" else ax
            add(case(n, cfg, shape, "bad," + axis_tag(ax)))
    simple_shapes = [(), (7,), (3, 5), (3, 3, 16, 32), (128256, 4096)]
    for shape in simple_shapes:
        for cfg in [{}, {"stddev": 0.02}, {"stddev": 1.0}, {"stddev": 1e-3}, {"stddev": 0.5}, {"stddev": 3}]:
            add(case("normal", cfg, shape, ",".join(f"{k}={num(v)}" for k, v in cfg.items()) or "default"))
        for cfg in [{}, {"stddev": 0.02}, {"stddev": 0.02, "lower": -3.0, "upper": 3.0},
                    {"stddev": 1.0, "lower": -1.0, "upper": 2.0}, {"stddev": 0.5, "lower": -2.5, "upper": 1.5},
                    {"stddev": 1.0, "lower": 0.0, "upper": 1.0}, {"stddev": 0.1, "lower": -math.inf, "upper": 0.5},
                    {"stddev": 1 / 3, "lower": -1.0, "upper": math.inf}]:
            add(case("truncated_normal", cfg, shape, ",".join(f"{k}={num(v)}" for k, v in cfg.items()) or "default"))
        for cfg in [{}, {"scale": 1.0}, {"scale": 0.5}, {"scale": 2.0}, {"scale": 1 / 7}]:
            add(case("uniform", cfg, shape, ",".join(f"{k}={num(v)}" for k, v in cfg.items()) or "default"))


def main():
    gen()
    doc = {
        "generated_by": "python tools/reference/gen_reference_jax.py",
        "versions": {"python": platform.python_version(), "jax": jax.__version__, "jaxlib": jaxlib.__version__,
                     "numpy": np.__version__},
        "float_encoding": "every float is the Python repr() of the double, as a JSON string",
        "count": len(CASES),
    }
    with open(OUT, "w") as fh:
        fh.write("{\n")
        for k in ["generated_by", "versions", "float_encoding", "count"]:
            fh.write(f"{json.dumps(k)}: {json.dumps(doc[k], sort_keys=True)},\n")
        fh.write('"cases": [\n')
        fh.write(",\n".join(json.dumps(c, sort_keys=True) for c in CASES))
        fh.write("\n]\n}\n")
    print(f"wrote {len(CASES)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
