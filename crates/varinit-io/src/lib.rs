//! # varinit-io
//!
//! The file side of varinit: `.npy` and `.safetensors` writers that never
//! leave a complete-looking file behind on failure (everything is written
//! to a temporary name in the target folder and renamed into place only
//! when complete), and everything needed to make and check whole
//! checkpoints:
//!
//! - [`spec`]: TOML spec files (tensors, shapes, schemes, glob rules);
//! - [`preset`]: model presets (`llama`, `gpt2`, `mlp`) and Hugging Face
//!   `config.json` files, with the `hf`, `megatron` and `torchtitan` init
//!   styles;
//! - [`plan`]: a spec laid out into safetensors shards with their headers
//!   and the Hugging Face index;
//! - [`checkpoint`]: the streaming writer (bounded memory, all cores
//!   generating while the disk writes, the same bytes for any thread count
//!   or worker split);
//! - [`reader`]: a safetensors reader that treats every file as hostile
//!   and reads the data with positioned reads (no memory map, so a file
//!   truncated underneath is an error, not a SIGBUS);
//! - [`audit`]: per-tensor statistics and verdicts against the expected
//!   scheme, and the checks of a checkpoint as a whole (every shard
//!   present, one run identifier across shards, index and shards agree);
//! - [`lock`], [`run`], [`limits`]: one writer per folder, the run
//!   identifier, and the caps on what hostile input controls.
#![warn(missing_docs)]

pub mod atomic;
pub mod audit;
pub mod checkpoint;
pub mod limits;
pub mod lock;
pub mod npy;
pub mod plan;
pub mod preset;
pub mod reader;
pub mod run;
pub mod safetensors;
pub mod size;
pub mod spec;
pub mod style;

use std::path::PathBuf;

pub use varinit::ErrorClass;

/// Errors of the file side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// A bad description (scheme, shape, dtype...), or a failure of the
    /// core; its class is the core error's.
    #[error(transparent)]
    Init(#[from] varinit::Error),
    /// A core error about one tensor of a checkpoint; its class is the
    /// core error's.
    #[error("{tensor}: {source}")]
    Tensor {
        /// The tensor's name (with its dtype where that is the problem).
        tensor: String,
        /// What is wrong.
        #[source]
        source: Box<varinit::Error>,
    },
    /// An operating-system error on a path.
    #[error("{path}: {source}")]
    Os {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A request the format cannot represent.
    #[error("{0}")]
    Format(String),
    /// A problem in a spec file (or another text input), with its place.
    #[error("{file}:{line}:{column}: {message}")]
    Spec {
        /// The file (or a description of another text input).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong and what would be valid.
        message: String,
    },
    /// Bad input that is not tied to a place in a file (a preset option,
    /// a worker index, an output folder that is not empty...).
    #[error("{0}")]
    Usage(String),
    /// A file that is not a valid safetensors file (or checkpoint index).
    #[error("{path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An output path that exists and is not a folder.
    #[error("{}: exists and is not a folder", path.display())]
    NotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// An output folder that is not empty, written into without forcing.
    #[error(
        "output folder {} is not empty ({count} entr{}, e.g. {example:?}); choose an empty folder or force writing into it",
        dir.display(), if *count == 1 { "y" } else { "ies" }
    )]
    FolderNotEmpty {
        /// The folder.
        dir: PathBuf,
        /// How many entries are in the way.
        count: usize,
        /// The first of them, by name.
        example: String,
    },
    /// In a split run, an output folder holding shards of another run
    /// (another seed, spec, dtype or shard size).
    #[error(
        "output folder {} holds {count} shard{} of another run (e.g. {example:?}: another seed, spec, dtype or shard size); workers share a folder only when their plans are identical, or when forced to replace the other run's shards",
        dir.display(), if *count == 1 { "" } else { "s" }
    )]
    ForeignShards {
        /// The folder.
        dir: PathBuf,
        /// How many shards of another run it holds.
        count: usize,
        /// The first of them, by name.
        example: String,
    },
    /// A file that changed while the checkpoint was being written (another
    /// process writing into the same folder); the index was not written.
    #[error("{}: {file} changed while being written (another process?); the index was not written", dir.display())]
    Interfered {
        /// The folder.
        dir: PathBuf,
        /// The file that changed.
        file: String,
    },
    /// The work was interrupted (Ctrl-C); temporary files were removed.
    #[error("interrupted; removed the unfinished files")]
    Interrupted,
    /// A broken internal invariant (a bug in varinit, not in the input).
    #[error("internal error: {0}")]
    Internal(String),
}

impl IoError {
    /// Wrap an OS error with the path it concerns.
    pub fn os(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IoError::Os { path: path.into(), source }
    }

    /// The error's class: the caller's mistake (bad input, including a
    /// file that is not valid) or a failure while working (the operating
    /// system's errors, an interruption, another process interfering, an
    /// internal error). Core errors keep their own class.
    pub fn class(&self) -> ErrorClass {
        match self {
            IoError::Init(e) => e.class(),
            IoError::Tensor { source, .. } => source.class(),
            IoError::Format(_)
            | IoError::Spec { .. }
            | IoError::Usage(_)
            | IoError::Malformed { .. }
            | IoError::NotAFolder { .. }
            | IoError::FolderNotEmpty { .. }
            | IoError::ForeignShards { .. } => ErrorClass::Usage,
            IoError::Os { .. } | IoError::Interfered { .. } | IoError::Interrupted | IoError::Internal(_) => {
                ErrorClass::Failure
            }
        }
    }

    /// True when the error comes from bad input rather than the system
    /// ([`ErrorClass::Usage`]; a front end exits with status 2 for these).
    pub fn is_usage(&self) -> bool {
        self.class() == ErrorClass::Usage
    }
}

/// The crate's result type.
pub type Result<T, E = IoError> = std::result::Result<T, E>;

/// 1-based (line, column) of byte offset `pos` in `text` (columns count
/// characters).
pub fn line_col(text: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(text.len());
    let mut p = pos;
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    let before = &text[..p];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
