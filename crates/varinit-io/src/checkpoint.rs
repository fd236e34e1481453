//! The checkpoint writer: streams a [`Plan`] to disk.
//!
//! Each shard is generated piece by piece ([`PIECE_BYTES`] at a time) by
//! every thread of the current rayon pool while a dedicated thread writes
//! the previous piece, so generation and disk writes overlap and memory
//! stays bounded (a few pieces, whatever the model's size; only the
//! whole-matrix schemes — orthogonal, delta-orthogonal, sparse — hold one
//! tensor at a time in memory, in f64). The bytes are a pure function of
//! the plan: any thread count, any piece size and any worker split give the
//! same files.
//!
//! Transactions: [`prepare_dir`] takes the folder's writer lock and removes
//! an existing index first; files are written under temporary names in the
//! output folder and renamed when complete; the index — the commit point —
//! is written last, only when every shard of the plan is in place and of
//! this run (each shard's metadata carries the run identifier). So a folder
//! is the old checkpoint, the new one, or visibly incomplete (no index:
//! loaders refuse it and `audit` fails), never a mix that loads. On an
//! error (a full disk included) or when the cancel flag is raised, the
//! temporary file is removed and nothing complete-looking is left.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use rayon::prelude::*;
use varinit::{Par, TensorInit};

use crate::atomic::AtomicFile;
use crate::lock::DirLock;
use crate::plan::{CONFIG_FILE, INDEX_FILE, Plan, Worker};
use crate::{IoError, Result};

/// Bytes per piece of the pipeline (a multiple of 8, so every piece
/// boundary is an element boundary for every dtype).
pub const PIECE_BYTES: usize = 16 << 20;
/// Bytes written between two background syncs.
const SYNC_EVERY: usize = 64 << 20;
/// Pieces in flight: one being generated, one queued, one being written.
const PIECES_IN_FLIGHT: usize = 3;
/// Elements per parallel job (a multiple of the kernels' chunk, so the
/// kernels see the same boundaries as a whole-tensor fill).
const JOB_ELEMS: u64 = 1 << 16;

/// See [`WriteOptions::patch`]: (shard index, offset in its data section, bytes).
pub type PatchFn<'a> = dyn Fn(usize, u64, &mut [u8]) + Sync + 'a;

/// How to write.
#[derive(Clone, Copy)]
pub struct WriteOptions<'a> {
    /// This process's part of a split run. (Whether a non-empty folder may
    /// be written into is decided, and stale files removed, by
    /// [`prepare_dir`] before writing.)
    pub worker: Worker,
    /// Raised (e.g. by a Ctrl-C handler) to stop; checked between pieces.
    pub cancel: Option<&'a AtomicBool>,
    /// Called with the number of bytes each time some are written.
    pub progress: Option<&'a (dyn Fn(u64) + Sync)>,
    /// Piece size (bytes; rounded down to a multiple of 8, at least 8).
    pub piece_bytes: usize,
    /// Sync each file to disk before renaming it into place (and keep the
    /// disk busy while generating). Off, files are renamed once written to
    /// the page cache: faster where the disk is slower than generation, as
    /// durable as `save_pretrained` or `torch.save`.
    pub sync: bool,
    /// Called with (shard index, offset in the shard's data section, bytes)
    /// on every piece before it is written: a front end overwrites element
    /// ranges here (a padding row that a model's init sets to a constant
    /// after drawing it) without a second pass over the file.
    pub patch: Option<&'a PatchFn<'a>>,
}

impl Default for WriteOptions<'_> {
    fn default() -> Self {
        WriteOptions {
            worker: Worker::default(),
            cancel: None,
            progress: None,
            piece_bytes: PIECE_BYTES,
            sync: true,
            patch: None,
        }
    }
}

