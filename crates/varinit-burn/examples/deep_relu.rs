//! He et al. (2015), "Delving deep into rectifiers", section 2.2 / figure 3,
//! in burn: a 30-layer plain ReLU network learns when initialized with
//! Kaiming (He) normal and stalls with Xavier (Glorot) normal, which halves
//! the signal's second moment at every ReLU layer. The twin of
//! `crates/varinit-candle/examples/deep_relu.rs`: same data, protocol and
//! seeds, and the same initial weights bit for bit (burn's `Linear` weight
//! is the transpose of candle's; `tests/burn/twins.rs` checks it).
//!
//! ```text
//! cargo run --release -p varinit-burn --example deep_relu            # depths 30 and 10, 30 epochs
//! cargo run --release -p varinit-burn --example deep_relu -- --fast  # depth 30, 3 epochs, with checks (CI)
//! ```
//!
//! # Protocol (the candle example's)
//!
//! - Data: the 1797 8x8 digits (UCI / scikit-learn, CC BY 4.0, vendored in
//!   `crates/varinit-candle/examples/data/`), split by a fixed shuffle (seed
//!   7) into 1297 training and 500 test images; pixels standardized with the
//!   training statistics.
//! - Networks: burn `Linear` layers in a `layers: Vec<Linear>` field, 64 ->
//!   128 -> ... -> 128 -> 10, a ReLU after every layer but the last, softmax
//!   cross-entropy.
//! - Initialization: `varinit_burn::Reinit`, seed 2015, every weight
//!   `kaiming_normal(nonlinearity=relu)` or `xavier_normal`, biases zero.
//! - Training: SGD with momentum 0.9 (v = 0.9 v + g, w -= lr v), learning
//!   rate 0.01, batches of 32, the same batch order (seed 11) for every run.
//!
//! Before training, each run prints the RMS of the last hidden layer's
//! activations over the training set next to the mean-field prediction
//! from the drawn distributions (E[relu(h)^2] = E[h^2]/2 for a symmetric
//! h; each layer multiplies the second moment by fan_in * Var(w)).
//!
//! `--fast` checks what does not depend on training noise and exits with
//! status 1 if it does not hold: the measured RMS within 20% of the
//! prediction for both schemes, and Xavier's training loss within 0.01 of
//! ln 10 (the loss of a uniform guess) in every epoch.

use std::collections::HashMap;
use std::io::Read;
use std::time::Instant;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Gradients, Int, Tensor, TensorData};
use varinit_burn::Reinit;

const DIGITS_CSV_GZ: &[u8] = include_bytes!("../../varinit-candle/examples/data/digits.csv.gz");

const SPLIT_SEED: u64 = 7;
const INIT_SEED: u64 = 2015;
const SHUFFLE_SEED: u64 = 11;
const N_TEST: usize = 500;
const WIDTH: usize = 128;
const LEARNING_RATE: f64 = 0.01;
const MOMENTUM: f64 = 0.9;
const BATCH: usize = 32;
const SCHEMES: [(&str, &str); 2] =
    [("Kaiming normal", "kaiming_normal(nonlinearity=relu)"), ("Xavier normal", "xavier_normal")];

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// SplitMix64: the candle example's generator for the split and batch order.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

struct Data {
    x_train: Tensor<2>,
    y_train: Tensor<1, Int>,
    x_test: Tensor<2>,
    y_test: Tensor<1, Int>,
    n_train: usize,
    /// Mean over the training set of the squared standardized pixels.
    input_second_moment: f64,
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
    let standardize = |x: &[f32]| -> Vec<f32> {
        (0..64).map(|j| if std[j] > 0.0 { ((x[j] as f64 - mean[j]) / std[j]) as f32 } else { 0.0 }).collect()
    };
    let to_tensors = |part: &[(Vec<f32>, u32)]| -> (Tensor<2>, Tensor<1, Int>, f64) {
        let xs: Vec<f32> = part.iter().flat_map(|(x, _)| standardize(x)).collect();
        let m2 = xs.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / xs.len() as f64;
        let ys: Vec<i64> = part.iter().map(|(_, y)| *y as i64).collect();
        let x = Tensor::<2>::from_data(TensorData::new(xs, [part.len(), 64]), dev);
        let y = Tensor::<1, Int>::from_data(TensorData::new(ys, [part.len()]), dev);
        (x, y, m2)
    };
    let (x_train, y_train, input_second_moment) = to_tensors(train);
    let (x_test, y_test, _) = to_tensors(test);
    Ok(Data { x_train, y_train, x_test, y_test, n_train: train.len(), input_second_moment })
}

