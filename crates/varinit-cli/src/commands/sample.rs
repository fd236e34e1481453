//! `varinit sample SCHEME --shape S [--seed] [--name] [--dtype] [--layout] [--out FILE]`

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;
use varinit::provenance::Provenance;
use varinit::stats::{Summary, ks_p_value, ks_statistic_rounded, rounding_cell_for};
use varinit::{DType, Element, Fans, Init, Layout, Par, ResolveOptions, Shape, TensorInit};
use varinit_io::atomic::AtomicFile;

use crate::output::{CliError, CliResult, check_output_file, num, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// The scheme, e.g. `kaiming_normal(mode=fan_out)`, `trunc_normal(std=0.02)`, `orthogonal(gain=relu)`
    /// (`varinit schemes` lists them all).
    pub scheme: String,
    /// The tensor's shape, outermost first: `256x512`, `64x3x7x7`, `[]` for a scalar.
    #[arg(long)]
    pub shape: String,
    /// The seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The tensor's name (values are keyed by seed and name).
    #[arg(long, default_value = "weight")]
    pub name: String,
    /// Output dtype: f32, f64, f16, bf16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Weight layout for fans and flattening: torch (out, in, *k), keras or jax (*k, in, out).
    #[arg(long, default_value = "torch")]
    pub layout: String,
    /// The weight belongs to a transposed convolution (swap fan_in and fan_out roles).
    #[arg(long)]
    pub transposed: bool,
    /// Write the tensor to FILE.npy (numpy) or FILE.safetensors.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Largest sample the Kolmogorov-Smirnov statistic is computed on.
const KS_MAX: usize = 1 << 20;
/// Elements generated per piece (bounded memory for any shape).
const PIECE: u64 = 1 << 22;

enum Format {
    Npy,
    Safetensors,
}

pub fn run(a: Args) -> CliResult {
    let init: Init = a.scheme.parse()?;
    let shape: Shape = a.shape.parse()?;
    let dtype: DType = a.dtype.parse()?;
    let layout: Layout = a.layout.parse()?;
    let opts = ResolveOptions { layout, transposed: a.transposed };
    let tensor = TensorInit::new(a.seed, &a.name, &init, shape.clone(), opts)?;
    let format = match &a.out {
        None => None,
        Some(p) => match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("npy") => Some(Format::Npy),
            Some("safetensors") => Some(Format::Safetensors),
            _ => {
                return Err(CliError::usage(format!(
                    "--out {}: the file name must end in .npy or .safetensors",
                    p.display()
                )));
            }
        },
    };
    if let Some(p) = &a.out {
        check_output_file("--out", p)?;
    }
    // Everything that can be refused is checked before a byte is written,
    // including what the dtype can represent (the rule `init` applies too).
    tensor.check_dtype(dtype)?;
    let header = match format {
        None => None,
        Some(Format::Npy) => Some(varinit_io::npy::header(dtype, shape.dims())?),
        Some(Format::Safetensors) => {
            let meta = varinit_io_metadata(&tensor, dtype, opts);
            let entry = varinit_io::safetensors::Entry { name: a.name.clone(), dtype, shape: shape.dims().to_vec() };
            Some(varinit_io::safetensors::header(&[entry], &meta)?)
        }
    };
    // SIGINT, SIGTERM and SIGHUP while writing: stop, remove the temporary, exit 130.
    let cancel = match &a.out {
        Some(_) => Some(crate::interrupt::install()?),
        None => None,
    };
    let cancel = cancel.as_deref();
    let mut file = match (&a.out, &header) {
        (Some(p), Some(h)) => {
            let mut f = AtomicFile::create(p)?;
            f.write_all(h)?;
            Some(f)
        }
        _ => None,
    };
    let (summary, mut ks_sample) = match dtype {
        DType::F32 => draw::<f32>(&tensor, file.as_mut(), cancel)?,
        DType::F64 => draw::<f64>(&tensor, file.as_mut(), cancel)?,
        DType::F16 => draw::<varinit::dtype::F16>(&tensor, file.as_mut(), cancel)?,
        DType::BF16 => draw::<varinit::dtype::BF16>(&tensor, file.as_mut(), cancel)?,
    };
    if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
        return Err(CliError { code: 130, message: "interrupted; removed the unfinished file".into() });
    }
    let written = match file {
        Some(f) => Some(f.commit()?),
        None => None,
    };
    let r = tensor.resolved();
    let (exp_mean, exp_std) = r.expected_moments(&shape);
    let ks = if ks_sample.is_empty() {
        None
    } else {
        let n = ks_sample.len();
        r.cdf(0.0).map(|_| {
            let cdf = |x| r.cdf(x).unwrap_or(f64::NAN);
            // f16/bf16 values stand for the cell of reals that round to them
            let d = ks_statistic_rounded(&mut ks_sample, cdf, |x| rounding_cell_for(dtype, x));
            (d, ks_p_value(d, n), n)
        })
    };
    let fans = Fans::of(&shape, layout, a.transposed).ok();
    if a.json {
        return print_json(&json!({
            "scheme": init.to_string(),
            "name": a.name,
            "seed": a.seed,
            "key": format!("{:#018x}", tensor.key().0),
            "stream_version": varinit::STREAM_VERSION,
            "shape": shape.dims(),
            "numel": shape.numel(),
            "dtype": dtype.name(),
            "layout": layout.name(),
            "transposed": a.transposed,
            "fans": fans,
            "resolved": r.to_string(),
            "distribution": r,
            "expected": {"mean": finite(exp_mean), "std": finite(exp_std), "support": r.support()},
            "sample": summary,
            "ks": ks.map(|(d, p, n)| json!({"statistic": d, "p_value": p, "n": n})),
            "out": written.as_ref().map(|p| p.display().to_string()),
        }));
    }
    println!("scheme     {init}");
    println!("shape      {shape} ({} elements), layout {layout}, dtype {dtype}", shape.numel());
    if let Some(f) = fans {
        println!("fans       fan_in {}, fan_out {}, receptive field {}", f.fan_in, f.fan_out, f.receptive_field);
    }
    println!("resolved   {r}");
    println!(
        "stream     seed {}, name {:?}, key {:#018x}, stream v{}",
        a.seed,
        a.name,
        tensor.key().0,
        varinit::STREAM_VERSION
    );
    println!();
    println!("           {:>12} {:>12} {:>12} {:>12}", "mean", "std", "min", "max");
    println!(
        "sample     {:>12} {:>12} {:>12} {:>12}",
        num(summary.mean),
        num(summary.std),
        num(summary.min),
        num(summary.max)
    );
    let (lo, hi) = r.support().map_or(("-".to_string(), "-".to_string()), |(l, h)| (num(l), num(h)));
    println!("expected   {:>12} {:>12} {:>12} {:>12}", num(exp_mean), num(exp_std), lo, hi);
    if summary.zeros > 0 || summary.nan > 0 || summary.inf > 0 {
        println!("zeros {}, NaN {}, Inf {}", summary.zeros, summary.nan, summary.inf);
    }
    if let Some((d, p, n)) = ks {
        println!("KS         D = {} on {n} values, p = {}", num(d), num(p));
    }
    if let Some(p) = written {
        println!("written    {}", p.display());
    }
    Ok(())
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// The file's provenance: enough to regenerate the tensor and to audit it
/// with the layout it was drawn for.
fn varinit_io_metadata(
    t: &TensorInit,
    dtype: DType,
    opts: ResolveOptions,
) -> std::collections::BTreeMap<String, String> {
    // PyTorch's layout is the default a reader assumes; it is not written, so
    // files of that layout keep the bytes earlier versions wrote.
    let layout = (opts.layout != Layout::Torch).then_some(opts.layout);
    let mut p = Provenance::new(t.seed(), layout);
    p.transposed = opts.transposed;
    p.dtype = Some(dtype);
    p.set_scheme(t.name(), t.init());
    p.to_metadata()
}

