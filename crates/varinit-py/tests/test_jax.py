"""varinit.jax: Flax initializers, init_params on eval_shape output, sharded
arrays identical on every mesh, the Flax/PyTorch twin, JAX's names.

Run with 8 CPU devices (the module sets it when JAX is not yet initialized):

    XLA_FLAGS=--xla_force_host_platform_device_count=8 pytest crates/varinit-py/tests/test_jax.py
"""

import os

if "--xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

jax = pytest.importorskip("jax")
flax = pytest.importorskip("flax")

import jax.numpy as jnp  # noqa: E402
from flax import linen as nn  # noqa: E402
from flax import nnx  # noqa: E402
from jax.sharding import Mesh, NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

import varinit  # noqa: E402
import varinit.jax as vj  # noqa: E402


def devices8():
    devs = jax.devices()
    if len(devs) < 8:
        pytest.fail(
            f"{len(devs)} JAX devices: run with XLA_FLAGS=--xla_force_host_platform_device_count=8 "
            "(JAX was initialized before this module set it)"
        )
    return np.array(devs[:8])


def raw(a) -> bytes:
    return np.ascontiguousarray(np.asarray(a)).tobytes()


# ---------------------------------------------------------------------------
# initializer


def test_initializer_ignores_the_key_and_equals_sample():
    init = vj.initializer("lecun_normal", seed=7, name="fc1.kernel")
    a = init(jax.random.key(0), (64, 32), jnp.float32)
    b = init(jax.random.key(12345), (64, 32), jnp.float32)
    assert isinstance(a, jax.Array) and a.shape == (64, 32) and a.dtype == jnp.float32
    assert raw(a) == raw(b)
    ref = varinit.sample("lecun_normal", (64, 32), seed=7, name="fc1.kernel", layout="jax")
    assert raw(a) == raw(ref)
    # the name and the seed key the values
    assert raw(vj.initializer("lecun_normal", seed=7, name="fc2.kernel")(None, (64, 32))) != raw(a)
    assert raw(vj.initializer("lecun_normal", seed=8, name="fc1.kernel")(None, (64, 32))) != raw(a)
    # bfloat16 is the rounding of the float32 stream
    c = init(jax.random.key(0), (64, 32), jnp.bfloat16)
    assert c.dtype == jnp.bfloat16
    assert raw(c) == raw(np.asarray(a).astype(jnp.bfloat16))


def test_initializer_in_linen_dense_and_nnx_linear():
    kinit = vj.initializer("lecun_normal", seed=0, name="dense.kernel")
    binit = vj.initializer("uniform(-0.1, 0.1)", seed=0, name="dense.bias")
    layer = nn.Dense(24, kernel_init=kinit, bias_init=binit)
    x = jnp.ones((2, 40))
    p1 = layer.init(jax.random.key(0), x)["params"]
    p2 = jax.jit(layer.init)(jax.random.key(99), x)["params"]  # traced key: the host callback path
    k = varinit.sample("lecun_normal", (40, 24), seed=0, name="dense.kernel", layout="jax")
    b = varinit.sample("uniform(-0.1, 0.1)", (24,), seed=0, name="dense.bias", layout="jax")
    for p in (p1, p2):
        assert raw(p["kernel"]) == raw(k) and raw(p["bias"]) == raw(b)
    # eval_shape traces the initializer without drawing
    abstract = jax.eval_shape(layer.init, jax.random.key(0), x)["params"]
    assert abstract["kernel"].shape == (40, 24)

    lin = nnx.Linear(40, 24, kernel_init=kinit, bias_init=binit, rngs=nnx.Rngs(3))
    assert raw(lin.kernel[...]) == raw(k) and raw(lin.bias[...]) == raw(b)
    lin2 = nnx.Linear(40, 24, kernel_init=kinit, bias_init=binit, rngs=nnx.Rngs(4))
    assert raw(lin2.kernel[...]) == raw(k)