/// What was written.
#[derive(Debug, Clone)]
pub struct WriteReport {
    /// The files, final paths.
    pub files: Vec<PathBuf>,
    /// Bytes written (headers and data of the shards, plus index and config).
    pub bytes: u64,
    /// Whether the checkpoint is complete: its commit point (the index, or
    /// the single file) is in place, after every shard of this run.
    pub complete: bool,
    /// In a split run whose other workers have not finished: the shards
    /// still missing (the last worker to finish writes the index).
    pub waiting_for: Vec<String>,
}

fn is_checkpoint_name(n: &str) -> bool {
    if n == crate::plan::SINGLE_FILE || n == INDEX_FILE {
        return true;
    }
    crate::audit::shard_number(n).is_some()
}

/// The file a temporary name belongs to and the writer's process id
/// (`.NAME.partial-PID` -> (`NAME`, PID)).
fn partial_of(n: &str) -> Option<(&str, u32)> {
    let rest = n.strip_prefix('.')?;
    let (name, pid) = rest.rsplit_once(".partial-")?;
    if pid.is_empty() || !pid.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((name, pid.parse().ok()?))
}

/// A lock file being set up (`.varinit.lock-PID.new`) -> PID.
fn lock_staging_pid(n: &str) -> Option<u32> {
    crate::lock::lock_pid(n.strip_suffix(".new")?)
}

/// A folder prepared for writing: the writer lock (held until dropped) and
/// the stale files removed.
#[derive(Debug)]
pub struct Prepared {
    /// The folder's writer lock.
    pub lock: DirLock,
    /// Stale files removed (an old index, shards and temporaries of earlier runs).
    pub removed: Vec<PathBuf>,
}

/// Whether the file at `path` is exactly shard `s` of `plan`: the same
/// header bytes (so the same run identifier) and the full length.
fn holds_shard(plan: &Plan, s: usize, path: &Path) -> bool {
    let shard = &plan.shards[s];
    let Ok((file, len)) = crate::reader::open_regular(path) else { return false };
    if len != shard.file_len() {
        return false;
    }
    let mut head = vec![0u8; shard.header.len()];
    #[cfg(unix)]
    let ok = std::os::unix::fs::FileExt::read_exact_at(&file, &mut head, 0).is_ok();
    #[cfg(not(unix))]
    let ok = {
        use std::io::Read;
        (&file).read_exact(&mut head).is_ok()
    };
    ok && head == shard.header
}

fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Create the output folder or check that it may be written into, and take
/// its writer lock ([`DirLock`]).
///
/// Without `force` the folder must be empty, except that in a split run it
/// may hold the other workers' files of the *same* run (finished, or being
/// written by a live worker); a finished shard of another run is refused.
/// With `force`, stale checkpoint files (`model*.safetensors`, the index)
/// that the plan does not have, shards of other runs, and temporary files
/// of writers that are no longer running are removed, so a loader cannot
/// pick up an old file. In every case an existing index is removed
/// *first*, before any shard is written: until this run writes it again
/// (last), the folder is visibly incomplete, never a mix that loads.
pub fn prepare_dir(plan: &Plan, dir: &Path, worker: Worker, force: bool) -> Result<Prepared> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| IoError::os(dir, e))?;
    } else if !dir.is_dir() {
        return Err(IoError::NotAFolder { path: dir.to_path_buf() });
    }
    let lock = DirLock::acquire(dir, &plan.run_id, worker)?;
    let me = std::process::id();
    let live = |pid: u32| pid == me || lock.peers.contains(&pid);
    let names = plan.file_names();
    let shard_index: HashMap<&str, usize> =
        plan.shards.iter().enumerate().map(|(i, s)| (s.file_name.as_str(), i)).collect();
    let mine: HashSet<usize> = plan.shards_of(worker).into_iter().collect();
    let split = worker.count > 1;
    let mut to_remove: Vec<PathBuf> = Vec::new();
    let mut index_exists = false;
    let mut unexpected = Vec::new();
    let mut foreign = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| IoError::os(dir, e))? {
        let e = e.map_err(|e| IoError::os(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = crate::lock::lock_pid(&name) {
            // live ones were checked by the lock; stale ones were removed
            let _ = pid;
            continue;
        }
        if name == INDEX_FILE {
            index_exists = true;
            if !split && !force {
                unexpected.push(name);
            }
            continue;
        }
        if let Some(pid) = lock_staging_pid(&name) {
            if !live(pid) {
                to_remove.push(e.path());
            }
            continue;
        }
        if let Some((target, pid)) = partial_of(&name) {
            if live(pid) && pid != me {
                continue; // another worker of this run, writing
            }
            if force || (split && names.iter().any(|n| n == target)) {
                to_remove.push(e.path()); // a dead writer's temporary
            } else {
                unexpected.push(name);
            }
            continue;
        }
        let in_plan = names.contains(&name);
        if split && in_plan {
            match shard_index.get(name.as_str()) {
                Some(&s) if !mine.contains(&s) => {
                    // another worker's shard: it must be of this run
                    if !holds_shard(plan, s, &e.path()) {
                        if force {
                            to_remove.push(e.path());
                        } else {
                            foreign.push(name);
                        }
                    }
                    continue;
                }
                Some(_) => {}
                None => continue, // config.json: every worker writes the same
            }
        }
        if force {
            if !in_plan && is_checkpoint_name(&name) {
                to_remove.push(e.path());
            }
            continue;
        }
        unexpected.push(name);
    }
    if !foreign.is_empty() {
        foreign.sort();
        return Err(IoError::ForeignShards {
            dir: dir.to_path_buf(),
            count: foreign.len(),
            example: foreign.swap_remove(0),
        });
    }
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(IoError::FolderNotEmpty {
            dir: dir.to_path_buf(),
            count: unexpected.len(),
            example: unexpected.swap_remove(0),
        });
    }
    let mut removed = Vec::new();
    // The old commit point goes first: from here until this run's index is
    // written, the folder does not load as a checkpoint.
    if index_exists {
        let p = dir.join(INDEX_FILE);
        match fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(IoError::os(p, err)),
        }
        sync_dir(dir);
    }
    for p in to_remove {
        match fs::remove_file(&p) {
            Ok(()) => removed.push(p),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(IoError::os(p, err)),
        }
    }
    Ok(Prepared { lock, removed })
}

