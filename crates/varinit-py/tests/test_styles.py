"""Init styles in the Python package: varinit.styles(), varinit.hf's
``style=`` (captured plan as the defaults, the Rust core's style on top,
the config's variables), varinit.torch.init_module_'s ``style=``, user
style files and their errors."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from scipy import stats

transformers = pytest.importorskip("transformers")

import varinit  # noqa: E402
import varinit.torch as vt  # noqa: E402
from varinit import hf  # noqa: E402

# big enough for moment checks (the smallest styled matrix has 64 x 128 elements)
LLAMA = dict(
    model_type="llama",
    vocab_size=256,
    hidden_size=128,
    intermediate_size=256,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=64,
    initializer_range=0.02,
)
D, D_FF, L = 128, 256, 3
# std of a standard normal truncated at +-3
TRUNC3 = stats.truncnorm(-3, 3).std()


def _read(out: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, str] = {}
    for f in sorted(out.glob("*.safetensors")):
        with safe_open(f, "pt") as s:
            meta.update(s.metadata())
            for k in s.keys():
                tensors[k] = s.get_tensor(k)
    return tensors, meta


def _args(scheme: str) -> tuple[str, dict[str, float]]:
    m = re.fullmatch(r"(\w+)(?:\((.*)\))?", scheme)
    assert m, scheme
    args = {}
    for part in filter(None, (m.group(2) or "").split(",")):
        k, v = part.split("=")
        args[k.strip()] = float(v)
    return m.group(1), args


def _olmo_std(name: str) -> float | None:
    """OLMo's mitchell init (allenai/OLMo olmo/model.py, init_fn mitchell) for a Llama name."""
    m = re.fullmatch(r"model\.layers\.(\d+)\.(.*)", name)
    if m:
        l, rest = int(m.group(1)), m.group(2)
        if rest in ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"):
            return 1 / math.sqrt(D)
        if rest in ("mlp.gate_proj.weight", "mlp.up_proj.weight"):
            return 1 / math.sqrt(D)
        if rest == "self_attn.o_proj.weight":
            return 1 / math.sqrt(2 * D * (l + 1))
        if rest == "mlp.down_proj.weight":
            return 1 / math.sqrt(2 * D_FF * (l + 1))
        return None
    if name in ("model.embed_tokens.weight", "lm_head.weight"):
        return 1 / math.sqrt(D)
    return None


def test_styles_lists_the_builtins_and_refuses_typos():
    names = varinit.styles()
    for n in ("hf", "megatron", "torchtitan", "torchtitan_flat", "olmo", "olmo_megatron", "neox", "deepnet", "mup", "gemma"):
        assert n in names
    s = varinit.load_style("olmo")
    assert s.name == "olmo" and s.sources and "d_ff" in s.variables
    with pytest.raises(ValueError, match='did you mean "megatron"'):
        varinit.load_style("megatorn")
    with pytest.raises(FileNotFoundError):
        varinit.load_style("/nonexistent/dir/x.style")


def test_style_vars_of_a_config():
    v = varinit.style_vars(hf.load_config(LLAMA))
    assert v == {"L": 3, "d": 128, "d_ff": 256, "heads": 4, "kv_heads": 2, "head_dim": 32, "vocab": 256, "std": 0.02}
    # GPT-2: 4 d for n_inner=None
    assert varinit.style_vars(dict(model_type="gpt2", n_embd=48, n_layer=2, n_head=4))["d_ff"] == 192


