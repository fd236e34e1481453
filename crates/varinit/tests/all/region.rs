//! Regions: filling a hyper-rectangle (a shard) of a tensor gives exactly the
//! same slice of the full tensor, for every scheme, dtype, shape, offset,
//! strided layout and thread count.

use crate::common::{tensor, with_threads};
use varinit::dtype::{BF16, F16};
use varinit::{DType, Element, Layout, Par, TensorInit};

const SCHEMES: &[(&str, &[u64], Layout)] = &[
    ("uniform(-1, 2)", &[1001, 37], Layout::Torch),
    ("normal(0.1, 3)", &[1001, 37], Layout::Torch),
    ("trunc_normal(std=0.02)", &[333, 77], Layout::Torch),
    ("kaiming_normal(mode=fan_out)", &[64, 32, 3, 3], Layout::Torch),
    ("xavier_uniform", &[130, 1], Layout::Torch),
    ("glorot_normal", &[3, 3, 32, 65], Layout::Keras),
    ("lecun_normal", &[2, 3, 4, 5, 6], Layout::Jax),
    ("normal", &[200_003], Layout::Torch),
    ("uniform", &[], Layout::Torch),
    ("uniform", &[5, 0, 3], Layout::Torch),
    ("constant(0.5)", &[17, 3], Layout::Torch),
    ("eye", &[17, 30], Layout::Torch),
    ("dirac(groups=2)", &[8, 4, 3, 3], Layout::Torch),
    ("sparse(0.3)", &[120, 70], Layout::Torch),
    ("orthogonal(gain=2)", &[96, 80], Layout::Torch),
    ("orthogonal", &[20, 3, 5], Layout::Torch),
    ("delta_orthogonal", &[3, 3, 16, 24], Layout::Jax),
];

/// A small deterministic generator for offsets and extents.
struct Lcg(u64);
impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        if n == 0 { 0 } else { (self.0 >> 33) % n }
    }
}

fn full<T: Element>(t: &TensorInit) -> Vec<T> {
    t.to_vec::<T>(Par::Rayon).unwrap()
}

/// The slice `offsets .. offsets + shape` of a row-major tensor.
fn slice<T: Clone>(full: &[T], dims: &[u64], offsets: &[u64], shape: &[u64]) -> Vec<T> {
    let n: u64 = shape.iter().product();
    let mut out = Vec::with_capacity(n as usize);
    for q in 0..n {
        let mut rem = q;
        let mut g = 0u64;
        let mut stride = 1u64;
        for k in (0..dims.len()).rev() {
            let i = rem % shape[k];
            rem /= shape[k];
            g += (offsets[k] + i) * stride;
            stride *= dims[k];
        }
        out.push(full[g as usize].clone());
    }
    out
}

/// Regions to try: whole, every chunk of every dimension split into 1-4
/// (torch.chunk style, uneven), and random boxes.
fn regions(dims: &[u64], rng: &mut Lcg) -> Vec<(Vec<u64>, Vec<u64>)> {
    let mut out = vec![(vec![0; dims.len()], dims.to_vec())];
    for k in 0..dims.len() {
        for parts in [2u64, 3, 4] {
            let chunk = dims[k].div_ceil(parts);
            for p in 0..parts {
                let start = (p * chunk).min(dims[k]);
                let end = ((p + 1) * chunk).min(dims[k]);
                let mut off = vec![0; dims.len()];
                let mut shp = dims.to_vec();
                off[k] = start;
                shp[k] = end - start;
                out.push((off, shp));
            }
        }
    }
    for _ in 0..12 {
        let mut off = Vec::new();
        let mut shp = Vec::new();
        for &d in dims {
            let a = rng.below(d + 1);
            let b = rng.below(d + 1);
            let (a, b) = (a.min(b), a.max(b));
            off.push(a);
            shp.push(b - a);
        }
        out.push((off, shp));
    }
    out
}

