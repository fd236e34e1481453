"""varinit for PyTorch: ``torch.nn.init``'s functions, whole modules, sharded tensors.

Every function takes ``torch.nn.init``'s positional and keyword parameters
with its defaults, plus keyword-only ``seed`` and ``name``, fills the tensor
in place and returns it::

    import varinit.torch as vi
    vi.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu", seed=0, name="conv1.weight")

The values are a pure function of (seed, name, scheme, shape, dtype): equal
to ``varinit.sample(...)`` and to the ``varinit sample`` command line with the
same arguments, whatever the thread count. Without ``name=`` a tensor is
keyed by call order (``"#0"``, ``"#1"``, ... since the start or the last
:func:`manual_seed`), like PyTorch's global generator; pass a name for
values that do not depend on the order of the calls.

**Memory.** Contiguous CPU tensors are written directly through their
memory (no copy); non-contiguous CPU tensors by logical index through their
strides; tensors on other devices (CUDA) are generated in bounded chunks of
host memory (pinned for CUDA) and copied -- that path could not be tested
on a machine without a GPU. ``requires_grad`` parameters are filled as
under ``torch.no_grad()``; zero-size and meta tensors are left alone (after
the arguments are checked).

**Sharded tensors.** For a ``DTensor`` (tensor parallel, FSDP2
``fully_shard`` parameters, any ``DeviceMesh`` with ``Shard``/``Replicate``
placements) each rank fills only its local shard, with the values its
region has in the global tensor: gathering the shards gives the bytes of
the single-process tensor. See :func:`init_module_`.

**Errors** are PyTorch's types: ``ValueError`` for bad arguments (modes,
nonlinearities, shapes), ``RuntimeError`` for parameters the sampler refuses
(``uniform_(a=1, b=0)``, a negative std, values the dtype cannot hold),
read-only (inference) tensors and overlapping views, ``NotImplementedError``
for random schemes on integer, complex or float8 tensors, ``TypeError`` for
non-tensors. Integer tensors with ``zeros_``, ``ones_``, ``constant_``,
``eye_`` and ``dirac_`` are handed to ``torch.nn.init`` (no randomness).
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import torch

from . import _native
from ._native import DistributionError, Plan

__all__ = [
    "manual_seed",
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "zeros_",
    "ones_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
    "lecun_uniform_",
    "lecun_normal_",
    "glorot_uniform_",
    "glorot_normal_",
    "he_uniform_",
    "he_normal_",
    "variance_scaling_",
    "delta_orthogonal_",
    "init_",
    "init_module_",
    "capture",
    "calculate_gain",
    "fans",
    "local_region",
    "Journal",
    "JournalEntry",
]

# torch dtype -> the core's name (the core's one table)
_DTYPES = {getattr(torch, torch_name): name for name, torch_name, _size, _aliases in _native.dtypes()}

_default_seed = 0
_counter = itertools.count()

# Bytes of host memory per chunk when filling a tensor on another device.
CHUNK_BYTES = 64 << 20


def manual_seed(seed: int) -> None:
    """Set the seed used when a function gets no ``seed=``, and restart the
    automatic names (``"#0"``, ``"#1"``, ...) of tensors filled without ``name=``."""
    global _default_seed, _counter
    _default_seed = _check_seed(seed)
    _counter = itertools.count()


def _check_seed(seed: Any) -> int:
    if isinstance(seed, bool):
        raise TypeError("seed must be an int, not bool")
    try:
        seed = int(seed.__index__())
    except (AttributeError, TypeError):
        raise TypeError(f"seed must be an int, not {type(seed).__name__}") from None
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"seed {seed} must be in 0 .. 2**64 - 1")
    return seed


def _key(seed: int | None, name: str | None) -> tuple[int, str]:
    seed = _default_seed if seed is None else _check_seed(seed)
    if name is None:
        name = f"#{next(_counter)}"
    elif not isinstance(name, str):
        raise TypeError(f"name must be a string, not {type(name).__name__}")
    return seed, name


def _num(x: Any, what: str) -> str:
    """A number as text the scheme grammar reads back exactly."""
    if isinstance(x, torch.Tensor):
        x = x.item()
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, not {type(x).__name__}") from None
    if math.isnan(v) or math.isinf(v):
        raise ValueError(f"{what} = {v} is not a finite number")
    return repr(v)


@contextlib.contextmanager
def _torch_errors() -> Iterator[None]:
    """Raise what PyTorch raises: the sampler's parameter errors are RuntimeErrors."""
    try:
        yield
    except DistributionError as e:
        raise RuntimeError(str(e)) from None


