//! Audit a checkpoint: per-tensor statistics, and a verdict against the
//! scheme each tensor was supposed to be drawn from.
//!
//! The expected scheme comes from the checkpoint's own metadata
//! (`varinit.scheme.NAME`, as `varinit init` writes it) or from a spec or
//! preset. The verdict, per kind of scheme:
//!
//! - **i.i.d. random** (uniform, normal, truncated normal, sparse): the
//!   standard deviation within `max(0.5%, 6/sqrt(2n))` of the expected one
//!   (six standard errors of a sample std, with a floor: a 0.5% scale error
//!   is below what matters for training, while KS on millions of values
//!   would flag far smaller ones); the mean within six standard errors; every
//!   value inside the support (up to the dtype's rounding); and a
//!   Kolmogorov-Smirnov test on an evenly strided sample of at most
//!   [`KS_SAMPLE`] values, failing at p < [`KS_P_MIN`]. The KS test is made
//!   against the distribution *after rounding to the stored dtype* (the CDF
//!   evaluated at the midpoints between neighbouring bf16/f16 values), so a
//!   correct bf16 tensor is not flagged for its rounding; the sample cap
//!   keeps the test from becoming hypersensitive on huge tensors, where any
//!   real sampler's tiny imperfections would fail it.
//! - **constants**: every value equal to the constant rounded to the dtype.
//! - **eye, dirac**: mean and std equal to the exact ones (1%).
//! - **orthogonal, delta-orthogonal**: std within 1% of the exact value
//!   (the values are not independent, so no KS).
//! - anything: NaN or Inf fails.
//!
//! With `exact`, tensors made by varinit (seed and scheme in the metadata)
//! are also regenerated and compared bit for bit.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;
use varinit::provenance::Provenance;
use varinit::stats::{Summary, ks_statistic_sorted, rounding_cell_for};
use varinit::{DType, Init, Layout, Par, ResolveOptions, Resolved, Shape, TensorInit};

use crate::reader::{Header, SafetensorsFile, TensorInfo};
use crate::spec::ModelSpec;
use crate::{IoError, Result};

/// Largest sample the KS statistic is computed on.
pub const KS_SAMPLE: usize = 1 << 18;
/// KS p-values below this fail.
pub const KS_P_MIN: f64 = 1e-6;
/// Elements per parallel statistics job.
const STATS_CHUNK: usize = 1 << 20;
/// Elements per window of the single pass over a tensor (one buffer, reused).
const WINDOW_ELEMS: usize = 4 * STATS_CHUNK;

/// What to check against.
#[derive(Default)]
pub struct AuditOptions<'a> {
    /// Expected tensors from a spec or preset (else the metadata).
    pub spec: Option<&'a ModelSpec>,
    /// Regenerate varinit-made tensors and compare the bytes.
    pub exact: bool,
    /// Called with (bytes of tensor data audited so far, total bytes):
    /// once with 0 when every header has been read, then after each tensor.
    pub progress: Option<&'a (dyn Fn(u64, u64) + Sync)>,
}

/// A tensor's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Matches its expected scheme.
    Pass,
    /// Does not.
    Fail,
    /// No expected scheme known (and no NaN/Inf).
    Unchecked,
}

/// The KS test's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Ks {
    /// The statistic.
    pub statistic: f64,
    /// Its p-value.
    pub p_value: f64,
    /// The sample size.
    pub n: usize,
}

/// The comparison with the expected scheme.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// The scheme.
    pub scheme: String,
    /// Where it came from: `metadata` or `spec`.
    pub source: &'static str,
    /// The distribution in words.
    pub resolved: String,
    /// Exact expected mean.
    pub expected_mean: f64,
    /// Exact expected std.
    pub expected_std: f64,
    /// Observed std / expected std.
    pub std_ratio: Option<f64>,
    /// Allowed |std_ratio - 1|.
    pub std_tolerance: Option<f64>,
    /// The KS test, when it applies.
    pub ks: Option<Ks>,
    /// Bitwise equal to varinit's regeneration (`exact` only).
    pub exact: Option<bool>,
}

