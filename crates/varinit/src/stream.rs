//! The counter-based generator and the key derivation: stream format
//! version 1.
//!
//! Written by hand rather than taken from a crate because the exact mapping
//! from (seed, name, element index) to bits *is* the product: it is frozen,
//! documented in the README, and reproduced lane for lane by the SIMD
//! kernels. Changing anything here is a breaking change that needs a new
//! [`STREAM_VERSION`].
//!
//! - Generator: Philox4x32-10 (Salmon et al., SC'11; Random123), checked
//!   against the Random123 known-answer vectors.
//! - Tensor key: `mix64(mix64(seed) ^ fnv1a64(name))`, where `mix64` is
//!   SplitMix64's step (add the golden-ratio increment, then its finaliser)
//!   and `fnv1a64` is FNV-1a over the name's UTF-8 bytes. The Philox key is
//!   the key's low and high 32-bit halves.
//! - Counter: `(block & 0xffffffff, block >> 32, draw, 0)`, where `block`
//!   is a block index derived from the element index alone (see
//!   [`crate::kernels`]) and `draw` separates independent uses of the same
//!   element (0: values, 1: sparse masks).

use std::fmt;

/// The version of the stream format implemented here.
pub const STREAM_VERSION: u32 = 1;

/// Philox4x32 multipliers and Weyl key increments (Random123).
pub const PHILOX_M0: u32 = 0xD251_1F53;
/// Second Philox multiplier.
pub const PHILOX_M1: u32 = 0xCD9E_8D57;
/// First key increment (golden ratio).
pub const PHILOX_W0: u32 = 0x9E37_79B9;
/// Second key increment (sqrt(3) - 1).
pub const PHILOX_W1: u32 = 0xBB67_AE85;
/// Rounds of Philox used (the Random123 default, "Crush-resistant" with margin).
pub const PHILOX_ROUNDS: usize = 10;

/// One Philox4x32-10 block: 128 bits of counter to 128 bits of output.
///
/// ```
/// // Random123 known-answer vector: zero counter, zero key.
/// assert_eq!(varinit::stream::philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
/// ```
#[inline(always)]
pub fn philox4x32_10(ctr: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let [mut c0, mut c1, mut c2, mut c3] = ctr;
    let [mut k0, mut k1] = key;
    for round in 0..PHILOX_ROUNDS {
        if round > 0 {
            k0 = k0.wrapping_add(PHILOX_W0);
            k1 = k1.wrapping_add(PHILOX_W1);
        }
        let p0 = u64::from(PHILOX_M0) * u64::from(c0);
        let p1 = u64::from(PHILOX_M1) * u64::from(c2);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    [c0, c1, c2, c3]
}

/// The four words of block `block` of draw `draw` under `key`.
#[inline(always)]
pub fn block_words(key: [u32; 2], block: u64, draw: u32) -> [u32; 4] {
    philox4x32_10([block as u32, (block >> 32) as u32, draw, 0], key)
}

/// FNV-1a, 64 bits, over bytes.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64's step: add the golden-ratio increment, then mix.
pub fn mix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The 64-bit key of one tensor: a pure function of the seed and the
/// tensor's name, so that adding, removing or reordering other tensors
/// never changes it.
///
/// ```
/// use varinit::TensorKey;
/// let k = TensorKey::new(0, "model.layers.0.mlp.up_proj.weight");
/// assert_eq!(k, TensorKey::new(0, "model.layers.0.mlp.up_proj.weight"));
/// assert_ne!(k, TensorKey::new(1, "model.layers.0.mlp.up_proj.weight"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TensorKey(pub u64);

impl TensorKey {
    /// The key of tensor `name` under `seed`.
    pub fn new(seed: u64, name: &str) -> Self {
        TensorKey(mix64(mix64(seed) ^ fnv1a64(name.as_bytes())))
    }

    /// The Philox key: low and high halves.
    pub fn philox(self) -> [u32; 2] {
        [self.0 as u32, (self.0 >> 32) as u32]
    }
}

impl fmt::Debug for TensorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TensorKey({:#018x})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's `kat_vectors` for philox4x32_10.
    #[test]
    fn random123_known_answers() {
        assert_eq!(philox4x32_10([0; 4], [0; 2]), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        assert_eq!(philox4x32_10([u32::MAX; 4], [u32::MAX; 2]), [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
        assert_eq!(
            philox4x32_10([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn fnv_and_splitmix_reference_values() {
        // FNV-1a 64 test vectors (Fowler/Noll/Vo).
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
        // SplitMix64 from state 0: first output.
        assert_eq!(mix64(0), 0xe220a8397b1dcdaf);
    }
}
