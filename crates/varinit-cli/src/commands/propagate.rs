//! `varinit propagate`: simulate a plain deep network and compare what it
//! measures with the mean-field prediction.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde_json::json;
use varinit::{Activation, Init, Par};
use varinit_theory::propagate::{
    Assessment, Conv, DepthScale, Inputs, Network, ResidualLayer, ResidualNetwork, ResidualRun, Run, Trend, Verdict,
    WeightInit, assess, depth_doubling_factor, simulate, simulate_residual_all, trends,
};

use crate::commands::critical::jnum;
use crate::output::{CliError, CliResult, Table, num, print_json, progress_bar};
use crate::plot::{Panel, Panels, Series, format_of, render};

#[derive(clap::Args)]
pub struct Args {
    /// Number of layers.
    #[arg(long, short = 'L', default_value_t = 50)]
    pub depth: usize,
    /// Units per layer.
    #[arg(long, short = 'n', default_value_t = 512)]
    pub width: usize,
    /// Inputs per batch.
    #[arg(long, short = 'B', default_value_t = 256)]
    pub batch: usize,
    /// Activations, comma separated or repeated (tanh, relu, leaky_relu(0.2), gelu, selu, ...).
    /// [default: tanh,relu; with --residual: relu]
    #[arg(long = "activation", short = 'a')]
    pub activations: Vec<String>,
    /// Weight schemes of the grammar, comma separated or repeated (xavier_normal, kaiming_normal,
    /// orthogonal(gain=relu), normal(std=0.05), ...), or `lsuv`.
    /// [default: xavier_normal,kaiming_normal; with --residual: kaiming_normal]
    #[arg(long = "init", short = 'i')]
    pub inits: Vec<String>,
    /// Bias scheme for every layer (e.g. `normal(std=0.1)`, `zeros`); no biases when omitted.
    #[arg(long)]
    pub bias: Option<String>,
    /// Inputs from a CSV file (optionally gzipped): one row per input, numbers separated by commas.
    /// Default: N(0, 1) inputs of dimension --width.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// With --data: the last column is a label and is dropped (`last`), or every column is an input (`none`).
    #[arg(long = "label-column", default_value = "last")]
    pub label_column: String,
    /// With --data: use the values as they are instead of standardising each column to mean 0, variance 1.
    #[arg(long)]
    pub raw: bool,
    /// Convolutional layers with KxK kernels (odd K, stride 1, circular padding) instead of dense
    /// ones; --width is then the number of channels.
    #[arg(long, value_name = "K")]
    pub conv: Option<usize>,
    /// With --conv: the image side. Default: 8, or for --data the side of a square one-channel image
    /// (64 columns: 8x8).
    #[arg(long, value_name = "S")]
    pub image: Option<usize>,
    /// Seed of every tensor (weights `layer{l}.weight`, inputs, output gradient).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print every k-th layer (default: about ten rows per network).
    #[arg(long)]
    pub every: Option<usize>,
    /// One JSON document instead of tables.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV (one row per network and layer) instead of tables.
    #[arg(long)]
    pub csv: bool,
    /// Also draw the second moments per layer to FILE.svg or FILE.png.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Pre-norm residual stacks instead of a plain network: --depth blocks x + s(l, L) W_out phi(W_in
    /// rmsnorm(x)) of --width units, both projections drawn from --init, the output projection scaled by
    /// each --branch-scale.
    #[arg(long, conflicts_with_all = ["data", "conv", "image", "bias"])]
    pub residual: bool,
    /// With --residual: the factors s(l, L) on the branches' output projections, comma separated:
    /// `none`, `1/sqrt(2L)` (GPT-2, Megatron, torchtitan without depth_init), `1/sqrt(2(l+1))`
    /// (torchtitan's depth_init, OLMo's mitchell), or any expression in l (the 0-based block) and L
    /// (the number of blocks).
    #[arg(
        long = "branch-scale",
        value_name = "EXPR",
        default_value = "none,1/sqrt(2L),1/sqrt(2(l+1))",
        requires = "residual"
    )]
    pub branch_scales: Vec<String>,
}

