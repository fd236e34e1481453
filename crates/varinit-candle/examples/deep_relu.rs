//! He et al. (2015), "Delving deep into rectifiers", section 2.2 / figure 3:
//! a deep plain ReLU network learns when initialized with Kaiming (He)
//! normal and stalls with Xavier (Glorot) normal, which halves the signal's
//! second moment at every ReLU layer; a shallower network learns with both.
//!
//! Repeated here with candle on the handwritten-digits data set (UCI
//! optical digits as shipped by scikit-learn, CC BY 4.0, see
//! `examples/data/README.md`).
//!
//! ```text
//! cargo run --release -p varinit-candle --example deep_relu [-- --out loss_curves.svg] [--epochs N]
//! ```
//!
//! # Protocol (fixed before the first run, not tuned afterwards)
//!
//! - Data: the 1797 8x8 digits, split by a fixed shuffle (seed 7) into 1297
//!   training and 500 test images; each of the 64 pixels standardized with
//!   the training set's mean and standard deviation (constant pixels stay 0).
//! - Networks: plain fully connected ReLU networks, 64 -> 128 -> ... -> 128
//!   -> 10 with `depth` weight layers (30 and 10), a ReLU after every layer
//!   but the last, softmax cross-entropy loss. No normalization, no skips.
//! - Initialization (varinit, seed 2015, keyed by layer path): every weight
//!   `kaiming_normal(nonlinearity=relu)` = N(0, 2/fan_in), or every weight
//!   `xavier_normal` = N(0, 2/(fan_in + fan_out)); biases zero (as He et al.).
//! - Training: SGD with momentum 0.9 (PyTorch's form: v = 0.9 v + g,
//!   w -= lr v), learning rate 0.01, mini-batches of 32, 30 epochs, no
//!   weight decay; the same mini-batch order (seed 11) for every run.
//! - Reported per epoch: mean training loss over the epoch's mini-batches,
//!   test loss and test accuracy; epoch 0 is before any step. "Stalled"
//!   means the loss stays near ln 10 = 2.3026, the loss of a uniform guess.
//!   Before training, each run also prints the signal at initialization:
//!   the RMS of the last hidden layer's activations and the gradient norms of
//!   the first and last weights over the whole training set (no step taken).
//!
//! The measured result, and why it differs in part from the paper's, is in
//! the repository README (section "candle").
//!
//! Reproducibility: everything is seeded, and each run ends with a checksum
//! of its final weights. candle's CPU matrix product (gemm) reads the thread
//! count from `RAYON_NUM_THREADS`; this example pins it to 1 unless it is
//! already set. (Measured: 1 and 2 threads give the same bits here, so the
//! pin is a precaution.)

use std::io::Read;
use std::time::Instant;

use candle_core::{D, DType, Device, Tensor};
use candle_nn::{Linear, Module, VarMap};
use plotters::prelude::*;
use plotters::style::FontStyle;
use varinit_candle::VarinitBackend;

const DIGITS_CSV_GZ: &[u8] = include_bytes!("data/digits.csv.gz");

const SPLIT_SEED: u64 = 7;
const INIT_SEED: u64 = 2015;
const SHUFFLE_SEED: u64 = 11;
const N_TEST: usize = 500;
const WIDTH: usize = 128;
const LEARNING_RATE: f64 = 0.01;
const MOMENTUM: f64 = 0.9;
const BATCH: usize = 32;
/// The protocol's number of epochs; `--epochs N` shortens a run (the tests run one epoch).
const EPOCHS: usize = 30;
const DEPTHS: [usize; 2] = [30, 10];
const SCHEMES: [(&str, &str); 2] =
    [("Kaiming normal", "kaiming_normal(nonlinearity=relu)"), ("Xavier normal", "xavier_normal")];

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
/// input and of the last hidden layer's activations, and the gradient norms
/// of the first and last weights, over the whole training set (no step taken).
struct Signal {
    input_rms: f64,
    hidden_rms: f64,
    grad_first: f64,
    grad_last: f64,
}

