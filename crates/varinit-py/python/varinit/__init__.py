"""varinit: neural-network weight initialization with reproducible streams.

Every value is a pure function of (seed, name, scheme, shape, dtype,
layout), computed by the Rust core (this package is a thin layer over it):
the same tensor comes out of ``varinit.sample``, the ``varinit sample`` command
line, ``varinit.torch``'s in-place functions and every shard of a sharded
tensor, bit for bit, whatever the thread count.

Core API (numpy):

- :func:`sample` -- a whole tensor as a numpy array;
- :func:`sample_region` -- any hyper-rectangle of it, equal to the same slice;
- :func:`fill_` -- write into an existing (writable) numpy array;
- :func:`describe` -- the distribution a scheme resolves to for a shape;
- :func:`fans`, :func:`calculate_gain` -- PyTorch's values and errors;
- :func:`styles`, :func:`load_style`, :class:`Style` -- init styles (which
  tensors get which std by layer and depth, ``docs/styles.md``), applied by
  :func:`varinit.hf.init_checkpoint`, :func:`varinit.torch.init_module_` and
  :meth:`varinit.capture.CapturePlan.apply_style`;
  :func:`style_vars` -- their variables from a Hugging Face config.

Schemes use varinit's grammar: ``"kaiming_normal(mode=fan_out, nonlinearity=relu)"``,
``"trunc_normal(std=0.02)"``, ``"orthogonal(gain=2)"`` ... (``varinit schemes``
lists them). dtypes: ``"float32"`` (default), ``"float64"``, ``"float16"`` and
``"bfloat16"`` (numpy arrays of bfloat16 need the ``ml_dtypes`` package).

Errors: a bad scheme, shape, parameter or region raises ``ValueError``
(:class:`DistributionError`, a subclass, for distribution parameters the
sampler refuses); a whole-matrix scheme too large for memory raises
``MemoryError``. Threads: the fills run on all cores (``RAYON_NUM_THREADS``
limits them); the values never depend on the thread count.
"""

from __future__ import annotations

import json
import operator
import os
from typing import Any, Sequence

import numpy as np

from . import _native
from ._native import DistributionError, Plan, Style

__all__ = [
    "DistributionError",
    "Plan",
    "STREAM_VERSION",
    "Description",
    "Style",
    "load_style",
    "style_vars",
    "styles",
    "calculate_gain",
    "describe",
    "fans",
    "fill_",
    "plan",
    "sample",
    "sample_region",
]

STREAM_VERSION: int = _native.versions()[0]
__version__: str = _native.versions()[1]

# names accepted for dtypes -> the core's names (the core's one table)
_DTYPE_CODES = {alias: name for name, _torch, _size, aliases in _native.dtypes() for alias in aliases}


def _dtype_code(dtype: Any) -> str:
    """The core's dtype name for a dtype given as a string, numpy dtype or type."""
    if isinstance(dtype, str):
        key = dtype.lower()
    else:
        try:
            key = np.dtype(dtype).name
        except TypeError:
            key = str(dtype).rsplit(".", 1)[-1].lower()
    code = _DTYPE_CODES.get(key)
    if code is None:
        raise TypeError(
            f"varinit fills float32, float64, float16 and bfloat16 tensors, not {dtype!r}"
        )
    return code


def styles() -> list[str]:
    """The names of the built-in init styles (``varinit styles`` shows
    their rules and sources)."""
    return [name for name, _ in _native.styles()]


def load_style(style: str | os.PathLike | Style) -> Style:
    """A :class:`Style`: a built-in name (:func:`styles`), the path of a
    style file, or a ``Style`` (returned as is). A file that does not load
    raises ``ValueError`` naming its ``file:line:column``."""
    if isinstance(style, Style):
        return style
    if isinstance(style, (str, os.PathLike)):
        return Style(os.fspath(style))
    raise TypeError(f"style must be a name, a path or a varinit.Style, not {type(style).__name__}")


def style_vars(config: Any) -> dict[str, float]:
    """The style variables (``L``, ``d``, ``d_ff``, ``heads``, ``kv_heads``,
    ``head_dim``, ``vocab``, ``std``, ``experts``) of a Hugging Face config:
    a transformers ``PretrainedConfig``, a dict, or a ``config.json`` path.
    Any architecture: the field names of the common families are read by
    the Rust core (``varinit_io::style::vars_from_hf_config``); a variable
    the config does not give is left out."""
    if isinstance(config, (str, os.PathLike)):
        with open(os.fspath(config), encoding="utf-8") as f:
            text = f.read()
    elif isinstance(config, dict):
        text = json.dumps(config)
    elif hasattr(config, "to_dict"):
        text = json.dumps(config.to_dict(), default=str)
    else:
        raise TypeError(f"config must be a transformers config, a dict or a path, not {type(config).__name__}")
    return dict(_native.vars_from_hf_config(text))


