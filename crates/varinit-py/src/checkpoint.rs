//! `varinit._native.write_checkpoint`: varinit-io's streaming checkpoint
//! writer for the Python side (`varinit.hf.init_checkpoint`).
//!
//! The Python side hands over the tensor list (name, shape, scheme, dtype),
//! the seed, the shard limit and the config bytes; this builds the same
//! [`ModelSpec`] and [`Plan`] as `varinit init` and writes them with the
//! same writer, so a checkpoint made here has the bytes `varinit init`
//! writes for the same tensors, schemes and seed. Optional *patches*
//! (constants on element ranges, such as an embedding's padding row that a
//! model's init zeroes after drawing it) are applied to the stream as it
//! passes to the disk; memory stays bounded either way.

use std::collections::HashMap;
use std::path::PathBuf;

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use varinit::{DType, Init, Layout, Par, Shape, TensorInit};
use varinit_io::checkpoint::{self, WriteOptions};
use varinit_io::plan::{Plan, Worker};
use varinit_io::spec::{ModelSpec, TensorSpec};
use varinit_io::{ErrorClass, IoError};

/// Map the file side's error to a Python exception by class: `ValueError`
/// for the caller's mistakes, `OSError` for the operating system's errors,
/// `RuntimeError` for other failures (an interruption, another process
/// interfering, an internal error); core errors as [`crate::py_err`].
pub(crate) fn io_err(e: IoError) -> PyErr {
    match e {
        IoError::Init(e) => crate::py_err(e),
        IoError::Tensor { tensor, source } => crate::py_err_with(*source, &format!("{tensor}: ")),
        IoError::Os { .. } => PyOSError::new_err(e.to_string()),
        e => match e.class() {
            ErrorClass::Usage => PyValueError::new_err(e.to_string()),
            ErrorClass::Failure => PyRuntimeError::new_err(e.to_string()),
        },
    }
}

/// One tensor for [`write_checkpoint`]: (name, shape, scheme, dtype or None).
type TensorArg = (String, Vec<u64>, String, Option<String>);
/// One patch: (tensor name, first element, element count, value).
type PatchArg = (String, u64, u64, f64);

/// A patch resolved to the shard's data section: byte range and the bytes
/// of one element.
struct BytePatch {
    start: u64,
    end: u64,
    elem: Vec<u8>,
}

fn byte_patches(plan: &Plan, patches: &[PatchArg]) -> PyResult<Vec<Vec<BytePatch>>> {
    let by_name: HashMap<&str, usize> = plan.tensors.iter().enumerate().map(|(i, t)| (t.init.name(), i)).collect();
    let mut out: Vec<Vec<BytePatch>> = (0..plan.shards.len()).map(|_| Vec::new()).collect();
    for (name, start, count, value) in patches {
        let &i = by_name
            .get(name.as_str())
            .ok_or_else(|| PyValueError::new_err(format!("patch for {name:?}: no such tensor in the checkpoint")))?;
        let t = &plan.tensors[i];
        if start.checked_add(*count).is_none_or(|e| e > t.init.numel()) {
            return Err(PyValueError::new_err(format!(
                "patch for {name:?}: elements {start}..{} outside the tensor's {}",
                start.saturating_add(*count),
                t.init.numel()
            )));
        }
        // the bytes varinit writes for constant(value) in this dtype
        let init: Init = format!("constant({value:?})").parse().map_err(crate::py_err)?;
        let one = TensorInit::new(0, name, &init, Shape::new(vec![1]).expect("a valid shape"), Layout::Torch.into())
            .map_err(crate::py_err)?;
        let size = t.dtype.size() as u64;
        let mut elem = vec![0u8; size as usize];
        one.fill_bytes(t.dtype, 0, &mut elem, Par::Seq)
            .map_err(|e| crate::py_err_with(e, &format!("patch for {name:?}: ")))?;
        let s = t.offset + start * size;
        out[t.shard].push(BytePatch { start: s, end: s + count * size, elem });
    }
    Ok(out)
}

