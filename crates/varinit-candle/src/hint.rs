//! candle's initialization hints mapped to varinit schemes.
//!
//! Every candle-nn layer passes an [`candle_nn::Init`] "hint" with each
//! variable it asks for (`Linear`'s weight asks for Kaiming normal, its bias
//! for a uniform, `LayerNorm` for constants, `Embedding` for a standard
//! normal...). [`scheme_for_hint`] turns the hint into the varinit
//! [`Init`] with the same distribution, so a model built through
//! [`crate::VarinitBackend`] gets the distributions its author chose, only
//! drawn reproducibly.
//!
//! # The mapping
//!
//! | candle hint | varinit scheme | distribution |
//! |---|---|---|
//! | `Const(v)` | `constant(val=v)` (`zeros`, `ones`) | every element `v` |
//! | `Randn { mean, stdev }` | `normal(mean, std=\|stdev\|)`; `constant(mean)` if `stdev == 0` | N(mean, stdev²) |
//! | `Uniform { lo, up }`, `lo < up` | `uniform(a=lo, b=up)` | U(lo, up) |
//! | `Uniform { lo, up }`, `lo == up` | `constant(val=lo)` | every element `lo` |
//! | `Kaiming { dist, fan, non_linearity }`, rank ≥ 2, named non-linearity | `kaiming_normal(mode, nonlinearity)` / `kaiming_uniform(...)` (PyTorch) | N(0, (g/√fan)²) / U(±g·√(3/fan)) |
//! | `Kaiming { .., ExplicitGain(g) }`, rank ≥ 2 | `variance_scaling(scale=g², mode, distribution=untruncated_normal \| uniform)` | the same |
//! | `Kaiming { .. }`, rank 0 or 1 | `normal(0, g/√fan)` / `uniform(±√3·g/√fan)` with candle's fan | the same |
//!
//! `ReLU`, `Linear`, `Sigmoid`, `Tanh` and `SELU` become PyTorch's
//! nonlinearity names `relu`, `linear`, `sigmoid`, `tanh`, `selu`; candle's
//! gains for them (√2, 1, 1, 5/3, 3/4) are PyTorch's `calculate_gain` table,
//! and candle's fans for rank ≥ 2 are PyTorch's (`fan_in = shape[1]·∏shape[2..]`,
//! `fan_out = shape[0]·∏shape[2..]`), so the varinit scheme resolves to
//! exactly the distribution candle would have sampled.
//!
//! # Where candle's semantics differ from PyTorch's
//!
//! Read from candle-nn 0.11's `init.rs` and layer constructors:
//!
//! - **Small ranks.** PyTorch refuses fans of tensors with fewer than two
//!   dimensions; candle gives a vector `fan_in = 1` and `fan_out = len`, and a
//!   scalar 1 for both. A Kaiming hint on such a tensor is therefore mapped to
//!   a plain `normal`/`uniform` with the numbers candle computes, not to
//!   `kaiming_*` (which would refuse the shape).
//! - **Explicit gains.** `NonLinearity::ExplicitGain(g)` has no PyTorch
//!   nonlinearity name; `variance_scaling(scale = g²)` over the same fan has
//!   the same distribution. `g = 0` gives `zeros`.
//! - **Layer defaults.** candle's `linear`, `conv1d`, `conv2d` ask for
//!   Kaiming *normal*, `fan_in`, ReLU gain for the weight (PyTorch's layers
//!   use `kaiming_uniform(a=√5)`, varinit's `torch_default`) and
//!   U(±1/√in_channels) for the bias; the transposed convolutions ask for a
//!   uniform on both. `VarBuilder::get` without hints passes candle's default
//!   hint, `Const(0)`. These are candle's choices and are followed as they
//!   are; a user rule ([`crate::VarinitBackend::rule`]) replaces them.
//! - **Uniform bound.** candle computes the Kaiming uniform bound as
//!   `√3·(g/√fan)`, PyTorch as `g·√(3/fan)`: the same number up to the last
//!   bit or so. varinit uses PyTorch's order of operations.
//! - **Degenerate parameters.** candle (through `rand`) fails on
//!   `Uniform { lo, up }` with `lo >= up`; varinit maps `lo == up` to the
//!   constant and reports `lo > up` as an error naming the variable. A
//!   negative `stdev` is read as its absolute value (N(m, s²) is the law of
//!   `m + s·z` for either sign of `s`). Non-finite parameters are errors.

use candle_nn::init::{FanInOut, NonLinearity, NormalOrUniform};
use varinit::scheme::{Family, VsDistribution};
use varinit::{FanMode, Init};

