//! Summary statistics and goodness-of-fit, computed deterministically.
//!
//! Sums are accumulated per fixed-size chunk and the chunks combined in
//! order (Chan et al.'s pairwise update), so the numbers do not depend on
//! the thread count either.

use rayon::prelude::*;
use serde::Serialize;

use crate::dtype::{DType, Element};

/// Elements per chunk of the deterministic reduction.
const CHUNK: usize = 1 << 16;

/// Count, moments and extremes of a set of values.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values (NaN and infinities included).
    pub count: u64,
    /// Mean of the finite values.
    pub mean: f64,
    /// Population standard deviation of the finite values.
    pub std: f64,
    /// Smallest finite value.
    pub min: f64,
    /// Largest finite value.
    pub max: f64,
    /// Values equal to zero.
    pub zeros: u64,
    /// NaN values.
    pub nan: u64,
    /// Infinite values.
    pub inf: u64,
    #[serde(skip)]
    m2: f64,
    #[serde(skip)]
    finite: u64,
}

impl Default for Summary {
    fn default() -> Self {
        Summary {
            count: 0,
            mean: 0.0,
            std: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            zeros: 0,
            nan: 0,
            inf: 0,
            m2: 0.0,
            finite: 0,
        }
    }
}

impl Summary {
    /// Summary of a slice, in parallel, deterministic.
    pub fn of<T: Element>(values: &[T]) -> Summary {
        let parts: Vec<Summary> = values.par_chunks(CHUNK).map(Summary::sequential).collect();
        parts.iter().fold(Summary::default(), |a, b| a.merge(b))
    }

    /// Summary of a slice on the calling thread.
    pub fn sequential<T: Element>(values: &[T]) -> Summary {
        let mut s = Summary::default();
        for &v in values {
            s.push(v.to_f64());
        }
        s.finish()
    }

    /// Add one value (call [`Summary::finish`] before reading `std`).
    pub fn push(&mut self, x: f64) {
        self.count += 1;
        if x.is_nan() {
            self.nan += 1;
            return;
        }
        if x.is_infinite() {
            self.inf += 1;
            return;
        }
        if x == 0.0 {
            self.zeros += 1;
        }
        self.finite += 1;
        let d = x - self.mean;
        self.mean += d / self.finite as f64;
        self.m2 += d * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Combine two summaries (the result is finished).
    pub fn merge(&self, o: &Summary) -> Summary {
        let n = self.finite + o.finite;
        // An empty side contributes nothing (its mean may be NaN once finished).
        let (mean, m2) = if o.finite == 0 {
            (self.mean, self.m2)
        } else if self.finite == 0 {
            (o.mean, o.m2)
        } else {
            let d = o.mean - self.mean;
            let w = o.finite as f64 / n as f64;
            (self.mean + d * w, self.m2 + o.m2 + d * d * self.finite as f64 * w)
        };
        Summary {
            count: self.count + o.count,
            mean,
            std: 0.0,
            min: self.min.min(o.min),
            max: self.max.max(o.max),
            zeros: self.zeros + o.zeros,
            nan: self.nan + o.nan,
            inf: self.inf + o.inf,
            m2,
            finite: n,
        }
        .finish()
    }

    /// Compute `std` from the accumulated second moment.
    pub fn finish(mut self) -> Summary {
        self.std = if self.finite > 0 { (self.m2 / self.finite as f64).sqrt() } else { f64::NAN };
        if self.finite == 0 {
            self.mean = f64::NAN;
            self.min = f64::NAN;
            self.max = f64::NAN;
        }
        self
    }
}

/// The Kolmogorov-Smirnov statistic `sup |F_n(x) - F(x)|` of a sample
/// (sorted in place) against a continuous distribution function.
pub fn ks_statistic(sample: &mut [f64], cdf: impl Fn(f64) -> f64) -> f64 {
    ks_statistic_rounded(sample, cdf, |x| (x, x))
}

/// The Kolmogorov-Smirnov statistic of a sample that was rounded to a grid
/// (f16, bf16): a value `v` stands for the cell `cell(v) = (lo, hi)` of
/// reals that round to it, so the empirical function just before `v` is
/// compared with `F` just below `lo` and just after with `F(hi)`. Without
/// this, the rounding alone (about 2^-9 relative for bf16) makes a large
/// sample fail. Sorts `sample` in place.
pub fn ks_statistic_rounded(sample: &mut [f64], cdf: impl Fn(f64) -> f64, cell: impl Fn(f64) -> (f64, f64)) -> f64 {
    sample.sort_unstable_by(f64::total_cmp);
    ks_statistic_sorted(sample, cdf, cell)
}

/// [`ks_statistic_rounded`] of an already sorted sample. The comparison
/// below a value uses the left limit `F(lo-)`, so a distribution with an
/// atom (sparse's zeros, a constant) is judged correctly.
pub fn ks_statistic_sorted(sorted: &[f64], cdf: impl Fn(f64) -> f64, cell: impl Fn(f64) -> (f64, f64)) -> f64 {
    let n = sorted.len() as f64;
    let mut d: f64 = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let x = sorted[i];
        let mut j = i;
        while j < sorted.len() && sorted[j] == x {
            j += 1;
        }
        let (lo, hi) = cell(x);
        d = d.max((cdf(lo.next_down()) - i as f64 / n).abs()).max((j as f64 / n - cdf(hi)).abs());
        i = j;
    }
    d
}

