//! Single-precision transcendentals of the stream format.
//!
//! Why our own: the platform's `logf`/`sinf` differ between C libraries and
//! SIMD math libraries differ from both, so values would depend on the
//! machine. These are fixed polynomial evaluations using only `+ - * /`,
//! `sqrt` (all correctly rounded in IEEE 754) and exact bit manipulation,
//! with **no fused multiply-add**, written as a fixed sequence of
//! operations. The SIMD kernels perform exactly the same sequence lane by
//! lane, so every path gives the same bits. Do not "simplify" an
//! expression here: reassociation changes the bits of stream version 1.
//!
//! Coefficients: `ln` and `sin`/`cos` are Cephes' single-precision minimax
//! polynomials (S. Moshier); the normal quantile is Wichura's AS 241
//! PPND7 (Applied Statistics 37, 1988), accurate to about 1e-7 relative.
//! Measured accuracy is pinned by tests in this module. Coefficients are
//! written with their published digits and rounded by the compiler.
#![allow(clippy::excessive_precision)]

/// sqrt(1/2), the split point of the logarithm's reduction.
pub const SQRT_HALF: f32 = core::f32::consts::FRAC_1_SQRT_2;
/// ln 2 split into an exactly representable high part and a correction.
pub const LN2_HI: f32 = 0.693359375;
/// Low part of ln 2 (ln 2 - LN2_HI).
pub const LN2_LO: f32 = -2.12194440e-4;
/// Cephes logf coefficients, highest degree first.
pub const LN_P: [f32; 9] = [
    7.0376836292E-2,
    -1.1514610310E-1,
    1.1676998740E-1,
    -1.2420140846E-1,
    1.4249322787E-1,
    -1.6668057665E-1,
    2.0000714765E-1,
    -2.4999993993E-1,
    3.3333331174E-1,
];

/// Natural logarithm of a positive, normal, finite `x`.
///
/// Reduction: `x = m * 2^e` with `m` in `[sqrt(1/2), sqrt(2))`, `f = m - 1`,
/// `ln x = f - f^2/2 + f^3 P(f) + e ln 2` (ln 2 in two parts).
#[inline(always)]
pub fn ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let e0 = ((bits >> 23) & 0xff) as i32 - 126;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // in [0.5, 1)
    let small = m < SQRT_HALF;
    let e = (e0 - i32::from(small)) as f32;
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let z = f * f;
    let mut y = LN_P[0];
    y = y * f + LN_P[1];
    y = y * f + LN_P[2];
    y = y * f + LN_P[3];
    y = y * f + LN_P[4];
    y = y * f + LN_P[5];
    y = y * f + LN_P[6];
    y = y * f + LN_P[7];
    y = y * f + LN_P[8];
    y = y * f * z;
    y += LN2_LO * e;
    y += -0.5 * z;
    let r = f + y;
    r + LN2_HI * e
}

/// pi/2 rounded to f32.
pub const FRAC_PI_2: f32 = core::f32::consts::FRAC_PI_2;
/// Cephes sinf coefficients on [-pi/4, pi/4].
pub const SIN_P: [f32; 3] = [-1.9515295891E-4, 8.3321608736E-3, -1.6666654611E-1];
/// Cephes cosf coefficients on [-pi/4, pi/4].
pub const COS_P: [f32; 3] = [2.443315711809948E-5, -1.388731625493765E-3, 4.166664568298827E-2];

/// `(cos, sin)` of `2 pi m / 2^24` for an integer `m < 2^24` (a fraction
/// of a full turn).
///
/// The reduction is exact integer arithmetic: the nearest quarter turn
/// `k = round(m / 2^22)` and the remainder `m - k 2^22`, which as a float
/// times pi/2 is an angle in `[-pi/4, pi/4)`; then a rotation by `k`
/// quarter turns (a swap and sign changes).
#[inline(always)]
pub fn cos_sin_turns(m: u32) -> (f32, f32) {
    let k = (m + (1 << 21)) >> 22; // 0..=4
    let rem = m as i32 - (k << 22) as i32; // [-2^21, 2^21)
    let x = (rem as f32 * (1.0 / 4_194_304.0)) * FRAC_PI_2;
    let z = x * x;
    let mut s = SIN_P[0];
    s = s * z + SIN_P[1];
    s = s * z + SIN_P[2];
    let s = s * z * x + x;
    let mut c = COS_P[0];
    c = c * z + COS_P[1];
    c = c * z + COS_P[2];
    let c = c * z * z - 0.5 * z + 1.0;
    match k & 3 {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    }
}

