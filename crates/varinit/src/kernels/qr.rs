//! A blocked Householder QR whose bits do not depend on the thread count.
//!
//! Why not faer's `qr_in_place` with `Par::rayon`: its parallel kernels
//! split work by the number of threads, and a reduction split differently
//! rounds differently. Here every parallel step is an update of *independent
//! columns* (the trailing matrix by a block reflector; the columns of Q),
//! cut into column blocks of a fixed width [`COLUMNS`] that does not depend
//! on the thread count; each block is computed by faer's sequential code
//! (`Par::Seq`) on exactly the same data whichever thread runs it. So the
//! result is the same bits for any number of threads by construction, and
//! the tests check it for 1, 2 and 8 threads.
//!
//! The sequence is LAPACK's: panels of `recommended_block_size` columns
//! factored in turn (`geqrf`), then Q accumulated backwards from the
//! identity (`orgqr`), touching only the part of Q that is not yet the
//! identity.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::householder::{
    apply_block_householder_on_the_left_in_place_scratch, apply_block_householder_on_the_left_in_place_with_conj,
    apply_block_householder_transpose_on_the_left_in_place_scratch,
    apply_block_householder_transpose_on_the_left_in_place_with_conj,
};
use faer::linalg::qr::no_pivoting::factor::{qr_in_place, qr_in_place_scratch, recommended_block_size};
use faer::traits::RealField;
use faer::{Conj, Mat, MatMut, MatRef, Par as FaerPar};
use rayon::prelude::*;

/// The precisions the QR runs in: f32 for f32/f16/bf16 tensors (as
/// PyTorch factors in the tensor's dtype), f64 for f64 tensors.
pub(crate) trait QrFloat: RealField + Copy {
    const ZERO: Self;
    const ONE: Self;
}

impl QrFloat for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

impl QrFloat for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}

/// Columns per parallel work item. Fixed: the split must not depend on
/// the thread count.
pub(crate) const COLUMNS: usize = 64;

/// Apply the block reflector (`basis`, `factor`) to `target` column block
/// by column block, on the rayon pool: `H^T target` if `transpose`, else
/// `H target`.
fn apply_blocked<T: QrFloat>(basis: MatRef<'_, T>, factor: MatRef<'_, T>, target: MatMut<'_, T>, transpose: bool) {
    let mut blocks = Vec::with_capacity(target.ncols().div_ceil(COLUMNS));
    let mut rest = target;
    while rest.ncols() > 0 {
        let w = rest.ncols().min(COLUMNS);
        let (head, tail) = rest.split_at_col_mut(w);
        blocks.push(head);
        rest = tail;
    }
    let (rows, bs) = (basis.nrows(), basis.ncols());
    blocks.into_par_iter().for_each(|block| {
        let cols = block.ncols();
        if transpose {
            let req = apply_block_householder_transpose_on_the_left_in_place_scratch::<T>(rows, bs, cols);
            let mut mem = MemBuffer::new(req);
            apply_block_householder_transpose_on_the_left_in_place_with_conj(
                basis,
                factor,
                Conj::Yes,
                block,
                FaerPar::Seq,
                MemStack::new(&mut mem),
            );
        } else {
            let req = apply_block_householder_on_the_left_in_place_scratch::<T>(rows, bs, cols);
            let mut mem = MemBuffer::new(req);
            apply_block_householder_on_the_left_in_place_with_conj(
                basis,
                factor,
                Conj::No,
                block,
                FaerPar::Seq,
                MemStack::new(&mut mem),
            );
        }
    });
}

