//! Statistical tests: samples of every random scheme against the exact
//! distribution it should follow, computed here from the frameworks'
//! formulas (not from varinit's own resolution), for many shapes, seeds
//! and dtypes.
//!
//! Thresholds: the Kolmogorov-Smirnov statistic must stay below the
//! critical value at significance 1e-6 (`sqrt(ln(2/1e-6)/(2n))`). The seeds
//! are fixed, so the tests are stable; the level is strict enough that a
//! wrong scale (a few percent), a wrong fan or a wrong bound fails by a wide
//! margin - `wrong_parameters_are_caught` checks that.

use crate::common::tensor;
use varinit::special::{norm_cdf, norm_mass, trunc_norm_cdf};
use varinit::stats::{ks_statistic_rounded, rounding_cell};
use varinit::{DType, Element, Layout, Par, TensorInit};

/// The distribution a test expects, written from the frameworks' formulas.
#[derive(Debug, Clone, Copy)]
enum Expect {
    Uniform(f64, f64),
    Normal(f64, f64),
    /// mean, std, low, high (absolute)
    Trunc(f64, f64, f64, f64),
}

impl Expect {
    fn cdf(&self, x: f64) -> f64 {
        match *self {
            Expect::Uniform(a, b) => ((x - a) / (b - a)).clamp(0.0, 1.0),
            Expect::Normal(m, s) => norm_cdf((x - m) / s),
            Expect::Trunc(m, s, a, b) => trunc_norm_cdf((x - m) / s, (a - m) / s, (b - m) / s),
        }
    }
}

fn critical(n: usize) -> f64 {
    ((2.0f64 / 1e-6).ln() / (2.0 * n as f64)).sqrt()
}

fn values(t: &TensorInit, dtype: DType) -> Vec<f64> {
    fn as_f64<T: Element>(t: &TensorInit) -> Vec<f64> {
        t.to_vec::<T>(Par::Rayon).unwrap().into_iter().map(|x| x.to_f64()).collect()
    }
    match dtype {
        DType::F32 => as_f64::<f32>(t),
        DType::F64 => as_f64::<f64>(t),
        DType::F16 => as_f64::<half::f16>(t),
        DType::BF16 => as_f64::<half::bf16>(t),
    }
}

/// KS statistic of the sample against `e`, rounding-aware for f16/bf16.
fn ks(v: &mut [f64], e: Expect, dtype: DType) -> f64 {
    let cdf = |x| e.cdf(x);
    match dtype {
        DType::F16 => ks_statistic_rounded(v, cdf, rounding_cell::<half::f16>),
        DType::BF16 => ks_statistic_rounded(v, cdf, rounding_cell::<half::bf16>),
        _ => ks_statistic_rounded(v, cdf, |x| (x, x)),
    }
}

fn check(scheme: &str, dims: &[u64], layout: Layout, expect: Expect) {
    for (seed, dtype) in [(1u64, DType::F32), (2, DType::F64), (3, DType::BF16), (4, DType::F16)] {
        let t = tensor(seed, "stats", scheme, dims, layout);
        let mut v = values(&t, dtype);
        let n = v.len();
        if let Expect::Uniform(a, b) | Expect::Trunc(_, _, a, b) = expect {
            // rounding to a coarse dtype may move a value onto (uniform: past) a bound by half an ulp
            let slack = if matches!(dtype, DType::BF16 | DType::F16) { 4e-3 * a.abs().max(b.abs()) } else { 1e-6 };
            let (lo, hi) = v.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            assert!(lo >= a - slack && hi <= b + slack, "{scheme} {dims:?} {dtype}: [{lo}, {hi}] outside [{a}, {b}]");
        }
        let d = ks(&mut v, expect, dtype);
        assert!(
            d < critical(n),
            "{scheme} {dims:?} {layout} {dtype} seed {seed}: KS D = {d} >= {} (n = {n}, expected {expect:?})",
            critical(n)
        );
    }
}

const SQRT3: f64 = 1.732_050_807_568_877_2;

#[test]
fn plain_distributions() {
    check("uniform(-0.3, 0.7)", &[300, 400], Layout::Torch, Expect::Uniform(-0.3, 0.7));
    check("uniform", &[120_000], Layout::Keras, Expect::Uniform(0.0, 1.0));
    check("random_uniform", &[50, 50, 40], Layout::Keras, Expect::Uniform(-0.05, 0.05));
    check("normal(0.5, 2)", &[300, 400], Layout::Torch, Expect::Normal(0.5, 2.0));
    check("random_normal(stddev=0.02)", &[1000, 100], Layout::Keras, Expect::Normal(0.0, 0.02));
}

