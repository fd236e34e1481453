"""varinit for JAX and Flax: initializers by name and path, sharded arrays
whose values do not depend on the mesh.

Every value comes from the Rust core, keyed by ``(seed, name)`` and by its
global element index, exactly as :func:`varinit.sample` draws it. The JAX
PRNG key Flax hands to an initializer is **ignored**: the values are a pure
function of ``(seed, name, scheme, shape, dtype, layout)``, so they do not
depend on module order, on how keys are split, on the mesh or on the
``PartitionSpec``.

- :func:`initializer` -- an initializer with Flax's signature
  ``(key, shape, dtype) -> Array`` for ``nn.Dense(kernel_init=...)`` and
  ``nnx.Linear(kernel_init=...)``;
- :func:`init_params` -- a whole parameter pytree (e.g. ``jax.eval_shape``'s
  output, so no random init runs first), every leaf keyed by its path and
  given a scheme by ordered glob rules, optionally sharded;
- :func:`leaf_name` and :func:`torch_name` -- how paths become names (and
  the PyTorch twin's names);
- JAX's own initializer names with JAX's semantics: :func:`variance_scaling`
  (with DenseGeneral's multi-axis fans), :func:`lecun_normal`,
  :func:`glorot_uniform`, :func:`he_normal`, :func:`kaiming_normal` (JAX's:
  truncated), :func:`normal` (std 0.01), :func:`truncated_normal` (bounds in
  units of stddev), :func:`uniform` (``[0, scale)``), :func:`orthogonal`, ...

Layouts: ``layout="jax"`` (default) draws a leaf in its own shape and reads
weights as ``(*kernel, in, out)``, JAX's fans. ``layout="torch"`` draws the
leaf's **PyTorch twin** -- a weight of shape ``(*k, in, out)`` is drawn as the
``(out, in, *k)`` tensor PyTorch would hold, with PyTorch's fans, and
transposed into place -- so a Flax kernel equals ``W_torch.T`` (a conv kernel
``W_torch.permute(2, 3, ..., 1, 0)``) byte for byte. Rank 0 and 1 leaves are
drawn as they are.
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

import varinit as _vi
from varinit import _native

__all__ = [
    "constant",
    "delta_orthogonal",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "init_params",
    "initializer",
    "kaiming_normal",
    "kaiming_uniform",
    "leaf_name",
    "lecun_normal",
    "lecun_uniform",
    "normal",
    "ones",
    "orthogonal",
    "plan_params",
    "torch_name",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "xavier_normal",
    "xavier_uniform",
    "zeros",
]

_LAYOUTS = ("jax", "torch", "keras")


def _jax() -> Any:
    try:
        import jax
    except ImportError:
        raise ImportError("varinit.jax needs JAX: pip install 'jax[cpu]' (or a CUDA/TPU build)") from None
    return jax


# ---------------------------------------------------------------------------
# Drawing one tensor, whole or by blocks


def _check_layout(layout: str) -> str:
    if not isinstance(layout, str) or layout.lower() not in _LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, _LAYOUTS))}, not {layout!r}")
    return layout.lower()


def _twin_perm(rank: int) -> tuple[int, ...]:
    """Axis ``i`` of the PyTorch twin ``(out, in, *k)`` is axis ``perm[i]`` of
    the JAX shape ``(*k, in, out)``."""
    return (rank - 1, rank - 2, *range(rank - 2))


class _Tensor:
    """One tensor to draw: the scheme resolved for its shape (in the core) and
    a function that fills any block of it, in the JAX shape."""

    def __init__(self, scheme: str, shape: Sequence[int], *, seed: int, name: str, dtype: Any, layout: str):
        self.shape = tuple(_vi._shape(shape))
        self.dtype = np.dtype(dtype)
        self.code = _vi._dtype_code(self.dtype)
        self.layout = _check_layout(layout)
        rank = len(self.shape)
        self.perm: tuple[int, ...] | None = None
        draw_shape = self.shape
        core_layout = self.layout
        if self.layout == "torch" and rank >= 2:
            self.perm = _twin_perm(rank)
            draw_shape = tuple(self.shape[p] for p in self.perm)
        self.plan = _vi.plan(scheme, draw_shape, seed=seed, name=name, layout=core_layout)
        self.plan.check_dtype(self.code)
        self.scheme = self.plan.scheme
        self.distribution = self.plan.distribution
        self.name = name

    def block(self, offsets: Sequence[int], local_shape: Sequence[int]) -> np.ndarray:
        """The block ``offsets .. offsets + local_shape`` of the JAX-shaped tensor."""
        offsets, local_shape = list(offsets), list(local_shape)
        if self.perm is not None:
            offsets = [offsets[p] for p in self.perm]
            local_shape = [local_shape[p] for p in self.perm]
        out = np.empty(local_shape, dtype=_vi._numpy_dtype(self.code))
        _vi._fill_array(self.plan, out, offsets, local_shape, self.code)
        if self.perm is not None:
            out = np.ascontiguousarray(np.transpose(out, np.argsort(self.perm)))
        return out

    def full(self) -> np.ndarray:
        return self.block([0] * len(self.shape), self.shape)

    def array(self, sharding: Any = None) -> Any:
        """A ``jax.Array``: on the default device, or laid out by ``sharding``,
        each addressable device's block drawn on its own."""
        jax = _jax()
        if sharding is None:
            return jax.device_put(self.full())
        if not isinstance(sharding, jax.sharding.Sharding):
            raise TypeError(f"sharding for {self.name!r} must be a jax.sharding.Sharding, not {type(sharding).__name__}")
        try:
            sharding.shard_shape(self.shape)
        except Exception as e:  # noqa: BLE001 -- JAX raises IndexError, ValueError, ... for a spec that does not fit
            raise ValueError(f"sharding {sharding} does not fit {self.name!r} of shape {self.shape}: {e}") from None
        cache: dict[tuple, np.ndarray] = {}

        def callback(index: Any) -> np.ndarray:
            if index is None:
                index = tuple(slice(None) for _ in self.shape)
            offsets, local = [], []
            for sl, n in zip(index, self.shape):
                start, stop, step = sl.indices(n)
                if step != 1:
                    raise ValueError(f"sharding of {self.name!r} asks for a strided block {index}")
                offsets.append(start)
                local.append(max(stop - start, 0))
            key = (tuple(offsets), tuple(local))
            if key not in cache:  # replicated blocks are drawn once
                cache[key] = self.block(offsets, local)
            return cache[key]

        return jax.make_array_from_callback(self.shape, sharding, callback, dtype=self.dtype)


