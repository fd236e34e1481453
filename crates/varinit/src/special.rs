//! Special functions in double precision for parameters and references:
//! the standard normal density, distribution function and quantile, and the
//! moments of truncated normals.
//!
//! These feed the stream's parameters (for example `Phi(a)` of a truncated
//! normal), so they must not depend on the platform's C library either:
//! `erfc` and `exp` come from the `libm` crate (a pure-Rust port of musl),
//! the quantile from [`crate::kernels::math64`].

/// The standard normal density.
pub fn phi(x: f64) -> f64 {
    libm::exp(-0.5 * x * x) * 0.398_942_280_401_432_7
}

/// The standard normal distribution function `P(Z <= x)`, accurate in both
/// tails (through `erfc`).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// `P(a <= Z <= b)` for the standard normal, without cancellation when both
/// bounds are in the same tail.
pub fn norm_mass(a: f64, b: f64) -> f64 {
    if a >= 0.0 {
        norm_cdf(-a) - norm_cdf(-b)
    } else if b <= 0.0 {
        norm_cdf(b) - norm_cdf(a)
    } else {
        1.0 - norm_cdf(a) - norm_cdf(-b)
    }
}

/// The standard normal quantile `Phi^-1(p)` for `p` in `(0, 1)`; `-inf`
/// and `inf` at 0 and 1.
pub fn ndtri(p: f64) -> f64 {
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    if p <= 0.5 { crate::kernels::math64::ndtri_lower(p) } else { -crate::kernels::math64::ndtri_lower(1.0 - p) }
}

/// Mean and standard deviation of the standard normal truncated to
/// `[a, b]` (either bound may be infinite).
pub fn trunc_norm_moments(a: f64, b: f64) -> (f64, f64) {
    let z = norm_mass(a, b);
    let (pa, pb) = (phi(a), phi(b));
    let apa = if a.is_finite() { a * pa } else { 0.0 };
    let bpb = if b.is_finite() { b * pb } else { 0.0 };
    let mean = (pa - pb) / z;
    let var = 1.0 + (apa - bpb) / z - mean * mean;
    (mean, var.max(0.0).sqrt())
}

/// Distribution function of the standard normal truncated to `[a, b]`.
pub fn trunc_norm_cdf(x: f64, a: f64, b: f64) -> f64 {
    if x <= a {
        0.0
    } else if x >= b {
        1.0
    } else {
        (norm_mass(a, x) / norm_mass(a, b)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_round_trip() {
        // PPND16 against erfc: |Phi(ndtri(p)) - p| relative to p, both tails.
        let mut worst: f64 = 0.0;
        let mut p = 1e-300f64;
        while p < 0.5 {
            let x = ndtri(p);
            let back = norm_cdf(x);
            // the condition number of Phi at x is |x| phi(x) / Phi(x) ~ x^2; allow for it
            let tol = f64::EPSILON * (1.0 + x * x) * 8.0;
            let err = ((back - p) / p).abs();
            worst = worst.max(err / tol);
            let q = 1.0 - p;
            if q < 1.0 {
                assert!((ndtri(q) + ndtri(1.0 - q)).abs() < 1e-12 * (1.0 + x.abs()));
            }
            p *= 1.01;
        }
        assert!(worst < 1.0, "ndtri round trip: worst {worst} of tolerance");
        assert_eq!(ndtri(0.5), 0.0);
        assert!((ndtri(0.975) - 1.959_963_984_540_054).abs() < 1e-15);
        assert!((ndtri(1e-10) + 6.361_340_902_404_056).abs() < 1e-13);
    }

    #[test]
    fn truncated_moments() {
        // std of N(0,1) truncated to [-2, 2]: Keras's 0.87962566103423978
        let (m, s) = trunc_norm_moments(-2.0, 2.0);
        assert!(m.abs() < 1e-16);
        assert!((s - crate::scheme::TRUNCATION_STD_CORRECTION).abs() < 1e-15, "{s}");
        let (m, s) = trunc_norm_moments(f64::NEG_INFINITY, f64::INFINITY);
        assert!(m.abs() < 1e-16 && (s - 1.0).abs() < 1e-15);
        // half-normal: mean sqrt(2/pi), variance 1 - 2/pi
        let (m, s) = trunc_norm_moments(0.0, f64::INFINITY);
        assert!((m - (2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-15);
        assert!((s - (1.0 - 2.0 / std::f64::consts::PI).sqrt()).abs() < 1e-15);
    }
}
