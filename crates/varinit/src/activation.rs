//! Values and derivatives of every [`Activation`], and where they have kinks.
//!
//! Everything is computed in `f64` through the `libm` crate (a pure-Rust
//! port of musl's math library), so the numbers do not depend on the
//! platform's C library.

use crate::gain::{Activation, SELU_ALPHA, SELU_LAMBDA};
use crate::special::{norm_cdf, phi};

/// sqrt(2 / pi), the constant inside GELU's tanh approximation.
const GELU_TANH_C: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_TANH_A: f64 = 0.044_715;

/// The logistic sigmoid, without overflow for any input.
pub fn sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + libm::exp(-x))
    } else {
        let e = libm::exp(x);
        e / (1.0 + e)
    }
}

/// ln(1 + e^x), without overflow or loss of precision for any input.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + libm::log1p(libm::exp(-x.abs()))
}

impl Activation {
    /// phi(x), the activation's value.
    ///
    /// ```
    /// use varinit::Activation;
    /// assert_eq!(Activation::Relu.value(-2.0), 0.0);
    /// assert_eq!(Activation::HardTanh.value(3.0), 1.0);
    /// assert!((Activation::Gelu.value(1.0) - 0.841_344_746_068_543).abs() < 1e-15);
    /// ```
    pub fn value(&self, x: f64) -> f64 {
        match *self {
            Activation::Linear => x,
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => libm::tanh(x),
            Activation::Relu => x.max(0.0),
            Activation::LeakyRelu { negative_slope } => {
                if x > 0.0 {
                    x
                } else {
                    negative_slope * x
                }
            }
            Activation::Selu => SELU_LAMBDA * elu(x, SELU_ALPHA),
            Activation::Gelu => x * norm_cdf(x),
            Activation::GeluTanh => 0.5 * x * (1.0 + libm::tanh(GELU_TANH_C * (x + GELU_TANH_A * x * x * x))),
            Activation::Silu => x * sigmoid(x),
            Activation::Elu { alpha } => elu(x, alpha),
            Activation::Softplus => softplus(x),
            Activation::Mish => x * libm::tanh(softplus(x)),
            Activation::HardTanh => x.clamp(-1.0, 1.0),
        }
    }

    /// phi'(x), the derivative. At a kink it is the right-hand derivative
    /// for x > kink and the left-hand one otherwise, as PyTorch's autograd
    /// does for ReLU (relu'(0) = 0); a single point carries no Gaussian mass,
    /// so expectations do not depend on this choice.
    ///
    /// ```
    /// use varinit::Activation;
    /// assert_eq!(Activation::Relu.derivative(0.0), 0.0);
    /// assert_eq!(Activation::Tanh.derivative(0.0), 1.0);
    /// assert_eq!(Activation::Sigmoid.derivative(0.0), 0.25);
    /// ```
    pub fn derivative(&self, x: f64) -> f64 {
        match *self {
            Activation::Linear => 1.0,
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (1.0 - s)
            }
            Activation::Tanh => {
                let t = libm::tanh(x);
                1.0 - t * t
            }
            Activation::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::LeakyRelu { negative_slope } => {
                if x > 0.0 {
                    1.0
                } else {
                    negative_slope
                }
            }
            Activation::Selu => SELU_LAMBDA * elu_derivative(x, SELU_ALPHA),
            Activation::Gelu => norm_cdf(x) + x * phi(x),
            Activation::GeluTanh => {
                let u = GELU_TANH_C * (x + GELU_TANH_A * x * x * x);
                let t = libm::tanh(u);
                let du = GELU_TANH_C * (1.0 + 3.0 * GELU_TANH_A * x * x);
                0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du
            }
            Activation::Silu => {
                let s = sigmoid(x);
                s * (1.0 + x * (1.0 - s))
            }
            Activation::Elu { alpha } => elu_derivative(x, alpha),
            Activation::Softplus => sigmoid(x),
            Activation::Mish => {
                let t = libm::tanh(softplus(x));
                t + x * (1.0 - t * t) * sigmoid(x)
            }
            Activation::HardTanh => {
                if x.abs() < 1.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }

    /// `(phi(x), phi'(x))` together, sharing the transcendental functions
    /// (the simulation's inner loop); equal to `(value(x), derivative(x))`.
    pub fn value_and_derivative(&self, x: f64) -> (f64, f64) {
        match *self {
            Activation::Tanh => {
                let t = libm::tanh(x);
                (t, 1.0 - t * t)
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                (s, s * (1.0 - s))
            }
            Activation::Silu => {
                let s = sigmoid(x);
                (x * s, s * (1.0 + x * (1.0 - s)))
            }
            Activation::Relu => {
                if x > 0.0 {
                    (x, 1.0)
                } else {
                    (0.0, 0.0)
                }
            }
            _ => (self.value(x), self.derivative(x)),
        }
    }

    /// The points where phi or phi' is not smooth (empty for smooth
    /// activations). Gaussian expectations split their integrals there.
    pub fn kinks(&self) -> &'static [f64] {
        match self {
            Activation::Relu | Activation::LeakyRelu { .. } | Activation::Selu | Activation::Elu { .. } => &[0.0],
            Activation::HardTanh => &[-1.0, 1.0],
            _ => &[],
        }
    }

