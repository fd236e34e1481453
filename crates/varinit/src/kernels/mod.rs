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
//!
//! # Paths
//!
//! The same values come from several implementations, chosen at run time
//! ([`SimdPath`]): the scalar reference in this file, and the vector
//! kernels of [`lanes`] instantiated for AVX-512F, AVX2 (+F16C) and a
//! portable four-lane version. All of them give the same bits; the tests
//! compare each available path with the scalar reference for every dtype
//! and distribution. Set `VARINIT_SIMD=scalar|portable|avx2|avx512` to
//! force one (read once, at the first fill; a path the CPU lacks falls back
//! to the best one it has below it), or pass one to [`fill_elementwise`].
//!
//! # Accuracy of the transcendentals
//!
//! Measured against f64 references by the tests of [`math32`] and
//! [`math64`] over the inputs the kernels use (the figures are the test
//! output; the tests assert slightly looser bounds):
//!
//! | function | inputs checked | worst error |
//! |---|---|---|
//! | f32 `ln` | all 2^24 uniforms `m 2^-24`, every 64th f32 in [2^-126, 0.075] | 0.83 ulp |
//! | f32 `cos`/`sin` of `2 pi m / 2^24` | all 2^24 angles | 9.1e-8 absolute |
//! | f32 normal quantile (AS 241 PPND7) | every 4th f32 in [0.075, 0.5] | 3.6e-7 relative (6e-10 absolute near 1/2) |
//! | same, tails | every 64th f32 in [2^-126, 0.075] | 4.7e-7 relative |
//! | f64 `ln` | geometric sweep 1e-300 .. 4 | 1.0 ulp |
//! | f64 `cos`/`sin` of `2 pi m / 2^53` | 2^53 / 0x123456789ab evenly spaced angles | 6.9e-16 absolute |
//! | f64 quantile (PPND16) | geometric sweep 1e-300 .. 0.5, against a Newton step on `erfc` | 8.5e-16 relative |
//!
//! # Not-a-number
//!
//! Every value the kernels transform is bounded by construction (uniforms
//! on a grid inside (0, 1], finite parameters validated by the scheme), so
//! no NaN can arise; no path gives NaN any special treatment, and the
//! compare-and-select clamps would pass one through unchanged.

pub mod math32;
pub mod math64;

pub(crate) mod lanes;
mod portable;
pub(crate) mod qr;
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::dtype::{DType, Element, Precision, inward_bounds};
use crate::error::{Error, Result};
use crate::scheme::Resolved;
use crate::special;
use crate::stream::{TensorKey, block_words};
use lanes::{Lanes, Out32, OutBf16, OutF16, OutF32};
use portable::Portable;

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

pub(crate) const TWO_M24: f32 = 1.0 / 16_777_216.0;
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
    clamp_to(y, t.low, t.high)
}

/// `y` clamped to `[low, high]` by compare and select. Not `max`/`min`:
/// their result for equal zeros of opposite sign is unspecified, and every
/// path must agree on every bit.
#[inline(always)]
fn clamp_to<T: PartialOrd>(y: T, low: T, high: T) -> T {
    let y = if y < low { low } else { y };
    if high < y { high } else { y }
}

/// One group (64 values) of a single-precision distribution: the scalar
/// reference every other path reproduces.
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
    clamp_to(y, t.low, t.high)
}

/// The 32 values of a double-precision group from its words, word-major
/// (`words[j][b]` is word `j` of block `16 g + b`). Shared by every path:
/// the paths differ only in how they compute the (integer, exact) words.
#[inline]
fn values64(d: &Dist64, words: &[[u32; 16]; 4], out: &mut [f64; 32]) {
    match *d {
        Dist64::Uniform { low, width } => {
            for j in 0..2 {
                for b in 0..16 {
                    let u = bits53(words[2 * j][b], words[2 * j + 1][b]) as f64 * TWO_M53;
                    out[j * 16 + b] = low + width * u;
                }
            }
        }
        Dist64::Normal { mean, std } => {
            for b in 0..16 {
                let u1 = 1.0 - bits53(words[0][b], words[1][b]) as f64 * TWO_M53;
                let r = (math64::ln(u1) * -2.0).sqrt();
                let (c, s) = math64::cos_sin_turns(bits53(words[2][b], words[3][b]));
                out[b] = mean + std * (r * c);
                out[16 + b] = mean + std * (r * s);
            }
        }
        Dist64::Trunc(ref t) => {
            for j in 0..2 {
                for b in 0..16 {
                    out[j * 16 + b] = trunc64(t, words[2 * j][b], words[2 * j + 1][b]);
                }
            }
        }
    }
}

