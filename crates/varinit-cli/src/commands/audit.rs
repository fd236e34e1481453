//! `varinit audit PATH [--json] [--spec FILE | --preset NAME [--set k=v] | --hf-config FILE] [--exact]`

use std::path::PathBuf;

use varinit_io::audit::{self, AuditOptions, Status};

use crate::commands::init::load_spec;
use crate::output::{CliError, CliResult, Table, num, print_json};

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
    let spec = if a.spec.is_some() || a.preset.is_some() || a.hf_config.is_some() {
        Some(load_spec(a.spec.as_deref(), a.preset.as_deref(), a.hf_config.as_deref(), &a.set, a.seed, None)?)
    } else {
        if !a.set.is_empty() {
            return Err(CliError::usage("--set needs --preset or --hf-config"));
        }
        None
    };
    let report = audit::audit(&a.path, &AuditOptions { spec: spec.as_ref(), exact: a.exact })?;
    let (pass, fail, unchecked) = report.counts();
    if a.json {
        let v = serde_json::to_value(&report).map_err(|e| CliError::failure(e.to_string()))?;
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
            if unchecked > 0 && spec.is_none() { " (no scheme in the metadata; use --spec or --preset)" } else { "" }
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