def _canonical_dtype(dtype: Any) -> np.dtype:
    jax = _jax()
    if dtype is None:
        return np.dtype(jax.dtypes.canonicalize_dtype(np.float64))  # JAX's default float
    return np.dtype(dtype)


def _is_tracer(x: Any) -> bool:
    jax = _jax()
    return isinstance(x, jax.core.Tracer)


def _check_name(name: Any) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (the tensor's name, which keys its values), not {type(name).__name__}")
    return name


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool):
        raise TypeError("seed must be an int, not bool")
    seed = operator.index(seed)
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed {seed} must be in 0 .. 2**64 - 1")
    return seed


# ---------------------------------------------------------------------------
# One initializer


def initializer(
    scheme: str,
    *,
    seed: int = 0,
    name: str,
    layout: str = "jax",
    dtype: Any = None,
) -> Callable[..., Any]:
    """An initializer with JAX/Flax's signature ``(key, shape, dtype=None) -> Array``.

    ``scheme`` is any scheme of varinit's grammar (``"lecun_normal"``,
    ``"normal(std=0.02)"``, ``"jax.variance_scaling(2, fan_in, normal)"``, ...;
    plain names keep their home framework's meaning: ``kaiming_normal`` is
    PyTorch's, ``jax.kaiming_normal`` or :func:`kaiming_normal` JAX's).

    **The key is ignored.** The array is ``varinit.sample(scheme, shape,
    seed=seed, name=name, dtype=dtype, layout=...)`` (for ``layout="torch"``,
    the PyTorch twin transposed into place, see the module documentation),
    whatever key Flax passes, so the values do not depend on module order or
    on how Flax splits its keys. Give every tensor its own ``name``: two
    initializers with the same seed, name, scheme and shape give the same
    values.

    ``dtype`` is the default when the caller passes none (JAX's default float
    otherwise). Called with JAX's keyword ``out_sharding=`` (a
    ``jax.sharding.Sharding``), the array is built with
    ``jax.make_array_from_callback``, each device's block drawn on its own;
    the bytes are the same for every sharding. Called while tracing (inside
    ``jax.jit``, ``jax.eval_shape``, ``nnx.eval_shape``), the array is produced
    by a ``jax.pure_callback`` on the host, so ``eval_shape`` draws nothing.

    >>> import flax.linen as nn
    >>> layer = nn.Dense(256, kernel_init=initializer("lecun_normal", seed=0, name="fc1.kernel"))
    """
    if not isinstance(scheme, str):
        raise TypeError(f"scheme must be a string like 'lecun_normal', not {type(scheme).__name__}")
    _native.parse_scheme(scheme)  # a bad scheme fails here, not at the first call
    name = _check_name(name)
    seed = _check_seed(seed)
    layout = _check_layout(layout)
    default_dtype = dtype

    def init(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
        jax = _jax()
        dt = _canonical_dtype(default_dtype if dtype is None else dtype)
        t = _Tensor(scheme, tuple(shape), seed=seed, name=name, dtype=dt, layout=layout)
        if _is_tracer(key):
            return jax.pure_callback(t.full, jax.ShapeDtypeStruct(t.shape, dt), vmap_method="broadcast_all")
        return t.array(out_sharding if isinstance(out_sharding, jax.sharding.Sharding) else None)

    init.__name__ = "varinit_initializer"
    init.__qualname__ = "varinit.jax.initializer"
    init.__doc__ = f"varinit initializer: {scheme!r}, seed={seed}, name={name!r}, layout={layout!r}; the key is ignored."
    init.scheme = scheme  # type: ignore[attr-defined]
    init.seed = seed  # type: ignore[attr-defined]
    init.tensor_name = name  # type: ignore[attr-defined]
    init.layout = layout  # type: ignore[attr-defined]
    return init


# ---------------------------------------------------------------------------
# Names of pytree leaves


def _strip_box(path: tuple) -> tuple:
    """Drop the trailing ``.value`` attribute of Flax's boxes (``nn.Partitioned``,
    ``nnx.Variable``), so a boxed leaf has the name of its box."""
    jax = _jax()
    if path and isinstance(path[-1], jax.tree_util.GetAttrKey) and path[-1].name == "value":
        return path[:-1]
    return path


def leaf_name(path: Sequence[Any]) -> str:
    """The name of a pytree leaf: ``jax.tree_util.keystr(path, simple=True,
    separator=".")``, without the trailing ``.value`` of a Flax box.

    Flax linen's ``model.init`` output gives ``"params.Dense_0.kernel"``; an
    ``nnx.state(model)`` gives ``"fc1.kernel"``; a list index gives ``"layers.0.w"``.
    """
    jax = _jax()
    return jax.tree_util.keystr(_strip_box(tuple(path)), simple=True, separator=".")


_TORCH_LEAF = {"kernel": "weight", "scale": "weight", "embedding": "weight"}


def torch_name(path: Sequence[Any] | str) -> str:
    """The name the PyTorch twin gives a Flax parameter.

    From :func:`leaf_name`: a leading ``params.`` (linen's collection) is dropped
    and the last part is renamed as PyTorch names it -- ``kernel`` (Dense,
    Conv) -> ``weight``, ``scale`` (LayerNorm, RMSNorm) -> ``weight``,
    ``embedding`` (Embed) -> ``weight``; ``bias`` stays. So linen's
    ``params.fc1.kernel`` and nnx's ``fc1.kernel`` become ``fc1.weight``, the
    name ``torch.nn.Module.named_parameters()`` gives a ``self.fc1 =
    nn.Linear(...)``. Give the Flax submodules the PyTorch attribute names
    (``nn.Dense(..., name="fc1")`` or ``self.fc1 = ...`` in ``setup``/nnx).
    """
    name = path if isinstance(path, str) else leaf_name(path)
    parts = name.split(".")
    if len(parts) > 1 and parts[0] == "params":
        parts = parts[1:]
    parts[-1] = _TORCH_LEAF.get(parts[-1], parts[-1])
    return ".".join(parts)


# ---------------------------------------------------------------------------
# Whole pytrees


def _is_abstract_leaf(x: Any) -> bool:
    return hasattr(x, "shape") and hasattr(x, "dtype")


def _resolve_names(names: Any, layout: str) -> Callable[[tuple], str]:
    if names is None:
        return torch_name if layout == "torch" else leaf_name
    if names == "torch":
        return torch_name
    if names in ("path", "jax"):
        return leaf_name
    if isinstance(names, Mapping):
        table = dict(names)

        def lookup(path: tuple) -> str:
            n = leaf_name(path)
            return table.get(n, n)

        return lookup
    if callable(names):
        return names
    raise TypeError("names must be None, 'path', 'torch', a dict {leaf_name: tensor_name} or a function path -> name")


def _rule_set(rules: Any) -> tuple[list[tuple[str, str]], dict[str, str], int | None]:
    """``(rules, explicit, file_seed)``: a list of ``(glob, scheme)`` pairs as
    given, or a spec file read by the core (its ``[[tensor]]`` entries by exact
    name, its ``[[rule]]`` globs, its ``seed``)."""
    if isinstance(rules, (str, os.PathLike)):
        rule_list, explicit, file_seed = _native.load_spec(os.fspath(rules))
        return list(rule_list), dict(explicit), file_seed
    if isinstance(rules, Mapping):
        raise TypeError("rules must be an ordered list of (glob, scheme) pairs or a spec file path, not a dict")
    out = []
    for i, r in enumerate(rules):
        if not (isinstance(r, (tuple, list)) and len(r) == 2 and all(isinstance(x, str) for x in r)):
            raise TypeError(f"rule {i} must be a (glob, scheme) pair of strings, not {r!r}")
        out.append((r[0], r[1]))
    return out, {}, None


def _match(rules: Any, names: list[str]) -> tuple[list[tuple[str, str] | None], int | None]:
    """For each name, ``(scheme, rule)`` by the core's matcher (ordered globs,
    first match; ``*`` also crosses dots), or ``None``; and the spec file's seed."""
    rule_list, explicit, file_seed = _rule_set(rules)
    matcher = _native.RuleSet(rule_list)
    out: list[tuple[str, str] | None] = []
    for n in names:
        if n in explicit:
            out.append((explicit[n], "spec"))
            continue
        idx = matcher.first_match(n)
        out.append(None if idx is None else (rule_list[idx][1], rule_list[idx][0]))
    return out, file_seed


def _shardings(sharding: Any, flat: list) -> list:
    """One sharding (or None) per leaf."""
    jax = _jax()
    Sharding = jax.sharding.Sharding
    if sharding is None:
        out = []
        for _, leaf in flat:
            s = getattr(leaf, "sharding", None)
            out.append(s if isinstance(s, Sharding) else None)
        return out
    if isinstance(sharding, Sharding):
        return [sharding] * len(flat)
    if callable(sharding):
        out = []
        for path, leaf in flat:
            s = sharding(path, leaf)
            if s is not None and not isinstance(s, Sharding):
                raise TypeError(f"sharding({leaf_name(path)!r}, ...) returned {type(s).__name__}, not a Sharding")
            out.append(s)
        return out
    # a pytree of shardings, matched to the leaves by name
    sflat, _ = jax.tree_util.tree_flatten_with_path(sharding, is_leaf=lambda x: x is None or isinstance(x, Sharding))
    table = {leaf_name(p): s for p, s in sflat}
    out = []
    for path, _ in flat:
        n = leaf_name(path)
        if n not in table:
            raise ValueError(f"the sharding pytree has no entry for parameter {n!r}")
        s = table[n]
        if s is not None and not isinstance(s, Sharding):
            raise TypeError(f"sharding for {n!r} is {type(s).__name__}, not a jax.sharding.Sharding")
        out.append(s)
    return out


def plan_params(
    params: Any,
    rules: Any,
    *,
    seed: int | None = None,
    layout: str = "jax",
    names: Any = None,
    unmatched: str = "error",
) -> list[dict]:
    """What :func:`init_params` would draw, without drawing: one dict per leaf
    with ``path`` (:func:`leaf_name`), ``name`` (the tensor name that keys the
    values), ``shape``, ``dtype``, ``scheme`` (canonical) and ``distribution``
    (in words); ``scheme`` is ``None`` for a leaf kept by ``unmatched="keep"``."""
    return [
        {k: v for k, v in e.items() if k not in ("tensor", "leaf", "keypath")}
        for e in _plan(params, rules, seed=seed, layout=layout, names=names, unmatched=unmatched)[0]
    ]


def _plan(params: Any, rules: Any, *, seed: int | None, layout: str, names: Any, unmatched: str) -> tuple[list[dict], Any]:
    jax = _jax()
    layout = _check_layout(layout)
    if unmatched not in ("error", "keep"):
        raise ValueError(f"unmatched must be 'error' or 'keep', not {unmatched!r}")
    name_of = _resolve_names(names, layout)
    flat, treedef = jax.tree_util.tree_flatten_with_path(params)
    entries = []
    for path, leaf in flat:
        if not _is_abstract_leaf(leaf):
            raise TypeError(
                f"leaf {leaf_name(path)!r} is a {type(leaf).__name__}: init_params needs arrays or "
                "jax.ShapeDtypeStruct leaves (jax.eval_shape's output)"
            )
        n = name_of(path)
        if not isinstance(n, str):
            raise TypeError(f"names({leaf_name(path)!r}) returned {type(n).__name__}, not a str")
        entries.append({"keypath": path, "path": leaf_name(path), "name": n, "shape": tuple(leaf.shape),
                        "dtype": np.dtype(leaf.dtype).name, "leaf": leaf})
    seen: dict[str, str] = {}
    for e in entries:
        if e["name"] in seen:
            raise ValueError(
                f"parameters {seen[e['name']]!r} and {e['path']!r} both get the tensor name {e['name']!r} "
                "(they would get the same values); give them distinct names"
            )
        seen[e["name"]] = e["path"]
    schemes, file_seed = _match(rules, [e["name"] for e in entries])
    seed = _check_seed(file_seed if seed is None and file_seed is not None else (0 if seed is None else seed))
    missing = [e["name"] for e, s in zip(entries, schemes) if s is None]
    if missing and unmatched == "error":
        raise ValueError(
            f"no rule matches {len(missing)} parameter(s): {', '.join(missing[:20])}"
            + (" ..." if len(missing) > 20 else "")
            + " (add a rule, or pass unmatched='keep' to keep them)"
        )
    for e, m in zip(entries, schemes):
        if m is None:
            e.update(scheme=None, distribution=None, rule=None, seed=seed, tensor=None)
            continue
        scheme, rule = m
        try:
            t = _Tensor(scheme, e["shape"], seed=seed, name=e["name"], dtype=e["dtype"], layout=layout)
        except ValueError as err:
            raise ValueError(f"parameter {e['path']!r} {list(e['shape'])} (rule {rule!r} -> {scheme!r}): {err}") from None
        e.update(scheme=t.scheme, distribution=t.distribution, rule=rule, seed=seed, tensor=t)
    return entries, treedef


def init_params(
    params: Any,
    rules: Any,
    *,
    seed: int | None = None,
    layout: str = "jax",
    sharding: Any = None,
    names: Any = None,
    unmatched: str = "error",
) -> Any:
    """A new pytree like ``params`` with every leaf drawn by varinit.

    ``params`` is any pytree whose leaves have ``shape`` and ``dtype``: the
    output of ``jax.eval_shape(model.init, key, x)`` (so no random init runs
    first), ``nnx.state(abstract_model, nnx.Param)``, or real arrays. Flax's
    boxes (``nn.Partitioned``, ``nnx.Param``) are kept; their values are replaced.

    **Seed.** ``seed`` keys every tensor together with its name; by default
    the spec file's ``seed`` when ``rules`` is a spec file, else 0.

    **Names.** Each leaf is keyed by a tensor name: by default
    :func:`leaf_name` of its path, ``jax.tree_util.keystr(path, simple=True,
    separator=".")`` (``"params.Dense_0.kernel"``); with ``layout="torch"``
    (or ``names="torch"``) :func:`torch_name`, the PyTorch twin's name
    (``"Dense_0.weight"``); or ``names`` = a dict ``{leaf_name: name}`` or a
    function ``path -> name``. Two leaves may not share a name.

    **Rules** pick each leaf's scheme from its name, as in spec files: an
    ordered list of ``(glob, scheme)`` pairs (``*`` also crosses dots), the
    first match wins, or the path of a spec/style file. Matching is the core's
    (the Rust extension), the same as ``varinit init`` and
    ``varinit.torch.init_module_``. A leaf no rule matches is an error, or kept
    as it is with ``unmatched="keep"`` (not possible for abstract leaves).

    **Sharding.** ``sharding`` is a ``jax.sharding.Sharding`` for every leaf, a
    pytree of them (matched to the leaves by name; ``None`` entries mean the
    default device), or a function ``(path, abstract_leaf) -> Sharding``; by
    default a leaf's own ``.sharding`` (a ``ShapeDtypeStruct`` may carry one).
    Arrays are built with ``jax.make_array_from_callback``: each addressable
    device's block is drawn on its own by the core's region fill, at a cost
    proportional to the block (whole-matrix schemes -- orthogonal, sparse --
    compute the full tensor once per leaf). The global array's bytes are
    identical for every mesh and ``PartitionSpec``, and equal to
    ``varinit.sample(scheme, shape, seed=seed, name=name, dtype=...,
    layout=layout)``. On several hosts, every process runs the same call and
    draws only its own devices' blocks.

    >>> import jax, flax.linen as nn
    >>> model = nn.Dense(256)
    >>> abstract = jax.eval_shape(model.init, jax.random.key(0), jax.numpy.ones((1, 512)))
    >>> params = init_params(abstract, [("*.kernel", "lecun_normal"), ("*.bias", "zeros")], seed=0)
    """
    jax = _jax()
    entries, treedef = _plan(params, rules, seed=seed, layout=layout, names=names, unmatched=unmatched)
    flat = [(e["keypath"], e["leaf"]) for e in entries]
    shardings = _shardings(sharding, flat)
    leaves = []
    for e, s in zip(entries, shardings):
        t = e["tensor"]
        if t is None:
            if isinstance(e["leaf"], jax.ShapeDtypeStruct):
                raise ValueError(f"no rule matches {e['name']!r} and an abstract leaf cannot be kept")
            leaves.append(e["leaf"])
            continue
        leaves.append(t.array(s))
    return jax.tree_util.tree_unflatten(treedef, leaves)


# ---------------------------------------------------------------------------
# JAX's initializers by JAX's names, with JAX's semantics


def _num(x: Any, what: str) -> str:
    if isinstance(x, bool):
        raise TypeError(f"{what} must be a number, not bool")
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, not {type(x).__name__}") from None
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"{what} must be finite, not {v}")
    return repr(v)