#[test]
fn truncated_normals() {
    check("trunc_normal", &[300, 400], Layout::Torch, Expect::Trunc(0.0, 1.0, -2.0, 2.0));
    // PyTorch's absolute bounds: std 0.02 with a = -2, b = 2 is practically untruncated
    check("trunc_normal(std=0.02)", &[300, 400], Layout::Torch, Expect::Trunc(0.0, 0.02, -2.0, 2.0));
    // asymmetric, and entirely in one tail
    check("trunc_normal(mean=1, std=0.5, a=0.2, b=3)", &[300, 400], Layout::Torch, Expect::Trunc(1.0, 0.5, 0.2, 3.0));
    check("trunc_normal(0, 1, 2.5, 4)", &[300, 400], Layout::Torch, Expect::Trunc(0.0, 1.0, 2.5, 4.0));
    check("trunc_normal(0, 1, -inf, -3)", &[300, 400], Layout::Torch, Expect::Trunc(0.0, 1.0, f64::NEG_INFINITY, -3.0));
    // Keras's truncated_normal: +-2 stddev around the mean, no variance correction
    check("truncated_normal(mean=0.1, stddev=0.05)", &[300, 400], Layout::Keras, Expect::Trunc(0.1, 0.05, 0.0, 0.2));
}

#[test]
fn pytorch_fan_based_schemes() {
    // Linear(512 -> 256): weight (256, 512), fan_in 512, fan_out 256
    let (fi, fo): (f64, f64) = (512.0, 256.0);
    let xs = (2.0 / (fi + fo)).sqrt();
    check("xavier_normal", &[256, 512], Layout::Torch, Expect::Normal(0.0, xs));
    check("xavier_uniform", &[256, 512], Layout::Torch, Expect::Uniform(-SQRT3 * xs, SQRT3 * xs));
    check("xavier_normal(gain=tanh)", &[256, 512], Layout::Torch, Expect::Normal(0.0, 5.0 / 3.0 * xs));
    // Conv2d(32 -> 64, 3x3): weight (64, 32, 3, 3), fan_in 288, fan_out 576
    let ks = 2f64.sqrt() / 288f64.sqrt();
    check("kaiming_normal", &[64, 32, 3, 3], Layout::Torch, Expect::Normal(0.0, ks));
    check(
        "kaiming_uniform(nonlinearity=relu)",
        &[64, 32, 3, 3],
        Layout::Torch,
        Expect::Uniform(-SQRT3 * ks, SQRT3 * ks),
    );
    let ks_out = 2f64.sqrt() / 576f64.sqrt();
    check(
        "kaiming_normal(mode=fan_out, nonlinearity=relu)",
        &[64, 32, 3, 3],
        Layout::Torch,
        Expect::Normal(0.0, ks_out),
    );
    let g = (2.0f64 / (1.0 + 0.2 * 0.2)).sqrt();
    check("kaiming_normal(a=0.2)", &[300, 200], Layout::Torch, Expect::Normal(0.0, g / 200f64.sqrt()));
    check(
        "kaiming_normal(nonlinearity=tanh)",
        &[300, 200],
        Layout::Torch,
        Expect::Normal(0.0, 5.0 / 3.0 / 200f64.sqrt()),
    );
    check("kaiming_uniform(nonlinearity=selu)", &[300, 200], Layout::Torch, {
        let b = SQRT3 * 0.75 / 200f64.sqrt();
        Expect::Uniform(-b, b)
    });
    // nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same bound
    check("torch_default", &[300, 200], Layout::Torch, Expect::Uniform(-1.0 / 200f64.sqrt(), 1.0 / 200f64.sqrt()));
    check("torch_default", &[64, 16, 5, 5], Layout::Torch, Expect::Uniform(-0.05, 0.05));
    check("torch_default_bias(fan_in=400)", &[100_000], Layout::Torch, Expect::Uniform(-0.05, 0.05));
}

