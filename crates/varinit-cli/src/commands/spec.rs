//! `varinit spec --from FILE_OR_DIR [-o FILE.toml] [--init SCHEME] [--force] [--json]`
//!
//! A spec file (TOML, as `varinit init --spec` reads it) from an existing
//! safetensors checkpoint: every tensor's name, shape and dtype, in the
//! checkpoint's order, and its scheme from the `varinit.scheme.NAME`
//! metadata when the checkpoint has it (seed and layout from
//! `varinit.seed` / `varinit.layout`). Tensors without a scheme get the
//! transformers convention (`hf` style): biases zeros, 1-D norm weights
//! ones, everything else `normal(mean=0, std=0.02)` or `--init SCHEME`;
//! each such line is marked as chosen, not read.
//! Only headers are read, never tensor data.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;
use varinit::{DType, Init, Layout};
use varinit_io::atomic::AtomicFile;
use varinit_io::audit::checkpoint_files;
use varinit_io::reader::SafetensorsFile;

use crate::output::{CliError, CliResult, check_output_file, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// A .safetensors file or a checkpoint folder (with or without model.safetensors.index.json).
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub from: PathBuf,
    /// Write the spec to FILE (default: stdout).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Scheme for the tensors without `varinit.scheme.*` metadata that are neither biases (zeros) nor 1-D norm
    /// weights (ones), as transformers initializes them (default: normal(mean=0, std=0.02)).
    #[arg(long, value_name = "SCHEME")]
    pub init: Option<String>,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// One JSON document on stdout (counts, and the spec text unless --out is given).
    #[arg(long)]
    pub json: bool,
}

/// The scheme of a tensor, and where it came from.
enum Origin {
    Metadata,
    Flag,
    Convention,
}

/// transformers' `_init_weights` convention, by name and rank: `Some` for
/// biases and norm weights, `None` for the rest (a weight).
fn convention(name: &str, rank: usize) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".bias") || lower == "bias" {
        Some("zeros")
    } else if rank == 1 && (lower.contains("norm") || lower.contains("ln_") || lower.contains(".ln")) {
        Some("ones")
    } else {
        None
    }
}

/// transformers' default `initializer_range`.
const DEFAULT_WEIGHT_INIT: &str = "normal(mean=0, std=0.02)";

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    // JSON string escapes are valid TOML escapes; TOML also wants DEL escaped.
    serde_json::to_string(s).expect("a string serializes").replace('\u{7f}', "\\u007F")
}

struct Entry {
    name: String,
    shape: Vec<u64>,
    dtype: DType,
    init: String,
    origin: Origin,
}

