//! He et al. (2015), "Delving deep into rectifiers", section 2.2 / figure 3:
//! a deep plain ReLU network learns when initialized with Kaiming (He)
//! normal and stalls with Xavier (Glorot) normal, which halves the signal's
//! second moment at every ReLU layer; a shallower network learns with both.
//!
//! Repeated here with candle on the handwritten-digits data set (UCI
//! optical digits as shipped by scikit-learn, CC BY 4.0, see
//! `examples/data/README.md`), over a learning-rate sweep: one learning
//! rate cannot tell "the initialization fails" from "the step is too large".
//!
//! ```text
//! cargo run --release -p varinit-candle --example deep_relu [-- --out sweep.svg] [-- --fast]
//! ```
//!
//! # Protocol (fixed before the sweep's first run, not tuned afterwards)
//!
//! - Data: the 1797 8x8 digits, split by a fixed shuffle (seed 7) into 1297
//!   training and 500 test images; each of the 64 pixels standardized with
//!   the training set's mean and standard deviation (constant pixels stay 0).
//! - Networks: plain fully connected ReLU networks, 64 -> 128 -> ... -> 128
//!   -> 10 with `depth` weight layers (10 and 30), a ReLU after every layer
//!   but the last, softmax cross-entropy loss. No normalization, no skips.
//! - Initialization (varinit, keyed by layer path): every weight
//!   `kaiming_normal(nonlinearity=relu)` = N(0, 2/fan_in), or every weight
//!   `xavier_normal` = N(0, 2/(fan_in + fan_out)); biases zero (as He et
//!   al.). Three init seeds: 2015, 2016, 2017.
//! - Training: SGD with momentum 0.9 (PyTorch's form: v = 0.9 v + g,
//!   w -= lr v), mini-batches of 32, 30 epochs, no weight decay; the same
//!   mini-batch order (seed 11) for every run. Learning rates 1e-4 to 1e-2
//!   in half-decades (1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2).
//! - Reported per run: the signal at initialization (RMS of the last hidden
//!   layer's activations over the training set), the training loss of the
//!   first and last epoch, the test accuracy after the last epoch ("final")
//!   and the best over the 30 epochs ("best"; an optimistic number, since
//!   it picks the epoch on the test set). Per (depth, init, learning rate):
//!   mean and sample standard deviation over the three seeds. "Stalled"
//!   means the loss stays near ln 10 = 2.3026, the loss of a uniform guess.
//! - `--fast` (for CI) runs a reduced grid: learning rates 1e-3 and 1e-2,
//!   seed 2015 only, 3 epochs. `--seeds K` and `--epochs E` reduce the grid
//!   to the first K seeds and E epochs, for machines that cannot afford it
//!   (a reduced run must say so when it is reported).
//!
//! The measured result is in the repository README (section "candle").
//!
//! Reproducibility: everything is seeded, and each run ends with a checksum
//! of its final weights. candle's CPU matrix product (gemm) reads the thread
//! count from `RAYON_NUM_THREADS`; this example pins it to 1 unless it is
//! already set.

use std::io::Read;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor};
use candle_nn::{Linear, Module, VarMap};
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};
use varinit_candle::VarinitBackend;

const DIGITS_CSV_GZ: &[u8] = include_bytes!("data/digits.csv.gz");
/// Plots draw their text with this font (no system fonts).
const FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

const SPLIT_SEED: u64 = 7;
const SHUFFLE_SEED: u64 = 11;
const N_TEST: usize = 500;
const WIDTH: usize = 128;
const MOMENTUM: f64 = 0.9;
const BATCH: usize = 32;
const DEPTHS: [usize; 2] = [10, 30];
const SCHEMES: [(&str, &str); 2] =
    [("Kaiming normal", "kaiming_normal(nonlinearity=relu)"), ("Xavier normal", "xavier_normal")];

/// The sweep, fixed in advance.
struct Grid {
    learning_rates: Vec<f64>,
    seeds: Vec<u64>,
    epochs: usize,
}