fn signal_at_init(model: &Mlp, varmap: &VarMap, data: &Data, depth: usize) -> candle_core::Result<Signal> {
    let (logits, hidden) = model.forward_with_hidden(&data.x_train)?;
    let loss = candle_nn::loss::cross_entropy(&logits, &data.y_train)?;
    let grads = loss.backward()?;
    let map = varmap.data().lock().expect("no other thread holds the VarMap");
    let grad_norm = |path: &str| -> candle_core::Result<f64> {
        match grads.get(map[path].as_tensor()) {
            Some(g) => Ok((g.sqr()?.sum_all()?.to_scalar::<f32>()? as f64).sqrt()),
            None => Ok(0.0),
        }
    };
    Ok(Signal {
        input_rms: rms(&data.x_train)?,
        hidden_rms: rms(&hidden)?,
        grad_first: grad_norm("layers.0.weight")?,
        grad_last: grad_norm(&format!("layers.{}.weight", depth - 1))?,
    })
}

/// SGD with momentum, PyTorch's form: v = momentum v + g; w -= lr v.
struct Sgd {
    vars: Vec<candle_core::Var>,
    velocity: Vec<Option<Tensor>>,
}

impl Sgd {
    fn new(varmap: &VarMap) -> Self {
        let map = varmap.data().lock().expect("no other thread holds the VarMap");
        let mut named: Vec<(String, candle_core::Var)> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        named.sort_by(|a, b| a.0.cmp(&b.0)); // a fixed order (the map's is random)
        let vars: Vec<_> = named.into_iter().map(|(_, v)| v).collect();
        let velocity = vec![None; vars.len()];
        Sgd { vars, velocity }
    }

