//! AVX2 (+F16C) and AVX-512F implementations of [`Lanes`].
//!
//! Both are thin maps from the primitives to intrinsics; the algorithms
//! live in [`super::lanes`] and are shared. Neither enables FMA: the
//! compiler never contracts `a * b + c` in Rust, and leaving the feature
//! off makes that impossible even by accident.
//!
//! The AVX-512 implementation is compiled and type-checked on every x86-64
//! build, but the development machine has no AVX-512, so it has not been
//! *executed* there; the path-equality tests run it wherever the CPU has it.

#[cfg(target_arch = "x86")]
use core::arch::x86::*;
#[cfg(target_arch = "x86_64")]
use core::arch::x86_64::*;

use super::lanes::{self, Lanes, Out32, Prepared};
use super::{Job32, Job64};

/// Token: the CPU has AVX2 and F16C.
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

impl Avx2 {
    pub(crate) fn detect() -> Option<Self> {
        (std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("f16c")).then_some(Avx2(()))
    }
}

/// Token: the CPU has AVX-512F.
#[derive(Clone, Copy)]
pub(crate) struct Avx512(());

impl Avx512 {
    pub(crate) fn detect() -> Option<Self> {
        std::is_x86_feature_detected!("avx512f").then_some(Avx512(()))
    }
}

// SAFETY (every `unsafe` block in this impl): an `Avx2` value exists only
// after `Avx2::detect` found AVX2 and F16C, so the intrinsics are
// supported; the pointer stores are covered by the methods' contracts.
impl Lanes for Avx2 {
    const N: usize = 8;
    type U = __m256i;
    type F = __m256;
    type M = __m256;

