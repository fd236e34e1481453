//! The vector kernels, written once over a small set of lane-wise
//! primitives ([`Lanes`]) and instantiated for every instruction set.
//!
//! Why one generic body: the stream format promises the same bits on every
//! path, and the easiest way to keep the AVX2, AVX-512 and portable
//! kernels from drifting apart is to have no separate kernels at all. Each
//! instruction set only supplies primitives whose results are exactly
//! defined by IEEE 754 or by integer arithmetic (add, multiply, divide and
//! square root correctly rounded, exact integer/float conversions of small
//! integers, compare and select, bit operations). No primitive fuses a
//! multiply and an add, and the algorithms below perform the operations of
//! the scalar reference ([`super::math32`], [`super::trunc32`],
//! [`super::group32`]) in the same order, lane by lane. The tests compare
//! every path with the scalar reference bit for bit.
//!
//! A lane is one Philox block. A group of [`super::GROUP_BLOCKS`] = 16
//! blocks is processed in `16 / N` steps of `N` lanes; the word-major
//! layout of the stream format (element `16 j + b` of a group is word `j`
//! of block `b`) means each step's results are stored as `N` contiguous
//! elements.
//!
//! Lane-uniform shortcuts (skipping a branch of the quantile when no lane
//! takes it) and the truncated normal's gathering of tail lanes change only
//! the work done, never a selected value.

use super::math32::{
    COS_P, FRAC_PI_2, LN_P, LN2_HI, LN2_LO, PPND7_A, PPND7_B, PPND7_C, PPND7_D, PPND7_E, PPND7_F, SIN_P, SQRT_HALF,
};
use super::{Dist32, GROUP_BLOCKS, Job32, TWO_M24};
use crate::stream::{PHILOX_M0, PHILOX_M1, PHILOX_ROUNDS, PHILOX_W0, PHILOX_W1};

/// Lane-wise primitives of one instruction set, `N` lanes of `u32`/`f32`.
///
/// A value of an implementing type is a token proving that the CPU
/// supports the instruction set (it can only be made after detection), so
/// the methods are safe to call; the stores write through raw pointers and
/// are `unsafe`.
///
/// Every floating-point method must be the correctly rounded IEEE 754
/// operation (round to nearest even), without fused multiply-add and
/// without flushing subnormals.
pub(crate) trait Lanes: Copy {
    /// Lanes per vector; divides 16.
    const N: usize;
    /// `N` unsigned 32-bit integers (also used as signed, wrapping).
    type U: Copy;
    /// `N` single-precision floats.
    type F: Copy;
    /// `N` lane flags, the result of a comparison.
    type M: Copy;

    fn splat_u(self, x: u32) -> Self::U;
    /// `(0, 1, ..., N - 1)`.
    fn iota(self) -> Self::U;
    fn add_u(self, a: Self::U, b: Self::U) -> Self::U;
    fn sub_u(self, a: Self::U, b: Self::U) -> Self::U;
    fn xor_u(self, a: Self::U, b: Self::U) -> Self::U;
    fn and_u(self, a: Self::U, b: Self::U) -> Self::U;
    fn or_u(self, a: Self::U, b: Self::U) -> Self::U;
    /// Logical shift right by `S` bits.
    fn shr_u<const S: i32>(self, a: Self::U) -> Self::U;
    /// Shift left by `S` bits.
    fn shl_u<const S: i32>(self, a: Self::U) -> Self::U;
    /// The high and low 32-bit halves of the 64-bit product `a * m`.
    fn mul_hilo(self, a: Self::U, m: Self::U) -> (Self::U, Self::U);
    /// Lanes where `a & bit != 0` (`bit` a power of two).
    fn bit_set(self, a: Self::U, bit: u32) -> Self::M;
    fn select_u(self, m: Self::M, a: Self::U, b: Self::U) -> Self::U;
    /// Store the `N` lanes to `p` (no alignment needed).
    ///
    /// # Safety
    /// `p` must be valid for writing `N` `u32`s.
    unsafe fn store_u(self, a: Self::U, p: *mut u32);

