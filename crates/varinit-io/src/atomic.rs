//! Write-then-rename files.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::{IoError, Result};

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
        let f = w.into_inner().map_err(|e| IoError::os(&self.tmp, e.into_error()))?;
        if self.sync {
            f.sync_all().map_err(|e| IoError::os(&self.tmp, e))?;
        }
        drop(f);
        fs::rename(&self.tmp, &self.dest).map_err(|e| IoError::os(&self.dest, e))?;
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
        }
    }
}