pub fn run(a: Args) -> CliResult {
    if let Err(e) = std::fs::metadata(&a.from)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Err(CliError::usage(format!("--from {}: no such file or folder", a.from.display())));
    }
    let flag_init = match &a.init {
        None => None,
        Some(s) => {
            let init: Init = s.parse()?;
            Some(init.to_string())
        }
    };
    if let Some(out) = &a.out {
        check_output_file("--out", out)?;
        if out.exists() && !a.force {
            return Err(CliError::usage(format!("--out {}: the file exists (--force replaces it)", out.display())));
        }
    }
    let (paths, _) = checkpoint_files(&a.from)?;
    let files: Vec<SafetensorsFile> = paths.iter().map(SafetensorsFile::open).collect::<Result<_, _>>()?;

    // Seed and layout: from the metadata when every file that has them agrees.
    let agreed = |key: &str| -> Result<Option<String>, CliError> {
        let mut values: Vec<&String> = files.iter().filter_map(|f| f.header.metadata.get(key)).collect();
        values.sort();
        values.dedup();
        match values.as_slice() {
            [] => Ok(None),
            [v] => Ok(Some((*v).clone())),
            _ => Err(CliError::usage(format!(
                "{}: the files disagree on {key} ({}); write the spec for one file at a time",
                a.from.display(),
                values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ")
            ))),
        }
    };
    let seed: Option<u64> = match agreed("varinit.seed")? {
        None => None,
        Some(s) => Some(s.parse().ok().filter(|&x: &u64| x <= i64::MAX as u64).ok_or_else(|| {
            CliError::usage(format!("{}: varinit.seed {s:?} is not a seed a spec file can hold", a.from.display()))
        })?),
    };
    let layout: Option<Layout> = match agreed("varinit.layout")? {
        None => None,
        Some(l) => Some(l.parse()?),
    };

    let mut entries = Vec::new();
    let mut skipped: Vec<(String, String)> = Vec::new();
    for f in &files {
        for t in &f.header.tensors {
            let Some(dtype) = t.float else {
                skipped.push((t.name.clone(), t.dtype.clone()));
                continue;
            };
            let (init, origin) = match f.header.metadata.get(&format!("varinit.scheme.{}", t.name)) {
                Some(s) => {
                    let init: Init = s.parse().map_err(|e| {
                        CliError::usage(format!(
                            "{}: the metadata scheme of {:?} does not parse: {e}",
                            f.path().display(),
                            t.name
                        ))
                    })?;
                    (init.to_string(), Origin::Metadata)
                }
                None => match (convention(&t.name, t.shape.len()), &flag_init) {
                    (Some(c), _) => (c.to_string(), Origin::Convention),
                    (None, Some(s)) => (s.clone(), Origin::Flag),
                    (None, None) => (DEFAULT_WEIGHT_INIT.to_string(), Origin::Convention),
                },
            };
            entries.push(Entry { name: t.name.clone(), shape: t.shape.clone(), dtype, init, origin });
        }
    }
    if entries.is_empty() {
        return Err(CliError::usage(format!(
            "{}: no floating-point tensors (f32, f64, f16, bf16) to describe",
            a.from.display()
        )));
    }

    // The default dtype: the most common one (ties: the first in file order).
    let mut counts: BTreeMap<&str, (usize, usize, DType)> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        counts.entry(e.dtype.name()).or_insert((0, i, e.dtype)).0 += 1;
    }
    let dtype = counts.values().max_by_key(|(n, first, _)| (*n, std::cmp::Reverse(*first))).expect("not empty").2;

    let from_meta = entries.iter().filter(|e| matches!(e.origin, Origin::Metadata)).count();
    let chosen = entries.len() - from_meta;
    let mut s = String::new();
    let _ = writeln!(s, "# varinit spec file, written by `varinit spec --from {}`", a.from.display());
    let _ = writeln!(
        s,
        "# {} tensors from {} file{}: {from_meta} schemes read from the varinit.scheme metadata, {chosen} chosen{}.",
        entries.len(),
        files.len(),
        if files.len() == 1 { "" } else { "s" },
        match (&flag_init, chosen) {
            (_, 0) => String::new(),
            (Some(i), _) => format!(" (weights --init {i}, biases and norms as transformers; marked below)"),
            (None, _) => " by transformers' convention (marked below: check them)".to_string(),
        }
    );
    let _ = writeln!(
        s,
        "# `varinit init --spec FILE -o DIR` writes a checkpoint from it; `varinit audit DIR --spec FILE` checks one."
    );
    for (name, dt) in &skipped {
        let _ = writeln!(s, "# not described: {name} ({dt}; varinit writes floating-point tensors only)");
    }
    s.push('\n');
    match seed {
        Some(x) => {
            let _ = writeln!(s, "seed = {x}");
        }
        None => {
            let _ = writeln!(s, "seed = 0  # no varinit.seed in the metadata");
        }
    }
    let _ = writeln!(s, "dtype = {}", toml_str(dtype.name()));
    match layout {
        Some(l) => {
            let _ = writeln!(s, "layout = {}", toml_str(l.name()));
        }
        None => {
            let _ =
                writeln!(s, "layout = \"torch\"  # no varinit.layout in the metadata: PyTorch's (out, in, *kernel)");
        }
    }
    for e in &entries {
        s.push_str("\n[[tensor]]\n");
        let _ = writeln!(s, "name = {}", toml_str(&e.name));
        let dims: Vec<String> = e.shape.iter().map(u64::to_string).collect();
        let _ = writeln!(s, "shape = [{}]", dims.join(", "));
        let mark = match e.origin {
            Origin::Metadata => "",
            Origin::Flag => "  # --init",
            Origin::Convention => "  # chosen: no varinit.scheme metadata",
        };
        let _ = writeln!(s, "init = {}{mark}", toml_str(&e.init));
        if e.dtype != dtype {
            let _ = writeln!(s, "dtype = {}", toml_str(e.dtype.name()));
        }
    }

    // What we write must be what `init --spec` accepts (an --init scheme may not fit a shape).
    varinit_io::spec::parse(&s, "the generated spec")
        .map_err(|e| CliError::usage(format!("the spec for {} is not valid: {e}", a.from.display())))?;

    if let Some(out) = &a.out {
        let mut f = AtomicFile::create(out)?;
        f.write_all(s.as_bytes())?;
        f.commit()?;
    }
    if a.json {
        return print_json(&json!({
            "from": a.from.display().to_string(),
            "files": paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "out": a.out.as_ref().map(|p| p.display().to_string()),
            "tensors": entries.len(),
            "schemes_from_metadata": from_meta,
            "schemes_chosen": chosen,
            "skipped": skipped.iter().map(|(n, d)| json!({"name": n, "dtype": d})).collect::<Vec<_>>(),
            "spec": if a.out.is_none() { Some(&s) } else { None },
        }));
    }
    match &a.out {
        None => print!("{s}"),
        Some(out) => {
            println!(
                "wrote {} ({} tensors: {from_meta} schemes from the metadata, {chosen} chosen{})",
                out.display(),
                entries.len(),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(", {} non-float tensors left out", skipped.len())
                }
            );
        }
    }
    Ok(())
}
