"""Errors map to Python exceptions by their class, never by their message:
the caller's mistakes raise ValueError, failures while working do not (the
operating system's errors raise OSError, other failures RuntimeError)."""

import pytest

import varinit
from varinit import _native


def test_the_callers_mistakes_raise_value_error():
    with pytest.raises(ValueError, match="did you mean"):
        varinit.sample("kaiming_nromal", (4, 4))
    with pytest.raises(ValueError, match="unknown layout"):
        _native.Plan("normal", [4, 4], 0, "w", layout="caffe")
    # a distribution the sampler refuses: the ValueError subclass varinit.torch relies on
    with pytest.raises(varinit.DistributionError):
        varinit.sample("normal(std=-1)", (4,))


def test_io_errors_by_class(tmp_path):
    tensors = [("w", [4, 4], "normal(std=0.02)", None)]
    write = lambda out, **kw: _native.write_checkpoint(  # noqa: E731
        str(out), tensors, seed=0, dtype="f32", max_shard_bytes=1 << 20, sync=False, **kw
    )
    # usage: a folder in the way; the message names no command-line flag
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ValueError) as e:
        write(tmp_path)
    assert "not empty" in str(e.value) and "--" not in str(e.value)
    # usage: a bad scheme reaches Python as the core's ValueError, with the tensor's name
    with pytest.raises(ValueError, match="^w: "):
        _native.write_checkpoint(str(tmp_path / "a"), [("w", [4], "kaiming_nromal", None)], seed=0, dtype="f32",
                                 max_shard_bytes=1 << 20)
    # failure: the operating system refuses the folder; not a ValueError
    with pytest.raises(OSError) as e:
        write("/proc/varinit-cannot-be-here/out")
    assert not isinstance(e.value, ValueError)
    # forced, the same folder is written
    files, _ = write(tmp_path, force=True)
    assert files and (tmp_path / "model.safetensors").exists()


def test_one_dtype_table():
    table = {name: (torch_name, size, aliases) for name, torch_name, size, aliases in _native.dtypes()}
    assert table["bf16"] == ("bfloat16", 2, ["bf16", "bfloat16"])
    assert table["f32"][:2] == ("float32", 4) and "fp32" in table["f32"][2]
    for torch_name, _, aliases in table.values():
        for alias in aliases:
            assert varinit.sample("normal", (2,), dtype=alias).dtype.name == torch_name