use crate::error::{Error, Result};

/// The varinit scheme equivalent to candle's hint `hint` for a variable of
/// shape `dims` (the shape matters only for Kaiming hints on tensors of
/// rank 0 or 1, see the [module docs](self)).
///
/// ```
/// use candle_nn::init::DEFAULT_KAIMING_NORMAL;
/// use varinit_candle::scheme_for_hint;
///
/// let s = scheme_for_hint(DEFAULT_KAIMING_NORMAL, &[128, 64]).unwrap();
/// assert_eq!(s.to_string(), "kaiming_normal(a=0, mode=fan_in, nonlinearity=relu)");
/// let b = scheme_for_hint(candle_nn::Init::Uniform { lo: -0.125, up: 0.125 }, &[128]).unwrap();
/// assert_eq!(b.to_string(), "uniform(a=-0.125, b=0.125)");
/// ```
pub fn scheme_for_hint(hint: candle_nn::Init, dims: &[usize]) -> Result<Init> {
    let bad = |message: String| Error::Hint { hint: format!("{hint:?}"), message };
    let finite =
        |what: &str, v: f64| if v.is_finite() { Ok(v) } else { Err(bad(format!("{what} = {v} is not finite"))) };
    Ok(match hint {
        candle_nn::Init::Const(v) => Init::Constant { value: finite("value", v)? },
        candle_nn::Init::Randn { mean, stdev } => {
            let mean = finite("mean", mean)?;
            let std = finite("stdev", stdev)?.abs();
            if std == 0.0 { Init::Constant { value: mean } } else { Init::Normal { mean, std } }
        }
        candle_nn::Init::Uniform { lo, up } => {
            let (lo, up) = (finite("lo", lo)?, finite("up", up)?);
            if lo == up {
                Init::Constant { value: lo }
            } else if lo > up {
                return Err(bad(format!("lo = {lo} is above up = {up}")));
            } else {
                Init::Uniform { a: lo, b: up }
            }
        }
        candle_nn::Init::Kaiming { dist, fan, non_linearity } => {
            let family = match dist {
                NormalOrUniform::Normal => Family::Normal,
                NormalOrUniform::Uniform => Family::Uniform,
            };
            let mode = match fan {
                FanInOut::FanIn => FanMode::FanIn,
                FanInOut::FanOut => FanMode::FanOut,
            };
            let named = match non_linearity {
                NonLinearity::ReLU => Some("relu"),
                NonLinearity::Linear => Some("linear"),
                NonLinearity::Sigmoid => Some("sigmoid"),
                NonLinearity::Tanh => Some("tanh"),
                NonLinearity::SELU => Some("selu"),
                NonLinearity::ExplicitGain(_) => None,
            };
            let gain = finite("gain", non_linearity.gain())?;
            if gain == 0.0 {
                Init::Constant { value: 0.0 }
            } else if dims.len() >= 2 {
                match named {
                    Some(nonlinearity) => Init::Kaiming { family, a: 0.0, mode, nonlinearity },
                    None => Init::VarianceScaling {
                        scale: gain * gain,
                        mode,
                        distribution: match family {
                            Family::Normal => VsDistribution::UntruncatedNormal,
                            Family::Uniform => VsDistribution::Uniform,
                        },
                    },
                }
            } else {
                // candle's FanInOut::for_shape for rank 0 and 1.
                let fan = match (fan, dims) {
                    (FanInOut::FanOut, [n]) => *n,
                    _ => 1,
                };
                if fan == 0 {
                    // an empty vector: nothing is drawn, any valid scheme will do
                    return Ok(Init::Constant { value: 0.0 });
                }
                let std = gain.abs() / (fan as f64).sqrt();
                match family {
                    Family::Normal => Init::Normal { mean: 0.0, std },
                    Family::Uniform => {
                        let bound = 3f64.sqrt() * std;
                        Init::Uniform { a: -bound, b: bound }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_nn::Init as H;
    use varinit::{Layout, Resolved, Shape};

    fn resolved(hint: H, dims: &[usize]) -> Resolved {
        let init = scheme_for_hint(hint, dims).unwrap();
        let shape = Shape::try_from(dims).unwrap();
        init.resolve(&shape, Layout::Torch.into()).unwrap()
    }

    /// candle's own std for a Kaiming hint (init.rs: gain / sqrt(fan)).
    fn candle_std(fan: FanInOut, nl: NonLinearity, dims: &[usize]) -> f64 {
        let shape = candle_core::Shape::from(dims.to_vec());
        nl.gain() / (fan.for_shape(&shape) as f64).sqrt()
    }

    #[test]
    fn kaiming_matches_candle_for_every_nonlinearity_fan_and_rank() {
        let nls = [
            NonLinearity::ReLU,
            NonLinearity::Linear,
            NonLinearity::Sigmoid,
            NonLinearity::Tanh,
            NonLinearity::SELU,
            NonLinearity::ExplicitGain(0.7),
            NonLinearity::ExplicitGain(-2.5),
        ];
        for dims in [&[64usize, 32][..], &[16, 3, 5, 5], &[8, 4, 3], &[10], &[]] {
            for fan in [FanInOut::FanIn, FanInOut::FanOut] {
                for nl in nls {
                    let want = candle_std(fan, nl, dims).abs();
                    let hint = H::Kaiming { dist: NormalOrUniform::Normal, fan, non_linearity: nl };
                    match resolved(hint, dims) {
                        Resolved::Normal { mean, std } => {
                            assert_eq!(mean, 0.0);
                            assert!((std - want).abs() <= 1e-15 * want, "{dims:?} {fan:?} {nl:?}: {std} vs {want}");
                        }
                        r => panic!("{r:?}"),
                    }
                    let hint = H::Kaiming { dist: NormalOrUniform::Uniform, fan, non_linearity: nl };
                    match resolved(hint, dims) {
                        Resolved::Uniform { low, high } => {
                            let b = 3f64.sqrt() * want;
                            assert_eq!(low, -high);
                            assert!((high - b).abs() <= 1e-15 * b, "{dims:?} {fan:?} {nl:?}: {high} vs {b}");
                        }
                        r => panic!("{r:?}"),
                    }
                }
            }
        }
    }

    #[test]
    fn named_schemes_for_the_common_hints() {
        let s = |h, d: &[usize]| scheme_for_hint(h, d).unwrap().to_string();
        assert_eq!(
            s(candle_nn::init::DEFAULT_KAIMING_NORMAL, &[4, 3]),
            "kaiming_normal(a=0, mode=fan_in, nonlinearity=relu)"
        );
        assert_eq!(
            s(
                H::Kaiming { dist: NormalOrUniform::Uniform, fan: FanInOut::FanOut, non_linearity: NonLinearity::Tanh },
                &[4, 3, 3, 3]
            ),
            "kaiming_uniform(a=0, mode=fan_out, nonlinearity=tanh)"
        );
        assert_eq!(
            s(
                H::Kaiming {
                    dist: NormalOrUniform::Normal,
                    fan: FanInOut::FanIn,
                    non_linearity: NonLinearity::ExplicitGain(0.5)
                },
                &[4, 3]
            ),
            "variance_scaling(scale=0.25, mode=fan_in, distribution=untruncated_normal)"
        );
        assert_eq!(s(H::Const(0.0), &[3]), "zeros");
        assert_eq!(s(H::Const(1.0), &[3]), "ones");
        assert_eq!(s(H::Const(0.5), &[3]), "constant(val=0.5)");
        assert_eq!(s(H::Randn { mean: 0.0, stdev: 1.0 }, &[3, 2]), "normal(mean=0, std=1)");
        assert_eq!(s(H::Randn { mean: 1.0, stdev: -0.5 }, &[3, 2]), "normal(mean=1, std=0.5)");
        assert_eq!(s(H::Randn { mean: 2.0, stdev: 0.0 }, &[3, 2]), "constant(val=2)");
        assert_eq!(s(H::Uniform { lo: 0.25, up: 0.25 }, &[3]), "constant(val=0.25)");
    }

    #[test]
    fn bad_hints_are_errors_not_panics() {
        for h in [
            H::Uniform { lo: 1.0, up: 0.0 },
            H::Uniform { lo: f64::NEG_INFINITY, up: 0.0 },
            H::Randn { mean: f64::NAN, stdev: 1.0 },
            H::Const(f64::INFINITY),
            H::Kaiming {
                dist: NormalOrUniform::Normal,
                fan: FanInOut::FanIn,
                non_linearity: NonLinearity::ExplicitGain(f64::NAN),
            },
        ] {
            let e = scheme_for_hint(h, &[3, 3]).unwrap_err();
            assert!(matches!(e, Error::Hint { .. }), "{e}");
        }
        let e = scheme_for_hint(H::Uniform { lo: 1.0, up: 0.0 }, &[3]).unwrap_err().to_string();
        assert!(e.contains("lo = 1 is above up = 0"), "{e}");
    }
}
