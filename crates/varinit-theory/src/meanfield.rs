//! Mean-field signal propagation through deep random networks (Poole et
//! al. 2016, "Exponential expressivity in deep neural networks through
//! transient chaos"; Schoenholz et al. 2017, "Deep information
//! propagation").
//!
//! A fully connected network with weights `W ~ N(0, sigma_w^2 / N)` and
//! biases `b ~ N(0, sigma_b^2)`; in the limit of infinite width the
//! pre-activations of a layer are Gaussian, and their second moment `q` and
//! the correlation `c` between two inputs evolve by deterministic maps:
//!
//! - length map `q' = sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`, fixed
//!   point `q*`;
//! - `chi_1 = sigma_w^2 E[phi'(sqrt(q*) z)^2]`: the factor by which the
//!   second moment of a gradient grows per layer (below 1: ordered phase,
//!   gradients vanish; above 1: chaotic phase, they explode; 1: the edge of
//!   chaos);
//! - correlation map `c' = (sigma_w^2 E[phi(u1) phi(u2)] + sigma_b^2) / q*`
//!   with `u1 = sqrt(q*) z1`, `u2 = sqrt(q*) (c z1 + sqrt(1 - c^2) z2)`,
//!   fixed point `c*` (1 in the ordered phase);
//! - depth scales `xi_q = -1 / ln(chi_q)` with `chi_q = dq'/dq` at `q*`
//!   (`= chi_1 + sigma_w^2 E[phi'' phi]`), and `xi_c = -1 / ln(chi_c)` with
//!   `chi_c = sigma_w^2 E[phi'(u1) phi'(u2)]` at `c*` (`= chi_1` when
//!   `c* = 1`).
//!
//! `chi_q` is computed as `sigma_w^2 E[z phi(x) phi'(x)] / sqrt(q)` with
//! `x = sqrt(q) z` (Gaussian integration by parts), which needs no second
//! derivative and so no delta functions at kinks.
//!
//! ```
//! use varinit::Activation;
//! use varinit_theory::meanfield::{MeanField, critical};
//! // ReLU: chi_1 = sigma_w^2 / 2, the edge of chaos is He's sigma_w^2 = 2.
//! let p = MeanField::new(Activation::Relu, 2.0, 0.0)?.analyze(1.0)?;
//! assert!((p.chi1 - 1.0).abs() < 1e-14);
//! // tanh with sigma_b = 0: the edge of chaos is sigma_w = 1.
//! let c = critical(Activation::Tanh, 0.0, 1.0)?.point().unwrap().sigma_w2;
//! assert!((c - 1.0).abs() < 1e-9);
//! # Ok::<(), varinit::Error>(())
//! ```

use crate::quadrature::{expect, expect_refined};
use varinit::error::{Error, Result};
use varinit::gain::Activation;

/// `E[phi(sqrt(q) Z)^2]`.
pub fn second_moment(act: Activation, q: f64) -> f64 {
    expect(|x, _| act.value(x).powi(2), 0.0, q.max(0.0).sqrt(), act.kinks())
}

/// `E[phi'(sqrt(q) Z)^2]`.
pub fn derivative_second_moment(act: Activation, q: f64) -> f64 {
    expect(|x, _| act.derivative(x).powi(2), 0.0, q.max(0.0).sqrt(), act.kinks())
}

/// `E[phi(sqrt(q) Z)]`.
pub fn mean(act: Activation, q: f64) -> f64 {
    expect(|x, _| act.value(x), 0.0, q.max(0.0).sqrt(), act.kinks())
}

/// `d/dq E[phi(sqrt(q) Z)^2] = E[phi'^2] + E[phi'' phi]`, as
/// `E[Z phi(x) phi'(x)] / sqrt(q)`; at `q = 0`, `E[phi'(0 Z)^2]` (which is
/// the limit when `phi(0) = 0`).
pub fn second_moment_slope(act: Activation, q: f64) -> f64 {
    let q = q.max(0.0);
    let phi0 = act.value(0.0);
    if q < 1e-24 {
        return derivative_second_moment(act, 0.0);
    }
    let s = q.sqrt();
    // Split phi(x) = (phi(x) - phi(0)) + phi(0) so the first term is well
    // conditioned for small q.
    let a = expect(|x, z| z * ((act.value(x) - phi0) / s) * act.derivative(x), 0.0, s, act.kinks());
    let b = if phi0 == 0.0 { 0.0 } else { phi0 * expect(|x, z| z * act.derivative(x), 0.0, s, act.kinks()) / s };
    a + b
}

