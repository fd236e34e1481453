"""One rank of the multi-process tests (run by test_distributed.py, not by pytest itself).

usage: python dist_worker.py RANK WORLD PORT OUTFILE

Every rank fills DTensors (plain placements on 1-D and 2-D meshes, FSDP2
parameters, TP+FSDP parameters) with varinit, gathers them with
``full_tensor()`` and compares the bytes with the single-process values
(``varinit.sample`` / ``init_module_`` on an unsharded model). Writes a JSON
list of failures (empty = pass) to OUTFILE.
"""

import itertools
import json
import os
import sys
import traceback

rank, world, port, outfile = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank), WORLD_SIZE=str(world))
os.environ.setdefault("RAYON_NUM_THREADS", "1")

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
from torch.distributed.device_mesh import init_device_mesh  # noqa: E402
from torch.distributed.tensor import Replicate, Shard, distribute_tensor  # noqa: E402

import varinit  # noqa: E402
import varinit.torch as vi  # noqa: E402

torch.set_num_threads(1)
failures = []
checked = 0
placements_seen = set()
interleaved = 0  # shards whose global indices are not one block (the per-run path)


def as_bytes(t):
    t = t.detach().contiguous()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.view(torch.int16)
    return t.numpy().tobytes()


def check(label, got, want):
    global checked
    checked += 1
    if tuple(got.shape) != tuple(want.shape) or as_bytes(got) != as_bytes(want):
        failures.append(f"rank {rank}: {label}: gathered tensor differs from the single-process one")


DT = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float64: "float64"}
CASES = [
    ("normal_", (), {"std": 0.02}, "normal(0, 0.02)"),
    ("trunc_normal_", (0.0, 0.02, -0.04, 0.04), {}, "trunc_normal(0, 0.02, -0.04, 0.04)"),
    ("kaiming_uniform_", (), {"a": 5 ** 0.5}, "torch_default"),
    ("orthogonal_", (), {}, "orthogonal"),
    ("sparse_", (0.3,), {}, "sparse(0.3)"),
]


def placements_cases(mesh):
    shapes = [(1001, 37), (7, 3), (10, 9, 7), (12, 8)]
    singles = [Shard(0), Shard(1), Replicate()]
    if mesh.ndim == 1:
        combos = [(p,) for p in singles] + [(Shard(2),)]
    else:
        combos = list(itertools.product(singles, repeat=2)) + [(Shard(2), Shard(0))]
        try:  # interleaved shards: FSDP-style strided sharding of one dimension twice
            from torch.distributed.tensor.placement_types import _StridedShard

            combos += [(Shard(0), _StridedShard(0, split_factor=2)), (_StridedShard(1, split_factor=2), Shard(1)),
                       (Shard(1), _StridedShard(1, split_factor=2))]
        except ImportError:
            pass
    for shape in shapes:
        for pl in combos:
            if any(isinstance(p, Shard) and p.dim >= len(shape) for p in pl):
                continue
            strided = any(type(p).__name__ == "_StridedShard" for p in pl)
            # PyTorch itself distributes strided shards evenly only; the plain
            # placements get the uneven shapes
            if strided != (shape == (12, 8)):
                continue
            yield shape, pl


def run_placements(mesh, tag):
    global interleaved
    for shape, pl in placements_cases(mesh):
        for fn, args, kwargs, scheme in CASES:
            if fn == "sparse_" and len(shape) != 2:
                continue
            # whole-matrix schemes: one shape is enough (each rank computes the full matrix)
            if fn in ("orthogonal_", "sparse_") and shape not in ((1001, 37), (12, 8)):
                continue
            for dtype in (torch.float32, torch.bfloat16):
                # src_data_rank=None: every rank just takes its piece (the values are overwritten)
                dt = distribute_tensor(torch.zeros(shape, dtype=dtype), mesh, pl, src_data_rank=None)
                name = f"{tag}.{fn}.{shape}"
                lists = vi._strided_index_lists(dt)
                if lists is not None and any(ix is not None and len(vi._runs(ix)) > 1 for ix in lists):
                    interleaved += 1
                getattr(vi, fn)(dt, *args, **kwargs, seed=7, name=name)
                full = dt.full_tensor()
                want = torch.from_numpy(varinit.sample(scheme, shape, seed=7, name=name, dtype=DT[dtype]).view(
                    "int16" if dtype == torch.bfloat16 else "float32"))
                if dtype == torch.bfloat16:
                    want = want.view(torch.bfloat16)
                check(f"{tag} {fn} {shape} {pl} {dtype}", full, want)


