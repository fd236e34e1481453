//! Element-wise sampling kernels: from (key, element index) to a value.
//!
//! # Element-to-counter mapping (stream format version 1)
//!
//! Elements are processed in *groups* of [`GROUP_BLOCKS`] = 16 consecutive
//! Philox blocks, laid out word-major so that SIMD lanes (one block per
//! lane) store contiguously:
//!
//! - **f32, f16, bf16** (a block gives four 32-bit words, so a group holds
//!   64 elements): element `e` has group `g = e / 64`, slot `j = (e % 64) / 16`
//!   and lane `b = e % 16`; its block is `16 g + b`.
//!   - uniform and truncated normal use word `j` of the block;
//!   - normal uses the pair of words `(2 (j / 2), 2 (j / 2) + 1)`: the first
//!     gives the radius, the second the angle of Box-Muller; even `j` takes
//!     the cosine, odd `j` the sine.
//! - **f64** (two 64-bit uniforms per block, so a group holds 32 elements):
//!   `g = e / 32`, `j = (e % 32) / 16`, `b = e % 16`, block `16 g + b`;
//!   uniform and truncated normal use words `(2j, 2j + 1)` as the high and
//!   low halves of 53 (or 52) bits; normal takes the radius from words
//!   (0, 1) and the angle from words (2, 3), cosine for `j = 0`, sine for `j = 1`.
//!
//! # Conversions
//!
//! - uniform: `u = (w >> 8) 2^-24` in [0, 1) (f64: the top 53 bits of two
//!   words, times 2^-53); value `low + (high - low) u`.
//! - normal (Box-Muller): `r = sqrt(-2 ln(1 - u1))` with `u1` as above (so
//!   the argument is in (0, 1]), angle `2 pi m / 2^24` with `m = w >> 8`;
//!   value `mean + std r cos` or `mean + std r sin`. Largest |z|: 5.77 (f32),
//!   8.57 (f64).
//! - truncated normal (inverse CDF): `u = (2 (w >> 9) + 1) 2^-24` (odd
//!   multiples, so `u` and `1 - u` are both exact and non-zero; f64: 52
//!   bits); `p = Phi(alpha) + (Phi(beta) - Phi(alpha)) u` and
//!   `q = Phi(-beta) + (Phi(beta) - Phi(alpha)) (1 - u)`, so both tails keep
//!   full relative precision; `x = Phi^-1(p)` taken from whichever of `p`,
//!   `q` is smaller; value `mean + std x`, clamped to `[low, high]` in the
//!   working precision and again in the output type (so rounding to bf16
//!   never leaves the bounds). Parameters `Phi(alpha)`, ... are computed in
//!   f64 and rounded once.
//! - f16/bf16: the f32 value rounded to nearest even.

pub mod math32;
pub mod math64;

use rayon::prelude::*;

use crate::dtype::{Element, Precision, inward_bounds};
use crate::scheme::Resolved;
use crate::special;
use crate::stream::block_words;

/// Blocks per group.
pub const GROUP_BLOCKS: u64 = 16;
/// Elements per group in single precision.
pub const GROUP_F32: u64 = 64;
/// Elements per group in double precision.
pub const GROUP_F64: u64 = 32;

/// Elements per parallel work item (a multiple of both group sizes). Fixed,
/// so the work split never depends on the thread count (the values would
/// not either, but this keeps the schedule reproducible too).
pub const CHUNK: u64 = 1 << 16;

/// How to parallelise a fill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Par {
    /// On the calling thread.
    Seq,
    /// On the current rayon pool (`ThreadPool::install` chooses the threads).
    #[default]
    Rayon,
}

/// Parameters of an element-wise distribution in single precision.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dist32 {
    Uniform { low: f32, width: f32 },
    Normal { mean: f32, std: f32 },
    Trunc(Trunc32),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Trunc32 {
    pub pa: f32,
    pub qb: f32,
    pub mass: f32,
    pub mean: f32,
    pub std: f32,
    pub low: f32,
    pub high: f32,
}

