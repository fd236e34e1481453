//! varinit-io's integration tests, in one binary (one link instead of
//! three on 2 cores). One module per former test file:
//!
//! `cargo test --release -p varinit-io --test all` (add `trust::` and so
//! on to run one module).

mod fuzz_header;
mod hf_structure;
mod trust;
