//! `varinit init (--spec FILE | --preset NAME [--set k=v ...] | --hf-config FILE) [--style NAME|FILE] -o DIR ...`

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;
use varinit::DType;
use varinit_io::checkpoint::{self, WriteOptions};
use varinit_io::plan::{CONFIG_FILE, INDEX_FILE, Plan, Worker};
use varinit_io::size::{human_bytes, parse_size};
use varinit_io::spec::ModelSpec;
use varinit_io::{IoError, preset, spec};

use crate::output::{CliError, CliResult, Table, print_json};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["spec", "preset", "hf_config"])))]
pub struct Args {
    /// A TOML spec file: [[tensor]] entries (name, shape, init, dtype) and [[rule]] globs.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// A model preset: llama, gpt2, mlp, mixtral, qwen3, qwen3_moe, gemma2, gemma3_text, phi3, olmo2.
    #[arg(long)]
    pub preset: Option<String>,
    /// A preset setting, e.g. `--set size=7b`, `--set num_key_value_heads=4`, `--set style=megatron` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A Hugging Face config.json (llama, mistral, qwen2, mixtral, qwen3, qwen3_moe, gemma2, gemma3_text, phi3, olmo2,
    /// gpt2; other architectures: `python -m varinit.hf CONFIG -o DIR`); it is copied next to the weights.
    #[arg(long)]
    pub hf_config: Option<PathBuf>,
    /// Init style for a transformer preset or --hf-config: a built-in name (`varinit styles` lists them: hf, megatron,
    /// torchtitan, olmo, neox, deepnet, mup, gemma...) or a style file (docs/styles.md). Default: hf.
    #[arg(long, value_name = "NAME|FILE")]
    pub style: Option<String>,
    /// Output folder.
    #[arg(long, short, required_unless_present = "dry_run")]
    pub out: Option<PathBuf>,
    /// Seed (default: the spec's, else 0).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Default dtype: f32, f64, f16, bf16 (default: the spec's or config's, else f32).
    #[arg(long)]
    pub dtype: Option<String>,
    /// Largest shard (tensor data bytes): 5GB, 500MB, 2GiB... A larger tensor gets a shard of its own.
    #[arg(long, default_value = "5GB")]
    pub max_shard_size: String,
    /// Threads generating values (default: all cores). The bytes do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write only this worker's shards: I/N with 0 <= I < N (the shards numbered I, I+N, ...). Every worker
    /// writes the same index and config; the bytes do not depend on the split.
    #[arg(long)]
    pub worker: Option<String>,
    /// Print the plan (tensors, schemes in words, shards, sizes) without writing.
    #[arg(long)]
    pub dry_run: bool,
    /// Write into a non-empty folder (replacing files of the same names, removing stale shards).
    #[arg(long)]
    pub force: bool,
    /// Do not sync files to disk before renaming them into place (as save_pretrained and torch.save do not):
    /// faster on slow disks; an error or Ctrl-C still leaves no complete-looking file.
    #[arg(long)]
    pub no_sync: bool,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The spec selected by `--spec`, `--preset` or `--hf-config`, with
/// `--style`, `--seed` and `--dtype` applied.
pub fn load_spec(
    spec_path: Option<&Path>,
    preset_name: Option<&str>,
    hf_config: Option<&Path>,
    sets: &[String],
    style: Option<&str>,
    seed: Option<u64>,
    dtype: Option<&str>,
) -> Result<ModelSpec, CliError> {
    let dtype: Option<DType> = dtype.map(str::parse).transpose()?;
    if !sets.is_empty() && spec_path.is_some() {
        return Err(CliError::usage("--set applies to --preset and --hf-config, not to --spec"));
    }
    let chosen = match style {
        None => None,
        Some(_) if spec_path.is_some() => {
            return Err(CliError::usage(
                "--style applies to --preset and --hf-config; a spec file names its schemes (its [[rule]]s)",
            ));
        }
        Some(_) if preset_name == Some("mlp") => {
            return Err(CliError::usage(
                "--style applies to the transformer presets and --hf-config; the mlp preset has its own \
                 --set style=torch|hf|kaiming",
            ));
        }
        Some(name) => {
            let c = preset::ChosenStyle::load(name)?;
            let set = sets.iter().filter_map(|s| s.split_once('=')).find(|(k, _)| k.trim() == "style");
            if let Some((_, v)) = set {
                let other = preset::ChosenStyle::load(v.trim())?;
                if other.label() != c.label() {
                    return Err(CliError::usage(format!(
                        "--style {name} and --set style={} disagree: give the style once",
                        v.trim()
                    )));
                }
            }
            Some(c)
        }
    };
    let mut m = if let Some(p) = spec_path {
        spec::load(p)?
    } else if let Some(name) = preset_name {
        preset::expand_styled(name, sets, chosen.as_ref(), dtype.unwrap_or(DType::F32))?
    } else if let Some(p) = hf_config {
        let bytes = std::fs::read(p).map_err(|e| IoError::os(p, e))?;
        preset::from_hf_config_styled(&bytes, &p.display().to_string(), sets, chosen.as_ref())?
    } else {
        return Err(CliError::usage("give one of --spec FILE, --preset NAME or --hf-config FILE"));
    };
    if let Some(s) = seed {
        m.seed = s;
    }
    if let Some(d) = dtype {
        m.dtype = d;
    }
    Ok(m)
}

pub fn run(a: Args) -> CliResult {
    let spec = load_spec(
        a.spec.as_deref(),
        a.preset.as_deref(),
        a.hf_config.as_deref(),
        &a.set,
        a.style.as_deref(),
        a.seed,
        a.dtype.as_deref(),
    )?;
    let max_shard = parse_size(&a.max_shard_size).map_err(|e| CliError::usage(format!("--max-shard-size: {e}")))?;
    let worker: Worker = a
        .worker
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| CliError::from(e).context("--worker"))?
        .unwrap_or_default();
    if a.threads == Some(0) {
        return Err(CliError::usage("--threads must be at least 1"));
    }
    let plan = Plan::new(&spec, max_shard)?;
    if a.dry_run {
        return print_plan(&spec, &plan, worker, a.json);
    }
    let dir = a.out.expect("clap requires --out without --dry-run");
    // SIGINT, SIGTERM and SIGHUP: stop, remove the unfinished files, exit 130.
    let cancel = crate::interrupt::install()?;
    let prepared = checkpoint::prepare_dir(&plan, &dir, worker, a.force)?;
    let removed = &prepared.removed;
    let to_write = plan.bytes_of(worker);
    let bar = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(to_write);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {decimal_bytes}/{decimal_total_bytes} {decimal_bytes_per_sec} ETA {eta} {msg}",
            )
            .expect("valid template"),
        );
        pb
    });
    let progress = |n: u64| {
        if let Some(b) = &bar {
            b.inc(n);
        }
    };
    let opts = WriteOptions {
        worker,
        cancel: Some(&cancel),
        progress: Some(&progress),
        piece_bytes: checkpoint::PIECE_BYTES,
        sync: !a.no_sync,
        patch: None,
    };
    let threads = a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| CliError::failure(format!("cannot start {threads} threads: {e}")))?;
    let start = Instant::now();
    let result = pool.install(|| checkpoint::write(&plan, &dir, &opts));
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = match result {
        Ok(r) => r,
        Err(IoError::Interrupted) => {
            return Err(CliError {
                code: 130,
                message: format!(
                    "interrupted; removed the unfinished files in {}{}",
                    dir.display(),
                    if plan.index.is_some() {
                        " (it has no index: not a loadable checkpoint until a run completes)"
                    } else {
                        ""
                    }
                ),
            });
        }
        Err(e) => {
            let e = CliError::from(e);
            return Err(CliError {
                code: e.code,
                message: format!(
                    "writing {} failed (unfinished files were removed{}): {}",
                    dir.display(),
                    if plan.index.is_some() { "; it has no index: not a loadable checkpoint" } else { "" },
                    e.message
                ),
            });
        }
    };
    let secs = start.elapsed().as_secs_f64();
    if a.json {
        return print_json(&json!({
            "out": dir.display().to_string(),
            "files": report.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "bytes": report.bytes,
            "seconds": secs,
            "threads": threads,
            "worker": format!("{}/{}", worker.index, worker.count),
            "removed": removed.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "complete": report.complete,
            "waiting_for": report.waiting_for,
        }));
    }
    for p in removed {
        eprintln!("removed stale {}", p.display());
    }
    println!(
        "wrote {} file{} ({}) to {} in {:.2} s ({}/s, {} thread{})",
        report.files.len(),
        if report.files.len() == 1 { "" } else { "s" },
        human_bytes(report.bytes),
        dir.display(),
        secs,
        human_bytes((report.bytes as f64 / secs.max(1e-9)) as u64),
        threads,
        if threads == 1 { "" } else { "s" }
    );
    if worker.count > 1 {
        if report.complete {
            println!(
                "worker {}/{}: every shard is in place; wrote the index: the checkpoint is complete",
                worker.index, worker.count
            );
        } else {
            println!(
                "worker {}/{}: {} shard{} of other workers still missing; the last worker to finish writes the index",
                worker.index,
                worker.count,
                report.waiting_for.len(),
                if report.waiting_for.len() == 1 { "" } else { "s" }
            );
        }
    }
    drop(prepared);
    Ok(())
}