/// Parameters of an element-wise distribution in double precision.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dist64 {
    Uniform { low: f64, width: f64 },
    Normal { mean: f64, std: f64 },
    Trunc(Trunc64),
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Trunc64 {
    pub pa: f64,
    pub qb: f64,
    pub mass: f64,
    pub mean: f64,
    pub std: f64,
    pub low: f64,
    pub high: f64,
}

/// Truncated-normal parameters in f64: (Phi(alpha), Phi(-beta), mass).
fn trunc_params(mean: f64, std: f64, low: f64, high: f64) -> (f64, f64, f64) {
    let (alpha, beta) = ((low - mean) / std, (high - mean) / std);
    (special::norm_cdf(alpha), special::norm_cdf(-beta), special::norm_mass(alpha, beta))
}

impl Dist32 {
    pub(crate) fn from_resolved(r: &Resolved) -> Option<Dist32> {
        Some(match *r {
            Resolved::Uniform { low, high } => Dist32::Uniform { low: low as f32, width: (high - low) as f32 },
            Resolved::Normal { mean, std } => Dist32::Normal { mean: mean as f32, std: std as f32 },
            Resolved::Sparse { std, .. } => Dist32::Normal { mean: 0.0, std: std as f32 },
            Resolved::TruncNormal { mean, std, low, high } => {
                let (pa, qb, mass) = trunc_params(mean, std, low, high);
                let (lo, hi) = inward_bounds::<f32>(low, high);
                Dist32::Trunc(Trunc32 {
                    pa: pa as f32,
                    qb: qb as f32,
                    mass: mass as f32,
                    mean: mean as f32,
                    std: std as f32,
                    low: lo,
                    high: hi,
                })
            }
            _ => return None,
        })
    }
}

impl Dist64 {
    pub(crate) fn from_resolved(r: &Resolved) -> Option<Dist64> {
        Some(match *r {
            Resolved::Uniform { low, high } => Dist64::Uniform { low, width: high - low },
            Resolved::Normal { mean, std } => Dist64::Normal { mean, std },
            Resolved::Sparse { std, .. } => Dist64::Normal { mean: 0.0, std },
            Resolved::TruncNormal { mean, std, low, high } => {
                let (pa, qb, mass) = trunc_params(mean, std, low, high);
                Dist64::Trunc(Trunc64 { pa, qb, mass, mean, std, low, high })
            }
            _ => return None,
        })
    }
}

const TWO_M24: f32 = 1.0 / 16_777_216.0;
const TWO_M53: f64 = 1.0 / 9_007_199_254_740_992.0;

/// One truncated-normal value from a 32-bit word (single precision).
#[inline(always)]
pub(crate) fn trunc32(t: &Trunc32, w: u32) -> f32 {
    let m = w >> 9;
    let u = (2 * m + 1) as f32 * TWO_M24;
    let v = (2 * ((1 << 23) - 1 - m) + 1) as f32 * TWO_M24; // 1 - u, exactly
    let p = t.pa + t.mass * u;
    let q = t.qb + t.mass * v;
    let lower = p < q;
    let s = if lower { p } else { q };
    let x0 = math32::ndtri_lower(s);
    let x = if lower { x0 } else { -x0 };
    let y = t.mean + t.std * x;
    y.max(t.low).min(t.high)
}