/// One tensor's audit.
#[derive(Debug, Clone, Serialize)]
pub struct TensorReport {
    /// The name.
    pub name: String,
    /// The file it is in.
    pub file: String,
    /// The dtype as stored.
    pub dtype: String,
    /// The shape.
    pub shape: Vec<u64>,
    /// Statistics (float dtypes only).
    pub stats: Option<Summary>,
    /// zeros / count.
    pub zero_share: Option<f64>,
    /// The comparison with the expected scheme, when known.
    pub check: Option<Check>,
    /// The verdict.
    pub status: Status,
    /// Why it failed (or other remarks).
    pub notes: Vec<String>,
}

/// The whole audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The files read.
    pub files: Vec<String>,
    /// Per tensor, in file and data order.
    pub tensors: Vec<TensorReport>,
    /// Checkpoint-level problems (missing shards, a sharded checkpoint
    /// without its index, shards of different runs, index mismatches,
    /// tensors missing from or extra to the spec).
    pub problems: Vec<String>,
    /// The run identifier in the shards' metadata (`varinit.run_id`), when
    /// they have one.
    pub run_id: Option<String>,
}

impl AuditReport {
    /// True when no tensor failed and there is no checkpoint-level problem.
    pub fn passed(&self) -> bool {
        self.problems.is_empty() && self.tensors.iter().all(|t| t.status != Status::Fail)
    }
    /// Number of tensors with each status: (pass, fail, unchecked).
    pub fn counts(&self) -> (usize, usize, usize) {
        let c = |s| self.tensors.iter().filter(|t| t.status == s).count();
        (c(Status::Pass), c(Status::Fail), c(Status::Unchecked))
    }
}

/// The files of a checkpoint and, when it has an index, its weight map.
pub type CheckpointFiles = (Vec<PathBuf>, Option<BTreeMap<String, String>>);

/// `model-00002-of-00005.safetensors` -> (2, 5).
pub fn shard_number(name: &str) -> Option<(u64, u64)> {
    let mid = name.strip_prefix("model-")?.strip_suffix(".safetensors")?;
    let (a, b) = mid.split_once("-of-")?;
    let digits = |x: &str| !x.is_empty() && x.len() <= 9 && x.bytes().all(|c| c.is_ascii_digit());
    if !digits(a) || !digits(b) {
        return None;
    }
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The index of a checkpoint folder: weight map and declared total size.
struct Index {
    weight_map: BTreeMap<String, String>,
    files: Vec<String>,
    total_size: Option<u64>,
}

fn read_index(index: &Path) -> Result<Index> {
    let bytes = crate::reader::read_limited(index, crate::limits::MAX_INDEX_BYTES)?;
    let malformed = |m: String| IoError::Malformed { path: index.to_path_buf(), message: m };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| malformed(format!("not valid JSON: {e}")))?;
    drop(bytes);
    let map =
        v.get("weight_map").and_then(|m| m.as_object()).ok_or_else(|| malformed("no \"weight_map\" object".into()))?;
    let total_size = v.get("metadata").and_then(|m| m.get("total_size")).and_then(|t| t.as_u64());
    let mut weight_map = BTreeMap::new();
    let mut files: BTreeSet<&str> = BTreeSet::new();
    for (k, f) in map {
        let f = f.as_str().ok_or_else(|| malformed(format!("weight_map[{k:?}] is not a file name")))?;
        if f.is_empty() || f.contains(['/', '\\']) || f == "." || f == ".." {
            return Err(malformed(format!("weight_map[{k:?}] = {f:?} is not a plain file name")));
        }
        if files.insert(f) && files.len() > crate::limits::MAX_SHARDS {
            return Err(malformed(format!("more than {} shard files", crate::limits::MAX_SHARDS)));
        }
        weight_map.insert(k.clone(), f.to_string());
    }
    let files = files.into_iter().map(str::to_string).collect();
    Ok(Index { weight_map, files, total_size })
}