    /// Signed integer to float (exact for the small integers used here).
    fn to_f(self, a: Self::U) -> Self::F;
    fn bits(self, a: Self::F) -> Self::U;
    fn f_from_bits(self, a: Self::U) -> Self::F;
    fn splat_f(self, x: f32) -> Self::F;
    fn add_f(self, a: Self::F, b: Self::F) -> Self::F;
    fn sub_f(self, a: Self::F, b: Self::F) -> Self::F;
    fn mul_f(self, a: Self::F, b: Self::F) -> Self::F;
    fn div_f(self, a: Self::F, b: Self::F) -> Self::F;
    fn sqrt_f(self, a: Self::F) -> Self::F;
    /// `a < b` (false for NaN).
    fn lt_f(self, a: Self::F, b: Self::F) -> Self::M;
    /// `a <= b` (false for NaN).
    fn le_f(self, a: Self::F, b: Self::F) -> Self::M;
    /// `m ? a : b`, lane by lane.
    fn select_f(self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    /// Bit `i` set for lane `i` set.
    fn mask_bits(self, m: Self::M) -> u32;
    /// Load `N` lanes (no alignment needed).
    ///
    /// # Safety
    /// `p` must be valid for reading `N` `f32`s.
    unsafe fn load_f(self, p: *const f32) -> Self::F;
    /// Load `N` lanes (no alignment needed).
    ///
    /// # Safety
    /// `p` must be valid for reading `N` `u32`s.
    unsafe fn load_u(self, p: *const u32) -> Self::U;
    /// Every lane set.
    fn all(self, m: Self::M) -> bool;

    /// Store as f32 (no alignment needed).
    ///
    /// # Safety
    /// `p` must be valid for writing `4 N` bytes.
    unsafe fn store_f32(self, a: Self::F, p: *mut u8);
    /// Round each lane to binary16, nearest even (as `half::f16::from_f32`),
    /// and widen back: the value the f16 output will hold.
    fn round_f16(self, a: Self::F) -> Self::F;
    /// Round to binary16, nearest even, and store the `N` halves.
    ///
    /// # Safety
    /// `p` must be valid for writing `2 N` bytes.
    unsafe fn store_f16(self, a: Self::F, p: *mut u8);
    /// Store the high 16 bits of each lane.
    ///
    /// # Safety
    /// `p` must be valid for writing `2 N` bytes.
    unsafe fn store_hi16(self, a: Self::U, p: *mut u8);
}

/// Negate the lanes where `sign` holds `0x8000_0000` (exactly `-x`).
#[inline(always)]
fn flip<L: Lanes>(l: L, x: L::F, sign: L::U) -> L::F {
    l.f_from_bits(l.xor_u(l.bits(x), sign))
}

/// The floating-point constants of the transforms, broadcast once per
/// fill.
///
/// Why a struct: written inline, every constant becomes a broadcast load
/// next to its use (a fifth of the instructions of the normal kernel); built
/// once from values the optimiser cannot see through (`black_box`), they
/// stay in registers or become memory operands of the arithmetic. The
/// values are exactly the scalar reference's constants.
#[derive(Clone, Copy)]
pub(crate) struct C32<L: Lanes> {
    ln_p: [L::F; 9],
    sqrt_half: L::F,
    ln2_hi: L::F,
    ln2_lo: L::F,
    neg_half: L::F,
    one: L::F,
    half: L::F,
    sin_p: [L::F; 3],
    cos_p: [L::F; 3],
    quarter_turn: L::F,
    frac_pi_2: L::F,
    neg_two: L::F,
    two_m24: L::F,
    a: [L::F; 4],
    b: [L::F; 3],
    c: [L::F; 4],
    d: [L::F; 2],
    e: [L::F; 4],
    f: [L::F; 2],
    central_edge: L::F,
    r0: L::F,
    min_pos: L::F,
    five: L::F,
    one_six: L::F,
}

impl<L: Lanes> C32<L> {
    #[inline(always)]
    pub(crate) fn new(l: L) -> Self {
        let v = |x: f32| l.splat_f(core::hint::black_box(x));
        let arr = |c: &[f32]| -> [L::F; 4] { [0, 1, 2, 3].map(|i| v(c.get(i).copied().unwrap_or(0.0))) };
        let [b0, b1, b2, _] = arr(&PPND7_B);
        let [d0, d1, _, _] = arr(&PPND7_D);
        let [f0, f1, _, _] = arr(&PPND7_F);
        let [s0, s1, s2, _] = arr(&SIN_P);
        let [c0, c1, c2, _] = arr(&COS_P);
        C32 {
            ln_p: LN_P.map(v),
            sqrt_half: v(SQRT_HALF),
            ln2_hi: v(LN2_HI),
            ln2_lo: v(LN2_LO),
            neg_half: v(-0.5),
            one: v(1.0),
            half: v(0.5),
            sin_p: [s0, s1, s2],
            cos_p: [c0, c1, c2],
            quarter_turn: v(1.0 / 4_194_304.0),
            frac_pi_2: v(FRAC_PI_2),
            neg_two: v(-2.0),
            two_m24: v(TWO_M24),
            a: arr(&PPND7_A),
            b: [b0, b1, b2],
            c: arr(&PPND7_C),
            d: [d0, d1],
            e: arr(&PPND7_E),
            f: [f0, f1],
            central_edge: v(-0.425),
            r0: v(0.180_625),
            min_pos: v(f32::MIN_POSITIVE),
            five: v(5.0),
            one_six: v(1.6),
        }
    }
}

/// `a * b + c` as two roundings (never fused).
#[inline(always)]
fn mad<L: Lanes>(l: L, a: L::F, b: L::F, c: L::F) -> L::F {
    l.add_f(l.mul_f(a, b), c)
}

/// [`super::math32::ln`], lane by lane.
#[inline(always)]
pub(crate) fn ln<L: Lanes>(l: L, k: &C32<L>, x: L::F) -> L::F {
    ln_k(l, k, [x])[0]
}

/// [`ln`] of `K` independent vectors, advanced step by step together so
/// that their dependency chains (the Horner rule is one long chain)
/// overlap. Each lane's operations are unchanged.
#[inline(always)]
pub(crate) fn ln_k<L: Lanes, const K: usize>(l: L, k: &C32<L>, x: [L::F; K]) -> [L::F; K] {
    // plain loops, not closures: a closure the compiler declines to inline
    // would not inherit the caller's target features
    let (mut e, mut f, mut z, mut y) = (x, x, x, [k.ln_p[0]; K]);
    for i in 0..K {
        let bits = l.bits(x[i]);
        let e0 = l.sub_u(l.and_u(l.shr_u::<23>(bits), l.splat_u(0xff)), l.splat_u(126));
        let m = l.f_from_bits(l.or_u(l.and_u(bits, l.splat_u(0x007f_ffff)), l.splat_u(0x3f00_0000)));
        let small = l.lt_f(m, k.sqrt_half);
        e[i] = l.to_f(l.select_u(small, l.sub_u(e0, l.splat_u(1)), e0));
        f[i] = l.select_f(small, l.sub_f(l.add_f(m, m), k.one), l.sub_f(m, k.one));
        z[i] = l.mul_f(f[i], f[i]);
    }
    for &c in &k.ln_p[1..] {
        for i in 0..K {
            y[i] = mad(l, y[i], f[i], c);
        }
    }
    let mut out = x;
    for i in 0..K {
        let mut t = l.mul_f(l.mul_f(y[i], f[i]), z[i]);
        t = l.add_f(t, l.mul_f(k.ln2_lo, e[i]));
        t = l.add_f(t, l.mul_f(k.neg_half, z[i]));
        let r = l.add_f(f[i], t);
        out[i] = l.add_f(r, l.mul_f(k.ln2_hi, e[i]));
    }
    out
}

/// [`super::math32::cos_sin_turns`] of `K` independent vectors, lane by
/// lane: `(cos, sin)` of `2 pi m / 2^24`.
#[inline(always)]
pub(crate) fn cos_sin_turns_k<L: Lanes, const K: usize>(l: L, k: &C32<L>, m: [L::U; K]) -> [(L::F, L::F); K] {
    let (mut q, mut x, mut z) = (m, [k.one; K], [k.one; K]);
    for i in 0..K {
        q[i] = l.shr_u::<22>(l.add_u(m[i], l.splat_u(1 << 21)));
        let rem = l.sub_u(m[i], l.shl_u::<22>(q[i]));
        x[i] = l.mul_f(l.mul_f(l.to_f(rem), k.quarter_turn), k.frac_pi_2);
        z[i] = l.mul_f(x[i], x[i]);
    }
    let mut s = [k.sin_p[0]; K];
    let mut c = [k.cos_p[0]; K];
    for j in 1..3 {
        for i in 0..K {
            s[i] = mad(l, s[i], z[i], k.sin_p[j]);
            c[i] = mad(l, c[i], z[i], k.cos_p[j]);
        }
    }
    let mut out = [(k.one, k.one); K];
    for i in 0..K {
        let (x, z) = (x[i], z[i]);
        let s = l.add_f(l.mul_f(l.mul_f(s[i], z), x), x);
        let c = l.add_f(l.sub_f(l.mul_f(l.mul_f(c[i], z), z), l.mul_f(k.half, z)), k.one);
        // Quarter turns q & 3 = 0, 1, 2, 3 give (c, s), (-s, c), (-c, -s), (s, -c):
        // swap for odd q, negate the cosine for q & 3 in {1, 2}, the sine for {2, 3}.
        let swap = l.bit_set(q[i], 1);
        let (c1, s1) = (l.select_f(swap, s, c), l.select_f(swap, c, s));
        let cos_sign = l.shl_u::<30>(l.and_u(l.add_u(q[i], l.splat_u(1)), l.splat_u(2)));
        let sin_sign = l.shl_u::<30>(l.and_u(q[i], l.splat_u(2)));
        out[i] = (flip(l, c1, cos_sign), flip(l, s1, sin_sign));
    }
    out
}

/// Horner's rule from the highest coefficient, as the scalar code.
#[inline(always)]
fn poly<L: Lanes>(l: L, c: &[L::F], x: L::F) -> L::F {
    let mut y = c[0];
    for &k in &c[1..] {
        y = mad(l, y, x, k);
    }
    y
}

/// The central branch of [`super::math32::ndtri_lower`] (`q = s - 1/2`)
/// for `K` independent vectors, advanced together.
#[inline(always)]
fn ndtri_central_k<L: Lanes, const K: usize>(l: L, k: &C32<L>, q: [L::F; K]) -> [L::F; K] {
    let mut r = q;
    for i in 0..K {
        r[i] = l.sub_f(k.r0, l.mul_f(q[i], q[i]));
    }
    let (mut num, mut den) = ([k.a[0]; K], [k.b[0]; K]);
    for j in 1..4 {
        for i in 0..K {
            num[i] = mad(l, num[i], r[i], k.a[j]);
            den[i] = mad(l, den[i], r[i], if j < 3 { k.b[j] } else { k.one });
        }
    }
    let mut out = q;
    for i in 0..K {
        out[i] = l.div_f(l.mul_f(q[i], num[i]), den[i]);
    }
    out
}

/// The tail branches of [`super::math32::ndtri_lower`], sign included.
#[inline(always)]
fn ndtri_tail<L: Lanes>(l: L, k: &C32<L>, s: L::F) -> L::F {
    let clamped = l.select_f(l.lt_f(s, k.min_pos), k.min_pos, s);
    let t = l.sqrt_f(flip(l, ln(l, k, clamped), l.splat_u(0x8000_0000)));
    let near = l.le_f(t, k.five);
    let mid = {
        let t1 = l.sub_f(t, k.one_six);
        let n1 = poly(l, &k.c, t1);
        let d1 = mad(l, poly(l, &k.d, t1), t1, k.one);
        l.div_f(n1, d1)
    };
    let tail = if l.all(near) {
        mid
    } else {
        let t2 = l.sub_f(t, k.five);
        let n2 = poly(l, &k.e, t2);
        let d2 = mad(l, poly(l, &k.f, t2), t2, k.one);
        l.select_f(near, mid, l.div_f(n2, d2))
    };
    flip(l, tail, l.splat_u(0x8000_0000))
}

/// Philox4x32-10 for the 16 blocks of a group, `N` per vector: `16 / N`
/// independent chains advanced round by round together, so that the
/// multiplier latency of one chain hides behind the others' work.
///
/// The first two rounds exploit that only the counter's low word differs
/// between lanes (the high word, the draw and the last word are the same
/// for the whole group): the products and XORs of lane-uniform words are
/// done once in scalar integer arithmetic and broadcast. Integer
/// arithmetic is exact, so this changes no bit.
#[inline(always)]
pub(crate) fn philox_group<L: Lanes>(l: L, keys: &RoundKeys<L>, draw: u32, group: u64) -> [[L::U; 4]; 4] {
    let (m0, m1) = (l.splat_u(PHILOX_M0), l.splat_u(PHILOX_M1));
    let steps = 16 / L::N;
    let zero = l.splat_u(0);
    let mut c = [[zero; 4]; 4];
    let mul = |a: u32, m: u32| {
        let p = u64::from(a) * u64::from(m);
        ((p >> 32) as u32, p as u32)
    };
    let [(k0a, k1a), (k0b, k1b)] = [keys.1[0], keys.1[1]];
    for (step, cs) in c.iter_mut().enumerate().take(steps) {
        // 16 group + step N + lane never carries out of the low word: the
        // low four bits of 16 group are zero and step N + lane < 16.
        let base = group * GROUP_BLOCKS + (step * L::N) as u64;
        let (c0, c1, c2) = (l.add_u(l.splat_u(base as u32), l.iota()), (base >> 32) as u32, draw);
        // round 1: c0 varies, c1 = high word, c2 = draw, c3 = 0
        let (hi0, lo0) = l.mul_hilo(c0, m0);
        let (hi1, lo1) = mul(c2, PHILOX_M1);
        let r1 = (hi1 ^ c1 ^ k0a, lo1, l.xor_u(hi0, l.splat_u(k1a)), lo0);
        // round 2: now c0 and c1 are the same in every lane
        let (hi0, lo0) = mul(r1.0, PHILOX_M0);
        let (hi1, lo1) = l.mul_hilo(r1.2, m1);
        *cs = [l.xor_u(hi1, l.splat_u(r1.1 ^ k0b)), lo1, l.xor_u(r1.3, l.splat_u(hi0 ^ k1b)), l.splat_u(lo0)];
    }
    for &(k0, k1) in &keys.0[2..] {
        for cs in c.iter_mut().take(steps) {
            let [c0, c1, c2, c3] = *cs;
            let (hi0, lo0) = l.mul_hilo(c0, m0);
            let (hi1, lo1) = l.mul_hilo(c2, m1);
            *cs = [l.xor_u(l.xor_u(hi1, c1), k0), lo1, l.xor_u(l.xor_u(hi0, c3), k1), lo0];
        }
    }
    c
}

/// The ten round keys, broadcast (and as scalars, for the first rounds).
#[derive(Clone, Copy)]
pub(crate) struct RoundKeys<L: Lanes>([(L::U, L::U); PHILOX_ROUNDS], [(u32, u32); PHILOX_ROUNDS]);

impl<L: Lanes> RoundKeys<L> {
    #[inline(always)]
    pub(crate) fn new(l: L, key: [u32; 2]) -> Self {
        let mut k = [(l.splat_u(0), l.splat_u(0)); PHILOX_ROUNDS];
        let mut scalar = [(0, 0); PHILOX_ROUNDS];
        let (mut k0, mut k1) = (key[0], key[1]);
        for (r, (slot, sc)) in k.iter_mut().zip(&mut scalar).enumerate() {
            if r > 0 {
                k0 = k0.wrapping_add(PHILOX_W0);
                k1 = k1.wrapping_add(PHILOX_W1);
            }
            *slot = (l.splat_u(k0), l.splat_u(k1));
            *sc = (k0, k1);
        }
        RoundKeys(k, scalar)
    }
}

/// How a single-precision value is written: f32, f16 or bf16, with the
/// truncated normal's inward clamp in the output type where one is needed.
pub(crate) trait Out32 {
    /// Bytes per element.
    const SIZE: usize;
    /// Store `N` values at `p`.
    ///
    /// # Safety
    /// `p` must be valid for writing `N * SIZE` bytes.
    unsafe fn store<L: Lanes>(l: L, v: L::F, p: *mut u8);
    /// Round `N` values to the output type, clamp them to `[lo, hi]`
    /// (bounds representable in the output type, widened to f32), store.
    ///
    /// # Safety
    /// As [`Out32::store`].
    unsafe fn store_clamped<L: Lanes>(l: L, v: L::F, lo: L::F, hi: L::F, p: *mut u8);
}

/// `x` clamped to `[lo, hi]` by compare and select, as the scalar code.
#[inline(always)]
pub(crate) fn clamp<L: Lanes>(l: L, x: L::F, lo: L::F, hi: L::F) -> L::F {
    let x = l.select_f(l.lt_f(x, lo), lo, x);
    l.select_f(l.lt_f(hi, x), hi, x)
}

/// f32 output.
pub(crate) struct OutF32;
/// f16 output (round to nearest even).
pub(crate) struct OutF16;
/// bf16 output (round to nearest even).
pub(crate) struct OutBf16;

impl Out32 for OutF32 {
    const SIZE: usize = 4;
    #[inline(always)]
    unsafe fn store<L: Lanes>(l: L, v: L::F, p: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { l.store_f32(v, p) }
    }
    #[inline(always)]
    unsafe fn store_clamped<L: Lanes>(l: L, v: L::F, _lo: L::F, _hi: L::F, p: *mut u8) {
        // The working-precision clamp already used the f32 inward bounds.
        // SAFETY: forwarded from the caller.
        unsafe { l.store_f32(v, p) }
    }
}

impl Out32 for OutF16 {
    const SIZE: usize = 2;
    #[inline(always)]
    unsafe fn store<L: Lanes>(l: L, v: L::F, p: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { l.store_f16(v, p) }
    }
    #[inline(always)]
    unsafe fn store_clamped<L: Lanes>(l: L, v: L::F, lo: L::F, hi: L::F, p: *mut u8) {
        let r = clamp(l, l.round_f16(v), lo, hi);
        // `r` is representable in f16, so this rounding is exact.
        // SAFETY: forwarded from the caller.
        unsafe { l.store_f16(r, p) }
    }
}

/// Round to bf16 (nearest even) in place in the f32 bits: add
/// `0x7fff + lsb` and drop the low half. Equal to `half::bf16::from_f32`
/// for every non-NaN input (overflow rounds to infinity as it should).
#[inline(always)]
fn bf16_round_bits<L: Lanes>(l: L, v: L::F) -> L::U {
    let x = l.bits(v);
    let lsb = l.and_u(l.shr_u::<16>(x), l.splat_u(1));
    l.add_u(l.add_u(x, l.splat_u(0x7fff)), lsb)
}

impl Out32 for OutBf16 {
    const SIZE: usize = 2;
    #[inline(always)]
    unsafe fn store<L: Lanes>(l: L, v: L::F, p: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe { l.store_hi16(bf16_round_bits(l, v), p) }
    }
    #[inline(always)]
    unsafe fn store_clamped<L: Lanes>(l: L, v: L::F, lo: L::F, hi: L::F, p: *mut u8) {
        let r = l.f_from_bits(l.and_u(bf16_round_bits(l, v), l.splat_u(0xffff_0000)));
        let r = clamp(l, r, lo, hi);
        // SAFETY: forwarded from the caller.
        unsafe { l.store_hi16(l.bits(r), p) }
    }
}

/// A single-precision distribution with its constants broadcast.
#[derive(Clone, Copy)]
pub(crate) struct Prepared<L: Lanes> {
    keys: RoundKeys<L>,
    k: C32<L>,
    draw: u32,
    kind: Kind<L>,
}

#[derive(Clone, Copy)]
enum Kind<L: Lanes> {
    Uniform { low: L::F, width: L::F },
    Normal { mean: L::F, std: L::F },
    Trunc { pa: L::F, qb: L::F, mass: L::F, mean: L::F, std: L::F, low: L::F, high: L::F, out_lo: L::F, out_hi: L::F },
}

impl<L: Lanes> Prepared<L> {
    #[inline(always)]
    pub(crate) fn new(l: L, job: &Job32) -> Self {
        let (key, draw, out_bounds) = (job.key, job.draw, job.bounds);
        let kind = match job.d {
            Dist32::Uniform { low, width } => Kind::Uniform { low: l.splat_f(low), width: l.splat_f(width) },
            Dist32::Normal { mean, std } => Kind::Normal { mean: l.splat_f(mean), std: l.splat_f(std) },
            Dist32::Trunc(t) => Kind::Trunc {
                pa: l.splat_f(t.pa),
                qb: l.splat_f(t.qb),
                mass: l.splat_f(t.mass),
                mean: l.splat_f(t.mean),
                std: l.splat_f(t.std),
                low: l.splat_f(t.low),
                high: l.splat_f(t.high),
                out_lo: l.splat_f(out_bounds.0),
                out_hi: l.splat_f(out_bounds.1),
            },
        };
        Prepared { keys: RoundKeys::new(l, key), k: C32::new(l), draw, kind }
    }
}

/// One group (64 elements) of a single-precision distribution, written
/// to `p` in the output type `O`.
///
/// # Safety
/// `p` must be valid for writing `64 * O::SIZE` bytes.
#[inline(always)]
pub(crate) unsafe fn group32<L: Lanes, O: Out32>(l: L, d: &Prepared<L>, group: u64, p: *mut u8) {
    let k = &d.k;
    let scale = k.two_m24;
    let words = philox_group(l, &d.keys, d.draw, group);
    for (step, &w) in words.iter().enumerate().take(16 / L::N) {
        // SAFETY (all stores below): element 16 j + N step + lane < 64.
        let at = |j: usize| unsafe { p.add((16 * j + step * L::N) * O::SIZE) };
        match d.kind {
            Kind::Uniform { low, width } => {
                for (j, &wj) in w.iter().enumerate() {
                    let u = l.mul_f(l.to_f(l.shr_u::<8>(wj)), scale);
                    // SAFETY: see above.
                    unsafe { O::store(l, l.add_f(low, l.mul_f(width, u)), at(j)) };
                }
            }
            // SAFETY: forwarded from the caller.
            Kind::Normal { .. } => {
                return unsafe {
                    match L::N {
                        4 => normal_group::<L, O, 8>(l, d, &words, p),
                        8 => normal_group::<L, O, 4>(l, d, &words, p),
                        _ => normal_group::<L, O, 2>(l, d, &words, p),
                    }
                };
            }
            // SAFETY: forwarded from the caller.
            Kind::Trunc { .. } => {
                return unsafe {
                    match L::N {
                        4 => trunc_group::<L, O, 16>(l, d, &words, p),
                        8 => trunc_group::<L, O, 8>(l, d, &words, p),
                        _ => trunc_group::<L, O, 4>(l, d, &words, p),
                    }
                };
            }
        }
    }
}

/// One group of the normal distribution: the `K = 2 * 16 / N` Box-Muller
/// pairs of the group computed together, so that their long dependency
/// chains overlap.
///
/// # Safety
/// `p` must be valid for writing `64 * O::SIZE` bytes; `K = 2 * 16 / N`.
#[inline(always)]
unsafe fn normal_group<L: Lanes, O: Out32, const K: usize>(l: L, d: &Prepared<L>, words: &[[L::U; 4]; 4], p: *mut u8) {
    let Kind::Normal { mean, std } = d.kind else { return };
    let k = &d.k;
    debug_assert_eq!(K, 2 * 16 / L::N);
    // pair i: step i / 2, words (2 (i % 2), 2 (i % 2) + 1)
    let (mut u1, mut angle) = ([k.one; K], [l.splat_u(0); K]);
    for i in 0..K {
        let w = &words[i / 2];
        u1[i] = l.sub_f(k.one, l.mul_f(l.to_f(l.shr_u::<8>(w[2 * (i % 2)])), k.two_m24));
        angle[i] = l.shr_u::<8>(w[2 * (i % 2) + 1]);
    }
    let lns = ln_k(l, k, u1);
    let cs = cos_sin_turns_k(l, k, angle);
    for i in 0..K {
        let r = l.sqrt_f(l.mul_f(lns[i], k.neg_two));
        let (c, s) = cs[i];
        let zc = l.add_f(mean, l.mul_f(std, l.mul_f(r, c)));
        let zs = l.add_f(mean, l.mul_f(std, l.mul_f(r, s)));
        let (step, pair) = (i / 2, i % 2);
        // SAFETY: element 16 j + N step + lane < 64.
        unsafe {
            O::store(l, zc, p.add((16 * (2 * pair) + step * L::N) * O::SIZE));
            O::store(l, zs, p.add((16 * (2 * pair + 1) + step * L::N) * O::SIZE));
        }
    }
}

/// One group of the truncated normal.
///
/// The quantile's tail branch (a logarithm, a square root and a division)
/// is needed by a minority of lanes (11% for a +-2 sigma truncation), but
/// skipping it per vector only pays when no lane needs it, which a branch
/// cannot predict. So the central branch runs on every vector, the lanes
/// that need the tail are gathered from the whole group into as few
/// vectors as possible, their tails computed there and written back. Each
/// lane still gets exactly the value of the scalar reference.
///
/// # Safety
/// `p` must be valid for writing `64 * O::SIZE` bytes.
#[inline(always)]
unsafe fn trunc_group<L: Lanes, O: Out32, const K: usize>(l: L, d: &Prepared<L>, words: &[[L::U; 4]; 4], p: *mut u8) {
    let Kind::Trunc { pa, qb, mass, mean, std, low, high, out_lo, out_hi } = d.kind else { return };
    let k = &d.k;
    let steps = 16 / L::N;
    debug_assert_eq!(K, 4 * steps);
    let mut x0 = [0f32; 64];
    let mut sv = [0f32; 64];
    let mut sign = [0u32; 64];
    let mut tail_lanes: u64 = 0;
    let one = l.splat_u(1);
    // vector i: step i / 4, word j = i % 4, elements 16 j + N step + lane
    let at = |i: usize| 16 * (i % 4) + (i / 4) * L::N;
    let mut q = [k.half; K];
    for (i, qi) in q.iter_mut().enumerate() {
        let m = l.shr_u::<9>(words[i / 4][i % 4]);
        let u = l.mul_f(l.to_f(l.add_u(l.add_u(m, m), one)), k.two_m24);
        let mv = l.sub_u(l.splat_u((1 << 23) - 1), m);
        let v = l.mul_f(l.to_f(l.add_u(l.add_u(mv, mv), one)), k.two_m24);
        let pp = l.add_f(pa, l.mul_f(mass, u));
        let qq = l.add_f(qb, l.mul_f(mass, v));
        let lower = l.lt_f(pp, qq);
        let s = l.select_f(lower, pp, qq);
        *qi = l.sub_f(s, k.half);
        // SAFETY: at(i) + N <= 64 for every buffer.
        unsafe {
            l.store_f32(s, sv.as_mut_ptr().add(at(i)).cast());
            l.store_u(l.select_u(lower, l.splat_u(0), l.splat_u(0x8000_0000)), sign.as_mut_ptr().add(at(i)));
        }
        // q >= -0.425 is the central branch (q is never NaN)
        tail_lanes |= u64::from(l.mask_bits(l.lt_f(*qi, k.central_edge))) << at(i);
    }
    // the central branch on every vector: lanes needing the tail are
    // overwritten below
    let central = ndtri_central_k(l, k, q);
    for (i, &c) in central.iter().enumerate() {
        // SAFETY: at(i) + N <= 64.
        unsafe { l.store_f32(c, x0.as_mut_ptr().add(at(i)).cast()) };
    }
    if tail_lanes != 0 {
        // gathered tail inputs; the padding is a harmless central value
        let mut gathered = [0.25f32; 64 + 16];
        let mut index = [0u8; 64];
        let mut n = 0;
        let mut bits = tail_lanes;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            gathered[n] = sv[i];
            index[n] = i as u8;
            n += 1;
            bits &= bits - 1;
        }
        let mut tails = [0f32; 64 + 16];
        let mut i = 0;
        while i < n {
            // SAFETY: i < n <= 64 and both buffers hold 64 + 16 >= i + N floats.
            unsafe {
                let t = ndtri_tail(l, k, l.load_f(gathered.as_ptr().add(i)));
                l.store_f32(t, tails.as_mut_ptr().add(i).cast());
            }
            i += L::N;
        }
        for (&at, &t) in index[..n].iter().zip(&tails[..n]) {
            x0[at as usize] = t;
        }
    }
    for step in 0..steps {
        for j in 0..4 {
            let at = 16 * j + step * L::N;
            // SAFETY: at + N <= 64; the output holds 64 elements.
            unsafe {
                let x = flip(l, l.load_f(x0.as_ptr().add(at)), l.load_u(sign.as_ptr().add(at)));
                let y = clamp(l, l.add_f(mean, l.mul_f(std, x)), low, high);
                O::store_clamped(l, y, out_lo, out_hi, p.add(at * O::SIZE));
            }
        }
    }
}