def test_dense_general_gets_multi_axis_fans():
    # DenseGeneral flattens its kernel to (prod(in), prod(out)) before calling the initializer;
    # JAX's variance_scaling with in_axis/out_axis on the full shape has the same fans.
    init = vj.variance_scaling(1.0, "fan_in", "truncated_normal", in_axis=(0, 1), out_axis=(2,), seed=0, name="k")
    d = varinit.describe(init.scheme, (12, 64, 768), layout="jax")
    flat = varinit.describe("jax.lecun_normal", (768, 768), layout="jax")
    assert d["std"] == flat["std"]
    layer = nn.DenseGeneral(features=(4, 6), axis=(-2, -1), kernel_init=vj.lecun_normal(seed=0, name="dg.kernel"))
    params = layer.init(jax.random.key(0), jnp.ones((2, 3, 5)))["params"]
    assert params["kernel"].shape == (3, 5, 4, 6)
    # Flax drew a (15, 24) matrix and reshaped it: the bytes are the flat tensor's
    assert raw(params["kernel"]) == raw(varinit.sample("jax.lecun_normal", (15, 24), name="dg.kernel", layout="jax"))


def test_out_sharding_keyword():
    mesh = Mesh(devices8().reshape(4, 2), ("x", "y"))
    init = vj.initializer("he_normal", seed=1, name="w")
    a = init(None, (32, 16), jnp.float32, out_sharding=NamedSharding(mesh, P("x", "y")))
    assert a.sharding == NamedSharding(mesh, P("x", "y"))
    assert raw(a) == raw(varinit.sample("he_normal", (32, 16), seed=1, name="w", layout="jax"))


def test_bad_input_raises():
    with pytest.raises(ValueError):
        vj.initializer("lecun_nromal", seed=0, name="w")
    with pytest.raises(TypeError):
        vj.initializer("lecun_normal", seed=0, name=3)
    with pytest.raises(ValueError):
        vj.initializer("lecun_normal", seed=-1, name="w")
    with pytest.raises(ValueError):
        vj.initializer("lecun_normal", seed=0, name="w", layout="tf2")
    with pytest.raises(ValueError):  # JAX refuses fans of a rank-1 weight
        vj.initializer("lecun_normal", seed=0, name="w")(None, (7,))
    with pytest.raises(TypeError):
        vj.initializer("lecun_normal", seed=0, name="w")(None, (7, 3), jnp.int32)


# ---------------------------------------------------------------------------
# init_params


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Dense(32, name="fc1")(x))
        return nn.Dense(8, name="fc2")(x)


RULES = [("*.kernel", "lecun_normal"), ("*fc1.bias", "uniform(-0.5, 0.5)"), ("*.bias", "zeros")]


def test_init_params_on_eval_shape_output():
    abstract = jax.eval_shape(MLP().init, jax.random.key(0), jnp.ones((1, 16)))
    plan = vj.plan_params(abstract, RULES, seed=3)
    assert [(e["name"], e["shape"], e["rule"]) for e in plan] == [
        ("params.fc1.bias", (32,), "*fc1.bias"),
        ("params.fc1.kernel", (16, 32), "*.kernel"),
        ("params.fc2.bias", (8,), "*.bias"),
        ("params.fc2.kernel", (32, 8), "*.kernel"),
    ]
    params = vj.init_params(abstract, RULES, seed=3)
    for e in plan:
        keys = e["name"].split(".")
        leaf = params
        for k in keys:
            leaf = leaf[k]
        assert isinstance(leaf, jax.Array)
        assert raw(leaf) == raw(varinit.sample(e["scheme"], e["shape"], seed=3, name=e["name"], layout="jax"))
    # the result runs in the model
    y = MLP().apply(params, jnp.ones((2, 16)))
    assert y.shape == (2, 8)


def test_init_params_errors_name_the_parameter():
    abstract = jax.eval_shape(MLP().init, jax.random.key(0), jnp.ones((1, 16)))
    with pytest.raises(ValueError, match="params.fc2.bias"):
        vj.init_params(abstract, [("*.kernel", "lecun_normal"), ("*fc1.bias", "zeros")])
    with pytest.raises(ValueError, match="params.fc1.bias"):  # rank-1 bias has no fans under JAX
        vj.init_params(abstract, [("*", "lecun_normal")])
    with pytest.raises(TypeError):
        vj.init_params(abstract, [("*", 3)])
    with pytest.raises(ValueError, match="same values"):
        vj.init_params(abstract, [("*", "zeros")], names=lambda p: "x")