    fn step(&mut self, loss: &Tensor) -> candle_core::Result<()> {
        let grads = loss.backward()?;
        for (var, vel) in self.vars.iter().zip(self.velocity.iter_mut()) {
            let Some(g) = grads.get(var) else { continue };
            let v = match vel.take() {
                Some(v) => ((v * MOMENTUM)? + g)?,
                None => g.clone(),
            };
            var.set(&(var.as_tensor() - (&v * LEARNING_RATE)?)?)?;
            *vel = Some(v);
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Epoch {
    train_loss: f64,
    test_loss: f64,
    test_acc: f64,
}

struct Run {
    depth: usize,
    label: &'static str,
    signal: Signal,
    epochs: Vec<Epoch>,
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

fn train(data: &Data, depth: usize, label: &'static str, scheme: &str, n_epochs: usize, dev: &Device) -> Result<Run> {
    let start = Instant::now();
    let varmap = VarMap::new();
    let backend = VarinitBackend::new(INIT_SEED).rule("*.weight", scheme)?.rule("*.bias", "zeros")?.trainable(&varmap);
    let journal = backend.journal();
    let model = Mlp::new(depth, backend.into_var_builder(DType::F32, dev))?;
    println!("\n== depth {depth}, {label}: every weight {scheme}, biases zero");
    let entries = journal.entries();
    for p in entries.iter().filter(|p| p.path.ends_with(".weight")) {
        let i: usize = p.path.split('.').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if i < 2 || i + 1 == depth {
            println!("   {:<16} {:<11} {}", p.path, p.shape.to_string(), p.resolved);
        } else if i == 2 {
            println!("   ...");
        }
    }
    let signal = signal_at_init(&model, &varmap, data, depth)?;
    println!(
        "   at init: RMS of the input {:.3}, of the last hidden activations {:.2e}; gradient norm of \
         layers.0.weight {:.2e}, of layers.{}.weight {:.2e}",
        signal.input_rms,
        signal.hidden_rms,
        signal.grad_first,
        depth - 1,
        signal.grad_last
    );
    let mut sgd = Sgd::new(&varmap);
    let mut order: Vec<u32> = (0..data.n_train as u32).collect();
    let mut rng = SplitMix64(SHUFFLE_SEED);
    let (l0, a0) = evaluate(&model, &data.x_test, &data.y_test)?;
    let mut epochs = vec![Epoch { train_loss: f64::NAN, test_loss: l0, test_acc: a0 }];
    println!("   epoch  train loss  test loss  test acc");
    println!("   {:>5}  {:>10}  {:>9.4}  {:>7.1}%", 0, "-", l0, 100.0 * a0);
    for epoch in 1..=n_epochs {
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
        let (tl, ta) = evaluate(&model, &data.x_test, &data.y_test)?;
        let e = Epoch { train_loss: sum / batches as f64, test_loss: tl, test_acc: ta };
        println!("   {:>5}  {:>10.4}  {:>9.4}  {:>7.1}%", epoch, e.train_loss, e.test_loss, 100.0 * e.test_acc);
        epochs.push(e);
    }
    let checksum = checksum(&varmap)?;
    let seconds = start.elapsed().as_secs_f64();
    println!("   final weights checksum {checksum:016x}; {seconds:.1} s");
    Ok(Run { depth, label, signal, epochs, checksum, seconds })
}

/// DejaVu Sans, compiled in: plotters is built without system fonts (its
/// `ab_glyph` feature), so text can only be drawn with a registered font.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, FONT)
            .map_err(|_| "the compiled-in DejaVu Sans font does not parse")?;
    }
    Ok(())
}

fn plot(runs: &[Run], path: &str, epochs: usize) -> Result<()> {
    register_font()?;
    let root = SVGBackend::new(path, (1100, 800)).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(
        "Deep plain ReLU nets on digits: Kaiming vs Xavier init (SGD+momentum, same budget)",
        ("sans-serif", 20),
    )?;
    let cols = root.split_evenly((2, DEPTHS.len()));
    let colors = [RGBColor(0xd6, 0x27, 0x28), RGBColor(0x1f, 0x77, 0xb4)];
    for (c, &depth) in DEPTHS.iter().enumerate() {
        for row in 0..2 {
            let area = &cols[row * DEPTHS.len() + c];
            let (title, y_range, y_label) = if row == 0 {
                (format!("{depth} layers: training loss"), 0.0..3.0, "loss (ln 10 dashed)")
            } else {
                (format!("{depth} layers: test accuracy"), 0.0..1.0, "accuracy")
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, ("sans-serif", 18))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(48)
                .build_cartesian_2d(0f64..epochs as f64, y_range)?;
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(y_label)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            if row == 0 {
                let ln10 = 10f64.ln();
                chart.draw_series(DashedLineSeries::new(
                    [(0.0, ln10), (epochs as f64, ln10)],
                    6,
                    4,
                    BLACK.mix(0.5).stroke_width(1),
                ))?;
            }
            for (k, run) in runs.iter().filter(|r| r.depth == depth).enumerate() {
                let color = colors[k % colors.len()];
                let points: Vec<(f64, f64)> = run
                    .epochs
                    .iter()
                    .enumerate()
                    .map(|(i, e)| (i as f64, if row == 0 { e.train_loss } else { e.test_acc }))
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, v)| (i, v.clamp(0.0, if row == 0 { 3.0 } else { 1.0 })))
                    .collect();
                chart
                    .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                    .label(run.label)
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], color.stroke_width(2)));
            }
            chart
                .configure_series_labels()
                .position(if row == 0 { SeriesLabelPosition::UpperRight } else { SeriesLabelPosition::LowerRight })
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK.mix(0.3))
                .draw()?;
        }
    }
    root.present()?;
    Ok(())
}

fn main() -> Result<()> {
    let mut out = String::from("deep_relu_loss.svg");
    let mut epochs = EPOCHS;
    let usage = "usage: deep_relu [--out FILE.svg] [--epochs N]   (defaults deep_relu_loss.svg, 30: the protocol)";
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--out" => out = args.next().ok_or("--out needs a file name")?,
            "--epochs" => {
                epochs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n >= 1)
                    .ok_or("--epochs needs a whole number >= 1")?
            }
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
    run(epochs, &out)?;
    Ok(())
}