/// The thin QR of a tall `m x n` matrix (`m >= n`): returns `(Q, signs)`,
/// Q `m x n` with orthonormal columns and `signs[k]` the sign of `R[k][k]`
/// (+1 for zero). `a` is overwritten.
pub(crate) fn thin_qr<T: QrFloat>(a: &mut Mat<T>) -> (Mat<T>, Vec<T>) {
    let (m, n) = (a.nrows(), a.ncols());
    debug_assert!(m >= n);
    let bs = recommended_block_size::<T>(m, n).clamp(1, n.max(1));
    let mut coeff = Mat::<T>::zeros(bs, n);
    // geqrf: factor a panel, then update the columns to its right
    let mut col = 0;
    while col < n {
        let w = bs.min(n - col);
        {
            let panel = a.as_mut().submatrix_mut(col, col, m - col, w);
            let t = coeff.as_mut().submatrix_mut(0, col, w, w);
            let mut mem = MemBuffer::new(qr_in_place_scratch::<T>(m - col, w, w, FaerPar::Seq, Default::default()));
            qr_in_place(panel, t, FaerPar::Seq, MemStack::new(&mut mem), Default::default());
        }
        if col + w < n {
            let (left, right) = a.as_mut().submatrix_mut(col, col, m - col, n - col).split_at_col_mut(w);
            let t = coeff.as_ref().submatrix(0, col, w, w);
            apply_blocked(left.as_ref(), t, right, true);
        }
        col += w;
    }
    let signs: Vec<T> = (0..n).map(|k| if a[(k, k)] < T::ZERO { T::ZERO - T::ONE } else { T::ONE }).collect();
    // orgqr: Q = H_1 ... H_p [I; 0], accumulated from the last block back;
    // before block j is applied, the columns left of it are still e_k and
    // the rows above it zero, so only Q[col.., col..] changes.
    let mut q = Mat::<T>::from_fn(m, n, |i, j| if i == j { T::ONE } else { T::ZERO });
    let mut starts: Vec<usize> = (0..n).step_by(bs).collect();
    starts.reverse();
    for col in starts {
        let w = bs.min(n - col);
        let basis = a.as_ref().submatrix(col, col, m - col, w);
        let t = coeff.as_ref().submatrix(0, col, w, w);
        apply_blocked(basis, t, q.as_mut().submatrix_mut(col, col, m - col, n - col), false);
    }
    (q, signs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo_random(m: usize, n: usize, seed: u64) -> Mat<f64> {
        let mut s = seed;
        Mat::from_fn(m, n, |_, _| {
            s = crate::stream::mix64(s);
            (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        })
    }

    #[test]
    fn orthonormal_and_reconstructs() {
        for (m, n) in [(1, 1), (5, 3), (70, 70), (200, 130), (300, 64), (129, 65)] {
            let a0 = pseudo_random(m, n, (m * 1000 + n) as u64);
            let mut a = a0.clone();
            let (q, signs) = thin_qr(&mut a);
            // Q^T Q = I
            let qtq = q.transpose() * &q;
            for i in 0..n {
                for j in 0..n {
                    let want = if i == j { 1.0 } else { 0.0 };
                    assert!((qtq[(i, j)] - want).abs() < 1e-13, "{m}x{n}: QtQ[{i},{j}] = {}", qtq[(i, j)]);
                }
            }
            // Q R = A with R the upper triangle left in `a`
            let r = Mat::<f64>::from_fn(n, n, |i, j| if i <= j { a[(i, j)] } else { 0.0 });
            let qr = &q * &r;
            for i in 0..m {
                for j in 0..n {
                    assert!((qr[(i, j)] - a0[(i, j)]).abs() < 1e-12, "{m}x{n}: (QR - A)[{i},{j}]");
                }
            }
            assert_eq!(signs.len(), n);
        }
    }

    #[test]
    fn same_bits_for_any_thread_count() {
        let a0 = pseudo_random(300, 200, 9);
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            pool.install(|| {
                let mut a = a0.clone();
                let (q, _) = thin_qr(&mut a);
                (0..300)
                    .flat_map(|i| (0..200).map(move |j| (i, j)))
                    .map(|(i, j)| q[(i, j)].to_bits())
                    .collect::<Vec<_>>()
            })
        };
        let one = run(1);
        assert_eq!(one, run(2));
        assert_eq!(one, run(8));
    }
}