fn check_dtype<T: Element + PartialEq + std::fmt::Debug>() {
    let mut rng = Lcg(7);
    for &(scheme, dims, layout) in SCHEMES {
        let t = tensor(3, "layers.0.w", scheme, dims, layout);
        let whole = full::<T>(&t);
        for (off, shp) in regions(dims, &mut rng) {
            let want = slice(&whole, dims, &off, &shp);
            // a fresh TensorInit too, so whole-matrix schemes compute from scratch
            let fresh = tensor(3, "layers.0.w", scheme, dims, layout);
            for (which, t) in [("same", &t), ("fresh", &fresh)] {
                for par in [Par::Seq, Par::Rayon] {
                    let mut got = vec![T::default(); want.len()];
                    t.fill_region(&off, &shp, &mut got, par).unwrap();
                    assert!(
                        got == want,
                        "{scheme} {dims:?} {:?} region {off:?}+{shp:?} ({which}, {par:?}) differs from the slice",
                        T::DTYPE
                    );
                }
            }
        }
    }
}

#[test]
fn regions_equal_slices_f32() {
    check_dtype::<f32>();
}

#[test]
fn regions_equal_slices_f64() {
    check_dtype::<f64>();
}

#[test]
fn regions_equal_slices_f16() {
    check_dtype::<F16>();
}

#[test]
fn regions_equal_slices_bf16() {
    check_dtype::<BF16>();
}

#[test]
fn thread_count_does_not_change_regions() {
    // large enough that both the per-run and the batched parallel paths split
    type Case = (&'static str, &'static [u64], &'static [u64], &'static [u64]);
    let cases: &[Case] = &[
        ("normal", &[1024, 1000], &[256, 0], &[512, 1000]), // Shard(0): one run
        ("normal", &[1024, 1000], &[0, 250], &[1024, 250]), // Shard(1): short runs
        ("trunc_normal(std=0.02)", &[300, 70_000], &[1, 3], &[5, 69_000]), // long runs
        ("uniform", &[64, 64, 64], &[10, 0, 7], &[40, 64, 50]),
        ("orthogonal", &[256, 128], &[0, 64], &[256, 64]),
        ("sparse(0.5)", &[200, 100], &[50, 10], &[100, 80]),
    ];
    for &(scheme, dims, off, shp) in cases {
        for dtype in DType::ALL {
            let hashes: Vec<Vec<u8>> = [1usize, 2, 8]
                .iter()
                .map(|&threads| {
                    with_threads(threads, || {
                        let t = tensor(11, "x", scheme, dims, Layout::Torch);
                        region_bytes(&t, dtype, off, shp)
                    })
                })
                .collect();
            assert!(hashes.windows(2).all(|w| w[0] == w[1]), "{scheme} {dtype:?}: thread count changes the region");
            let t = tensor(11, "x", scheme, dims, Layout::Torch);
            let mut whole = vec![0u8; t.numel() as usize * dtype.size()];
            t.fill_bytes(dtype, 0, &mut whole, Par::Rayon).unwrap();
            let size = dtype.size();
            let want: Vec<u8> =
                slice(&whole.chunks_exact(size).map(|c| c.to_vec()).collect::<Vec<_>>(), dims, off, shp).concat();
            assert!(hashes[0] == want, "{scheme} {dtype:?}: region differs from the slice");
        }
    }
}

fn region_bytes(t: &TensorInit, dtype: DType, off: &[u64], shp: &[u64]) -> Vec<u8> {
    fn go<T: Element>(t: &TensorInit, off: &[u64], shp: &[u64]) -> Vec<u8> {
        let n: u64 = shp.iter().product();
        let mut v = vec![T::default(); n as usize];
        t.fill_region(off, shp, &mut v, Par::Rayon).unwrap();
        let mut b = vec![0u8; v.len() * T::DTYPE.size()];
        for (x, c) in v.iter().zip(b.chunks_exact_mut(T::DTYPE.size())) {
            x.write_le(c);
        }
        b
    }
    match dtype {
        DType::F32 => go::<f32>(t, off, shp),
        DType::F64 => go::<f64>(t, off, shp),
        DType::F16 => go::<F16>(t, off, shp),
        DType::BF16 => go::<BF16>(t, off, shp),
    }
}

