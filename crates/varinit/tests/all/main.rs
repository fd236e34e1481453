//! varinit's integration tests, in one binary (one link instead of nine
//! on 2 cores). One module per former test file:
//!
//! `cargo test --release -p varinit --test all` (add `golden::` and so on
//! to run one module).

mod common;
mod determinism;
mod golden;
mod paths;
mod reference;
mod reference_jax;
mod region;
mod robustness;
mod statistics;
mod styles;
mod trunc_normal;
