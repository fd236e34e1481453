"""Capture a PyTorch model's own initialization as a varinit plan.

:func:`capture` runs a model's construction and initialization
(``__init__``, every ``reset_parameters``, a transformers model's
``post_init`` / ``_init_weights``) on the meta device. Every call of a
``torch.nn.init`` function and every in-place write to a tensor (``normal_``,
``uniform_``, ``fill_``, ``zero_``, ``copy_``, ``mul_``, ``__setitem__``,
...) is recorded instead of executed, together with the source line that
made it. The result is a :class:`CapturePlan`: for each parameter (and
buffer), the varinit scheme that reproduces the distribution of its last
write, with PyTorch's semantics -- fans, gains and bounds as PyTorch computes
them, truncated normals with PyTorch's absolute bounds.

Writes a scheme cannot express are never dropped: they are listed in
:attr:`CapturePlan.unexpressible` by parameter, operation and source line.
Two kinds exist:

- a constant written to part of a tensor (an embedding's padding row zeroed
  after its normal init): varinit replays it exactly after the scheme, as a
  *patch* (``entry.patch``), and still lists it;
- anything else (a scaled copy of another tensor, a random write to a slice,
  a clamp, a custom formula): the parameter is *unresolved* until the user
  gives it a scheme with :meth:`CapturePlan.resolve`; applying a plan with
  unresolved parameters raises (or, with ``strict=False``, uses the last
  full-tensor scheme and warns).

How the recording works: the ``torch.nn.init`` functions are replaced, for
the duration of the capture, in every loaded module that holds a reference to
them (``torch.nn.init`` itself, ``torch.nn.modules.*``, transformers'
``initialization`` table, a user module that did ``from torch.nn.init import
normal_``); everything else goes through a ``TorchFunctionMode``, which sees
every tensor method and factory call. A write is attributed to a parameter
by its storage, so writes through ``.data``, views and slices are found; a
tensor created by a factory (``torch.randn(...) * 0.02``) carries its
distribution into the parameter it becomes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import math
import os
import sys
import types
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = [
    "CapturePlan",
    "PlanEntry",
    "Unexpressible",
    "Patch",
    "UnresolvedPlanError",
    "capture",
    "apply_plan",
]

# --------------------------------------------------------------------------
# distributions


@dataclasses.dataclass(frozen=True)
class _Dist:
    """A known distribution: the scheme text and, for element-wise
    distributions, its concrete form (used to follow affine transforms)."""

    scheme: str
    concrete: tuple | None  # ("normal", m, s) | ("uniform", lo, hi) | ("trunc_normal", m, s, a, b) | ("constant", v)


def _f(x: float) -> str:
    """A float as varinit's grammar reads it back to the same f64."""
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        raise ValueError(f"value {x} cannot be written as a varinit scheme")
    r = repr(x)
    return r[:-2] if r.endswith(".0") else r


def _concrete_dist(c: tuple) -> _Dist:
    kind = c[0]
    if kind == "normal":
        return _Dist(f"normal(mean={_f(c[1])}, std={_f(c[2])})", c)
    if kind == "uniform":
        return _Dist(f"uniform(a={_f(c[1])}, b={_f(c[2])})", c)
    if kind == "trunc_normal":
        return _Dist(f"trunc_normal(mean={_f(c[1])}, std={_f(c[2])}, a={_f(c[3])}, b={_f(c[4])})", c)
    if kind == "constant":
        v = float(c[1])
        if v == 0.0 and math.copysign(1.0, v) > 0:
            return _Dist("zeros", c)
        if v == 1.0:
            return _Dist("ones", c)
        return _Dist(f"constant({_f(v)})", c)
    raise AssertionError(kind)


def _affine(d: _Dist, scale: float, shift: float) -> _Dist | None:
    """The distribution of ``x * scale + shift`` for ``x ~ d``."""
    c = d.concrete
    if c is None:
        return None
    kind = c[0]
    if kind == "constant":
        return _concrete_dist(("constant", c[1] * scale + shift))
    if scale == 0:
        return _concrete_dist(("constant", shift))
    if kind == "normal":
        return _concrete_dist(("normal", c[1] * scale + shift, c[2] * abs(scale)))
    if kind == "uniform":
        lo, hi = sorted((c[1] * scale + shift, c[2] * scale + shift))
        return _concrete_dist(("uniform", lo, hi))
    if kind == "trunc_normal":
        a, b = sorted((c[3] * scale + shift, c[4] * scale + shift))
        return _concrete_dist(("trunc_normal", c[1] * scale + shift, c[2] * abs(scale), a, b))
    return None


# --------------------------------------------------------------------------
# torch.nn.init, as PyTorch computes it

_INIT_NAMES = (
    "uniform_",
    "normal_",
    "trunc_normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "sparse_",
)
_ORIGINALS: dict[str, Callable] = {n: getattr(torch.nn.init, n) for n in _INIT_NAMES}
# deprecated aliases (torch.nn.init.normal -> normal_)
for _n in list(_INIT_NAMES):
    _alias = getattr(torch.nn.init, _n[:-1], None)
    if callable(_alias):
        _ORIGINALS.setdefault(_n[:-1], _alias)
_BY_FUNC = {id(f): n for n, f in _ORIGINALS.items()}
_SIGS = {n: inspect.signature(f) for n, f in _ORIGINALS.items() if n.endswith("_")}