#[derive(Module, Debug)]
struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    fn new(depth: usize, dev: &Device) -> Mlp {
        let layers = (0..depth)
            .map(|i| {
                let d_in = if i == 0 { 64 } else { WIDTH };
                let d_out = if i + 1 == depth { 10 } else { WIDTH };
                LinearConfig::new(d_in, d_out).init(dev)
            })
            .collect();
        Mlp { layers }
    }

    /// The logits and the last hidden layer's activations.
    fn forward_with_hidden(&self, x: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let (last, hidden) = self.layers.split_last().expect("depth >= 1");
        let mut x = x;
        for l in hidden {
            x = relu(l.forward(x));
        }
        (last.forward(x.clone()), x)
    }

    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward_with_hidden(x).0
    }
}

fn scalar(t: Tensor<1>) -> f64 {
    t.into_scalar::<f32>() as f64
}

/// SGD with momentum, PyTorch's form: v = momentum v + g; w -= lr v.
#[derive(Default)]
struct Sgd {
    velocity: HashMap<ParamId, TensorData>,
}

struct SgdStep<'a> {
    grads: &'a Gradients,
    velocity: &'a mut HashMap<ParamId, TensorData>,
}

impl ModuleMapper for SgdStep<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(g) = tensor.grad(self.grads) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let device = g.device();
        let v = match self.velocity.remove(&id) {
            Some(v) => Tensor::<D>::from_data(v, &device).mul_scalar(MOMENTUM).add(g),
            None => g,
        };
        let w = tensor.inner().sub(v.clone().mul_scalar(LEARNING_RATE));
        self.velocity.insert(id, v.into_data());
        Param::from_mapped_value(id, Tensor::from_inner(w).require_grad(), mapper)
    }
}

impl Sgd {
    fn step(&mut self, model: Mlp, loss: &Tensor<1>) -> Mlp {
        let grads = loss.backward();
        model.map(&mut SgdStep { grads: &grads, velocity: &mut self.velocity })
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
    hidden_rms: f64,
    predicted_rms: f64,
    epochs: Vec<Epoch>,
    checksum: u64,
    seconds: f64,
}

fn evaluate(model: &Mlp, x: &Tensor<2>, y: &Tensor<1, Int>, loss_fn: &burn::nn::loss::CrossEntropyLoss) -> (f64, f64) {
    let logits = model.valid().forward(x.clone().inner());
    let loss = scalar(loss_fn.forward(logits.clone(), y.clone().inner()));
    let n = y.dims()[0];
    let pred = logits.argmax(1).reshape([n]);
    let correct = scalar(pred.equal(y.clone().inner()).float().sum());
    (loss, correct / n as f64)
}

/// FNV-1a over the final weights' bits, in path order.
fn checksum(model: &Mlp) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for l in &model.layers {
        let mut params = vec![l.weight.val().into_data()];
        params.extend(l.bias.as_ref().map(|b| b.val().into_data()));
        for data in params {
            for x in data.try_to_vec::<f32>().expect("f32") {
                for b in x.to_bits().to_le_bytes() {
                    h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
                }
            }
        }
    }
    h
}

fn train(data: &Data, depth: usize, epochs: usize, label: &'static str, scheme: &str, dev: &Device) -> Result<Run> {
    let start = Instant::now();
    let reinit = Reinit::new(INIT_SEED).rule("*.weight", scheme)?.rule("*.bias", "zeros")?;
    let journal = reinit.journal();
    let mut model = reinit.apply(Mlp::new(depth, dev))?;
    println!("\n== depth {depth}, {label}: every weight {scheme}, biases zero");
    let entries = journal.entries();
    // the mean-field prediction of the last hidden layer's RMS from the drawn distributions
    let mut q = data.input_second_moment; // second moment of the layer's input
    let mut predicted_rms = f64::NAN;
    for p in entries.iter().filter(|p| p.path.ends_with(".weight")) {
        let i: usize = p.path.split('.').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        if i < 2 || i + 1 == depth {
            println!("   {:<16} {:<11} {}", p.path, format!("{:?}", p.shape), p.resolved.as_ref().expect("drawn"));
        } else if i == 2 {
            println!("   ...");
        }
        if i + 1 < depth {
            let (_, std) = p.expected_moments().expect("drawn");
            let pre = p.shape[0] as f64 * std * std * q; // E[h^2] of this layer's output
            q = pre / 2.0; // after the ReLU
            predicted_rms = q.sqrt();
        }
    }
    let (_, hidden) = model.forward_with_hidden(data.x_train.clone());
    let hidden_rms = scalar(hidden.square().mean()).sqrt();
    println!(
        "   at init: RMS of the last hidden activations {hidden_rms:.3e} (mean-field prediction {predicted_rms:.3e})"
    );
    let loss_fn = CrossEntropyLossConfig::new().init(dev);
    let mut sgd = Sgd::default();
    let mut order: Vec<i64> = (0..data.n_train as i64).collect();
    let mut rng = SplitMix64(SHUFFLE_SEED);
    let (l0, a0) = evaluate(&model, &data.x_test, &data.y_test, &loss_fn);
    let mut history = vec![Epoch { train_loss: f64::NAN, test_loss: l0, test_acc: a0 }];
    println!("   epoch  train loss  test loss  test acc");
    println!("   {:>5}  {:>10}  {:>9.4}  {:>7.1}%", 0, "-", l0, 100.0 * a0);
    for epoch in 1..=epochs {
        rng.shuffle(&mut order);
        let mut sum = 0.0;
        let mut batches = 0;
        for chunk in order.chunks(BATCH) {
            let idx = Tensor::<1, Int>::from_data(TensorData::new(chunk.to_vec(), [chunk.len()]), dev);
            let xb = data.x_train.clone().select(0, idx.clone());
            let yb = data.y_train.clone().select(0, idx);
            let loss = loss_fn.forward(model.forward(xb), yb);
            sum += scalar(loss.clone().inner());
            batches += 1;
            model = sgd.step(model, &loss);
        }
        let (tl, ta) = evaluate(&model, &data.x_test, &data.y_test, &loss_fn);
        let e = Epoch { train_loss: sum / batches as f64, test_loss: tl, test_acc: ta };
        println!("   {:>5}  {:>10.4}  {:>9.4}  {:>7.1}%", epoch, e.train_loss, e.test_loss, 100.0 * e.test_acc);
        history.push(e);
    }
    let checksum = checksum(&model);
    let seconds = start.elapsed().as_secs_f64();
    println!("   final weights checksum {checksum:016x}; {seconds:.1} s");
    Ok(Run { depth, label, hidden_rms, predicted_rms, epochs: history, checksum, seconds })
}