def test_init_params_keeps_flax_boxes_and_nnx_state():
    class Boxed(nn.Module):
        @nn.compact
        def __call__(self, x):
            k = nn.with_partitioning(nn.initializers.lecun_normal(), (None, "model"))
            return nn.Dense(16, kernel_init=k, name="fc")(x)

    abstract = jax.eval_shape(Boxed().init, jax.random.key(0), jnp.ones((1, 8)))
    params = vj.init_params(abstract, [("*.kernel", "lecun_normal"), ("*.bias", "zeros")], seed=0)
    box = params["params"]["fc"]["kernel"]
    assert isinstance(box, nn.Partitioned) and box.names == (None, "model")
    assert raw(box.value) == raw(varinit.sample("lecun_normal", (8, 16), name="params.fc.kernel", layout="jax"))

    class Net(nnx.Module):
        def __init__(self, rngs):
            self.fc1 = nnx.Linear(8, 16, rngs=rngs)
            self.fc2 = nnx.Linear(16, 4, rngs=rngs)

        def __call__(self, x):
            return self.fc2(nnx.relu(self.fc1(x)))

    model = nnx.eval_shape(lambda: Net(nnx.Rngs(0)))
    state = nnx.state(model, nnx.Param)
    new = vj.init_params(state, [("*.kernel", "glorot_uniform"), ("*.bias", "zeros")], seed=5)
    nnx.update(model, new)
    assert raw(model.fc2.kernel[...]) == raw(
        varinit.sample("glorot_uniform", (16, 4), seed=5, name="fc2.kernel", layout="jax")
    )
    assert model(jnp.ones((1, 8))).shape == (1, 4)


# ---------------------------------------------------------------------------
# sharding: identical bytes on every mesh and PartitionSpec

MESHES = [((8,), ("x",)), ((4, 2), ("x", "y")), ((2, 4), ("x", "y"))]


def specs_for(axes, rank):
    if len(axes) == 1:
        out = [P(), P("x"), P(None, "x")]
        if rank >= 3:
            out.append(P(None, None, "x"))
        return out
    out = [P(), P("x"), P("y"), P("x", "y"), P("y", "x"), P(("x", "y")), P(None, ("y", "x"))]
    if rank >= 3:
        out += [P("x", None, "y"), P(None, "y", "x")]
    return out


@pytest.mark.parametrize(
    "scheme,shape,dtype,layout",
    [
        ("lecun_normal", (64, 48), "float32", "jax"),
        ("jax.truncated_normal(stddev=0.02, lower=-3, upper=3)", (16, 8, 24), "bfloat16", "jax"),
        ("uniform(-1, 1)", (32, 40), "float16", "jax"),
        ("kaiming_normal(nonlinearity=relu)", (48, 64), "float32", "torch"),
        ("orthogonal(gain=2)", (40, 16), "float32", "jax"),
    ],
)
def test_sharded_bytes_do_not_depend_on_the_mesh(scheme, shape, dtype, layout):
    devs = devices8()
    abstract = {"w": jax.ShapeDtypeStruct(shape, jnp.dtype(dtype))}
    ref = vj.init_params(abstract, [("w", scheme)], seed=11, layout=layout)["w"]
    expected = raw(ref)
    if layout == "jax":
        assert expected == raw(varinit.sample(scheme, shape, seed=11, name="w", dtype=dtype, layout="jax"))
    seen = 0
    for mshape, axes in MESHES:
        mesh = Mesh(devs.reshape(mshape), axes)
        for spec in specs_for(axes, len(shape)):
            s = NamedSharding(mesh, spec)
            arr = vj.init_params(abstract, [("w", scheme)], seed=11, layout=layout, sharding=s)["w"]
            assert arr.sharding == s
            assert raw(arr) == expected, (mshape, spec)
            # every device holds exactly its slice of the global tensor
            full = np.asarray(ref)
            for shard in arr.addressable_shards:
                assert raw(shard.data) == raw(full[shard.index]), (mshape, spec, shard.device)
            seen += 1
    assert seen >= 15


