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
//! Files are written under temporary names in the output folder and renamed
//! when complete; the index and config are written after this worker's
//! shards. On an error (a full disk included) or when the cancel flag is
//! raised, the temporary file is removed and nothing complete-looking is
//! left.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, sync_channel};

use rayon::prelude::*;
use varinit::{Par, TensorInit};

use crate::atomic::AtomicFile;
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

/// How to write.
#[derive(Clone, Copy)]
pub struct WriteOptions<'a> {
    /// This process's part of a split run.
    pub worker: Worker,
    /// Write into a non-empty folder (replacing files of the same names and
    /// removing stale checkpoint files that the plan does not have).
    pub force: bool,
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
}

impl Default for WriteOptions<'_> {
    fn default() -> Self {
        WriteOptions {
            worker: Worker::default(),
            force: false,
            cancel: None,
            progress: None,
            piece_bytes: PIECE_BYTES,
            sync: true,
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
    /// Stale files removed under `force`.
    pub removed: Vec<PathBuf>,
}

fn is_checkpoint_name(n: &str) -> bool {
    if n == crate::plan::SINGLE_FILE || n == INDEX_FILE {
        return true;
    }
    // model-00001-of-00003.safetensors
    let Some(mid) = n.strip_prefix("model-").and_then(|r| r.strip_suffix(".safetensors")) else { return false };
    let Some((a, b)) = mid.split_once("-of-") else { return false };
    !a.is_empty() && !b.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
}

/// The file a temporary name belongs to (`.NAME.partial-PID` -> `NAME`).
fn partial_of(n: &str) -> Option<&str> {
    let rest = n.strip_prefix('.')?;
    let (name, pid) = rest.rsplit_once(".partial-")?;
    pid.bytes().all(|c| c.is_ascii_digit()).then_some(name)
}

/// Create the output folder or check that it may be written into: without
/// `force` it must be empty, except that in a split run it may hold the
/// other workers' files (finished or in progress). With `force`, stale
/// checkpoint files (`model*.safetensors`, the index) that the plan does not
/// have are removed, so a loader cannot pick up an old file.
pub fn prepare_dir(plan: &Plan, dir: &Path, worker: Worker, force: bool) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        fs::create_dir_all(dir).map_err(|e| IoError::os(dir, e))?;
        return Ok(Vec::new());
    }
    if !dir.is_dir() {
        return Err(IoError::Usage(format!("{}: exists and is not a folder", dir.display())));
    }
    let names = plan.file_names();
    let mine: Vec<&str> = plan.shards_of(worker).iter().map(|&s| plan.shards[s].file_name.as_str()).collect();
    let mut removed = Vec::new();
    let mut unexpected = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| IoError::os(dir, e))? {
        let e = e.map_err(|e| IoError::os(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let in_plan = names.contains(&name);
        let others = worker.count > 1
            && ((in_plan && !mine.contains(&name.as_str()))
                || partial_of(&name).is_some_and(|f| names.iter().any(|n| n == f) && !mine.contains(&f)));
        if others {
            continue;
        }
        if force {
            if !in_plan && is_checkpoint_name(&name) {
                let p = e.path();
                match fs::remove_file(&p) {
                    Ok(()) => removed.push(p),
                    Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                    Err(err) => return Err(IoError::os(p, err)),
                }
            }
            continue;
        }
        unexpected.push(name);
    }
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(IoError::Usage(format!(
            "output folder {} is not empty ({} entr{}, e.g. {:?}); choose an empty folder or pass --force to write into it",
            dir.display(),
            unexpected.len(),
            if unexpected.len() == 1 { "y" } else { "ies" },
            unexpected[0]
        )));
    }
    Ok(removed)
}

/// Write this worker's part of `plan` into `dir` (which
/// [`prepare_dir`] has checked).
pub fn write(plan: &Plan, dir: &Path, opts: &WriteOptions) -> Result<WriteReport> {
    let mut report = WriteReport { files: Vec::new(), bytes: 0, removed: Vec::new() };
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
    for (name, bytes) in [(CONFIG_FILE, &plan.config), (INDEX_FILE, &plan.index)] {
        if let Some(b) = bytes {
            check_cancel(opts)?;
            let mut f = AtomicFile::create(dir.join(name))?;
            f.set_sync(opts.sync);
            f.write_all(b)?;
            report.files.push(f.commit()?);
            report.bytes += b.len() as u64;
        }
    }
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
        let written = writer.join().unwrap_or_else(|_| Err(IoError::Format("the writer thread panicked".into())));
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
    fn names() {
        assert!(is_checkpoint_name("model-00001-of-00002.safetensors"));
        assert!(is_checkpoint_name("model.safetensors"));
        assert!(!is_checkpoint_name("model-a-of-2.safetensors"));
        assert!(!is_checkpoint_name("notes.txt"));
        assert_eq!(partial_of(".model.safetensors.partial-123"), Some("model.safetensors"));
        assert_eq!(partial_of("model.safetensors"), None);
    }
}
