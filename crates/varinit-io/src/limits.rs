//! Limits on what input controls, in one place.
//!
//! Every file that `audit` reads is treated as hostile: these caps bound the
//! time and memory one input byte can cost. The reader, the index reader
//! and the checkpoint planner apply the same numbers, so varinit never
//! writes a checkpoint that its own audit refuses.
//!
//! Cost per input byte (measured figures in the README):
//!
//! - a safetensors header is parsed in one pass, straight into typed
//!   entries (no generic JSON tree): memory and time linear in its size
//!   (time O(n log n) for the sort by offset); the worst case is a header
//!   of empty tensors with short names, the most entries per byte, where
//!   a whole `varinit audit` (per-tensor reports and the table included)
//!   measured about 40 bytes of memory and 100 ns of CPU per header byte;
//! - duplicate tensor names and shard names are found with hash sets
//!   (linear);
//! - an index is read only up to [`MAX_INDEX_BYTES`] and holds at most
//!   [`MAX_SHARDS`] distinct shard names;
//! - tensor data is read with positioned reads into one bounded window
//!   (no memory map: a file truncated underneath gives an error naming the
//!   file, never a SIGBUS).

/// Largest safetensors header (the `safetensors` crate's limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;
/// Most tensors in one safetensors file (the largest published models have
/// a few thousand per shard).
pub const MAX_TENSORS_PER_FILE: usize = 1_000_000;
/// Longest tensor name, in bytes (real names are under 200).
pub const MAX_NAME_BYTES: usize = 4096;
/// Largest `model.safetensors.index.json`.
pub const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Most shard files in one checkpoint (the `-of-NNNNN` names have five
/// digits).
pub const MAX_SHARDS: usize = 99_999;
/// Longest scheme string read from a checkpoint's metadata; a longer one is
/// that tensor's failure and is not parsed.
pub const MAX_SCHEME_BYTES: usize = 4096;