def _is_dtensor(t: torch.Tensor) -> bool:
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # pragma: no cover - torch built without distributed
        return False
    return isinstance(t, DTensor)


def _check_tensor(tensor: Any, fn: str) -> None:
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{fn}: expected a torch.Tensor, got {type(tensor).__name__}")


def _plan(scheme: str, shape: Sequence[int], seed: int, name: str, transposed: bool = False) -> Plan:
    with _torch_errors():
        return Plan(scheme, [int(d) for d in shape], seed, name, "torch", bool(transposed))


def local_region(tensor: torch.Tensor) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """``(global_shape, offsets, local_shape)`` of the part of ``tensor`` this process holds.

    For a plain tensor, the whole tensor. For a DTensor, the local shard's
    region in the global tensor, from PyTorch's own
    ``torch.distributed.tensor._utils.compute_local_shape_and_global_offset``
    (the helper PyTorch's distributed checkpointing uses).
    """
    shape = tuple(int(d) for d in tensor.shape)
    if not _is_dtensor(tensor):
        return shape, (0,) * len(shape), shape
    from torch.distributed.tensor import Partial
    from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

    for p in tensor.placements:
        if isinstance(p, Partial):
            raise NotImplementedError(
                f"varinit cannot initialize a DTensor with a Partial placement ({tensor.placements}): "
                "its local tensors are summands, not regions of the global tensor"
            )
    local_shape, offsets = compute_local_shape_and_global_offset(tensor.shape, tensor.device_mesh, tensor.placements)
    local_shape = tuple(int(d) for d in local_shape)
    offsets = tuple(int(d) for d in offsets) if offsets else (0,) * len(shape)
    return shape, offsets, local_shape


def _strided_index_lists(tensor: torch.Tensor) -> list[list[int] | None] | None:
    """Per dimension, the global indices of the local shard's positions, for
    placements that include a ``_StridedShard`` (None otherwise, or for a
    dimension held whole).

    ``compute_local_shape_and_global_offset`` returns only the first global
    offset of each dimension, which describes the shard only when its indices
    are one contiguous block. Under ``_StridedShard`` they may interleave, so
    the same left-to-right walk over the placements is done here keeping every
    index (with the placements' own ``_local_shard_size_and_offset``, which the
    helper calls too).
    """
    try:
        from torch.distributed.tensor.placement_types import _StridedShard, _StridedShardOffsetMode
    except ImportError:  # pragma: no cover - older torch
        return None
    from torch.distributed.tensor import Shard

    placements = tensor.placements
    if not any(isinstance(p, _StridedShard) for p in placements):
        return None
    mesh = tensor.device_mesh
    coord = mesh.get_coordinate()
    shape = [int(d) for d in tensor.shape]
    idx: list[list[int] | None] = [None] * len(shape)
    try:
        for md, p in enumerate(placements):
            if isinstance(p, _StridedShard):
                cur = idx[p.dim] if idx[p.dim] is not None else list(range(shape[p.dim]))
                size, offs = p._local_shard_size_and_offset(
                    len(cur), mesh.size(md), coord[md], _StridedShardOffsetMode.ALL
                )
                idx[p.dim] = [cur[int(o)] for o in offs][: int(size)] if size else []
            elif isinstance(p, Shard):
                cur = idx[p.dim] if idx[p.dim] is not None else list(range(shape[p.dim]))
                size, off = p._local_shard_size_and_offset(len(cur), mesh.size(md), coord[md])
                idx[p.dim] = cur[int(off) : int(off) + int(size)]
    except (AttributeError, TypeError) as e:  # pragma: no cover - the private API changed
        raise NotImplementedError(
            f"varinit cannot compute the local region of placements {placements} with this PyTorch version: {e}"
        ) from None
    return idx