def _init_call(name: str, tensor: torch.Tensor, bound: dict[str, Any]) -> tuple[_Dist | None, str]:
    """The distribution ``torch.nn.init.<name>`` draws for ``tensor`` (with
    PyTorch's fans, gains and bounds) and the call as text. ``None`` when the
    call writes nothing (a kaiming init of a zero-element tensor)."""
    name = name if name.endswith("_") else name + "_"
    init = torch.nn.init
    text = f"torch.nn.init.{name}(" + ", ".join(f"{k}={v!r}" for k, v in bound.items() if k not in ("tensor", "generator")) + ")"
    if name == "uniform_":
        return _concrete_dist(("uniform", float(bound["a"]), float(bound["b"]))), text
    if name == "normal_":
        return _concrete_dist(("normal", float(bound["mean"]), float(bound["std"]))), text
    if name == "trunc_normal_":
        c = ("trunc_normal", float(bound["mean"]), float(bound["std"]), float(bound["a"]), float(bound["b"]))
        return _concrete_dist(c), text
    if name == "constant_":
        return _concrete_dist(("constant", float(bound["val"]))), text
    if name == "ones_":
        return _concrete_dist(("constant", 1.0)), text
    if name == "zeros_":
        return _concrete_dist(("constant", 0.0)), text
    if name == "eye_":
        if tensor.dim() != 2:
            raise ValueError("Only tensors with 2 dimensions are supported")
        return _Dist("eye", None), text
    if name == "dirac_":
        if tensor.dim() not in (3, 4, 5):
            raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
        return _Dist(f"dirac(groups={int(bound['groups'])})", None), text
    if name in ("xavier_uniform_", "xavier_normal_"):
        fan_in, fan_out = init._calculate_fan_in_and_fan_out(tensor)
        gain = float(bound["gain"])
        std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
        scheme = f"{name[:-1]}(gain={_f(gain)})"
        if name == "xavier_uniform_":
            a = math.sqrt(3.0) * std
            return _Dist(scheme, ("uniform", -a, a)), text
        return _Dist(scheme, ("normal", 0.0, std)), text
    if name in ("kaiming_uniform_", "kaiming_normal_"):
        if 0 in tensor.shape:
            return None, text  # PyTorch warns and writes nothing
        a, mode, nl = bound["a"], bound["mode"], bound["nonlinearity"]
        fan = init._calculate_correct_fan(tensor, mode)
        gain = init.calculate_gain(nl, a)
        std = gain / math.sqrt(fan)
        scheme = f"{name[:-1]}(a={_f(a)}, mode={mode}, nonlinearity={nl})"
        if name == "kaiming_uniform_":
            bnd = math.sqrt(3.0) * std
            return _Dist(scheme, ("uniform", -bnd, bnd)), text
        return _Dist(scheme, ("normal", 0.0, std)), text
    if name == "orthogonal_":
        if tensor.dim() < 2:
            raise ValueError("Only tensors with 2 or more dimensions are supported")
        return _Dist(f"orthogonal(gain={_f(bound['gain'])})", None), text
    if name == "sparse_":
        if tensor.dim() != 2:
            raise ValueError("Only tensors with 2 dimensions are supported")
        return _Dist(f"sparse(sparsity={_f(bound['sparsity'])}, std={_f(bound['std'])})", None), text
    raise AssertionError(name)


# --------------------------------------------------------------------------
# what the plan holds


@dataclasses.dataclass(frozen=True)
class Patch:
    """A constant written to part of a tensor after its scheme: ``value`` at
    the flat (row-major) element ranges ``runs`` = ``[(start, count), ...]``."""

    value: float
    runs: tuple[tuple[int, int], ...]

    def apply_(self, tensor: torch.Tensor) -> None:
        """Write the constant into ``tensor``: a plain tensor (any strides) or
        a DTensor, of which this process writes the part it holds."""
        if not self.runs:
            return
        shape = tuple(int(d) for d in tensor.shape)
        idx = torch.cat([torch.arange(a, a + n, dtype=torch.int64) for a, n in self.runs])
        coords = torch.stack(torch.unravel_index(idx, shape)) if shape else idx.reshape(0, -1)
        local = tensor.detach()
        if hasattr(tensor, "to_local") and hasattr(tensor, "placements"):
            from varinit.torch import local_region

            _, offsets, local_shape = local_region(tensor)
            off = torch.tensor(offsets, dtype=torch.int64).reshape(-1, 1)
            ext = torch.tensor(local_shape, dtype=torch.int64).reshape(-1, 1)
            inside = ((coords >= off) & (coords < off + ext)).all(dim=0)
            coords = coords[:, inside] - off
            local = tensor.to_local().detach()
        if coords.shape[1] == 0:
            return
        with torch.no_grad():
            local[tuple(c.to(local.device) for c in coords)] = self.value


@dataclasses.dataclass
class Unexpressible:
    """A write no scheme expresses, with where it came from."""

    name: str
    """The parameter (or buffer) written."""
    op: str
    """The operation, e.g. ``Tensor.zero_ on weight[1]``."""
    where: str
    """``file:line in function`` of the call."""
    reason: str
    """Why no scheme expresses it."""
    patch: Patch | None = None
    """Set when varinit replays it exactly (a constant on a region)."""

    @property
    def file(self) -> str:
        return self.where.rsplit(":", 1)[0] if ":" in self.where else self.where

    @property
    def line(self) -> int:
        tail = self.where.rsplit(":", 1)[-1].split(" ", 1)[0]
        return int(tail) if tail.isdigit() else 0

    def __str__(self) -> str:
        how = "replayed as a patch" if self.patch is not None else "UNRESOLVED: give it a scheme with plan.resolve()"
        return f"{self.name}: {self.op} at {self.where} -- {self.reason} ({how})"


@dataclasses.dataclass
class PlanEntry:
    """One tensor of the plan."""

    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    scheme: str | None
    """The varinit scheme of the last full write (``None`` when there is none)."""
    op: str
    """The operation that made it (e.g. ``torch.nn.init.normal_(mean=0.0, std=0.02)``)."""
    where: str
    """Its source line."""
    patches: list[Patch] = dataclasses.field(default_factory=list)
    resolved_by_user: bool = False
    is_buffer: bool = False
    persistent: bool = True
    unresolved: list[Unexpressible] = dataclasses.field(default_factory=list)
    """Unexpressible writes not replayed by a patch (cleared by ``resolve``)."""

    @property
    def ok(self) -> bool:
        """True when applying the entry reproduces the model's own init."""
        return self.scheme is not None and not self.unresolved