/// One group (32 values) of a double-precision distribution, scalar.
#[inline]
pub(crate) fn group64(d: &Dist64, key: [u32; 2], draw: u32, group: u64, out: &mut [f64; 32]) {
    let mut words = [[0u32; 16]; 4];
    for b in 0..16 {
        let w = block_words(key, group * GROUP_BLOCKS + b as u64, draw);
        for (row, x) in words.iter_mut().zip(w) {
            row[b] = x;
        }
    }
    values64(d, &words, out);
}

/// The 32-bit word of element `e` in the single-precision mapping, for
/// `draw` (used by the sparse mask).
pub(crate) fn element_word(key: [u32; 2], draw: u32, e: u64) -> u32 {
    let g = e / GROUP_F32;
    let r = e % GROUP_F32;
    let (j, b) = (r / GROUP_BLOCKS, r % GROUP_BLOCKS);
    block_words(key, g * GROUP_BLOCKS + b, draw)[j as usize]
}

/// An implementation of the kernels; see the module documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SimdPath {
    /// The scalar reference, one element at a time.
    Scalar,
    /// The shared vector algorithms on four lanes of plain arrays (any CPU).
    Portable,
    /// AVX2 and F16C, eight lanes (x86-64).
    Avx2,
    /// AVX-512F, sixteen lanes (x86-64).
    Avx512,
}

/// The environment variable that forces a path: `scalar`, `portable`,
/// `avx2` or `avx512`.
pub const SIMD_ENV: &str = "VARINIT_SIMD";

impl SimdPath {
    /// Every path, slowest first.
    pub const ALL: [SimdPath; 4] = [SimdPath::Scalar, SimdPath::Portable, SimdPath::Avx2, SimdPath::Avx512];

    /// Lower-case name, as `VARINIT_SIMD` takes it.
    pub fn name(self) -> &'static str {
        match self {
            SimdPath::Scalar => "scalar",
            SimdPath::Portable => "portable",
            SimdPath::Avx2 => "avx2",
            SimdPath::Avx512 => "avx512",
        }
    }

    /// Whether this CPU can run the path.
    pub fn is_available(self) -> bool {
        engine(self).is_some()
    }

    /// The paths this CPU can run, slowest first.
    pub fn available() -> Vec<SimdPath> {
        SimdPath::ALL.into_iter().filter(|p| p.is_available()).collect()
    }

    /// The fastest path this CPU can run.
    pub fn best() -> SimdPath {
        SimdPath::best_up_to(SimdPath::Avx512)
    }

    fn best_up_to(limit: SimdPath) -> SimdPath {
        let rank = |p: SimdPath| SimdPath::ALL.iter().position(|&q| q == p).unwrap_or(0);
        SimdPath::ALL.into_iter().rfind(|&p| rank(p) <= rank(limit) && p.is_available()).unwrap_or(SimdPath::Scalar)
    }

    /// The path fills use by default: the best one, unless `VARINIT_SIMD`
    /// names another (then that one, or if the CPU lacks it the best one
    /// below it; an unknown name is ignored). Read once per process.
    ///
    /// The chosen path must first reproduce the scalar reference on a
    /// sample of every distribution and output type ([`SimdPath::self_check`]);
    /// one that does not is passed over for the next one below it, so a
    /// miscompiled or mis-implemented vector path (the AVX-512 one, for
    /// instance, on hardware its authors could not test on) can cost speed
    /// but never change the values.
    pub fn active() -> SimdPath {
        static ACTIVE: OnceLock<SimdPath> = OnceLock::new();
        *ACTIVE.get_or_init(|| {
            let wanted = match std::env::var(SIMD_ENV).ok().and_then(|v| v.parse::<SimdPath>().ok()) {
                Some(p) => SimdPath::best_up_to(p),
                None => SimdPath::best(),
            };
            SimdPath::ALL
                .into_iter()
                .rev()
                .skip_while(|&p| p != wanted)
                .find(|p| p.self_check())
                .unwrap_or(SimdPath::Scalar)
        })
    }

    /// Whether this path is available and gives the scalar reference's bits
    /// on a sample: uniform, normal and two truncated normals, in every
    /// output type, over ranges that cross group boundaries unaligned.
    pub fn self_check(self) -> bool {
        let Some(engine) = engine(self) else { return false };
        let cases = [
            Resolved::Uniform { low: -1.0, high: 3.0 },
            Resolved::Normal { mean: 0.5, std: 2.0 },
            Resolved::TruncNormal { mean: 0.0, std: 0.02, low: -2.0, high: 2.0 },
            Resolved::TruncNormal { mean: 0.0, std: 1.0, low: -0.3, high: 6.0 },
        ];
        let key = TensorKey::new(0x5e1f, "self-check").philox();
        let (start, n) = (45u64, 300usize);
        let mut got = [0u8; 300 * 8];
        let mut want = [0u8; 300 * 8];
        cases.iter().all(|r| {
            DType::ALL.iter().all(|&dtype| {
                let Some(job) = Job::new(r, key, 0, dtype) else { return false };
                let bytes = n * dtype.size();
                job.run(engine, start, &mut got[..bytes]);
                job.run(Engine::Scalar, start, &mut want[..bytes]);
                got[..bytes] == want[..bytes]
            })
        })
    }
}