#[test]
fn keras_and_jax_variance_scaling() {
    // Dense(512 -> 256) kernel (512, 256) under Keras's layout
    let c = 0.879_625_661_034_239_8;
    let trunc = |var: f64| {
        let s = var.sqrt() / c;
        Expect::Trunc(0.0, s, -2.0 * s, 2.0 * s)
    };
    let unif = |var: f64| {
        let l = (3.0 * var).sqrt();
        Expect::Uniform(-l, l)
    };
    check("glorot_normal", &[512, 256], Layout::Keras, trunc(2.0 / 768.0));
    check("glorot_uniform", &[512, 256], Layout::Keras, unif(2.0 / 768.0));
    check("he_normal", &[512, 256], Layout::Keras, trunc(2.0 / 512.0));
    check("he_uniform", &[512, 256], Layout::Jax, unif(2.0 / 512.0));
    check("lecun_normal", &[3, 3, 64, 128], Layout::Jax, trunc(1.0 / 576.0));
    check("lecun_uniform", &[3, 3, 64, 128], Layout::Keras, unif(1.0 / 576.0));
    check("variance_scaling(0.5, fan_out, untruncated_normal)", &[3, 3, 64, 128], Layout::Keras, {
        Expect::Normal(0.0, (0.5f64 / 1152.0).sqrt())
    });
    check(
        "variance_scaling(2, fan_avg, truncated_normal)",
        &[7, 5, 300],
        Layout::Keras,
        trunc(2.0 / (0.5 * (5.0 * 7.0 + 300.0 * 7.0))),
    );
    // Keras's rank-1 rule: fans (n, n)
    check("lecun_uniform", &[100_000], Layout::Keras, unif(1.0 / 100_000.0));
}

#[test]
fn the_truncation_correction_gives_the_intended_variance() {
    // he_normal (Keras): the truncated draws must have variance exactly 2 / fan_in.
    let t = tensor(11, "he", "he_normal", &[1024, 1024], Layout::Keras);
    let v = values(&t, DType::F64);
    let var = v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64;
    let want = 2.0 / 1024.0;
    // relative standard error of a variance estimate of a truncated normal ~ sqrt(1.55 / n)
    assert!((var / want - 1.0).abs() < 5.0 * (1.55 / v.len() as f64).sqrt(), "var {var} want {want}");
}

#[test]
fn truncated_normal_tails_and_bounds() {
    // +-2 std truncation: no value outside, and the share beyond 1.9 std matches the exact probability.
    let n = 1 << 21;
    let t = tensor(5, "tails", "trunc_normal(0, 1, -2, 2)", &[n], Layout::Torch);
    let p_tail = 2.0 * norm_mass(1.9, 2.0) / norm_mass(-2.0, 2.0);
    for dtype in [DType::F32, DType::F64] {
        let v = values(&t, dtype);
        assert!(v.iter().all(|x| (-2.0..=2.0).contains(x)), "{dtype}: value outside [-2, 2]");
        let beyond = v.iter().filter(|x| x.abs() > 1.9).count() as f64;
        let expect = p_tail * n as f64;
        let sd = (n as f64 * p_tail * (1.0 - p_tail)).sqrt();
        assert!((beyond - expect).abs() < 5.0 * sd, "{dtype}: {beyond} beyond 1.9 std, expected {expect} +- {sd}");
    }
    // Wide bounds (PyTorch's trunc_normal_(std=0.02) has bounds at +-100 std): no far outliers.
    let t = tensor(6, "wide", "trunc_normal(std=0.02)", &[n], Layout::Torch);
    let v = values(&t, DType::F32);
    let far = v.iter().filter(|x| x.abs() > 6.0 * 0.02).count();
    assert_eq!(far, 0, "values beyond 6 std");
    let beyond4 = v.iter().filter(|x| x.abs() > 4.0 * 0.02).count() as f64;
    let p4 = 2.0 * norm_cdf(-4.0);
    let sd = (n as f64 * p4).sqrt();
    assert!((beyond4 - p4 * n as f64).abs() < 5.0 * sd + 1.0, "{beyond4} beyond 4 std, expected {}", p4 * n as f64);
}

