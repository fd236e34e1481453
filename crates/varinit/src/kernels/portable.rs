//! A portable implementation of [`Lanes`]: four lanes in plain arrays.
//!
//! Why it exists: it runs the shared vector algorithms on any CPU, so the
//! generic code itself is checked against the scalar reference even where
//! no SIMD path is available (CI machines without AVX2, other
//! architectures). It is also the default where nothing faster exists: on
//! x86-64 it runs 2-3x faster than the scalar reference (independent lanes,
//! no branches), although it executes more instructions, because the
//! compiler vectorises little of it; a NEON implementation of [`Lanes`]
//! would be the next step on AArch64.

use half::f16;

use super::lanes::Lanes;

/// Token for the portable lanes (always available).
#[derive(Clone, Copy)]
pub(crate) struct Portable;

type U4 = [u32; 4];
type F4 = [f32; 4];

#[inline(always)]
fn map_u(a: U4, f: impl Fn(u32) -> u32) -> U4 {
    [f(a[0]), f(a[1]), f(a[2]), f(a[3])]
}
#[inline(always)]
fn zip_u(a: U4, b: U4, f: impl Fn(u32, u32) -> u32) -> U4 {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}
#[inline(always)]
fn zip_f(a: F4, b: F4, f: impl Fn(f32, f32) -> f32) -> F4 {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}
#[inline(always)]
fn cmp_f(a: F4, b: F4, f: impl Fn(f32, f32) -> bool) -> [bool; 4] {
    [f(a[0], b[0]), f(a[1], b[1]), f(a[2], b[2]), f(a[3], b[3])]
}

impl Lanes for Portable {
    const N: usize = 4;
    type U = U4;
    type F = F4;
    type M = [bool; 4];

    #[inline(always)]
    fn splat_u(self, x: u32) -> U4 {
        [x; 4]
    }
    #[inline(always)]
    fn iota(self) -> U4 {
        [0, 1, 2, 3]
    }
    #[inline(always)]
    fn add_u(self, a: U4, b: U4) -> U4 {
        zip_u(a, b, u32::wrapping_add)
    }
    #[inline(always)]
    fn sub_u(self, a: U4, b: U4) -> U4 {
        zip_u(a, b, u32::wrapping_sub)
    }
    #[inline(always)]
    fn xor_u(self, a: U4, b: U4) -> U4 {
        zip_u(a, b, |x, y| x ^ y)
    }
    #[inline(always)]
    fn and_u(self, a: U4, b: U4) -> U4 {
        zip_u(a, b, |x, y| x & y)
    }
    #[inline(always)]
    fn or_u(self, a: U4, b: U4) -> U4 {
        zip_u(a, b, |x, y| x | y)
    }
    #[inline(always)]
    fn shr_u<const S: i32>(self, a: U4) -> U4 {
        map_u(a, |x| x >> S)
    }
    #[inline(always)]
    fn shl_u<const S: i32>(self, a: U4) -> U4 {
        map_u(a, |x| x << S)
    }
    #[inline(always)]
    fn mul_hilo(self, a: U4, m: U4) -> (U4, U4) {
        let p = |i: usize| u64::from(a[i]) * u64::from(m[i]);
        let (p0, p1, p2, p3) = (p(0), p(1), p(2), p(3));
        (
            [(p0 >> 32) as u32, (p1 >> 32) as u32, (p2 >> 32) as u32, (p3 >> 32) as u32],
            [p0 as u32, p1 as u32, p2 as u32, p3 as u32],
        )
    }
    #[inline(always)]
    fn bit_set(self, a: U4, bit: u32) -> [bool; 4] {
        a.map(|x| x & bit != 0)
    }
    #[inline(always)]
    fn select_u(self, m: [bool; 4], a: U4, b: U4) -> U4 {
        [0, 1, 2, 3].map(|i| if m[i] { a[i] } else { b[i] })
    }
    #[inline(always)]
    unsafe fn store_u(self, a: U4, p: *mut u32) {
        // SAFETY: the caller guarantees room for four u32s.
        unsafe { p.cast::<U4>().write_unaligned(a) }
    }
    #[inline(always)]
    fn to_f(self, a: U4) -> F4 {
        a.map(|x| x as i32 as f32)
    }
    #[inline(always)]
    fn bits(self, a: F4) -> U4 {
        a.map(f32::to_bits)
    }
    #[inline(always)]
    fn f_from_bits(self, a: U4) -> F4 {
        a.map(f32::from_bits)
    }
    #[inline(always)]
    fn splat_f(self, x: f32) -> F4 {
        [x; 4]
    }
    #[inline(always)]
    fn add_f(self, a: F4, b: F4) -> F4 {
        zip_f(a, b, |x, y| x + y)
    }
    #[inline(always)]
    fn sub_f(self, a: F4, b: F4) -> F4 {
        zip_f(a, b, |x, y| x - y)
    }
    #[inline(always)]
    fn mul_f(self, a: F4, b: F4) -> F4 {
        zip_f(a, b, |x, y| x * y)
    }
    #[inline(always)]
    fn div_f(self, a: F4, b: F4) -> F4 {
        zip_f(a, b, |x, y| x / y)
    }
    #[inline(always)]
    fn sqrt_f(self, a: F4) -> F4 {
        a.map(f32::sqrt)
    }
    #[inline(always)]
    fn lt_f(self, a: F4, b: F4) -> [bool; 4] {
        cmp_f(a, b, |x, y| x < y)
    }
    #[inline(always)]
    fn le_f(self, a: F4, b: F4) -> [bool; 4] {
        cmp_f(a, b, |x, y| x <= y)
    }
    #[inline(always)]
    fn select_f(self, m: [bool; 4], a: F4, b: F4) -> F4 {
        [0, 1, 2, 3].map(|i| if m[i] { a[i] } else { b[i] })
    }
    #[inline(always)]
    fn mask_bits(self, m: [bool; 4]) -> u32 {
        u32::from(m[0]) | u32::from(m[1]) << 1 | u32::from(m[2]) << 2 | u32::from(m[3]) << 3
    }
    #[inline(always)]
    unsafe fn load_f(self, p: *const f32) -> F4 {
        // SAFETY: the caller guarantees four readable f32s.
        unsafe { p.cast::<F4>().read_unaligned() }
    }
    #[inline(always)]
    unsafe fn load_u(self, p: *const u32) -> U4 {
        // SAFETY: the caller guarantees four readable u32s.
        unsafe { p.cast::<U4>().read_unaligned() }
    }
    #[inline(always)]
    fn all(self, m: [bool; 4]) -> bool {
        m[0] & m[1] & m[2] & m[3]
    }
    #[inline(always)]
    unsafe fn store_f32(self, a: F4, p: *mut u8) {
        // SAFETY: the caller guarantees room for 16 bytes.
        unsafe { p.cast::<F4>().write_unaligned(a) }
    }
    #[inline(always)]
    fn round_f16(self, a: F4) -> F4 {
        a.map(|x| f16::from_f32(x).to_f32())
    }
    #[inline(always)]
    unsafe fn store_f16(self, a: F4, p: *mut u8) {
        // SAFETY: the caller guarantees room for 8 bytes.
        unsafe { p.cast::<[u16; 4]>().write_unaligned(a.map(|x| f16::from_f32(x).to_bits())) }
    }
    #[inline(always)]
    unsafe fn store_hi16(self, a: U4, p: *mut u8) {
        // SAFETY: the caller guarantees room for 8 bytes.
        unsafe { p.cast::<[u16; 4]>().write_unaligned(a.map(|x| (x >> 16) as u16)) }
    }
}
