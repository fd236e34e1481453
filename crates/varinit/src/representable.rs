//! What an output dtype can represent: the one rule every front end applies
//! (`sample`, `init`, the checkpoint planner, the candle backend) before a
//! single value is written.
//!
//! A distribution is refused in a dtype when
//!
//! - some value it can produce **rounds to ±Inf** in that dtype: the
//!   bounds of a uniform, truncated normal or constant, the largest value a
//!   normal's sampler can produce (`mean ± Z std`, with `Z` the largest
//!   `|z|` of the Box-Muller and inverse-CDF conversions: 5.77 in the f32
//!   working precision of f32/f16/bf16, 8.57 in f64; see
//!   [`crate::kernels`]), and `gain` for the orthogonal schemes (every
//!   element lies in `[-gain, gain]`);
//! - or some value it can produce **rounds to 0 although 0 is outside its
//!   support**: a constant, or a uniform or truncated normal whose support
//!   lies strictly on one side of 0, whose value or bound nearest to 0 is
//!   below the dtype's smallest subnormal.
//!
//! Values are rounded the way the kernels do: to the working precision (f64
//! for f64, f32 otherwise), then to the output dtype. The check is a few
//! floating-point operations; [`crate::TensorInit::check_dtype`] runs it,
//! and with it every typed fill, the checkpoint planner, `sample` and the
//! safetensors writer, before anything is written.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::scheme::Resolved;

/// Largest `|z|` of the f32 normal conversions (Box-Muller and the
/// truncated normal's inverse CDF), rounded up.
pub const Z_MAX_F32: f64 = 5.78;
/// Largest `|z|` of the f64 normal conversions, rounded up.
pub const Z_MAX_F64: f64 = 8.58;

/// `x` as the kernels would store it in `dtype`, back in f64.
pub fn round_to(dtype: DType, x: f64) -> f64 {
    match dtype {
        DType::F64 => x,
        DType::F32 => x as f32 as f64,
        DType::F16 => half::f16::from_f32(x as f32).to_f64(),
        DType::BF16 => half::bf16::from_f32(x as f32).to_f64(),
    }
}