/// Write this worker's part of `plan` into `dir` (which
/// [`prepare_dir`] has checked): the config first, then the shards, each
/// renamed into place when complete, and last the commit point: the index,
/// written only when every shard of the plan is in the folder, complete and
/// of this run (in a split run, by the last worker to finish). A
/// single-file checkpoint's commit point is its own rename.
pub fn write(plan: &Plan, dir: &Path, opts: &WriteOptions) -> Result<WriteReport> {
    let mut report = WriteReport { files: Vec::new(), bytes: 0, complete: false, waiting_for: Vec::new() };
    if let Some(b) = &plan.config {
        check_cancel(opts)?;
        let mut f = AtomicFile::create(dir.join(CONFIG_FILE))?;
        f.set_sync(opts.sync);
        f.write_all(b)?;
        report.files.push(f.commit()?);
        report.bytes += b.len() as u64;
    }
    for s in plan.shards_of(opts.worker) {
        let shard = &plan.shards[s];
        let mut file = AtomicFile::create(dir.join(&shard.file_name))?;
        file.write_all(&shard.header)?;
        if let Some(p) = opts.progress {
            p(shard.header.len() as u64);
        }
        // Dirty pages would otherwise wait in the page cache until the final
        // sync (Linux starts writeback only past its dirty thresholds or after
        // 30 s), so generation and the disk would take turns instead of
        // overlapping. A flusher thread syncs the file as it grows.
        file.set_sync(opts.sync);
        let handle = if opts.sync { Some(file.sync_handle()?) } else { None };
        let (tick_tx, tick_rx) = channel::<()>();
        let flusher = std::thread::spawn(move || -> std::io::Result<()> {
            while tick_rx.recv().is_ok() {
                while tick_rx.try_recv().is_ok() {} // coalesce
                if let Some(h) = &handle {
                    h.sync_data()?;
                }
            }
            Ok(())
        });
        let mut since_sync = 0usize;
        let streamed = stream_shard(
            plan,
            s,
            &mut |b: &[u8]| {
                file.write_all(b)?;
                since_sync += b.len();
                if since_sync >= SYNC_EVERY {
                    since_sync = 0;
                    let _ = tick_tx.send(());
                }
                Ok(())
            },
            opts,
        );
        drop(tick_tx);
        let flushed = flusher.join();
        streamed?;
        if let Ok(Err(e)) = flushed {
            return Err(IoError::os(file.temp_path(), e));
        }
        check_cancel(opts)?;
        report.files.push(file.commit()?);
        report.bytes += shard.file_len();
    }
    let Some(index) = &plan.index else {
        report.complete = true; // the single file's rename was the commit point
        if opts.sync {
            sync_dir(dir);
        }
        return Ok(report);
    };
    // The commit point: only when every shard is there, whole and of this run.
    report.waiting_for = (0..plan.shards.len())
        .filter(|&s| !holds_shard(plan, s, &dir.join(&plan.shards[s].file_name)))
        .map(|s| plan.shards[s].file_name.clone())
        .collect();
    if !report.waiting_for.is_empty() {
        if opts.worker.count == 1 {
            return Err(IoError::Interfered { dir: dir.to_path_buf(), file: report.waiting_for.swap_remove(0) });
        }
        return Ok(report);
    }
    check_cancel(opts)?;
    let mut f = AtomicFile::create(dir.join(INDEX_FILE))?;
    f.set_sync(opts.sync);
    f.write_all(index)?;
    report.files.push(f.commit()?);
    report.bytes += index.len() as u64;
    if opts.sync {
        sync_dir(dir);
    }
    report.complete = true;
    Ok(report)
}

fn check_cancel(opts: &WriteOptions) -> Result<()> {
    if opts.cancel.is_some_and(|c| c.load(Ordering::Relaxed)) { Err(IoError::Interrupted) } else { Ok(()) }
}