/// AS 241 PPND7, central region `|p - 1/2| <= 0.425`, numerator, highest degree first.
pub const PPND7_A: [f32; 4] = [5.9109374720E+01, 1.5929113202E+02, 5.0434271938E+01, 3.3871327179E+00];
/// Central denominator (constant term 1).
pub const PPND7_B: [f32; 3] = [6.7187563600E+01, 7.8757757664E+01, 1.7895169469E+01];
/// Intermediate tail `r = sqrt(-ln p) <= 5`, numerator.
pub const PPND7_C: [f32; 4] = [1.7023821103E-01, 1.3067284816E+00, 2.7568153900E+00, 1.4234372777E+00];
/// Intermediate tail denominator (constant term 1).
pub const PPND7_D: [f32; 2] = [1.2021132975E-01, 7.3700164250E-01];
/// Far tail `r > 5`, numerator.
pub const PPND7_E: [f32; 4] = [1.7337203997E-02, 4.2868294337E-01, 3.0812263860E+00, 6.6579051150E+00];
/// Far tail denominator (constant term 1).
pub const PPND7_F: [f32; 2] = [1.2258202635E-02, 2.4197894225E-01];

/// The standard normal quantile `Phi^-1(s)` for a lower-tail probability
/// `s` in `(0, 1/2]`; the result is `<= 0`.
///
/// Taking the smaller of `p` and `1 - p` (both computed accurately by the
/// caller) keeps full relative precision in both tails; the caller flips
/// the sign for the upper tail. All three branches are computed, then one
/// is selected, as the SIMD kernels do.
#[inline(always)]
pub fn ndtri_lower(s: f32) -> f32 {
    let q = s - 0.5;
    // central
    let r = 0.180_625 - q * q;
    let mut num = PPND7_A[0];
    num = num * r + PPND7_A[1];
    num = num * r + PPND7_A[2];
    num = num * r + PPND7_A[3];
    let mut den = PPND7_B[0];
    den = den * r + PPND7_B[1];
    den = den * r + PPND7_B[2];
    den = den * r + 1.0;
    let central = q * num / den;
    // tails
    // compare and select rather than `f32::max`, whose result for equal
    // zeros of opposite sign is unspecified: the SIMD paths do the same
    let s = if s < f32::MIN_POSITIVE { f32::MIN_POSITIVE } else { s };
    let t = (-ln(s)).sqrt();
    let t1 = t - 1.6;
    let mut n1 = PPND7_C[0];
    n1 = n1 * t1 + PPND7_C[1];
    n1 = n1 * t1 + PPND7_C[2];
    n1 = n1 * t1 + PPND7_C[3];
    let mut d1 = PPND7_D[0];
    d1 = d1 * t1 + PPND7_D[1];
    d1 = d1 * t1 + 1.0;
    let t2 = t - 5.0;
    let mut n2 = PPND7_E[0];
    n2 = n2 * t2 + PPND7_E[1];
    n2 = n2 * t2 + PPND7_E[2];
    n2 = n2 * t2 + PPND7_E[3];
    let mut d2 = PPND7_F[0];
    d2 = d2 * t2 + PPND7_F[1];
    d2 = d2 * t2 + 1.0;
    let tail = -if t <= 5.0 { n1 / d1 } else { n2 / d2 };
    if q >= -0.425 { central } else { tail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f32, b: f64) -> f64 {
        ((a as f64 - b) / (b.abs().max(f32::MIN_POSITIVE as f64) * f32::EPSILON as f64)).abs()
    }

    /// ln over every input the kernels use: u in (0, 1] on the 2^-24 grid,
    /// plus the truncated normal's tail probabilities down to 1e-30.
    #[test]
    fn ln_accuracy() {
        let mut worst: f64 = 0.0;
        for m in (1..(1u32 << 24)).step_by(7).chain((1u32 << 24) - 64..(1u32 << 24)) {
            let x = m as f32 * (1.0 / 16_777_216.0);
            worst = worst.max(ulps(ln(x), (x as f64).ln()));
        }
        assert_eq!(ln(1.0), 0.0);
        let mut x = 1e-30f32;
        while x < 1.0 {
            worst = worst.max(ulps(ln(x), (x as f64).ln()));
            x *= 1.013;
        }
        assert!(worst < 2.0, "ln: worst error {worst} ulp");
    }

    #[test]
    fn sin_cos_accuracy() {
        let mut worst: f64 = 0.0;
        for m in (0..(1u32 << 24)).step_by(5) {
            let (c, s) = cos_sin_turns(m);
            let a = 2.0 * std::f64::consts::PI * (m as f64) / 16_777_216.0;
            worst = worst.max((c as f64 - a.cos()).abs()).max((s as f64 - a.sin()).abs());
        }
        assert!(worst < 1.5e-7, "sin/cos: worst absolute error {worst}");
    }

    #[test]
    fn quantile_accuracy() {
        let mut worst: f64 = 0.0;
        let mut s = 1e-30f64;
        while s <= 0.5 {
            let got = ndtri_lower(s as f32) as f64;
            let want = crate::special::ndtri(s as f32 as f64);
            worst = worst.max((got - want).abs() / want.abs().max(1.0));
            s *= 1.0007;
        }
        assert!(worst < 1.5e-6, "ndtri: worst relative error {worst}");
    }
}