/// `E[f(u1, u2)]` for a centred Gaussian pair with variances `q1`, `q2`
/// and correlation `c`: `u1 = sqrt(q1) z1`, `u2 = sqrt(q2) (c z1 +
/// sqrt(1 - c^2) z2)`. `f` is smooth except where `u1` is in `kinks1` or
/// `u2` in `kinks2`.
pub fn expect2(f: impl Fn(f64, f64) -> f64, q1: f64, q2: f64, c: f64, kinks1: &[f64], kinks2: &[f64]) -> f64 {
    let (s1, s2) = (q1.max(0.0).sqrt(), q2.max(0.0).sqrt());
    let c = c.clamp(-1.0, 1.0);
    let sc = (1.0 - c * c).max(0.0).sqrt();
    if sc == 0.0 || s2 == 0.0 {
        // u2 = c sqrt(q2 / q1) u1: one dimension.
        let ratio = if s1 > 0.0 { c * s2 / s1 } else { 0.0 };
        let mut kinks: Vec<f64> = kinks1.to_vec();
        if ratio != 0.0 {
            kinks.extend(kinks2.iter().map(|k| k / ratio));
        }
        return expect(|x, _| f(x, ratio * x), 0.0, s1, &kinks);
    }
    // Outer integral over z1; the inner one over z2 is a smooth function of
    // z1 except near the points where the inner mean crosses a kink of
    // phi(u2), where it bends on the scale sqrt(1 - c^2) / |c| (in z1).
    let extra: Vec<(f64, f64)> =
        if c == 0.0 { Vec::new() } else { kinks2.iter().map(|k| (k / (s2 * c), sc / c.abs())).collect() };
    expect_refined(
        |x1, z1| {
            let m = s2 * c * z1;
            expect(|x2, _| f(x1, x2), m, s2 * sc, kinks2)
        },
        0.0,
        s1,
        kinks1,
        &extra,
    )
}

/// A point `(sigma_w^2, sigma_b^2)` of an activation's mean-field phase
/// diagram.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanField {
    /// The activation.
    pub activation: Activation,
    /// Weight variance times fan-in.
    pub sigma_w2: f64,
    /// Bias variance.
    pub sigma_b2: f64,
}

/// The fixed point of the length map reached from a starting `q`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LengthFixedPoint {
    /// The iteration converges to `q*`.
    Finite(f64),
    /// `q` grows without bound (for example ReLU with `sigma_w^2 > 2`).
    Unbounded,
}

/// Which side of the edge of chaos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// `chi_1 < 1`: inputs become correlated, gradients vanish.
    Ordered,
    /// `chi_1 = 1` (within 1e-9).
    Critical,
    /// `chi_1 > 1`: nearby inputs decorrelate, gradients explode.
    Chaotic,
    /// The length map has no finite fixed point: the signal itself explodes.
    Unbounded,
}

impl Phase {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Ordered => "ordered",
            Phase::Critical => "critical",
            Phase::Chaotic => "chaotic",
            Phase::Unbounded => "unbounded",
        }
    }
}

/// Everything the mean-field theory says about one `(sigma_w^2, sigma_b^2)`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct MeanFieldPoint {
    /// Weight variance times fan-in.
    pub sigma_w2: f64,
    /// Bias variance.
    pub sigma_b2: f64,
    /// The second moment the iteration started from.
    pub q0: f64,
    /// Fixed point of the length map (infinite when unbounded).
    pub q_star: f64,
    /// `sigma_w^2 E[phi'(sqrt(q*) z)^2]`.
    pub chi1: f64,
    /// Slope of the length map at `q*`.
    pub chi_q: f64,
    /// Stable fixed point of the correlation map.
    pub c_star: f64,
    /// Slope of the correlation map at `c*`.
    pub chi_c: f64,
    /// Depth scale of the length map, `-1 / ln(chi_q)` (infinite when `chi_q >= 1`).
    pub xi_q: f64,
    /// Depth scale of correlations, `-1 / ln(chi_c)` (infinite at the edge of chaos).
    pub xi_c: f64,
    /// Ordered, critical, chaotic or unbounded.
    pub phase: Phase,
}

