//! Signal propagation through a plain deep network, measured.
//!
//! [`simulate`] builds a fully connected network of `depth` layers of
//! `width` units (`h_l = x_{l-1} W_l^T + b_l`, `x_l = phi(h_l)`), draws its
//! weights with [`TensorInit`] (so a run is a pure function of the seed and
//! the scheme: tensor `layer{l}.weight`, shape `(width, fan_in)`, PyTorch
//! layout), pushes a batch through it, and back-propagates a random output
//! gradient `g ~ N(0, 1)` (tensor `output_grad`). Per layer it records
//!
//! - forward: the second moment `E[h^2]` of the pre-activations (over all
//!   units and inputs), their variance across the batch (and, for
//!   convolutions, the positions; averaged over units), the share of dead units (no input of the batch passes a
//!   gradient: `|phi'(h)| < 1e-6` for all of them) and, for saturating
//!   activations, the share of saturated pre-activations (`phi'(h)` below
//!   5% of `phi'(0)`);
//! - backward: the second moment of the gradient with respect to the
//!   pre-activations, `delta_l = dL/dh_l`, and of the gradient with respect
//!   to the weights, `dW_l = delta_l^T x_{l-1} / B` (a batch-mean loss);
//!
//! next to the mean-field prediction (see [`crate::meanfield`])
//! computed from the same weight and bias variances: `q_l = sigma_w,l^2
//! E[phi(sqrt(q_{l-1}) z)^2] + sigma_b,l^2` starting from the inputs'
//! second moment, `E[delta_l^2] = E[delta_{l+1}^2] (width sigma_w,l+1^2 /
//! fan_in) E[phi'(sqrt(q_l) z)^2]`, and `E[dW_l^2] = E[delta_l^2] E[x_{l-1}^2] / B`.
//!
//! With [`Network::conv`] the layers are 2-D convolutions (see [`Conv`]),
//! computed as matrix products of image patches (im2col).
//!
//! The matrix products run in `f32` through faer, one network per thread
//! ([`simulate_all`] runs several networks in parallel), so the numbers do
//! not depend on the thread count either. Statistics accumulate in `f64`.
//!
//! LSUV (Mishkin & Matas 2015, "All you need is a good init") is the
//! data-dependent [`WeightInit::Lsuv`]: orthogonal weights, then layer by
//! layer `W <- W / sqrt(Var[h])` until `|Var[h] - 1| < tol` or `max_iter`
//! rescalings, measured on the simulation's own batch.

use faer::linalg::matmul::matmul;
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, Par as FaerPar};
use rayon::prelude::*;

use crate::meanfield::{derivative_second_moment, second_moment, second_moment_slope};
use crate::quadrature::expect;
use varinit::error::{Error, Result};
use varinit::fan::Layout;
use varinit::gain::Activation;
use varinit::kernels::Par;
use varinit::scheme::Init;
use varinit::shape::Shape;
use varinit::tensor::TensorInit;

/// How the weights of a simulated network are initialised.
#[derive(Debug, Clone, PartialEq)]
pub enum WeightInit {
    /// A scheme of the grammar, resolved per layer.
    Scheme(Init),
    /// Layer-sequential unit-variance (Mishkin & Matas 2015).
    Lsuv {
        /// Stop when `|Var[h] - 1| < tol`.
        tol: f64,
        /// At most this many rescalings per layer.
        max_iter: u32,
    },
}

impl WeightInit {
    /// LSUV with the paper's settings: tolerance 0.1, at most 10 iterations.
    pub const LSUV: WeightInit = WeightInit::Lsuv { tol: 0.1, max_iter: 10 };

    /// The scheme string (`lsuv` for LSUV).
    pub fn label(&self) -> String {
        match self {
            WeightInit::Scheme(i) => i.to_string(),
            WeightInit::Lsuv { .. } => "lsuv".into(),
        }
    }
}

/// The network's inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// `batch` vectors of `width` independent N(0, 1) values (tensor `input`).
    Gaussian,
    /// Rows of a data set (row-major, `rows x cols`); the first `batch` rows are used.
    Data {
        /// Number of rows.
        rows: usize,
        /// Number of columns (the first layer's fan-in).
        cols: usize,
        /// The values, row-major.
        values: Vec<f32>,
    },
}

/// The shape of the simulated network and of the batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Network {
    /// Units per layer (>= 1).
    pub width: usize,
    /// Number of layers (>= 1).
    pub depth: usize,
    /// Inputs per batch (>= 2, so that a variance across the batch exists).
    pub batch: usize,
    /// Bias scheme (for a tensor of shape `[width]`), or none.
    pub bias: Option<Init>,
    /// Seed of every tensor.
    pub seed: u64,
    /// The inputs.
    pub inputs: Inputs,
    /// Convolutional layers instead of fully connected ones.
    pub conv: Option<Conv>,
}

/// 2-D convolutions: `kernel x kernel`, stride 1, circular padding, on
/// `size x size` images; `width` is the number of channels. The weight of
/// layer `l` is `(width, channels_in, kernel, kernel)` (PyTorch layout), so
/// every scheme sees `fan_in = channels_in * kernel^2`. The mean field is the
/// same as for dense layers with that fan-in (Xiao et al. 2018).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv {
    /// Kernel side (odd).
    pub kernel: usize,
    /// Image side.
    pub size: usize,
}

/// One layer's measurements and predictions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LayerStats {
    /// 1-based layer index.
    pub layer: usize,
    /// The layer's fan-in.
    pub fan_in: usize,
    /// `fan_in * E[W^2]` (nominal for a scheme, measured for LSUV).
    pub sigma_w2: f64,
    /// `E[b^2]`.
    pub sigma_b2: f64,
    /// Measured `E[h^2]`.
    pub second_moment: f64,
    /// Mean-field `q_l`.
    pub predicted_second_moment: f64,
    /// Variance of `h` across the batch, averaged over units.
    pub variance: f64,
    /// Share of units that pass no gradient for any input of the batch.
    pub dead: f64,
    /// Share of saturated pre-activations (saturating activations only).
    pub saturated: Option<f64>,
    /// Measured `E[delta^2]`, `delta = dL/dh`.
    pub grad_second_moment: f64,
    /// Mean-field prediction of `E[delta^2]`.
    pub predicted_grad_second_moment: f64,
    /// Measured `E[dW^2]`.
    pub weight_grad_second_moment: f64,
    /// Mean-field prediction of `E[dW^2]`.
    pub predicted_weight_grad_second_moment: f64,
    /// LSUV rescalings applied to this layer.
    pub lsuv_iterations: Option<u32>,
}

/// One simulated network.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Run {
    /// The activation, as written back (`tanh`, `leaky_relu(0.2)`).
    pub activation: String,
    /// The weight scheme string (`lsuv` for LSUV).
    pub init: String,
    /// Second moment of the inputs, `E[x_0^2]`.
    pub input_second_moment: f64,
    /// Per layer, first to last.
    pub layers: Vec<LayerStats>,
    /// Finite-width fluctuation of `ln(E[h_L^2] / E[h_1^2])` ([`finite_width_noise`]).
    pub forward_noise: Fluctuation,
    /// Finite-width fluctuation of `ln(E[delta_1^2] / E[delta_L^2])`.
    pub backward_noise: Fluctuation,
}

/// What finite width does to the logarithm of a signal's change over the
/// whole depth, `ln(last / first)`: to leading order in `1 / width`, a
/// random walk around the mean field's value (see [`finite_width_noise`]).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Fluctuation {
    /// Standard deviation of `ln(last / first)` over draws of the weights.
    pub sd: f64,
    /// `E[ln(last / first)]` minus the mean field's `ln(last / first)`
    /// (negative: the second moment itself is unbiased, so its logarithm
    /// is biased down by about half its variance).
    pub shift: f64,
}