/// Refuse a distribution whose values `dtype` cannot represent (see the
/// module documentation for the rule).
pub fn check_representable(r: &Resolved, dtype: DType) -> Result<()> {
    let z = if dtype == DType::F64 { Z_MAX_F64 } else { Z_MAX_F32 };
    let bad = |param: String, value: f64| Error::DtypeRange {
        distribution: r.to_string(),
        param,
        value,
        dtype: dtype.name().into(),
    };
    // (what, value, 0 outside the support)
    let mut probes: Vec<(String, f64, bool)> = Vec::new();
    match *r {
        Resolved::Empty | Resolved::Dirac { .. } => {}
        Resolved::Uniform { low, high } => {
            let zero_outside = low > 0.0 || high < 0.0;
            probes.push(("low".into(), low, zero_outside));
            probes.push(("high".into(), high, zero_outside));
        }
        Resolved::Normal { mean, std } | Resolved::TruncNormal { mean, std, .. } => {
            let (mut lo, mut hi) = (mean - z * std, mean + z * std);
            let mut lo_what = format!("mean - {z} std (the smallest value drawn)");
            let mut hi_what = format!("mean + {z} std (the largest value drawn)");
            let mut zero_outside = false;
            if let Resolved::TruncNormal { low, high, .. } = *r {
                if low >= lo {
                    lo = low;
                    lo_what = "low".into();
                }
                if high <= hi {
                    hi = high;
                    hi_what = "high".into();
                }
                zero_outside = low > 0.0 || high < 0.0;
            }
            probes.push((lo_what, lo, zero_outside));
            probes.push((hi_what, hi, zero_outside));
        }
        Resolved::Constant { value } => probes.push(("value".into(), value, value != 0.0)),
        Resolved::Eye { value, .. } => probes.push(("value".into(), value, false)),
        Resolved::Orthogonal { gain, .. } | Resolved::DeltaOrthogonal { gain, .. } => {
            probes.push(("gain (the largest |value|)".into(), gain.abs(), false));
        }
        Resolved::Sparse { std, .. } => {
            probes.push((format!("{z} std (the largest |value| drawn)"), z * std.abs(), false));
        }
    }
    for (what, v, zero_outside) in probes {
        if v.is_nan() {
            return Err(bad(what, v));
        }
        let rounded = round_to(dtype, v);
        if rounded.is_infinite() {
            return Err(bad(format!("{what}, which rounds to {}inf,", if v < 0.0 { "-" } else { "" }), v));
        }
        if zero_outside && rounded == 0.0 {
            return Err(bad(format!("{what}, which rounds to 0 outside the support,"), v));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(mean: f64, std: f64) -> Resolved {
        Resolved::Normal { mean, std }
    }

    #[test]
    fn the_rule() {
        // ±Inf
        assert!(check_representable(&Resolved::Constant { value: 1e39 }, DType::F32).is_err());
        assert!(check_representable(&Resolved::Constant { value: 1e39 }, DType::F64).is_ok());
        assert!(check_representable(&n(0.0, 1e300), DType::F32).is_err());
        assert!(check_representable(&n(0.0, 1e6), DType::F16).is_err());
        assert!(check_representable(&n(0.0, 1e6), DType::BF16).is_ok());
        // f16 holds 65504: 11000 * 5.78 > 65504 > 10000 * 5.78 ... within the rounding
        assert!(check_representable(&n(0.0, 11_400.0), DType::F16).is_err());
        assert!(check_representable(&n(0.0, 11_000.0), DType::F16).is_ok());
        assert!(check_representable(&Resolved::Uniform { low: -1.0, high: 70_000.0 }, DType::F16).is_err());
        assert!(check_representable(&Resolved::Uniform { low: -1.0, high: 65_504.0 }, DType::F16).is_ok());
        let tn = Resolved::TruncNormal { mean: 0.0, std: 1e9, low: -2.0, high: 2.0 };
        assert!(check_representable(&tn, DType::F16).is_ok(), "the bounds clamp the values");
        let g = Resolved::Orthogonal { rows: 2, cols: 2, gain: 1e5 };
        assert!(check_representable(&g, DType::F16).is_err());
        assert!(
            check_representable(&Resolved::Sparse { rows: 4, cols: 4, zeros_per_column: 1, std: 1e6 }, DType::F16)
                .is_err()
        );
        // 0 outside the support
        assert!(check_representable(&Resolved::Constant { value: 1e-10 }, DType::F16).is_err());
        assert!(check_representable(&Resolved::Constant { value: 0.0 }, DType::F16).is_ok());
        assert!(check_representable(&Resolved::Uniform { low: 1e-10, high: 2e-10 }, DType::F16).is_err());
        assert!(check_representable(&Resolved::Uniform { low: -2e-10, high: -1e-10 }, DType::F16).is_err());
        assert!(check_representable(&Resolved::Uniform { low: -1e-10, high: 1e-10 }, DType::F16).is_ok());
        assert!(check_representable(&Resolved::Uniform { low: 1e-10, high: 2e-10 }, DType::BF16).is_ok());
        assert!(check_representable(&Resolved::Constant { value: 1e-50 }, DType::F32).is_err());
        assert!(check_representable(&Resolved::Constant { value: 1e-50 }, DType::F64).is_ok());
        // 0 inside the support may underflow
        assert!(check_representable(&n(0.0, 1e-12), DType::F16).is_ok());
        assert!(check_representable(&Resolved::Eye { rows: 2, cols: 2, value: 1e-12 }, DType::F16).is_ok());
        // NaN
        assert!(check_representable(&n(f64::NAN, 1.0), DType::F64).is_err());
        let e = check_representable(&n(0.0, 1e6), DType::F16).unwrap_err().to_string();
        assert!(e.contains("rounds to -inf") && e.contains("f16"), "{e}");
    }
}
