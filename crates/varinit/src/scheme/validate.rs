//! Validation of a scheme's parameters and resolution to a concrete
//! distribution for a shape.

use super::distribution::{ResolveOptions, Resolved};
use super::{Family, Init, TRUNCATION_STD_CORRECTION, VsDistribution, fmt_num};
use crate::error::{Error, Result, shape_text};
use crate::fan::{FanMode, Fans};
use crate::gain::{TORCH_GAIN_NAMES, calculate_gain};
use crate::shape::Shape;
use crate::special;

impl Init {
    /// Check the parameters: finite numbers, std > 0,
    /// a < b, sparsity in [0, 1], groups >= 1, gains > 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |param: &str, value: f64, reason: &str| {
            Err(Error::InvalidParameter {
                scheme: self.name().into(),
                param: param.into(),
                value: fmt_num(value),
                reason: reason.into(),
            })
        };
        let finite = |param: &str, v: f64| if v.is_finite() { Ok(()) } else { bad(param, v, "must be finite") };
        let positive = |param: &str, v: f64| {
            finite(param, v)?;
            if v > 0.0 { Ok(()) } else { bad(param, v, "must be > 0") }
        };
        match *self {
            Init::Uniform { a, b } => {
                finite("a", a)?;
                finite("b", b)?;
                if a >= b {
                    return bad("b", b, &format!("must be greater than a = {}", fmt_num(a)));
                }
                if !(b - a).is_finite() {
                    return bad("b", b, "b - a overflows");
                }
            }
            Init::Normal { mean, std } => {
                finite("mean", mean)?;
                positive("std", std)?;
            }
            Init::TruncNormal { mean, std, a, b } => {
                finite("mean", mean)?;
                positive("std", std)?;
                if a.is_nan() || a == f64::INFINITY {
                    return bad("a", a, "must be a number below b (may be -inf)");
                }
                if b.is_nan() || b == f64::NEG_INFINITY {
                    return bad("b", b, "must be a number above a (may be inf)");
                }
                if a >= b {
                    return bad("b", b, &format!("must be greater than a = {}", fmt_num(a)));
                }
                let (alpha, beta) = ((a - mean) / std, (b - mean) / std);
                if special::norm_mass(alpha, beta).is_nan() || special::norm_mass(alpha, beta) <= 0.0 {
                    return bad(
                        "a",
                        a,
                        &format!(
                            "[a, b] = [{}, {}] has probability 0 under N({}, {}^2) in double precision",
                            fmt_num(a),
                            fmt_num(b),
                            fmt_num(mean),
                            fmt_num(std)
                        ),
                    );
                }
            }
            Init::Constant { value } => finite("val", value)?,
            Init::Eye { gain } => finite("gain", gain)?,
            Init::Dirac { groups } => {
                if groups == 0 {
                    return bad("groups", 0.0, "must be >= 1");
                }
            }
            Init::Xavier { gain, .. } | Init::Orthogonal { gain } | Init::DeltaOrthogonal { gain } => {
                positive("gain", gain)?
            }
            Init::Kaiming { a, nonlinearity, .. } => {
                finite("a", a)?;
                if !TORCH_GAIN_NAMES.contains(&nonlinearity) {
                    return Err(Error::UnsupportedNonlinearity { name: nonlinearity.into(), suggestion: None });
                }
            }
            Init::Keras { .. } | Init::TorchDefault | Init::TorchDefaultBias { .. } => {}
            Init::VarianceScaling { scale, .. } | Init::JaxVarianceScaling { scale, .. } => positive("scale", scale)?,
            Init::Sparse { sparsity, std } => {
                finite("sparsity", sparsity)?;
                if !(0.0..=1.0).contains(&sparsity) {
                    return bad("sparsity", sparsity, "must be in [0, 1]");
                }
                positive("std", std)?;
            }
        }
        Ok(())
    }

    /// The gain of a Kaiming scheme, as PyTorch's `calculate_gain(nonlinearity, a)`.
    fn kaiming_gain(a: f64, nonlinearity: &str) -> Result<f64> {
        calculate_gain(nonlinearity, Some(&crate::gain::GainParam::Number(a)))
    }
}

fn bad_shape(what: &str, shape: &Shape, reason: impl Into<String>) -> Error {
    Error::BadShape { what: what.into(), shape: shape_text(shape.dims()), reason: reason.into() }
}