fn check(name: &str, x: f64, positive: bool) -> Result<()> {
    let ok = x.is_finite() && if positive { x > 0.0 } else { x >= 0.0 };
    if ok {
        return Ok(());
    }
    Err(Error::InvalidArgument {
        function: "mean field".into(),
        param: name.into(),
        value: x.to_string(),
        reason: if positive { "must be a finite number > 0".into() } else { "must be a finite number >= 0".into() },
    })
}

/// The depth scale `-1 / ln(chi)` (infinite for `chi >= 1`, 0 for `chi = 0`).
pub fn depth_scale(chi: f64) -> f64 {
    if chi >= 1.0 || chi.is_nan() { f64::INFINITY } else { -1.0 / chi.ln() }
}

impl MeanField {
    /// Validate: `sigma_w2 > 0` and `sigma_b2 >= 0`, both finite.
    pub fn new(activation: Activation, sigma_w2: f64, sigma_b2: f64) -> Result<MeanField> {
        check("sigma_w2", sigma_w2, true)?;
        check("sigma_b2", sigma_b2, false)?;
        Ok(MeanField { activation, sigma_w2, sigma_b2 })
    }

    /// The length map `q -> sigma_w^2 E[phi(sqrt(q) z)^2] + sigma_b^2`.
    pub fn length_map(&self, q: f64) -> f64 {
        self.sigma_w2 * second_moment(self.activation, q) + self.sigma_b2
    }

    /// `chi_1` at second moment `q`: `sigma_w^2 E[phi'(sqrt(q) z)^2]`.
    pub fn chi1(&self, q: f64) -> f64 {
        self.sigma_w2 * derivative_second_moment(self.activation, q)
    }

    /// Slope of the length map at `q`.
    pub fn chi_q(&self, q: f64) -> f64 {
        self.sigma_w2 * second_moment_slope(self.activation, q)
    }

    /// The correlation map at second moment `q > 0` and correlation `c`.
    pub fn correlation_map(&self, q: f64, c: f64) -> f64 {
        let a = self.activation;
        let k = a.kinks();
        let e = expect2(|x, y| a.value(x) * a.value(y), q, q, c, k, k);
        ((self.sigma_w2 * e + self.sigma_b2) / q).clamp(-1.0, 1.0)
    }

    /// Slope of the correlation map at `(q, c)`: `sigma_w^2 E[phi'(u1) phi'(u2)]`.
    pub fn chi_c(&self, q: f64, c: f64) -> f64 {
        let a = self.activation;
        let k = a.kinks();
        self.sigma_w2 * expect2(|x, y| a.derivative(x) * a.derivative(y), q, q, c, k, k)
    }

