//! Developer benchmarks of the sampling kernels (divan):
//! `cargo bench -p varinit --bench kernels [-- FILTER]`.
//!
//! Per path (scalar, portable, avx2, avx512 where the CPU has them), per
//! distribution and output type, on one thread (the per-core rate) and on
//! the rayon pool; then orthogonal initialisation. Throughput is reported
//! in elements per second. `varinit bench` is the user-facing counterpart
//! that also measures the memory ceiling.

use divan::counter::ItemsCount;
use divan::{Bencher, black_box};
use half::bf16;
use varinit::kernels::{SimdPath, fill_elementwise};
use varinit::{Element, Init, Layout, Par, Resolved, Shape, TensorInit, TensorKey};

fn main() {
    divan::main();
}

const SCHEMES: &[(&str, Resolved)] = &[
    ("uniform", Resolved::Uniform { low: 0.0, high: 1.0 }),
    ("normal", Resolved::Normal { mean: 0.0, std: 1.0 }),
    ("trunc_normal_2sigma", Resolved::TruncNormal { mean: 0.0, std: 1.0, low: -2.0, high: 2.0 }),
    ("trunc_normal_std0.02", Resolved::TruncNormal { mean: 0.0, std: 0.02, low: -2.0, high: 2.0 }),
];

fn paths() -> Vec<SimdPath> {
    SimdPath::available()
}

/// Elements per single-thread fill: large enough to amortise the setup,
/// small enough to stay in the last-level cache (compute, not memory).
const ONE_THREAD: usize = 1 << 18;
/// Elements per parallel fill: well beyond the caches.
const ALL_THREADS: usize = 1 << 24;

fn run<T: Element>(b: Bencher, path: SimdPath, scheme: usize, n: usize, par: Par) {
    let key = TensorKey::new(0, "bench");
    let r = &SCHEMES[scheme].1;
    let mut out = vec![T::default(); n];
    b.counter(ItemsCount::new(n)).bench_local(|| {
        fill_elementwise(r, key, 0, black_box(&mut out[..]), par, path).unwrap();
    });
}

#[divan::bench(args = paths(), consts = [0, 1, 2, 3])]
fn f32_one_thread<const S: usize>(b: Bencher, path: SimdPath) {
    run::<f32>(b, path, S, ONE_THREAD, Par::Seq);
}

#[divan::bench(args = paths(), consts = [0, 1, 2, 3])]
fn bf16_one_thread<const S: usize>(b: Bencher, path: SimdPath) {
    run::<bf16>(b, path, S, ONE_THREAD, Par::Seq);
}

#[divan::bench(args = paths(), consts = [0, 1, 2])]
fn f64_one_thread<const S: usize>(b: Bencher, path: SimdPath) {
    run::<f64>(b, path, S, ONE_THREAD, Par::Seq);
}

#[divan::bench(consts = [0, 1, 2, 3], sample_count = 20)]
fn f32_all_threads<const S: usize>(b: Bencher) {
    run::<f32>(b, SimdPath::best(), S, ALL_THREADS, Par::Rayon);
}

#[divan::bench(sample_count = 20)]
fn constant_fill_all_threads(b: Bencher) {
    use rayon::prelude::*;
    let mut out = vec![0f32; ALL_THREADS];
    b.counter(ItemsCount::new(ALL_THREADS)).bench_local(|| {
        black_box(&mut out[..]).par_chunks_mut(1 << 16).for_each(|c| c.fill(1.0));
    });
}

#[divan::bench(args = [256, 1024], sample_count = 5)]
fn orthogonal_f32(b: Bencher, side: u64) {
    let init: Init = "orthogonal".parse().unwrap();
    let shape = Shape::new(vec![side, side]).unwrap();
    let mut out = vec![0f32; (side * side) as usize];
    b.bench_local(|| {
        // a fresh TensorInit each time: it caches the materialised matrix
        let t = TensorInit::new(0, "bench", &init, shape.clone(), Layout::Torch.into()).unwrap();
        t.fill(&mut out, Par::Rayon).unwrap();
    });
}