def _runs(indices: list[int]) -> list[tuple[int, int, int]]:
    """Maximal runs of consecutive indices: (local start, global start, length)."""
    runs: list[tuple[int, int, int]] = []
    for pos, g in enumerate(indices):
        if runs and runs[-1][1] + runs[-1][2] == g:
            ls, gs, n = runs[-1]
            runs[-1] = (ls, gs, n + 1)
        else:
            runs.append((pos, g, 1))
    return runs


def _fill_local_shard(p: Plan, tensor: torch.Tensor, local: torch.Tensor, fn: str, code: str) -> None:
    """Fill a DTensor's local shard with its values in the global tensor."""
    global_shape, offsets, local_shape = local_region(tensor)
    lists = _strided_index_lists(tensor)
    if lists is not None:
        local_shape = tuple(len(ix) if ix is not None else global_shape[d] for d, ix in enumerate(lists))
    if tuple(local.shape) != tuple(local_shape):
        raise RuntimeError(
            f"varinit.torch.{fn}: the local shard has shape {tuple(local.shape)}, but its placements "
            f"{tensor.placements} give the region {tuple(local_shape)} at {tuple(offsets)}; "
            "this sharding is not supported"
        )
    if lists is None:
        _fill_tensor(p, local, offsets, local_shape, code)
        return
    # one hyper-rectangle per combination of runs (a single one when every
    # dimension's indices are contiguous)
    per_dim = [_runs(ix) if ix is not None else [(0, 0, global_shape[d])] for d, ix in enumerate(lists)]
    if any(len(r) == 0 for r in per_dim):
        return
    for combo in itertools.product(*per_dim):
        view = local[tuple(slice(ls, ls + n) for ls, _, n in combo)]
        _fill_tensor(p, view, [gs for _, gs, _ in combo], [n for _, _, n in combo], code)


def _fill_tensor(p: Plan, tensor: torch.Tensor, offsets: Sequence[int], local_shape: Sequence[int], code: str) -> None:
    """Fill local tensor ``tensor`` (shape ``local_shape``) with the region at ``offsets``."""
    if tensor.is_inference() and not torch.is_inference_mode_enabled():
        raise RuntimeError(
            "Inplace update to inference tensor outside InferenceMode is not allowed "
            "(varinit writes the tensor in place); make a clone first"
        )
    n = tensor.numel()
    if n == 0:
        return
    if tensor.device.type != "cpu":
        _fill_chunked(p, tensor, offsets, local_shape, code, CHUNK_BYTES)
        return
    offsets, local_shape = [int(x) for x in offsets], [int(x) for x in local_shape]
    address = tensor.data_ptr()
    try:
        if tensor.is_contiguous():
            p.fill(code, address, n, 0, offsets, local_shape, None)
        else:
            strides = [int(s) for s in tensor.stride()]
            span = 1 + sum((d - 1) * s for d, s in zip(local_shape, strides))
            p.fill(code, address, span, 0, offsets, local_shape, strides)
    except DistributionError as e:
        raise RuntimeError(str(e)) from None
    except ValueError as e:
        # the scheme was accepted: what is left is the memory layout (an
        # expanded view whose elements share memory), which PyTorch reports
        # as a RuntimeError
        raise RuntimeError(f"unsupported operation: {e}") from None
    _bump_version(tensor)


def _bump_version(tensor: torch.Tensor) -> None:
    """Tell autograd the tensor changed (as an in-place op under no_grad does)."""
    inc = getattr(torch.autograd.graph, "increment_version", None)
    if inc is not None:
        try:
            inc(tensor)
        except RuntimeError:  # pragma: no cover - e.g. tensors without a version counter
            pass