fn main() -> Result<()> {
    let mut fast = false;
    for a in std::env::args().skip(1) {
        match a.as_str() {
            "--fast" => fast = true,
            "-h" | "--help" => {
                println!("usage: deep_relu [--fast]   (--fast: depth 30, 3 epochs, with checks; exit 1 if they fail)");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; usage: deep_relu [--fast]").into()),
        }
    }
    let (depths, epochs): (&[usize], usize) = if fast { (&[30], 3) } else { (&[30, 10], 30) };
    let dev = Device::flex().autodiff();
    let data = load_digits(&dev)?;
    println!(
        "digits: {} train / {} test images, 64 standardized pixels, 10 classes; width {WIDTH}, SGD lr {LEARNING_RATE} \
         momentum {MOMENTUM}, batch {BATCH}, {epochs} epochs; init seed {INIT_SEED}; burn (flex CPU backend)",
        data.n_train, N_TEST
    );
    let start = Instant::now();
    let mut runs = Vec::new();
    for &depth in depths {
        for (label, scheme) in SCHEMES {
            runs.push(train(&data, depth, epochs, label, scheme, &dev)?);
        }
    }
    let last = epochs.min(30);
    let mid = 5.min(epochs - 1).max(1);
    println!("\n== summary (ln 10 = {:.4}; hidden RMS: last hidden layer at init, measured (predicted);", 10f64.ln());
    println!("   loss@0: test loss at init; loss@k: mean training loss in epoch k; acc: test accuracy)");
    println!(
        "   depth  init            hidden RMS            loss@0  loss@1  loss@{mid}  loss@{last}  best acc  final acc  weights checksum  time"
    );
    for r in &runs {
        let best = r.epochs.iter().map(|e| e.test_acc).fold(0.0, f64::max);
        let end = r.epochs[last];
        println!(
            "   {:>5}  {:<14}  {:>9.2e} ({:>8.2e})  {:>6.3}  {:>6.3}  {:>6.3}  {:>7.3}  {:>7.1}%  {:>8.1}%  {:016x}  {:.1} s",
            r.depth,
            r.label,
            r.hidden_rms,
            r.predicted_rms,
            r.epochs[0].test_loss,
            r.epochs[1].train_loss,
            r.epochs[mid].train_loss,
            end.train_loss,
            100.0 * best,
            100.0 * end.test_acc,
            r.checksum,
            r.seconds
        );
    }
    println!("\ntotal {:.1} s", start.elapsed().as_secs_f64());
    if fast {
        let mut failures = Vec::new();
        for r in &runs {
            let ratio = r.hidden_rms / r.predicted_rms;
            if !(0.8..=1.2).contains(&ratio) {
                failures.push(format!("{}: hidden RMS {:.3e} is {ratio:.2}x the prediction", r.label, r.hidden_rms));
            }
        }
        for r in runs.iter().filter(|r| r.label.starts_with("Xavier")) {
            for (k, e) in r.epochs.iter().enumerate().skip(1) {
                if (e.train_loss - 10f64.ln()).abs() > 0.01 {
                    failures.push(format!(
                        "Xavier at depth 30 did not stall: training loss {:.4} in epoch {k}",
                        e.train_loss
                    ));
                }
            }
        }
        if !failures.is_empty() {
            for f in &failures {
                eprintln!("check failed: {f}");
            }
            std::process::exit(1);
        }
        println!("checks passed: hidden RMS within 20% of the mean-field prediction; Xavier stalls at ln 10");
    }
    Ok(())
}
