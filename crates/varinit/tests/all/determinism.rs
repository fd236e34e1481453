//! Determinism: the same (seed, name, scheme, shape, dtype) gives the same
//! bytes with any thread count, any split into ranges, and in any order.

use crate::common::{bytes, sha256_hex, tensor, with_threads};
use proptest::prelude::*;
use varinit::{DType, Element, Layout, Par, TensorInit};

const SCHEMES: &[(&str, &[u64], Layout)] = &[
    ("uniform(-1, 2)", &[333, 77], Layout::Torch),
    ("normal(0.1, 3)", &[333, 77], Layout::Torch),
    ("trunc_normal(std=0.02)", &[333, 77], Layout::Torch),
    ("trunc_normal(mean=1, std=0.5, a=1.2, b=3)", &[333, 77], Layout::Torch),
    ("kaiming_uniform", &[64, 32, 3, 3], Layout::Torch),
    ("glorot_normal", &[3, 3, 32, 64], Layout::Keras),
    ("ones", &[17, 3], Layout::Torch),
    ("eye", &[17, 30], Layout::Torch),
    ("dirac(groups=2)", &[8, 4, 3, 3], Layout::Torch),
    ("sparse(0.3)", &[120, 70], Layout::Torch),
    ("orthogonal(gain=2)", &[96, 80], Layout::Torch),
    ("delta_orthogonal", &[3, 3, 16, 24], Layout::Jax),
];

/// Large enough that the parallel fill really splits the work (several chunks).
const BIG: (&str, &[u64]) = ("normal", &[1 << 19]);

#[test]
fn thread_count_does_not_change_the_bytes() {
    for &(scheme, dims, layout) in SCHEMES.iter().chain(&[(BIG.0, BIG.1, Layout::Torch)]) {
        for dtype in DType::ALL {
            let hashes: Vec<String> = [1, 2, 8]
                .iter()
                .map(|&n| {
                    // a fresh TensorInit per pool: structured schemes compute inside it
                    with_threads(n, || sha256_hex(&bytes(&tensor(5, "w", scheme, dims, layout), dtype, Par::Rayon)))
                })
                .collect();
            let seq = sha256_hex(&bytes(&tensor(5, "w", scheme, dims, layout), dtype, Par::Seq));
            assert!(hashes.iter().all(|h| *h == seq), "{scheme} {dtype}: {hashes:?} vs sequential {seq}");
        }
    }
}

#[test]
fn order_of_tensors_does_not_matter() {
    let make = |name: &str| bytes(&tensor(3, name, "xavier_normal", &[50, 60], Layout::Torch), DType::F32, Par::Rayon);
    let a1 = make("a");
    let _b = make("b");
    let _c = make("c");
    let c2 = make("c");
    let a2 = make("a");
    assert_eq!(a1, a2);
    assert_eq!(_c, c2);
    assert_ne!(a1, _b, "different names must give different values");
    let other_seed = bytes(&tensor(4, "a", "xavier_normal", &[50, 60], Layout::Torch), DType::F32, Par::Rayon);
    assert_ne!(a1, other_seed);
}

#[test]
fn half_precision_is_the_rounding_of_single_precision() {
    for &(scheme, dims, layout) in SCHEMES {
        let t = tensor(5, "w", scheme, dims, layout);
        let f: Vec<f32> = t.to_vec(Par::Rayon).unwrap();
        let b: Vec<half::bf16> = t.to_vec(Par::Rayon).unwrap();
        let h: Vec<half::f16> = t.to_vec(Par::Rayon).unwrap();
        let is_trunc = scheme.starts_with("trunc");
        for i in 0..f.len() {
            if is_trunc {
                // the truncated normal may step a rounded value back inside its bounds, by one ulp at most
                assert!((b[i].to_f64() - half::bf16::from_f32(f[i]).to_f64()).abs() <= 1.01 * ulp_bf16(f[i]));
            } else {
                assert_eq!(b[i], half::bf16::from_f32(f[i]), "{scheme} bf16 element {i}");
                assert_eq!(h[i], half::f16::from_f32(f[i]), "{scheme} f16 element {i}");
            }
        }
    }
}