/// One group (64 values) of a single-precision distribution.
#[inline]
pub(crate) fn group32(d: &Dist32, key: [u32; 2], draw: u32, group: u64, out: &mut [f32; 64]) {
    let mut words = [[0u32; 4]; 16];
    for (b, w) in words.iter_mut().enumerate() {
        *w = block_words(key, group * GROUP_BLOCKS + b as u64, draw);
    }
    match *d {
        Dist32::Uniform { low, width } => {
            for j in 0..4 {
                for b in 0..16 {
                    let u = (words[b][j] >> 8) as f32 * TWO_M24;
                    out[j * 16 + b] = low + width * u;
                }
            }
        }
        Dist32::Normal { mean, std } => {
            for pair in 0..2 {
                for b in 0..16 {
                    let u1 = 1.0 - (words[b][2 * pair] >> 8) as f32 * TWO_M24;
                    let r = (math32::ln(u1) * -2.0).sqrt();
                    let (c, s) = math32::cos_sin_turns(words[b][2 * pair + 1] >> 8);
                    out[(2 * pair) * 16 + b] = mean + std * (r * c);
                    out[(2 * pair + 1) * 16 + b] = mean + std * (r * s);
                }
            }
        }
        Dist32::Trunc(ref t) => {
            for j in 0..4 {
                for b in 0..16 {
                    out[j * 16 + b] = trunc32(t, words[b][j]);
                }
            }
        }
    }
}

#[inline(always)]
fn bits53(hi: u32, lo: u32) -> u64 {
    (u64::from(hi) << 21) | u64::from(lo >> 11)
}

/// One truncated-normal value from two words (double precision).
#[inline(always)]
pub(crate) fn trunc64(t: &Trunc64, hi: u32, lo: u32) -> f64 {
    let m = (u64::from(hi) << 20) | u64::from(lo >> 12); // 52 bits
    let u = (2 * m + 1) as f64 * TWO_M53;
    let v = (2 * ((1u64 << 52) - 1 - m) + 1) as f64 * TWO_M53;
    let p = t.pa + t.mass * u;
    let q = t.qb + t.mass * v;
    let lower = p < q;
    let s = if lower { p } else { q };
    let x0 = math64::ndtri_lower(s);
    let x = if lower { x0 } else { -x0 };
    let y = t.mean + t.std * x;
    y.max(t.low).min(t.high)
}

/// One group (32 values) of a double-precision distribution.
#[inline]
pub(crate) fn group64(d: &Dist64, key: [u32; 2], draw: u32, group: u64, out: &mut [f64; 32]) {
    let mut words = [[0u32; 4]; 16];
    for (b, w) in words.iter_mut().enumerate() {
        *w = block_words(key, group * GROUP_BLOCKS + b as u64, draw);
    }
    match *d {
        Dist64::Uniform { low, width } => {
            for j in 0..2 {
                for b in 0..16 {
                    let u = bits53(words[b][2 * j], words[b][2 * j + 1]) as f64 * TWO_M53;
                    out[j * 16 + b] = low + width * u;
                }
            }
        }
        Dist64::Normal { mean, std } => {
            for b in 0..16 {
                let u1 = 1.0 - bits53(words[b][0], words[b][1]) as f64 * TWO_M53;
                let r = (math64::ln(u1) * -2.0).sqrt();
                let (c, s) = math64::cos_sin_turns(bits53(words[b][2], words[b][3]));
                out[b] = mean + std * (r * c);
                out[16 + b] = mean + std * (r * s);
            }
        }
        Dist64::Trunc(ref t) => {
            for j in 0..2 {
                for b in 0..16 {
                    out[j * 16 + b] = trunc64(t, words[b][2 * j], words[b][2 * j + 1]);
                }
            }
        }
    }
}

/// The 32-bit word of element `e` in the single-precision mapping, for
/// `draw` (used by the sparse mask).
pub(crate) fn element_word(key: [u32; 2], draw: u32, e: u64) -> u32 {
    let g = e / GROUP_F32;
    let r = e % GROUP_F32;
    let (j, b) = (r / GROUP_BLOCKS, r % GROUP_BLOCKS);
    block_words(key, g * GROUP_BLOCKS + b, draw)[j as usize]
}

/// Output conversion with the truncated normal's inward clamp.
#[derive(Clone, Copy)]
struct Clamp<T> {
    bounds: Option<(T, T)>,
}

