//! Double-precision transcendentals of the stream format (f64 output).
//!
//! Same rules as [`super::math32`]: fixed operation sequences, no fused
//! multiply-add, only correctly rounded IEEE operations, so the bits do not
//! depend on the platform's math library. Coefficients: Cephes `log` and
//! `sin`/`cos` (S. Moshier), and Wichura's AS 241 PPND16 (about 1e-16
//! relative).
#![allow(clippy::excessive_precision)]

/// ln 2 in two parts: an exactly representable head and the rest.
pub const LN2_HI: f64 = 0.693359375;
/// ln 2 - LN2_HI.
pub const LN2_LO: f64 = -2.121944400546905827679e-4;
/// Cephes log numerator, highest degree first.
pub const LN_P: [f64; 6] = [
    1.01875663804580931796E-4,
    4.97494994976747001425E-1,
    4.70579119878881725854E0,
    1.44989225341610930846E1,
    1.79368678507819816313E1,
    7.70838733755885391666E0,
];
/// Cephes log denominator (leading coefficient 1 omitted), highest degree first.
pub const LN_Q: [f64; 5] = [
    1.12873587189167450590E1,
    4.52279145837532221105E1,
    8.29875266912776603211E1,
    7.11544750618563894466E1,
    2.31251620126765340583E1,
];

/// Natural logarithm of a positive, normal, finite `x`.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    let bits = x.to_bits();
    let e0 = ((bits >> 52) & 0x7ff) as i64 - 1022;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3fe0_0000_0000_0000); // [0.5, 1)
    let small = m < core::f64::consts::FRAC_1_SQRT_2;
    let e = (e0 - i64::from(small)) as f64;
    let f = if small { m + m - 1.0 } else { m - 1.0 };
    let z = f * f;
    let mut p = LN_P[0];
    for &c in &LN_P[1..] {
        p = p * f + c;
    }
    let mut q = f + LN_Q[0];
    for &c in &LN_Q[1..] {
        q = q * f + c;
    }
    let mut y = f * (z * p / q);
    y += LN2_LO * e;
    y += -0.5 * z;
    let r = f + y;
    r + LN2_HI * e
}

/// Cephes sin coefficients on [-pi/4, pi/4], highest degree first.
pub const SIN_P: [f64; 6] = [
    1.58962301576546568060E-10,
    -2.50507477628578072866E-8,
    2.75573136213857245213E-6,
    -1.98412698295895385996E-4,
    8.33333333332211858878E-3,
    -1.66666666666666307295E-1,
];
/// Cephes cos coefficients on [-pi/4, pi/4], highest degree first.
pub const COS_P: [f64; 6] = [
    -1.13585365213876817300E-11,
    2.08757008419747316778E-9,
    -2.75573141792967388112E-7,
    2.48015872888517045348E-5,
    -1.38888888888730564116E-3,
    4.16666666666665929218E-2,
];

/// `(cos, sin)` of `2 pi m / 2^53` for an integer `m < 2^53`, with the
/// same exact quarter-turn reduction as the single-precision version.
#[inline(always)]
pub fn cos_sin_turns(m: u64) -> (f64, f64) {
    let k = (m + (1 << 50)) >> 51; // 0..=4
    let rem = m as i64 - (k << 51) as i64; // [-2^50, 2^50)
    let x = (rem as f64 * (1.0 / 2_251_799_813_685_248.0)) * core::f64::consts::FRAC_PI_2;
    let z = x * x;
    let mut s = SIN_P[0];
    for &c in &SIN_P[1..] {
        s = s * z + c;
    }
    let s = x + x * z * s;
    let mut c = COS_P[0];
    for &k in &COS_P[1..] {
        c = c * z + k;
    }
    let c = (1.0 - 0.5 * z) + z * z * c;
    match k & 3 {
        0 => (c, s),
        1 => (-s, c),
        2 => (-c, -s),
        _ => (s, -c),
    }
}

