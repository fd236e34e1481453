//! varinit-burn's tests, in one binary (burn links slowly on 2 cores).
//!
//! `cargo test --release -p varinit-burn --test burn`

mod checkpoint;
mod common;
mod reinit;
mod twins;