/// The safetensors files of a checkpoint path (a file, or a folder with or
/// without `model.safetensors.index.json`), and the index's weight map.
pub fn checkpoint_files(path: &Path) -> Result<CheckpointFiles> {
    let (files, index, _) = layout(path)?;
    Ok((files, index.map(|i| i.weight_map)))
}

/// The files to read, the index, and the problems of the folder as a whole
/// (shards named by `-of-N` that are missing, a sharded checkpoint without
/// its index, stray shards).
fn layout(path: &Path) -> Result<(Vec<PathBuf>, Option<Index>, Vec<String>)> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    if !meta.is_dir() {
        crate::reader::check_regular(path)?;
        return Ok((vec![path.to_path_buf()], None, Vec::new()));
    }
    let mut problems = Vec::new();
    // What the folder holds (names only; nothing is opened here).
    let mut on_disk: BTreeSet<String> = BTreeSet::new();
    let mut writers = false;
    for e in std::fs::read_dir(path).map_err(|e| IoError::os(path, e))? {
        let e = e.map_err(|e| IoError::os(path, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if crate::lock::lock_pid(&name).is_some() {
            writers = true;
        }
        if name.ends_with(".safetensors") && !name.starts_with('.') {
            if on_disk.len() >= crate::limits::MAX_SHARDS {
                return Err(IoError::Usage(format!(
                    "{}: more than {} .safetensors files",
                    path.display(),
                    crate::limits::MAX_SHARDS
                )));
            }
            on_disk.insert(name);
        }
    }
    if writers {
        for h in crate::lock::live_holders(path)? {
            problems.push(format!(
                "a varinit writer (process {}, worker {}/{}) is still writing into this folder",
                h.pid, h.worker.index, h.worker.count
            ));
        }
    }
    let index_path = path.join(crate::plan::INDEX_FILE);
    let index = match std::fs::symlink_metadata(&index_path) {
        Ok(_) => Some(read_index(&index_path)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(IoError::os(&index_path, e)),
    };
    let names: Vec<String> = match &index {
        Some(i) => {
            for f in &i.files {
                if !on_disk.contains(f) {
                    problems.push(format!("{f} is missing (the index names it)"));
                }
            }
            let listed: BTreeSet<&str> = i.files.iter().map(String::as_str).collect();
            for f in &on_disk {
                if !listed.contains(f.as_str()) && (shard_number(f).is_some() || f == crate::plan::SINGLE_FILE) {
                    problems.push(format!("{f} is in the folder but not in the index (a shard of another run?)"));
                }
            }
            i.files.iter().filter(|f| on_disk.contains(*f)).cloned().collect()
        }
        None => on_disk.iter().cloned().collect(),
    };
    // Every shard that a `-of-N` name promises.
    let mut totals: BTreeSet<u64> = BTreeSet::new();
    let mut numbers: BTreeSet<(u64, u64)> = BTreeSet::new();
    let all_names = index.as_ref().map_or(&names, |i| &i.files);
    for n in all_names.iter().chain(on_disk.iter()) {
        if let Some((k, t)) = shard_number(n) {
            totals.insert(t);
            numbers.insert((k, t));
        }
    }
    if totals.len() > 1 {
        problems.push(format!(
            "shards of different checkpoints: names end in {}",
            totals.iter().map(|t| format!("-of-{t:05}")).collect::<Vec<_>>().join(" and ")
        ));
    }
    for &t in &totals {
        if t == 0 || t > crate::limits::MAX_SHARDS as u64 {
            problems.push(format!("shard names end in -of-{t:05}, which no checkpoint has"));
            continue;
        }
        let missing: Vec<u64> =
            (1..=t).filter(|k| !on_disk.contains(&format!("model-{k:05}-of-{t:05}.safetensors"))).collect();
        if !missing.is_empty() {
            let shown: Vec<String> =
                missing.iter().take(5).map(|k| format!("model-{k:05}-of-{t:05}.safetensors")).collect();
            problems.push(format!(
                "incomplete checkpoint: {} of {t} shards missing ({}{})",
                missing.len(),
                shown.join(", "),
                if missing.len() > 5 { ", ..." } else { "" }
            ));
        }
        for &(k, _) in numbers.iter().filter(|(_, tt)| *tt == t) {
            if k == 0 || k > t {
                problems.push(format!("model-{k:05}-of-{t:05}.safetensors: shard number out of range"));
            }
        }
    }
    if index.is_none() && totals.iter().any(|&t| t > 1) {
        problems.push(format!(
            "no {}: a sharded checkpoint is complete only with its index (varinit writes it last; the run was interrupted or is still going)",
            crate::plan::INDEX_FILE
        ));
    }
    if names.is_empty() && problems.is_empty() {
        return Err(IoError::Usage(format!("{}: no .safetensors files in this folder", path.display())));
    }
    Ok((names.into_iter().map(|f| path.join(f)).collect(), index, problems))
}

/// Audit a file or a checkpoint folder.
pub fn audit(path: &Path, opts: &AuditOptions) -> Result<AuditReport> {
    let (paths, index, mut problems) = layout(path)?;
    // Validate every header before reading any data (headers only: the
    // files are opened again, one at a time, for their data).
    let mut headers: Vec<(PathBuf, Header)> = Vec::with_capacity(paths.len());
    for p in &paths {
        let f = SafetensorsFile::open(p)?;
        headers.push((p.clone(), f.header));
    }
    let fnames: Vec<String> = headers.iter().map(|(p, _)| file_name(p)).collect();
    let mut where_: HashMap<&str, &str> = HashMap::new();
    let mut total_bytes = 0u64;
    for ((_, h), fname) in headers.iter().zip(&fnames) {
        for t in &h.tensors {
            total_bytes = total_bytes.saturating_add(t.end - t.begin);
            if let Some(prev) = where_.insert(t.name.as_str(), fname.as_str()) {
                problems.push(format!("tensor {:?} is in both {prev} and {fname}", t.name));
            }
        }
    }
    let weight_map = index.as_ref().map(|i| &i.weight_map);
    if let Some(wm) = weight_map {
        let present: HashSet<&str> = fnames.iter().map(String::as_str).collect();
        for (k, f) in wm {
            match where_.get(k.as_str()) {
                None if present.contains(f.as_str()) => {
                    problems.push(format!("index lists {k:?} in {f}, which does not have it"))
                }
                None => {} // the file is missing: reported once above
                Some(g) if *g != f.as_str() => problems.push(format!("index lists {k:?} in {f}, but it is in {g}")),
                _ => {}
            }
        }
        for (k, g) in &where_ {
            if !wm.contains_key(*k) {
                problems.push(format!("tensor {k:?} in {g} is missing from the index"));
            }
        }
        if let Some(ts) = index.as_ref().and_then(|i| i.total_size)
            && problems.is_empty()
            && ts != total_bytes
        {
            problems
                .push(format!("the index says total_size {ts}, the shards hold {total_bytes} bytes of tensor data"));
        }
    }
    // One run: the shards agree on the run identifier, seed, stream version and source.
    let mut run_id = None;
    if headers.len() > 1 {
        for key in crate::run::RUN_KEYS {
            let values: BTreeSet<Option<&String>> = headers.iter().map(|(_, h)| h.metadata.get(key)).collect();
            if values.len() > 1 {
                let per_file: Vec<String> = headers
                    .iter()
                    .take(8)
                    .map(|(p, h)| format!("{}: {}", file_name(p), h.metadata.get(key).map_or("(none)", |v| v.as_str())))
                    .collect();
                problems.push(format!(
                    "shards of different runs: {key} differs ({}{})",
                    per_file.join(", "),
                    if headers.len() > 8 { ", ..." } else { "" }
                ));
            }
        }
    }
    if let Some((_, h)) = headers.first() {
        run_id = h.metadata.get(crate::run::RUN_ID_KEY).cloned();
    }
    let spec_map: Option<HashMap<&str, &crate::spec::TensorSpec>> =
        opts.spec.map(|s| s.tensors.iter().map(|t| (t.name.as_str(), t)).collect());
    if let (Some(spec), Some(_)) = (opts.spec, &spec_map) {
        for t in &spec.tensors {
            if !where_.contains_key(t.name.as_str()) {
                problems.push(format!("tensor {:?} of the spec is missing from the checkpoint", t.name));
            }
        }
    }
    let mut tensors = Vec::new();
    let total: u64 = headers.iter().flat_map(|(_, h)| &h.tensors).map(|t| t.end - t.begin).sum();
    let mut done = 0;
    if let Some(p) = opts.progress {
        p(0, total);
    }
    for (p, h) in &headers {
        let f = SafetensorsFile::open(p)?;
        if f.header != *h {
            return Err(IoError::Malformed { path: p.clone(), message: "the file changed while being audited".into() });
        }
        let fname = file_name(f.path());
        let provenance = match Provenance::from_metadata(&f.header.metadata) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("{fname}: {e}"));
                None
            }
        };
        let options = provenance.as_ref().map_or(Layout::Torch.into(), Provenance::resolve_options);
        let seed = provenance.as_ref().map(|p| p.seed);
        for t in &f.header.tensors {
            let mut scheme_problem = None;
            let expected = match (&spec_map, opts.spec) {
                (Some(m), Some(spec)) => match m.get(t.name.as_str()) {
                    Some(ts) => Some(Expected {
                        init: ts.init.clone(),
                        options: spec.layout.into(),
                        seed: Some(spec.seed),
                        source: "spec",
                        shape: Some(ts.shape.dims().to_vec()),
                    }),
                    None => {
                        problems.push(format!("tensor {:?} in {fname} is not in the spec", t.name));
                        None
                    }
                },
                _ => match provenance.as_ref().and_then(|p| p.schemes.get(&t.name)) {
                    Some(s) if s.len() > crate::limits::MAX_SCHEME_BYTES => {
                        scheme_problem = Some(format!(
                            "{fname}: the metadata scheme of {:?} is {} bytes long, over the {}-byte limit: not parsed",
                            t.name,
                            s.len(),
                            crate::limits::MAX_SCHEME_BYTES
                        ));
                        None
                    }
                    Some(s) => match s.parse::<Init>() {
                        Ok(init) => Some(Expected { init, options, seed, source: "metadata", shape: None }),
                        Err(e) => {
                            scheme_problem =
                                Some(format!("{fname}: the metadata scheme of {:?} does not parse: {e}", t.name));
                            None
                        }
                    },
                    None => None,
                },
            };
            let mut r = audit_tensor(&f, t, &fname, expected.as_ref(), opts.exact)?;
            if let Some(msg) = scheme_problem {
                r.status = Status::Fail;
                r.notes.push(msg);
            }
            tensors.push(r);
            done += t.end - t.begin;
            if let Some(p) = opts.progress {
                p(done, total);
            }
        }
    }
    Ok(AuditReport { files: paths.iter().map(|p| p.display().to_string()).collect(), tensors, problems, run_id })
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