/// Fill elements `start .. start + len` of a single-precision stream into
/// `out` (native-endian elements of `O`, any alignment).
///
/// Whole groups are written in place; a group cut by either end of the
/// range goes through a 64-element buffer.
///
/// # Safety
/// `out` must be valid for writing `len * O::SIZE` bytes.
#[inline(always)]
pub(crate) unsafe fn run32<L: Lanes, O: Out32>(l: L, d: &Prepared<L>, start: u64, out: *mut u8, len: usize) {
    let mut e = start;
    let mut i = 0;
    while i < len {
        let g = e / 64;
        let off = (e % 64) as usize;
        let n = (64 - off).min(len - i);
        if n == 64 {
            // SAFETY: elements i .. i + 64 are inside `out`.
            unsafe { group32::<L, O>(l, d, g, out.add(i * O::SIZE)) };
        } else {
            let mut buf = [0u8; 64 * 4];
            // SAFETY: `buf` holds 64 elements of at most 4 bytes; the copy
            // takes `n` elements from inside it to inside `out`.
            unsafe {
                group32::<L, O>(l, d, g, buf.as_mut_ptr());
                core::ptr::copy_nonoverlapping(buf.as_ptr().add(off * O::SIZE), out.add(i * O::SIZE), n * O::SIZE);
            }
        }
        i += n;
        e += n as u64;
    }
}

/// The 64 words of `group` (16 blocks x 4), word-major (`words[j][b]`),
/// for the double-precision kernels.
#[inline(always)]
pub(crate) fn group_words<L: Lanes>(l: L, keys: &RoundKeys<L>, draw: u32, group: u64) -> [[u32; 16]; 4] {
    let mut words = [[0u32; 16]; 4];
    let all = philox_group(l, keys, draw, group);
    for (step, &w) in all.iter().enumerate().take(16 / L::N) {
        for (j, row) in words.iter_mut().enumerate() {
            // SAFETY: step N + N <= 16 words of `row`.
            unsafe { l.store_u(w[j], row.as_mut_ptr().add(step * L::N)) };
        }
    }
    words
}