def _style_vars_arg(vars: Any) -> dict[str, float]:
    """``style_vars=``: a dict of numbers, or a Hugging Face config."""
    if vars is None:
        return {}
    if isinstance(vars, dict) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vars.values()):
        return {str(k): float(v) for k, v in vars.items()}
    return style_vars(vars)


def _bfloat16() -> Any:
    try:
        import ml_dtypes
    except ImportError:
        raise ImportError(
            "numpy has no bfloat16: install ml_dtypes (pip install ml_dtypes) for bfloat16 arrays"
        ) from None
    return ml_dtypes.bfloat16


def _numpy_dtype(code: str) -> np.dtype:
    if code == "bf16":
        return np.dtype(_bfloat16())
    return np.dtype({"f32": np.float32, "f64": np.float64, "f16": np.float16}[code])


def _shape(shape: Any, what: str = "shape") -> list[int]:
    """A shape as a list of non-negative ints (an int is a 1-D shape)."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        dims = [shape]
    else:
        try:
            dims = list(shape)
        except TypeError:
            raise TypeError(f"{what} must be a sequence of ints, not {type(shape).__name__}") from None
    out = []
    for d in dims:
        if isinstance(d, bool):
            raise TypeError(f"{what} entries must be ints, not bool")
        try:
            d = operator.index(d)
        except TypeError:
            raise TypeError(f"{what} entries must be ints, not {type(d).__name__}") from None
        if d < 0:
            raise ValueError(f"{what} {tuple(dims)} has a negative dimension")
        out.append(d)
    return out


def plan(
    scheme: str,
    shape: Sequence[int],
    *,
    seed: int = 0,
    name: str = "",
    layout: str = "torch",
    transposed: bool = False,
) -> Plan:
    """Resolve ``scheme`` for ``shape`` and key it by (seed, name).

    The returned :class:`Plan` fills any region of the tensor; reuse it to
    fill many regions of one tensor (whole-matrix schemes such as orthogonal
    then compute the full matrix only once).
    """
    if not isinstance(scheme, str):
        raise TypeError(f"scheme must be a string like 'kaiming_normal', not {type(scheme).__name__}")
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, not {type(name).__name__}")
    seed = operator.index(seed)
    if seed < 0 or seed >= 1 << 64:
        raise ValueError(f"seed {seed} must be in 0 .. 2**64 - 1")
    return Plan(scheme, _shape(shape), seed, name, layout, bool(transposed))


def _fill_array(p: Plan, array: np.ndarray, offsets: list[int], local_shape: list[int], code: str) -> None:
    """Fill numpy ``array`` (of shape ``local_shape``) with the region at ``offsets``."""
    n = int(np.prod(local_shape, dtype=np.int64)) if local_shape else 1
    if n == 0:
        p.fill(code, 0, 0, 0, offsets, local_shape, None)
        return
    itemsize = array.itemsize
    address = array.__array_interface__["data"][0]
    if array.flags.c_contiguous:
        p.fill(code, address, n, 0, offsets, local_shape, None)
        return
    strides = []
    for s in array.strides:
        if s % itemsize:
            raise ValueError(f"array strides {array.strides} are not multiples of the item size {itemsize}")
        strides.append(s // itemsize)
    low = sum((d - 1) * s for d, s in zip(local_shape, strides) if s < 0)
    high = sum((d - 1) * s for d, s in zip(local_shape, strides) if s > 0)
    p.fill(code, address + low * itemsize, high - low + 1, -low, offsets, local_shape, strides)


def sample(
    scheme: str,
    shape: Sequence[int],
    *,
    seed: int = 0,
    name: str = "",
    dtype: Any = "float32",
    layout: str = "torch",
    transposed: bool = False,
) -> np.ndarray:
    """A new numpy array drawn from ``scheme``, keyed by (seed, name).

    Bit-identical to ``varinit sample SCHEME --shape ... --seed SEED --name NAME
    --dtype ... --layout ... -o x.npy`` and to ``varinit.torch``'s functions with
    the same seed and name.

    >>> w = sample("kaiming_normal(nonlinearity=relu)", (256, 512), seed=0, name="fc1.weight")
    >>> w.shape, w.dtype
    ((256, 512), dtype('float32'))
    """
    dims = _shape(shape)
    return sample_region(
        scheme, dims, [0] * len(dims), dims, seed=seed, name=name, dtype=dtype, layout=layout, transposed=transposed
    )


def sample_region(
    scheme: str,
    shape: Sequence[int],
    offsets: Sequence[int],
    local_shape: Sequence[int],
    *,
    seed: int = 0,
    name: str = "",
    dtype: Any = "float32",
    layout: str = "torch",
    transposed: bool = False,
) -> np.ndarray:
    """The region ``offsets .. offsets + local_shape`` of the tensor of ``shape``.

    Equal, bit for bit, to ``sample(scheme, shape, ...)[offsets[0]:offsets[0] +
    local_shape[0], ...]``, at a cost proportional to the region's size for
    element-wise schemes. Whole-matrix schemes (orthogonal, delta_orthogonal,
    sparse) compute the full tensor and copy the slice.
    """
    code = _dtype_code(dtype)
    p = plan(scheme, shape, seed=seed, name=name, layout=layout, transposed=transposed)
    offs, local = _shape(offsets, "offsets"), _shape(local_shape, "local_shape")
    p.check_dtype(code)
    out = np.empty(local, dtype=_numpy_dtype(code))
    _fill_array(p, out, offs, local, code)
    return out


def fill_(
    array: np.ndarray,
    scheme: str,
    *,
    seed: int = 0,
    name: str = "",
    layout: str = "torch",
    transposed: bool = False,
    shape: Sequence[int] | None = None,
    offsets: Sequence[int] | None = None,
) -> np.ndarray:
    """Fill a writable numpy array in place and return it.

    The array is the whole tensor, or -- with ``shape`` (the global shape) and
    ``offsets`` -- the region of a larger tensor that starts at ``offsets``.
    Any strides work (views, transposes, negative steps); the values are
    those of the logical indices. float32, float64, float16 and (with
    ml_dtypes) bfloat16 arrays.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"fill_ needs a numpy array, not {type(array).__name__}")
    code = _dtype_code(array.dtype)
    if not array.flags.writeable:
        raise ValueError("assignment destination is read-only: fill_ needs a writable array")
    local = list(array.shape)
    global_shape = local if shape is None else _shape(shape)
    offs = [0] * len(local) if offsets is None else _shape(offsets, "offsets")
    p = plan(scheme, global_shape, seed=seed, name=name, layout=layout, transposed=transposed)
    p.check_dtype(code)
    _fill_array(p, array, offs, local, code)
    return array