def _fill_chunked(
    p: Plan, tensor: torch.Tensor, offsets: Sequence[int], local_shape: Sequence[int], code: str, chunk_bytes: int
) -> None:
    """Fill a tensor on any device through bounded host buffers.

    The local region is cut along its first dimension into blocks of at
    most ``chunk_bytes`` (at least one slice); each block is generated into
    a host buffer (pinned for CUDA) and copied into the tensor's slice. Used
    for CUDA tensors; untested on a GPU (none was available), tested on CPU
    by forcing it with a small ``chunk_bytes``.
    """
    offsets, local_shape = [int(x) for x in offsets], [int(x) for x in local_shape]
    itemsize = tensor.element_size()
    if not local_shape:
        blocks, row = 1, 1
        view = tensor.reshape(1)
    else:
        row = math.prod(local_shape[1:])
        blocks = local_shape[0]
        view = tensor
    rows = max(1, chunk_bytes // max(1, row * itemsize))
    rows = min(rows, blocks)
    pin = tensor.device.type == "cuda"
    buf = torch.empty(rows * row, dtype=tensor.dtype, pin_memory=pin)
    with torch.no_grad():
        for r0 in range(0, blocks, rows):
            r = min(rows, blocks - r0)
            part = buf[: r * row]
            if local_shape:
                offs = [offsets[0] + r0] + offsets[1:]
                shp = [r] + local_shape[1:]
                dest = view[r0 : r0 + r]
            else:
                offs, shp, dest = [], [], view
            with _torch_errors():
                p.fill(code, part.data_ptr(), r * row, 0, offs, shp, None)
            dest.copy_(part.view(dest.shape), non_blocking=pin)
            if pin:
                # the buffer is reused by the next block
                torch.cuda.current_stream(tensor.device).synchronize()
    _bump_version(tensor)


_NON_RANDOM = {"constant", "zeros", "ones", "eye", "dirac"}


def _apply(
    tensor: torch.Tensor,
    scheme: str,
    fn: str,
    seed: int | None,
    name: str | None,
    *,
    torch_fallback: Any = None,
    transposed: bool = False,
) -> torch.Tensor:
    _check_tensor(tensor, fn)
    seed, name = _key(seed, name)
    global_shape, offsets, local_shape = local_region(tensor)
    p = _plan(scheme, global_shape, seed, name, transposed)
    code = _DTYPES.get(tensor.dtype)
    if code is None:
        if torch_fallback is not None and not tensor.is_complex():
            with torch.no_grad():
                return torch_fallback()
        raise NotImplementedError(
            f"varinit.torch.{fn}: {tensor.dtype} is not supported; "
            "varinit fills float32, float64, float16 and bfloat16 tensors"
        )
    with _torch_errors():
        p.check_dtype(code)
    if tensor.device.type == "meta" or tensor.numel() == 0:
        return tensor
    if _is_dtensor(tensor):
        with torch.no_grad():
            _fill_local_shard(p, tensor, tensor.to_local(), fn, code)
        return tensor
    with torch.no_grad():
        _fill_tensor(p, tensor, offsets, local_shape, code)
    return tensor


def _no_generator(generator: Any, fn: str) -> None:
    if generator is not None:
        raise ValueError(
            f"varinit.torch.{fn}: values come from (seed, name), not from a torch.Generator; "
            "pass seed=... and name=... instead of generator="
        )


# ---------------------------------------------------------------------------
# torch.nn.init's functions


def uniform_(
    tensor: torch.Tensor,
    a: float = 0.0,
    b: float = 1.0,
    generator: None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """Fill with U(a, b) (``torch.nn.init.uniform_``)."""
    _no_generator(generator, "uniform_")
    return _apply(tensor, f"uniform(a={_num(a, 'a')}, b={_num(b, 'b')})", "uniform_", seed, name)


def normal_(
    tensor: torch.Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    generator: None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """Fill with N(mean, std²) (``torch.nn.init.normal_``)."""
    _no_generator(generator, "normal_")
    return _apply(tensor, f"normal(mean={_num(mean, 'mean')}, std={_num(std, 'std')})", "normal_", seed, name)


def trunc_normal_(
    tensor: torch.Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator: None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """Fill with N(mean, std²) restricted to the absolute bounds [a, b]
    (``torch.nn.init.trunc_normal_``)."""
    _no_generator(generator, "trunc_normal_")
    scheme = f"trunc_normal(mean={_num(mean, 'mean')}, std={_num(std, 'std')}, a={_num(a, 'a')}, b={_num(b, 'b')})"
    return _apply(tensor, scheme, "trunc_normal_", seed, name)


def constant_(tensor: torch.Tensor, val: float, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """Fill with ``val`` (``torch.nn.init.constant_``)."""
    return _apply(
        tensor,
        f"constant(val={_num(val, 'val')})",
        "constant_",
        seed,
        name,
        torch_fallback=lambda: torch.nn.init.constant_(tensor, val),
    )


def zeros_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """Fill with 0 (``torch.nn.init.zeros_``)."""
    return _apply(tensor, "zeros", "zeros_", seed, name, torch_fallback=lambda: torch.nn.init.zeros_(tensor))


def ones_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """Fill with 1 (``torch.nn.init.ones_``)."""
    return _apply(tensor, "ones", "ones_", seed, name, torch_fallback=lambda: torch.nn.init.ones_(tensor))


def eye_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """The identity matrix, 2-D (``torch.nn.init.eye_``)."""
    return _apply(tensor, "eye", "eye_", seed, name, torch_fallback=lambda: torch.nn.init.eye_(tensor))


def dirac_(tensor: torch.Tensor, groups: int = 1, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """The identity-preserving convolution kernel, 3-5-D (``torch.nn.init.dirac_``)."""
    g = int(groups)
    return _apply(
        tensor, f"dirac(groups={g})", "dirac_", seed, name, torch_fallback=lambda: torch.nn.init.dirac_(tensor, groups)
    )


def xavier_uniform_(
    tensor: torch.Tensor, gain: float = 1.0, generator: None = None, *, seed: int | None = None, name: str | None = None
) -> torch.Tensor:
    """U(-l, l), l = gain·sqrt(6/(fan_in+fan_out)) (``torch.nn.init.xavier_uniform_``)."""
    _no_generator(generator, "xavier_uniform_")
    return _apply(tensor, f"xavier_uniform(gain={_num(gain, 'gain')})", "xavier_uniform_", seed, name)


def xavier_normal_(
    tensor: torch.Tensor, gain: float = 1.0, generator: None = None, *, seed: int | None = None, name: str | None = None
) -> torch.Tensor:
    """N(0, s²), s = gain·sqrt(2/(fan_in+fan_out)) (``torch.nn.init.xavier_normal_``)."""
    _no_generator(generator, "xavier_normal_")
    return _apply(tensor, f"xavier_normal(gain={_num(gain, 'gain')})", "xavier_normal_", seed, name)


def _kaiming(family: str, tensor: torch.Tensor, a: float, mode: str, nonlinearity: str, seed: Any, name: Any) -> torch.Tensor:
    fn = f"kaiming_{family}_"
    _check_tensor(tensor, fn)
    mode_s, nl_s = str(mode), str(nonlinearity)
    # PyTorch checks the mode and the nonlinearity (ValueError) before anything else
    if mode_s.lower() not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of ['fan_in', 'fan_out']")
    calculate_gain(nl_s, a)
    scheme = f"kaiming_{family}(a={_num(a, 'a')}, mode={mode_s}, nonlinearity={nl_s})"
    return _apply(tensor, scheme, fn, seed, name)


def kaiming_uniform_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """U(-l, l), l = gain·sqrt(3/fan) (``torch.nn.init.kaiming_uniform_``)."""
    _no_generator(generator, "kaiming_uniform_")
    return _kaiming("uniform", tensor, a, mode, nonlinearity, seed, name)


def kaiming_normal_(
    tensor: torch.Tensor,
    a: float = 0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """N(0, s²), s = gain/sqrt(fan) (``torch.nn.init.kaiming_normal_``)."""
    _no_generator(generator, "kaiming_normal_")
    return _kaiming("normal", tensor, a, mode, nonlinearity, seed, name)


def orthogonal_(
    tensor: torch.Tensor, gain: float = 1, generator: None = None, *, seed: int | None = None, name: str | None = None
) -> torch.Tensor:
    """A (semi-)orthogonal matrix times ``gain`` (``torch.nn.init.orthogonal_``).

    A whole-matrix scheme: every rank of a sharded tensor computes the full
    matrix and keeps its slice."""
    _no_generator(generator, "orthogonal_")
    return _apply(tensor, f"orthogonal(gain={_num(gain, 'gain')})", "orthogonal_", seed, name)


def sparse_(
    tensor: torch.Tensor,
    sparsity: float,
    std: float = 0.01,
    generator: None = None,
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """N(0, std²) with ceil(sparsity·rows) zeros per column, 2-D (``torch.nn.init.sparse_``).

    A whole-matrix scheme (see :func:`orthogonal_`)."""
    _no_generator(generator, "sparse_")
    scheme = f"sparse(sparsity={_num(sparsity, 'sparsity')}, std={_num(std, 'std')})"
    return _apply(tensor, scheme, "sparse_", seed, name)


# ---------------------------------------------------------------------------
# Keras / JAX families (fans read PyTorch's (out, in, *kernel) layout)


def lecun_uniform_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """``variance_scaling(1, fan_in, uniform)`` (Keras/JAX ``lecun_uniform``)."""
    return _apply(tensor, "lecun_uniform", "lecun_uniform_", seed, name)


def lecun_normal_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """``variance_scaling(1, fan_in, truncated_normal)`` (Keras/JAX ``lecun_normal``)."""
    return _apply(tensor, "lecun_normal", "lecun_normal_", seed, name)


def glorot_uniform_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """``variance_scaling(1, fan_avg, uniform)`` (Keras/JAX ``glorot_uniform``)."""
    return _apply(tensor, "glorot_uniform", "glorot_uniform_", seed, name)


def glorot_normal_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """``variance_scaling(1, fan_avg, truncated_normal)`` (Keras/JAX ``glorot_normal``)."""
    return _apply(tensor, "glorot_normal", "glorot_normal_", seed, name)


def he_uniform_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """``variance_scaling(2, fan_in, uniform)`` (Keras/JAX ``he_uniform``)."""
    return _apply(tensor, "he_uniform", "he_uniform_", seed, name)


def he_normal_(tensor: torch.Tensor, *, seed: int | None = None, name: str | None = None) -> torch.Tensor:
    """``variance_scaling(2, fan_in, truncated_normal)`` (Keras/JAX ``he_normal``)."""
    return _apply(tensor, "he_normal", "he_normal_", seed, name)


def variance_scaling_(
    tensor: torch.Tensor,
    scale: float = 1.0,
    mode: str = "fan_in",
    distribution: str = "truncated_normal",
    *,
    seed: int | None = None,
    name: str | None = None,
) -> torch.Tensor:
    """Keras/JAX ``variance_scaling``: var = scale/max(1, fan); ``distribution``
    is ``truncated_normal`` (variance-corrected, cut at ±2s), ``untruncated_normal``
    or ``uniform``."""
    scheme = f"variance_scaling(scale={_num(scale, 'scale')}, mode={mode}, distribution={distribution})"
    return _apply(tensor, scheme, "variance_scaling_", seed, name)


def delta_orthogonal_(
    tensor: torch.Tensor, gain: float = 1.0, *, seed: int | None = None, name: str | None = None
) -> torch.Tensor:
    """Zeros except an orthogonal in×out matrix at the kernel's centre, 3-5-D
    (Xiao et al. 2018). A whole-matrix scheme."""
    return _apply(tensor, f"delta_orthogonal(gain={_num(gain, 'gain')})", "delta_orthogonal_", seed, name)


def init_(
    tensor: torch.Tensor,
    scheme: str,
    *,
    seed: int | None = None,
    name: str | None = None,
    transposed: bool = False,
) -> torch.Tensor:
    """Fill with any scheme of varinit's grammar (``"trunc_normal(std=0.02)"``,
    ``"torch_default"``, ...). ``transposed=True`` declares a transposed
    convolution's weight for fan-based schemes."""
    if not isinstance(scheme, str):
        raise TypeError(f"scheme must be a string, not {type(scheme).__name__}")
    return _apply(tensor, scheme, "init_", seed, name, transposed=transposed)


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    """``torch.nn.init.calculate_gain``: same values, same ``ValueError``s."""
    from . import calculate_gain as _cg

    return _cg(nonlinearity, param)


def fans(tensor: torch.Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` as ``torch.nn.init._calculate_fan_in_and_fan_out``."""
    _check_tensor(tensor, "fans")
    fan_in, fan_out, _ = _native.fans([int(d) for d in tensor.shape], "torch", False)
    return fan_in, fan_out


# ---------------------------------------------------------------------------
# Whole modules


@dataclass
class JournalEntry:
    """What :func:`init_module_` did to one parameter."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scheme: str | None
    distribution: str | None
    rule: str | None
    status: str  # "initialized", "kept" (no rule matched) or "meta" (nothing to write)
    local_shape: tuple[int, ...] = ()
    offsets: tuple[int, ...] = ()


@dataclass
class Journal:
    """The record of :func:`init_module_`: one entry per parameter, in order."""

    seed: int
    entries: list[JournalEntry] = field(default_factory=list)

    @property
    def unmatched(self) -> list[str]:
        """Names of the parameters no rule matched (left as they were)."""
        return [e.name for e in self.entries if e.status == "kept"]

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __str__(self) -> str:
        lines = [f"seed {self.seed}"]
        w = max((len(e.name) for e in self.entries), default=4)
        for e in self.entries:
            shape = "x".join(map(str, e.shape)) or "scalar"
            what = e.distribution if e.status == "initialized" else e.status
            lines.append(f"{e.name:<{w}}  {shape:<14} {e.dtype:<9} {e.scheme or '-'}  ->  {what}")
        return "\n".join(lines)


class UnmatchedParametersError(ValueError):
    """Raised by :func:`init_module_` when rules leave parameters uncovered."""


def init_module_(
    module: torch.nn.Module,
    rules: Sequence[tuple[str, str]] | str | os.PathLike,
    *,
    seed: int | None = None,
    unmatched: str = "error",
    prefix: str = "",
    style: Any = None,
    style_vars: Any = None,
) -> Journal:
    """Initialize every parameter of ``module`` in place, by its name.

    ``rules`` is an ordered list of ``(glob, scheme)`` pairs -- the first glob
    matching a parameter's ``named_parameters()`` name wins; ``*`` also
    crosses dots, ``{a,b}`` gives alternatives (the same matcher as varinit's
    spec files) -- or the path of a varinit spec file (TOML: its
    ``[[tensor]]`` entries give schemes by exact name, its ``[[rule]]``
    entries globs; its ``seed`` is used unless ``seed=`` is given).

    Each parameter is filled with the values of ``varinit.sample(scheme,
    shape, seed=seed, name=prefix + name, dtype=...)``. DTensor parameters
    (tensor parallel, FSDP2 ``fully_shard``) are filled shard by shard:
    every rank writes only its local shard, with the values its region has
    in the global tensor. Works on modules built on the meta device and
    materialized with ``module.to_empty(device=...)``; parameters still on
    the meta device are checked and reported (status ``"meta"``).

    ``unmatched="error"`` (default) raises ``ValueError`` naming every
    parameter no rule matches, before anything is written; ``"keep"``
    leaves them as they are and lists them in ``journal.unmatched``.
    Buffers are not touched. Returns the :class:`Journal`.

    ``style``: an init style (a built-in name of :func:`varinit.styles`, a
    style file's path or a :class:`varinit.Style`) applied over the rules:
    the scheme the rules give a parameter is the default the style's
    ``keep`` (and a parameter no style rule matches) refers to, and a
    style rule with a scheme replaces it (a parameter no rule matches gets
    the style's scheme when it has one). ``style_vars``: the style's
    variables, a dict (``{"L": 16, "d": 2048, ...}``) or a Hugging Face
    config (default: ``module.config`` when the module has one). The
    journal's ``rule`` reads ``style NAME (FILE:LINE)`` for a parameter
    the style decided. With a :class:`CapturePlan` as ``rules``, the plan
    gives the defaults (:meth:`CapturePlan.apply_style`).
    """
    if isinstance(rules, CapturePlan):  # a plan from capture() (issue 13)
        return apply_plan(module, rules, seed=seed, prefix=prefix, style=style, style_vars=style_vars)
    if not isinstance(module, torch.nn.Module):
        raise TypeError(f"init_module_ needs a torch.nn.Module, not {type(module).__name__}")
    if unmatched not in ("error", "keep"):
        raise ValueError(f"unmatched must be 'error' or 'keep', not {unmatched!r}")
    if isinstance(rules, (str, os.PathLike)):
        rule_list, explicit, file_seed = _native.load_spec(os.fspath(rules))
        if seed is None and file_seed is not None:
            seed = file_seed
    else:
        rule_list, explicit = [], {}
        for i, r in enumerate(rules):
            if not (isinstance(r, (tuple, list)) and len(r) == 2 and all(isinstance(x, str) for x in r)):
                raise TypeError(f"rule {i} must be a (glob, scheme) pair of strings, not {r!r}")
            rule_list.append((r[0], r[1]))
    seed, _ = _key(seed, "")
    matcher = _native.RuleSet(rule_list)
    params = list(module.named_parameters())
    # Plan everything first: every error is raised before a byte is written.
    chosen: list[tuple[str | None, str | None]] = []
    for pname, _ in params:
        full = prefix + pname
        if full in explicit:
            chosen.append((explicit[full], "spec"))
            continue
        idx = matcher.first_match(full)
        chosen.append((None, None) if idx is None else (rule_list[idx][1], rule_list[idx][0]))
    if style is not None:
        from varinit import _style_vars_arg, load_style

        st = load_style(style)
        if style_vars is None and hasattr(getattr(module, "config", None), "to_dict"):
            style_vars = module.config
        styled = st.apply(_style_vars_arg(style_vars), [(prefix + n, c[0]) for (n, _), c in zip(params, chosen)])
        chosen = [
            c if kept else (scheme, f"style {st.name} ({st.file}:{line})")
            for c, (scheme, _, line, kept) in zip(chosen, styled)
        ]
    planned = []
    missing = []
    for (pname, param), (scheme, rule) in zip(params, chosen):
        full = prefix + pname
        if scheme is None:
            missing.append(full)
            planned.append((pname, param, None, None, None))
            continue
        global_shape, offsets, local_shape = local_region(param)
        try:
            p = _plan(scheme, global_shape, seed, full)
        except ValueError as e:
            raise ValueError(f"parameter {full!r} {list(global_shape)} (rule {rule!r} -> {scheme!r}): {e}") from None
        code = _DTYPES.get(param.dtype)
        if code is None:
            raise NotImplementedError(f"parameter {full!r} has dtype {param.dtype}, which varinit does not fill")
        with _torch_errors():
            p.check_dtype(code)
        planned.append((pname, param, p, scheme, rule))
    if missing and unmatched == "error":
        shown = ", ".join(repr(m) for m in missing[:20]) + (" ..." if len(missing) > 20 else "")
        raise UnmatchedParametersError(
            f"{len(missing)} parameter(s) match no rule: {shown}; add rules or pass unmatched='keep'"
        )
    journal = Journal(seed=seed)
    for pname, param, p, scheme, rule in planned:
        full = prefix + pname
        global_shape, offsets, local_shape = local_region(param)
        dtype = str(param.dtype).replace("torch.", "")
        if p is None:
            journal.entries.append(
                JournalEntry(full, global_shape, dtype, None, None, None, "kept", local_shape, offsets)
            )
            continue
        status = "initialized"
        if param.device.type == "meta":
            status = "meta"
        else:
            code = _DTYPES[param.dtype]
            with torch.no_grad():
                if _is_dtensor(param):
                    _fill_local_shard(p, param, param.to_local(), f"init_module_ ({full!r})", code)
                else:
                    _fill_tensor(p, param, offsets, local_shape, code)
        journal.entries.append(
            JournalEntry(full, global_shape, dtype, p.scheme, p.distribution, rule, status, local_shape, offsets)
        )
    return journal


# issue 13: a model's own initialization, recorded on the meta device as a plan
from varinit.capture import CapturePlan, apply_plan, capture  # noqa: E402
