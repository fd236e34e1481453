"""varinit.torch.init_module_: whole modules by parameter name."""

import pytest
from conftest import as_bytes

torch = pytest.importorskip("torch")
import varinit  # noqa: E402
import varinit.torch as vi  # noqa: E402

RULES = [
    ("*.bias", "zeros"),
    ("*norm*.weight", "ones"),
    ("embed.weight", "normal(std=0.02)"),
    ("*.weight", "trunc_normal(std=0.02)"),
]


class Block(torch.nn.Module):
    def __init__(self, d=24):
        super().__init__()
        self.norm = torch.nn.LayerNorm(d)
        self.fc1 = torch.nn.Linear(d, 4 * d)
        self.fc2 = torch.nn.Linear(4 * d, d, bias=False)


class Net(torch.nn.Module):
    def __init__(self, d=24, layers=2, dtype=None):
        super().__init__()
        self.embed = torch.nn.Embedding(50, d)
        self.layers = torch.nn.ModuleList(Block(d) for _ in range(layers))
        self.head = torch.nn.Linear(d, 50)
        if dtype is not None:
            self.to(dtype)


def expected(name, shape, dtype="float32", seed=0):
    for glob, scheme in RULES:
        import fnmatch

        if fnmatch.fnmatchcase(name, glob):
            return varinit.sample(scheme, shape, seed=seed, name=name, dtype=dtype)
    raise AssertionError(name)


def test_every_parameter_by_name():
    net = Net()
    journal = vi.init_module_(net, RULES, seed=11)
    names = [n for n, _ in net.named_parameters()]
    assert [e.name for e in journal] == names
    for n, p in net.named_parameters():
        assert as_bytes(p) == as_bytes(expected(n, tuple(p.shape), seed=11)), n
    e = {x.name: x for x in journal}
    assert e["layers.0.fc1.bias"].scheme == "zeros" and e["layers.0.fc1.bias"].status == "initialized"
    assert e["embed.weight"].distribution == "N(0, 0.02^2)"
    assert e["layers.1.norm.weight"].rule == "*norm*.weight"
    assert "layers.0.fc2.weight" in str(journal)


def test_meta_device_then_to_empty_and_bf16():
    with torch.device("meta"):
        net = Net(dtype=torch.bfloat16)
    j = vi.init_module_(net, RULES, seed=3)
    assert all(e.status == "meta" for e in j)
    net.to_empty(device="cpu")
    vi.init_module_(net, RULES, seed=3)
    for n, p in net.named_parameters():
        assert as_bytes(p) == as_bytes(expected(n, tuple(p.shape), "bfloat16", seed=3)), n
    # the same module built normally gets the same bytes
    ref = Net(dtype=torch.bfloat16)
    vi.init_module_(ref, RULES, seed=3)
    for (n, a), (_, b) in zip(net.named_parameters(), ref.named_parameters()):
        assert torch.equal(a.view(torch.int16), b.view(torch.int16)), n


def test_unmatched_error_or_keep():
    net = Net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    with pytest.raises(ValueError, match="layers.0.norm.bias"):
        vi.init_module_(net, [("*.weight", "normal")])
    # nothing was written
    for n, p in net.named_parameters():
        assert torch.equal(p, before[n])
    j = vi.init_module_(net, [("*.weight", "normal")], unmatched="keep")
    assert "layers.0.norm.bias" in j.unmatched and "head.bias" in j.unmatched
    assert torch.equal(net.head.bias, before["head.bias"])
    # a scheme that does not fit a parameter: an error naming it, before any write
    net2 = Net()
    before2 = {n: p.detach().clone() for n, p in net2.named_parameters()}
    with pytest.raises(ValueError, match="layers.0.norm.weight"):
        vi.init_module_(net2, [("*", "kaiming_normal")])
    for n, p in net2.named_parameters():
        assert torch.equal(p, before2[n])
    with pytest.raises(ValueError, match="rule 0"):
        vi.init_module_(net2, [("*", "kaiming_nromal")])
    with pytest.raises(TypeError):
        vi.init_module_(net2, ["*"])
    with pytest.raises(TypeError):
        vi.init_module_("net", RULES)


def test_spec_files(tmp_path):
    rules = tmp_path / "rules.toml"
    rules.write_text("seed = 11\n" + "".join(f'[[rule]]\nmatch = "{g}"\ninit = "{s}"\n' for g, s in RULES))
    net = Net()
    vi.init_module_(net, str(rules))
    for n, p in net.named_parameters():
        assert as_bytes(p) == as_bytes(expected(n, tuple(p.shape), seed=11)), n
    # a full spec file: schemes by exact name (varinit-io's reader, with its checks)
    small = torch.nn.Linear(4, 3)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'seed = 5\n[[tensor]]\nname = "weight"\nshape = [3, 4]\ninit = "xavier_normal"\n'
        '[[tensor]]\nname = "bias"\nshape = [3]\n[[rule]]\nmatch = "*bias"\ninit = "constant(0.1)"\n'
    )
    vi.init_module_(small, spec)
    assert as_bytes(small.weight) == as_bytes(varinit.sample("xavier_normal", (3, 4), seed=5, name="weight"))
    assert torch.equal(small.bias, torch.full((3,), 0.1))
    bad = tmp_path / "bad.toml"
    bad.write_text('[[tensor]]\nname = "w"\nshape = [3]\ninit = "kaiming_normal"\n')
    with pytest.raises(ValueError, match="bad.toml:"):
        vi.init_module_(small, bad)
    with pytest.raises(FileNotFoundError):
        vi.init_module_(small, tmp_path / "missing.toml")