impl Run {
    /// Forward factor over the whole depth, `E[h_L^2] / E[h_1^2]`.
    pub fn forward_total(&self) -> f64 {
        let (a, b) = (self.layers[0].second_moment, self.layers[self.layers.len() - 1].second_moment);
        b / a
    }
    /// Backward factor over the whole depth, `E[delta_1^2] / E[delta_L^2]`.
    pub fn backward_total(&self) -> f64 {
        let (a, b) = (self.layers[0].grad_second_moment, self.layers[self.layers.len() - 1].grad_second_moment);
        a / b
    }
}

/// The largest simulation [`Network::validate`] accepts, in bytes.
pub const MAX_BYTES: f64 = 16e9;

fn usage(param: &str, value: impl ToString, reason: &str) -> Error {
    Error::InvalidArgument {
        function: "propagate".into(),
        param: param.into(),
        value: value.to_string(),
        reason: reason.into(),
    }
}

impl Network {
    /// Check the sizes and the inputs.
    pub fn validate(&self) -> Result<()> {
        if self.width == 0 {
            return Err(usage("width", 0, "must be at least 1"));
        }
        if self.depth == 0 {
            return Err(usage("depth", 0, "must be at least 1"));
        }
        if self.batch < 2 {
            return Err(usage(
                "batch",
                self.batch,
                "must be at least 2 (a variance across the batch needs two inputs)",
            ));
        }
        let too_big = |what: &str| usage(what, "", "the network does not fit in memory");
        self.width
            .checked_mul(self.batch)
            .and_then(|x| x.checked_mul(self.depth + 1))
            .ok_or_else(|| too_big("width"))?;
        // Memory: per layer the pre-activations, outputs and derivatives
        // (rows x width) and the weights (width x fan_in), in f32.
        let (rows, fan) = (
            self.batch as f64 * self.conv.map_or(1.0, |c| (c.size * c.size) as f64),
            self.width as f64 * self.conv.map_or(1.0, |c| (c.kernel * c.kernel) as f64),
        );
        let bytes = 4.0 * self.depth as f64 * (3.0 * rows * self.width as f64 + self.width as f64 * fan);
        if bytes > MAX_BYTES {
            return Err(usage(
                "width",
                self.width,
                &format!(
                    "this network needs about {:.0} GB of memory (at most {:.0} GB): make it smaller",
                    bytes / 1e9,
                    MAX_BYTES / 1e9
                ),
            ));
        }
        if let Some(c) = self.conv {
            if c.kernel % 2 == 0 || c.kernel > c.size {
                return Err(usage(
                    "kernel",
                    c.kernel,
                    &format!("must be odd and at most the image size {} (circular padding)", c.size),
                ));
            }
            if c.size == 0 {
                return Err(usage("image size", 0, "must be at least 1"));
            }
            if let Inputs::Data { cols, .. } = &self.inputs
                && cols % (c.size * c.size) != 0
            {
                return Err(usage(
                    "image size",
                    c.size,
                    &format!("the data has {cols} columns, not a multiple of {}x{} pixels", c.size, c.size),
                ));
            }
        }
        if let Inputs::Data { rows, cols, values } = &self.inputs {
            if *cols == 0 || rows.checked_mul(*cols) != Some(values.len()) {
                return Err(usage("data", format!("{rows}x{cols}"), "the data matrix is empty or inconsistent"));
            }
            if self.batch > *rows {
                return Err(usage(
                    "batch",
                    self.batch,
                    &format!("the data set has only {rows} rows; use a batch of {rows} rows or fewer"),
                ));
            }
            if values.iter().any(|v| !v.is_finite()) {
                return Err(usage("data", "", "contains a value that is not a finite number"));
            }
        }
        Ok(())
    }

    /// Pixels per image (1 for dense layers).
    fn pixels(&self) -> usize {
        self.conv.map_or(1, |c| c.size * c.size)
    }

    /// Kernel elements (1 for dense layers).
    fn taps(&self) -> usize {
        self.conv.map_or(1, |c| c.kernel * c.kernel)
    }

    /// Rows of the activation matrices: one per input (and pixel).
    fn rows(&self) -> usize {
        self.batch * self.pixels()
    }

    /// Input features (channels for convolutions) of layer `layer`.
    fn channels_in(&self, layer: usize) -> usize {
        if layer > 1 {
            return self.width;
        }
        match &self.inputs {
            Inputs::Gaussian => self.width,
            Inputs::Data { cols, .. } => cols / self.pixels(),
        }
    }

    fn fan_in(&self, layer: usize) -> usize {
        self.channels_in(layer) * self.taps()
    }

    fn fan_out(&self) -> usize {
        self.width * self.taps()
    }
}

/// Draw a tensor of shape `dims` as an `f32` column-major faer matrix
/// `dims[0] x (the rest)` from the row-major stream.
fn draw(seed: u64, name: &str, init: &Init, dims: &[usize]) -> Result<(Mat<f32>, f64)> {
    let rows = dims[0];
    let cols: usize = dims[1..].iter().product();
    let shape = Shape::new(dims.iter().map(|&d| d as u64).collect::<Vec<_>>())?;
    let t = TensorInit::new(seed, name, init, shape.clone(), Layout::Torch.into())?;
    let (m, s) = t.resolved().expected_moments(&shape);
    let v: Vec<f32> = t.to_vec(Par::Seq)?;
    Ok((Mat::from_fn(rows, cols, |i, j| v[i * cols + j]), m * m + s * s))
}

fn draw_bias(seed: u64, name: &str, init: &Init, n: usize) -> Result<(Vec<f32>, f64)> {
    let shape = Shape::new(vec![n as u64])?;
    let t = TensorInit::new(seed, name, init, shape.clone(), Layout::Torch.into())?;
    let (m, s) = t.resolved().expected_moments(&shape);
    Ok((t.to_vec(Par::Seq)?, m * m + s * s))
}

/// The batch as a `batch x input_dim` matrix.
fn input_matrix(net: &Network) -> Result<Mat<f32>> {
    match &net.inputs {
        Inputs::Gaussian => {
            let unit = Init::Normal { mean: 0.0, std: 1.0 };
            Ok(draw(net.seed, "input", &unit, &[net.rows(), net.width])?.0)
        }
        Inputs::Data { cols, values, .. } => {
            // row b*pixels + p, column c  <-  value c*pixels + p of data row b
            let px = net.pixels();
            Ok(Mat::from_fn(net.rows(), cols / px, |i, c| values[(i / px) * cols + c * px + i % px]))
        }
    }
}

/// The patches of a `(batch * size^2) x channels` image matrix:
/// `(batch * size^2) x (channels * kernel^2)`, column `c k^2 + dy k + dx`
/// (the order of a flattened `(out, in, k, k)` weight), circular padding.
fn im2col(x: &Mat<f32>, conv: Conv) -> Mat<f32> {
    let (k, s) = (conv.kernel, conv.size);
    let (px, r) = (s * s, k / 2);
    let mut out = Mat::<f32>::zeros(x.nrows(), x.ncols() * k * k);
    for c in 0..x.ncols() {
        let src = x.col(c).try_as_col_major().expect("contiguous column").as_slice();
        for dy in 0..k {
            for dx in 0..k {
                let col =
                    out.col_mut(c * k * k + dy * k + dx).try_as_col_major_mut().expect("contiguous").as_slice_mut();
                for (row, o) in col.iter_mut().enumerate() {
                    let (b, p) = (row / px, row % px);
                    let y = (p / s + s + dy - r) % s;
                    let xx = (p % s + s + dx - r) % s;
                    *o = src[b * px + y * s + xx];
                }
            }
        }
    }
    out
}