impl Grid {
    fn full() -> Grid {
        // 1e-4 .. 1e-2 in half-decades
        let learning_rates = (0..5).map(|k| 10f64.powf(-4.0 + 0.5 * k as f64)).collect();
        Grid { learning_rates, seeds: vec![2015, 2016, 2017], epochs: 30 }
    }
    fn fast() -> Grid {
        Grid { learning_rates: vec![1e-3, 1e-2], seeds: vec![2015], epochs: 3 }
    }
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// SplitMix64: a tiny, fixed generator for the data split and batch order.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher-Yates with a (negligibly biased) modulo draw; fixed, which is all that matters here.
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

struct Data {
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
    n_train: usize,
}

fn load_digits(dev: &Device) -> Result<Data> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(DIGITS_CSV_GZ).read_to_string(&mut text)?;
    let mut rows: Vec<(Vec<f32>, u32)> = Vec::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let v: Vec<f32> = line.split(',').map(|s| s.trim().parse::<f32>()).collect::<std::result::Result<_, _>>()?;
        if v.len() != 65 {
            return Err(format!("digits.csv line {}: {} columns, expected 65", i + 1, v.len()).into());
        }
        rows.push((v[..64].to_vec(), v[64] as u32));
    }
    SplitMix64(SPLIT_SEED).shuffle(&mut rows);
    let (test, train) = rows.split_at(N_TEST);
    // standardize with the training set's statistics
    let mut mean = [0f64; 64];
    let mut sq = [0f64; 64];
    for (x, _) in train {
        for j in 0..64 {
            mean[j] += x[j] as f64;
            sq[j] += (x[j] as f64).powi(2);
        }
    }
    let n = train.len() as f64;
    let std: Vec<f64> = (0..64)
        .map(|j| {
            mean[j] /= n;
            (sq[j] / n - mean[j] * mean[j]).max(0.0).sqrt()
        })
        .collect();
    let to_tensors = |part: &[(Vec<f32>, u32)]| -> Result<(Tensor, Tensor)> {
        let mut xs = Vec::with_capacity(part.len() * 64);
        for (x, _) in part {
            xs.extend((0..64).map(|j| if std[j] > 0.0 { ((x[j] as f64 - mean[j]) / std[j]) as f32 } else { 0.0 }));
        }
        let ys: Vec<u32> = part.iter().map(|(_, y)| *y).collect();
        Ok((Tensor::from_vec(xs, (part.len(), 64), dev)?, Tensor::from_vec(ys, part.len(), dev)?))
    };
    let (x_train, y_train) = to_tensors(train)?;
    let (x_test, y_test) = to_tensors(test)?;
    Ok(Data { x_train, y_train, x_test, y_test, n_train: train.len() })
}

struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    fn new(depth: usize, vb: candle_nn::VarBuilder) -> candle_core::Result<Self> {
        let layers = (0..depth)
            .map(|i| {
                let d_in = if i == 0 { 64 } else { WIDTH };
                let d_out = if i + 1 == depth { 10 } else { WIDTH };
                candle_nn::linear(d_in, d_out, vb.pp(format!("layers.{i}")))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Mlp { layers })
    }
}

impl Mlp {
    /// The logits and the last hidden layer's activations (the input of the last layer).
    fn forward_with_hidden(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (last, hidden) = self.layers.split_last().expect("depth >= 1");
        let mut x = x.clone();
        for l in hidden {
            x = l.forward(&x)?.relu()?;
        }
        Ok((last.forward(&x)?, x))
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        Ok(self.forward_with_hidden(x)?.0)
    }
}

fn rms(t: &Tensor) -> candle_core::Result<f64> {
    Ok((t.sqr()?.mean_all()?.to_scalar::<f32>()? as f64).sqrt())
}

/// The signal at initialization, which explains what follows: the RMS of the
/// last hidden layer's activations over the whole training set.
struct Signal {
    hidden_rms: f64,
}

fn signal_at_init(model: &Mlp, data: &Data) -> candle_core::Result<Signal> {
    let (_, hidden) = model.forward_with_hidden(&data.x_train)?;
    Ok(Signal { hidden_rms: rms(&hidden)? })
}

/// SGD with momentum, PyTorch's form: v = momentum v + g; w -= lr v.
struct Sgd {
    vars: Vec<candle_core::Var>,
    velocity: Vec<Option<Tensor>>,
    lr: f64,
}