    /// The fixed point of the length map reached by iterating from `q0`.
    pub fn length_fixed_point(&self, q0: f64) -> Result<LengthFixedPoint> {
        check("q0", q0, false)?;
        // A fixed point beyond this is treated as none: q grows without bound.
        let cap = 1e8 * (1.0 + self.sigma_b2 + self.sigma_w2 + q0);
        let f = |q: f64| self.length_map(q) - q;
        let mut q = q0;
        let mut prev_step = f64::NAN;
        for it in 0..60 {
            let next = self.length_map(q);
            if !next.is_finite() || next > cap {
                return Ok(LengthFixedPoint::Unbounded);
            }
            let step = next - q;
            let rate = (step / prev_step).abs();
            let tol = 1e-15 * next.abs() + 1e-300;
            // Converged when the remaining distance, step * rate / (1 - rate), is negligible.
            if step == 0.0
                || (step.abs() <= tol * 10.0 && (rate.is_nan() || rate < 0.5))
                || (rate < 1.0 && step.abs() * rate / (1.0 - rate) <= tol)
            {
                return Ok(LengthFixedPoint::Finite(next));
            }
            prev_step = step;
            q = next;
            if it >= 3 && rate > 0.5 {
                break; // slow: bracket instead
            }
        }
        // The iteration is monotone (the length map is increasing in q):
        // bracket the fixed point it is heading for and solve.
        let fq = f(q);
        if fq > 0.0 {
            let mut lo = q;
            let mut flo = fq;
            let mut d = fq.max(1e-300);
            loop {
                let hi = lo + d;
                if hi > cap {
                    return Ok(LengthFixedPoint::Unbounded);
                }
                let fhi = f(hi);
                if fhi <= 0.0 {
                    return Ok(LengthFixedPoint::Finite(solve(f, lo, flo, hi, fhi)));
                }
                // Far out, an excess (q' - q) / q that no longer shrinks means the
                // map is asymptotically steeper than the identity: no fixed point.
                if hi > 1e4 * (1.0 + self.sigma_b2 + q0) && fhi / hi >= flo / lo {
                    return Ok(LengthFixedPoint::Unbounded);
                }
                lo = hi;
                flo = fhi;
                d *= 2.0;
            }
        } else if fq < 0.0 {
            let mut hi = q;
            let mut fhi = fq;
            loop {
                let lo = if hi < 1e-280 { 0.0 } else { hi * 0.5 };
                let flo = f(lo);
                if flo >= 0.0 {
                    if lo == 0.0 && flo == 0.0 {
                        return Ok(LengthFixedPoint::Finite(0.0));
                    }
                    return Ok(LengthFixedPoint::Finite(solve(f, lo, flo, hi, fhi)));
                }
                if lo == 0.0 {
                    return Ok(LengthFixedPoint::Finite(0.0));
                }
                hi = lo;
                fhi = flo;
            }
        }
        Ok(LengthFixedPoint::Finite(q))
    }

    /// The stable fixed point `c*` of the correlation map at `q* > 0`:
    /// 1 when `chi_1 <= 1`, else the root in `[0, 1)`.
    pub fn correlation_fixed_point(&self, q_star: f64) -> f64 {
        if q_star <= 0.0 || self.chi1(q_star) <= 1.0 {
            return 1.0;
        }
        let g = |c: f64| self.correlation_map(q_star, c) - c;
        let g0 = g(0.0);
        if g0 <= 0.0 {
            return 0.0;
        }
        let mut delta = 0.25;
        while delta > 1e-10 {
            let hi = 1.0 - delta;
            let gh = g(hi);
            if gh < 0.0 {
                return solve(g, 0.0, g0, hi, gh);
            }
            delta *= 0.1;
        }
        1.0
    }

    /// q*, chi_1, c*, chi_c, depth scales and phase, starting the length
    /// map at `q0` (the first layer's pre-activation second moment; 1 for
    /// unit-variance inputs and sigma_w^2 = 1).
    pub fn analyze(&self, q0: f64) -> Result<MeanFieldPoint> {
        let (sigma_w2, sigma_b2) = (self.sigma_w2, self.sigma_b2);
        let q_star = match self.length_fixed_point(q0)? {
            LengthFixedPoint::Finite(q) => q,
            LengthFixedPoint::Unbounded => {
                let inf = f64::INFINITY;
                return Ok(MeanFieldPoint {
                    sigma_w2,
                    sigma_b2,
                    q0,
                    q_star: inf,
                    chi1: inf,
                    chi_q: inf,
                    c_star: f64::NAN,
                    chi_c: f64::NAN,
                    xi_q: inf,
                    xi_c: f64::NAN,
                    phase: Phase::Unbounded,
                });
            }
        };
        Ok(self.analyze_at(q0, q_star))
    }