/// Generate the tensor piece by piece: statistics, the first values for the
/// KS test, and the bytes to the file if there is one.
fn draw<T: Element>(
    t: &TensorInit,
    mut file: Option<&mut AtomicFile>,
    cancel: Option<&AtomicBool>,
) -> Result<(Summary, Vec<f64>), CliError> {
    let numel = t.numel();
    let mut buf = vec![T::default(); PIECE.min(numel) as usize];
    let mut bytes = Vec::new();
    let mut summary = Summary::default().finish();
    let mut ks = Vec::new();
    let mut start = 0;
    while start < numel {
        if cancel.is_some_and(|c| c.load(Ordering::SeqCst)) {
            return Err(CliError { code: 130, message: "interrupted; removed the unfinished file".into() });
        }
        let n = PIECE.min(numel - start) as usize;
        let piece = &mut buf[..n];
        t.fill_range(start, piece, Par::Rayon)?;
        summary = summary.merge(&Summary::of(piece));
        if ks.len() < KS_MAX {
            ks.extend(piece.iter().take(KS_MAX - ks.len()).map(|x| x.to_f64()));
        }
        if let Some(f) = file.as_deref_mut() {
            let size = T::DTYPE.size();
            bytes.resize(n * size, 0);
            for (x, b) in piece.iter().zip(bytes.chunks_exact_mut(size)) {
                x.write_le(b);
            }
            f.write_all(&bytes)?;
        }
        start += n as u64;
    }
    Ok((summary, ks))
}
