//! `varinit audit PATH [--json] [--spec FILE | --preset NAME [--set k=v] | --hf-config FILE] [--style S] [--exact]`

use std::path::PathBuf;

use varinit_io::audit::{self, AuditOptions, Status};

use crate::commands::init::load_spec;
use crate::output::{CliError, CliResult, Table, num, print_json, progress_bar};

#[derive(clap::Args)]
pub struct Args {
    /// A .safetensors file or a checkpoint folder (with or without model.safetensors.index.json).
    pub path: PathBuf,
    /// Check against this spec file instead of the checkpoint's own metadata.
    #[arg(long, conflicts_with_all = ["preset", "hf_config"])]
    pub spec: Option<PathBuf>,
    /// Check against this preset (with --set) instead of the checkpoint's own metadata.
    #[arg(long, conflicts_with = "hf_config")]
    pub preset: Option<String>,
    /// A preset setting, as for `varinit init`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Check against the tensors of this Hugging Face config.json.
    #[arg(long)]
    pub hf_config: Option<PathBuf>,
    /// The init style, as for `varinit init` (with --preset or --hf-config).
    #[arg(long, value_name = "NAME|FILE")]
    pub style: Option<String>,
    /// The seed the checkpoint was made with, for --exact with --spec/--preset/--hf-config.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also regenerate each tensor from its seed, name and scheme and compare the bytes.
    #[arg(long)]
    pub exact: bool,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> CliResult {
    // A path that is not there is the caller's mistake (exit 2), not a failure while working.
    if let Err(e) = std::fs::metadata(&a.path)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Err(CliError::usage(format!("{}: no such file or folder", a.path.display())));
    }
    let spec = if a.spec.is_some() || a.preset.is_some() || a.hf_config.is_some() {
        Some(load_spec(
            a.spec.as_deref(),
            a.preset.as_deref(),
            a.hf_config.as_deref(),
            &a.set,
            a.style.as_deref(),
            a.seed,
            None,
        )?)
    } else {
        if !a.set.is_empty() {
            return Err(CliError::usage("--set needs --preset or --hf-config"));
        }
        if a.style.is_some() {
            return Err(CliError::usage("--style needs --preset or --hf-config"));
        }
        None
    };
    let bar = progress_bar(0, "audit", true);
    let progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let result =
        audit::audit(&a.path, &AuditOptions { spec: spec.as_ref(), exact: a.exact, progress: Some(&progress) });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = result?;
    let (pass, fail, unchecked) = report.counts();
    if a.json {
        let mut v = serde_json::to_value(&report).map_err(|e| CliError::failure(e.to_string()))?;
        stats_hold_zero_share(&mut v);
        let v = serde_json::json!({
            "passed": report.passed(),
            "counts": {"pass": pass, "fail": fail, "unchecked": unchecked},
            "report": v,
        });
        print_json(&v)?;
    } else {
        let mut t = Table::new([
            "tensor",
            "dtype",
            "shape",
            "mean",
            "std",
            "min",
            "max",
            "zeros",
            "nan/inf",
            "expected",
            "std ratio",
            "KS D",
            "verdict",
        ]);
        for r in &report.tensors {
            let s = r.stats.as_ref();
            let f = |g: fn(&varinit::stats::Summary) -> f64| s.map_or("-".to_string(), |s| num(g(s)));
            let c = r.check.as_ref();
            t.row([
                r.name.clone(),
                r.dtype.clone(),
                format!("{:?}", r.shape),
                f(|s| s.mean),
                f(|s| s.std),
                f(|s| s.min),
                f(|s| s.max),
                r.zero_share.map_or("-".into(), |z| format!("{:.2}%", z * 100.0)),
                s.map_or("-".into(), |s| format!("{}/{}", s.nan, s.inf)),
                c.map_or("-".into(), |c| c.resolved.clone()),
                c.and_then(|c| c.std_ratio).map_or("-".into(), |x| format!("{x:.4}")),
                c.and_then(|c| c.ks.as_ref()).map_or("-".into(), |k| format!("{:.5}", k.statistic)),
                match r.status {
                    Status::Pass => "ok".into(),
                    Status::Unchecked => "-".into(),
                    Status::Fail => format!("FAIL: {}", r.notes.join("; ")),
                },
            ]);
        }
        print!("{}", t.render());
        println!();
        println!(
            "{} tensors in {} file{}: {pass} pass, {fail} fail, {unchecked} unchecked{}",
            report.tensors.len(),
            report.files.len(),
            if report.files.len() == 1 { "" } else { "s" },
            if unchecked > 0 && spec.is_none() {
                " (no scheme in the metadata; use --spec, --preset or --hf-config)"
            } else {
                ""
            }
        );
        for p in &report.problems {
            println!("problem: {p}");
        }
    }
    if !report.passed() {
        let first = report
            .tensors
            .iter()
            .find(|t| t.status == Status::Fail)
            .map(|t| format!("{}: {}", t.name, t.notes.join("; ")))
            .or_else(|| report.problems.first().cloned())
            .unwrap_or_default();
        return Err(CliError::failure(format!(
            "audit failed: {fail} tensor{} failed, {} checkpoint problem{} (first: {first})",
            if fail == 1 { "" } else { "s" },
            report.problems.len(),
            if report.problems.len() == 1 { "" } else { "s" }
        )));
    }
    Ok(())
}

/// In the JSON, every statistic of a tensor sits in its `stats` object:
/// the share of zeros goes next to the count of zeros (docs/json.md).
fn stats_hold_zero_share(report: &mut serde_json::Value) {
    let Some(tensors) = report.get_mut("tensors").and_then(|t| t.as_array_mut()) else { return };
    for t in tensors {
        let Some(obj) = t.as_object_mut() else { continue };
        let share = obj.remove("zero_share");
        if let (Some(share), Some(stats)) = (share, obj.get_mut("stats").and_then(|s| s.as_object_mut())) {
            stats.insert("zero_share".into(), share);
        }
    }
}
