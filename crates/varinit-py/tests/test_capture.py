"""varinit.capture: a model's own init, recorded on the meta device and
replayed by varinit, against the model's own init run by PyTorch."""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from scipy import stats

from varinit.capture import UnresolvedPlanError, apply_plan, capture

PAD = 3


class Net(nn.Module):
    """A research-style model: its own reset_parameters mixing nn.init,
    tensor methods, a scaled in-place draw and a padding-row write."""

    def __init__(self, vocab: int = 3000, d: int = 64):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.fc1 = nn.Linear(d, 256)
        self.fc2 = nn.Linear(256, d)
        self.conv = nn.Conv1d(d, 48, 5)  # keeps PyTorch's default init
        self.norm = nn.LayerNorm(d)
        self.gate = nn.Parameter(torch.empty(160, d))
        self.scale = nn.Parameter(torch.randn(d) * 0.1 + 1.0)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.emb.weight, std=0.05)
        with torch.no_grad():
            self.emb.weight[PAD].zero_()  # PADDING-ROW
        nn.init.kaiming_normal_(self.fc1.weight, mode="fan_out", nonlinearity="relu")
        self.fc1.bias.data.fill_(0.01)
        nn.init.xavier_uniform_(self.fc2.weight, gain=nn.init.calculate_gain("tanh"))
        self.fc2.bias.data.zero_()
        nn.init.trunc_normal_(self.gate, std=0.02, a=-0.03, b=0.03)
        self.gate.data.mul_(2.0)


def _line_of(marker: str, fn) -> int:
    lines, first = inspect.getsourcelines(fn)
    return first + next(i for i, l in enumerate(lines) if marker in l)


def test_plan_has_pytorchs_semantics_and_reports_the_padding_write():
    plan = capture(Net)
    s = {e.name: e.scheme for e in plan.parameters}
    assert s["emb.weight"] == "normal(mean=0, std=0.05)"
    assert s["fc1.weight"] == "kaiming_normal(a=0, mode=fan_out, nonlinearity=relu)"
    assert s["fc1.bias"] == "constant(0.01)"
    assert s["fc2.weight"] == f"xavier_uniform(gain={nn.init.calculate_gain('tanh')!r})"
    assert s["fc2.bias"] == "zeros"
    assert s["conv.weight"] == f"kaiming_uniform(a={math.sqrt(5)!r}, mode=fan_in, nonlinearity=leaky_relu)"
    bound = 1 / math.sqrt(64 * 5)
    lo, hi = plan["conv.bias"].scheme.removeprefix("uniform(a=").removesuffix(")").split(", b=")
    assert float(lo) == pytest.approx(-bound, rel=1e-15) and float(hi) == pytest.approx(bound, rel=1e-15)
    assert s["norm.weight"] == "ones" and s["norm.bias"] == "zeros"
    # trunc_normal with PyTorch's absolute bounds, then scaled by 2
    assert s["gate"] == "trunc_normal(mean=0, std=0.04, a=-0.06, b=0.06)"
    assert s["scale"] == "normal(mean=1, std=0.1)"
    # the padding row: reported by name, operation and line, replayed as a patch
    line = _line_of("PADDING-ROW", Net.reset_parameters)
    (u,) = plan.unexpressible
    assert u.name == "emb.weight" and "zero_" in u.op
    assert u.file.endswith("test_capture.py") and u.line == line, u.where
    assert u.patch is not None and u.patch.value == 0.0 and u.patch.runs == ((PAD * 64, 64),)
    assert plan.unresolved == [] and "emb.weight" in str(plan)


def _ks(a: torch.Tensor, b: torch.Tensor) -> float:
    return stats.ks_2samp(a.detach().double().reshape(-1).numpy(), b.detach().double().reshape(-1).numpy()).pvalue


def test_plan_reproduces_every_distribution():
    plan = capture(Net)
    torch.manual_seed(0)
    ref = Net()  # the model's own init, run by PyTorch
    with torch.device("meta"):
        ours = Net()
    ours.to_empty(device="cpu")
    apply_plan(ours, plan, seed=11)
    r, o = dict(ref.named_parameters()), dict(ours.named_parameters())
    assert r.keys() == o.keys()
    for name in r:
        a, b = r[name].detach(), o[name].detach()
        assert a.shape == b.shape and a.dtype == b.dtype, name
        if name == "emb.weight":
            assert torch.all(b[PAD] == 0) and torch.all(a[PAD] == 0)
            keep = torch.arange(a.shape[0]) != PAD
            a, b = a[keep], b[keep]
        if torch.all(a == a.reshape(-1)[0]):
            assert torch.equal(a, b), name  # constants equal
            continue
        p = _ks(a, b)
        assert p > 1e-4, f"{name}: KS p = {p:.2e}"
        if a.numel() >= 5000:
            assert b.mean().item() == pytest.approx(a.mean().item(), abs=0.1 * a.std().item()), name
            assert b.std().item() == pytest.approx(a.std().item(), rel=0.05), name
            # the test has the power to see a 15% error of scale
            assert _ks(a, b * 1.15) < 1e-4, name
    g = o["gate"].detach()
    assert g.abs().max() <= 0.06 and g.abs().max() > 0.055