def test_sharding_as_pytree_and_as_function():
    devs = devices8()
    mesh = Mesh(devs.reshape(2, 4), ("data", "model"))
    abstract = jax.eval_shape(MLP().init, jax.random.key(0), jnp.ones((1, 16)))
    plain = vj.init_params(abstract, RULES, seed=2)

    def by_rank(path, leaf):
        return NamedSharding(mesh, P(None, "model") if len(leaf.shape) == 2 else P("model"))

    tree = jax.tree_util.tree_map(lambda leaf: by_rank(None, leaf), abstract)
    for sharding in (by_rank, tree, NamedSharding(mesh, P())):
        sharded = vj.init_params(abstract, RULES, seed=2, sharding=sharding)
        for a, b in zip(jax.tree_util.tree_leaves(plain), jax.tree_util.tree_leaves(sharded)):
            assert raw(a) == raw(b)
    sharded = vj.init_params(abstract, RULES, seed=2, sharding=by_rank)
    assert sharded["params"]["fc1"]["kernel"].sharding.spec == P(None, "model")
    # shardings carried by ShapeDtypeStructs are used
    carried = jax.tree_util.tree_map(
        lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype, sharding=by_rank(None, leaf)), abstract
    )
    out = vj.init_params(carried, RULES, seed=2)
    assert out["params"]["fc2"]["kernel"].sharding.spec == P(None, "model")
    with pytest.raises(TypeError):
        vj.init_params(abstract, RULES, sharding=lambda p, l: "model")
    with pytest.raises(ValueError, match="params.fc1.bias"):  # a spec of rank 2 for a rank-1 leaf
        vj.init_params(abstract, RULES, sharding=NamedSharding(mesh, P(None, "model")))


# ---------------------------------------------------------------------------
# the Flax / PyTorch twin


def test_flax_and_torch_twins_get_the_same_values():
    torch = pytest.importorskip("torch")
    import varinit.torch as vt

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 8, 3)
            self.fc1 = torch.nn.Linear(8 * 4 * 4, 32)
            self.fc2 = torch.nn.Linear(32, 10)

    class FlaxNet(nn.Module):
        @nn.compact
        def __call__(self, x):  # NHWC
            x = nn.relu(nn.Conv(8, (3, 3), padding="VALID", name="conv")(x))
            x = x.reshape((x.shape[0], -1))
            x = nn.relu(nn.Dense(32, name="fc1")(x))
            return nn.Dense(10, name="fc2")(x)

    rules = [("*.weight", "kaiming_normal(nonlinearity=relu)"), ("*.bias", "uniform(-0.1, 0.1)")]
    tmodel = TorchNet()
    vt.init_module_(tmodel, rules, seed=42)
    abstract = jax.eval_shape(FlaxNet().init, jax.random.key(0), jnp.ones((1, 6, 6, 3)))
    plan = vj.plan_params(abstract, rules, seed=42, layout="torch")
    assert sorted(e["name"] for e in plan) == sorted(n for n, _ in tmodel.named_parameters())
    fparams = vj.init_params(abstract, rules, seed=42, layout="torch")["params"]
    tw = dict(tmodel.named_parameters())
    fc1 = np.asarray(fparams["fc1"]["kernel"])
    assert raw(fc1) == raw(tw["fc1.weight"].detach().numpy().T)
    assert raw(fparams["fc2"]["kernel"]) == raw(tw["fc2.weight"].detach().numpy().T)
    assert raw(fparams["conv"]["kernel"]) == raw(tw["conv.weight"].detach().permute(2, 3, 1, 0).numpy())
    for n in ("conv", "fc1", "fc2"):
        assert raw(fparams[n]["bias"]) == raw(tw[f"{n}.bias"].detach().numpy())
    # and the two networks compute the same function
    x = np.random.default_rng(0).standard_normal((2, 6, 6, 3)).astype(np.float32)
    yf = np.asarray(FlaxNet().apply({"params": fparams}, jnp.asarray(x)))
    with torch.no_grad():
        t = torch.from_numpy(x).permute(0, 3, 1, 2)
        h = torch.relu(tmodel.conv(t)).permute(0, 2, 3, 1).reshape(2, -1)  # flatten in NHWC order, as Flax
        yt = tmodel.fc2(torch.relu(tmodel.fc1(h))).numpy()
    np.testing.assert_allclose(yf, yt, rtol=1e-4, atol=1e-5)
    # the twin also holds sharded
    mesh = Mesh(devices8().reshape(4, 2), ("x", "y"))
    specs = {1: P("y"), 2: P("x", "y"), 4: P(None, None, None, ("x", "y"))}
    sharded = vj.init_params(
        abstract, rules, seed=42, layout="torch", sharding=lambda path, leaf: NamedSharding(mesh, specs[leaf.ndim])
    )
    assert raw(sharded["params"]["fc1"]["kernel"]) == raw(fc1)