impl fmt::Display for SimdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimdPath {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim().to_ascii_lowercase();
        SimdPath::ALL.into_iter().find(|p| p.name() == t).ok_or_else(|| Error::UnknownSimdPath { name: s.to_string() })
    }
}

/// A path made runnable: the detection tokens of [`x86`].
#[derive(Clone, Copy)]
enum Engine {
    Scalar,
    Portable(Portable),
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    Avx2(x86::Avx2),
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    Avx512(x86::Avx512),
}

fn engine(path: SimdPath) -> Option<Engine> {
    match path {
        SimdPath::Scalar => Some(Engine::Scalar),
        SimdPath::Portable => Some(Engine::Portable(Portable)),
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        SimdPath::Avx2 => x86::Avx2::detect().map(Engine::Avx2),
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        SimdPath::Avx512 => x86::Avx512::detect().map(Engine::Avx512),
        #[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
        SimdPath::Avx2 | SimdPath::Avx512 => None,
    }
}

/// Everything a double-precision fill needs besides the range.
pub(crate) struct Job64 {
    d: Dist64,
    key: [u32; 2],
    draw: u32,
}

/// Everything a single-precision fill needs besides the range and the
/// output type.
pub(crate) struct Job32 {
    pub(crate) d: Dist32,
    pub(crate) key: [u32; 2],
    pub(crate) draw: u32,
    /// The truncated normal's inward bounds in the output type, widened to
    /// f32 (infinite for f32 output, whose clamp is the working one).
    pub(crate) bounds: (f32, f32),
}

/// A whole fill, resolved to what the kernels need.
enum Job {
    Single(Job32, DType),
    Double(Job64),
}

impl Job {
    fn new(r: &Resolved, key: [u32; 2], draw: u32, dtype: DType) -> Option<Job> {
        Some(match dtype.precision() {
            Precision::Single => {
                let d = Dist32::from_resolved(r)?;
                let bounds = match (r, dtype) {
                    (&Resolved::TruncNormal { low, high, .. }, DType::F16) => {
                        widen(inward_bounds::<half::f16>(low, high))
                    }
                    (&Resolved::TruncNormal { low, high, .. }, DType::BF16) => {
                        widen(inward_bounds::<half::bf16>(low, high))
                    }
                    _ => (f32::NEG_INFINITY, f32::INFINITY),
                };
                Job::Single(Job32 { d, key, draw, bounds }, dtype)
            }
            Precision::Double => Job::Double(Job64 { d: Dist64::from_resolved(r)?, key, draw }),
        })
    }

    /// Fill elements `start .. start + n` into `out` (`n` native-endian
    /// elements of the job's dtype).
    fn run(&self, engine: Engine, start: u64, out: &mut [u8]) {
        match *self {
            Job::Single(ref job, dtype) => match dtype {
                DType::F16 => run32::<OutF16>(engine, job, start, out),
                DType::BF16 => run32::<OutBf16>(engine, job, start, out),
                _ => run32::<OutF32>(engine, job, start, out),
            },
            Job::Double(ref j) => run64(engine, j, start, out),
        }
    }
}

fn widen<T: Element>((lo, hi): (T, T)) -> (f32, f32) {
    // f16 and bf16 values are exactly representable in f32
    (lo.to_f64() as f32, hi.to_f64() as f32)
}

