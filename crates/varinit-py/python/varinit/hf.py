"""Hugging Face checkpoints for any transformers architecture, initialized
the way the model's own ``_init_weights`` does it, written by varinit's
streaming writer.

:func:`init_checkpoint` builds the model class for a config on the meta
device (no memory for weights), captures its initialization with
:func:`varinit.capture.capture`, and writes sharded safetensors, the index and
``config.json`` with the same streaming, atomic, bounded-memory writer as
``varinit init`` -- the tensors ``save_pretrained`` would save (tied weights
once), so ``AutoModel*.from_pretrained(out_dir)`` loads with no missing or
unexpected keys. Every value is a pure function of (seed, tensor name,
scheme, shape, dtype): for the families ``varinit init --hf-config`` knows,
the tensors' bytes equal the CLI's with the same seed.

Command line::

    python -m varinit.hf config.json -o out/ --seed 0 --dtype bf16 --max-shard-size 5GB [--style olmo]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from varinit import _native
from varinit.capture import CapturePlan, UnresolvedPlanError, capture

__all__ = ["init_checkpoint", "CheckpointReport", "model_class_for", "load_config", "main"]

# the core's one dtype table: torch dtype -> core name, and every accepted name -> torch dtype
_DTYPES = {getattr(torch, torch_name): name for name, torch_name, _size, _aliases in _native.dtypes()}
_DTYPE_NAMES = {
    alias: getattr(torch, torch_name) for _name, torch_name, _size, aliases in _native.dtypes() for alias in aliases
}


def _torch_dtype(d: Any) -> torch.dtype:
    if isinstance(d, torch.dtype):
        if d not in _DTYPES:
            raise ValueError(f"dtype {d} is not one varinit writes (float32, float64, float16, bfloat16)")
        return d
    if isinstance(d, str) and d.lower() in _DTYPE_NAMES:
        return _DTYPE_NAMES[d.lower()]
    raise ValueError(f"unknown dtype {d!r}: use float32, float64, float16 or bfloat16 (or f32, f64, f16, bf16)")


def parse_size(s: int | str) -> int:
    """A shard size as transformers reads it: an int (bytes) or ``"5GB"``
    (10^9), ``"500MiB"`` (2^20), ..."""
    if isinstance(s, int):
        if s <= 0:
            raise ValueError("max_shard_size must be positive")
        return s
    t = s.strip().upper()
    units = [
        ("GIB", 2**30),
        ("MIB", 2**20),
        ("KIB", 2**10),
        ("TB", 10**12),
        ("GB", 10**9),
        ("MB", 10**6),
        ("KB", 10**3),
        ("B", 1),
    ]
    for u, m in units:
        if t.endswith(u):
            num = t[: -len(u)].strip()
            try:
                v = int(float(num) * m)
            except ValueError:
                break
            if v <= 0:
                break
            return v
    if t.isdigit() and int(t) > 0:
        return int(t)
    raise ValueError(f"max_shard_size {s!r}: write bytes or a size such as '5GB', '500MB', '2GiB'")


def load_config(config: Any) -> Any:
    """A transformers config from a ``PretrainedConfig``, a dict (with
    ``model_type``), a ``config.json`` path or a folder holding one."""
    import transformers

    if isinstance(config, transformers.PretrainedConfig):
        return config
    if isinstance(config, dict):
        d = dict(config)
        mt = d.pop("model_type", None)
        if not mt:
            raise ValueError('a config dict needs a "model_type"')
        return transformers.AutoConfig.for_model(mt, **d)
    if isinstance(config, (str, os.PathLike)):
        p = os.fspath(config)
        if os.path.isdir(p):
            p = os.path.join(p, "config.json")
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{p}: no such config file")
        with open(p, encoding="utf-8") as f:
            try:
                d = json.load(f)
            except json.JSONDecodeError as e:
                raise ValueError(f"{p}: not valid JSON: {e}") from None
        if not isinstance(d, dict):
            raise ValueError(f"{p}: a config.json must be a JSON object")
        return load_config(d)
    raise TypeError(f"config must be a transformers config, a dict or a path, not {type(config).__name__}")


def model_class_for(config: Any) -> type:
    """The class ``from_pretrained`` would use: the config's
    ``architectures[0]`` when transformers has it, else the first of
    AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoModelForMaskedLM,
    AutoModel that knows the config."""
    import transformers

    for a in getattr(config, "architectures", None) or []:
        cls = getattr(transformers, a, None)
        if isinstance(cls, type):
            return cls
    for auto in ("AutoModelForCausalLM", "AutoModelForSeq2SeqLM", "AutoModelForMaskedLM", "AutoModel"):
        mapping = getattr(transformers, auto)._model_mapping
        try:
            return mapping[type(config)]
        except KeyError:
            continue
    raise ValueError(f"transformers has no model class for model_type {config.model_type!r}")


@dataclasses.dataclass
class CheckpointReport:
    """What :func:`init_checkpoint` wrote."""

    out_dir: str
    files: list[str]
    bytes: int
    tensors: int
    parameters: int
    model_class: str
    plan: CapturePlan
    seconds_capture: float
    seconds_write: float
    patched: list[str]

    def __str__(self) -> str:
        return (
            f"wrote {len(self.files)} files ({self.bytes / 1e9:.3f} GB, {self.tensors} tensors, "
            f"{self.parameters:,} parameters) of {self.model_class} to {self.out_dir} "
            f"(capture {self.seconds_capture:.2f} s, write {self.seconds_write:.2f} s)"
        )


def saved_keys(model: torch.nn.Module) -> list[str]:
    """The state-dict keys ``save_pretrained`` writes for ``model`` (tied
    weights once, ``_keys_to_ignore_on_save`` dropped), in state-dict order."""
    from transformers import modeling_utils

    sd = model.state_dict()
    for k in getattr(model, "_keys_to_ignore_on_save", None) or []:
        sd.pop(k, None)
    sd = modeling_utils.remove_tied_weights_from_state_dict(sd, model)
    return list(sd.keys())


def init_checkpoint(
    config: Any,
    out_dir: str | os.PathLike,
    *,
    seed: int = 0,
    dtype: Any = None,
    max_shard_size: int | str = "5GB",
    model_class: type | None = None,
    rules: Sequence[tuple[str, str]] = (),
    strict: bool = True,
    force: bool = False,
    sync: bool = True,
    worker: tuple[int, int] | None = None,
    generation_config: bool = True,
    style: Any = None,
) -> CheckpointReport:
    """Write an initialized Hugging Face checkpoint for ``config``.

    - ``config``: a transformers config, a dict with ``model_type``, or a
      ``config.json`` path (no hub access is needed or made);
    - ``seed``: every tensor is a function of (seed, its name, its scheme,
      shape, dtype), whatever the sharding or the machine;
    - ``dtype``: of the weights (default: the config's ``dtype``, else
      float32); tensors a model keeps in another dtype keep it;
    - ``max_shard_size``: as ``save_pretrained`` (``"5GB"`` default);
    - ``model_class``: default :func:`model_class_for` (the config's
      ``architectures``, else the causal-LM / seq2seq / masked-LM / base class);
    - ``style``: an init style -- a built-in name (:func:`varinit.styles`:
      ``"olmo"``, ``"megatron"``, ...), a style file's path or a
      :class:`varinit.Style` -- applied over the captured plan, which
      gives each tensor's default (the style's ``keep``), with the
      variables of the config (:func:`varinit.style_vars`: any
      architecture); recorded in the checkpoint's ``source`` metadata;
    - ``rules``: ``(glob, scheme)`` pairs that override what was captured
      and what the style gave (the way to resolve a write no scheme
      expresses);
    - ``strict``: refuse (``UnresolvedPlanError``, nothing written) when a
      saved tensor has a write no scheme expresses and no rule resolves;
      ``False`` uses its last full-tensor scheme;
    - ``force``: write into a non-empty folder; ``sync``: fsync files
      before renaming them into place; ``worker=(i, n)``: write only this
      worker's shards of a split run (every worker writes the same index).

    Constants written to part of a tensor by the model's init (an
    embedding's ``padding_idx`` row) are replayed exactly on the stream.
    """
    t0 = time.perf_counter()
    cfg = load_config(config)
    cls = model_class or model_class_for(cfg)
    tdtype = _torch_dtype(dtype) if dtype is not None else None
    if tdtype is None:
        cd = cfg.__dict__.get("dtype") or cfg.__dict__.get("torch_dtype")
        tdtype = _torch_dtype(cd) if cd not in (None, "auto") else torch.float32
    cfg.dtype = tdtype
    plan = capture(lambda: cls._from_config(cfg, dtype=tdtype))
    model = plan.model  # type: ignore[attr-defined]
    source = f"python varinit.hf {cls.__name__}"
    if style is not None:
        import varinit

        st = varinit.load_style(style)
        plan.apply_style(st, varinit.style_vars(cfg))
        source += f" style={st.name if st.file.startswith('builtin:') else st.file}"
    for glob, scheme in rules:
        plan.resolve(glob, scheme)
    keys = saved_keys(model)
    entries = []
    for k in keys:
        if k not in plan:
            raise RuntimeError(f"{k}: in the state dict but not among the model's parameters and buffers")
        entries.append((k, plan[k]))
    problems = []
    for k, e in entries:
        problems += [str(u) for u in e.unresolved]
        if e.scheme is None and not e.unresolved:
            problems.append(f"{k}: no scheme ({e.op} at {e.where})")
    if problems and strict:
        raise UnresolvedPlanError(
            f"{len(problems)} write(s) in {cls.__name__}'s init that no varinit scheme expresses; pass "
            "rules=[(glob, scheme)] to resolve them, or strict=False:\n  " + "\n  ".join(problems)
        )
    tensors = []
    patches = []
    patched = []
    sd = model.state_dict()
    for k, e in entries:
        t = sd[k]
        if t.dtype not in _DTYPES:
            raise ValueError(f"{k}: dtype {t.dtype} is not one varinit writes (a non-float buffer)")
        if e.scheme is None:
            raise UnresolvedPlanError(f"{k}: no scheme recorded; give it one with rules=[({k!r}, scheme)]")
        tensors.append((k, list(t.shape), e.scheme, _DTYPES[t.dtype]))
        for p in e.patches:
            patched.append(k)
            for start, count in p.runs:
                patches.append((k, start, count, p.value))
    cfg.architectures = [cls.__name__]
    config_bytes = cfg.to_json_string().encode("utf-8")
    from varinit import _native

    t1 = time.perf_counter()
    files, nbytes = _native.write_checkpoint(
        os.fspath(out_dir),
        tensors,
        seed=int(seed),
        dtype=_DTYPES[tdtype],
        max_shard_bytes=parse_size(max_shard_size),
        config=config_bytes,
        source=source,
        patches=patches,
        force=force,
        sync=sync,
        worker=worker,
    )
    if generation_config and getattr(model, "generation_config", None) is not None and model.can_generate():
        if worker is None or worker[1] == 1:  # not in split runs: the other workers' folder checks would trip on it
            model.generation_config.save_pretrained(os.fspath(out_dir))
            files.append(os.path.join(os.fspath(out_dir), "generation_config.json"))
    t2 = time.perf_counter()
    return CheckpointReport(
        out_dir=os.fspath(out_dir),
        files=files,
        bytes=nbytes,
        tensors=len(tensors),
        parameters=sum(int(torch.Size(s).numel()) for _, s, _, _ in tensors),
        model_class=cls.__name__,
        plan=plan,
        seconds_capture=t1 - t0,
        seconds_write=t2 - t1,
        patched=sorted(set(patched)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m varinit.hf",
        description="Write an initialized Hugging Face checkpoint for any transformers architecture, "
        "with the model's own init (captured from its _init_weights) drawn by varinit.",
    )
    ap.add_argument("config", help="config.json (or a folder holding one)")
    ap.add_argument("-o", "--out", required=True, help="output folder (created; must be empty unless --force)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default=None, help="f32, bf16, f16, f64 (default: the config's dtype, else f32)")
    ap.add_argument("--max-shard-size", default="5GB")
    ap.add_argument("--model-class", default=None, help="a transformers class name (default: from the config)")
    ap.add_argument(
        "--style", default=None, metavar="NAME|FILE", help="an init style: a built-in name (varinit styles) or a style file"
    )
    ap.add_argument("--rule", action="append", default=[], metavar="GLOB=SCHEME", help="override a tensor's scheme")
    ap.add_argument("--no-strict", action="store_true", help="use the last full-tensor scheme for unresolved writes")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--no-sync", action="store_true", help="do not fsync before renaming files into place")
    ap.add_argument("--print-plan", action="store_true", help="print the captured plan")
    ap.add_argument("--json", action="store_true", help="one JSON document on stdout")
    a = ap.parse_args(argv)
    try:
        import transformers

        transformers.logging.set_verbosity_error()  # errors on one line; warnings of transformers' own are not ours

        rules = []
        for r in a.rule:
            if "=" not in r:
                raise ValueError(f"--rule {r!r}: write GLOB=SCHEME")
            g, s = r.split("=", 1)
            rules.append((g.strip(), s.strip()))
        cls = None
        if a.model_class:
            import transformers

            cls = getattr(transformers, a.model_class, None)
            if not isinstance(cls, type):
                raise ValueError(f"transformers has no class {a.model_class!r}")
        rep = init_checkpoint(
            a.config,
            a.out,
            seed=a.seed,
            dtype=a.dtype,
            max_shard_size=a.max_shard_size,
            model_class=cls,
            rules=rules,
            style=a.style,
            strict=not a.no_strict,
            force=a.force,
            sync=not a.no_sync,
        )
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except UnresolvedPlanError as e:
        # the library speaks of rules= and strict=; on the command line they are --rule and --no-strict
        print(f"error: {e}\n(on the command line: --rule GLOB=SCHEME, or --no-strict)", file=sys.stderr)
        return 2
    except (ValueError, TypeError, KeyError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 -- one line, exit 1
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    if a.json:
        doc = {
            "out_dir": rep.out_dir,
            "files": rep.files,
            "bytes": rep.bytes,
            "tensors": rep.tensors,
            "parameters": rep.parameters,
            "model_class": rep.model_class,
            "seconds_capture": rep.seconds_capture,
            "seconds_write": rep.seconds_write,
            "patched": rep.patched,
            "unexpressible": [
                {"name": u.name, "op": u.op, "where": u.where, "reason": u.reason, "patch": u.patch is not None}
                for u in rep.plan.unexpressible
            ],
            "schemes": {e.name: e.scheme for e in rep.plan.entries.values()},
        }
        print(json.dumps(doc, indent=2))
    else:
        if a.print_plan:
            print(rep.plan)
            print()
        print(rep)
        for u in rep.plan.unexpressible:
            print(f"  note: {u}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
