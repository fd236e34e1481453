//! # varinit-io
//!
//! The file side of varinit: `.npy` and `.safetensors` writers that never
//! leave a complete-looking file behind on failure (everything is written
//! to a temporary name in the target folder and renamed into place only
//! when complete).
#![warn(missing_docs)]

pub mod atomic;
pub mod npy;
pub mod safetensors;

use std::path::PathBuf;

/// Errors of the file side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// A bad description (scheme, shape, dtype...).
    #[error(transparent)]
    Init(#[from] varinit::Error),
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
}

impl IoError {
    /// Wrap an OS error with the path it concerns.
    pub fn os(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        IoError::Os { path: path.into(), source }
    }

    /// True when the error comes from bad input rather than the system
    /// (a front end exits with status 2 for these).
    pub fn is_usage(&self) -> bool {
        matches!(self, IoError::Init(_) | IoError::Format(_))
    }
}

/// The crate's result type.
pub type Result<T, E = IoError> = std::result::Result<T, E>;