#[test]
fn strided_regions_equal_slices() {
    let mut rng = Lcg(99);
    for &(scheme, dims, layout) in SCHEMES {
        let t = tensor(5, "s", scheme, dims, layout);
        let whole = full::<f32>(&t);
        let rank = dims.len();
        for (off, shp) in regions(dims, &mut rng).into_iter().take(8) {
            let want = slice(&whole, dims, &off, &shp);
            let n = want.len();
            // a column-major buffer with padding, and the same reversed (negative strides)
            let mut strides = vec![0isize; rank];
            let mut s = 1isize;
            for k in 0..rank {
                strides[k] = s;
                s *= shp[k] as isize + 1;
            }
            let len = (s as usize).max(1) + 3;
            let mut buf = vec![f32::NAN; len];
            t.fill_region_strided(&off, &shp, &mut buf, 2, &strides, Par::Rayon).unwrap();
            let neg: Vec<isize> = strides.iter().map(|&x| -x).collect();
            let top: isize = (0..rank).map(|k| (shp[k] as isize - 1).max(0) * strides[k]).sum();
            let mut rev = vec![f32::NAN; len];
            if n > 0 {
                t.fill_region_strided(&off, &shp, &mut rev, 2 + top as usize, &neg, Par::Seq).unwrap();
            }
            for (q, w) in want.iter().enumerate() {
                let mut rem = q as u64;
                let mut pos = 2isize;
                let mut rpos = 2 + top;
                for k in (0..rank).rev() {
                    let i = (rem % shp[k]) as isize;
                    rem /= shp[k];
                    pos += i * strides[k];
                    rpos -= i * strides[k];
                }
                assert_eq!(buf[pos as usize].to_bits(), w.to_bits(), "{scheme} {dims:?} {off:?}+{shp:?} element {q}");
                assert_eq!(rev[rpos as usize].to_bits(), w.to_bits(), "{scheme} {dims:?} reversed, element {q}");
            }
            // the padding is untouched
            let touched = buf.iter().filter(|x| !x.is_nan()).count();
            assert!(touched <= n, "{scheme}: wrote outside the region");
        }
    }
}

#[test]
fn bad_regions_are_errors() {
    let t = tensor(0, "w", "normal", &[10, 20], Layout::Torch);
    let mut out = vec![0f32; 50];
    // leaves the tensor
    assert!(t.fill_region(&[8, 0], &[5, 10], &mut out, Par::Seq).is_err());
    // wrong rank
    assert!(t.fill_region(&[0], &[50], &mut out, Par::Seq).is_err());
    // wrong buffer length
    assert!(t.fill_region(&[0, 0], &[5, 9], &mut out, Par::Seq).is_err());
    // offset overflow
    assert!(t.fill_region(&[u64::MAX, 0], &[2, 10], &mut out, Par::Seq).is_err());
    // strided: outside the buffer, overlapping, wrong stride count
    assert!(t.fill_region_strided(&[0, 0], &[5, 10], &mut out[..45], 0, &[10, 1], Par::Seq).is_err());
    assert!(t.fill_region_strided(&[0, 0], &[5, 10], &mut out, 0, &[1, 1], Par::Seq).is_err());
    assert!(t.fill_region_strided(&[0, 0], &[5, 10], &mut out, 0, &[0, 1], Par::Seq).is_err());
    assert!(t.fill_region_strided(&[0, 0], &[5, 10], &mut out, 0, &[10], Par::Seq).is_err());
    // a dtype that cannot hold the parameters
    let big = tensor(0, "w", "uniform(-1e300, 1e300)", &[4, 4], Layout::Torch);
    let mut o = vec![0f32; 16];
    assert!(big.fill_region(&[0, 0], &[4, 4], &mut o, Par::Seq).is_err());
    // valid but empty
    let mut none: Vec<f32> = vec![];
    t.fill_region(&[3, 7], &[0, 5], &mut none, Par::Seq).unwrap();
}
