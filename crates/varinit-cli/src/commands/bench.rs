//! `varinit bench [--elements N] [--threads T] [--repeats R] [--json]`
//!
//! How fast the kernels are on this machine, against the memory ceiling:
//! in one process and on one buffer, a plain constant fill and each
//! element-wise kernel are timed in turn, interleaved, `R` times; the
//! median of each is reported, with its rate relative to the fill's. Then
//! orthogonal initialisation of 1024x1024 and 4096x4096 f32 matrices.
//!
//! The buffer is written the way a checkpoint writer writes it: in place,
//! through [`TensorInit::fill_bytes`], in parallel over the rayon pool.

use std::time::Instant;

use rayon::prelude::*;
use serde_json::json;
use varinit::kernels::SimdPath;
use varinit::{DType, Init, Layout, Par, Shape, TensorInit};

use crate::output::{CliError, CliResult, Table, num, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// Elements per fill (the buffer holds this many f32s).
    #[arg(long, default_value_t = 1 << 28)]
    pub elements: u64,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Times each measurement is repeated (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub repeats: usize,
    /// Skip the orthogonal matrices.
    #[arg(long)]
    pub no_orthogonal: bool,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The element-wise cases: label, scheme, output dtype. The truncated
/// normal is PyTorch's `trunc_normal_(std=0.02)` (bounds +-2 absolute).
const CASES: &[(&str, &str, DType)] = &[
    ("uniform", "uniform(0, 1)", DType::F32),
    ("normal", "normal(0, 1)", DType::F32),
    ("trunc_normal", "trunc_normal(std=0.02)", DType::F32),
    ("uniform", "uniform(0, 1)", DType::BF16),
    ("normal", "normal(0, 1)", DType::BF16),
    ("trunc_normal", "trunc_normal(std=0.02)", DType::BF16),
];

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

fn load_average() -> Option<String> {
    let s = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn timed(f: impl FnOnce() -> varinit::Result<()>) -> Result<f64, CliError> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed().as_secs_f64())
}

pub fn run(a: Args) -> CliResult {
    if a.elements == 0 {
        return Err(CliError::usage("--elements must be at least 1"));
    }
    if a.repeats == 0 {
        return Err(CliError::usage("--repeats must be at least 1"));
    }
    if a.threads == Some(0) {
        return Err(CliError::usage("--threads must be at least 1"));
    }
    let bytes = usize::try_from(a.elements)
        .ok()
        .and_then(|n| n.checked_mul(4))
        .ok_or_else(|| CliError::usage(format!("--elements {} does not fit in memory", a.elements)))?;
    let mut pool = rayon::ThreadPoolBuilder::new();
    if let Some(t) = a.threads {
        pool = pool.num_threads(t);
    }
    let pool = pool.build().map_err(|e| CliError::failure(format!("cannot start {:?} threads: {e}", a.threads)))?;
    pool.install(|| measure(&a, bytes))
}

struct Row {
    name: String,
    dtype: DType,
    seconds: f64,
}

fn measure(a: &Args, bytes: usize) -> CliResult {
    let n = a.elements;
    let threads = rayon::current_num_threads();
    let load_before = load_average();
    let mut buf = vec![0u8; bytes];
    let shape = Shape::new(vec![n])?;
    let tensors: Vec<(TensorInit, DType, &str)> = CASES
        .iter()
        .map(|&(label, scheme, dtype)| {
            let init: Init = scheme.parse()?;
            Ok((TensorInit::new(0, "bench", &init, shape.clone(), Layout::Torch.into())?, dtype, label))
        })
        .collect::<varinit::Result<_>>()?;
    // The constant fill: the cheapest parallel write of the same bytes, in
    // the same chunks the kernels use.
    let fill = |buf: &mut [u8]| {
        buf.par_chunks_mut(1 << 18).for_each(|c| c.fill(0x3f));
    };
    fill(&mut buf); // fault the pages in before timing anything
    let mut fill_times = Vec::with_capacity(a.repeats);
    let mut times = vec![Vec::with_capacity(a.repeats); tensors.len()];
    for _ in 0..a.repeats {
        fill_times.push(timed(|| {
            fill(&mut buf);
            Ok(())
        })?);
        for ((t, dtype, _), ts) in tensors.iter().zip(&mut times) {
            let out = &mut buf[..n as usize * dtype.size()];
            ts.push(timed(|| t.fill_bytes(*dtype, 0, out, Par::Rayon))?);
        }
    }
    drop(buf);
    let fill_s = median(&mut fill_times);
    let mut rows = vec![Row { name: "constant fill".into(), dtype: DType::F32, seconds: fill_s }];
    for ((_, dtype, label), ts) in tensors.iter().zip(&mut times) {
        rows.push(Row { name: (*label).into(), dtype: *dtype, seconds: median(ts) });
    }
    let mut ortho = Vec::new();
    if !a.no_orthogonal {
        for (side, reps) in [(1024u64, a.repeats.min(3)), (4096, 1)] {
            let init: Init = "orthogonal".parse()?;
            let shape = Shape::new(vec![side, side])?;
            let mut ts = Vec::new();
            for _ in 0..reps {
                // a fresh TensorInit each time: it caches the materialised matrix
                let t = TensorInit::new(0, "bench", &init, shape.clone(), Layout::Torch.into())?;
                let mut out = vec![0f32; (side * side) as usize];
                ts.push(timed(|| t.fill(&mut out, Par::Rayon))?);
            }
            ortho.push((side, median(&mut ts)));
        }
    }
    let load_after = load_average();
    let rate = |s: f64| n as f64 / s / 1e9;
    let path = SimdPath::active();
    if a.json {
        let results: Vec<_> = rows
            .iter()
            .map(|r| {
                json!({
                    "name": r.name,
                    "dtype": r.dtype.name(),
                    "seconds": r.seconds,
                    "g_elements_per_s": rate(r.seconds),
                    "g_elements_per_s_per_thread": rate(r.seconds) / threads as f64,
                    "percent_of_fill": 100.0 * fill_s / r.seconds,
                })
            })
            .collect();
        let orthogonal: Vec<_> =
            ortho.iter().map(|&(side, s)| json!({"rows": side, "cols": side, "dtype": "f32", "seconds": s})).collect();
        return print_json(&json!({
            "elements": n,
            "threads": threads,
            "repeats": a.repeats,
            "simd_path": path.name(),
            "load_average_before": load_before,
            "load_average_after": load_after,
            "results": results,
            "orthogonal": orthogonal,
        }));
    }
    println!(
        "{n} elements, {threads} threads, SIMD path {path}, median of {} runs (fill and kernels interleaved)",
        a.repeats
    );
    let mut table = Table::new(["kernel", "dtype", "ms", "G elem/s", "per thread", "% of fill"]);
    for r in &rows {
        table.row([
            r.name.clone(),
            r.dtype.name().to_string(),
            format!("{:.1}", r.seconds * 1e3),
            format!("{:.3}", rate(r.seconds)),
            format!("{:.3}", rate(r.seconds) / threads as f64),
            format!("{:.1}", 100.0 * fill_s / r.seconds),
        ]);
    }
    print!("{}", table.render());
    for (side, s) in &ortho {
        println!("orthogonal {side}x{side} f32: {} s", num(*s));
    }
    if let (Some(b), Some(e)) = (load_before, load_after) {
        println!("load average before {b}, after {e}");
    }
    Ok(())
}
