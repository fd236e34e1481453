//! One writer per checkpoint folder.
//!
//! Every writing process holds a lock file `.varinit.lock-PID` in the
//! output folder, with an advisory lock (`flock`) on it for as long as it
//! runs; the file says which run (its identifier) and which worker it is.
//! A second writer refuses to start while a live lock names another run,
//! another worker split, or the same worker. The operating system drops
//! the advisory lock when its holder dies, however it dies (kill -9
//! included), so a lock file nobody holds is stale: the next writer removes
//! it. Workers of one split run (the same identifier, different worker
//! indices) write side by side.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use crate::plan::Worker;
use crate::{IoError, Result};

/// Prefix of the lock files' names (followed by the writer's process id).
pub const LOCK_PREFIX: &str = ".varinit.lock-";

/// A held lock on a folder; released (and its file removed) when dropped.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    file: Option<File>,
    /// Process ids of the other live writers of the same run (other workers).
    pub peers: Vec<u32>,
}

/// The process id in a lock file's name, when `name` is one.
pub fn lock_pid(name: &str) -> Option<u32> {
    name.strip_prefix(LOCK_PREFIX).filter(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()))?.parse().ok()
}

/// What a live lock file says about its writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its process id.
    pub pid: u32,
    /// Its run identifier.
    pub run_id: String,
    /// Its part of the run.
    pub worker: Worker,
}

/// The writers holding a lock on `dir` now (stale lock files are skipped).
pub fn live_holders(dir: &Path) -> Result<Vec<Holder>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return Ok(out) };
    for e in entries {
        let e = e.map_err(|e| IoError::os(dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = lock_pid(&name) else { continue };
        if let Some(h) = probe(&e.path(), pid, false)? {
            out.push(h);
        }
    }
    Ok(out)
}

/// Inspect one lock file: `Some` when a live process holds it; a stale one
/// is removed when `remove_stale`.
fn probe(path: &Path, pid: u32, remove_stale: bool) -> Result<Option<Holder>> {
    // never block: lock files are regular files that varinit made; anything else is skipped
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        _ => return Ok(None),
    }
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IoError::os(path, e)),
    };
    match f.try_lock() {
        Ok(()) => {
            if remove_stale {
                let _ = fs::remove_file(path);
            }
            Ok(None)
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut text = String::new();
            let _ = (&mut f).take(4096).read_to_string(&mut text);
            let mut it = text.split_whitespace();
            let run_id = it.next().unwrap_or("?").to_string();
            let worker = it.next().and_then(|w| w.parse().ok()).unwrap_or_default();
            Ok(Some(Holder { pid, run_id, worker }))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(IoError::os(path, e)),
    }
}

impl DirLock {
    /// Take the folder's writer lock for worker `worker` of run `run_id`,
    /// removing stale lock files; refuse when a live writer of another run
    /// (or the same worker of this one) holds it.
    pub fn acquire(dir: &Path, run_id: &str, worker: Worker) -> Result<DirLock> {
        let pid = std::process::id();
        let path = dir.join(format!("{LOCK_PREFIX}{pid}"));
        let staging = dir.join(format!("{LOCK_PREFIX}{pid}.new"));
        // made and locked under another name, so nobody sees it unlocked
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&staging)
            .map_err(|e| IoError::os(&staging, e))?;
        let locked = file.try_lock().map_err(|e| match e {
            std::fs::TryLockError::Error(e) => IoError::os(&staging, e),
            std::fs::TryLockError::WouldBlock => IoError::os(&staging, std::io::ErrorKind::WouldBlock.into()),
        });
        let written = locked.and_then(|()| {
            writeln!(file, "{run_id} {}/{} {pid}", worker.index, worker.count).map_err(|e| IoError::os(&staging, e))
        });
        if let Err(e) = written.and_then(|()| fs::rename(&staging, &path).map_err(|e| IoError::os(&path, e))) {
            let _ = fs::remove_file(&staging);
            return Err(e);
        }
        crate::atomic::register_temporary(&path);
        let mut lock = DirLock { path, file: Some(file), peers: Vec::new() };
        for e in fs::read_dir(dir).map_err(|e| IoError::os(dir, e))? {
            let e = e.map_err(|e| IoError::os(dir, e))?;
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(other) = lock_pid(&name) else { continue };
            if other == pid {
                continue;
            }
            let Some(h) = probe(&e.path(), other, true)? else { continue };
            if h.run_id != run_id || h.worker.count != worker.count || h.worker.index == worker.index {
                let what = if h.run_id != run_id {
                    format!("run {}", h.run_id)
                } else {
                    format!("worker {}/{} of this run", h.worker.index, h.worker.count)
                };
                return Err(IoError::Usage(format!(
                    "another varinit (process {}, {what}) is writing into {}; wait for it or choose another folder",
                    h.pid,
                    dir.display()
                )));
            }
            lock.peers.push(h.pid);
        }
        Ok(lock)
    }

    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // removed while still held, so no other writer takes a half-removed lock
        let _ = fs::remove_file(&self.path);
        crate::atomic::unregister_temporary(&self.path);
        self.file.take();
    }
}