impl Sgd {
    fn new(varmap: &VarMap, lr: f64) -> Self {
        let map = varmap.data().lock().expect("no other thread holds the VarMap");
        let mut named: Vec<(String, candle_core::Var)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0)); // a fixed order (the map's is random)
        let vars: Vec<_> = named.into_iter().map(|(_, v)| v).collect();
        let velocity = vec![None; vars.len()];
        Sgd { vars, velocity, lr }
    }

    fn step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        let grads = loss.backward()?;
        for (var, vel) in self.vars.iter().zip(self.velocity.iter_mut()) {
            let Some(g) = grads.get(var) else { continue };
            let v = match vel.take() {
                Some(v) => ((v * MOMENTUM)? + g)?,
                None => g.clone(),
            };
            var.set(&(var.as_tensor() - (&v * self.lr)?)?)?;
            *vel = Some(v);
        }
        Ok(())
    }
}

/// One training run's summary.
struct Run {
    depth: usize,
    scheme: usize,
    lr: f64,
    hidden_rms: f64,
    first_loss: f64,
    final_loss: f64,
    final_acc: f64,
    best_acc: f64,
    checksum: u64,
    seconds: f64,
}

fn evaluate(model: &Mlp, x: &Tensor, y: &Tensor) -> candle_core::Result<(f64, f64)> {
    let logits = model.forward(x)?;
    let loss = candle_nn::loss::cross_entropy(&logits, y)?.to_scalar::<f32>()? as f64;
    let pred = logits.argmax(D::Minus1)?;
    let correct = pred.eq(y)?.to_dtype(DType::F32)?.sum_all()?.to_scalar::<f32>()? as f64;
    Ok((loss, correct / y.dims()[0] as f64))
}