def _axes(x: Any, what: str) -> str:
    if isinstance(x, bool):
        raise TypeError(f"{what} must be an int or a sequence of ints, not bool")
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    try:
        items = [operator.index(a) for a in x]
    except TypeError:
        raise TypeError(f"{what} must be an int or a sequence of ints, not {x!r}") from None
    return "'" + ",".join(str(a) for a in items) + "'"


def _jax_init(scheme: str, seed: int, name: str, dtype: Any) -> Callable[..., Any]:
    return initializer(scheme, seed=seed, name=name, layout="jax", dtype=dtype)


def variance_scaling(
    scale: float,
    mode: str,
    distribution: str,
    in_axis: int | Sequence[int] = -2,
    out_axis: int | Sequence[int] = -1,
    batch_axis: int | Sequence[int] = (),
    dtype: Any = None,
    *,
    seed: int = 0,
    name: str,
) -> Callable[..., Any]:
    """``jax.nn.initializers.variance_scaling`` drawn by varinit.

    ``var = scale / fan`` with ``mode`` one of ``fan_in``, ``fan_out``,
    ``fan_avg``, ``fan_geo_avg``; ``distribution`` ``"truncated_normal"``
    (N(0, s^2) cut at +-2s, s = sqrt(var) / 0.87962566103423978),
    ``"normal"`` (untruncated, as in JAX) or ``"uniform"`` (U(+-sqrt(3 var))).
    Fans as JAX's ``_compute_fans``: ``in_axis``/``out_axis``/``batch_axis`` are
    an axis or a sequence of axes (Flax's DenseGeneral kernels); the other axes
    are the receptive field. The scheme is the core's
    ``jax.variance_scaling(...)``.
    """
    if not isinstance(mode, str) or not isinstance(distribution, str):
        raise TypeError("mode and distribution must be strings")
    scheme = (
        f"jax.variance_scaling(scale={_num(scale, 'scale')}, mode={mode}, distribution={distribution}, "
        f"in_axis={_axes(in_axis, 'in_axis')}, out_axis={_axes(out_axis, 'out_axis')}, "
        f"batch_axis={_axes(batch_axis, 'batch_axis')})"
    )
    return _jax_init(scheme, seed, name, dtype)