/// The adjoint of [`im2col`]: sums patch gradients back onto the pixels.
fn col2im(g: &Mat<f32>, channels: usize, conv: Conv) -> Mat<f32> {
    let (k, s) = (conv.kernel, conv.size);
    let (px, r) = (s * s, k / 2);
    let mut out = Mat::<f32>::zeros(g.nrows(), channels);
    for c in 0..channels {
        let dst = out.col_mut(c).try_as_col_major_mut().expect("contiguous column").as_slice_mut();
        for dy in 0..k {
            for dx in 0..k {
                let col = g.col(c * k * k + dy * k + dx).try_as_col_major().expect("contiguous").as_slice();
                for (row, &v) in col.iter().enumerate() {
                    let (b, p) = (row / px, row % px);
                    let y = (p / s + s + dy - r) % s;
                    let xx = (p % s + s + dx - r) % s;
                    dst[b * px + y * s + xx] += v;
                }
            }
        }
    }
    out
}

fn mean_sq(m: &Mat<f32>) -> f64 {
    mean_sq_ref(m.as_ref())
}

fn mean_sq_ref(m: faer::MatRef<'_, f32>) -> f64 {
    let mut s = 0.0f64;
    for j in 0..m.ncols() {
        s += m.col(j).iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
    }
    s / (m.nrows() * m.ncols()).max(1) as f64
}

/// Variance over all entries.
fn variance_all(m: &Mat<f32>) -> f64 {
    let n = (m.nrows() * m.ncols()) as f64;
    let mut s = 0.0f64;
    let mut s2 = 0.0f64;
    for j in 0..m.ncols() {
        for &x in m.col(j).iter() {
            s += f64::from(x);
            s2 += f64::from(x) * f64::from(x);
        }
    }
    let mean = s / n;
    (s2 / n - mean * mean).max(0.0)
}

/// h = x W^T + b.
fn linear(x: &Mat<f32>, w: &Mat<f32>, b: Option<&[f32]>) -> Mat<f32> {
    let mut h = Mat::<f32>::zeros(x.nrows(), w.nrows());
    matmul(h.as_mut(), Accum::Replace, x.as_ref(), w.transpose(), 1.0f32, FaerPar::Seq);
    if let Some(b) = b {
        for (j, &bj) in b.iter().enumerate() {
            for v in h.col_mut(j).iter_mut() {
                *v += bj;
            }
        }
    }
    h
}

/// `(phi(h), phi'(h))` element by element.
fn apply(act: Activation, h: &Mat<f32>) -> (Mat<f32>, Mat<f32>) {
    let (r, c) = (h.nrows(), h.ncols());
    let mut x = Mat::<f32>::zeros(r, c);
    let mut d = Mat::<f32>::zeros(r, c);
    for j in 0..c {
        let hc = h.col(j).try_as_col_major().expect("contiguous column").as_slice();
        let xc = x.col_mut(j).try_as_col_major_mut().expect("contiguous column").as_slice_mut();
        for (o, &v) in xc.iter_mut().zip(hc) {
            *o = act.value(f64::from(v)) as f32;
        }
        let dc = d.col_mut(j).try_as_col_major_mut().expect("contiguous column").as_slice_mut();
        for (o, &v) in dc.iter_mut().zip(hc) {
            *o = act.derivative(f64::from(v)) as f32;
        }
    }
    (x, d)
}

/// `a * b` element by element, into `a`.
fn hadamard(a: &mut Mat<f32>, b: &Mat<f32>) {
    for j in 0..a.ncols() {
        let bc = b.col(j).try_as_col_major().expect("contiguous column").as_slice();
        let ac = a.col_mut(j).try_as_col_major_mut().expect("contiguous column").as_slice_mut();
        for (x, y) in ac.iter_mut().zip(bc) {
            *x *= y;
        }
    }
}

/// Simulate one network with one activation and one weight scheme.
pub fn simulate(net: &Network, act: Activation, init: &WeightInit) -> Result<Run> {
    net.validate()?;
    if let WeightInit::Lsuv { tol, max_iter } = init
        && (!tol.is_finite() || *tol <= 0.0 || *max_iter == 0)
    {
        return Err(usage("lsuv", format!("tol={tol}, max_iter={max_iter}"), "needs tol > 0 and max_iter >= 1"));
    }
    let (n, depth, batch) = (net.width, net.depth, net.batch);
    let rows = net.rows();
    let patches = |x: &Mat<f32>| -> Option<Mat<f32>> { net.conv.map(|c| im2col(x, c)) };
    let weight_dims = |l: usize| -> Vec<usize> {
        match net.conv {
            Some(c) => vec![n, net.channels_in(l), c.kernel, c.kernel],
            None => vec![n, net.channels_in(l)],
        }
    };
    let x0 = input_matrix(net)?;
    let input_second_moment = mean_sq(&x0);

    // Forward, drawing (and for LSUV calibrating) each layer in turn.
    let mut weights: Vec<Mat<f32>> = Vec::with_capacity(depth);
    let mut biases: Vec<Option<Vec<f32>>> = Vec::with_capacity(depth);
    let mut sw2 = Vec::with_capacity(depth);
    let mut sb2 = Vec::with_capacity(depth);
    let mut lsuv_iters = Vec::with_capacity(depth);
    let mut pre: Vec<Mat<f32>> = Vec::with_capacity(depth);
    // outputs phi(h_l) (index l-1) and derivatives phi'(h_l)
    let mut outs: Vec<Mat<f32>> = Vec::with_capacity(depth);
    let mut ders: Vec<Mat<f32>> = Vec::with_capacity(depth);
    for l in 1..=depth {
        let fan_in = net.fan_in(l);
        let (b, b2) = match &net.bias {
            Some(bi) => {
                let (v, m2) = draw_bias(net.seed, &format!("layer{l}.bias"), bi, n)?;
                (Some(v), m2)
            }
            None => (None, 0.0),
        };
        let (mut w, w2) = match init {
            WeightInit::Scheme(s) => draw(net.seed, &format!("layer{l}.weight"), s, &weight_dims(l))?,
            WeightInit::Lsuv { .. } => {
                draw(net.seed, &format!("layer{l}.weight"), &Init::Orthogonal { gain: 1.0 }, &weight_dims(l))?
            }
        };
        let x_img = outs.last().unwrap_or(&x0);
        let cols = patches(x_img);
        let x = cols.as_ref().unwrap_or(x_img);
        let mut h = linear(x, &w, b.as_deref());
        let mut w2 = w2;
        let mut iters = None;
        if let WeightInit::Lsuv { tol, max_iter } = *init {
            let mut k = 0;
            loop {
                let v = variance_all(&h);
                if (v - 1.0).abs() < tol || k >= max_iter || v <= 0.0 || !v.is_finite() {
                    break;
                }
                let s = (1.0 / v.sqrt()) as f32;
                for j in 0..w.ncols() {
                    for e in w.col_mut(j).iter_mut() {
                        *e *= s;
                    }
                }
                h = linear(x, &w, b.as_deref());
                k += 1;
            }
            iters = Some(k);
            w2 = mean_sq(&w);
        }
        let (xo, d) = apply(act, &h);
        outs.push(xo);
        ders.push(d);
        sw2.push(fan_in as f64 * w2);
        sb2.push(b2);
        lsuv_iters.push(iters);
        weights.push(w);
        biases.push(b);
        pre.push(h);
    }

    // Backward from g ~ N(0, 1).
    let unit = Init::Normal { mean: 0.0, std: 1.0 };
    let (g, _) = draw(net.seed, "output_grad", &unit, &[rows, n])?;
    let mut delta = g;
    hadamard(&mut delta, &ders[depth - 1]);
    let mut grad2 = vec![0.0; depth];
    let mut wgrad2 = vec![0.0; depth];
    let mut dw = Mat::<f32>::zeros(n, net.fan_in(1).max(net.fan_in(2)));
    for l in (1..=depth).rev() {
        grad2[l - 1] = mean_sq(&delta);
        let x_img = if l == 1 { &x0 } else { &outs[l - 2] };
        let cols = patches(x_img);
        let xin = cols.as_ref().unwrap_or(x_img);
        let mut dwl = dw.as_mut().submatrix_mut(0, 0, n, xin.ncols());
        matmul(dwl.rb_mut(), Accum::Replace, delta.transpose(), xin.as_ref(), 1.0 / batch as f32, FaerPar::Seq);
        wgrad2[l - 1] = mean_sq_ref(dwl.rb());
        if l > 1 {
            let mut up = Mat::<f32>::zeros(rows, xin.ncols());
            matmul(up.as_mut(), Accum::Replace, delta.as_ref(), weights[l - 1].as_ref(), 1.0f32, FaerPar::Seq);
            let mut up = match net.conv {
                Some(c) => col2im(&up, net.channels_in(l), c),
                None => up,
            };
            hadamard(&mut up, &ders[l - 2]);
            delta = up;
        }
    }

    // Mean-field predictions with the same sigma_w^2, sigma_b^2 per layer.
    let mut q = vec![0.0; depth];
    let mut x2_in = vec![0.0; depth]; // E[x_{l-1}^2]
    for l in 0..depth {
        x2_in[l] = if l == 0 { input_second_moment } else { second_moment(act, q[l - 1]) };
        q[l] = sw2[l] * x2_in[l] + sb2[l];
    }
    let mut gp = vec![0.0; depth];
    gp[depth - 1] = derivative_second_moment(act, q[depth - 1]);
    for l in (0..depth - 1).rev() {
        let back = sw2[l + 1] * net.fan_out() as f64 / net.fan_in(l + 2) as f64;
        gp[l] = gp[l + 1] * back * derivative_second_moment(act, q[l]);
    }

    let phi0 = act.derivative(0.0).abs();
    let layers = (0..depth)
        .map(|l| {
            let h = &pre[l];
            let (dead, sat, var) = unit_stats(act, h, &ders[l], phi0);
            LayerStats {
                layer: l + 1,
                fan_in: net.fan_in(l + 1),
                sigma_w2: sw2[l],
                sigma_b2: sb2[l],
                second_moment: mean_sq(h),
                predicted_second_moment: q[l],
                variance: var,
                dead,
                saturated: sat,
                grad_second_moment: grad2[l],
                predicted_grad_second_moment: gp[l],
                weight_grad_second_moment: wgrad2[l],
                // dW sums over the batch and the pixels, divided by the batch
                predicted_weight_grad_second_moment: gp[l] * x2_in[l] * net.pixels() as f64 / batch as f64,
                lsuv_iterations: lsuv_iters[l],
            }
        })
        .collect();
    let (forward_noise, backward_noise) = finite_width_noise(act, n, &sw2, &q, &x2_in);
    Ok(Run {
        activation: act.to_string(),
        init: init.label(),
        input_second_moment,
        layers,
        forward_noise,
        backward_noise,
    })
}