impl Init {
    /// Resolve the scheme for a tensor shape: compute fans, gains and bounds
    /// exactly as the scheme's home framework does.
    pub fn resolve(&self, shape: &Shape, opts: ResolveOptions) -> Result<Resolved> {
        self.validate()?;
        let name = self.name();
        let rank = shape.rank();
        // Shape requirements come first, so a bad shape is reported even for an empty tensor.
        match self {
            Init::Eye { .. } | Init::Sparse { .. } if rank != 2 => {
                return Err(bad_shape(name, shape, "Only tensors with 2 dimensions are supported"));
            }
            Init::Dirac { .. } if !(3..=5).contains(&rank) => {
                return Err(bad_shape(name, shape, "Only tensors with 3, 4, or 5 dimensions are supported"));
            }
            Init::DeltaOrthogonal { .. } if !(3..=5).contains(&rank) => {
                return Err(bad_shape(name, shape, "delta_orthogonal requires a 3-D, 4-D or 5-D shape"));
            }
            Init::Orthogonal { .. } if rank < 2 => {
                return Err(bad_shape(name, shape, "Only tensors with 2 or more dimensions are supported"));
            }
            _ => {}
        }
        let fans = || Fans::of(shape, opts.layout, opts.transposed);
        if shape.numel() == 0 {
            // PyTorch returns early ("Initializing zero-element tensors is a no-op");
            // still report what a fan-based scheme could not compute.
            if matches!(self, Init::Xavier { .. } | Init::Kaiming { .. } | Init::TorchDefault) {
                fans()?;
            }
            return Ok(Resolved::Empty);
        }
        let sqrt3 = 3f64.sqrt();
        Ok(match *self {
            Init::Uniform { a, b } => Resolved::Uniform { low: a, high: b },
            Init::Normal { mean, std } => Resolved::Normal { mean, std },
            Init::TruncNormal { mean, std, a, b } => Resolved::TruncNormal { mean, std, low: a, high: b },
            Init::Constant { value } => Resolved::Constant { value },
            Init::Eye { gain } => Resolved::Eye { rows: shape.dims()[0], cols: shape.dims()[1], value: gain },
            Init::Dirac { groups } => {
                let out = if opts.layout.out_last() { shape.dims()[rank - 1] } else { shape.dims()[0] };
                if out % groups != 0 {
                    return Err(bad_shape(
                        name,
                        shape,
                        format!(
                            "dim {} = {out} must be divisible by groups = {groups}",
                            if opts.layout.out_last() { rank - 1 } else { 0 }
                        ),
                    ));
                }
                Resolved::Dirac { groups, layout: opts.layout }
            }
            Init::Xavier { family, gain } => {
                let f = fans()?;
                // PyTorch: std = gain * sqrt(2 / (fan_in + fan_out)); a = sqrt(3) * std
                let std = gain * (2.0 / (f.fan_in as f64 + f.fan_out as f64)).sqrt();
                match family {
                    Family::Normal => Resolved::Normal { mean: 0.0, std },
                    Family::Uniform => Resolved::Uniform { low: -(sqrt3 * std), high: sqrt3 * std },
                }
            }
            Init::Kaiming { family, a, mode, nonlinearity } => {
                let f = fans()?;
                let fan = f.get(mode);
                let gain = Init::kaiming_gain(a, nonlinearity)?;
                let std = gain / fan.sqrt();
                match family {
                    Family::Normal => Resolved::Normal { mean: 0.0, std },
                    Family::Uniform => Resolved::Uniform { low: -(sqrt3 * std), high: sqrt3 * std },
                }
            }
            Init::Keras { family, distribution } => {
                let (scale, mode) = family.scale_mode();
                let dist = match distribution {
                    Family::Uniform => VsDistribution::Uniform,
                    Family::Normal => VsDistribution::TruncatedNormal,
                };
                variance_scaling(scale, mode, dist, &fans()?)
            }
            Init::VarianceScaling { scale, mode, distribution } => {
                variance_scaling(scale, mode, distribution, &fans()?)
            }
            Init::JaxVarianceScaling { scale, mode, distribution, axes } => {
                variance_scaling(scale, mode, distribution, &Fans::of_jax_axes(shape, &axes)?)
            }
            Init::Orthogonal { gain } => {
                let d = shape.dims();
                let (rows, cols) = if opts.layout.out_last() {
                    (shape.numel() / d[rank - 1], d[rank - 1])
                } else {
                    (d[0], shape.numel() / d[0])
                };
                Resolved::Orthogonal { rows, cols, gain }
            }
            Init::DeltaOrthogonal { gain } => {
                let d = shape.dims();
                let (cin, cout) = if opts.layout.out_last() { (d[rank - 2], d[rank - 1]) } else { (d[1], d[0]) };
                if cin > cout {
                    return Err(bad_shape(
                        name,
                        shape,
                        format!("in = {cin} must be <= out = {cout} for an orthogonal kernel centre"),
                    ));
                }
                Resolved::DeltaOrthogonal { channels_in: cin, channels_out: cout, gain, layout: opts.layout }
            }
            Init::Sparse { sparsity, std } => {
                let (rows, cols) = (shape.dims()[0], shape.dims()[1]);
                let zeros = (sparsity * rows as f64).ceil() as u64;
                Resolved::Sparse { rows, cols, zeros_per_column: zeros.min(rows), std }
            }
            Init::TorchDefault => {
                // kaiming_uniform_(a=sqrt(5)), with PyTorch's exact operation order
                let f = fans()?;
                let a = 5f64.sqrt();
                let gain = (2.0 / (1.0 + a * a)).sqrt();
                let std = gain / (f.fan_in as f64).sqrt();
                let bound = sqrt3 * std;
                Resolved::Uniform { low: -bound, high: bound }
            }
            Init::TorchDefaultBias { fan_in } => {
                let fan_in = fan_in.ok_or_else(|| Error::MissingParameter {
                    scheme: name.into(),
                    param: "fan_in".into(),
                    hint: "the fan_in of the layer's weight, e.g. torch_default_bias(fan_in=768)".into(),
                })?;
                if fan_in == 0 {
                    Resolved::Constant { value: 0.0 }
                } else {
                    let bound = 1.0 / (fan_in as f64).sqrt();
                    Resolved::Uniform { low: -bound, high: bound }
                }
            }
        })
    }
}

fn variance_scaling(scale: f64, mode: FanMode, distribution: VsDistribution, fans: &Fans) -> Resolved {
    let n = fans.get(mode).max(1.0);
    let var = scale / n;
    match distribution {
        VsDistribution::TruncatedNormal => {
            let std = var.sqrt() / TRUNCATION_STD_CORRECTION;
            Resolved::TruncNormal { mean: 0.0, std, low: -2.0 * std, high: 2.0 * std }
        }
        VsDistribution::UntruncatedNormal => Resolved::Normal { mean: 0.0, std: var.sqrt() },
        VsDistribution::Uniform => {
            let limit = (3.0 * var).sqrt();
            Resolved::Uniform { low: -limit, high: limit }
        }
    }
}