class UnresolvedPlanError(ValueError):
    """A plan with operations no scheme expresses was applied strictly."""


def _glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]{}\\" else c for c in name)


class CapturePlan:
    """The result of :func:`capture`: per tensor, the scheme that reproduces
    the model's own init, plus everything no scheme expresses.

    - ``plan[name]`` / ``plan.entries``: :class:`PlanEntry` per parameter
      (``named_parameters()`` order) and per buffer;
    - ``plan.unexpressible``: every write a scheme cannot express, by name,
      operation and source line (patches included);
    - ``plan.aliases``: tied names (``lm_head.weight`` -> ``model.embed_tokens.weight``);
    - ``plan.rules()``: ``(glob, scheme)`` pairs for :func:`varinit.torch.init_module_`;
    - ``plan.resolve(glob, scheme)``: give matching tensors a scheme of your own.
    """

    def __init__(self, entries: dict[str, PlanEntry], unexpressible: list[Unexpressible], aliases: dict[str, str]):
        self.entries = entries
        self.unexpressible = unexpressible
        self.aliases = aliases

    def __getitem__(self, name: str) -> PlanEntry:
        return self.entries[self.aliases.get(name, name)]

    def __contains__(self, name: str) -> bool:
        return self.aliases.get(name, name) in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        """Iterate as ``(glob, scheme)`` rules (parameters with a scheme)."""
        return iter(self.rules())

    @property
    def parameters(self) -> list[PlanEntry]:
        return [e for e in self.entries.values() if not e.is_buffer]

    @property
    def buffers(self) -> list[PlanEntry]:
        return [e for e in self.entries.values() if e.is_buffer]

    @property
    def unresolved(self) -> list[Unexpressible]:
        """The unexpressible writes not replayed by a patch or resolved."""
        return [u for e in self.entries.values() for u in e.unresolved]

    def rules(self, *, buffers: bool = False) -> list[tuple[str, str]]:
        """Exact-name ``(glob, scheme)`` rules for every tensor with a scheme."""
        return [
            (_glob_escape(e.name), e.scheme)
            for e in self.entries.values()
            if e.scheme is not None and (buffers or not e.is_buffer)
        ]

    def resolve(self, pattern: str, scheme: str) -> list[str]:
        """Give every tensor whose name matches ``pattern`` (``fnmatch``
        glob, or an exact name) the scheme ``scheme``, replacing what was
        captured and clearing its unexpressible writes and patches. Returns
        the names resolved; raises ``KeyError`` when none matches."""
        import fnmatch

        names = [n for n in self.entries if n == pattern or fnmatch.fnmatchcase(n, pattern)]
        if not names:
            raise KeyError(f"no tensor of the plan matches {pattern!r}")
        for n in names:
            e = self.entries[n]
            e.scheme, e.op, e.where, e.resolved_by_user = scheme, "resolved by the user", "plan.resolve", True
            e.patches.clear()
            e.unresolved.clear()
        return names

    def apply_style(self, style: Any, vars: dict[str, float]) -> list[str]:
        """Apply an init style (a built-in name, a style file's path or a
        :class:`varinit.Style`) to the plan's parameters: each captured
        scheme is the default the style's ``keep`` (and a tensor no rule
        matches) refers to; a tensor a rule gives a scheme gets it, its
        unexpressible writes cleared (its patches, constants the model
        writes after drawing, such as a padding row, stay). ``vars``: the
        style's variables (:func:`varinit.style_vars` of a Hugging Face
        config). Matching and formulas are the Rust core's. Returns the
        names whose scheme the style set."""
        from varinit import load_style

        st = load_style(style)
        params = self.parameters
        out = st.apply({k: float(v) for k, v in vars.items()}, [(e.name, e.scheme) for e in params])
        changed = []
        for e, (scheme, _rule, line, kept) in zip(params, out):
            if kept:
                continue
            e.scheme, e.op, e.where = scheme, f"style {st.name}", f"{st.file}:{line}"
            e.unresolved.clear()
            changed.append(e.name)
        return changed

    def check(self) -> None:
        """Raise :class:`UnresolvedPlanError` listing every unresolved write
        and every parameter without a scheme."""
        problems = [str(u) for u in self.unresolved]
        problems += [
            f"{e.name}: no full-tensor write was recorded (the model leaves it uninitialized: {e.op} at {e.where})"
            for e in self.entries.values()
            if e.scheme is None and not e.unresolved and not (e.is_buffer and not e.persistent)
        ]
        if problems:
            raise UnresolvedPlanError(
                f"{len(problems)} write(s) no varinit scheme expresses; resolve them with plan.resolve(glob, scheme) "
                "or apply with strict=False:\n  " + "\n  ".join(problems)
            )

    def __str__(self) -> str:
        w = max((len(n) for n in self.entries), default=4)
        lines = [f"{'tensor':<{w}}  {'shape':<16}  scheme"]
        for e in self.entries.values():
            s = e.scheme or "(none)"
            if e.patches:
                s += f" + {len(e.patches)} patch(es)"
            if e.unresolved:
                s += "  [UNRESOLVED]"
            if e.is_buffer:
                s += "  (buffer" + ("" if e.persistent else ", not saved") + ")"
            lines.append(f"{e.name:<{w}}  {'x'.join(map(str, e.shape)) or 'scalar':<16}  {s}")
        if self.unexpressible:
            lines.append("")
            lines.append("writes no scheme expresses:")
            lines += [f"  {u}" for u in self.unexpressible]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<CapturePlan: {len(self.parameters)} parameters, {len(self.buffers)} buffers, {len(self.unexpressible)} unexpressible, {len(self.unresolved)} unresolved>"


# --------------------------------------------------------------------------
# the recorder

