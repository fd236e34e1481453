"""Shared helpers for the varinit Python tests."""

import os
import pathlib
import shutil

import numpy as np
import pytest

REPO = pathlib.Path(__file__).resolve().parents[3]


def as_bytes(a) -> bytes:
    """The raw bytes of a numpy array or a CPU torch tensor, in logical order."""
    try:
        import torch

        if isinstance(a, torch.Tensor):
            t = a.detach().contiguous()
            if t.dtype == torch.bfloat16 or t.dtype == torch.float16:
                t = t.view(torch.int16)
            return t.numpy().tobytes()
    except ImportError:  # pragma: no cover
        pass
    return np.ascontiguousarray(a).tobytes()


@pytest.fixture(scope="session")
def varinit_bin():
    """The `varinit` command-line binary: $VARINIT_BIN, target/release/varinit, or on the PATH."""
    for cand in (os.environ.get("VARINIT_BIN"), REPO / "target" / "release" / "varinit", shutil.which("varinit")):
        if cand and pathlib.Path(cand).is_file():
            return str(cand)
    pytest.skip("no varinit binary: run `cargo build --release -p varinit-cli` or set VARINIT_BIN")