/// The items of a repeated list flag (`-a tanh,leaky_relu(0.2) -a relu`),
/// split by the scheme grammar ([`varinit::scheme::split_list`]: commas
/// inside parentheses or quotes do not split).
pub fn split_list(items: &[String]) -> Result<Vec<String>, varinit::Error> {
    let mut out = Vec::new();
    for s in items {
        out.extend(varinit::scheme::split_list(s)?.into_iter().map(str::to_string));
    }
    Ok(out)
}

/// Read a numeric CSV (gzipped when it starts with the gzip magic bytes).
/// A first line that is not numeric is taken as a header.
pub fn read_csv(path: &Path, drop_last: bool) -> Result<(usize, usize, Vec<f64>), CliError> {
    let raw = std::fs::read(path).map_err(|e| CliError::usage(format!("--data {}: {e}", path.display())))?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_string(&mut s)
            .map_err(|e| CliError::usage(format!("--data {}: not a readable gzip text file: {e}", path.display())))?;
        s
    } else {
        String::from_utf8(raw).map_err(|_| CliError::usage(format!("--data {}: not UTF-8 text", path.display())))?
    };
    let mut values = Vec::new();
    let mut cols = None;
    let mut rows = 0usize;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed: Result<Vec<f64>, _> = line.split(',').map(|c| c.trim().parse::<f64>()).collect();
        let mut v = match parsed {
            Ok(v) => v,
            Err(_) if i == 0 => continue, // header
            Err(_) => {
                return Err(CliError::usage(format!(
                    "--data {}: line {}: expected numbers separated by commas",
                    path.display(),
                    i + 1
                )));
            }
        };
        if let Some(bad) = v.iter().find(|x| !x.is_finite()) {
            return Err(CliError::usage(format!(
                "--data {}: line {}: {bad} is not a finite number",
                path.display(),
                i + 1
            )));
        }
        if drop_last {
            v.pop();
        }
        match cols {
            None => cols = Some(v.len()),
            Some(c) if c != v.len() => {
                return Err(CliError::usage(format!(
                    "--data {}: line {} has {} columns, earlier lines {}",
                    path.display(),
                    i + 1,
                    v.len() + usize::from(drop_last),
                    c + usize::from(drop_last)
                )));
            }
            _ => {}
        }
        values.extend(v);
        rows += 1;
    }
    let cols = cols.unwrap_or(0);
    if rows == 0 || cols == 0 {
        return Err(CliError::usage(format!("--data {}: no input columns", path.display())));
    }
    Ok((rows, cols, values))
}

/// Standardise each column to mean 0 and variance 1 (constant columns become 0).
pub fn standardize(rows: usize, cols: usize, v: &mut [f64]) {
    for j in 0..cols {
        let mean = (0..rows).map(|i| v[i * cols + j]).sum::<f64>() / rows as f64;
        let var = (0..rows).map(|i| (v[i * cols + j] - mean).powi(2)).sum::<f64>() / rows as f64;
        let s = if var > 0.0 { 1.0 / var.sqrt() } else { 0.0 };
        for i in 0..rows {
            v[i * cols + j] = (v[i * cols + j] - mean) * s;
        }
    }
}

/// Short labels: `xavier` for `xavier_normal` when that is unambiguous.
fn short_labels(inits: &[String]) -> Vec<String> {
    let short = |s: &str| -> String {
        if s.contains('(') {
            return s.to_string();
        }
        s.strip_suffix("_normal").or_else(|| s.strip_suffix("_uniform")).unwrap_or(s).to_string()
    };
    let shorts: Vec<String> = inits.iter().map(|s| short(s)).collect();
    shorts
        .iter()
        .zip(inits)
        .map(|(sh, full)| if shorts.iter().filter(|x| *x == sh).count() > 1 { full.clone() } else { sh.clone() })
        .collect()
}

/// A factor with three significant digits (`0.569`, `61.4`, `1.3e-15`).
fn factor(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return num(x);
    }
    if (1e-3..1e4).contains(&x.abs()) { varinit::number::significant(x, 3) } else { format!("{x:.1e}") }
}

