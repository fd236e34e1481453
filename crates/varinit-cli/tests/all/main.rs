//! The command line's integration tests, in one binary (one link instead
//! of eight on 2 cores). One module per former test file:
//!
//! `cargo test --release -p varinit-cli --test all` (add `checkpoints::`
//! and so on to run one module).

mod bench;
mod checkpoints;
mod cli;
mod first_hour;
mod json_shapes;
mod provenance;
mod styles_cli;
mod theory_cli;