struct Expected {
    init: Init,
    options: ResolveOptions,
    seed: Option<u64>,
    source: &'static str,
    shape: Option<Vec<u64>>,
}

fn decode(dtype: DType, b: &[u8]) -> f64 {
    match dtype {
        DType::F32 => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        DType::F64 => f64::from_le_bytes(b[..8].try_into().expect("8 bytes")),
        DType::F16 => half::f16::from_le_bytes([b[0], b[1]]).to_f64(),
        DType::BF16 => half::bf16::from_le_bytes([b[0], b[1]]).to_f64(),
    }
}

/// The interval of reals that round to `x` in `dtype` (for the KS test
/// against the rounded distribution); a point for f32 and f64, whose
/// rounding is far below what the test can see.
fn round_to(dtype: DType, x: f64) -> f64 {
    match dtype {
        DType::F32 => x as f32 as f64,
        DType::F64 => x,
        DType::F16 => half::f16::from_f64(x).to_f64(),
        DType::BF16 => half::bf16::from_f64(x).to_f64(),
    }
}

fn audit_tensor(
    f: &SafetensorsFile,
    t: &TensorInfo,
    fname: &str,
    expected: Option<&Expected>,
    exact: bool,
) -> Result<TensorReport> {
    let mut rep = TensorReport {
        name: t.name.clone(),
        file: fname.to_string(),
        dtype: t.dtype.clone(),
        shape: t.shape.clone(),
        stats: None,
        zero_share: None,
        check: None,
        status: Status::Unchecked,
        notes: Vec::new(),
    };
    let Some(dtype) = t.float else {
        rep.notes.push("not a floating-point tensor: no statistics".into());
        if expected.is_some() {
            rep.status = Status::Fail;
            rep.notes.push(format!("expected a floating-point tensor, found {}", t.dtype));
        }
        return Ok(rep);
    };
    let size = dtype.size();
    // What the verdict will need besides the statistics: the KS sample and,
    // with `exact`, the regenerated stream. Everything is gathered in one
    // pass over windows read from the file, so the memory stays at one
    // window whatever the tensor's size.
    let resolved = expected.and_then(|e| {
        let shape = Shape::new(t.shape.clone()).ok()?;
        e.init.resolve(&shape, e.options).ok().map(|r| (r, shape))
    });
    let wants_ks = resolved.as_ref().is_some_and(|(r, _)| r.cdf(0.0).is_some() && is_iid(r));
    let regen = match (exact, expected, &resolved) {
        (true, Some(e), Some((_, shape))) => match e.seed {
            Some(seed) => match TensorInit::new(seed, &t.name, &e.init, shape.clone(), e.options) {
                Ok(ti) => Some(ti),
                Err(err) => {
                    rep.status = Status::Fail;
                    rep.notes.push(format!("{fname}: {:?} cannot be regenerated: {err}", t.name));
                    return Ok(rep);
                }
            },
            None => {
                rep.notes.push("no seed known: not regenerated".into());
                None
            }
        },
        _ => None,
    };
    let total = t.numel as usize;
    let m = if wants_ks { total.min(KS_SAMPLE) } else { 0 };
    let mut sample = Vec::with_capacity(m);
    let mut next_sample = 0usize; // index into 0..m of the next sample to take
    let mut summary = Summary::default().finish();
    let mut same = true;
    let tensor_bytes = (t.end - t.begin) as usize;
    let mut buf = vec![0u8; tensor_bytes.min(WINDOW_ELEMS * size)];
    for w in 0..tensor_bytes.div_ceil(WINDOW_ELEMS * size) {
        let first = w * WINDOW_ELEMS;
        let at = first * size;
        let window = &mut buf[..(tensor_bytes - at).min(WINDOW_ELEMS * size)];
        f.read_data(t, at as u64, window)?;
        let window = &*window;
        let parts: Vec<Summary> = window
            .par_chunks(STATS_CHUNK * size)
            .map(|c| {
                let mut s = Summary::default();
                for e in c.chunks_exact(size) {
                    s.push(decode(dtype, e));
                }
                s.finish()
            })
            .collect();
        summary = parts.iter().fold(summary, |a, b| a.merge(b));
        let last = first + window.len() / size;
        while next_sample < m {
            let k = (next_sample as u128 * total as u128 / m as u128) as usize;
            if k >= last {
                break;
            }
            sample.push(decode(dtype, &window[(k - first) * size..(k - first + 1) * size]));
            next_sample += 1;
        }
        if let Some(ti) = &regen {
            match regenerate_equal(ti, dtype, first as u64, window) {
                Ok(eq) => same &= eq,
                Err(err) => {
                    rep.status = Status::Fail;
                    rep.notes.push(format!("{fname}: {:?} cannot be regenerated: {err}", t.name));
                    return Ok(rep);
                }
            }
        }
    }
    let s = summary;
    rep.zero_share = (s.count > 0).then(|| s.zeros as f64 / s.count as f64);
    rep.stats = Some(s);
    let mut fail = Vec::new();
    if s.nan > 0 || s.inf > 0 {
        fail.push(format!("{} NaN and {} Inf values", s.nan, s.inf));
    }
    if let Some(e) = expected {
        if let Some(want) = e.shape.as_ref().filter(|w| **w != t.shape) {
            fail.push(format!("shape {:?} but the spec says {:?}", t.shape, want));
        }
        match &resolved {
            None => match Shape::new(t.shape.clone()) {
                Ok(shape) => {
                    if let Err(err) = e.init.resolve(&shape, e.options) {
                        fail.push(format!("scheme {} does not fit the shape: {err}", e.init));
                    }
                }
                Err(err) => fail.push(format!("shape {:?}: {err}", t.shape)),
            },
            Some((r, shape)) => {
                let check = verdict(r, shape, dtype, &mut sample, &s, &mut fail);
                let mut check = Check { scheme: e.init.to_string(), source: e.source, ..check };
                if regen.is_some() {
                    if !same {
                        fail.push("differs from varinit's stream for its seed, name and scheme".into());
                    }
                    check.exact = Some(same);
                }
                rep.check = Some(check);
            }
        }
        rep.status = Status::Pass;
    }
    if !fail.is_empty() {
        rep.status = Status::Fail;
        rep.notes.extend(fail);
    }
    Ok(rep)
}

