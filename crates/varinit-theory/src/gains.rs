//! Numeric gains: what the variance argument says each activation's gain
//! should be, next to PyTorch's table.
//!
//! For `z ~ N(0, 1)`:
//!
//! - forward gain `1 / sqrt(E[phi(z)^2])`: with `Var[W] = gain^2 / fan_in`
//!   a layer maps unit second moment to unit second moment (`q* = 1` is a
//!   fixed point of the length map with `sigma_b = 0`);
//! - backward gain `1 / sqrt(E[phi'(z)^2])`: the same for the gradient;
//! - `chi_1` at the forward gain, `(forward / backward)^2`: the per-layer
//!   growth of gradients when the forward signal is kept at 1;
//! - the edge of chaos at `sigma_b = 0`: the `sigma_w` where `chi_1 = 1` at
//!   the length map's fixed point reached from `q = 1`, and that `q*`.

use crate::meanfield::{CriticalSearch, critical, derivative_second_moment, second_moment};
use varinit::error::Result;
use varinit::gain::Activation;

/// One row of `varinit gain --numeric`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NumericGain {
    /// The activation, as written back.
    pub activation: String,
    /// PyTorch's `calculate_gain`, when PyTorch has one.
    pub torch: Option<f64>,
    /// `1 / sqrt(E[phi(z)^2])`.
    pub forward: f64,
    /// `1 / sqrt(E[phi'(z)^2])`.
    pub backward: f64,
    /// `(forward / backward)^2`.
    pub chi1_at_forward: f64,
    /// `sigma_w` at the edge of chaos with `sigma_b = 0`, if there is one.
    pub edge_of_chaos: Option<f64>,
    /// `q*` there.
    pub edge_q_star: Option<f64>,
    /// Where PyTorch's gain differs from the forward gain by more than 1%: why.
    pub note: Option<String>,
}

/// The numeric gains of one activation.
///
/// ```
/// use varinit::Activation;
/// let g = varinit_theory::gains::numeric_gain(Activation::Relu)?;
/// assert!((g.forward - 2f64.sqrt()).abs() < 1e-14);
/// assert!((g.edge_of_chaos.unwrap() - 2f64.sqrt()).abs() < 1e-9);
/// # Ok::<(), varinit::Error>(())
/// ```
pub fn numeric_gain(act: Activation) -> Result<NumericGain> {
    let e2 = second_moment(act, 1.0);
    let d2 = derivative_second_moment(act, 1.0);
    let forward = 1.0 / e2.sqrt();
    let backward = 1.0 / d2.sqrt();
    let torch = act.torch_gain().ok();
    let (edge_of_chaos, edge_q_star) = match critical(act, 0.0, 1.0)? {
        CriticalSearch::Found(p) => (Some(p.sigma_w2.sqrt()), Some(p.q_star)),
        CriticalSearch::NotFound { .. } => (None, None),
    };
    let f = |x: f64| format!("{x:.4}");
    let edge_text = match (edge_of_chaos, edge_q_star) {
        (Some(s), Some(q)) => format!("the edge of chaos (sigma_b = 0) is sigma_w = {} with q* = {}", f(s), f(q)),
        _ => "there is no edge of chaos at sigma_b = 0".into(),
    };
    let note = match torch {
        Some(t) if (t / forward - 1.0).abs() > 0.01 => Some(match act {
            Activation::Tanh => format!(
                "tanh: PyTorch's 5/3 is empirical; {} keeps E[h^2] = 1 (then chi_1 = {}), {}",
                f(forward),
                f(forward * forward / (backward * backward)),
                edge_text
            ),
            Activation::Selu => format!(
                "selu: PyTorch's 3/4 is empirical (for gradient stability); self-normalisation needs gain {} \
                 (LeCun normal: E[selu(z)^2] = 1, chi_1 = {})",
                f(forward),
                f(forward * forward / (backward * backward))
            ),
            _ => format!(
                "{act}: PyTorch's {} differs from the variance-preserving {} (backward {}); {}",
                f(t),
                f(forward),
                f(backward),
                edge_text
            ),
        }),
        _ => None,
    };
    Ok(NumericGain {
        activation: act.to_string(),
        torch,
        forward,
        backward,
        chi1_at_forward: (forward / backward).powi(2),
        edge_of_chaos,
        edge_q_star,
        note,
    })
}