/// Which [`Element`] an [`Out32`] writes, for the scalar reference.
trait RefOut: Out32 {
    type T: Element;
}
impl RefOut for OutF32 {
    type T = f32;
}
impl RefOut for OutF16 {
    type T = half::f16;
}
impl RefOut for OutBf16 {
    type T = half::bf16;
}

fn run32<O: RefOut>(engine: Engine, job: &Job32, start: u64, out: &mut [u8]) {
    let len = out.len() / O::SIZE;
    let p = out.as_mut_ptr();
    match engine {
        Engine::Scalar => run32_scalar::<O::T>(job, start, out),
        // SAFETY: `out` holds `len` elements of `O::SIZE` bytes.
        Engine::Portable(l) => unsafe { lanes::run32::<Portable, O>(l, &lanes::Prepared::new(l, job), start, p, len) },
        // SAFETY: the token proves the CPU features; `out` holds `len` elements.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Engine::Avx2(l) => unsafe { x86::run32_avx2::<O>(l, job, start, p, len) },
        // SAFETY: as above.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Engine::Avx512(l) => unsafe { x86::run32_avx512::<O>(l, job, start, p, len) },
    }
}

/// The scalar reference: group by group through a buffer, rounding with
/// the `half` crate and clamping in the output type.
fn run32_scalar<T: Element>(job: &Job32, start: u64, out: &mut [u8]) {
    let Job32 { ref d, key, draw, bounds } = *job;
    let size = size_of::<T>();
    // the truncated normal's inward bounds in T (exact: they came from T)
    let tb = match *d {
        Dist32::Trunc(_) => Some((T::from_f32(bounds.0), T::from_f32(bounds.1))),
        _ => None,
    };
    let mut buf = [0f32; 64];
    let mut e = start;
    let mut i = 0;
    let len = out.len() / size;
    while i < len {
        let g = e / GROUP_F32;
        let off = (e % GROUP_F32) as usize;
        group32(d, key, draw, g, &mut buf);
        let n = (64 - off).min(len - i);
        for k in 0..n {
            let mut x = T::from_f32(buf[off + k]);
            if let Some((lo, hi)) = tb {
                x = clamp_to(x, lo, hi);
            }
            // SAFETY: element i + k < len lies inside `out`; any alignment.
            unsafe { out.as_mut_ptr().add((i + k) * size).cast::<T>().write_unaligned(x) };
        }
        i += n;
        e += n as u64;
    }
}

fn run64(engine: Engine, job: &Job64, start: u64, out: &mut [u8]) {
    let len = out.len() / 8;
    let p = out.as_mut_ptr();
    match engine {
        Engine::Scalar => {
            let mut buf = [0f64; 32];
            let mut e = start;
            let mut i = 0;
            while i < len {
                let g = e / GROUP_F64;
                let off = (e % GROUP_F64) as usize;
                group64(&job.d, job.key, job.draw, g, &mut buf);
                let n = (32 - off).min(len - i);
                for k in 0..n {
                    // SAFETY: element i + k < len lies inside `out`.
                    unsafe { p.add((i + k) * 8).cast::<f64>().write_unaligned(buf[off + k]) };
                }
                i += n;
                e += n as u64;
            }
        }
        // SAFETY: `out` holds `len` f64s.
        Engine::Portable(l) => unsafe { run64_words(l, job, start, p, len) },
        // SAFETY: the token proves the CPU features; `out` holds `len` f64s.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Engine::Avx2(l) => unsafe { x86::run64_avx2(l, job, start, p, len) },
        // SAFETY: as above.
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        Engine::Avx512(l) => unsafe { x86::run64_avx512(l, job, start, p, len) },
    }
}

