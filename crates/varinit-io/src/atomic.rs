//! Write-then-rename files.
//!
//! Every temporary file (and lock file) alive in this process is listed in
//! a registry, so a signal handler that must exit at once (a second Ctrl-C)
//! can still remove them with [`remove_temporaries`].

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{IoError, Result};

static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Add a path to the files [`remove_temporaries`] removes.
pub fn register_temporary(p: &Path) {
    if let Ok(mut v) = TEMPORARIES.lock() {
        v.push(p.to_path_buf());
    }
}

/// Remove a path from the registry (it was renamed into place or removed).
pub fn unregister_temporary(p: &Path) {
    if let Ok(mut v) = TEMPORARIES.lock()
        && let Some(i) = v.iter().rposition(|x| x == p)
    {
        v.swap_remove(i);
    }
}

/// Remove every temporary and lock file of this process that is still
/// alive (for a signal handler about to exit); returns how many were
/// removed. Never blocks: if another thread holds the registry, nothing is
/// removed.
pub fn remove_temporaries() -> usize {
    let Ok(mut v) = TEMPORARIES.try_lock() else { return 0 };
    let n = v.iter().filter(|p| fs::remove_file(p).is_ok()).count();
    v.clear();
    n
}

/// A file being written under a temporary name next to its destination.
///
/// [`AtomicFile::commit`] flushes, syncs and renames it into place; dropping
/// it without committing removes the temporary file, so a failed or
/// interrupted write never leaves a file under the final name.
pub struct AtomicFile {
    dest: PathBuf,
    tmp: PathBuf,
    writer: Option<BufWriter<File>>,
    sync: bool,
}

impl AtomicFile {
    /// Start writing `dest` (its folder must exist).
    pub fn create(dest: impl AsRef<Path>) -> Result<Self> {
        let dest = dest.as_ref().to_path_buf();
        let file_name = dest
            .file_name()
            .ok_or_else(|| IoError::Format(format!("{}: not a file name", dest.display())))?
            .to_string_lossy()
            .into_owned();
        let tmp = dest.with_file_name(format!(".{file_name}.partial-{}", std::process::id()));
        let f = File::create(&tmp).map_err(|e| IoError::os(&tmp, e))?;
        register_temporary(&tmp);
        Ok(AtomicFile { dest, tmp, writer: Some(BufWriter::with_capacity(1 << 20, f)), sync: true })
    }

    /// Whether [`AtomicFile::commit`] syncs the data to disk before the
    /// rename (the default). Without it the rename still happens only after
    /// the last byte was written, so an error or an interrupt never leaves a
    /// complete-looking file, but a power loss soon after may.
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// The final path.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The temporary path being written.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// A second handle on the temporary file, for syncing it from another
    /// thread while this one writes (so the disk starts writing early
    /// instead of when the file is committed).
    pub fn sync_handle(&self) -> Result<File> {
        let w = self.writer.as_ref().expect("writer present until commit");
        w.get_ref().try_clone().map_err(|e| IoError::os(&self.tmp, e))
    }

    /// Write all of `buf`.
    pub fn write_all(&mut self, buf: &[u8]) -> Result<()> {
        let w = self.writer.as_mut().expect("writer present until commit");
        w.write_all(buf).map_err(|e| IoError::os(&self.tmp, e))
    }

    /// Flush, sync to disk and rename into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        let w = self.writer.take().expect("writer present until commit");
        let fail = |this: &Self, e: std::io::Error| {
            let _ = fs::remove_file(&this.tmp);
            unregister_temporary(&this.tmp);
            IoError::os(&this.tmp, e)
        };
        let f = match w.into_inner() {
            Ok(f) => f,
            Err(e) => return Err(fail(&self, e.into_error())),
        };
        if self.sync
            && let Err(e) = f.sync_all()
        {
            return Err(fail(&self, e));
        }
        drop(f);
        if let Err(e) = fs::rename(&self.tmp, &self.dest) {
            // the complete temporary must not stay behind either
            let _ = fs::remove_file(&self.tmp);
            unregister_temporary(&self.tmp);
            return Err(IoError::os(&self.dest, e));
        }
        unregister_temporary(&self.tmp);
        Ok(self.dest.clone())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.as_mut().expect("writer present until commit").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.as_mut().expect("writer present until commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
            unregister_temporary(&self.tmp);
        }
    }
}