/// The whole experiment: four trainings of `epochs` epochs, the summary, the plot.
fn run(epochs: usize, out: &str) -> Result<Vec<Run>> {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_default();
    let dev = Device::Cpu;
    let data = load_digits(&dev)?;
    println!(
        "digits: {} train / {} test images, 64 standardized pixels, 10 classes; width {WIDTH}, SGD lr {LEARNING_RATE} \
         momentum {MOMENTUM}, batch {BATCH}, {epochs} epochs; init seed {INIT_SEED}; RAYON_NUM_THREADS={threads}",
        data.n_train, N_TEST
    );
    let start = Instant::now();
    let mut runs = Vec::new();
    for depth in DEPTHS {
        for (label, scheme) in SCHEMES {
            runs.push(train(&data, depth, label, scheme, epochs, &dev)?);
        }
    }
    println!(
        "\n== summary (ln 10 = {:.4}; hidden RMS: last hidden layer at init; loss@0: test loss at init;",
        10f64.ln()
    );
    println!("   loss@k: mean training loss in epoch k; acc: test accuracy)");
    let mid = 5.min(epochs);
    println!(
        "   depth  init            hidden RMS  loss@0  loss@1  loss@{mid}  loss@{epochs}  best acc  final acc  weights checksum  time"
    );
    for r in &runs {
        let at = |i: usize| r.epochs[i].train_loss;
        let best = r.epochs.iter().map(|e| e.test_acc).fold(0.0, f64::max);
        let last = r.epochs[epochs];
        println!(
            "   {:>5}  {:<14}  {:>10.2e}  {:>6.3}  {:>6.3}  {:>6.3}  {:>7.3}  {:>7.1}%  {:>8.1}%  {:016x}  {:.1} s",
            r.depth,
            r.label,
            r.signal.hidden_rms,
            r.epochs[0].test_loss,
            at(1),
            at(mid),
            last.train_loss,
            100.0 * best,
            100.0 * last.test_acc,
            r.checksum,
            r.seconds
        );
    }
    plot(&runs, out, epochs)?;
    println!("\nloss curves: {out}; total {:.1} s", start.elapsed().as_secs_f64());
    Ok(runs)
}

/// The fast mode CI runs (`cargo test` runs this example's tests): one epoch
/// of each of the four runs, the summary and the plot, so a failure anywhere
/// in the example, the figure included, fails the test suite.
#[cfg(test)]
mod tests {
    #[test]
    fn one_epoch_runs_and_plots() {
        let dir = std::env::temp_dir().join(format!("varinit-deep-relu-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("curves.svg");
        let runs = super::run(1, out.to_str().unwrap()).expect("the example runs");
        let svg = std::fs::read_to_string(&out).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(svg.contains("<svg") && svg.contains("training loss"), "no text in the plot");
        assert_eq!(runs.len(), 4);
        for r in &runs {
            assert_eq!(r.epochs.len(), 2);
            let rms = r.signal.hidden_rms;
            // the paper's point, at init: Kaiming keeps the signal, Xavier halves its
            // second moment per ReLU layer (predicted 0.976 and 3.44e-5 / 0.035)
            match (r.depth, r.label) {
                (_, "Kaiming normal") => assert!((0.7..1.2).contains(&rms), "{} {}: {rms}", r.depth, r.label),
                (30, _) => assert!((1e-5..1e-4).contains(&rms), "30 Xavier: {rms}"),
                _ => assert!((0.02..0.05).contains(&rms), "10 Xavier: {rms}"),
            }
        }
        let stalled = runs.iter().find(|r| r.depth == 30 && r.label == "Xavier normal").unwrap();
        assert!((stalled.epochs[1].train_loss - 10f64.ln()).abs() < 0.01, "30-layer Xavier should stall");
    }
}