/// Double precision with vectorised Philox words and the shared scalar
/// transforms.
///
/// # Safety
/// `out` must be valid for writing `len` f64s (any alignment).
#[inline(always)]
pub(crate) unsafe fn run64_words<L: Lanes>(l: L, job: &Job64, start: u64, out: *mut u8, len: usize) {
    let keys = lanes::RoundKeys::new(l, job.key);
    let mut buf = [0f64; 32];
    let mut e = start;
    let mut i = 0;
    while i < len {
        let g = e / GROUP_F64;
        let off = (e % GROUP_F64) as usize;
        let words = lanes::group_words(l, &keys, job.draw, g);
        values64(&job.d, &words, &mut buf);
        let n = (32 - off).min(len - i);
        // SAFETY: elements i .. i + n lie inside `out`; `buf` holds 32 f64s.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr().add(off).cast::<u8>(), out.add(i * 8), n * 8) };
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

/// [`for_chunks`] over a byte buffer of `size`-byte elements.
fn for_byte_chunks(start: u64, out: &mut [u8], size: usize, par: Par, f: impl Fn(u64, &mut [u8]) + Sync) {
    let n = out.len() / size;
    let first = ((CHUNK - start % CHUNK) % CHUNK).min(n as u64) as usize;
    let (head, rest) = out.split_at_mut(first * size);
    if !head.is_empty() {
        f(start, head);
    }
    let base = start + first as u64;
    let step = CHUNK as usize * size;
    match par {
        Par::Seq => {
            for (i, c) in rest.chunks_mut(step).enumerate() {
                f(base + i as u64 * CHUNK, c);
            }
        }
        Par::Rayon => {
            rest.par_chunks_mut(step).enumerate().for_each(|(i, c)| f(base + i as u64 * CHUNK, c));
        }
    }
}

/// Fill native-endian `dtype` elements from `start` into `out`; false if
/// `r` is not an element-wise random distribution.
#[allow(clippy::too_many_arguments)] // the fill's coordinates, all needed
pub(crate) fn fill_random_ne(
    r: &Resolved,
    key: [u32; 2],
    draw: u32,
    start: u64,
    dtype: DType,
    out: &mut [u8],
    par: Par,
    engine_path: SimdPath,
) -> bool {
    let Some(job) = Job::new(r, key, draw, dtype) else { return false };
    let engine = engine(engine_path).unwrap_or(Engine::Scalar);
    for_byte_chunks(start, out, dtype.size(), par, |s, o| job.run(engine, s, o));
    true
}

/// The bytes of a slice of elements (plain floats: every byte pattern is a
/// valid value, so writing through the bytes is sound).
fn as_bytes_mut<T: Element>(out: &mut [T]) -> &mut [u8] {
    // SAFETY: `T` is f32, f64, f16 or bf16 (the trait is sealed): no
    // padding, no invalid bit patterns, alignment of u8 is 1.
    unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(out)) }
}

/// Fill with an element-wise random distribution (uniform, normal,
/// truncated normal; sparse's dense part) on the active path. Returns false
/// if `r` is not one.
pub(crate) fn fill_random<T: Element>(
    r: &Resolved,
    key: [u32; 2],
    draw: u32,
    start: u64,
    out: &mut [T],
    par: Par,
) -> bool {
    fill_random_ne(r, key, draw, start, T::DTYPE, as_bytes_mut(out), par, SimdPath::active())
}

/// Fill elements `start .. start + out.len()` of an element-wise random
/// distribution (uniform, normal, truncated normal) keyed by `key`, on a
/// chosen path: what [`crate::TensorInit::fill_range`] does for these
/// distributions, with the path explicit, so that tests and benchmarks can
/// compare paths within one process.
///
/// ```
/// use varinit::kernels::{SimdPath, fill_elementwise};
/// use varinit::{Par, Resolved, TensorKey};
/// let r = Resolved::Normal { mean: 0.0, std: 1.0 };
/// let key = TensorKey::new(0, "w");
/// let mut a = vec![0f32; 1000];
/// let mut b = vec![0f32; 1000];
/// fill_elementwise(&r, key, 5, &mut a, Par::Seq, SimdPath::Scalar)?;
/// fill_elementwise(&r, key, 5, &mut b, Par::Rayon, SimdPath::best())?;
/// assert_eq!(a, b);
/// # Ok::<(), varinit::Error>(())
/// ```
///
/// Errors if the CPU cannot run `path` or `r` is not one of those
/// distributions.
pub fn fill_elementwise<T: Element>(
    r: &Resolved,
    key: TensorKey,
    start: u64,
    out: &mut [T],
    par: Par,
    path: SimdPath,
) -> Result<()> {
    if !path.is_available() {
        let have: Vec<&str> = SimdPath::available().into_iter().map(SimdPath::name).collect();
        return Err(Error::SimdPathUnavailable { path: path.name().into(), available: have.join(", ") });
    }
    // sparse resolves to a normal draw too, but its zeros come from a mask
    if !r.is_elementwise() || !fill_random_ne(r, key.philox(), 0, start, T::DTYPE, as_bytes_mut(out), par, path) {
        return Err(Error::NotElementwise { distribution: r.to_string() });
    }
    Ok(())
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
