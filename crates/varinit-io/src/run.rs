//! The run identifier and the metadata keys varinit adds for it.
//!
//! A run identifier is a hash of everything that decides a checkpoint's
//! bytes: the stream version, the seed, the layout, the source, and every
//! tensor's name, dtype, shape, scheme and file. Every shard records it
//! under [`RUN_ID_KEY`]; `audit` checks that all shards of a folder carry
//! the same one (and the same seed, stream version and source), so shards
//! of two runs never pass as one checkpoint. Workers of a split run share
//! the identifier exactly when their plans are identical.

use sha2::{Digest, Sha256};
use varinit::{DType, Init, Shape};

use crate::spec::ModelSpec;

// The keys live with the rest of the `varinit.*` metadata, in the core's provenance module.
pub use varinit::provenance::{
    RUN_ID as RUN_ID_KEY, SEED as SEED_KEY, SOURCE as SOURCE_KEY, STREAM_VERSION as STREAM_VERSION_KEY,
};
/// Metadata keys that must agree across the shards of one checkpoint.
pub const RUN_KEYS: [&str; 4] = [RUN_ID_KEY, SEED_KEY, STREAM_VERSION_KEY, SOURCE_KEY];

/// The run identifier of a plan: 128 bits of SHA-256 over a canonical text
/// of the plan, as 32 hex digits.
pub fn run_id<'a>(
    spec: &ModelSpec,
    tensors: impl Iterator<Item = (&'a str, DType, &'a Shape, &'a Init, String)>,
) -> String {
    let mut h = Sha256::new();
    h.update(
        format!(
            "varinit run 1\nstream_version {}\nseed {}\nlayout {}\nsource {:?}\n",
            varinit::STREAM_VERSION,
            spec.seed,
            spec.layout.name(),
            spec.source
        )
        .as_bytes(),
    );
    for (name, dtype, shape, init, file) in tensors {
        h.update(format!("tensor {name:?} {} {shape} {init} {file:?}\n", dtype.name()).as_bytes());
    }
    let d = h.finalize();
    d[..16].iter().map(|b| format!("{b:02x}")).collect()
}