class Attn(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q = torch.nn.Linear(d, d, bias=False)
        self.k = torch.nn.Linear(d, d // 2, bias=False)
        self.o = torch.nn.Linear(d, d, bias=False)


class Mlp(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.up = torch.nn.Linear(d, 3 * d + 1)  # an odd width: uneven shards
        self.down = torch.nn.Linear(3 * d + 1, d)


class Layer(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.norm = torch.nn.RMSNorm(d)
        self.attn = Attn(d)
        self.mlp = Mlp(d)


class Model(torch.nn.Module):
    def __init__(self, d=20, n=2, vocab=101):
        super().__init__()
        self.embed = torch.nn.Embedding(vocab, d)
        self.layers = torch.nn.ModuleList(Layer(d) for _ in range(n))
        self.lm_head = torch.nn.Linear(d, vocab, bias=False)


RULES = [
    ("*norm.weight", "ones"),
    ("*.bias", "uniform(-0.1, 0.1)"),
    ("*.o.weight", "orthogonal"),
    ("*down.weight", "normal(std=0.005)"),
    ("*", "trunc_normal(std=0.02)"),
]


def reference():
    torch.manual_seed(0)
    ref = Model()
    vi.init_module_(ref, RULES, seed=123)
    return dict(ref.named_parameters())


def compare_model(model, tag):
    ref = reference()
    for n, p in model.named_parameters():
        full = p.full_tensor() if hasattr(p, "full_tensor") else p
        placements_seen.add(repr(getattr(p, "placements", None)))
        check(f"{tag} {n} {getattr(p, 'placements', None)}", full, ref[n])


def run_fsdp(mesh, tag):
    from torch.distributed.fsdp import fully_shard

    with torch.device("meta"):
        model = Model()
    for layer in model.layers:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    vi.init_module_(model, RULES, seed=123)
    compare_model(model, tag)


def run_tp_fsdp(mesh2, tag):
    from torch.distributed.fsdp import fully_shard
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel, parallelize_module

    with torch.device("meta"):
        model = Model()
    tp, dp = mesh2["tp"], mesh2["dp"]
    for layer in model.layers:
        parallelize_module(
            layer,
            tp,
            {"attn.q": ColwiseParallel(), "attn.k": ColwiseParallel(), "attn.o": RowwiseParallel(),
             "mlp.up": ColwiseParallel(), "mlp.down": RowwiseParallel()},
        )
        fully_shard(layer, mesh=dp)
    fully_shard(model, mesh=dp)
    model.to_empty(device="cpu")
    vi.init_module_(model, RULES, seed=123)
    compare_model(model, tag)


try:
    dist.init_process_group("gloo", rank=rank, world_size=world)
    mesh1 = init_device_mesh("cpu", (world,))
    run_placements(mesh1, f"mesh({world},)")
    run_fsdp(mesh1, f"fsdp2({world},)")
    if world == 4:
        mesh2 = init_device_mesh("cpu", (2, 2), mesh_dim_names=("dp", "tp"))
        run_placements(mesh2, "mesh(2,2)")
        run_tp_fsdp(mesh2, "tp+fsdp(2,2)")
    dist.barrier()
except Exception:  # noqa: BLE001
    failures.append(f"rank {rank}: {traceback.format_exc()}")
finally:
    with open(outfile, "w") as f:
        json.dump({"failures": failures, "checked": checked, "placements": sorted(placements_seen), "interleaved": interleaved}, f)
    if dist.is_initialized():
        dist.destroy_process_group()