_SKIP_FILES = (
    os.path.normpath(__file__),
    os.path.normpath(torch.nn.init.__file__),
    os.path.normpath(torch.overrides.__file__),
    os.path.normpath(contextlib.__file__),
)
_SKIP_PARTS = (
    os.sep + os.path.join("torch", "utils") + os.sep,
    os.sep + os.path.join("torch", "_tensor.py"),
    os.sep + os.path.join("transformers", "initialization.py"),
)


def _where() -> str:
    f = sys._getframe(1)
    while f is not None:
        fn = os.path.normpath(f.f_code.co_filename)
        if fn not in _SKIP_FILES and not any(p in fn for p in _SKIP_PARTS):
            return f"{f.f_code.co_filename}:{f.f_lineno} in {f.f_code.co_name}"
        f = f.f_back
    return "<unknown>"


# in-place methods that change no value
_METADATA_INPLACE = {
    "requires_grad_",
    "share_memory_",
    "detach_",
    "retain_grad",
    "squeeze_",
    "unsqueeze_",
    "t_",
    "transpose_",
    "swapdims_",
    "swapaxes_",
    "as_strided_",
    "resize_",
    "resize_as_",
    "record_stream",
    "set_",
    "rename_",
    "refine_names",
    "_fix_weakref",
    "_coalesced_",
}
# out-of-place methods that keep the values (new storage, same distribution)
_SAME_VALUES = {
    "clone",
    "contiguous",
    "to",
    "float",
    "double",
    "half",
    "bfloat16",
    "detach",
    "type",
    "type_as",
    "cpu",
    "cuda",
}
_FACTORIES = {
    "empty": None,
    "empty_like": None,
    "empty_strided": None,
    "new_empty": None,
    "zeros": ("constant", 0.0),
    "zeros_like": ("constant", 0.0),
    "new_zeros": ("constant", 0.0),
    "ones": ("constant", 1.0),
    "ones_like": ("constant", 1.0),
    "new_ones": ("constant", 1.0),
    "randn": ("normal", 0.0, 1.0),
    "randn_like": ("normal", 0.0, 1.0),
    "rand": ("uniform", 0.0, 1.0),
    "rand_like": ("uniform", 0.0, 1.0),
}
_SCALAR = (int, float, bool)


def _num(x: Any) -> float | None:
    if isinstance(x, _SCALAR):
        return float(x)
    if isinstance(x, torch.Tensor) and x.numel() == 1 and not x.is_meta and x.dim() == 0:
        return float(x.item())
    return None


@dataclasses.dataclass
class _State:
    dist: _Dist | None  # last full write's distribution (None: unknown or never written)
    op: str
    where: str
    patches: list = dataclasses.field(default_factory=list)  # (Patch-in-storage-units, Unexpressible-template)
    unresolved: list = dataclasses.field(default_factory=list)  # (op, where, reason)
    uninit: bool = False
    origin: int | None = None  # the storage where random values were drawn (copies share it)


def _is_random(d: _Dist | None) -> bool:
    return d is not None and (d.concrete is None or d.concrete[0] != "constant")


class _Recorder:
    def __init__(self, protect: set[int] | None):
        self.states: dict[int, _State] = {}
        self.keep: list[torch.Tensor] = []  # strong references: storage keys stay unique
        self.protect = protect  # storages of a real (non-meta) model: never execute writes on them
        self.active = True

    # storage identity ------------------------------------------------------
    def key(self, t: torch.Tensor) -> int | None:
        try:
            return t.untyped_storage()._cdata
        except Exception:  # noqa: BLE001 -- sparse, nested, functional wrappers: no storage
            return None

    def covers(self, t: torch.Tensor) -> bool:
        try:
            nbytes = t.untyped_storage().nbytes()
        except Exception:  # noqa: BLE001
            return True
        return t.numel() * t.element_size() == nbytes

    def runs(self, t: torch.Tensor) -> tuple[tuple[int, int], ...] | None:
        """The storage element ranges view ``t`` covers (row-major runs)."""
        if t.numel() == 0:
            return ()
        if t.is_contiguous():
            return ((t.storage_offset(), t.numel()),)
        if t.numel() > 1 << 24:
            return None
        idx = torch.arange(t.untyped_storage().nbytes() // t.element_size()).as_strided(
            t.shape, t.stride(), t.storage_offset()
        )
        flat = sorted(set(idx.reshape(-1).tolist()))
        out: list[list[int]] = []
        for i in flat:
            if out and out[-1][0] + out[-1][1] == i:
                out[-1][1] += 1
            else:
                out.append([i, 1])
        return tuple((a, b) for a, b in out)

    def state(self, t: torch.Tensor) -> _State | None:
        k = self.key(t)
        return None if k is None else self.states.get(k)

    def set_state(self, t: torch.Tensor, st: _State) -> None:
        k = self.key(t)
        if k is not None:
            self.keep.append(t)
            self.states[k] = st

    # writes --------------------------------------------------------------------
    def write(
        self, t: torch.Tensor, dist: _Dist | None, op: str, where: str, *, reason: str = "", origin: int | None = None
    ) -> None:
        """Record a write of ``dist`` (None: not expressible) to view ``t``."""
        k = self.key(t)
        if k is None:
            return
        self.keep.append(t)
        full = self.covers(t)
        st = self.states.get(k)
        if full:
            if dist is not None:
                self.states[k] = _State(dist, op, where, origin=(origin or k) if _is_random(dist) else None)
            else:
                prev = st.dist if st is not None else None
                new = _State(None, op, where)
                new.unresolved.append((op, where, reason or "not a distribution varinit draws", prev))
                self.states[k] = new
            return
        if st is None:
            st = self.states[k] = _State(None, "torch.empty (never written in full)", where, uninit=True)
        runs = self.runs(t)
        if dist is not None and dist.concrete is not None and dist.concrete[0] == "constant" and runs is not None:
            st.patches.append((float(dist.concrete[1]), runs, op, where))
        else:
            why = reason or (
                "a random draw into part of the tensor" if dist is not None else "a write into part of the tensor"
            )
            st.unresolved.append((op, where, why, None))

    def transform(self, t: torch.Tensor, scale: float, shift: float, op: str, where: str) -> None:
        st = self.state(t)
        if st is not None and self.covers(t) and st.dist is not None and not st.patches and not st.unresolved:
            d = _affine(st.dist, scale, shift)
            if d is not None:
                self.states[self.key(t)] = _State(d, f"{st.op}, then {op}", where, origin=st.origin)
                return
        self.write(t, None, op, where, reason="arithmetic on a tensor whose values are not a known element-wise distribution")