/// Dead units, saturated share and variance across the batch (mean over units).
fn unit_stats(act: Activation, h: &Mat<f32>, der: &Mat<f32>, phi0: f64) -> (f64, Option<f64>, f64) {
    let (b, n) = (h.nrows(), h.ncols());
    let mut dead = 0usize;
    let mut sat = 0usize;
    let mut var = 0.0f64;
    for j in 0..n {
        let mut alive = false;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for (&v, &d) in h.col(j).iter().zip(der.col(j).iter()) {
            let v = f64::from(v);
            let d = f64::from(d).abs();
            alive |= d >= 1e-6;
            if d < 0.05 * phi0 {
                sat += 1;
            }
            s += v;
            s2 += v * v;
        }
        if !alive {
            dead += 1;
        }
        let m = s / b as f64;
        var += (s2 / b as f64 - m * m).max(0.0) * b as f64 / (b as f64 - 1.0);
    }
    let saturated = act.saturates().then(|| sat as f64 / (b * n) as f64);
    (dead as f64 / n as f64, saturated, var / n as f64)
}

/// Simulate every (activation, scheme) pair, in parallel over the pairs
/// when `par` is [`Par::Rayon`]; results in the order activation-major.
pub fn simulate_all(net: &Network, pairs: &[(Activation, WeightInit)], par: Par) -> Result<Vec<Run>> {
    net.validate()?;
    match par {
        Par::Seq => pairs.iter().map(|(a, i)| simulate(net, *a, i)).collect(),
        Par::Rayon => pairs.par_iter().map(|(a, i)| simulate(net, *a, i)).collect(),
    }
}

/// The finite-width fluctuations of a plain network's forward and backward
/// second moments, to leading order in `1 / width` (derivation in
/// `docs/theory.md`, section "Finite width").
///
/// Given the previous layer, the `n = width` pre-activations of one input
/// are independent Gaussians, so the layer's mean square activation
/// `S_l = (1/n) sum_j phi(h_j)^2` has relative variance
/// `v_l = (E[phi^4] / E[phi^2]^2 - 1) / n` at the mean field's `q_l` (5/n
/// for ReLU). Its logarithm follows `eps_l = a_l eps_(l-1) + xi_l`, where
/// `a_l = d ln E[phi(h)^2] / d ln S_(l-1)` (1 for ReLU: a random walk; below
/// 1 where the length map contracts) and `xi_l` has variance `v_l` and mean
/// `-v_l / 2`. The measured `E[h_l^2]` adds the chi-square noise of the
/// layer's own sum (`2/n`), correlated with `xi_l`. Backward, each layer
/// multiplies by `(1/n) sum_i phi'(h_i)^2 g_i^2` with `g = W^T delta`:
/// relative variance `(3 E[phi'^4] / E[phi'^2]^2 - 1) / n` (5/n for ReLU
/// again), and `E[phi'^2]` follows the forward fluctuation of `q` where it
/// depends on `q`.
///
/// These are the fluctuations of a single input: an upper bound for the
/// batch averages the simulation measures (averaging over inputs that are
/// not perfectly correlated only lowers the variance), tight deep in a
/// network, where the inputs' correlation approaches 1 and the backward
/// products become so anisotropic that independent output gradients no
/// longer average out the weights' noise. Convolutions use `width`
/// channels as `n` (also a bound). `sw2` (`fan_in Var[W]`) and `q` are per
/// layer (biases enter through `q`), `x2_in[l]` is the mean field's
/// `E[x_(l-1)^2]` (the input's measured one for `l = 0`).
pub fn finite_width_noise(
    act: Activation,
    width: usize,
    sw2: &[f64],
    q: &[f64],
    x2_in: &[f64],
) -> (Fluctuation, Fluctuation) {
    let depth = q.len();
    let zero = Fluctuation { sd: 0.0, shift: 0.0 };
    if depth < 2 || width == 0 {
        return (zero, zero);
    }
    let n = width as f64;
    let k = act.kinks();
    let var_eta = 2.0 / n; // ln of a mean of n squared Gaussians
    // Per layer: a (slope of ln S), b (d ln q / d ln S_prev), v (xi's
    // variance), c (Cov(xi, eta)), vb (backward variance), d (d ln E[phi'^2] / d ln q).
    let mut a = vec![0.0; depth];
    let mut b = vec![0.0; depth];
    let mut v = vec![0.0; depth];
    let mut c = vec![0.0; depth];
    let mut vb = vec![0.0; depth];
    let mut d = vec![0.0; depth];
    for l in 0..depth {
        let ql = q[l];
        if !(ql.is_finite() && ql > 0.0) {
            continue;
        }
        let s = ql.sqrt();
        let m2 = second_moment(act, ql);
        let m4 = expect(|x, _| act.value(x).powi(4), 0.0, s, k);
        let z2 = expect(|x, z| z * z * act.value(x).powi(2), 0.0, s, k);
        b[l] = (sw2[l] * x2_in[l] / ql).clamp(0.0, 1.0);
        if m2 > 0.0 && m2.is_finite() {
            a[l] = b[l] * ql * second_moment_slope(act, ql) / m2;
            v[l] = (m4 / (m2 * m2) - 1.0).max(0.0) / n;
            c[l] = (z2 / m2 - 1.0) / n;
        }
        let d2 = derivative_second_moment(act, ql);
        let d4 = expect(|x, _| act.derivative(x).powi(4), 0.0, s, k);
        if d2 > 0.0 && d2.is_finite() {
            vb[l] = (3.0 * d4 / (d2 * d2) - 1.0).max(0.0) / n;
            let h = 1e-4;
            let (lo, hi) =
                (derivative_second_moment(act, ql * (1.0 - h)), derivative_second_moment(act, ql * (1.0 + h)));
            if lo > 0.0 && hi > 0.0 {
                d[l] = (hi / lo).ln() / ((1.0 + h) / (1.0 - h)).ln();
            }
        }
    }
    // Forward: D = ln M_L - ln M_1 = b_L eps_(L-1) + eta_L - eta_1, with
    // eps_(L-1) = sum_k P(k+1..L-1) xi_k and Cov(eps_(L-1), eta_1) = P(2..L-1) c_1.
    let last = depth - 1;
    let (mut var_f, mut shift_f) = (2.0 * var_eta, 0.0);
    let mut p = 1.0; // prod a_m for m = k+1..L-1 (0-based: k+1..=last-1)
    for kk in (0..last).rev() {
        let coef = b[last] * p;
        var_f += coef * coef * v[kk];
        shift_f -= coef * v[kk] / 2.0;
        if kk == 0 {
            var_f -= 2.0 * coef * c[0];
        }
        p *= a[kk];
    }
    // Backward: D = sum_(l < L) [zeta_l + d_l (b_l eps_(l-1) + eta_l)]; the
    // eps part regrouped by the xi_k it contains: C_k = w_(k+1) + a_(k+1) C_(k+1), w = d b.
    let (mut var_b, mut shift_b) = (0.0, 0.0);
    let mut ck = 0.0; // C_k for the current k, built from the top
    for kk in (0..last).rev() {
        var_b += vb[kk] + d[kk] * d[kk] * var_eta + ck * ck * v[kk] + 2.0 * ck * d[kk] * c[kk];
        shift_b -= vb[kk] / 2.0 + ck * v[kk] / 2.0 + d[kk] * var_eta / 2.0;
        ck = d[kk] * b[kk] + a[kk] * ck;
    }
    (
        Fluctuation { sd: var_f.max(0.0).sqrt(), shift: shift_f },
        Fluctuation { sd: var_b.max(0.0).sqrt(), shift: shift_b },
    )
}