def test_init_checkpoint_olmo_style(tmp_path):
    out = tmp_path / "olmo"
    rep = hf.init_checkpoint(LLAMA, out, seed=3, style="olmo", sync=False)
    tensors, meta = _read(out)
    assert meta["varinit.source"] == "python varinit.hf LlamaForCausalLM style=olmo"
    styled = 0
    for name, t in tensors.items():
        want = _olmo_std(name)
        kind, args = _args(meta[f"varinit.scheme.{name}"])
        if want is None:  # norms keep the model's own init
            assert kind == "ones", (name, kind)
            assert torch.all(t == 1)
            continue
        styled += 1
        assert kind == "trunc_normal", name
        assert args == {"mean": 0.0, "std": want, "a": -3 * want, "b": 3 * want}, (name, args)
        x = t.double()
        assert x.abs().max().item() <= 3 * want
        drawn = x.std().item()
        assert abs(drawn / (want * TRUNC3) - 1) < 0.04, (name, drawn, want * TRUNC3)
        assert abs(x.mean().item()) < 0.05 * want
    assert styled == 2 + 7 * L
    assert rep.plan["model.layers.2.mlp.down_proj.weight"].op == "style olmo"
    # the depth scaling is really there: layer 2's down_proj is sqrt(3) times narrower than layer 0's
    r = tensors["model.layers.0.mlp.down_proj.weight"].std() / tensors["model.layers.2.mlp.down_proj.weight"].std()
    assert abs(r.item() / math.sqrt(3) - 1) < 0.04
    # transformers loads it, with no missing or unexpected keys
    model, info = transformers.AutoModelForCausalLM.from_pretrained(out, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    sd = model.state_dict()
    for name, t in tensors.items():
        assert torch.equal(sd[name], t), name


def test_same_seed_same_bytes_and_hf_style_keeps_everything(tmp_path):
    hf.init_checkpoint(LLAMA, tmp_path / "a", seed=1, style="olmo", sync=False)
    hf.init_checkpoint(LLAMA, tmp_path / "b", seed=1, style="olmo", sync=False)
    hf.init_checkpoint(LLAMA, tmp_path / "c", seed=2, style="olmo", sync=False)
    a, _ = _read(tmp_path / "a")
    b, _ = _read(tmp_path / "b")
    c, _ = _read(tmp_path / "c")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["model.layers.0.mlp.down_proj.weight"], c["model.layers.0.mlp.down_proj.weight"])
    # `hf` keeps every Llama tensor's captured scheme: the bytes of no style
    hf.init_checkpoint(LLAMA, tmp_path / "hf", seed=1, style="hf", sync=False)
    hf.init_checkpoint(LLAMA, tmp_path / "none", seed=1, sync=False)
    h, hm = _read(tmp_path / "hf")
    n, nm = _read(tmp_path / "none")
    assert all(torch.equal(h[k], n[k]) for k in n)
    assert hm["varinit.source"].endswith(" style=hf") and "style" not in nm["varinit.source"]


USER_STYLE = """\
# a user style: deeper MLP outputs smaller, from the config's initializer_range
style deeper
about down_proj std/(l+1)
model.layers.{l}.mlp.down_proj.weight = normal(std=std/(l+1))
*norm*.weight = keep
"""


def test_user_style_file_and_rules_over_it(tmp_path):
    f = tmp_path / "deeper.style"
    f.write_text(USER_STYLE)
    out = tmp_path / "o"
    hf.init_checkpoint(
        LLAMA, out, seed=0, style=str(f), sync=False, rules=[("model.layers.2.mlp.down_proj.weight", "zeros")]
    )
    tensors, meta = _read(out)
    assert meta["varinit.source"] == f"python varinit.hf LlamaForCausalLM style={f}"
    for l in range(L):
        name = f"model.layers.{l}.mlp.down_proj.weight"
        kind, args = _args(meta[f"varinit.scheme.{name}"])
        if l == 2:  # an explicit rule wins over the style
            assert kind == "zeros"
            assert torch.all(tensors[name] == 0)
            continue
        assert (kind, args) == ("normal", {"mean": 0.0, "std": 0.02 / (l + 1)})
        assert abs(tensors[name].double().std().item() / (0.02 / (l + 1)) - 1) < 0.04
    # the rest keeps the model's own init (transformers' normal(0.02))
    kind, args = _args(meta["varinit.scheme.model.layers.1.self_attn.q_proj.weight"])
    assert (kind, args) == ("normal", {"mean": 0.0, "std": 0.02})