fn print_plan(spec: &ModelSpec, plan: &Plan, worker: Worker, json: bool) -> CliResult {
    let mine = plan.shards_of(worker);
    if json {
        let tensors: Vec<_> = spec
            .tensors
            .iter()
            .zip(&plan.tensors)
            .map(|(s, t)| {
                json!({
                    "name": s.name,
                    "shape": s.shape.dims(),
                    "dtype": t.dtype.name(),
                    "scheme": s.init.to_string(),
                    "resolved": t.init.resolved().to_string(),
                    "bytes": t.byte_len,
                    "file": plan.shards[t.shard].file_name,
                })
            })
            .collect();
        let shards: Vec<_> = plan
            .shards
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({"file": s.file_name, "tensors": s.tensors.len(), "bytes": s.file_len(),
                       "worker": i % worker.count as usize, "mine": mine.contains(&i)})
            })
            .collect();
        return print_json(&json!({
            "source": spec.source,
            "seed": spec.seed,
            "dtype": spec.dtype.name(),
            "layout": spec.layout.name(),
            "parameters": spec.numel(),
            "total_bytes": plan.total_bytes,
            "files": plan.file_names(),
            "shards": shards,
            "tensors": tensors,
        }));
    }
    println!("source     {}", spec.source);
    println!("seed       {}, default dtype {}, layout {}", spec.seed, spec.dtype, spec.layout);
    println!(
        "size       {} tensors, {} parameters, {} of tensor data",
        spec.tensors.len(),
        spec.numel(),
        human_bytes(plan.total_bytes)
    );
    println!();
    let mut t = Table::new(["tensor", "shape", "dtype", "scheme", "distribution", "file"]);
    for (s, p) in spec.tensors.iter().zip(&plan.tensors) {
        t.row([
            s.name.clone(),
            s.shape.to_string(),
            p.dtype.name().to_string(),
            s.init.to_string(),
            p.init.resolved().to_string(),
            plan.shards[p.shard].file_name.clone(),
        ]);
    }
    print!("{}", t.render());
    println!();
    let mut f = Table::new(["file", "tensors", "size", "worker"]);
    for (i, s) in plan.shards.iter().enumerate() {
        let w = i % worker.count as usize;
        f.row([
            s.file_name.clone(),
            s.tensors.len().to_string(),
            human_bytes(s.file_len()),
            if mine.contains(&i) { format!("{w} (this one)") } else { w.to_string() },
        ]);
    }
    for (name, b) in [(INDEX_FILE, &plan.index), (CONFIG_FILE, &plan.config)] {
        if let Some(b) = b {
            f.row([name.to_string(), "-".into(), human_bytes(b.len() as u64), "every worker".into()]);
        }
    }
    print!("{}", f.render());
    Ok(())
}
