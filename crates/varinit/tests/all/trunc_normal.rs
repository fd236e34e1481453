//! The truncated normal on the fast paths: inside its bounds, no far
//! outliers, tails with the right mass, and no pile-up at the bounds after
//! rounding to bf16 or f16. Fixed seeds; tolerances of 6 binomial standard
//! deviations, which a wrong tail (as in pytorch issue 155588) misses by
//! orders of magnitude.

use crate::common::{tensor, with_threads};
use half::{bf16, f16};
use varinit::special::{norm_cdf, norm_mass};
use varinit::{Element, Layout, Par};

const N: u64 = 1 << 22;

fn draw<T: Element>(scheme: &str, n: u64) -> Vec<f64> {
    let t = tensor(2024, "trunc", scheme, &[n], Layout::Torch);
    let v: Vec<T> = t.to_vec(Par::Rayon).unwrap();
    v.into_iter().map(Element::to_f64).collect()
}

/// `count` is within 6 binomial standard deviations of `n p`.
fn assert_binomial(what: &str, count: usize, n: usize, p: f64) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt().max(1.0);
    assert!(
        (count as f64 - mean).abs() <= 6.0 * sd,
        "{what}: {count} of {n}, expected {mean:.1} +- {sd:.1} (p = {p:.3e})"
    );
}

/// P(Z in [x, b] | Z in [a, b]) for the standard normal.
fn upper(x: f64, a: f64, b: f64) -> f64 {
    norm_mass(x.max(a), b) / norm_mass(a, b)
}

#[test]
fn within_bounds_and_no_far_outliers() {
    let cases = [
        ("trunc_normal(0, 1, -2, 2)", -2.0, 2.0),
        ("trunc_normal(mean=0, std=0.02, a=-2, b=2)", -2.0, 2.0),
        ("trunc_normal(mean=0, std=0.02, a=-0.04, b=0.04)", -0.04, 0.04),
        ("trunc_normal(mean=1, std=1, a=2.5, b=4)", 2.5, 4.0),
        ("trunc_normal(mean=0, std=1, a=6, b=40)", 6.0, 40.0),
        ("trunc_normal(mean=0, std=1, a=-9, b=-5.5)", -9.0, -5.5),
    ];
    for (scheme, a, b) in cases {
        for (dtype, v) in [
            ("f32", draw::<f32>(scheme, N / 4)),
            ("f64", draw::<f64>(scheme, N / 4)),
            ("bf16", draw::<bf16>(scheme, N / 4)),
            ("f16", draw::<f16>(scheme, N / 4)),
        ] {
            let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
            assert!(a <= lo && hi <= b, "{scheme} {dtype}: range [{lo}, {hi}] outside [{a}, {b}]");
        }
    }
    // PyTorch's default bounds with a small std: everything within 6 std
    // (P(|Z| > 6) = 2e-9: none expected in 4M), nothing near the bounds
    let v = draw::<f32>("trunc_normal(std=0.02)", N);
    let far = v.iter().filter(|x| x.abs() > 6.0 * 0.02).count();
    assert_eq!(far, 0, "{far} values beyond 6 std");
}

#[test]
fn tails_have_the_exact_mass() {
    // +-2 sigma: the count beyond 1.9 sigma on either side
    let p = 2.0 * upper(1.9, -2.0, 2.0);
    for (dtype, v) in
        [("f32", draw::<f32>("trunc_normal(0, 1, -2, 2)", N)), ("f64", draw::<f64>("trunc_normal(0, 1, -2, 2)", N))]
    {
        let c = v.iter().filter(|x| x.abs() > 1.9).count();
        assert_binomial(&format!("|x| > 1.9, {dtype}"), c, v.len(), p);
        // deep inside the tail too: beyond 1.99
        let c = v.iter().filter(|x| x.abs() > 1.99).count();
        assert_binomial(&format!("|x| > 1.99, {dtype}"), c, v.len(), 2.0 * upper(1.99, -2.0, 2.0));
    }
    // one-sided, in the far upper tail of the parent: N(0, 1) on [4, 6]
    let v = draw::<f32>("trunc_normal(0, 1, 4, 6)", N);
    assert_binomial("x > 4.5 on [4, 6]", v.iter().filter(|&&x| x > 4.5).count(), v.len(), upper(4.5, 4.0, 6.0));
    assert_binomial("x > 5.5 on [4, 6]", v.iter().filter(|&&x| x > 5.5).count(), v.len(), upper(5.5, 4.0, 6.0));
    // and the lower tail of a +-2 std truncation with a small std (Keras's shape)
    let v = draw::<f32>("trunc_normal(mean=0, std=0.02, a=-0.04, b=0.04)", N);
    let c = v.iter().filter(|&&x| x < -0.038).count();
    assert_binomial("x < -1.9 std", c, v.len(), 1.0 - upper(-1.9, -2.0, 2.0));
    assert!(norm_cdf(0.0) == 0.5);
}

/// In bf16/f16 the bound itself is one representable value: its count must
/// be the mass of the rounding cell next to it, not a pile-up.
#[test]
fn no_pile_up_at_the_bounds_in_bf16_and_f16() {
    fn check<T: Element>(dtype: &str, scheme: &str, mean: f64, std: f64, a: f64, b: f64) {
        let v = draw::<T>(scheme, N);
        let n = v.len();
        let hi = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let lo = v.iter().cloned().fold(f64::INFINITY, f64::min);
        // the cell of the largest value: from halfway to the next value below, up to b
        let below = v.iter().cloned().filter(|&x| x < hi).fold(f64::NEG_INFINITY, f64::max);
        let above = v.iter().cloned().filter(|&x| x > lo).fold(f64::INFINITY, f64::min);
        let z = |x: f64| (x - mean) / std;
        let (za, zb) = (z(a), z(b));
        let p_hi = norm_mass(z((below + hi) / 2.0).max(za), zb) / norm_mass(za, zb);
        let p_lo = norm_mass(za, z((lo + above) / 2.0).min(zb)) / norm_mass(za, zb);
        let c_hi = v.iter().filter(|&&x| x == hi).count();
        let c_lo = v.iter().filter(|&&x| x == lo).count();
        assert_binomial(&format!("{scheme} {dtype}: count at {hi}"), c_hi, n, p_hi);
        assert_binomial(&format!("{scheme} {dtype}: count at {lo}"), c_lo, n, p_lo);
    }
    for (scheme, mean, std, a, b) in [
        ("trunc_normal(mean=0, std=0.02, a=-0.04, b=0.04)", 0.0, 0.02, -0.04, 0.04),
        ("trunc_normal(0, 1, -2, 2)", 0.0, 1.0, -2.0, 2.0),
        ("trunc_normal(mean=0.3, std=0.1, a=0.1, b=0.5)", 0.3, 0.1, 0.1, 0.5),
    ] {
        check::<bf16>("bf16", scheme, mean, std, a, b);
        check::<f16>("f16", scheme, mean, std, a, b);
    }
}

#[test]
fn statistics_do_not_depend_on_threads() {
    // the same draw under 1 and 8 threads (the bits, hence every statistic)
    let t = tensor(1, "w", "trunc_normal(std=0.02)", &[100_003], Layout::Torch);
    let a: Vec<bf16> = with_threads(1, || t.to_vec(Par::Rayon).unwrap());
    let b: Vec<bf16> = with_threads(8, || t.to_vec(Par::Rayon).unwrap());
    assert_eq!(a, b);
}