/// `backward`: the values run from the last layer to the first.
fn trend_text(what: &str, t: &Trend, depth: usize, backward: bool) -> String {
    match *t {
        Trend::OutOfRange { index, overflow, per_layer } => {
            let layer = if backward { depth - index } else { index + 1 };
            let rate = if per_layer.is_finite() {
                format!(" (x{} per layer before)", factor(per_layer))
            } else {
                String::new()
            };
            if overflow {
                format!("{what}: overflow of f32 at layer {layer}{rate}")
            } else {
                format!("{what}: exactly 0 from layer {layer} on{rate}")
            }
        }
        Trend::Stable { total } => format!("{what} stable (x{} over {depth} layers)", factor(total)),
        Trend::Settles { level, total, steady } => format!(
            "{what} x{} within the first layers, then steady (x{:.3} per layer; ends at {})",
            factor(total),
            steady,
            factor(level)
        ),
        Trend::Exponential { per_layer, total } => {
            format!("{what} x{:.2} per layer (x{} after {depth} layers)", per_layer, factor(total))
        }
        Trend::Uneven { total, first, second } => format!(
            "{what} x{} over {depth} layers, not exponentially (x{:.3} per layer in the first half, x{:.3} in the second)",
            factor(total),
            first,
            second
        ),
    }
}

/// `+2.1` for a z-score.
fn sigma(z: f64) -> String {
    if z.is_finite() { format!("{z:+.1} sigma") } else { "beyond any finite-width noise".into() }
}

/// One direction's verdict, or `None` when it is stable within the noise
/// (then [`verdict`] says so once for both directions).
fn direction_text(what: &str, a: &Assessment, depth: usize, backward: bool) -> Option<String> {
    let total = a.log_total.exp();
    match a.verdict {
        Verdict::StableWithinNoise => None,
        Verdict::AsPredicted | Verdict::OutOfRange => Some(trend_text(what, &a.measured, depth, backward)),
        Verdict::BeyondNoise => {
            let text = if a.measured.is_stable() {
                format!(
                    "{what} x{} over {depth} layers (x{:.3} per layer)",
                    factor(total),
                    total.powf(1.0 / (depth.max(2) - 1) as f64)
                )
            } else {
                trend_text(what, &a.measured, depth, backward)
            };
            Some(format!(
                "{text}, beyond finite-width noise (the mean field predicts x{}; {})",
                factor((a.expected_log_total).exp()),
                sigma(a.z)
            ))
        }
    }
}

/// The verdict on one run, computed from its measurements: each direction
/// against the mean field, in units of the noise that finite width predicts.
pub fn verdict(run: &Run, label: &str) -> String {
    let depth = run.layers.len();
    let (f, b) = assess(run);
    let stable = |a: &Assessment| a.verdict == Verdict::StableWithinNoise;
    let parts: Vec<String> =
        [direction_text("forward variance", &f, depth, false), direction_text("gradients", &b, depth, true)]
            .into_iter()
            .flatten()
            .collect();
    let within = |what: &str, a: &Assessment| format!("{what} x{}, {}", factor(a.log_total.exp()), sigma(a.z));
    if parts.is_empty() {
        return format!(
            "{label}: stable within finite-width noise (forward x{} over {depth} layers, {}; gradients x{}, {})",
            factor(f.log_total.exp()),
            sigma(f.z),
            factor(b.log_total.exp()),
            sigma(b.z)
        );
    }
    let mut text = parts.join("; ");
    if stable(&f) {
        text.push_str(&format!("; forward variance stable within finite-width noise ({})", within("", &f).trim()));
    }
    if stable(&b) {
        text.push_str(&format!("; gradients stable within finite-width noise ({})", within("", &b).trim()));
    }
    format!("{label}: {text}")
}