class Description(dict):
    """The distribution a scheme resolves to, as a dict; ``str()`` gives it in words."""

    def __str__(self) -> str:
        return str(self["distribution"])


def describe(scheme: str, shape: Sequence[int], layout: str = "torch", *, transposed: bool = False) -> Description:
    """The resolved distribution of ``scheme`` for ``shape``, without drawing.

    >>> d = describe("kaiming_normal(nonlinearity=relu)", (256, 512))
    >>> str(d)
    'N(0, 0.0625^2)'
    >>> d["kind"], d["std"]
    ('normal', 0.0625)
    """
    import json

    p = plan(scheme, shape, layout=layout, transposed=transposed)
    d = Description(json.loads(p.resolved_json))
    d["distribution"] = p.distribution
    d["scheme"] = p.scheme
    d["shape"] = tuple(_shape(shape))
    d["layout"] = layout
    mean, std = p.moments
    d["expected_mean"], d["expected_std"] = mean, std
    d["elementwise"] = p.elementwise
    try:
        d["fan_in"], d["fan_out"] = fans(shape, layout, transposed=transposed)
    except ValueError:
        pass
    return d


def fans(shape: Sequence[int], layout: str = "torch", *, transposed: bool = False) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as PyTorch's
    ``_calculate_fan_in_and_fan_out`` computes them for ``layout="torch"``
    (``"keras"`` and ``"jax"`` read ``(*kernel, in, out)``)."""
    fan_in, fan_out, _ = _native.fans(_shape(shape), layout, bool(transposed))
    return fan_in, fan_out


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """PyTorch's ``torch.nn.init.calculate_gain``: same values, same ``ValueError``s."""
    if param is None:
        return _native.calculate_gain(nonlinearity)
    if isinstance(param, (int, float)) and not isinstance(param, bool):
        return _native.calculate_gain(nonlinearity, float(param))
    return _native.calculate_gain(nonlinearity, None, str(param))