#[test]
fn no_pile_up_at_the_bounds_in_bf16() {
    // Truncation bounds that are not bf16 numbers: values may round onto the nearest bf16 inside the
    // bounds, but only as often as the density there says - never a spike (pytorch issue 155588).
    let (a, b) = (-0.0765, 0.0765);
    let n = 1 << 21;
    let t = tensor(8, "pileup", "trunc_normal(mean=0, std=0.05, a=-0.0765, b=0.0765)", &[n], Layout::Torch);
    let v: Vec<half::bf16> = t.to_vec(Par::Rayon).unwrap();
    let top = v.iter().copied().fold(half::bf16::MIN, |m, x| if x > m { x } else { m });
    let bottom = v.iter().copied().fold(half::bf16::MAX, |m, x| if x < m { x } else { m });
    assert!(top.to_f64() <= b && bottom.to_f64() >= a);
    for (edge, is_top) in [(top, true), (bottom, false)] {
        let count = v.iter().filter(|&&x| x == edge).count() as f64;
        // The reals that end up on `edge`: its rounding cell, plus - on the outer side - the sliver
        // between the cell and the bound, whose values would round past the bound and are clamped.
        let (lo, hi) = rounding_cell::<half::bf16>(edge.to_f64());
        let (lo, hi) = if is_top { (lo, b) } else { (a, hi) };
        let p = norm_mass(lo / 0.05, hi / 0.05) / norm_mass(a / 0.05, b / 0.05);
        let expect = p * n as f64;
        assert!((count - expect).abs() < 5.0 * expect.sqrt() + 2.0, "bound {edge}: {count} values, expected {expect}");
    }
}

#[test]
fn sparse_has_exact_zero_counts_and_normal_entries() {
    for (rows, cols, sparsity) in [(100u64, 30u64, 0.1), (64, 64, 0.5), (37, 11, 0.33), (10, 5, 1.0), (10, 5, 0.0)] {
        let t = tensor(3, "sparse", &format!("sparse({sparsity}, std=0.3)"), &[rows, cols], Layout::Torch);
        let v: Vec<f64> = t.to_vec(Par::Rayon).unwrap();
        let k = (sparsity * rows as f64).ceil() as usize;
        for j in 0..cols as usize {
            let zeros = (0..rows as usize).filter(|&i| v[i * cols as usize + j] == 0.0).count();
            assert_eq!(zeros, k, "{rows}x{cols} sparsity {sparsity}: column {j}");
        }
    }
    // the non-zero entries are N(0, std^2), and which rows are zero varies between columns
    let t = tensor(4, "sparse", "sparse(0.25, std=0.3)", &[400, 300], Layout::Torch);
    let v: Vec<f64> = t.to_vec(Par::Rayon).unwrap();
    let mut nz: Vec<f64> = v.iter().copied().filter(|&x| x != 0.0).collect();
    let n = nz.len();
    let d = ks(&mut nz, Expect::Normal(0.0, 0.3), DType::F64);
    assert!(d < critical(n), "D = {d}");
    let zero_rows = |j: usize| (0..400).filter(|&i| v[i * 300 + j] == 0.0).collect::<Vec<_>>();
    assert_ne!(zero_rows(0), zero_rows(1));
    // each row is zeroed in about a quarter of the columns: the mask is uniform over rows
    let per_row: Vec<usize> = (0..400).map(|i| (0..300).filter(|&j| v[i * 300 + j] == 0.0).count()).collect();
    let mean = per_row.iter().sum::<usize>() as f64 / 400.0;
    assert!((mean - 75.0).abs() < 1e-9);
    assert!(per_row.iter().all(|&c| (40..=110).contains(&c)), "{per_row:?}");
}

fn gram_error(w: &[f64], rows: usize, cols: usize, gain: f64) -> f64 {
    // max |W W^T - gain^2 I| if rows <= cols, else of W^T W
    let (n, k) = if rows <= cols { (rows, cols) } else { (cols, rows) };
    let at = |a: usize, b: usize| if rows <= cols { w[a * cols + b] } else { w[b * cols + a] };
    let mut worst: f64 = 0.0;
    for i in 0..n {
        for j in 0..=i {
            let dot: f64 = (0..k).map(|l| at(i, l) * at(j, l)).sum();
            let want = if i == j { gain * gain } else { 0.0 };
            worst = worst.max((dot - want).abs());
        }
    }
    worst
}