/// A measured change larger than this many standard deviations of the
/// finite-width noise is significant.
pub const SIGNIFICANCE: f64 = 3.0;

/// How a direction's measured change compares with the mean field and the
/// finite-width noise around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The mean field predicts no trend (within a factor 2 over the depth)
    /// and the run is within [`SIGNIFICANCE`] standard deviations of it.
    StableWithinNoise,
    /// The run shows the mean field's trend, within the noise.
    AsPredicted,
    /// The run differs from the mean field by more than the noise explains.
    BeyondNoise,
    /// The signal left the range of `f32` (see [`Trend::OutOfRange`]).
    OutOfRange,
}

/// One direction (forward or backward) of a run, judged.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Assessment {
    /// The measured trend's shape.
    pub measured: Trend,
    /// The mean field's trend for the same network.
    pub predicted: Trend,
    /// Measured `ln(last / first)` (in the direction of travel).
    pub log_total: f64,
    /// Its expected value at this width: the mean field's plus [`Fluctuation::shift`].
    pub expected_log_total: f64,
    /// Standard deviation of `ln(last / first)` from finite width.
    pub noise: f64,
    /// `(log_total - expected_log_total) / noise`.
    pub z: f64,
    /// The verdict.
    pub verdict: Verdict,
}

fn assess_one(values: &[f64], predicted: &[f64], noise: Fluctuation) -> Assessment {
    let measured = Trend::of(values);
    let pred = Trend::of(predicted);
    let ratio = |v: &[f64]| (v[v.len() - 1] / v[0]).ln();
    let log_total = ratio(values);
    let expected_log_total = ratio(predicted) + noise.shift;
    let diff = log_total - expected_log_total;
    let z = if noise.sd > 0.0 {
        diff / noise.sd
    } else if diff == 0.0 {
        0.0
    } else {
        diff.signum() * f64::INFINITY
    };
    let verdict = if matches!(measured, Trend::OutOfRange { .. }) {
        Verdict::OutOfRange
    } else if z.is_nan() || z.abs() <= SIGNIFICANCE {
        if pred.is_stable() && !z.is_nan() { Verdict::StableWithinNoise } else { Verdict::AsPredicted }
    } else {
        Verdict::BeyondNoise
    };
    Assessment { measured, predicted: pred, log_total, expected_log_total, noise: noise.sd, z, verdict }
}

/// The forward and backward verdicts of a run: each direction's measured
/// change against the mean field's, in units of the finite-width noise.
pub fn assess(run: &Run) -> (Assessment, Assessment) {
    let fwd: Vec<f64> = run.layers.iter().map(|l| l.second_moment).collect();
    let pf: Vec<f64> = run.layers.iter().map(|l| l.predicted_second_moment).collect();
    let bwd: Vec<f64> = run.layers.iter().rev().map(|l| l.grad_second_moment).collect();
    let pb: Vec<f64> = run.layers.iter().rev().map(|l| l.predicted_grad_second_moment).collect();
    (assess_one(&fwd, &pf, run.forward_noise), assess_one(&bwd, &pb, run.backward_noise))
}

/// How a signal's second moment changes over depth.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Trend {
    /// Within a factor of 2 over the whole depth.
    Stable {
        /// Last / first.
        total: f64,
    },
    /// Changes in a few layers, then holds: the median change per layer
    /// is below 2% (the length map reaching a fixed point `q*` other than
    /// the starting value, or gradients through that transient).
    Settles {
        /// The last value.
        level: f64,
        /// Last / first.
        total: f64,
        /// Median factor per layer.
        steady: f64,
    },
    /// Keeps changing, at clearly different rates in the two halves (a
    /// power law, like tanh's approach to `q* = 0` at `sigma_w = 1`).
    Uneven {
        /// Last / first.
        total: f64,
        /// Factor per layer over the first half.
        first: f64,
        /// Factor per layer over the second half.
        second: f64,
    },
    /// Changes by a roughly constant factor per layer.
    Exponential {
        /// Geometric-mean factor per layer.
        per_layer: f64,
        /// Last / first.
        total: f64,
    },
    /// Leaves the range of `f32`: infinite or NaN (`overflow`) or exactly
    /// zero, from the `index`-th value on (0-based, in the direction of travel).
    OutOfRange {
        /// First value out of range.
        index: usize,
        /// Overflow (true) or underflow to zero (false).
        overflow: bool,
        /// Geometric-mean factor per layer before it happened (NaN if unknown).
        per_layer: f64,
    },
}