/// Generate shard `s`'s data section and hand it to `sink` in order, piece
/// by piece: the current rayon pool generates piece k+1 while a separate
/// thread passes piece k to `sink`. The first error (from generation, from
/// the sink, or the cancel flag) stops both.
pub fn stream_shard(
    plan: &Plan,
    s: usize,
    sink: &mut (dyn FnMut(&[u8]) -> Result<()> + Send),
    opts: &WriteOptions,
) -> Result<()> {
    let shard = &plan.shards[s];
    let piece = (opts.piece_bytes / 8 * 8).max(8) as u64;
    // Fresh values: the whole-matrix caches live only while this shard is written.
    let mut inits: Vec<Option<TensorInit>> =
        shard.tensors.iter().map(|&i| Some(plan.tensors[i].init.clone())).collect();
    let (full_tx, full_rx) = sync_channel::<Vec<u8>>(1);
    let (empty_tx, empty_rx) = channel::<Vec<u8>>();
    for _ in 0..PIECES_IN_FLIGHT {
        empty_tx.send(Vec::new()).expect("receiver alive");
    }
    let progress = opts.progress;
    std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> Result<()> {
            for buf in full_rx {
                sink(&buf)?;
                if let Some(p) = progress {
                    p(buf.len() as u64);
                }
                let _ = empty_tx.send(buf);
            }
            Ok(())
        });
        let produced = (|| -> Result<()> {
            let mut pos = 0u64;
            let mut first_open = 0usize; // first tensor not yet finished
            while pos < shard.data_len {
                check_cancel(opts)?;
                let Ok(mut buf) = empty_rx.recv() else { return Ok(()) }; // the writer stopped: its error wins
                let len = piece.min(shard.data_len - pos);
                buf.resize(len as usize, 0);
                let mut jobs: Vec<(usize, u64, &mut [u8])> = Vec::new();
                let mut rest: &mut [u8] = &mut buf;
                let mut at = pos;
                let mut k = first_open;
                while !rest.is_empty() {
                    let t = &plan.tensors[shard.tensors[k]];
                    let t_end = t.offset + t.byte_len;
                    if t_end <= at {
                        k += 1;
                        continue;
                    }
                    let take = (t_end - at).min(rest.len() as u64) as usize;
                    let (seg, tail) = rest.split_at_mut(take);
                    rest = tail;
                    let size = t.dtype.size() as u64;
                    let init = inits[k].as_ref().expect("open tensor");
                    if !init.resolved().is_elementwise() {
                        // compute the whole matrix once, on this thread, before the jobs share it
                        let mut one = vec![0u8; size as usize];
                        init.fill_bytes(t.dtype, 0, &mut one, Par::Seq)?;
                    }
                    let mut elem = (at - t.offset) / size;
                    let mut seg = seg;
                    while !seg.is_empty() {
                        let n = (JOB_ELEMS - elem % JOB_ELEMS).min(seg.len() as u64 / size);
                        let (a, b) = seg.split_at_mut((n * size) as usize);
                        jobs.push((k, elem, a));
                        seg = b;
                        elem += n;
                    }
                    at += take as u64;
                }
                let inits_ref = &inits;
                jobs.into_par_iter().try_for_each(|(k, elem, bytes)| {
                    let t = &plan.tensors[shard.tensors[k]];
                    inits_ref[k].as_ref().expect("open tensor").fill_bytes(t.dtype, elem, bytes, Par::Seq)
                })?;
                if let Some(p) = opts.patch {
                    p(s, pos, &mut buf);
                }
                pos += len;
                while first_open < shard.tensors.len() {
                    let t = &plan.tensors[shard.tensors[first_open]];
                    if t.offset + t.byte_len > pos {
                        break;
                    }
                    inits[first_open] = None; // frees a whole-matrix cache
                    first_open += 1;
                }
                if full_tx.send(buf).is_err() {
                    return Ok(()); // the writer stopped: its error wins
                }
            }
            Ok(())
        })();
        drop(full_tx);
        let written = writer.join().unwrap_or_else(|_| Err(IoError::Internal("the writer thread panicked".into())));
        written.and(produced)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preset;
    use varinit::DType;

    fn tiny() -> Plan {
        let mut spec = preset::expand("llama", &["size=tiny".into()], DType::BF16).unwrap();
        spec.dtype = DType::BF16;
        spec.seed = 3;
        Plan::new(&spec, 40_000).unwrap()
    }

    fn collect(plan: &Plan, s: usize, piece: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let opts = WriteOptions { piece_bytes: piece, ..Default::default() };
        stream_shard(
            plan,
            s,
            &mut |b: &[u8]| {
                out.extend_from_slice(b);
                Ok(())
            },
            &opts,
        )
        .unwrap();
        out
    }

    #[test]
    fn pieces_and_threads_do_not_change_the_bytes() {
        let plan = tiny();
        assert!(plan.shards.len() > 2);
        for s in 0..plan.shards.len() {
            let a = collect(&plan, s, PIECE_BYTES);
            assert_eq!(a.len() as u64, plan.shards[s].data_len);
            let b = collect(&plan, s, 8);
            let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
            let c = one.install(|| collect(&plan, s, 1000));
            assert!(a == b && a == c, "shard {s}");
            // and equal to a whole-tensor fill
            for &i in &plan.shards[s].tensors {
                let t = &plan.tensors[i];
                let mut want = vec![0u8; t.byte_len as usize];
                t.init.fill_bytes(t.dtype, 0, &mut want, Par::Rayon).unwrap();
                assert_eq!(&a[t.offset as usize..(t.offset + t.byte_len) as usize], &want[..], "{}", t.init.name());
            }
        }
    }

    #[test]
    fn a_failing_sink_stops_everything_and_reports_its_error() {
        let plan = tiny();
        let mut written = 0usize;
        let opts = WriteOptions { piece_bytes: 64, ..Default::default() };
        let r = stream_shard(
            &plan,
            0,
            &mut |b: &[u8]| {
                written += b.len();
                if written > 300 {
                    return Err(IoError::os("x", std::io::Error::from_raw_os_error(28)));
                }
                Ok(())
            },
            &opts,
        );
        let e = r.unwrap_err().to_string();
        assert!(e.contains("No space left") || e.contains("os error 28"), "{e}");
        let stop = AtomicBool::new(true);
        let opts = WriteOptions { cancel: Some(&stop), ..Default::default() };
        assert!(matches!(stream_shard(&plan, 0, &mut |_b: &[u8]| Ok(()), &opts), Err(IoError::Interrupted)));
    }

    #[test]
    fn errors_are_classified_by_cause() {
        use crate::ErrorClass::{Failure, Usage};
        let plan = tiny();
        let tmp = tempfile::tempdir().unwrap();
        // a folder in the way: the caller's mistake, typed, with no flag in the message
        std::fs::write(tmp.path().join("notes.txt"), b"x").unwrap();
        let e = prepare_dir(&plan, tmp.path(), Worker::default(), false).unwrap_err();
        assert!(matches!(&e, IoError::FolderNotEmpty { count: 1, example, .. } if example == "notes.txt"), "{e:?}");
        assert_eq!(e.class(), Usage);
        assert!(e.to_string().ends_with("choose an empty folder or force writing into it"), "{e}");
        // forced, it proceeds (the unrelated file stays) and reports what it removed
        std::fs::write(tmp.path().join(crate::plan::INDEX_FILE), b"{}").unwrap();
        let p = prepare_dir(&plan, tmp.path(), Worker::default(), true).unwrap();
        assert_eq!(p.removed, vec![tmp.path().join(crate::plan::INDEX_FILE)]);
        assert!(tmp.path().join("notes.txt").exists());
        drop(p);
        let file = tmp.path().join("notes.txt");
        let e = prepare_dir(&plan, &file, Worker::default(), true).unwrap_err();
        assert!(matches!(e, IoError::NotAFolder { .. }) && e.class() == Usage, "{e:?}");
        // the system's errors and interruptions are failures
        assert_eq!(IoError::os("x", std::io::Error::from_raw_os_error(28)).class(), Failure);
        assert_eq!(IoError::Interrupted.class(), Failure);
        assert_eq!(IoError::Internal("the writer thread panicked".into()).class(), Failure);
        assert_eq!(IoError::Interfered { dir: "d".into(), file: "f".into() }.class(), Failure);
        // core errors keep their class, wrapped or not
        let core = "kaiming_nromal".parse::<varinit::Init>().unwrap_err();
        assert_eq!(IoError::from(core.clone()).class(), Usage);
        assert_eq!(IoError::Tensor { tensor: "a".into(), source: Box::new(core) }.class(), Usage);
        let internal = varinit::Error::Internal("x".into());
        assert_eq!(IoError::Tensor { tensor: "a".into(), source: Box::new(internal) }.class(), Failure);
        // bad input parsed by this crate
        let e = "3/3".parse::<Worker>().unwrap_err();
        assert_eq!(e.class(), Usage);
        assert_eq!(e.to_string(), "worker \"3/3\": write I/N with 0 <= I < N, e.g. 0/4");
        let e = crate::npy::header(DType::BF16, &[2]).unwrap_err();
        assert!(e.class() == Usage && !e.to_string().contains("--"), "{e}");
    }

    #[test]
    fn names() {
        assert!(is_checkpoint_name("model-00001-of-00002.safetensors"));
        assert!(is_checkpoint_name("model.safetensors"));
        assert!(!is_checkpoint_name("model-a-of-2.safetensors"));
        assert!(!is_checkpoint_name("notes.txt"));
        assert_eq!(partial_of(".model.safetensors.partial-123"), Some(("model.safetensors", 123)));
        assert_eq!(partial_of("model.safetensors"), None);
    }
}
