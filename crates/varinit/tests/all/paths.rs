//! Every kernel path gives the bits of the scalar reference, for every
//! dtype and element-wise distribution, over unaligned ranges, and the
//! same bits under 1, 2 and 8 threads.

use crate::common::{bytes, sha256_hex, tensor, with_threads};
use half::{bf16, f16};
use varinit::kernels::{CHUNK, SimdPath, fill_elementwise};
use varinit::{DType, Element, Layout, Par, TensorInit};

/// Distributions with awkward parameters: odd ranges, both tails, one
/// tail only, bounds that bf16/f16 cannot represent.
const SCHEMES: &[&str] = &[
    "uniform(-1, 1)",
    "uniform(3, 3.0001)",
    "uniform(-1e6, 1e6)",
    "normal(0, 1)",
    "normal(mean=5, std=1e-3)",
    "trunc_normal(0, 1, -2, 2)",
    "trunc_normal(mean=0, std=0.02, a=-0.04, b=0.04)",
    "trunc_normal(mean=1, std=1, a=2.5, b=4)",
    "trunc_normal(mean=0, std=1, a=-9, b=-5.5)",
    "trunc_normal(mean=0, std=1, a=0, b=30)",
    "trunc_normal(mean=-3, std=70000, a=-70000, b=1e5)",
];

/// Elements in the test tensor: more than three chunks, not a multiple of
/// a group.
const N: u64 = 3 * CHUNK + 77;

/// (start, len) ranges: whole, group and chunk boundaries crossed,
/// unaligned on both ends.
fn ranges() -> Vec<(u64, usize)> {
    vec![
        (0, N as usize),
        (1, 63),
        (63, 2),
        (65, 1000),
        (CHUNK - 5, 200),
        (CHUNK + 31, 2 * CHUNK as usize + 3),
        (N - 1, 1),
    ]
}

fn fill<T: Element>(t: &TensorInit, start: u64, len: usize, par: Par, path: SimdPath) -> Vec<T> {
    let mut v = vec![T::default(); len];
    fill_elementwise(t.resolved(), t.key(), start, &mut v, par, path).unwrap();
    v
}

fn first_difference<T: Element>(a: &[T], b: &[T]) -> Option<(usize, T, T)> {
    a.iter()
        .zip(b)
        .enumerate()
        .find(|(_, (x, y))| x.to_f64().to_bits() != y.to_f64().to_bits())
        .map(|(i, (x, y))| (i, *x, *y))
}

fn check_paths<T: Element>() {
    let paths = SimdPath::available();
    assert!(paths.contains(&SimdPath::Scalar) && paths.contains(&SimdPath::Portable));
    for scheme in SCHEMES {
        let t = tensor(11, "paths", scheme, &[N], Layout::Torch);
        for (start, len) in ranges() {
            let reference = fill::<T>(&t, start, len, Par::Seq, SimdPath::Scalar);
            for &path in &paths[1..] {
                let got = fill::<T>(&t, start, len, Par::Rayon, path);
                if let Some((i, a, b)) = first_difference(&reference, &got) {
                    panic!(
                        "{scheme} {:?} [{start}, +{len}) on {path}: element {} is {b:?}, scalar gives {a:?}",
                        T::DTYPE,
                        start + i as u64
                    );
                }
            }
        }
    }
}

#[test]
fn every_path_matches_scalar_f32() {
    check_paths::<f32>();
}

#[test]
fn every_path_matches_scalar_f64() {
    check_paths::<f64>();
}

#[test]
fn every_path_matches_scalar_f16() {
    check_paths::<f16>();
}

#[test]
fn every_path_matches_scalar_bf16() {
    check_paths::<bf16>();
}

#[test]
fn same_bits_under_1_2_8_threads() {
    for scheme in SCHEMES {
        let t = tensor(3, "threads", scheme, &[N], Layout::Torch);
        for dtype in DType::ALL {
            let want = sha256_hex(&bytes(&t, dtype, Par::Seq));
            for threads in [1, 2, 8] {
                let got = with_threads(threads, || sha256_hex(&bytes(&t, dtype, Par::Rayon)));
                assert_eq!(got, want, "{scheme} {dtype} with {threads} threads");
            }
        }
    }
}

#[test]
fn structured_schemes_same_bits_under_1_2_8_threads() {
    // orthogonal's QR runs in parallel over fixed column blocks only
    for (scheme, dims) in [
        ("orthogonal", &[300u64, 200][..]),
        ("orthogonal(gain=relu)", &[40, 130, 3][..]),
        ("sparse(0.3)", &[300, 200][..]),
        ("delta_orthogonal", &[3, 3, 16, 32][..]),
    ] {
        let layout = if scheme == "delta_orthogonal" { Layout::Jax } else { Layout::Torch };
        for dtype in [DType::F32, DType::F64] {
            let hash = |threads: usize| {
                with_threads(threads, || {
                    let t = tensor(9, "structured", scheme, dims, layout);
                    sha256_hex(&bytes(&t, dtype, Par::Rayon))
                })
            };
            let one = hash(1);
            assert_eq!(hash(2), one, "{scheme} {dtype} with 2 threads");
            assert_eq!(hash(8), one, "{scheme} {dtype} with 8 threads");
        }
    }
}

#[test]
fn bytes_equal_elements() {
    // fill_bytes writes in place; fill_range through typed slices: same values,
    // including at a start that is not a group boundary
    let t = tensor(5, "bytes", "trunc_normal(std=0.02)", &[N], Layout::Torch);
    let mut typed = vec![bf16::ZERO; 1000];
    t.fill_range(77, &mut typed, Par::Rayon).unwrap();
    let mut raw = vec![0u8; 2001];
    // an odd offset: the byte buffer need not be aligned for the element type
    t.fill_bytes(DType::BF16, 77, &mut raw[1..], Par::Rayon).unwrap();
    let from_bytes: Vec<bf16> = raw[1..].chunks(2).map(|c| bf16::from_le_bytes([c[0], c[1]])).collect();
    assert_eq!(typed, from_bytes);
    assert!(t.fill_bytes(DType::BF16, N - 10, &mut raw[..40], Par::Seq).is_err());
}

#[test]
fn unavailable_path_or_structured_scheme_is_an_error() {
    let t = tensor(0, "w", "orthogonal", &[4, 4], Layout::Torch);
    let mut v = vec![0f32; 16];
    assert!(fill_elementwise(t.resolved(), t.key(), 0, &mut v, Par::Seq, SimdPath::Scalar).is_err());
    let t = tensor(0, "w", "sparse(0.5)", &[4, 4], Layout::Torch);
    assert!(fill_elementwise(t.resolved(), t.key(), 0, &mut v, Par::Seq, SimdPath::Scalar).is_err());
    for p in SimdPath::ALL {
        let t = tensor(0, "w", "normal", &[16], Layout::Torch);
        assert_eq!(fill_elementwise(t.resolved(), t.key(), 0, &mut v, Par::Seq, p).is_ok(), p.is_available());
    }
    assert!("avx3".parse::<SimdPath>().is_err());
    for p in SimdPath::ALL {
        assert_eq!(p.self_check(), p.is_available(), "{p}");
    }
    assert!(SimdPath::active().self_check());
    assert_eq!("AVX2".parse::<SimdPath>().unwrap(), SimdPath::Avx2);
}