    /// Whether phi' tends to 0 on both sides (tanh, sigmoid, hard_tanh):
    /// such units can saturate.
    pub fn saturates(&self) -> bool {
        matches!(self, Activation::Tanh | Activation::Sigmoid | Activation::HardTanh)
    }

    /// Every activation of the extended set with its default parameter, in
    /// a fixed order (the rows of `varinit gain --numeric`).
    pub fn all() -> [Activation; 13] {
        [
            Activation::Linear,
            Activation::Relu,
            Activation::LeakyRelu { negative_slope: crate::gain::LEAKY_RELU_DEFAULT_SLOPE },
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Gelu,
            Activation::GeluTanh,
            Activation::Silu,
            Activation::Elu { alpha: 1.0 },
            Activation::Selu,
            Activation::Softplus,
            Activation::Mish,
            Activation::HardTanh,
        ]
    }
}

fn elu(x: f64, alpha: f64) -> f64 {
    if x > 0.0 { x } else { alpha * libm::expm1(x) }
}

fn elu_derivative(x: f64, alpha: f64) -> f64 {
    if x > 0.0 { 1.0 } else { alpha * libm::exp(x) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central difference with a step suited to f64.
    fn numeric_derivative(a: Activation, x: f64) -> f64 {
        let h = 1e-6 * (1.0 + x.abs());
        (a.value(x + h) - a.value(x - h)) / (2.0 * h)
    }

    #[test]
    fn derivatives_match_finite_differences() {
        for a in Activation::all() {
            for i in -80..=80 {
                let x = i as f64 * 0.1 + 0.013;
                if a.kinks().iter().any(|k| (x - k).abs() < 1e-3) {
                    continue;
                }
                let (d, n) = (a.derivative(x), numeric_derivative(a, x));
                assert_eq!(a.value_and_derivative(x), (a.value(x), d), "{a} at {x}");
                assert!((d - n).abs() < 1e-7 * (1.0 + d.abs()), "{a} at {x}: {d} vs {n}");
            }
        }
    }

    #[test]
    fn known_values() {
        assert_eq!(Activation::Selu.value(1.0), SELU_LAMBDA);
        assert!((Activation::Selu.value(-1e3) + SELU_LAMBDA * SELU_ALPHA).abs() < 1e-15);
        assert!((Activation::Softplus.value(0.0) - std::f64::consts::LN_2).abs() < 1e-16);
        assert_eq!(Activation::Softplus.value(800.0), 800.0);
        assert!(Activation::Softplus.value(-800.0) >= 0.0);
        assert!((Activation::Silu.value(-800.0)).abs() < 1e-300);
        // values from torch.nn.functional in float64
        assert!((Activation::Mish.value(1.0) - 0.865_098_388_267_310_3).abs() < 1e-15);
        assert!((Activation::GeluTanh.value(1.0) - 0.841_191_990_608_276_8).abs() < 1e-15);
        assert_eq!(Activation::LeakyRelu { negative_slope: 0.2 }.value(-1.0), -0.2);
        assert!((Activation::Elu { alpha: 0.5 }.value(-1.0) + 0.5 * (1.0 - (-1f64).exp())).abs() < 1e-16);
    }
}