/// Write a checkpoint: `tensors` in order, `seed`, default `dtype`
/// (`f32`, `f64`, `f16`, `bf16`), shards of at most `max_shard_bytes`,
/// `config` written as `config.json`, `source` recorded in the metadata,
/// `patches` applied. Returns (files written, bytes written).
#[pyfunction]
#[pyo3(signature = (out_dir, tensors, *, seed, dtype, max_shard_bytes, config=None, source="python".to_string(), patches=Vec::new(), force=false, sync=true, worker=None))]
#[allow(clippy::too_many_arguments)]
pub fn write_checkpoint(
    py: Python<'_>,
    out_dir: PathBuf,
    tensors: Vec<TensorArg>,
    seed: u64,
    dtype: &str,
    max_shard_bytes: u64,
    config: Option<Vec<u8>>,
    source: String,
    patches: Vec<PatchArg>,
    force: bool,
    sync: bool,
    worker: Option<(u32, u32)>,
) -> PyResult<(Vec<String>, u64)> {
    let dtype: DType = dtype.parse().map_err(crate::py_err)?;
    let mut specs = Vec::with_capacity(tensors.len());
    for (name, dims, scheme, tdtype) in tensors {
        let init: Init = scheme.parse().map_err(|e| crate::py_err_with(e, &format!("{name}: ")))?;
        let shape = Shape::new(dims).map_err(|e| crate::py_err_with(e, &format!("{name}: ")))?;
        let tdtype = match tdtype {
            None => None,
            Some(d) => Some(d.parse::<DType>().map_err(|e| crate::py_err_with(e, &format!("{name}: ")))?),
        };
        specs.push(TensorSpec { name, shape, init, dtype: tdtype });
    }
    let spec = ModelSpec { seed, dtype, layout: Layout::Torch, tensors: specs, source, hf_config: config };
    let plan = Plan::new(&spec, max_shard_bytes).map_err(io_err)?;
    let worker = match worker {
        None => Worker::default(),
        Some((index, count)) if count > 0 && index < count => Worker { index, count },
        Some((i, n)) => return Err(PyValueError::new_err(format!("worker ({i}, {n}): need 0 <= index < count"))),
    };
    let patches = byte_patches(&plan, &patches)?;
    py.detach(move || -> Result<(Vec<String>, u64), IoError> {
        // the folder's writer lock is held until the write returns
        let _prepared = checkpoint::prepare_dir(&plan, &out_dir, worker, force)?;
        let patch = |s: usize, pos: u64, buf: &mut [u8]| apply_patches(&patches, s, pos, buf);
        let has_patches = patches.iter().any(|p| !p.is_empty());
        let opts =
            WriteOptions { worker, sync, patch: if has_patches { Some(&patch) } else { None }, ..Default::default() };
        let report = checkpoint::write(&plan, &out_dir, &opts)?;
        let files = report.files.iter().map(|p| p.display().to_string()).collect();
        Ok((files, report.bytes))
    })
    .map_err(io_err)
}

/// Overwrite the patched element ranges of shard `s`'s piece that starts at
/// `pos` (offset in the data section). Pieces and patches both start on
/// element boundaries.
fn apply_patches(patches: &[Vec<BytePatch>], s: usize, pos: u64, buf: &mut [u8]) {
    let end = pos + buf.len() as u64;
    for p in patches[s].iter().filter(|p| p.start < end && p.end > pos) {
        let size = p.elem.len() as u64;
        let mut at = p.start.max(pos);
        let to = p.end.min(end);
        while at < to {
            let k = ((at - p.start) % size) as usize;
            let n = ((size as usize - k) as u64).min(to - at) as usize;
            let i = (at - pos) as usize;
            buf[i..i + n].copy_from_slice(&p.elem[k..k + n]);
            at += n as u64;
        }
    }
}

/// Register this module's functions (one line in the module init).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(write_checkpoint, m)?)?;
    Ok(())
}