/// Exhaustive accuracy over the inputs the kernels use; the figures are
/// quoted in the module documentation of [`crate::kernels`].
#[cfg(test)]
mod exhaustive {
    use super::*;

    /// Error of `got` against `want` in units of the f32 spacing at `want`.
    fn ulps(got: f32, want: f64) -> f64 {
        let spacing =
            f64::from(f32::EPSILON) * 2f64.powi(want.abs().max(f64::from(f32::MIN_POSITIVE)).log2().floor() as i32);
        (f64::from(got) - want).abs() / spacing
    }

    /// ln on every uniform the normal uses, u = m 2^-24 for m in 1..=2^24,
    /// and on every 64th f32 of the quantile's tail range [2^-126, 0.075].
    #[test]
    fn ln_max_error() {
        let mut worst: f64 = 0.0;
        for m in 1..=(1u32 << 24) {
            let x = m as f32 * (1.0 / 16_777_216.0);
            worst = worst.max(ulps(ln(x), f64::from(x).ln()));
        }
        let (lo, hi) = (f32::MIN_POSITIVE.to_bits(), 0.075f32.to_bits());
        for b in (lo..=hi).step_by(64) {
            let x = f32::from_bits(b);
            worst = worst.max(ulps(ln(x), f64::from(x).ln()));
        }
        eprintln!("ln: worst {worst:.3} ulp");
        assert!(worst <= 1.0, "ln: worst error {worst} ulp");
    }

    /// cos and sin of every angle 2 pi m / 2^24.
    #[test]
    fn sin_cos_max_error() {
        let mut worst: f64 = 0.0;
        for m in 0..(1u32 << 24) {
            let (c, s) = cos_sin_turns(m);
            let a = 2.0 * std::f64::consts::PI * f64::from(m) / 16_777_216.0;
            worst = worst.max((f64::from(c) - a.cos()).abs()).max((f64::from(s) - a.sin()).abs());
        }
        eprintln!("sin/cos: worst absolute error {worst:.3e}");
        assert!(worst < 1.2e-7, "sin/cos: worst absolute error {worst}");
    }

    /// The quantile on every 4th f32 in the central region [0.075, 0.5] and
    /// every 64th below it (down to 2^-126), against PPND16 in f64.
    #[test]
    fn quantile_max_error() {
        let rel = |s: f32| {
            let want = crate::special::ndtri(f64::from(s));
            (f64::from(ndtri_lower(s)) - want).abs() / want.abs().max(1e-300)
        };
        let (central_lo, half) = (0.075f32.to_bits(), 0.5f32.to_bits());
        let mut central: f64 = 0.0;
        for b in (central_lo..half).step_by(4) {
            // skip the neighbourhood of 1/2, where the quantile is ~0 and
            // only the absolute error is meaningful
            let s = f32::from_bits(b);
            if s < 0.499 {
                central = central.max(rel(s));
            }
        }
        let mut absolute: f64 = 0.0;
        for b in (0.499f32.to_bits()..=half).step_by(1) {
            let s = f32::from_bits(b);
            absolute = absolute.max((f64::from(ndtri_lower(s)) - crate::special::ndtri(f64::from(s))).abs());
        }
        let mut tail: f64 = 0.0;
        for b in (f32::MIN_POSITIVE.to_bits()..central_lo).step_by(64) {
            tail = tail.max(rel(f32::from_bits(b)));
        }
        eprintln!(
            "ndtri: central {central:.3e} relative ({absolute:.3e} absolute near 1/2), tails {tail:.3e} relative"
        );
        assert!(central < 4e-7 && absolute < 1e-7 && tail < 1e-6, "{central} {absolute} {tail}");
    }
}