    #[inline(always)]
    fn splat_u(self, x: u32) -> __m256i {
        unsafe { _mm256_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn iota(self) -> __m256i {
        unsafe { _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7) }
    }
    #[inline(always)]
    fn add_u(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sub_u(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn xor_u(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_xor_si256(a, b) }
    }
    #[inline(always)]
    fn and_u(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_and_si256(a, b) }
    }
    #[inline(always)]
    fn or_u(self, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_or_si256(a, b) }
    }
    #[inline(always)]
    fn shr_u<const S: i32>(self, a: __m256i) -> __m256i {
        unsafe { _mm256_srli_epi32::<S>(a) }
    }
    #[inline(always)]
    fn shl_u<const S: i32>(self, a: __m256i) -> __m256i {
        unsafe { _mm256_slli_epi32::<S>(a) }
    }
    #[inline(always)]
    fn mul_hilo(self, a: __m256i, m: __m256i) -> (__m256i, __m256i) {
        unsafe {
            // even lanes' 64-bit products, then the odd lanes' (moved down)
            let even = _mm256_mul_epu32(a, m);
            let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), m);
            let hi = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
            let lo = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
            (hi, lo)
        }
    }
    #[inline(always)]
    fn bit_set(self, a: __m256i, bit: u32) -> __m256 {
        unsafe {
            let b = _mm256_set1_epi32(bit as i32);
            _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(a, b), b))
        }
    }
    #[inline(always)]
    fn select_u(self, m: __m256, a: __m256i, b: __m256i) -> __m256i {
        unsafe { _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(b), _mm256_castsi256_ps(a), m)) }
    }
    #[inline(always)]
    unsafe fn store_u(self, a: __m256i, p: *mut u32) {
        unsafe { _mm256_storeu_si256(p.cast(), a) }
    }
    #[inline(always)]
    fn to_f(self, a: __m256i) -> __m256 {
        unsafe { _mm256_cvtepi32_ps(a) }
    }
    #[inline(always)]
    fn bits(self, a: __m256) -> __m256i {
        unsafe { _mm256_castps_si256(a) }
    }
    #[inline(always)]
    fn f_from_bits(self, a: __m256i) -> __m256 {
        unsafe { _mm256_castsi256_ps(a) }
    }
    #[inline(always)]
    fn splat_f(self, x: f32) -> __m256 {
        unsafe { _mm256_set1_ps(x) }
    }
    #[inline(always)]
    fn add_f(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub_f(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul_f(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div_f(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt_f(self, a: __m256) -> __m256 {
        unsafe { _mm256_sqrt_ps(a) }
    }
    #[inline(always)]
    fn lt_f(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn le_f(self, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_cmp_ps::<_CMP_LE_OQ>(a, b) }
    }
    #[inline(always)]
    fn select_f(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        unsafe { _mm256_blendv_ps(b, a, m) }
    }
    #[inline(always)]
    fn mask_bits(self, m: __m256) -> u32 {
        unsafe { _mm256_movemask_ps(m) as u32 }
    }
    #[inline(always)]
    unsafe fn load_f(self, p: *const f32) -> __m256 {
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_u(self, p: *const u32) -> __m256i {
        unsafe { _mm256_loadu_si256(p.cast()) }
    }
    #[inline(always)]
    fn all(self, m: __m256) -> bool {
        unsafe { _mm256_movemask_ps(m) == 0xff }
    }
    #[inline(always)]
    unsafe fn store_f32(self, a: __m256, p: *mut u8) {
        unsafe { _mm256_storeu_ps(p.cast(), a) }
    }
    #[inline(always)]
    fn round_f16(self, a: __m256) -> __m256 {
        // imm 0: round to nearest even (not the MXCSR mode)
        unsafe { _mm256_cvtph_ps(_mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(a)) }
    }
    #[inline(always)]
    unsafe fn store_f16(self, a: __m256, p: *mut u8) {
        unsafe { _mm_storeu_si128(p.cast(), _mm256_cvtps_ph::<_MM_FROUND_TO_NEAREST_INT>(a)) }
    }
    #[inline(always)]
    unsafe fn store_hi16(self, a: __m256i, p: *mut u8) {
        unsafe {
            // bytes 2, 3 of each lane to the low 8 bytes of each 128-bit half,
            // then the two halves' low quadwords together
            let pick = _mm256_setr_epi8(
                2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, 2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1,
                -1, -1, -1, -1,
            );
            let packed = _mm256_permute4x64_epi64::<0b00_00_10_00>(_mm256_shuffle_epi8(a, pick));
            _mm_storeu_si128(p.cast(), _mm256_castsi256_si128(packed))
        }
    }
}

// SAFETY (every `unsafe` block in this impl): an `Avx512` value exists only
// after `Avx512::detect` found AVX-512F, so the intrinsics are supported;
// the pointer stores are covered by the methods' contracts.
impl Lanes for Avx512 {
    const N: usize = 16;
    type U = __m512i;
    type F = __m512;
    type M = __mmask16;

    #[inline(always)]
    fn splat_u(self, x: u32) -> __m512i {
        unsafe { _mm512_set1_epi32(x as i32) }
    }
    #[inline(always)]
    fn iota(self) -> __m512i {
        unsafe { _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
    }
    #[inline(always)]
    fn add_u(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_add_epi32(a, b) }
    }
    #[inline(always)]
    fn sub_u(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_sub_epi32(a, b) }
    }
    #[inline(always)]
    fn xor_u(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_xor_si512(a, b) }
    }
    #[inline(always)]
    fn and_u(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_and_si512(a, b) }
    }
    #[inline(always)]
    fn or_u(self, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_or_si512(a, b) }
    }
    #[inline(always)]
    fn shr_u<const S: i32>(self, a: __m512i) -> __m512i {
        unsafe { _mm512_srl_epi32(a, _mm_cvtsi32_si128(S)) }
    }
    #[inline(always)]
    fn shl_u<const S: i32>(self, a: __m512i) -> __m512i {
        unsafe { _mm512_sll_epi32(a, _mm_cvtsi32_si128(S)) }
    }
    #[inline(always)]
    fn mul_hilo(self, a: __m512i, m: __m512i) -> (__m512i, __m512i) {
        unsafe {
            let even = _mm512_mul_epu32(a, m);
            let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), m);
            // mask_blend(k, a, b) takes b where k is set: odd lanes from `odd`
            let hi = _mm512_mask_blend_epi32(0xaaaa, _mm512_srli_epi64::<32>(even), odd);
            let lo = _mm512_mask_blend_epi32(0xaaaa, even, _mm512_slli_epi64::<32>(odd));
            (hi, lo)
        }
    }
    #[inline(always)]
    fn bit_set(self, a: __m512i, bit: u32) -> __mmask16 {
        unsafe { _mm512_test_epi32_mask(a, _mm512_set1_epi32(bit as i32)) }
    }
    #[inline(always)]
    fn select_u(self, m: __mmask16, a: __m512i, b: __m512i) -> __m512i {
        unsafe { _mm512_mask_blend_epi32(m, b, a) }
    }
    #[inline(always)]
    unsafe fn store_u(self, a: __m512i, p: *mut u32) {
        unsafe { _mm512_storeu_si512(p.cast(), a) }
    }
    #[inline(always)]
    fn to_f(self, a: __m512i) -> __m512 {
        unsafe { _mm512_cvtepi32_ps(a) }
    }
    #[inline(always)]
    fn bits(self, a: __m512) -> __m512i {
        unsafe { _mm512_castps_si512(a) }
    }
    #[inline(always)]
    fn f_from_bits(self, a: __m512i) -> __m512 {
        unsafe { _mm512_castsi512_ps(a) }
    }
    #[inline(always)]
    fn splat_f(self, x: f32) -> __m512 {
        unsafe { _mm512_set1_ps(x) }
    }
    #[inline(always)]
    fn add_f(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_add_ps(a, b) }
    }
    #[inline(always)]
    fn sub_f(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_sub_ps(a, b) }
    }
    #[inline(always)]
    fn mul_f(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mul_ps(a, b) }
    }
    #[inline(always)]
    fn div_f(self, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_div_ps(a, b) }
    }
    #[inline(always)]
    fn sqrt_f(self, a: __m512) -> __m512 {
        unsafe { _mm512_sqrt_ps(a) }
    }
    #[inline(always)]
    fn lt_f(self, a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, b) }
    }
    #[inline(always)]
    fn le_f(self, a: __m512, b: __m512) -> __mmask16 {
        unsafe { _mm512_cmp_ps_mask::<_CMP_LE_OQ>(a, b) }
    }
    #[inline(always)]
    fn select_f(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        unsafe { _mm512_mask_blend_ps(m, b, a) }
    }
    #[inline(always)]
    fn mask_bits(self, m: __mmask16) -> u32 {
        u32::from(m)
    }
    #[inline(always)]
    unsafe fn load_f(self, p: *const f32) -> __m512 {
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn load_u(self, p: *const u32) -> __m512i {
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
    #[inline(always)]
    fn all(self, m: __mmask16) -> bool {
        m == 0xffff
    }
    #[inline(always)]
    unsafe fn store_f32(self, a: __m512, p: *mut u8) {
        unsafe { _mm512_storeu_ps(p.cast(), a) }
    }
    #[inline(always)]
    fn round_f16(self, a: __m512) -> __m512 {
        unsafe { _mm512_cvtph_ps(_mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a)) }
    }
    #[inline(always)]
    unsafe fn store_f16(self, a: __m512, p: *mut u8) {
        unsafe {
            _mm256_storeu_si256(p.cast(), _mm512_cvtps_ph::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(a))
        }
    }
    #[inline(always)]
    unsafe fn store_hi16(self, a: __m512i, p: *mut u8) {
        unsafe { _mm256_storeu_si256(p.cast(), _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(a))) }
    }
}