class _Mode(TorchFunctionMode):
    def __init__(self, rec: _Recorder):
        super().__init__()
        self.rec = rec

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: C901 -- one dispatch table
        kwargs = kwargs or {}
        rec = self.rec
        if not rec.active:
            return func(*args, **kwargs)
        fname = getattr(func, "__name__", "")
        # torch.nn.init functions reached through their __torch_function__ hook
        iname = _BY_FUNC.get(id(func))
        if iname is not None:
            return _recorded_init(rec, iname, args, kwargs)
        if fname == "__set__" and getattr(getattr(func, "__self__", None), "__name__", "") == "data":
            # param.data = other: the parameter now has other's storage (and its state)
            return func(*args, **kwargs)
        dest = args[0] if args and isinstance(args[0], torch.Tensor) else None
        inplace = dest is not None and (
            (fname.endswith("_") and not fname.startswith("_") and fname not in _METADATA_INPLACE)
            or fname in ("__setitem__", "__imul__", "__itruediv__", "__iadd__", "__isub__", "__idiv__")
        )
        out = kwargs.get("out")
        if inplace:
            where = _where()
            self._record_inplace(fname, dest, args[1:], kwargs, where)
            if rec.protect is not None and rec.key(dest) in rec.protect:
                return dest  # recorded, not executed
            return func(*args, **kwargs)
        if isinstance(out, torch.Tensor):
            rec.write(out, None, f"torch.{fname}(out=...)", _where(), reason="an out= write")
        result = func(*args, **kwargs)
        if isinstance(result, torch.Tensor):
            self._record_result(fname, func, args, kwargs, result)
        return result

    # tensor methods that write -------------------------------------------------
    def _record_inplace(self, fname: str, dest: torch.Tensor, rest: tuple, kwargs: dict, where: str) -> None:
        rec = self.rec
        op = f"Tensor.{fname}"
        if fname == "normal_":
            b = _bind(("mean", "std"), (0.0, 1.0), rest, kwargs)
            if b is not None:
                rec.write(dest, _concrete_dist(("normal", b[0], b[1])), f"{op}(mean={b[0]!r}, std={b[1]!r})", where)
                return
        elif fname == "uniform_":
            b = _bind(("from", "to"), (0.0, 1.0), rest, kwargs)
            if b is not None:
                rec.write(dest, _concrete_dist(("uniform", b[0], b[1])), f"{op}({b[0]!r}, {b[1]!r})", where)
                return
        elif fname == "fill_":
            v = _num(rest[0] if rest else kwargs.get("value"))
            if v is not None:
                rec.write(dest, _concrete_dist(("constant", v)), f"{op}({v!r})", where)
                return
        elif fname == "zero_":
            rec.write(dest, _concrete_dist(("constant", 0.0)), f"{op}()", where)
            return
        elif fname == "copy_":
            src = rest[0] if rest else kwargs.get("src")
            if isinstance(src, torch.Tensor):
                st = rec.state(src)
                if st is not None and rec.covers(src) and st.dist is not None and not st.patches and not st.unresolved:
                    if src.shape == dest.shape or st.dist.concrete is not None:
                        rec.write(dest, st.dist, f"{op}(<{st.op}>)", where, origin=st.origin)
                        return
                if not src.is_meta and src.numel() > 0:
                    flat = src.detach().reshape(-1)
                    if bool((flat == flat[0]).all()):
                        rec.write(dest, _concrete_dist(("constant", float(flat[0]))), f"{op}(<constant tensor>)", where)
                        return
                rec.write(dest, None, f"{op}(<tensor>)", where, reason="a copy of a computed tensor")
                return
        elif fname in ("mul_", "__imul__", "div_", "__itruediv__", "__idiv__"):
            v = _num(rest[0] if rest else kwargs.get("other"))
            if v is not None and not kwargs.get("rounding_mode"):
                scale = v if fname in ("mul_", "__imul__") else 1.0 / v
                rec.transform(dest, scale, 0.0, f"{op}({v!r})", where)
                return
        elif fname in ("add_", "__iadd__", "sub_", "__isub__"):
            v = _num(rest[0] if rest else kwargs.get("other"))
            alpha = _num(rest[1] if len(rest) > 1 else kwargs.get("alpha", 1))
            if v is not None and alpha is not None:
                shift = v * alpha * (1 if fname in ("add_", "__iadd__") else -1)
                rec.transform(dest, 1.0, shift, f"{op}({v!r})", where)
                return
        elif fname == "neg_":
            rec.transform(dest, -1.0, 0.0, f"{op}()", where)
            return
        elif fname == "__setitem__":
            idx, value = rest[0], rest[1]
            try:
                with torch._C.DisableTorchFunction():
                    view = dest[idx]
            except Exception:  # noqa: BLE001
                view = dest
            v = _num(value)
            if v is not None:
                rec.write(view, _concrete_dist(("constant", v)), f"Tensor.__setitem__([{_idx_text(idx)}], {v!r})", where)
                return
            if isinstance(value, torch.Tensor):
                st = rec.state(value)
                if st is not None and st.dist is not None and rec.covers(value) and not st.patches and not st.unresolved:
                    if st.dist.concrete is not None:
                        rec.write(view, st.dist, f"Tensor.__setitem__([{_idx_text(idx)}], <{st.op}>)", where, origin=st.origin)
                        return
            rec.write(view, None, f"Tensor.__setitem__([{_idx_text(idx)}], <tensor>)", where, reason="an assignment of a computed tensor")
            return
        rec.write(dest, None, op, where, reason=f"{fname} is not a distribution varinit draws")

    # factories and arithmetic ----------------------------------------------------
    def _record_result(self, fname: str, func: Any, args: tuple, kwargs: dict, result: torch.Tensor) -> None:
        rec = self.rec
        if fname in _FACTORIES:
            c = _FACTORIES[fname]
            where = _where()
            if c is None:
                rec.set_state(result, _State(None, f"torch.{fname}", where, uninit=True))
            else:
                k = rec.key(result) if c[0] != "constant" else None
                rec.set_state(result, _State(_concrete_dist(c), f"torch.{fname}", where, origin=k))
            return
        if fname in ("full", "full_like", "new_full"):
            v = _num(kwargs.get("fill_value", args[-1] if args else None))
            if v is not None:
                rec.set_state(result, _State(_concrete_dist(("constant", v)), f"torch.{fname}({v!r})", _where()))
            return
        if fname == "normal" and ("size" in kwargs or (len(args) >= 3 and isinstance(args[2], (tuple, list)))):
            m = _num(args[0] if args else kwargs.get("mean"))
            s = _num(args[1] if len(args) > 1 else kwargs.get("std"))
            if m is not None and s is not None:
                d = _concrete_dist(("normal", m, s))
                rec.set_state(result, _State(d, f"torch.normal({m!r}, {s!r})", _where(), origin=rec.key(result)))
            return
        if not args:
            return
        a0 = args[0]
        a1 = args[1] if len(args) > 1 else None
        if fname == "pad" and isinstance(a0, torch.Tensor):
            st = rec.state(a0)
            amounts = a1 if a1 is not None else kwargs.get("pad")
            mode = args[2] if len(args) > 2 else kwargs.get("mode", "constant")
            value = args[3] if len(args) > 3 else kwargs.get("value", None)
            if st is None or st.dist is None or st.patches or st.unresolved or not rec.covers(a0):
                return
            if amounts is not None and all(int(p) == 0 for p in amounts):
                rec.set_state(result, dataclasses.replace(st, patches=[], unresolved=[]))
            elif mode == "constant" and st.dist.concrete is not None and st.dist.concrete[0] == "constant":
                if float(value or 0.0) == st.dist.concrete[1]:
                    rec.set_state(result, dataclasses.replace(st, patches=[], unresolved=[]))
            return
        if fname in _SAME_VALUES and isinstance(a0, torch.Tensor):
            st = rec.state(a0)
            if st is not None and rec.key(result) != rec.key(a0) and rec.covers(a0):
                rec.set_state(result, dataclasses.replace(st, patches=list(st.patches), unresolved=list(st.unresolved)))
            return
        affine = {
            "mul": (1, 0),
            "__mul__": (1, 0),
            "__rmul__": (1, 0),
            "div": (-1, 0),
            "__truediv__": (-1, 0),
            "__div__": (-1, 0),
            "add": (0, 1),
            "__add__": (0, 1),
            "__radd__": (0, 1),
            "sub": (0, -1),
            "__sub__": (0, -1),
            "__rsub__": (0, 2),
            "neg": (2, 0),
            "__neg__": (2, 0),
        }.get(fname)
        if affine is None:
            return
        tensor, other = (a0, a1) if isinstance(a0, torch.Tensor) else (a1, a0)
        if not isinstance(tensor, torch.Tensor):
            return
        st = rec.state(tensor)
        if st is None or st.dist is None or st.patches or st.unresolved or not rec.covers(tensor):
            return
        if affine[0] == 2:
            scale, shift = -1.0, 0.0
        else:
            v = _num(other)
            if v is None:
                return
            if affine[0] == 1:
                scale, shift = v, 0.0
            elif affine[0] == -1:
                if v == 0 or tensor is not a0:
                    return
                scale, shift = 1.0 / v, 0.0
            elif affine[1] == 2:
                scale, shift = -1.0, v
            else:
                scale, shift = 1.0, v * affine[1]
        d = _affine(st.dist, scale, shift)
        if d is not None:
            rec.set_state(result, _State(d, f"{st.op}, then {fname}({_num(other)!r})", _where(), origin=st.origin))