    /// Like [`MeanField::analyze`], at a given fixed point `q_star`.
    pub fn analyze_at(&self, q0: f64, q_star: f64) -> MeanFieldPoint {
        let (sigma_w2, sigma_b2) = (self.sigma_w2, self.sigma_b2);
        let chi1 = self.chi1(q_star);
        let chi_q = self.chi_q(q_star);
        let c_star = self.correlation_fixed_point(q_star);
        let chi_c = if c_star >= 1.0 { chi1 } else { self.chi_c(q_star, c_star) };
        let phase = if (chi1 - 1.0).abs() <= 1e-9 {
            Phase::Critical
        } else if chi1 < 1.0 {
            Phase::Ordered
        } else {
            Phase::Chaotic
        };
        MeanFieldPoint {
            sigma_w2,
            sigma_b2,
            q0,
            q_star,
            chi1,
            chi_q,
            c_star,
            chi_c,
            xi_q: depth_scale(chi_q),
            // At the edge of chaos correlations propagate arbitrarily deep.
            xi_c: if phase == Phase::Critical { f64::INFINITY } else { depth_scale(chi_c) },
            phase,
        }
    }
}

/// A root of `f` in `[a, b]` where `f(a)` and `f(b)` have opposite signs
/// (or one is zero): Illinois false position, with bisection steps to
/// guarantee progress; to about 1e-15 relative.
pub fn solve(f: impl Fn(f64) -> f64, a: f64, fa: f64, b: f64, fb: f64) -> f64 {
    let (mut a, mut fa, mut b, mut fb) = (a, fa, b, fb);
    if fa == 0.0 {
        return a;
    }
    if fb == 0.0 {
        return b;
    }
    let mut side = 0i32;
    for it in 0..200 {
        let width = (b - a).abs();
        if width <= 4.0 * f64::EPSILON * a.abs().max(b.abs()) || width < 1e-300 {
            break;
        }
        let mut x = if it % 4 == 3 { 0.5 * (a + b) } else { (a * fb - b * fa) / (fb - fa) };
        if !(x > a.min(b) && x < a.max(b)) {
            x = 0.5 * (a + b);
        }
        let fx = f(x);
        if fx == 0.0 {
            return x;
        }
        if (fx > 0.0) == (fb > 0.0) {
            b = x;
            fb = fx;
            if side == -1 {
                fa *= 0.5;
            }
            side = -1;
        } else {
            a = x;
            fa = fx;
            if side == 1 {
                fb *= 0.5;
            }
            side = 1;
        }
    }
    if fa.abs() < fb.abs() { a } else { b }
}

/// The result of looking for the edge of chaos.
#[derive(Debug, Clone, PartialEq)]
pub enum CriticalSearch {
    /// `chi_1 = 1` at this point.
    Found(MeanFieldPoint),
    /// There is none for this `sigma_b^2`; why, in words.
    NotFound {
        /// One line.
        reason: String,
    },
}

impl CriticalSearch {
    /// The critical point, if found.
    pub fn point(&self) -> Option<&MeanFieldPoint> {
        match self {
            CriticalSearch::Found(p) => Some(p),
            CriticalSearch::NotFound { .. } => None,
        }
    }
}

/// The largest weight variance the critical search looks at.
pub const SIGMA_W2_MAX: f64 = 1e3;