impl Trend {
    /// Classify a sequence of positive values (first to last in the
    /// direction the signal travels).
    pub fn of(values: &[f64]) -> Trend {
        let n = values.len();
        if n < 2 {
            return Trend::Stable { total: 1.0 };
        }
        if let Some(index) = values.iter().position(|v| !v.is_finite() || *v <= 0.0) {
            let overflow = !values[index].is_finite() || values[index] > 0.0;
            let per_layer =
                if index >= 2 { (values[index - 1] / values[0]).powf(1.0 / (index - 1) as f64) } else { f64::NAN };
            return Trend::OutOfRange { index, overflow, per_layer };
        }
        let total = values[n - 1] / values[0];
        if (0.5..=2.0).contains(&total) {
            return Trend::Stable { total };
        }
        let mut logs: Vec<f64> = values.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        logs.sort_by(f64::total_cmp);
        let median = if logs.len() % 2 == 1 {
            logs[logs.len() / 2]
        } else {
            0.5 * (logs[logs.len() / 2 - 1] + logs[logs.len() / 2])
        };
        if median.abs() < 1.02f64.ln() {
            return Trend::Settles { level: values[n - 1], total, steady: median.exp() };
        }
        let mid = n / 2;
        let first = (values[mid] / values[0]).ln() / mid.max(1) as f64;
        let second = (values[n - 1] / values[mid]).ln() / (n - 1 - mid).max(1) as f64;
        if (first - second).abs() > 0.5 * first.abs().max(second.abs()) {
            Trend::Uneven { total, first: first.exp(), second: second.exp() }
        } else {
            Trend::Exponential { per_layer: total.powf(1.0 / (n - 1) as f64), total }
        }
    }

    /// Whether it is [`Trend::Stable`].
    pub fn is_stable(&self) -> bool {
        matches!(self, Trend::Stable { .. })
    }

    /// Last / first.
    pub fn total(&self) -> f64 {
        match *self {
            Trend::Stable { total }
            | Trend::Settles { total, .. }
            | Trend::Uneven { total, .. }
            | Trend::Exponential { total, .. } => total,
            Trend::OutOfRange { overflow, .. } => {
                if overflow {
                    f64::INFINITY
                } else {
                    0.0
                }
            }
        }
    }
}

/// What a run shows: the forward signal and the gradients.
pub fn trends(run: &Run) -> (Trend, Trend) {
    let fwd: Vec<f64> = run.layers.iter().map(|l| l.second_moment).collect();
    let bwd: Vec<f64> = run.layers.iter().rev().map(|l| l.grad_second_moment).collect();
    (Trend::of(&fwd), Trend::of(&bwd))
}

/// What the mean-field prediction for the same network shows.
pub fn predicted_trends(run: &Run) -> (Trend, Trend) {
    let fwd: Vec<f64> = run.layers.iter().map(|l| l.predicted_second_moment).collect();
    let bwd: Vec<f64> = run.layers.iter().rev().map(|l| l.predicted_grad_second_moment).collect();
    (Trend::of(&fwd), Trend::of(&bwd))
}

// ---------------------------------------------------------------------------
// Pre-norm residual stacks.

/// How the output projection of every residual branch is scaled: a factor
/// `s(l, L)` of the 0-based block index `l` and the number of blocks `L`,
/// written as an expression (`none`, `1/sqrt(2L)`, `1/sqrt(2(l+1))`, `2/L`,
/// `0.5`, ...: numbers, `l`, `L`, `+ - * /`, `^` or `**`, `sqrt(...)`,
/// parentheses; a number or `)` followed by a name or `(` multiplies).
///
/// ```
/// use varinit_theory::propagate::DepthScale;
/// let s: DepthScale = "1/sqrt(2(l+1))".parse()?;
/// assert_eq!(s.factor(0, 12), 1.0 / 2f64.sqrt());
/// assert_eq!("1/sqrt(2L)".parse::<DepthScale>()?.factor(5, 8), 0.25);
/// assert_eq!("none".parse::<DepthScale>()?.factor(5, 8), 1.0);
/// # Ok::<(), varinit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DepthScale {
    text: String,
    expr: Expr,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Num(f64),
    Layer,
    Depth,
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Sqrt(Box<Expr>),
}

impl Expr {
    fn eval(&self, l: f64, depth: f64) -> f64 {
        match self {
            Expr::Num(x) => *x,
            Expr::Layer => l,
            Expr::Depth => depth,
            Expr::Neg(e) => -e.eval(l, depth),
            Expr::Sqrt(e) => e.eval(l, depth).sqrt(),
            Expr::Bin(op, a, b) => {
                let (x, y) = (a.eval(l, depth), b.eval(l, depth));
                match op {
                    '+' => x + y,
                    '-' => x - y,
                    '*' => x * y,
                    '/' => x / y,
                    _ => x.powf(y),
                }
            }
        }
    }
}

struct ScaleParser<'a> {
    src: &'a str,
    pos: usize,
}

impl ScaleParser<'_> {
    fn err(&self, reason: &str) -> Error {
        usage("branch scale", self.src, &format!("{reason} at character {}", self.pos + 1))
    }
    fn skip(&mut self) {
        while self.src[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }
    fn peek(&mut self) -> Option<char> {
        self.skip();
        self.src[self.pos..].chars().next()
    }
    fn eat(&mut self, s: &str) -> bool {
        self.skip();
        if self.src[self.pos..].starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }
    fn expr(&mut self) -> Result<Expr> {
        let mut e = self.term()?;
        loop {
            if self.eat("+") {
                e = Expr::Bin('+', Box::new(e), Box::new(self.term()?));
            } else if self.eat("-") {
                e = Expr::Bin('-', Box::new(e), Box::new(self.term()?));
            } else {
                return Ok(e);
            }
        }
    }
    fn term(&mut self) -> Result<Expr> {
        let mut e = self.unary()?;
        loop {
            if self.eat("*") {
                e = Expr::Bin('*', Box::new(e), Box::new(self.unary()?));
            } else if self.eat("/") {
                e = Expr::Bin('/', Box::new(e), Box::new(self.unary()?));
            } else if matches!(self.peek(), Some(c) if c == '(' || c.is_ascii_alphabetic() || c.is_ascii_digit() || c == '.')
            {
                e = Expr::Bin('*', Box::new(e), Box::new(self.power()?));
            } else {
                return Ok(e);
            }
        }
    }
    fn unary(&mut self) -> Result<Expr> {
        if self.eat("-") {
            return Ok(Expr::Neg(Box::new(self.unary()?)));
        }
        self.power()
    }
    fn power(&mut self) -> Result<Expr> {
        let base = self.atom()?;
        if self.eat("**") || self.eat("^") {
            return Ok(Expr::Bin('^', Box::new(base), Box::new(self.unary()?)));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<Expr> {
        match self.peek() {
            Some('(') => {
                self.pos += 1;
                let e = self.expr()?;
                if !self.eat(")") {
                    return Err(self.err("expected )"));
                }
                Ok(e)
            }
            Some(c) if c.is_ascii_digit() || c == '.' => {
                let rest = &self.src[self.pos..];
                let mut end = rest.find(|ch: char| !(ch.is_ascii_digit() || ch == '.')).unwrap_or(rest.len());
                // an exponent: 1e-3
                let tail = &rest[end..];
                if (tail.starts_with('e') || tail.starts_with('E')) && tail.len() > 1 {
                    let t = &tail[1..];
                    let digits_at = usize::from(t.starts_with('-') || t.starts_with('+'));
                    if t[digits_at..].starts_with(|ch: char| ch.is_ascii_digit()) {
                        let more = t[digits_at..].find(|ch: char| !ch.is_ascii_digit()).unwrap_or(t.len() - digits_at);
                        end += 1 + digits_at + more;
                    }
                }
                let x: f64 = rest[..end].parse().map_err(|_| self.err("not a number"))?;
                self.pos += end;
                Ok(Expr::Num(x))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let rest = &self.src[self.pos..];
                let end = rest.find(|ch: char| !ch.is_ascii_alphanumeric() && ch != '_').unwrap_or(rest.len());
                let name = &rest[..end];
                self.pos += end;
                match name {
                    "l" => Ok(Expr::Layer),
                    "L" => Ok(Expr::Depth),
                    "sqrt" => {
                        if !self.eat("(") {
                            return Err(self.err("expected ( after sqrt"));
                        }
                        let e = self.expr()?;
                        if !self.eat(")") {
                            return Err(self.err("expected )"));
                        }
                        Ok(Expr::Sqrt(Box::new(e)))
                    }
                    _ => {
                        self.pos -= end;
                        Err(self.err(&format!(
                            "unknown name {name:?} (use l, the 0-based block index, L, the number of blocks, and sqrt)"
                        )))
                    }
                }
            }
            Some(c) => Err(self.err(&format!("unexpected {c:?}"))),
            None => Err(self.err("unexpected end")),
        }
    }
}

impl std::str::FromStr for DepthScale {
    type Err = Error;
    fn from_str(s: &str) -> Result<DepthScale> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("none") {
            return Ok(DepthScale { text: "none".into(), expr: Expr::Num(1.0) });
        }
        let mut p = ScaleParser { src: t, pos: 0 };
        let expr = p.expr()?;
        if p.peek().is_some() {
            return Err(p.err("unexpected text"));
        }
        Ok(DepthScale { text: t.to_string(), expr })
    }
}

impl DepthScale {
    /// The factor on block `l`'s (0-based) output projection in a stack of `depth` blocks.
    pub fn factor(&self, l: usize, depth: usize) -> f64 {
        self.expr.eval(l as f64, depth as f64)
    }

    /// The expression as written (`none` for no scaling).
    pub fn label(&self) -> &str {
        &self.text
    }

    /// Check that the factor is finite and non-negative on every block of a `depth`-block stack.
    pub fn validate(&self, depth: usize) -> Result<()> {
        for l in 0..depth {
            let f = self.factor(l, depth);
            if !(f.is_finite() && f >= 0.0) {
                return Err(usage(
                    "branch scale",
                    &self.text,
                    &format!("is {f} at block l = {l} of L = {depth}: must be a finite number >= 0"),
                ));
            }
        }
        Ok(())
    }
}

/// A pre-norm residual stack: `x_l = x_(l-1) + s(l-1, L) W_out,l phi(W_in,l
/// rmsnorm(x_(l-1)))`, `L = depth` blocks of `width` units (hidden width
/// the same), no biases; `rmsnorm(x) = x / sqrt(mean(x^2) + 1e-6)` over the
/// units of each input, without a learnable scale (its gain is 1 at
/// initialization). The inputs are `batch` vectors `N(0, 1)` (tensor
/// `input`); weights are tensors `block{l}.w_in` and `block{l}.w_out`
/// (1-based `l`, shape `(width, width)`), drawn from the scheme, and
/// `w_out` multiplied by the depth scale.
#[derive(Debug, Clone, PartialEq)]
pub struct ResidualNetwork {
    /// Units of the stream and of the branch's hidden layer (>= 1).
    pub width: usize,
    /// Number of blocks (>= 1).
    pub depth: usize,
    /// Inputs per batch (>= 1).
    pub batch: usize,
    /// Seed of every tensor.
    pub seed: u64,
}

/// RMSNorm's epsilon.
pub const RMS_EPS: f64 = 1e-6;

/// One residual block's measurements and predictions.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResidualLayer {
    /// 1-based block index.
    pub block: usize,
    /// The factor on the output projection.
    pub scale: f64,
    /// Measured `E[x_l^2]`, the stream after the block.
    pub stream: f64,
    /// Predicted `E[x_l^2]`.
    pub predicted_stream: f64,
    /// Measured `E[y^2]`, the branch's output.
    pub branch: f64,
    /// Predicted `E[y^2]`.
    pub predicted_branch: f64,
    /// Measured `E[(dL/dx_(l-1))^2]`, the gradient at the block's input.
    pub grad: f64,
    /// Predicted.
    pub predicted_grad: f64,
}