def _runs_text(runs: tuple[tuple[int, int], ...]) -> str:
    parts = [f"[{a}, {a + n})" for a, n in runs[:3]]
    return " ".join(parts) + (f" and {len(runs) - 3} more ranges" if len(runs) > 3 else "")


def _idx_text(idx: Any) -> str:
    items = idx if isinstance(idx, tuple) else (idx,)

    def one(i: Any) -> str:
        if isinstance(i, slice):
            return ":".join("" if x is None else str(x) for x in (i.start, i.stop)) + ("" if i.step is None else f":{i.step}")
        if i is Ellipsis:
            return "..."
        if isinstance(i, torch.Tensor):
            return "<tensor>"
        return repr(i)

    return ", ".join(one(i) for i in items)


def _bind(names: tuple[str, ...], defaults: tuple, args: tuple, kwargs: dict) -> tuple[float, ...] | None:
    vals = list(defaults)
    for i, a in enumerate(args[: len(names)]):
        vals[i] = a
    for i, n in enumerate(names):
        if n in kwargs:
            vals[i] = kwargs[n]
    out = tuple(_num(v) for v in vals)
    return None if any(v is None for v in out) else out


# --------------------------------------------------------------------------
# the patched torch.nn.init functions

_RECORDER: list[_Recorder] = []