/// The edge of chaos for `sigma_b^2`: the `sigma_w^2` where `chi_1 = 1`
/// at the length map's fixed point reached from `q0`.
pub fn critical(act: Activation, sigma_b2: f64, q0: f64) -> Result<CriticalSearch> {
    check("sigma_b2", sigma_b2, false)?;
    check("q0", q0, false)?;
    // h(sigma_w^2) = chi_1(q*) - 1, or None where q* is unbounded.
    let h = |w: f64| -> Result<Option<f64>> {
        let m = MeanField::new(act, w, sigma_b2)?;
        Ok(match m.length_fixed_point(q0)? {
            LengthFixedPoint::Finite(q) => Some(m.chi1(q) - 1.0),
            LengthFixedPoint::Unbounded => None,
        })
    };
    // Positively homogeneous activations (linear, ReLU, leaky ReLU): the
    // length map is linear, q' = sigma_w^2 E[phi(z)^2] q + sigma_b^2, and
    // chi_1 = sigma_w^2 E[phi'(z)^2] does not depend on q.
    if matches!(act, Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. }) {
        let w = match act {
            Activation::LeakyRelu { negative_slope: a } => 2.0 / (1.0 + a * a),
            Activation::Relu => 2.0,
            _ => 1.0,
        };
        if sigma_b2 > 0.0 {
            return Ok(CriticalSearch::NotFound {
                reason: format!(
                    "{act} is positively homogeneous: chi_1 = sigma_w^2 E[phi'(z)^2] = 1 only at sigma_w^2 = {w:.6}, \
                     where the length map q' = q + sigma_b^2 has no fixed point for sigma_b^2 > 0; \
                     the edge of chaos is (sigma_w^2, sigma_b^2) = ({w:.6}, 0)"
                ),
            });
        }
        // Every q is a fixed point: the signal keeps its second moment q0.
        return Ok(CriticalSearch::Found(MeanField::new(act, w, 0.0)?.analyze_at(q0, q0)));
    }
    // phi(0) = 0 and sigma_b = 0: q* = 0 is a fixed point with chi_1 =
    // sigma_w^2 E[phi'(0 z)^2]; it is the edge of chaos when, just below,
    // the iteration from q0 is drawn to it (tanh: sigma_w = 1).
    if sigma_b2 == 0.0 && act.value(0.0) == 0.0 {
        let w = 1.0 / derivative_second_moment(act, 0.0);
        let below = MeanField::new(act, w * (1.0 - 1e-3), 0.0)?;
        if let LengthFixedPoint::Finite(q) = below.length_fixed_point(q0)?
            && q <= 1e-12 * q0.max(1.0)
        {
            return Ok(CriticalSearch::Found(MeanField::new(act, w, 0.0)?.analyze_at(q0, 0.0)));
        }
    }
    let mut lo = 0.0;
    let mut h_lo = -1.0; // chi_1 -> 0 as sigma_w^2 -> 0
    let mut w = 0.0625;
    while w <= SIGMA_W2_MAX {
        match h(w)? {
            Some(v) if v >= 0.0 => {
                // q* is unbounded nowhere below w here; treat a failure as "above".
                let root = solve(|x| h(x).ok().flatten().unwrap_or(1.0), lo, h_lo, w, v);
                let p = MeanField::new(act, root, sigma_b2)?.analyze(q0)?;
                if !p.chi1.is_finite() || (p.chi1 - 1.0).abs() > 1e-6 {
                    return Ok(CriticalSearch::NotFound {
                        reason: format!(
                            "chi_1 jumps across 1 at sigma_w^2 = {root:.6} (the length map's fixed point jumps there)"
                        ),
                    });
                }
                return Ok(CriticalSearch::Found(p));
            }
            Some(v) => {
                lo = w;
                h_lo = v;
                w *= 1.25;
            }
            None => {
                // Find where q* stops being finite.
                let (mut a, mut b) = (lo, w);
                for _ in 0..40 {
                    let m = 0.5 * (a + b);
                    if h(m)?.is_some() {
                        a = m;
                    } else {
                        b = m;
                    }
                }
                let boundary = 0.5 * (a + b);
                // chi_1 need not be monotone in sigma_w^2 (ELU with a small bias
                // is chaotic in a window): look between the last grid point and
                // the boundary more finely before giving up.
                let steps = 32;
                let mut prev = (lo, h_lo);
                for k in 1..steps {
                    let x = lo + (boundary - lo) * k as f64 / steps as f64;
                    if let Some(v) = h(x)? {
                        if v >= 0.0 {
                            let root = solve(|y| h(y).ok().flatten().unwrap_or(1.0), prev.0, prev.1, x, v);
                            return Ok(CriticalSearch::Found(MeanField::new(act, root, sigma_b2)?.analyze(q0)?));
                        }
                        prev = (x, v);
                    }
                }
                return Ok(CriticalSearch::NotFound {
                    reason: format!(
                        "{act} with sigma_b^2 = {sigma_b2}: chi_1 < 1 wherever the length map has a fixed point, \
                         and q grows without bound from sigma_w^2 = {:.6} on, so there is no edge of chaos",
                        boundary
                    ),
                });
            }
        }
    }
    Ok(CriticalSearch::NotFound {
        reason: format!("{act} with sigma_b^2 = {sigma_b2}: chi_1 stays below 1 up to sigma_w^2 = {SIGMA_W2_MAX}"),
    })
}