/// The cell of reals that round to `v` in the element type `T`: halfway to
/// the neighbours on either side.
pub fn rounding_cell<T: Element>(v: f64) -> (f64, f64) {
    let t = T::from_f64(v);
    let (down, up) = (t.next_down().to_f64(), t.next_up().to_f64());
    let (x, lo, hi) = (t.to_f64(), (down + t.to_f64()) / 2.0, (up + t.to_f64()) / 2.0);
    if !lo.is_finite() || !hi.is_finite() { (x, x) } else { (lo, hi) }
}

/// [`rounding_cell`] for a dtype chosen at run time: a point for f32 and
/// f64, the rounding cell for f16 and bf16.
pub fn rounding_cell_for(dtype: DType, v: f64) -> (f64, f64) {
    match dtype {
        DType::F16 => rounding_cell::<half::f16>(v),
        DType::BF16 => rounding_cell::<half::bf16>(v),
        DType::F32 | DType::F64 => (v, v),
    }
}

/// The asymptotic Kolmogorov distribution's survival function: the p-value
/// of a KS statistic `d` for `n` samples (Marsaglia-style series with
/// Stephens' small-sample correction).
pub fn ks_p_value(d: f64, n: usize) -> f64 {
    let sn = (n as f64).sqrt();
    let t = (sn + 0.12 + 0.11 / sn) * d;
    if t < 0.2 {
        return 1.0;
    }
    let mut p = 0.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = 2.0 * (-1f64).powi(k as i32 - 1) * libm::exp(-2.0 * k * k * t * t);
        p += term;
        if term.abs() < 1e-16 {
            break;
        }
    }
    p.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_matches_two_pass() {
        let v: Vec<f64> = (0..200_000).map(|i| ((i * 7919) % 1000) as f64 / 100.0 - 3.0).collect();
        let s = Summary::of(&v);
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
        assert!((s.mean - mean).abs() < 1e-12 && (s.std - var.sqrt()).abs() < 1e-12);
        assert_eq!((s.min, s.max, s.count), (-3.0, 6.99, 200_000));
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        assert_eq!(pool.install(|| Summary::of(&v)), s);
        // merging with empty or all-NaN parts leaves the moments alone
        let nan = Summary::of(&[f64::NAN]);
        let m = Summary::default().finish().merge(&Summary::of(&v)).merge(&nan);
        assert!((m.mean - s.mean).abs() < 1e-12 && (m.std - s.std).abs() < 1e-12 && m.nan == 1);
        let odd = [1.0, f64::NAN, f64::INFINITY, 0.0];
        let s = Summary::of(&odd);
        assert_eq!((s.nan, s.inf, s.zeros, s.count), (1, 1, 1, 4));
        assert_eq!(s.mean, 0.5);
    }

    #[test]
    fn ks_known_values() {
        let mut v: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
        let d = ks_statistic(&mut v, |x| x.clamp(0.0, 1.0));
        assert!((d - 0.0005).abs() < 1e-12);
        // a scale error of 10% is obvious to the test
        let mut w: Vec<f64> = (0..1000).map(|i| 1.1 * (i as f64 + 0.5) / 1000.0).collect();
        let d = ks_statistic(&mut w, |x| x.clamp(0.0, 1.0));
        assert!(ks_p_value(d, 1000) < 1e-6);
        assert!((ks_p_value(0.0430, 1000) - 0.045).abs() < 0.01);
        // bf16-rounded normal draws: the plain statistic is inflated by the rounding, the rounded one is not
        use crate::special::{ndtri, norm_cdf};
        let n = 200_000;
        let mut v: Vec<f64> =
            (0..n).map(|i| half::bf16::from_f64(ndtri((i as f64 + 0.5) / n as f64)).to_f64()).collect();
        let plain = ks_statistic(&mut v.clone(), norm_cdf);
        let rounded = ks_statistic_rounded(&mut v, norm_cdf, rounding_cell::<half::bf16>);
        assert!(plain > 5e-4 && rounded < 1e-4, "{plain} {rounded}");
    }
}