def _recorded_init(rec: _Recorder, name: str, args: tuple, kwargs: dict) -> Any:
    sig = _SIGS[name if name.endswith("_") else name + "_"]
    b = sig.bind(*args, **kwargs)
    b.apply_defaults()
    bound = dict(b.arguments)
    tensor = bound["tensor"]
    where = _where()
    dist, text = _init_call(name, tensor, bound)
    if dist is not None:
        rec.write(tensor, dist, text, where)
    if isinstance(tensor, torch.Tensor) and not tensor.is_meta and (rec.protect is None or rec.key(tensor) not in rec.protect):
        # a real tensor that is not the model's: draw as PyTorch would, unrecorded
        rec.active = False
        try:
            _PRISTINE[name if name.endswith("_") else name + "_"](*args, **kwargs)
        finally:
            rec.active = True
    return tensor


_HOOK = "__varinit_capture_hook__"
_PRISTINE: dict[str, Callable] = {}  # callable copies of the original functions


def _hook(name: str, args: tuple, kwargs: dict) -> Any:
    if _RECORDER and _RECORDER[-1].active:
        return _recorded_init(_RECORDER[-1], name, args, kwargs)
    return _PRISTINE[name](*args, **kwargs)


@contextlib.contextmanager
def _patched_init() -> Iterator[None]:
    """Make the ``torch.nn.init`` functions record instead of draw, wherever
    they are referenced from (module attributes, transformers' table,
    ``from torch.nn.init import normal_``, closures): their code objects are
    swapped for a trampoline for the duration of the capture."""
    saved = []
    for name in _INIT_NAMES:
        f = _ORIGINALS[name]
        if f.__code__.co_freevars:
            continue  # never the case in torch 2.x; left alone (the TorchFunctionMode still sees its tensor ops)
        if name not in _PRISTINE:
            g = types.FunctionType(f.__code__, f.__globals__, f.__name__, f.__defaults__, f.__closure__)
            g.__kwdefaults__ = f.__kwdefaults__
            _PRISTINE[name] = g
        ns: dict[str, Any] = {}
        src = f"def {name}(*args, **kwargs):\n    return {_HOOK}({name!r}, args, kwargs)\n"
        exec(compile(src, __file__, "exec"), ns)  # noqa: S102 -- this file's name: _where() skips the frame
        saved.append((f, f.__code__, f.__defaults__, f.__kwdefaults__))
        f.__globals__[_HOOK] = _hook
        f.__defaults__ = None
        f.__kwdefaults__ = None
        f.__code__ = ns[name].__code__
    try:
        yield
    finally:
        for f, code, defaults, kwdefaults in saved:
            f.__code__ = code
            f.__defaults__ = defaults
            f.__kwdefaults__ = kwdefaults


# --------------------------------------------------------------------------
# capture


def capture(model_or_constructor: torch.nn.Module | Callable[[], torch.nn.Module]) -> CapturePlan:
    """Run a model's own initialization on the meta device, recording every
    write, and return the :class:`CapturePlan` that replays it with varinit.

    ``model_or_constructor``: a callable that builds the model (``lambda:
    MyModel(cfg)``, ``functools.partial(AutoModelForCausalLM.from_config,
    cfg)``) -- it is called inside ``torch.device("meta")``, so no memory is
    taken for weights -- or a model already built. For a built model the
    initialization is rerun: transformers models through
    ``initialize_weights()`` (with their ``_is_hf_initialized`` flags
    cleared), other modules through every submodule's
    ``reset_parameters()``; the model's values are not changed (writes are
    recorded, never executed, on a model that is not on the meta device).
    """
    if isinstance(model_or_constructor, torch.nn.Module):
        model = model_or_constructor
        protect = {t.untyped_storage()._cdata for t in list(model.parameters()) + list(model.buffers())}
        rec = _Recorder(protect)
        for t in list(model.parameters()) + list(model.buffers()):
            rec.set_state(t, _State(None, "the model's values before its init was rerun", "<given model>", uninit=True))
        _RECORDER.append(rec)
        try:
            with _patched_init(), _Mode(rec):
                _rerun_init(model)
        finally:
            _RECORDER.pop()
    elif callable(model_or_constructor):
        rec = _Recorder(None)
        _RECORDER.append(rec)
        try:
            with _patched_init(), _hf_init_on_meta(), _Mode(rec), torch.device("meta"):
                model = model_or_constructor()
        finally:
            _RECORDER.pop()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"the constructor returned {type(model).__name__}, not a torch.nn.Module")
    else:
        raise TypeError(f"capture needs a torch.nn.Module or a callable that builds one, not {type(model_or_constructor).__name__}")
    plan = _build_plan(rec, model)
    plan.model = model  # type: ignore[attr-defined]
    return plan


@contextlib.contextmanager
def _hf_init_on_meta() -> Iterator[None]:
    """transformers skips ``initialize_weights()`` in ``post_init`` when the
    model is built on the meta device; have it run (its writes are recorded,
    and on meta tensors nothing is computed), so that the order of init and
    weight tying is the one of a real construction."""
    mu = sys.modules.get("transformers.modeling_utils")
    fn = getattr(mu, "get_torch_context_manager_or_global_device", None) if mu is not None else None
    if fn is None:
        yield
        return

    def not_meta() -> torch.device:
        d = fn()
        return torch.device("cpu") if d == torch.device("meta") else d

    mu.get_torch_context_manager_or_global_device = not_meta
    try:
        yield
    finally:
        mu.get_torch_context_manager_or_global_device = fn


def _rerun_init(model: torch.nn.Module) -> None:
    if hasattr(model, "initialize_weights") and hasattr(model, "_init_weights"):
        for m in model.modules():
            if getattr(m, "_is_hf_initialized", False):
                m._is_hf_initialized = False
        for t in list(model.parameters()) + list(model.buffers()):
            if getattr(t, "_is_hf_initialized", False):
                t._is_hf_initialized = False
        model.initialize_weights()
        return
    for m in model.modules():
        fn = getattr(m, "reset_parameters", None)
        if callable(fn):
            fn()