def test_bad_style_file_names_file_line_column(tmp_path):
    f = tmp_path / "bad.style"
    f.write_text("*.bias = zeros\nx.w = normal(std=sdt)\n")
    with pytest.raises(ValueError) as e:
        hf.init_checkpoint(LLAMA, tmp_path / "o", style=str(f), sync=False)
    assert str(e.value).startswith(f'{f}:2:18: unknown variable "sdt" (did you mean "std"?)'), str(e.value)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
    f.write_text("model.layers.{l}.mlp.down_proj.weight = normal(std=1/sqrt(experts))\n")
    with pytest.raises(ValueError, match=r"bad\.style:1:\d+: the style uses experts, which the architecture does not provide"):
        hf.init_checkpoint(LLAMA, tmp_path / "o2", style=str(f), sync=False)


def test_command_line_style(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps(LLAMA))
    out = tmp_path / "cli"
    r = subprocess.run(
        [sys.executable, "-m", "varinit.hf", str(cfg), "-o", str(out), "--style", "olmo", "--seed", "3", "--no-sync"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    api = tmp_path / "api"
    hf.init_checkpoint(LLAMA, api, seed=3, style="olmo", sync=False)
    a, am = _read(out)
    b, _ = _read(api)
    assert am["varinit.source"].endswith("style=olmo")
    assert all(torch.equal(a[k], b[k]) for k in b)
    bad = tmp_path / "bad.style"
    bad.write_text("x.w = normal(std=sdt)\n")
    r = subprocess.run(
        [sys.executable, "-m", "varinit.hf", str(cfg), "-o", str(tmp_path / "x"), "--style", str(bad)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.startswith(f"error: {bad}:1:18: unknown variable"), r.stderr


class Stack(torch.nn.Module):
    def __init__(self, n: int, width: int):
        super().__init__()
        self.layers = torch.nn.ModuleList(torch.nn.Linear(width, width) for _ in range(n))


def test_init_module_style_over_rules():
    m = Stack(4, 96)
    style = varinit.Style.parse("layers.{l}.weight = normal(std=std/sqrt(l+1))\n", "inline.style")
    j = vt.init_module_(m, [("*.bias", "zeros"), ("*", "normal(std=1)")], seed=0, style=style, style_vars={"std": 0.5})
    for l, layer in enumerate(m.layers):
        want = 0.5 / math.sqrt(l + 1)
        assert abs(layer.weight.double().std().item() / want - 1) < 0.04
        assert torch.all(layer.bias == 0)
    by = {e.name: e for e in j}
    assert by["layers.3.weight"].rule == "style inline (inline.style:1)"
    assert by["layers.3.bias"].rule == "*.bias"
    # same seed, same weights; a style needing a variable not given fails before writing
    m2 = Stack(4, 96)
    vt.init_module_(m2, [("*.bias", "zeros"), ("*", "normal(std=1)")], seed=0, style=style, style_vars={"std": 0.5})
    assert all(torch.equal(a, b) for a, b in zip(m.parameters(), m2.parameters()))
    before = m2.layers[0].weight.clone()
    with pytest.raises(ValueError, match="the style uses std"):
        vt.init_module_(m2, [("*", "zeros")], seed=0, style=style)
    assert torch.equal(m2.layers[0].weight, before)
    # no rule for a parameter, but the style gives it one: it is initialized
    m3 = Stack(2, 8)
    j = vt.init_module_(m3, [("*.bias", "zeros")], style=style, style_vars={"std": 1.0})
    assert not j.unmatched


def test_init_module_with_a_plan_and_a_style():
    cfg = hf.load_config(LLAMA)
    plan = varinit.capture.capture(lambda: transformers.LlamaForCausalLM(cfg))
    model = transformers.LlamaForCausalLM(cfg)
    vt.init_module_(model, plan, seed=0, style="megatron")  # variables from model.config
    std = 0.02 / math.sqrt(2 * L)
    for l in range(L):
        w = model.model.layers[l].self_attn.o_proj.weight.double()
        assert abs(w.std().item() / std - 1) < 0.04
    assert plan["model.layers.0.self_attn.o_proj.weight"].scheme == "normal(mean=0, std=0.02)"  # the plan is not changed
