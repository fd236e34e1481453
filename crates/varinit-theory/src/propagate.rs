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

use crate::meanfield::{derivative_second_moment, second_moment};
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
    Error::InvalidParameter {
        scheme: "propagate".into(),
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
                    &format!("the data set has only {rows} rows; use --batch {rows} or fewer"),
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
    Ok(Run { activation: act.to_string(), init: init.label(), input_second_moment, layers })
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