#[test]
fn orthogonal_is_orthogonal() {
    for (dims, layout, gain, rows, cols) in [
        (vec![64u64, 64], Layout::Torch, 1.0, 64usize, 64usize),
        (vec![40, 100], Layout::Torch, 2.0, 40, 100),
        (vec![100, 40], Layout::Torch, 1.0, 100, 40),
        (vec![16, 8, 3, 3], Layout::Torch, 1.0, 16, 72),
        (vec![3, 3, 8, 16], Layout::Keras, 1.5, 72, 16),
        (vec![1, 50], Layout::Torch, 1.0, 1, 50),
    ] {
        let scheme = format!("orthogonal(gain={gain})");
        let t = tensor(9, "ortho", &scheme, &dims, layout);
        let w64: Vec<f64> = t.to_vec(Par::Rayon).unwrap();
        assert!(gram_error(&w64, rows, cols, gain) < 1e-12 * gain * gain * rows.max(cols) as f64, "{dims:?} f64");
        let w32: Vec<f64> = t.to_vec::<f32>(Par::Rayon).unwrap().into_iter().map(f64::from).collect();
        let e = gram_error(&w32, rows, cols, gain);
        assert!(e < 2e-6 * gain * gain, "{dims:?} f32: {e}");
    }
    // Haar: for a large square matrix the entries look like N(0, 1/n)
    let t = tensor(10, "haar", "orthogonal", &[256, 256], Layout::Torch);
    let mut v: Vec<f64> = t.to_vec(Par::Rayon).unwrap();
    let n = v.len();
    let d = ks(&mut v, Expect::Normal(0.0, 1.0 / 16.0), DType::F64);
    assert!(d < critical(n), "D = {d}");
}

#[test]
fn delta_orthogonal_has_an_orthogonal_centre() {
    // torch layout (out, in, k, k) and jax layout (k, k, in, out)
    for (dims, layout) in [(vec![32u64, 16, 3, 3], Layout::Torch), (vec![3, 5, 16, 32], Layout::Jax)] {
        let t = tensor(12, "delta", "delta_orthogonal(gain=2)", &dims, layout);
        let w: Vec<f64> = t.to_vec(Par::Rayon).unwrap();
        let (cout, cin) = (32usize, 16usize);
        let mut centre = vec![0f64; cin * cout]; // (in, out)
        let mut off_centre_nonzero = 0;
        for (e, &x) in w.iter().enumerate() {
            let (o, i, is_centre) = if layout == Layout::Torch {
                let k = e % 9;
                (e / (16 * 9), (e / 9) % 16, k == 4)
            } else {
                let (kh, kw) = (e / (5 * 16 * 32), (e / (16 * 32)) % 5);
                (e % 32, (e / 32) % 16, kh == 1 && kw == 2)
            };
            if is_centre {
                centre[i * cout + o] = x;
            } else if x != 0.0 {
                off_centre_nonzero += 1;
            }
        }
        assert_eq!(off_centre_nonzero, 0, "{dims:?}");
        assert!(gram_error(&centre, cin, cout, 2.0) < 1e-12, "{dims:?}");
    }
}

#[test]
fn eye_and_dirac_are_exact() {
    let t = tensor(0, "eye", "eye", &[3, 5], Layout::Torch);
    let v: Vec<f32> = t.to_vec(Par::Seq).unwrap();
    let want: Vec<f32> = (0..15).map(|e| if e / 5 == e % 5 { 1.0 } else { 0.0 }).collect();
    assert_eq!(v, want);
    // PyTorch's dirac_ loop, transcribed: w[g*out_per_group + d, d, centre...] = 1 for d < min(out_per_group, in)
    for (dims, groups) in
        [(vec![6u64, 4, 3, 3], 2u64), (vec![4, 4, 5], 1), (vec![8, 2, 3, 3, 3], 4), (vec![3, 5, 1, 1], 1)]
    {
        let t = tensor(0, "dirac", &format!("dirac(groups={groups})"), &dims, Layout::Torch);
        let v: Vec<f32> = t.to_vec(Par::Seq).unwrap();
        let ksize: u64 = dims[2..].iter().product();
        let centre = dims[2..].iter().fold(0u64, |acc, &k| acc * k + k / 2);
        let mut want = vec![0f32; v.len()];
        let out_per_group = dims[0] / groups;
        for g in 0..groups {
            for d in 0..out_per_group.min(dims[1]) {
                let o = g * out_per_group + d;
                want[((o * dims[1] + d) * ksize + centre) as usize] = 1.0;
            }
        }
        assert_eq!(v, want, "{dims:?} groups {groups}");
        // a dirac kernel passes its input through: the sum of ones per group equals min(out/groups, in)
        assert_eq!(v.iter().sum::<f32>() as u64, groups * out_per_group.min(dims[1]));
    }
}