/// FNV-1a over the final weights' bits, in path order.
fn checksum(varmap: &VarMap) -> candle_core::Result<u64> {
    let map = varmap.data().lock().expect("no other thread holds the VarMap");
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for n in names {
        for x in map[n].as_tensor().flatten_all()?.to_vec1::<f32>()? {
            for b in x.to_bits().to_le_bytes() {
                h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
    }
    Ok(h)
}

#[allow(clippy::too_many_arguments)]
fn train(data: &Data, depth: usize, scheme: usize, lr: f64, seed: u64, epochs: usize, dev: &Device) -> Result<Run> {
    let start = Instant::now();
    let varmap = VarMap::new();
    let backend =
        VarinitBackend::new(seed).rule("*.weight", SCHEMES[scheme].1)?.rule("*.bias", "zeros")?.trainable(&varmap);
    let model = Mlp::new(depth, backend.into_var_builder(DType::F32, dev))?;
    let signal = signal_at_init(&model, data)?;
    let mut sgd = Sgd::new(&varmap, lr);
    let mut order: Vec<u32> = (0..data.n_train as u32).collect();
    let mut rng = SplitMix64(SHUFFLE_SEED);
    let (mut first_loss, mut final_loss, mut final_acc, mut best_acc) = (f64::NAN, f64::NAN, 0.0, 0.0f64);
    for epoch in 1..=epochs {
        rng.shuffle(&mut order);
        let mut sum = 0.0;
        let mut batches = 0;
        for chunk in order.chunks(BATCH) {
            let idx = Tensor::from_slice(chunk, chunk.len(), dev)?;
            let xb = data.x_train.index_select(&idx, 0)?;
            let yb = data.y_train.index_select(&idx, 0)?;
            let loss = candle_nn::loss::cross_entropy(&model.forward(&xb)?, &yb)?;
            sum += loss.to_scalar::<f32>()? as f64;
            batches += 1;
            sgd.step(&loss)?;
        }
        let (_, acc) = evaluate(&model, &data.x_test, &data.y_test)?;
        let train_loss = sum / batches as f64;
        if epoch == 1 {
            first_loss = train_loss;
        }
        final_loss = train_loss;
        final_acc = acc;
        best_acc = best_acc.max(acc);
    }
    let run = Run {
        depth,
        scheme,
        lr,
        hidden_rms: signal.hidden_rms,
        first_loss,
        final_loss,
        final_acc,
        best_acc,
        checksum: checksum(&varmap)?,
        seconds: start.elapsed().as_secs_f64(),
    };
    println!(
        "  {:>5}  {:<14}  {:>8}  {:>4}  {:>10.2e}  {:>7.4}  {:>8.4}  {:>8.1}%  {:>7.1}%  {:016x}  {:>5.1} s",
        depth,
        SCHEMES[scheme].0,
        lr_text(lr),
        seed,
        run.hidden_rms,
        run.first_loss,
        run.final_loss,
        100.0 * run.final_acc,
        100.0 * run.best_acc,
        run.checksum,
        run.seconds
    );
    Ok(run)
}

/// `1e-4`, `3.16e-4`, ...
fn lr_text(lr: f64) -> String {
    let e = lr.log10().floor();
    let m = lr / 10f64.powf(e);
    if (m - 1.0).abs() < 1e-9 { format!("1e{e}") } else { format!("{m:.2}e{e}") }
}

/// Mean and sample standard deviation (0 for one value).
fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (m, var.sqrt())
}

/// Test accuracy against the learning rate: one panel per depth, one colour
/// per init; solid: final accuracy (mean over seeds, each seed a dot), dashed:
/// best accuracy over the epochs (mean).
fn plot(runs: &[Run], grid: &Grid, path: &str) -> Result<()> {
    let root = SVGBackend::new(path, (1100, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        &format!(
            "Plain ReLU nets on digits: test accuracy after {} epochs vs learning rate (SGD+momentum 0.9, {} init seed{})",
            grid.epochs,
            grid.seeds.len(),
            if grid.seeds.len() > 1 { "s" } else { "" }
        ),
        ("sans-serif", 18),
    )?;
    let panels = root.split_evenly((1, DEPTHS.len()));
    let colors = [RGBColor(0xd5, 0x5e, 0x00), RGBColor(0x00, 0x72, 0xb2)];
    let (lo, hi) = (grid.learning_rates[0] / 1.5, grid.learning_rates[grid.learning_rates.len() - 1] * 1.5);
    for (area, &depth) in panels.iter().zip(DEPTHS.iter()) {
        let mut chart = ChartBuilder::on(area)
            .caption(format!("{depth} layers"), ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(52)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..1f64)?;
        chart
            .configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("test accuracy")
            .x_labels(6)
            .x_label_formatter(&|x| lr_text(*x))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        chart.draw_series(DashedLineSeries::new([(lo, 0.1), (hi, 0.1)], 6, 4, BLACK.mix(0.4).stroke_width(1)))?;
        for (k, color) in colors.iter().enumerate() {
            let color = *color;
            let at = |lr: f64, best: bool| -> Vec<f64> {
                runs.iter()
                    .filter(|r| r.depth == depth && r.scheme == k && r.lr == lr)
                    .map(|r| if best { r.best_acc } else { r.final_acc })
                    .collect()
            };
            let mean_line = |best: bool| -> Vec<(f64, f64)> {
                grid.learning_rates.iter().map(|&lr| (lr, mean_sd(&at(lr, best)).0)).collect()
            };
            chart
                .draw_series(LineSeries::new(mean_line(false), color.stroke_width(2)))?
                .label(format!("{}: final", SCHEMES[k].0))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
            chart
                .draw_series(DashedLineSeries::new(mean_line(true), 5, 4, color.stroke_width(1)))?
                .label(format!("{}: best epoch", SCHEMES[k].0))
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(1)));
            let dots: Vec<(f64, f64)> = runs
                .iter()
                .filter(|r| r.depth == depth && r.scheme == k)
                .map(|r| (r.lr * if k == 0 { 0.96 } else { 1.04 }, r.final_acc))
                .collect();
            chart.draw_series(dots.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .draw()?;
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<()> {
    let mut out = String::from("deep_relu_sweep.svg");
    let mut grid = Grid::full();
    let mut args = std::env::args().skip(1);
    let usage =
        "usage: deep_relu [--out FILE.svg] [--fast]   (default deep_relu_sweep.svg; --fast: the reduced CI grid)";
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().ok_or("--out needs a file name")?,
            "--fast" => grid = Grid::fast(),
            // a reduced grid, for a machine that cannot afford the full one (say so when reporting it)
            "--seeds" => {
                let k: usize = args.next().ok_or("--seeds needs a number")?.parse()?;
                grid.seeds.truncate(k.max(1));
            }
            "--epochs" => grid.epochs = args.next().ok_or("--epochs needs a number")?.parse::<usize>()?.max(1),
            "-h" | "--help" => {
                println!("{usage}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; {usage}").into()),
        }
    }
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // SAFETY: set before any other thread exists (nothing has run candle or rayon yet).
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    register_font("sans-serif", FontStyle::Normal, FONT).map_err(|_| "the compiled-in font does not load")?;
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_default();
    let dev = Device::Cpu;
    let data = load_digits(&dev)?;
    println!(
        "digits: {} train / {} test images, 64 standardized pixels, 10 classes; width {WIDTH}, SGD momentum {MOMENTUM}, \
         batch {BATCH}, {} epochs; learning rates {}; init seeds {:?}; RAYON_NUM_THREADS={threads}",
        data.n_train,
        N_TEST,
        grid.epochs,
        grid.learning_rates.iter().map(|&x| lr_text(x)).collect::<Vec<_>>().join(", "),
        grid.seeds
    );
    println!(
        "\n  depth  init                  lr  seed  hidden RMS  loss@1  loss@{:<3}  final acc  best acc  weights checksum   time",
        grid.epochs
    );
    let start = Instant::now();
    let mut runs = Vec::new();
    for depth in DEPTHS {
        for scheme in 0..SCHEMES.len() {
            for &lr in &grid.learning_rates {
                for &seed in &grid.seeds {
                    runs.push(train(&data, depth, scheme, lr, seed, grid.epochs, &dev)?);
                }
            }
        }
    }
    println!(
        "\nTest accuracy after {} epochs (final) and at the best epoch (best), mean ± sample sd over {} init seed(s); \
         training loss of the last epoch (ln 10 = {:.4}: chance):\n",
        grid.epochs,
        grid.seeds.len(),
        10f64.ln()
    );
    println!("| depth | init | learning rate | final test acc % | best test acc % | last-epoch train loss |");
    println!("|---|---|---|---|---|---|");
    for depth in DEPTHS {
        for (k, (label, _)) in SCHEMES.iter().enumerate() {
            for &lr in &grid.learning_rates {
                let sel: Vec<&Run> = runs.iter().filter(|r| r.depth == depth && r.scheme == k && r.lr == lr).collect();
                let pick = |f: &dyn Fn(&Run) -> f64| -> Vec<f64> { sel.iter().map(|r| f(r)).collect() };
                let (fm, fs) = mean_sd(&pick(&|r| 100.0 * r.final_acc));
                let (bm, bs) = mean_sd(&pick(&|r| 100.0 * r.best_acc));
                let (lm, ls) = mean_sd(&pick(&|r| r.final_loss));
                println!(
                    "| {depth} | {label} | {} | {fm:.1} ± {fs:.1} | {bm:.1} ± {bs:.1} | {lm:.3} ± {ls:.3} |",
                    lr_text(lr)
                );
            }
        }
    }
    plot(&runs, &grid, &out)?;
    println!("\naccuracy vs learning rate: {out}; {} runs, total {:.1} s", runs.len(), start.elapsed().as_secs_f64());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `cargo test` runs the example for one epoch per (depth, init), plot
    /// included, so it cannot break unnoticed; and it checks the paper's point
    /// at init: Kaiming keeps the signal, Xavier halves its second moment per
    /// ReLU layer (predicted RMS 0.976, and 0.035 / 3.44e-5 at depth 10 / 30).
    #[test]
    fn one_epoch_per_cell_runs_and_plots() {
        assert!(register_font("sans-serif", FontStyle::Normal, FONT).is_ok(), "the compiled-in font loads");
        let dev = Device::Cpu;
        let data = load_digits(&dev).expect("the digits load");
        let grid = Grid { learning_rates: vec![1e-3], seeds: vec![2015], epochs: 1 };
        let mut runs = Vec::new();
        for depth in DEPTHS {
            for scheme in 0..SCHEMES.len() {
                runs.push(train(&data, depth, scheme, 1e-3, 2015, 1, &dev).expect("the run trains"));
            }
        }
        for r in &runs {
            let rms = r.hidden_rms;
            match (r.depth, SCHEMES[r.scheme].0) {
                (_, "Kaiming normal") => assert!((0.7..1.2).contains(&rms), "{} Kaiming: {rms}", r.depth),
                (30, _) => assert!((1e-5..1e-4).contains(&rms), "30 Xavier: {rms}"),
                _ => assert!((0.02..0.05).contains(&rms), "10 Xavier: {rms}"),
            }
        }
        let stalled = runs.iter().find(|r| r.depth == 30 && r.scheme == 1).expect("30-layer Xavier ran");
        assert!((stalled.final_loss - 10f64.ln()).abs() < 0.01, "30-layer Xavier should stall: {}", stalled.final_loss);
        let dir = std::env::temp_dir().join(format!("varinit-deep-relu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("sweep.svg");
        plot(&runs, &grid, out.to_str().unwrap()).expect("the plot draws");
        let svg = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(svg.contains("<svg") && svg.contains("learning rate"), "no text in the plot");
    }
}