def test_torch_names():
    assert vj.torch_name("params.fc1.kernel") == "fc1.weight"
    assert vj.torch_name("encoder.ln.scale") == "encoder.ln.weight"
    assert vj.torch_name("params.embed.embedding") == "embed.weight"
    assert vj.torch_name("fc1.bias") == "fc1.bias"


# ---------------------------------------------------------------------------
# JAX's names with JAX's semantics, against jax.nn.initializers

N = 40_000


def jax_sample(init, shape):
    return np.asarray(init(jax.random.key(0), shape, jnp.float32)).ravel().astype(np.float64)


def vi_sample(init, shape):
    return np.asarray(init(None, shape, jnp.float32)).ravel().astype(np.float64)


JI = jax.nn.initializers
CASES = [
    # (varinit.jax initializer, jax's, shape, exact distribution as scipy frozen)
    ("lecun_normal", lambda **k: vj.lecun_normal(**k), JI.lecun_normal(), (200, 200)),
    ("glorot_uniform", lambda **k: vj.glorot_uniform(**k), JI.glorot_uniform(), (3, 3, 40, 50)),
    ("he_normal", lambda **k: vj.he_normal(**k), JI.he_normal(), (5, 5, 16, 100)),
    ("kaiming_normal", lambda **k: vj.kaiming_normal(**k), JI.kaiming_normal(), (400, 100)),
    ("xavier_normal", lambda **k: vj.xavier_normal(**k), JI.xavier_normal(), (400, 100)),
    (
        "variance_scaling(2, fan_avg, uniform, dense-general)",
        lambda **k: vj.variance_scaling(2.0, "fan_avg", "uniform", in_axis=(0, 1), out_axis=(2, 3), **k),
        JI.variance_scaling(2.0, "fan_avg", "uniform", in_axis=(0, 1), out_axis=(2, 3)),
        (10, 20, 8, 25),
    ),
    (
        "variance_scaling(0.5, fan_out, normal, batch)",
        lambda **k: vj.variance_scaling(0.5, "fan_out", "normal", batch_axis=0, **k),
        JI.variance_scaling(0.5, "fan_out", "normal", batch_axis=0),
        (4, 100, 100),
    ),
    (
        "variance_scaling(1, fan_geo_avg, truncated_normal)",
        lambda **k: vj.variance_scaling(1.0, "fan_geo_avg", "truncated_normal", **k),
        JI.variance_scaling(1.0, "fan_geo_avg", "truncated_normal"),
        (100, 400),
    ),
    ("normal()", lambda **k: vj.normal(**k), JI.normal(), (200, 200)),
    (
        "truncated_normal(0.5, lower=-1, upper=2)",
        lambda **k: vj.truncated_normal(0.5, lower=-1.0, upper=2.0, **k),
        JI.truncated_normal(0.5, lower=-1.0, upper=2.0),
        (200, 200),
    ),
    ("uniform(0.3)", lambda **k: vj.uniform(0.3, **k), JI.uniform(0.3), (200, 200)),
]


@pytest.mark.parametrize("label,ours,theirs,shape", CASES, ids=[c[0] for c in CASES])
def test_jax_names_match_jax_samples(label, ours, theirs, shape):
    a = vi_sample(ours(seed=1, name="w"), shape)
    b = jax_sample(theirs, shape)
    a, b = a[:N], b[:N]
    # same support (JAX's truncation at +-2 std of the corrected normal, uniform bounds)
    assert abs(a.max() - b.max()) <= 0.02 * (b.max() - b.min())
    assert abs(a.min() - b.min()) <= 0.02 * (b.max() - b.min())
    res = stats.ks_2samp(a, b)
    assert res.pvalue > 1e-4, (label, res)
    assert abs(a.std() / b.std() - 1) < 0.03


