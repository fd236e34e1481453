//! The library side of `varinit init --spec`: read a spec file, lay it out
//! into shards, write the checkpoint, and audit it.
//!
//! ```text
//! cargo run --release -p varinit-io --example write_checkpoint -- examples/mlp.toml /tmp/mlp
//! ```

use std::path::PathBuf;

use varinit_io::audit::{AuditOptions, audit};
use varinit_io::checkpoint::{self, WriteOptions};
use varinit_io::plan::{Plan, Worker};
use varinit_io::spec;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [spec_path, out] = args.as_slice() else {
        return Err("usage: write_checkpoint SPEC.toml OUT_DIR".into());
    };
    let spec = spec::load(spec_path)?; // errors name file:line:column
    let plan = Plan::new(&spec, 5_000_000_000)?; // shards of at most 5 GB
    checkpoint::prepare_dir(&plan, out, Worker::default(), false)?; // refuses a non-empty folder
    let written = checkpoint::write(&plan, out, &WriteOptions::default())?;
    println!("wrote {} bytes in {:?}", written.bytes, written.files);
    // check every tensor against the scheme recorded in the metadata
    let report = audit(out, &AuditOptions::default())?;
    let (pass, fail, unchecked) = report.counts();
    println!("audit: {pass} pass, {fail} fail, {unchecked} unchecked");
    Ok(())
}