fn ulp_bf16(x: f32) -> f64 {
    let b = half::bf16::from_f32(x);
    b.next_up().to_f64() - b.to_f64()
}

#[test]
fn fill_bytes_equals_fill() {
    for &(scheme, dims, layout) in SCHEMES {
        let t = tensor(2, "x", scheme, dims, layout);
        let v: Vec<f32> = t.to_vec(Par::Seq).unwrap();
        let want: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        assert_eq!(bytes(&t, DType::F32, Par::Rayon), want, "{scheme}");
    }
}

fn check_range<T: Element + PartialEq>(t: &TensorInit, full: &[T], start: usize, len: usize) {
    let mut part = vec![T::default(); len];
    t.fill_range(start as u64, &mut part, Par::Rayon).unwrap();
    assert!(part.iter().zip(&full[start..start + len]).all(|(a, b)| a.to_f64().to_bits() == b.to_f64().to_bits()));
}

#[test]
fn every_split_gives_the_same_bytes() {
    // cut the tensor into pieces at irregular offsets: the concatenation equals the full fill
    for &(scheme, dims, layout) in SCHEMES.iter().chain(&[(BIG.0, BIG.1, Layout::Torch)]) {
        let t = tensor(9, "split", scheme, dims, layout);
        let full = bytes(&t, DType::BF16, Par::Seq);
        let n = t.numel() as usize;
        let mut cuts = vec![0, 1, 63, 64, 65, 1000, n / 3, n / 2 + 17, n.saturating_sub(1), n];
        cuts.retain(|&c| c <= n);
        cuts.sort_unstable();
        cuts.dedup();
        let mut joined = Vec::new();
        for w in cuts.windows(2) {
            let mut piece = vec![0u8; (w[1] - w[0]) * 2];
            t.fill_bytes(DType::BF16, w[0] as u64, &mut piece, Par::Rayon).unwrap();
            joined.extend(piece);
        }
        assert_eq!(joined, full, "{scheme}");
    }
}

#[test]
fn out_of_range_requests_are_errors_not_panics() {
    let t = tensor(0, "w", "normal", &[10, 10], Layout::Torch);
    let mut buf = vec![0f32; 10];
    assert!(t.fill_range(95, &mut buf, Par::Seq).is_err());
    assert!(t.fill_range(u64::MAX, &mut buf, Par::Seq).is_err());
    assert!(t.fill(&mut buf, Par::Seq).is_err());
    let mut odd = vec![0u8; 7];
    assert!(t.fill_bytes(DType::F32, 0, &mut odd, Par::Seq).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed), .. ProptestConfig::default() })]

    /// Any range of any element-wise scheme equals the slice of the full fill.
    #[test]
    fn range_fill_equals_slice(scheme_idx in 0usize..4, start in 0usize..25_000, len in 0usize..5_000, seed: u64) {
        let (scheme, dims, layout) = SCHEMES[scheme_idx];
        let t = tensor(seed, "prop", scheme, dims, layout);
        let n = t.numel() as usize;
        let start = start % n;
        let len = len.min(n - start);
        let f32s: Vec<f32> = t.to_vec(Par::Rayon).unwrap();
        check_range(&t, &f32s, start, len);
        let f64s: Vec<f64> = t.to_vec(Par::Rayon).unwrap();
        check_range(&t, &f64s, start, len);
        let bf16s: Vec<half::bf16> = t.to_vec(Par::Rayon).unwrap();
        check_range(&t, &bf16s, start, len);
    }

    /// Structured schemes too (whole-matrix computation, then the slice).
    #[test]
    fn structured_range_fill_equals_slice(scheme_idx in 6usize..12, start in 0usize..9_000, len in 0usize..3_000) {
        let (scheme, dims, layout) = SCHEMES[scheme_idx];
        let t = tensor(1, "prop", scheme, dims, layout);
        let n = t.numel() as usize;
        let start = start % n;
        let len = len.min(n - start);
        let full: Vec<f32> = t.to_vec(Par::Rayon).unwrap();
        let fresh = tensor(1, "prop", scheme, dims, layout);
        check_range(&fresh, &full, start, len);
    }
}