/// Whether `data`, the bytes of elements `start ..`, equal varinit's stream.
fn regenerate_equal(ti: &TensorInit, dtype: DType, start: u64, data: &[u8]) -> Result<bool> {
    let size = dtype.size();
    if !ti.resolved().is_elementwise() {
        let mut one = vec![0u8; size];
        ti.fill_bytes(dtype, 0, &mut one, Par::Seq)?;
    }
    let results: Vec<Result<bool>> = data
        .par_chunks(STATS_CHUNK * size)
        .enumerate()
        .map(|(i, c)| {
            let mut buf = vec![0u8; c.len()];
            ti.fill_bytes(dtype, start + (i * STATS_CHUNK) as u64, &mut buf, Par::Seq)?;
            Ok(buf == c)
        })
        .collect();
    results.into_iter().try_fold(true, |acc, r| Ok(acc && r?))
}

fn is_iid(r: &Resolved) -> bool {
    matches!(
        r,
        Resolved::Uniform { .. } | Resolved::Normal { .. } | Resolved::TruncNormal { .. } | Resolved::Sparse { .. }
    )
}

fn verdict(
    r: &Resolved,
    shape: &Shape,
    dtype: DType,
    sample: &mut [f64],
    s: &Summary,
    fail: &mut Vec<String>,
) -> Check {
    let (em, es) = r.expected_moments(shape);
    let mut check = Check {
        scheme: String::new(),
        source: "",
        resolved: r.to_string(),
        expected_mean: em,
        expected_std: es,
        std_ratio: None,
        std_tolerance: None,
        ks: None,
        exact: None,
    };
    let n = s.count as f64;
    let eps = match dtype {
        DType::BF16 => 2f64.powi(-8),
        DType::F16 => 2f64.powi(-11),
        DType::F32 => 2f64.powi(-24),
        DType::F64 => 2f64.powi(-53),
    };
    match *r {
        Resolved::Empty => {}
        Resolved::Constant { value } => {
            let v = round_to(dtype, value);
            if !(s.min == v && s.max == v) {
                fail.push(format!("expected every value = {v}, found values in [{}, {}]", s.min, s.max));
            }
        }
        Resolved::Eye { .. } | Resolved::Dirac { .. } => {
            if (s.mean - em).abs() > 0.01 * es.max(em.abs()) || (s.std - es).abs() > 0.01 * es {
                fail.push(format!("mean {:.6} and std {:.6} differ from the exact {em:.6} and {es:.6}", s.mean, s.std));
            }
        }
        Resolved::Orthogonal { .. } | Resolved::DeltaOrthogonal { .. } => {
            let ratio = s.std / es;
            check.std_ratio = Some(ratio);
            check.std_tolerance = Some(0.01);
            if (ratio - 1.0).abs() > 0.01 {
                fail.push(format!("std {:.6} is {:.4}x the exact {es:.6}", s.std, ratio));
            }
        }
        _ => {
            let ratio = s.std / es;
            let tol = (6.0 / (2.0 * n).sqrt()).max(0.005);
            check.std_ratio = Some(ratio);
            check.std_tolerance = Some(tol);
            if (ratio - 1.0).abs() > tol {
                fail.push(format!(
                    "std {:.6} is {:.4}x the expected {es:.6} (tolerance {:.2}%)",
                    s.std,
                    ratio,
                    tol * 100.0
                ));
            }
            let mtol = 6.0 * es / n.sqrt() + 0.005 * es;
            if (s.mean - em).abs() > mtol {
                fail.push(format!("mean {:.6} differs from the expected {em:.6} by more than {mtol:.2e}", s.mean));
            }
            if let Some((lo, hi)) = r.support() {
                let slack = eps * lo.abs().max(hi.abs());
                if s.min < lo - slack || s.max > hi + slack {
                    fail.push(format!("values in [{}, {}] leave the support [{lo}, {hi}]", s.min, s.max));
                }
            }
            if !sample.is_empty() && s.nan == 0 && s.inf == 0 {
                let m = sample.len();
                sample.sort_unstable_by(f64::total_cmp);
                let d = ks_statistic_sorted(sample, |x| r.cdf(x).unwrap_or(f64::NAN), |x| rounding_cell_for(dtype, x));
                let p = varinit::stats::ks_p_value(d, m);
                check.ks = Some(Ks { statistic: d, p_value: p, n: m });
                if p < KS_P_MIN {
                    fail.push(format!("Kolmogorov-Smirnov D = {d:.5} on {m} values, p = {p:.2e} < {KS_P_MIN:e}"));
                }
            }
        }
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ks_on_rounded_values_is_not_fooled_by_rounding() {
        // bf16 normals: a plain KS sees the rounding, the rounded KS does not
        let init: Init = "normal(std=0.02)".parse().unwrap();
        let t = TensorInit::new(1, "w", &init, Shape::new(vec![1 << 22]).unwrap(), Layout::Torch.into()).unwrap();
        let v: Vec<half::bf16> = t.to_vec(Par::Rayon).unwrap();
        let mut x: Vec<f64> = v.iter().map(|b| b.to_f64()).collect();
        x.sort_unstable_by(f64::total_cmp);
        let cdf = |y: f64| t.resolved().cdf(y).unwrap();
        let plain = ks_statistic_sorted(&x, cdf, |y| (y, y));
        let rounded = ks_statistic_sorted(&x, cdf, |y| rounding_cell_for(DType::BF16, y));
        let f: Vec<f32> = t.to_vec(Par::Rayon).unwrap();
        let mut xf: Vec<f64> = f.iter().map(|&b| b as f64).collect();
        xf.sort_unstable_by(f64::total_cmp);
        let f32d = ks_statistic_sorted(&xf, cdf, |y| (y, y));
        // the rounded test sees what the f32 values would show; the plain one sees the rounding
        assert!(plain > 2.0 * f32d && (rounded - f32d).abs() < 0.1 * f32d, "{plain} {rounded} {f32d}");
        assert!(varinit::stats::ks_p_value(rounded, x.len()) > 1e-3);
    }
}