def _named(jax_name: str, doc: str) -> Callable[..., Callable[..., Any]]:
    def factory(
        in_axis: int | Sequence[int] = -2,
        out_axis: int | Sequence[int] = -1,
        batch_axis: int | Sequence[int] = (),
        dtype: Any = None,
        *,
        seed: int = 0,
        name: str,
    ) -> Callable[..., Any]:
        if (in_axis, out_axis, batch_axis) == (-2, -1, ()):
            scheme = f"jax.{jax_name}"
        else:
            scheme = (
                f"jax.{jax_name}(in_axis={_axes(in_axis, 'in_axis')}, out_axis={_axes(out_axis, 'out_axis')}, "
                f"batch_axis={_axes(batch_axis, 'batch_axis')})"
            )
        return _jax_init(scheme, seed, name, dtype)

    factory.__name__ = factory.__qualname__ = jax_name
    factory.__doc__ = f"``jax.nn.initializers.{jax_name}`` drawn by varinit: {doc}"
    return factory


lecun_normal = _named("lecun_normal", "variance_scaling(1.0, 'fan_in', 'truncated_normal').")
lecun_uniform = _named("lecun_uniform", "variance_scaling(1.0, 'fan_in', 'uniform').")
glorot_normal = _named("glorot_normal", "variance_scaling(1.0, 'fan_avg', 'truncated_normal').")
glorot_uniform = _named("glorot_uniform", "variance_scaling(1.0, 'fan_avg', 'uniform').")
he_normal = _named("he_normal", "variance_scaling(2.0, 'fan_in', 'truncated_normal').")
he_uniform = _named("he_uniform", "variance_scaling(2.0, 'fan_in', 'uniform').")
xavier_normal = _named(
    "xavier_normal", "JAX's alias of glorot_normal: a *truncated* normal (PyTorch's xavier_normal_ is not)."
)
xavier_uniform = _named("xavier_uniform", "JAX's alias of glorot_uniform.")
kaiming_normal = _named(
    "kaiming_normal", "JAX's alias of he_normal: a *truncated* normal (PyTorch's kaiming_normal_ is not)."
)
kaiming_uniform = _named("kaiming_uniform", "JAX's alias of he_uniform.")