def _build_plan(rec: _Recorder, model: torch.nn.Module) -> CapturePlan:
    entries: dict[str, PlanEntry] = {}
    aliases: dict[str, str] = {}
    unexpressible: list[Unexpressible] = []
    first_by_storage: dict[int, str] = {}
    persistent_buffers = set(model.state_dict(keep_vars=True).keys())
    tensors = [(n, p, False) for n, p in model.named_parameters(remove_duplicate=False)]
    tensors += [(n, b, True) for n, b in model.named_buffers(remove_duplicate=False) if b is not None]
    for name, t, is_buffer in tensors:
        k = rec.key(t)
        if k is not None and k in first_by_storage and rec.covers(t):
            aliases[name] = first_by_storage[k]
            continue
        if k is not None:
            first_by_storage[k] = name
        st = rec.states.get(k) if k is not None else None
        base = t.storage_offset()
        if st is None:
            e = PlanEntry(name, tuple(t.shape), t.dtype, None, "no recorded operation made its values", "<unknown>")
        else:
            e = PlanEntry(name, tuple(t.shape), t.dtype, st.dist.scheme if st.dist else None, st.op, st.where)
        e.is_buffer = is_buffer
        e.persistent = (not is_buffer) or name in persistent_buffers
        if st is not None and not rec.covers(t):
            e.unresolved.append(
                Unexpressible(name, "a view of a larger tensor", st.where, "the parameter shares its storage with other tensors")
            )
        if is_buffer and not e.persistent:
            entries[name] = e  # not saved, not a parameter: its writes are not reported
            continue
        if st is not None:
            for value, runs, op, where in st.patches:
                runs = tuple((a - base, n) for a, n in runs)
                p = Patch(value, runs)
                e.patches.append(p)
                u = Unexpressible(name, f"{op} on elements {_runs_text(runs)}", where, "a constant written to part of the tensor", p)
                unexpressible.append(u)
            for op, where, reason, prev in st.unresolved:
                u = Unexpressible(name, op, where, reason)
                unexpressible.append(u)
                e.unresolved.append(u)
                if e.scheme is None and prev is not None:
                    e.scheme = prev.scheme  # the last full scheme, used only when applied with strict=False
        if e.scheme is None and not e.unresolved and (not is_buffer or e.persistent) and t.numel() > 0:
            u = Unexpressible(name, e.op, e.where, "no full-tensor write was recorded (left uninitialized)")
            unexpressible.append(u)
            e.unresolved.append(u)
        if t.numel() == 0 and e.scheme is None:
            e.scheme, e.unresolved = "zeros", []
        entries[name] = e
    # values copied from another saved tensor: varinit would draw them independently
    by_origin: dict[int, list[str]] = {}
    by_name = {n: t for n, t, _ in tensors}
    for name, t, is_buffer in tensors:
        if name in aliases or name not in entries:
            continue
        e = entries[name]
        k = rec.key(t)
        st = rec.states.get(k) if k is not None else None
        if st is not None and st.origin is not None and _is_random(st.dist) and not e.resolved_by_user:
            by_origin.setdefault(st.origin, []).append(name)
    for origin, names in by_origin.items():
        if len(names) < 2:
            continue
        own = [n for n in names if rec.key(by_name[n]) == origin]
        first = own[0] if own else names[0]
        for n in names:
            if n == first:
                continue
            e = entries[n]
            u = Unexpressible(n, f"a copy of {first}'s values ({e.op})", e.where, f"its values are {first}'s, transformed; varinit draws every tensor independently")
            unexpressible.append(u)
            e.unresolved.append(u)
    return CapturePlan(entries, unexpressible, aliases)


# --------------------------------------------------------------------------
# applying a plan


def apply_plan(
    model: torch.nn.Module,
    plan: CapturePlan,
    *,
    seed: int | None = None,
    strict: bool = True,
    patches: bool = True,
    prefix: str = "",
    style: Any = None,
    style_vars: Any = None,
) -> Any:
    """Initialize ``model``'s parameters in place from ``plan`` with varinit
    (:func:`varinit.torch.init_module_` with the plan's exact-name rules),
    then replay the plan's patches (constants on regions, e.g. a padding
    row). ``strict=True`` raises :class:`UnresolvedPlanError` before
    anything is written when the plan has unresolved writes; with
    ``strict=False`` those parameters get the scheme of their last full
    write (a warning lists them). ``style``: an init style applied over
    the plan (:meth:`CapturePlan.apply_style`, on a copy; ``style_vars`` a
    dict or a Hugging Face config, default ``model.config``). Returns
    varinit's journal."""
    import varinit.torch as vt

    if style is not None:
        from varinit import _style_vars_arg

        if style_vars is None and hasattr(getattr(model, "config", None), "to_dict"):
            style_vars = model.config
        plan = CapturePlan(
            {
                n: dataclasses.replace(e, patches=list(e.patches), unresolved=list(e.unresolved))
                for n, e in plan.entries.items()
            },
            list(plan.unexpressible),
            dict(plan.aliases),
        )
        plan.apply_style(style, _style_vars_arg(style_vars))

    if strict:
        plan.check()
    elif plan.unresolved:
        warnings.warn(
            "applying a plan with unresolved writes (using each tensor's last full-tensor scheme):\n  "
            + "\n  ".join(str(u) for u in plan.unresolved),
            stacklevel=2,
        )
    names = {n for n, _ in model.named_parameters()}
    missing = [e.name for e in plan.parameters if e.name not in names and e.name not in plan.aliases]
    if missing:
        raise ValueError(f"the model has no parameter(s) {missing[:5]} of the plan (a plan of another model?)")
    rules = [(g, s) for g, s in plan.rules()]
    journal = vt.init_module_(model, rules, seed=seed, prefix=prefix, unmatched="keep" if not strict else "error")
    if patches:
        params = dict(model.named_parameters())
        for e in plan.parameters:
            if e.patches and e.name in params:
                for p in e.patches:
                    p.apply_(params[e.name])
    return journal