/// AS 241 PPND16 central numerator, highest degree first.
pub const PPND16_A: [f64; 8] = [
    2.5090809287301226727e+3,
    3.3430575583588128105e+4,
    6.7265770927008700853e+4,
    4.5921953931549871457e+4,
    1.3731693765509461125e+4,
    1.9715909503065514427e+3,
    1.3314166789178437745e+2,
    3.3871328727963666080e0,
];
/// PPND16 central denominator, highest degree first (constant term 1).
pub const PPND16_B: [f64; 8] = [
    5.2264952788528545610e+3,
    2.8729085735721942674e+4,
    3.9307895800092710610e+4,
    2.1213794301586595867e+4,
    5.3941960214247511077e+3,
    6.8718700749205790830e+2,
    4.2313330701600911252e+1,
    1.0,
];
/// PPND16 intermediate tail numerator.
pub const PPND16_C: [f64; 8] = [
    7.74545014278341407640e-4,
    2.27238449892691845833e-2,
    2.41780725177450611770e-1,
    1.27045825245236838258e0,
    3.64784832476320460504e0,
    5.76949722146069140550e0,
    4.63033784615654529590e0,
    1.42343711074968357734e0,
];
/// PPND16 intermediate tail denominator.
pub const PPND16_D: [f64; 8] = [
    1.05075007164441684324e-9,
    5.47593808499534494600e-4,
    1.51986665636164571966e-2,
    1.48103976427480074590e-1,
    6.89767334985100004550e-1,
    1.67638483018380384940e0,
    2.05319162663775882187e0,
    1.0,
];
/// PPND16 far tail numerator.
pub const PPND16_E: [f64; 8] = [
    2.01033439929228813265e-7,
    2.71155556874348757815e-5,
    1.24266094738807843860e-3,
    2.65321895265761230930e-2,
    2.96560571828504891230e-1,
    1.78482653991729133580e0,
    5.46378491116411436990e0,
    6.65790464350110377720e0,
];
/// PPND16 far tail denominator.
pub const PPND16_F: [f64; 8] = [
    2.04426310338993978564e-15,
    1.42151175831644588870e-7,
    1.84631831751005468180e-5,
    7.86869131145613259100e-4,
    1.48753612908506148525e-2,
    1.36929880922735805310e-1,
    5.99832206555887937690e-1,
    1.0,
];

#[inline(always)]
fn horner(c: &[f64; 8], x: f64) -> f64 {
    let mut y = c[0];
    for &k in &c[1..] {
        y = y * x + k;
    }
    y
}

/// The standard normal quantile `Phi^-1(s)` for `s` in `(0, 1/2]`
/// (result `<= 0`), all branches computed then one selected.
#[inline(always)]
pub fn ndtri_lower(s: f64) -> f64 {
    let q = s - 0.5;
    let r = 0.180625 - q * q;
    let central = q * horner(&PPND16_A, r) / horner(&PPND16_B, r);
    let s = if s < f64::MIN_POSITIVE { f64::MIN_POSITIVE } else { s };
    let t = (-ln(s)).sqrt();
    let t1 = t - 1.6;
    let mid = horner(&PPND16_C, t1) / horner(&PPND16_D, t1);
    let t2 = t - 5.0;
    let far = horner(&PPND16_E, t2) / horner(&PPND16_F, t2);
    let tail = -if t <= 5.0 { mid } else { far };
    if q >= -0.425 { central } else { tail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_accuracy() {
        let mut worst: f64 = 0.0;
        let mut x = 1e-300f64;
        while x < 4.0 {
            let want = x.ln();
            let got = ln(x);
            if want.abs() > 1e-3 {
                worst = worst.max(((got - want) / want).abs() / f64::EPSILON);
            } else {
                worst = worst.max((got - want).abs() / f64::EPSILON);
            }
            x *= 1.000_37;
        }
        eprintln!("f64 ln: worst {worst:.3} ulp");
        assert!(worst < 2.0, "ln: worst error {worst} ulp");
    }

    #[test]
    fn sin_cos_accuracy() {
        let mut worst: f64 = 0.0;
        let n: u64 = 1 << 53;
        let mut m: u64 = 0;
        while m < n {
            let (c, s) = cos_sin_turns(m);
            let a = 2.0 * std::f64::consts::PI * (m as f64) / n as f64;
            worst = worst.max((c - a.cos()).abs()).max((s - a.sin()).abs());
            m += 0x0000_0123_4567_89ab;
        }
        eprintln!("f64 sin/cos: worst absolute error {worst:.3e}");
        assert!(worst < 8.0 * f64::EPSILON, "sin/cos: worst absolute error {worst}");
    }

    /// PPND16 against a Newton refinement of itself on the exact
    /// distribution function (erfc from libm): relative error of the
    /// quantile over the lower half, down to 1e-300.
    #[test]
    fn quantile_accuracy() {
        let mut worst: f64 = 0.0;
        let mut s = 1e-300f64;
        while s <= 0.5 {
            let x = ndtri_lower(s);
            // one Newton step on Phi(x) = s gives the reference to ~1e-16 x
            let refined = x - (crate::special::norm_cdf(x) - s) / crate::special::phi(x);
            if refined != 0.0 {
                worst = worst.max(((x - refined) / refined).abs());
            }
            s *= 1.001;
        }
        eprintln!("f64 ndtri: worst relative error {worst:.3e}");
        assert!(worst < 1e-14, "f64 ndtri: worst relative error {worst}");
    }
}