/// One simulated residual stack.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ResidualRun {
    /// The activation inside the branch.
    pub activation: String,
    /// The weight scheme of both projections.
    pub init: String,
    /// The depth scale of the output projections, as written.
    pub scale: String,
    /// `E[x_0^2]`.
    pub input_second_moment: f64,
    /// `E[(dL/dx_L)^2]`, the output gradient.
    pub output_grad_second_moment: f64,
    /// `sigma_in^2 = width E[W_in^2]`.
    pub sigma_in2: f64,
    /// `sigma_out^2 = width E[W_out^2]` before the depth scale.
    pub sigma_out2: f64,
    /// Per block, first to last.
    pub layers: Vec<ResidualLayer>,
}

/// The mean field of a pre-norm residual stack: `(E[x_l^2], E[y_l^2])` for
/// `l = 1..=depth` and the gradient `E[(dL/dx_(l-1))^2]`, from the input's
/// and the output gradient's second moments. The branch output is
/// uncorrelated with the stream at initialization (`W_out` has mean zero),
/// so variances add: `V_l = V_(l-1) + s_l^2 sigma_out^2 E[phi(sqrt(q) z)^2]`
/// with `q = sigma_in^2 V_(l-1) / (V_(l-1) + eps)` (the norm makes the
/// branch's input unit-scale whatever `V`), and backwards `G_(l-1) = G_l
/// (1 + s_l^2 sigma_out^2 sigma_in^2 E[phi'(sqrt(q) z)^2] (1 - 1/n) /
/// (V_(l-1) + eps))` (the norm divides the gradient by the stream's RMS and
/// removes its radial part, 1 of n directions).
#[allow(clippy::too_many_arguments)]
pub fn residual_mean_field(
    act: Activation,
    width: usize,
    scales: &[f64],
    sigma_in2: f64,
    sigma_out2: f64,
    v0: f64,
    g_out: f64,
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let depth = scales.len();
    let mut v = Vec::with_capacity(depth);
    let mut y = Vec::with_capacity(depth);
    let mut gain = Vec::with_capacity(depth);
    let mut prev = v0;
    for &s in scales {
        let q = sigma_in2 * prev / (prev + RMS_EPS);
        let beta = s * s * sigma_out2 * second_moment(act, q);
        gain.push(
            1.0 + s * s * sigma_out2 * sigma_in2 * derivative_second_moment(act, q) * (1.0 - 1.0 / width as f64)
                / (prev + RMS_EPS),
        );
        y.push(beta);
        prev += beta;
        v.push(prev);
    }
    let mut g = vec![0.0; depth];
    let mut cur = g_out;
    for l in (0..depth).rev() {
        cur *= gain[l];
        g[l] = cur;
    }
    (v, y, g)
}