pub fn run(mut a: Args) -> CliResult {
    if a.activations.is_empty() {
        a.activations = vec![if a.residual { "relu" } else { "tanh,relu" }.to_string()];
    }
    if a.inits.is_empty() {
        a.inits = vec![if a.residual { "kaiming_normal" } else { "xavier_normal,kaiming_normal" }.to_string()];
    }
    if a.residual {
        return run_residual(&a);
    }
    let acts: Vec<Activation> =
        split_list(&a.activations)?.iter().map(|s| s.parse()).collect::<Result<_, varinit::Error>>()?;
    let init_strs = split_list(&a.inits)?;
    let inits: Vec<WeightInit> = init_strs
        .iter()
        .map(|s| {
            if s.eq_ignore_ascii_case("lsuv") {
                Ok(WeightInit::LSUV)
            } else {
                s.parse::<Init>().map(WeightInit::Scheme)
            }
        })
        .collect::<Result<_, varinit::Error>>()?;
    if acts.is_empty() || inits.is_empty() {
        return Err(CliError::usage("--activation and --init need at least one value each"));
    }
    let bias: Option<Init> = a.bias.as_deref().map(str::parse).transpose()?;
    if let Some(p) = &a.plot {
        format_of(p)?;
    }
    if a.every == Some(0) {
        return Err(CliError::usage("--every 0: must be at least 1"));
    }
    let drop_last = match a.label_column.as_str() {
        "last" => true,
        "none" => false,
        other => return Err(CliError::usage(format!("--label-column {other}: use `last` or `none`"))),
    };
    let inputs = match &a.data {
        None => Inputs::Gaussian,
        Some(path) => {
            let (rows, cols, mut v) = read_csv(path, drop_last)?;
            if !a.raw {
                standardize(rows, cols, &mut v);
            }
            Inputs::Data { rows, cols, values: v.into_iter().map(|x| x as f32).collect() }
        }
    };
    let conv = match a.conv {
        None => {
            if a.image.is_some() {
                return Err(CliError::usage("--image needs --conv K"));
            }
            None
        }
        Some(kernel) => {
            let size = match (a.image, &inputs) {
                (Some(s), _) => s,
                (None, Inputs::Gaussian) => 8,
                (None, Inputs::Data { cols, .. }) => {
                    let s = (*cols as f64).sqrt().round() as usize;
                    if s * s != *cols {
                        return Err(CliError::usage(format!(
                            "--conv: the data has {cols} columns, not a square image; give the side with --image S"
                        )));
                    }
                    s
                }
            };
            if kernel == 0 || size == 0 {
                return Err(CliError::usage("--conv and --image must be at least 1"));
            }
            Some(Conv { kernel, size })
        }
    };
    let net =
        Network { width: a.width, depth: a.depth, batch: a.batch, bias: bias.clone(), seed: a.seed, inputs, conv };
    net.validate()?;
    let pairs: Vec<(Activation, WeightInit)> =
        inits.iter().flat_map(|i| acts.iter().map(move |&x| (x, i.clone()))).collect();
    let labels_init = short_labels(&init_strs);
    let labels: Vec<String> = labels_init.iter().flat_map(|i| acts.iter().map(move |x| format!("{i}+{x}"))).collect();
    let start = Instant::now();
    // what simulate_all(.., Par::Rayon) does, one run per pair, with a progress bar
    let bar = progress_bar(pairs.len() as u64, "propagate", false);
    let runs = pairs
        .par_iter()
        .map(|(act, init)| {
            let r = simulate(&net, *act, init);
            if let Some(b) = &bar {
                b.inc(1);
            }
            r
        })
        .collect::<Result<Vec<_>, varinit::Error>>();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let runs = runs?;
    let elapsed = start.elapsed().as_secs_f64();
    let verdicts: Vec<String> = runs.iter().zip(&labels).map(|(r, l)| verdict(r, l)).collect();

    if let Some(path) = &a.plot {
        let inputs = match &a.data {
            None => "inputs N(0, 1)".to_string(),
            Some(p) => {
                format!("inputs: {}", p.file_name().map_or(p.display().to_string(), |f| f.to_string_lossy().into()))
            }
        };
        plot(path, &net, &inputs, &runs, &labels)?;
    }
    let input_text = match (&a.data, a.raw) {
        (None, _) => match conv {
            None => format!("{} inputs ~ N(0, 1) of dimension {}", a.batch, a.width),
            Some(c) => format!("{} images ~ N(0, 1) of {} channels", a.batch, a.width) + &format!(" x {0}x{0}", c.size),
        },
        (Some(p), raw) => {
            format!("the first {} rows of {}{}", a.batch, p.display(), if raw { "" } else { " (columns standardised)" })
        }
    };
    if a.json {
        let runs_json: Vec<_> = runs
            .iter()
            .zip(&labels)
            .zip(&verdicts)
            .map(|((r, l), v)| {
                let (f, b) = trends(r);
                let (af, ab) = assess(r);
                let judged = |a: &Assessment| json!({"verdict": a.verdict, "log_total": jnum(a.log_total),
                    "expected_log_total": jnum(a.expected_log_total), "noise_sd": jnum(a.noise), "z": jnum(a.z)});
                json!({"label": l, "activation": r.activation, "init": r.init,
                       "input_second_moment": r.input_second_moment,
                       "forward": f, "backward": b, "verdict": v,
                       "forward_assessment": judged(&af), "backward_assessment": judged(&ab),
                       "layers": r.layers.iter().map(|s| json!({
                           "layer": s.layer, "fan_in": s.fan_in, "sigma_w2": jnum(s.sigma_w2), "sigma_b2": jnum(s.sigma_b2),
                           "second_moment": jnum(s.second_moment), "predicted_second_moment": jnum(s.predicted_second_moment),
                           "variance": jnum(s.variance), "dead": s.dead, "saturated": s.saturated,
                           "grad_second_moment": jnum(s.grad_second_moment),
                           "predicted_grad_second_moment": jnum(s.predicted_grad_second_moment),
                           "weight_grad_second_moment": jnum(s.weight_grad_second_moment),
                           "predicted_weight_grad_second_moment": jnum(s.predicted_weight_grad_second_moment),
                           "lsuv_iterations": s.lsuv_iterations,
                       })).collect::<Vec<_>>()})
            })
            .collect();
        return print_json(&json!({
            "network": {"depth": a.depth, "width": a.width, "batch": a.batch, "seed": a.seed,
                        "bias": a.bias, "inputs": input_text},
            "runs": runs_json,
            "seconds": elapsed,
            "plot": a.plot.as_ref().map(|p| p.display().to_string()),
        }));
    }
    if a.csv {
        let mut s = String::from(
            "label,activation,init,layer,fan_in,sigma_w2,sigma_b2,second_moment,predicted_second_moment,variance,\
             dead,saturated,grad_second_moment,predicted_grad_second_moment,weight_grad_second_moment,\
             predicted_weight_grad_second_moment,lsuv_iterations\n",
        );
        for (r, l) in runs.iter().zip(&labels) {
            for x in &r.layers {
                let _ = writeln!(
                    s,
                    "{l},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&r.activation),
                    csv_field(&r.init),
                    x.layer,
                    x.fan_in,
                    x.sigma_w2,
                    x.sigma_b2,
                    x.second_moment,
                    x.predicted_second_moment,
                    x.variance,
                    x.dead,
                    x.saturated.map_or(String::new(), |v| v.to_string()),
                    x.grad_second_moment,
                    x.predicted_grad_second_moment,
                    x.weight_grad_second_moment,
                    x.predicted_weight_grad_second_moment,
                    x.lsuv_iterations.map_or(String::new(), |v| v.to_string())
                );
            }
        }
        print!("{s}");
        return Ok(());
    }
    let every = a.every.unwrap_or((a.depth / 10).max(1));
    let layers_text = match conv {
        None => format!("{} fully connected layers of {} units", a.depth, a.width),
        Some(c) => format!(
            "{} convolutional layers of {} channels ({k}x{k} kernels, {s}x{s} images, circular padding)",
            a.depth,
            a.width,
            k = c.kernel,
            s = c.size
        ),
    };
    println!(
        "Plain network: {layers_text}, {}, {}, seed {}.",
        input_text,
        match &a.bias {
            Some(b) => format!("biases {b}"),
            None => "no biases".into(),
        },
        a.seed
    );
    println!(
        "Forward: E[h^2], the second moment of each layer's pre-activations h, and their variance across the batch."
    );
    println!("Backward: E[dh^2], the second moment of the gradient dL/dh from a random output gradient, and of dL/dW.");
    println!("'theory' columns: the mean-field prediction from the same weight variances. Measured in {elapsed:.2} s.");
    for (r, l) in runs.iter().zip(&labels) {
        let sw2: Vec<f64> = r.layers.iter().skip(1).map(|x| x.sigma_w2).collect();
        let sw2_text = if sw2.windows(2).all(|w| (w[0] - w[1]).abs() <= 1e-9 * w[0].abs()) && !sw2.is_empty() {
            format!("sigma_w^2 = fan_in Var[W] = {}", num(sw2[0]))
        } else if r.layers.len() == 1 {
            format!("sigma_w^2 = {}", num(r.layers[0].sigma_w2))
        } else {
            "sigma_w^2 varies per layer".into()
        };
        println!();
        println!("== {l}   ({} + {}; {sw2_text})", r.init, r.activation);
        let sat = r.layers.iter().any(|x| x.saturated.is_some());
        let lsuv = r.layers.iter().any(|x| x.lsuv_iterations.is_some());
        let mut head = vec!["layer", "E[h^2]", "theory", "Var(h)", "dead %"];
        if sat {
            head.push("sat %");
        }
        head.extend(["E[dh^2]", "theory", "E[dW^2]", "theory"]);
        if lsuv {
            head.push("lsuv it");
        }
        let mut t = Table::new(head);
        for x in &r.layers {
            if x.layer != 1 && x.layer % every != 0 && x.layer != r.layers.len() {
                continue;
            }
            let mut row = vec![
                x.layer.to_string(),
                num(x.second_moment),
                num(x.predicted_second_moment),
                num(x.variance),
                num((x.dead * 1000.0).round() / 10.0),
            ];
            if sat {
                row.push(x.saturated.map_or("-".into(), |s| num((s * 1000.0).round() / 10.0)));
            }
            row.extend([
                num(x.grad_second_moment),
                num(x.predicted_grad_second_moment),
                num(x.weight_grad_second_moment),
                num(x.predicted_weight_grad_second_moment),
            ]);
            if lsuv {
                row.push(x.lsuv_iterations.map_or("-".into(), |v| v.to_string()));
            }
            t.row(row);
        }
        print!("{}", t.render());
        if lsuv {
            let its: Vec<u32> = r.layers.iter().filter_map(|x| x.lsuv_iterations).collect();
            let total: u32 = its.iter().sum();
            println!(
                "LSUV: {total} rescalings over {} layers (at most {} in one layer; tolerance 0.1, limit 10)",
                its.len(),
                its.iter().max().copied().unwrap_or(0)
            );
        }
    }
    println!();
    println!("Verdict (from this run):");
    for v in &verdicts {
        println!("  {v}");
    }
    if let Some(p) = &a.plot {
        println!("plot written to {}", p.display());
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains(',') || s.contains('"') { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn plot(path: &Path, net: &Network, inputs: &str, runs: &[Run], labels: &[String]) -> Result<(), CliError> {
    let mut fwd = Vec::new();
    let mut bwd = Vec::new();
    for (k, (r, l)) in runs.iter().zip(labels).enumerate() {
        let pts = |f: &dyn Fn(&varinit_theory::propagate::LayerStats) -> f64| -> Vec<(f64, f64)> {
            r.layers.iter().map(|x| (x.layer as f64, f(x))).collect()
        };
        fwd.push(Series { label: Some(l.clone()), color: k, dashed: false, points: pts(&|x| x.second_moment) });
        fwd.push(Series { label: None, color: k, dashed: true, points: pts(&|x| x.predicted_second_moment) });
        bwd.push(Series { label: Some(l.clone()), color: k, dashed: false, points: pts(&|x| x.grad_second_moment) });
        bwd.push(Series { label: None, color: k, dashed: true, points: pts(&|x| x.predicted_grad_second_moment) });
    }
    let theory = Series { label: Some("mean field (dashed)".into()), color: 6, dashed: true, points: Vec::new() };
    fwd.push(theory.clone());
    bwd.push(theory);
    let fig = Panels {
        title: format!(
            "Signal through {} {} layers of {} {}, batch {}, {inputs}: measured (solid) vs mean field (dashed)",
            net.depth,
            if net.conv.is_some() { "conv" } else { "dense" },
            net.width,
            if net.conv.is_some() { "channels" } else { "units" },
            net.batch
        ),
        panels: vec![
            Panel {
                caption: "forward: pre-activations".into(),
                x_label: "layer".into(),
                y_label: "E[h²]  (log scale)".into(),
                series: fwd,
            },
            Panel {
                caption: "backward: gradient dL/dh".into(),
                x_label: "layer".into(),
                y_label: "E[(dL/dh)²]  (log scale)".into(),
                series: bwd,
            },
        ],
    };
    render(path, (1400, 620), &fig)
}

/// `varinit propagate --residual`.
fn run_residual(a: &Args) -> CliResult {
    let acts: Vec<Activation> =
        split_list(&a.activations)?.iter().map(|s| s.parse()).collect::<Result<_, varinit::Error>>()?;
    let init_strs = split_list(&a.inits)?;
    if init_strs.iter().any(|s| s.eq_ignore_ascii_case("lsuv")) {
        return Err(CliError::usage("--residual: lsuv is for plain networks; use a scheme of the grammar"));
    }
    let inits: Vec<Init> = init_strs.iter().map(|s| s.parse()).collect::<Result<_, varinit::Error>>()?;
    let scales: Vec<DepthScale> =
        split_list(&a.branch_scales)?.iter().map(|s| s.parse()).collect::<Result<_, varinit::Error>>()?;
    if acts.is_empty() || inits.is_empty() || scales.is_empty() {
        return Err(CliError::usage("--activation, --init and --branch-scale need at least one value each"));
    }
    for s in &scales {
        s.validate(a.depth)?;
    }
    if let Some(p) = &a.plot {
        format_of(p)?;
    }
    if a.every == Some(0) {
        return Err(CliError::usage("--every 0: must be at least 1"));
    }
    let net = ResidualNetwork { width: a.width, depth: a.depth, batch: a.batch, seed: a.seed };
    let labels_init = short_labels(&init_strs);
    let mut triples = Vec::new();
    let mut labels = Vec::new();
    for (i, li) in inits.iter().zip(&labels_init) {
        for &x in &acts {
            for s in &scales {
                triples.push((x, i.clone(), s.clone()));
                labels.push(format!("{li}+{x}, s = {}", s.label()));
            }
        }
    }
    let start = Instant::now();
    let runs = simulate_residual_all(&net, &triples, Par::Rayon)?;
    let elapsed = start.elapsed().as_secs_f64();
    let verdicts: Vec<String> = runs
        .iter()
        .zip(&triples)
        .zip(&labels)
        .map(|((r, (act, _, s)), l)| residual_verdict(r, *act, s, a.width, l))
        .collect();
    if let Some(p) = &a.plot {
        residual_plot(p, &net, &runs, &labels)?;
    }
    if a.json {
        let runs_json: Vec<_> = runs
            .iter()
            .zip(&labels)
            .zip(&verdicts)
            .map(|((r, l), v)| {
                json!({"label": l, "activation": r.activation, "init": r.init, "branch_scale": r.scale,
                       "input_second_moment": r.input_second_moment,
                       "output_grad_second_moment": r.output_grad_second_moment,
                       "sigma_in2": r.sigma_in2, "sigma_out2": r.sigma_out2, "verdict": v,
                       "blocks": r.layers.iter().map(|x| json!({
                           "block": x.block, "scale": jnum(x.scale),
                           "stream": jnum(x.stream), "predicted_stream": jnum(x.predicted_stream),
                           "branch": jnum(x.branch), "predicted_branch": jnum(x.predicted_branch),
                           "grad": jnum(x.grad), "predicted_grad": jnum(x.predicted_grad),
                       })).collect::<Vec<_>>()})
            })
            .collect();
        return print_json(&json!({
            "network": {"residual": true, "blocks": a.depth, "width": a.width, "batch": a.batch, "seed": a.seed,
                        "inputs": format!("{} inputs ~ N(0, 1) of dimension {}", a.batch, a.width)},
            "runs": runs_json,
            "seconds": elapsed,
            "plot": a.plot.as_ref().map(|p| p.display().to_string()),
        }));
    }
    if a.csv {
        let mut s = String::from(
            "label,activation,init,branch_scale,block,scale,stream,predicted_stream,branch,predicted_branch,grad,predicted_grad\n",
        );
        for (r, l) in runs.iter().zip(&labels) {
            for x in &r.layers {
                let _ = writeln!(
                    s,
                    "{},{},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(l),
                    csv_field(&r.activation),
                    csv_field(&r.init),
                    csv_field(&r.scale),
                    x.block,
                    x.scale,
                    x.stream,
                    x.predicted_stream,
                    x.branch,
                    x.predicted_branch,
                    x.grad,
                    x.predicted_grad
                );
            }
        }
        print!("{s}");
        return Ok(());
    }
    let every = a.every.unwrap_or((a.depth / 10).max(1));
    println!(
        "Pre-norm residual stacks: {} blocks x_l = x_(l-1) + s(l-1, L) W_out phi(W_in rmsnorm(x_(l-1))) of {} units, \
         {} inputs ~ N(0, 1), no biases, seed {}.",
        a.depth, a.width, a.batch, a.seed
    );
    println!(
        "Stream: E[x^2] after each block; branch: E[y^2] of its output; gradient: E[(dL/dx)^2] at the block's input."
    );
    println!(
        "'theory' columns: variances add, V_l = V_(l-1) + s^2 sigma_out^2 E[phi(sqrt(sigma_in^2) z)^2]. Measured in {elapsed:.2} s."
    );
    for (r, l) in runs.iter().zip(&labels) {
        println!();
        println!("== {l}   (sigma_in^2 = {}, sigma_out^2 = {} before the scale)", num(r.sigma_in2), num(r.sigma_out2));
        let mut t = Table::new(vec!["block", "s", "E[x^2]", "theory", "E[y^2]", "theory", "E[dx^2]", "theory"]);
        for x in &r.layers {
            if x.block != 1 && x.block % every != 0 && x.block != r.layers.len() {
                continue;
            }
            t.row(vec![
                x.block.to_string(),
                factor(x.scale),
                num(x.stream),
                num(x.predicted_stream),
                num(x.branch),
                num(x.predicted_branch),
                num(x.grad),
                num(x.predicted_grad),
            ]);
        }
        print!("{}", t.render());
    }
    println!();
    println!("Verdict (from this run):");
    for v in &verdicts {
        println!("  {v}");
    }
    if let Some(p) = &a.plot {
        println!("plot written to {}", p.display());
    }
    Ok(())
}

/// How the stream grew, next to the mean field, and how that growth depends on depth.
fn residual_verdict(r: &ResidualRun, act: Activation, scale: &DepthScale, width: usize, label: &str) -> String {
    let depth = r.layers.len();
    let last = &r.layers[depth - 1];
    let v0 = r.input_second_moment;
    let k = depth_doubling_factor(act, width, scale, depth, r.sigma_in2, r.sigma_out2, v0);
    let shape = if k >= 1.9 {
        "linear in depth".to_string()
    } else if k <= 1.05 {
        "bounded in depth".to_string()
    } else {
        format!("sublinear in depth (x{k:.2} when the depth doubles)")
    };
    let added = last.stream - v0;
    let predicted_added = last.predicted_stream - v0;
    format!(
        "{label}: stream E[x^2] {} -> {} after {depth} blocks (theory {}; added {} vs {}, {:+.1}%): {shape}; \
         gradient at the input x{} of the output's (theory x{})",
        factor(v0),
        factor(last.stream),
        factor(last.predicted_stream),
        factor(added),
        factor(predicted_added),
        100.0 * (added / predicted_added - 1.0),
        factor(r.layers[0].grad / r.output_grad_second_moment),
        factor(r.layers[0].predicted_grad / r.output_grad_second_moment),
    )
}

fn residual_plot(path: &Path, net: &ResidualNetwork, runs: &[ResidualRun], labels: &[String]) -> Result<(), CliError> {
    let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
    for (k, (r, l)) in runs.iter().zip(labels).enumerate() {
        let pts = |f: &dyn Fn(&ResidualLayer) -> f64| -> Vec<(f64, f64)> {
            r.layers.iter().map(|x| (x.block as f64, f(x))).collect()
        };
        fwd.push(Series { label: Some(l.clone()), color: k, dashed: false, points: pts(&|x| x.stream) });
        fwd.push(Series { label: None, color: k, dashed: true, points: pts(&|x| x.predicted_stream) });
        bwd.push(Series { label: Some(l.clone()), color: k, dashed: false, points: pts(&|x| x.grad) });
        bwd.push(Series { label: None, color: k, dashed: true, points: pts(&|x| x.predicted_grad) });
    }
    let theory = Series { label: Some("theory (dashed)".into()), color: 6, dashed: true, points: Vec::new() };
    fwd.push(theory.clone());
    bwd.push(theory);
    let fig = Panels {
        title: format!(
            "Pre-norm residual stack, {} blocks of {} units, batch {}: measured (solid) vs theory (dashed)",
            net.depth, net.width, net.batch
        ),
        panels: vec![
            Panel {
                caption: "forward: residual stream".into(),
                x_label: "block".into(),
                y_label: "E[x²]  (log scale)".into(),
                series: fwd,
            },
            Panel {
                caption: "backward: gradient at the block's input".into(),
                x_label: "block".into(),
                y_label: "E[(dL/dx)²]  (log scale)".into(),
                series: bwd,
            },
        ],
    };
    render(path, (1400, 620), &fig)
}