def test_unexpressible_writes_block_a_strict_apply_until_resolved():
    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Parameter(torch.empty(32, 32))
            self.b = nn.Parameter(torch.empty(32, 32))
            self.c = nn.Parameter(torch.empty(16, 8))
            nn.init.orthogonal_(self.a)
            with torch.no_grad():
                self.b.copy_(self.a * 0.5)  # SCALED-COPY
                self.c.normal_(0, 1).clamp_(-1, 1)  # CLAMP
                self.c[:, :2].uniform_(-1, 1)  # RANDOM-SLICE

    plan = capture(Odd)
    by = {(u.name, u.line) for u in plan.unresolved}
    init = Odd.__init__
    assert ("b", _line_of("SCALED-COPY", init)) in by
    assert ("c", _line_of("CLAMP", init)) in by
    assert ("c", _line_of("RANDOM-SLICE", init)) in by
    assert plan["a"].scheme == "orthogonal(gain=1)" and plan["a"].ok
    with torch.device("meta"):
        m = Odd()
    m.to_empty(device="cpu")
    with pytest.raises(UnresolvedPlanError, match="b: Tensor.copy_"):
        apply_plan(m, plan)
    plan.resolve("b", "orthogonal(gain=0.5)")
    plan.resolve("c", "uniform(a=-1, b=1)")
    apply_plan(m, plan, seed=3)
    b = m.b.detach().double()
    assert torch.allclose(b @ b.T, 0.25 * torch.eye(32, dtype=torch.float64), atol=1e-5)


def test_capture_of_a_built_model_changes_nothing_and_sees_reset_parameters():
    torch.manual_seed(1)
    m = nn.Sequential(nn.Linear(20, 30), nn.ReLU(), nn.Linear(30, 5))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    plan = capture(m)
    for k, v in m.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert plan["0.weight"].scheme == f"kaiming_uniform(a={math.sqrt(5)!r}, mode=fan_in, nonlinearity=leaky_relu)"
    assert plan["2.bias"].scheme == f"uniform(a={-1 / math.sqrt(30)!r}, b={1 / math.sqrt(30)!r})"


def test_functions_imported_by_name_and_factories_are_seen():
    from torch.nn.init import trunc_normal_ as tn  # a reference the module keeps

    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(10, 10))
            self.cls = nn.Parameter(torch.zeros(1, 1, 10))
            self.pos = nn.Parameter(torch.rand(5, 10) * 2 - 1)
            tn(self.w, std=0.5)

    plan = capture(M)
    assert plan["w"].scheme == "trunc_normal(mean=0, std=0.5, a=-2, b=2)"
    assert plan["cls"].scheme == "zeros"
    assert plan["pos"].scheme == "uniform(a=-1, b=1)"
    # the patches are undone afterwards
    assert torch.nn.init.trunc_normal_ is tn and not hasattr(torch.nn.init.normal_, "_varinit_capture")


def test_a_parameter_left_uninitialized_is_reported():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.empty(4, 4))

    plan = capture(M)
    assert [u.name for u in plan.unresolved] == ["w"]
    with pytest.raises(UnresolvedPlanError, match="uninitialized"):
        plan.check()


def test_bad_input():
    with pytest.raises(TypeError):
        capture(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not a torch.nn.Module"):
        capture(lambda: 3)
    with pytest.raises(ValueError):  # PyTorch's own error for fans of a 1-D tensor
        capture(lambda: _XavierOn1D())
    np.testing.assert_equal(torch.nn.init.normal_.__module__, "torch.nn.init")


class _XavierOn1D(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.Parameter(torch.empty(5))
        nn.init.xavier_uniform_(self.b)


def test_varinit_torch_entry_points():
    import varinit.torch as vt

    plan = vt.capture(lambda: nn.Sequential(nn.Linear(300, 200), nn.LayerNorm(200)))
    with torch.device("meta"):
        m = nn.Sequential(nn.Linear(300, 200), nn.LayerNorm(200))
    m.to_empty(device="cpu")
    vt.init_module_(m, plan, seed=4)
    w = m[0].weight.detach()
    assert w.abs().max() <= 1 / math.sqrt(300) and w.std().item() == pytest.approx(1 / math.sqrt(900), rel=0.03)
    assert torch.equal(m[1].weight.detach(), torch.ones(200))
    # the same plan and seed give the same bytes
    m2 = nn.Sequential(nn.Linear(300, 200), nn.LayerNorm(200))
    vt.init_module_(m2, plan, seed=4)
    assert torch.equal(m2[0].weight.detach(), w)