/// Simulate one pre-norm residual stack.
pub fn simulate_residual(
    net: &ResidualNetwork,
    act: Activation,
    init: &Init,
    scale: &DepthScale,
) -> Result<ResidualRun> {
    let (n, depth, batch) = (net.width, net.depth, net.batch);
    if n == 0 || depth == 0 || batch == 0 {
        return Err(usage("width, depth and batch", format!("{n}, {depth}, {batch}"), "must be at least 1"));
    }
    let bytes = 4.0 * depth as f64 * (4.0 * batch as f64 * n as f64 + 2.0 * (n * n) as f64);
    if bytes > MAX_BYTES {
        return Err(usage(
            "width",
            n,
            &format!("this stack needs about {:.0} GB of memory (at most {:.0} GB)", bytes / 1e9, MAX_BYTES / 1e9),
        ));
    }
    scale.validate(depth)?;
    let unit = Init::Normal { mean: 0.0, std: 1.0 };
    let (x0, _) = draw(net.seed, "input", &unit, &[batch, n])?;
    let input_second_moment = mean_sq(&x0);
    let scales: Vec<f64> = (0..depth).map(|l| scale.factor(l, depth)).collect();
    // Forward, keeping what the backward pass needs.
    let mut x = x0;
    let (mut w_in, mut w_out) = (Vec::with_capacity(depth), Vec::with_capacity(depth));
    let (mut normed, mut rms, mut ders) =
        (Vec::with_capacity(depth), Vec::with_capacity(depth), Vec::with_capacity(depth));
    let (mut stream, mut branch) = (Vec::with_capacity(depth), Vec::with_capacity(depth));
    let (mut sin2, mut sout2) = (0.0, 0.0);
    for l in 1..=depth {
        let (wi, ei) = draw(net.seed, &format!("block{l}.w_in"), init, &[n, n])?;
        let (mut wo, eo) = draw(net.seed, &format!("block{l}.w_out"), init, &[n, n])?;
        if l == 1 {
            (sin2, sout2) = (n as f64 * ei, n as f64 * eo);
        }
        let s = scales[l - 1] as f32;
        for j in 0..n {
            for e in wo.col_mut(j).iter_mut() {
                *e *= s;
            }
        }
        // u = x / rms(x), row by row
        let mut r = vec![0.0f64; batch];
        for j in 0..n {
            for (i, &v) in x.col(j).iter().enumerate() {
                r[i] += f64::from(v) * f64::from(v);
            }
        }
        for v in &mut r {
            *v = (*v / n as f64 + RMS_EPS).sqrt();
        }
        let u = Mat::<f32>::from_fn(batch, n, |i, j| (f64::from(x[(i, j)]) / r[i]) as f32);
        let h = linear(&u, &wi, None);
        let (a, d) = apply(act, &h);
        let y = linear(&a, &wo, None);
        branch.push(mean_sq(&y));
        for j in 0..n {
            let yc = y.col(j).try_as_col_major().expect("contiguous column").as_slice();
            let xc = x.col_mut(j).try_as_col_major_mut().expect("contiguous column").as_slice_mut();
            for (xv, yv) in xc.iter_mut().zip(yc) {
                *xv += yv;
            }
        }
        stream.push(mean_sq(&x));
        w_in.push(wi);
        w_out.push(wo);
        normed.push(u);
        rms.push(r);
        ders.push(d);
    }
    // Backward from g ~ N(0, 1) on x_L.
    let (mut dx, _) = draw(net.seed, "output_grad", &unit, &[batch, n])?;
    let output_grad_second_moment = mean_sq(&dx);
    let mut grad = vec![0.0; depth];
    for l in (0..depth).rev() {
        // da = dx W_out (the scale is inside W_out), dh = da * phi'(h), du = dh W_in
        let mut da = Mat::<f32>::zeros(batch, n);
        matmul(da.as_mut(), Accum::Replace, dx.as_ref(), w_out[l].as_ref(), 1.0f32, FaerPar::Seq);
        hadamard(&mut da, &ders[l]);
        let mut du = Mat::<f32>::zeros(batch, n);
        matmul(du.as_mut(), Accum::Replace, da.as_ref(), w_in[l].as_ref(), 1.0f32, FaerPar::Seq);
        // rmsnorm backward: dx += (du - u mean(du u)) / rms, row by row
        let u = &normed[l];
        let mut dot = vec![0.0f64; batch];
        for j in 0..n {
            for (i, (&g, &uv)) in du.col(j).iter().zip(u.col(j).iter()).enumerate() {
                dot[i] += f64::from(g) * f64::from(uv);
            }
        }
        for j in 0..n {
            for i in 0..batch {
                let back = (f64::from(du[(i, j)]) - f64::from(u[(i, j)]) * dot[i] / n as f64) / rms[l][i];
                dx[(i, j)] += back as f32;
            }
        }
        grad[l] = mean_sq(&dx);
    }
    let (pv, py, pg) =
        residual_mean_field(act, n, &scales, sin2, sout2, input_second_moment, output_grad_second_moment);
    let layers = (0..depth)
        .map(|l| ResidualLayer {
            block: l + 1,
            scale: scales[l],
            stream: stream[l],
            predicted_stream: pv[l],
            branch: branch[l],
            predicted_branch: py[l],
            grad: grad[l],
            predicted_grad: pg[l],
        })
        .collect();
    Ok(ResidualRun {
        activation: act.to_string(),
        init: init.to_string(),
        scale: scale.label().to_string(),
        input_second_moment,
        output_grad_second_moment,
        sigma_in2: sin2,
        sigma_out2: sout2,
        layers,
    })
}

/// Simulate every (activation, scheme, depth scale) triple, in parallel
/// over the triples when `par` is [`Par::Rayon`], in the given order.
pub fn simulate_residual_all(
    net: &ResidualNetwork,
    triples: &[(Activation, Init, DepthScale)],
    par: Par,
) -> Result<Vec<ResidualRun>> {
    match par {
        Par::Seq => triples.iter().map(|(a, i, s)| simulate_residual(net, *a, i, s)).collect(),
        Par::Rayon => triples.par_iter().map(|(a, i, s)| simulate_residual(net, *a, i, s)).collect(),
    }
}

/// How the added stream variance `V_L - V_0` of the mean field changes when
/// the depth doubles (the same scheme and scale at `2 depth` blocks): 2 for
/// variance that grows linearly in depth, 1 for bounded variance.
pub fn depth_doubling_factor(
    act: Activation,
    width: usize,
    scale: &DepthScale,
    depth: usize,
    sigma_in2: f64,
    sigma_out2: f64,
    v0: f64,
) -> f64 {
    let added = |l_total: usize| {
        let s: Vec<f64> = (0..l_total).map(|l| scale.factor(l, l_total)).collect();
        let (v, _, _) = residual_mean_field(act, width, &s, sigma_in2, sigma_out2, v0, 1.0);
        v.last().copied().unwrap_or(v0) - v0
    };
    added(2 * depth) / added(depth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), y> = <x, col2im(y)> for any x, y: the backward pass is
        // the transpose of the forward one.
        let conv = Conv { kernel: 3, size: 5 };
        let (batch, ch) = (2, 3);
        let x = Mat::<f32>::from_fn(batch * 25, ch, |i, j| ((i * 7 + j * 13) % 17) as f32 - 8.0);
        let cols = im2col(&x, conv);
        assert_eq!((cols.nrows(), cols.ncols()), (batch * 25, ch * 9));
        let y = Mat::<f32>::from_fn(cols.nrows(), cols.ncols(), |i, j| ((i * 5 + j * 3) % 11) as f32 - 5.0);
        let back = col2im(&y, ch, conv);
        let dot = |a: &Mat<f32>, b: &Mat<f32>| -> f64 {
            (0..a.ncols())
                .map(|j| (0..a.nrows()).map(|i| f64::from(a[(i, j)]) * f64::from(b[(i, j)])).sum::<f64>())
                .sum()
        };
        assert_eq!(dot(&cols, &y), dot(&x, &back));
        // the centre tap is the image itself
        for i in 0..x.nrows() {
            for c in 0..ch {
                assert_eq!(cols[(i, c * 9 + 4)], x[(i, c)]);
            }
        }
    }

    #[test]
    fn trends() {
        assert!(matches!(Trend::of(&[1.0, 1.1, 0.9, 1.2]), Trend::Stable { .. }));
        let halving: Vec<f64> = (0..20).map(|l| 0.5f64.powi(l)).collect();
        match Trend::of(&halving) {
            Trend::Exponential { per_layer, .. } => assert!((per_layer - 0.5).abs() < 1e-12),
            t => panic!("{t:?}"),
        }
        let power: Vec<f64> = (1..=50).map(|l| 1.0 / l as f64).collect();
        assert!(matches!(Trend::of(&power), Trend::Uneven { .. }), "{:?}", Trend::of(&power));
        let settle: Vec<f64> = (0..50).map(|l| 0.6 + 1.4 * 0.3f64.powi(l)).collect();
        assert!(matches!(Trend::of(&settle), Trend::Settles { .. }));
        assert!(matches!(Trend::of(&[1.0, 1e30, f64::INFINITY]), Trend::OutOfRange { index: 2, overflow: true, .. }));
        assert!(matches!(Trend::of(&[1.0, 0.0]), Trend::OutOfRange { index: 1, overflow: false, .. }));
    }
}