/// The tests above must be able to fail: a wrong fan, a missing truncation
/// correction or a bound off by a few percent gives a KS statistic far
/// above the critical value for the sample sizes used.
#[test]
fn wrong_parameters_are_caught() {
    let t = tensor(1, "stats", "kaiming_normal", &[256, 512], Layout::Torch);
    let v = values(&t, DType::F32);
    let n = v.len();
    // fan_out instead of fan_in
    let d = ks(&mut v.clone(), Expect::Normal(0.0, 2f64.sqrt() / 256f64.sqrt()), DType::F32);
    assert!(d > 5.0 * critical(n), "wrong fan not caught: {d}");
    // 3% wrong scale
    let d = ks(&mut v.clone(), Expect::Normal(0.0, 1.03 * 2f64.sqrt() / 512f64.sqrt()), DType::F32);
    assert!(d > critical(n), "3% scale error not caught: {d}");
    // Keras's glorot_normal without the 0.8796 correction
    let t = tensor(1, "stats", "glorot_normal", &[512, 256], Layout::Keras);
    let v = values(&t, DType::F32);
    let s = (2.0f64 / 768.0).sqrt();
    let d = ks(&mut v.clone(), Expect::Trunc(0.0, s, -2.0 * s, 2.0 * s), DType::F32);
    assert!(d > 3.0 * critical(v.len()), "missing truncation correction not caught: {d}");
    // a uniform bound 3% too wide
    let t = tensor(1, "stats", "xavier_uniform", &[256, 512], Layout::Torch);
    let v = values(&t, DType::F32);
    let l = SQRT3 * (2.0f64 / 768.0).sqrt() * 1.03;
    let d = ks(&mut v.clone(), Expect::Uniform(-l, l), DType::F32);
    assert!(d > critical(v.len()), "3% bound error not caught: {d}");
}

/// Orthogonal draws are Haar-distributed on O(n), not merely orthogonal:
/// for Haar Q the moments of trace(Q) up to order n equal a standard
/// normal's (Diaconis & Shahshahani 1994) and det(Q) is +1 or -1 with
/// probability 1/2 each. A QR without the sign correction fails this.
#[test]
fn orthogonal_is_haar() {
    let (n, samples) = (6usize, 3000usize);
    let (mut m1, mut m2, mut m4, mut positive) = (0.0, 0.0, 0.0, 0usize);
    for s in 0..samples {
        let t = tensor(s as u64, "haar", "orthogonal", &[n as u64, n as u64], Layout::Torch);
        let q: Vec<f64> = t.to_vec(Par::Seq).unwrap();
        let tr: f64 = (0..n).map(|i| q[i * n + i]).sum();
        m1 += tr;
        m2 += tr * tr;
        m4 += tr.powi(4);
        // determinant by Gaussian elimination with partial pivoting
        let mut a = q.clone();
        let mut det = 1.0;
        for c in 0..n {
            let p = (c..n).max_by(|&i, &j| a[i * n + c].abs().total_cmp(&a[j * n + c].abs())).unwrap();
            if p != c {
                for k in 0..n {
                    a.swap(p * n + k, c * n + k);
                }
                det = -det;
            }
            det *= a[c * n + c];
            for r in c + 1..n {
                let f = a[r * n + c] / a[c * n + c];
                for k in c..n {
                    a[r * n + k] -= f * a[c * n + k];
                }
            }
        }
        assert!((det.abs() - 1.0).abs() < 1e-9, "det {det}");
        positive += usize::from(det > 0.0);
    }
    let k = samples as f64;
    let (e1, e2, e4) = (m1 / k, m2 / k, m4 / k);
    // standard errors of the moments of N(0, 1): 1, sqrt(2), sqrt(96) over sqrt(k); allow 5 of them
    assert!(e1.abs() < 5.0 / k.sqrt(), "E[tr Q] = {e1}");
    assert!((e2 - 1.0).abs() < 5.0 * 2f64.sqrt() / k.sqrt(), "E[tr^2] = {e2}");
    assert!((e4 - 3.0).abs() < 5.0 * 96f64.sqrt() / k.sqrt(), "E[tr^4] = {e4}");
    let half = k / 2.0;
    assert!((positive as f64 - half).abs() < 5.0 * (k / 4.0).sqrt(), "det +1 in {positive} of {samples}");
}