def test_ks_catches_the_pytorch_meaning():
    # PyTorch's kaiming_normal (untruncated) has JAX's variance but not its shape: KS must see it
    a = vi_sample(vj.initializer("kaiming_normal", seed=1, name="w"), (400, 100))[:N]
    b = jax_sample(JI.kaiming_normal(), (400, 100))[:N]
    assert stats.ks_2samp(a, b).pvalue < 1e-6
    # and a 10% wrong scale
    c = vi_sample(vj.variance_scaling(1.21, "fan_in", "truncated_normal", seed=1, name="w"), (400, 100))[:N]
    d = jax_sample(JI.variance_scaling(1.0, "fan_in", "truncated_normal"), (400, 100))[:N]
    assert stats.ks_2samp(c, d).pvalue < 1e-6


def _probe(init, shape, dtype):
    """The factor and bounds JAX's initializer applies to its standard sample."""
    import jax._src.nn.initializers as jinit

    class Probe:
        def __init__(self, kind, lo, hi):
            self.kind, self.lo, self.hi, self.factor = kind, lo, hi, None

        def __mul__(self, other):
            self.factor = float(np.asarray(other))
            return self

        __rmul__ = __mul__

    class Proxy:
        def truncated_normal(self, key, lower, upper, *a, **k):
            return Probe("trunc_normal", float(lower), float(upper))

        def normal(self, *a, **k):
            return Probe("normal", None, None)

        def uniform(self, key, shape=(), dtype=None, minval=0.0, maxval=1.0, **k):
            return Probe("uniform", float(minval), float(maxval))

    real = jinit.random
    jinit.random = Proxy()
    try:
        return init(jax.random.key(0), shape, dtype)
    finally:
        jinit.random = real


def ulps(a, b):
    return abs(int(np.float32(a).view(np.int32)) - int(np.float32(b).view(np.int32)))


@pytest.mark.parametrize("shape", [(3, 5), (784, 128), (3, 3, 16, 32), (2, 3, 5, 4, 8), (12, 64, 768)])
def test_parameters_equal_jaxs(shape):
    """describe() of varinit.jax's schemes gives JAX's exact parameters (float64 JAX
    values cannot be had without x64; float32 ones are compared after rounding)."""
    pairs = [
        (vj.lecun_normal(name="w"), JI.lecun_normal()),
        (vj.glorot_uniform(name="w"), JI.glorot_uniform()),
        (vj.he_normal(name="w"), JI.he_normal()),
        (vj.variance_scaling(3.0, "fan_avg", "normal", name="w"), JI.variance_scaling(3.0, "fan_avg", "normal")),
        (vj.normal(0.02, name="w"), JI.normal(0.02)),
        (vj.truncated_normal(0.02, lower=-3.0, upper=1.0, name="w"), JI.truncated_normal(0.02, lower=-3.0, upper=1.0)),
        (vj.uniform(0.5, name="w"), JI.uniform(0.5)),
    ]
    if len(shape) >= 3:
        ax = tuple(range(len(shape) - 1))
        pairs.append((vj.he_uniform(in_axis=ax, out_axis=-1, name="w"), JI.he_uniform(in_axis=ax, out_axis=-1)))
    for ours, theirs in pairs:
        d = varinit.describe(ours.scheme, shape, layout="jax")
        p = _probe(theirs, shape, jnp.float32)
        # JAX computes the factor in float32 step by step, varinit in float64 rounded once: <= 1 ulp apart
        if p.kind == "uniform":
            assert d["kind"] == "uniform"
            assert ulps(d["high"], p.hi * p.factor) <= 1, (ours.scheme, d, p.factor)
            assert ulps(d["low"], p.lo * p.factor) <= 1, (ours.scheme, d, p.factor)
        else:
            assert d["kind"] == ("trunc_normal" if p.kind == "trunc_normal" else "normal"), (ours.scheme, d)
            assert ulps(d["std"], p.factor) <= 1, (ours.scheme, d, p.factor)
            if p.kind == "trunc_normal":
                assert d["low"] / d["std"] == pytest.approx(p.lo, rel=1e-12)
                assert d["high"] / d["std"] == pytest.approx(p.hi, rel=1e-12)
    # fans under JAX's rules
    import jax._src.nn.initializers as jinit

    if len(shape) >= 2:
        assert tuple(map(float, varinit.fans(shape, "jax"))) == jinit._compute_fans(shape)