/// Single-precision fill on AVX2.
///
/// # Safety
/// The CPU must have AVX2 and F16C (guaranteed by the token), and `out`
/// must be valid for writing `len * O::SIZE` bytes.
#[target_feature(enable = "avx2,f16c")]
pub(crate) unsafe fn run32_avx2<O: Out32>(l: Avx2, job: &Job32, start: u64, out: *mut u8, len: usize) {
    let p = Prepared::new(l, job);
    // SAFETY: forwarded from the caller.
    unsafe { lanes::run32::<Avx2, O>(l, &p, start, out, len) }
}

/// Single-precision fill on AVX-512F.
///
/// # Safety
/// The CPU must have AVX-512F (guaranteed by the token), and `out` must be
/// valid for writing `len * O::SIZE` bytes.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn run32_avx512<O: Out32>(l: Avx512, job: &Job32, start: u64, out: *mut u8, len: usize) {
    let p = Prepared::new(l, job);
    // SAFETY: forwarded from the caller.
    unsafe { lanes::run32::<Avx512, O>(l, &p, start, out, len) }
}

/// Double-precision fill with the Philox blocks generated on AVX2.
///
/// # Safety
/// As [`run32_avx2`], with `out` valid for `len` f64s.
#[target_feature(enable = "avx2,f16c")]
pub(crate) unsafe fn run64_avx2(l: Avx2, w: &Job64, start: u64, out: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { super::run64_words(l, w, start, out, len) }
}

/// Double-precision fill with the Philox blocks generated on AVX-512F.
///
/// # Safety
/// As [`run32_avx512`], with `out` valid for `len` f64s.
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn run64_avx512(l: Avx512, w: &Job64, start: u64, out: *mut u8, len: usize) {
    // SAFETY: forwarded from the caller.
    unsafe { super::run64_words(l, w, start, out, len) }
}