impl<T: Element> Clamp<T> {
    fn new(r: &Resolved) -> Self {
        match *r {
            Resolved::TruncNormal { low, high, .. } => Clamp { bounds: Some(inward_bounds::<T>(low, high)) },
            _ => Clamp { bounds: None },
        }
    }
    #[inline(always)]
    fn apply(&self, x: T) -> T {
        match self.bounds {
            None => x,
            Some((lo, hi)) => {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            }
        }
    }
}

/// Fill `out` with elements `start .. start + out.len()` of a sequential run,
/// single precision, group by group.
fn run32<T: Element>(d: &Dist32, clamp: Clamp<T>, key: [u32; 2], draw: u32, start: u64, out: &mut [T]) {
    let mut buf = [0f32; 64];
    let mut e = start;
    let mut i = 0;
    while i < out.len() {
        let g = e / GROUP_F32;
        let off = (e % GROUP_F32) as usize;
        group32(d, key, draw, g, &mut buf);
        let n = (64 - off).min(out.len() - i);
        for k in 0..n {
            out[i + k] = clamp.apply(T::from_f32(buf[off + k]));
        }
        i += n;
        e += n as u64;
    }
}

fn run64<T: Element>(d: &Dist64, clamp: Clamp<T>, key: [u32; 2], draw: u32, start: u64, out: &mut [T]) {
    let mut buf = [0f64; 32];
    let mut e = start;
    let mut i = 0;
    while i < out.len() {
        let g = e / GROUP_F64;
        let off = (e % GROUP_F64) as usize;
        group64(d, key, draw, g, &mut buf);
        let n = (32 - off).min(out.len() - i);
        for k in 0..n {
            out[i + k] = clamp.apply(T::from_f64(buf[off + k]));
        }
        i += n;
        e += n as u64;
    }
}

/// Split `[start, start + out.len())` at multiples of [`CHUNK`] and run `f`
/// on each piece, sequentially or on the rayon pool.
pub(crate) fn for_chunks<T: Send>(start: u64, out: &mut [T], par: Par, f: impl Fn(u64, &mut [T]) + Sync) {
    let first = ((CHUNK - start % CHUNK) % CHUNK).min(out.len() as u64) as usize;
    let (head, rest) = out.split_at_mut(first);
    if !head.is_empty() {
        f(start, head);
    }
    let base = start + first as u64;
    match par {
        Par::Seq => {
            for (i, c) in rest.chunks_mut(CHUNK as usize).enumerate() {
                f(base + i as u64 * CHUNK, c);
            }
        }
        Par::Rayon => {
            rest.par_chunks_mut(CHUNK as usize).enumerate().for_each(|(i, c)| f(base + i as u64 * CHUNK, c));
        }
    }
}

/// Fill with an element-wise random distribution (uniform, normal,
/// truncated normal; sparse's dense part). Returns false if `r` is not one.
pub(crate) fn fill_random<T: Element>(
    r: &Resolved,
    key: [u32; 2],
    draw: u32,
    start: u64,
    out: &mut [T],
    par: Par,
) -> bool {
    let clamp = Clamp::<T>::new(r);
    match T::DTYPE.precision() {
        Precision::Single => {
            let Some(d) = Dist32::from_resolved(r) else { return false };
            for_chunks(start, out, par, |s, o| run32(&d, clamp, key, draw, s, o));
        }
        Precision::Double => {
            let Some(d) = Dist64::from_resolved(r) else { return false };
            for_chunks(start, out, par, |s, o| run64(&d, clamp, key, draw, s, o));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunking_covers_every_element_once() {
        for (start, len) in [(0u64, 0usize), (5, 3), (CHUNK - 3, 10), (3 * CHUNK + 7, 2 * CHUNK as usize + 5)] {
            let mut v = vec![u64::MAX; len];
            for_chunks(start, &mut v, Par::Rayon, |s, o| {
                for (i, x) in o.iter_mut().enumerate() {
                    *x = s + i as u64;
                }
            });
            assert!(v.iter().enumerate().all(|(i, &x)| x == start + i as u64));
        }
    }
}