def normal(stddev: float = 1e-2, dtype: Any = None, *, seed: int = 0, name: str) -> Callable[..., Any]:
    """``jax.nn.initializers.normal``: N(0, stddev^2), stddev 0.01 by default."""
    return _jax_init(f"jax.normal(stddev={_num(stddev, 'stddev')})", seed, name, dtype)


def truncated_normal(
    stddev: float = 1e-2, dtype: Any = None, lower: float = -2.0, upper: float = 2.0, *, seed: int = 0, name: str
) -> Callable[..., Any]:
    """``jax.nn.initializers.truncated_normal``: N(0, stddev^2) cut at
    ``[lower * stddev, upper * stddev]`` (bounds in units of stddev; no
    variance correction)."""
    return _jax_init(
        f"jax.truncated_normal(stddev={_num(stddev, 'stddev')}, lower={_num(lower, 'lower')}, "
        f"upper={_num(upper, 'upper')})",
        seed,
        name,
        dtype,
    )


def uniform(scale: float = 1e-2, dtype: Any = None, *, seed: int = 0, name: str) -> Callable[..., Any]:
    """``jax.nn.initializers.uniform``: U[0, scale), scale 0.01 by default."""
    return _jax_init(f"jax.uniform(scale={_num(scale, 'scale')})", seed, name, dtype)


def orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = None, *, seed: int = 0, name: str):
    """``jax.nn.initializers.orthogonal``: scale times a (semi-)orthogonal matrix of
    the weight flattened to ``(prod(shape[:-1]), shape[-1])``; ``column_axis``
    must be -1 (the only value the core supports)."""
    return _jax_init(
        f"jax.orthogonal(scale={_num(scale, 'scale')}, column_axis={operator.index(column_axis)})", seed, name, dtype
    )


def delta_orthogonal(scale: float = 1.0, column_axis: int = -1, dtype: Any = None, *, seed: int = 0, name: str):
    """``jax.nn.initializers.delta_orthogonal``: zeros but an orthogonal
    ``in x out`` matrix at the kernel's centre (3-5-D, in <= out)."""
    return _jax_init(
        f"jax.delta_orthogonal(scale={_num(scale, 'scale')}, column_axis={operator.index(column_axis)})",
        seed,
        name,
        dtype,
    )


def constant(value: float, dtype: Any = None) -> Callable[..., Any]:
    """``jax.nn.initializers.constant``: every element equal to ``value``."""
    return _jax_init(f"constant(val={_num(value, 'value')})", 0, "", dtype)


_zeros = initializer("zeros", name="")
_ones = initializer("ones", name="")


def zeros(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
    """``jax.nn.initializers.zeros`` (an initializer itself, as in JAX)."""
    return _zeros(key, shape, dtype, out_sharding)


def ones(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any:
    """``jax.nn.initializers.ones`` (an initializer itself, as in JAX)."""
    return _ones(key, shape, dtype, out_sharding)
