//! Schemes with structure across elements: eye, dirac (computed per
//! element), and orthogonal, delta-orthogonal and sparse (computed for the
//! whole matrix).
//!
//! The Gaussian draws follow the stream contract (draw 0 of the tensor's
//! key, in the tensor's row-major element order). The QR factorisation
//! ([`crate::kernels::qr`]) runs in the working precision (f32 for f32,
//! f16 and bf16 tensors, as PyTorch factors in the tensor's dtype; f64 for
//! f64 tensors), in parallel only over fixed blocks of independent columns,
//! so its result does not depend on the thread count; the result is kept in
//! f64 and rounded once to the output type.

use faer::Mat;

use crate::dtype::{Element, Precision};
use crate::error::{Error, Result};
use crate::kernels::qr::QrFloat;
use crate::kernels::{self, Par};
use crate::scheme::Resolved;
use crate::shape::Shape;

/// Value of element `e` of an identity-like scheme (eye, dirac, constant).
#[inline]
pub(crate) fn elementwise_value(r: &Resolved, shape: &Shape, e: u64) -> Option<f64> {
    Some(match *r {
        Resolved::Constant { value } => value,
        Resolved::Eye { cols, value, .. } => {
            let (i, j) = (e / cols, e % cols);
            if i == j { value } else { 0.0 }
        }
        Resolved::Dirac { groups, layout } => {
            let d = shape.dims();
            let rank = d.len();
            // unravel e (row-major)
            let mut idx = [0u64; 5];
            let mut rem = e;
            for k in (0..rank).rev() {
                idx[k] = rem % d[k];
                rem /= d[k];
            }
            let (o, i, spatial, kdims) = if layout.out_last() {
                (idx[rank - 1], idx[rank - 2], &idx[..rank - 2], &d[..rank - 2])
            } else {
                (idx[0], idx[1], &idx[2..rank], &d[2..])
            };
            let out = if layout.out_last() { d[rank - 1] } else { d[0] };
            let inp = if layout.out_last() { d[rank - 2] } else { d[1] };
            let per_group = out / groups;
            let centred = spatial.iter().zip(kdims).all(|(&x, &k)| x == k / 2);
            let dd = o % per_group;
            if centred && i == dd && dd < inp.min(per_group) { 1.0 } else { 0.0 }
        }
        _ => return None,
    })
}

/// A zeroed vector of `len` elements, or [`Error::TooLarge`] instead of an
/// allocation failure (which would abort the process).
fn zeroed<T: Clone + Default>(len: u64, scheme: &str, shape: &str) -> Result<Vec<T>> {
    let too_large = || Error::TooLarge { scheme: scheme.into(), shape: shape.into() };
    let n = usize::try_from(len).map_err(|_| too_large())?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| too_large())?;
    v.resize(n, T::default());
    Ok(v)
}

/// The draws of `r`'s element-wise part for the first `len` elements of the
/// tensor's stream, widened to f64, in the precision of the output type.
fn draws(r: &Resolved, key: [u32; 2], len: u64, precision: Precision, scheme: &str, shape: &str) -> Result<Vec<f64>> {
    Ok(match precision {
        Precision::Single => {
            let mut v = zeroed::<f32>(len, scheme, shape)?;
            kernels::fill_random(r, key, 0, 0, &mut v, Par::Rayon);
            let mut w = zeroed::<f64>(len, scheme, shape)?;
            for (o, x) in w.iter_mut().zip(v) {
                *o = f64::from(x);
            }
            w
        }
        Precision::Double => {
            let mut v = zeroed::<f64>(len, scheme, shape)?;
            kernels::fill_random(r, key, 0, 0, &mut v, Par::Rayon);
            v
        }
    })
}

/// `gain` times the orthogonal factor of the QR decomposition of a
/// `rows x cols` Gaussian matrix (taken row-major from the stream), with
/// PyTorch's procedure: transpose a wide matrix, factor, multiply each
/// column of Q by the sign of R's diagonal (so the result is Haar
/// distributed), transpose back. The QR runs in the working precision, as
/// PyTorch factors in the tensor's dtype. Row-major output.
pub(crate) fn orthogonal(key: [u32; 2], rows: u64, cols: u64, gain: f64, precision: Precision) -> Result<Vec<f64>> {
    match precision {
        Precision::Single => orthogonal_in::<f32>(key, rows, cols, gain),
        Precision::Double => orthogonal_in::<f64>(key, rows, cols, gain),
    }
}

fn orthogonal_in<T: QrFloat + Element>(key: [u32; 2], rows: u64, cols: u64, gain: f64) -> Result<Vec<f64>> {
    let shape = format!("[{rows}, {cols}]");
    let too_large = || Error::TooLarge { scheme: "orthogonal".into(), shape: shape.clone() };
    let len = rows.checked_mul(cols).ok_or_else(too_large)?;
    // the draws, the matrix being factored, Q and the output must fit: check before starting
    drop(zeroed::<f64>(len.checked_mul(3).ok_or_else(too_large)?, "orthogonal", &shape)?);
    let mut draws = zeroed::<T>(len, "orthogonal", &shape)?;
    kernels::fill_random(&Resolved::Normal { mean: 0.0, std: 1.0 }, key, 0, 0, &mut draws, Par::Rayon);
    let (r, c) = (rows as usize, cols as usize);
    let wide = r < c;
    let (m, n) = if wide { (c, r) } else { (r, c) };
    // the tall m x n matrix to factor
    let mut a = Mat::<T>::from_fn(m, n, |i, j| if wide { draws[j * c + i] } else { draws[i * c + j] });
    drop(draws);
    // parallel over fixed column blocks only: same bits for any thread count
    let (q, signs) = kernels::qr::thin_qr(&mut a);
    let mut out = vec![0f64; r * c];
    for i in 0..r {
        for j in 0..c {
            let v = if wide { q[(j, i)] * signs[i] } else { q[(i, j)] * signs[j] };
            out[i * c + j] = gain * v.to_f64();
        }
    }
    Ok(out)
}

/// The whole tensor of a structured scheme (orthogonal, delta-orthogonal,
/// sparse), row-major, in f64 (values already rounded to the working
/// precision where the scheme draws in single precision).
pub(crate) fn materialize(r: &Resolved, shape: &Shape, key: [u32; 2], precision: Precision) -> Result<Vec<f64>> {
    match *r {
        Resolved::Orthogonal { rows, cols, gain } => orthogonal(key, rows, cols, gain, precision),
        Resolved::DeltaOrthogonal { channels_in, channels_out, gain, layout } => {
            let core = orthogonal(key, channels_in, channels_out, gain, precision)?; // in x out, orthonormal rows
            let mut out = zeroed::<f64>(shape.numel(), "delta_orthogonal", &shape.to_string())?;
            let d = shape.dims();
            let rank = d.len();
            let (cin, cout) = (channels_in as usize, channels_out as usize);
            // the centre of the spatial dimensions, and its position in the row-major order
            if layout.out_last() {
                // (*k, in, out): the centre is one in x out slice
                let mut centre = 0u64;
                for &k in &d[..rank - 2] {
                    centre = centre * k + k / 2;
                }
                let base = centre as usize * cin * cout;
                out[base..base + cin * cout].copy_from_slice(&core);
            } else {
                // (out, in, *k): element (o, i, centre) = core[i][o]
                let ksize: u64 = d[2..].iter().product();
                let mut centre = 0u64;
                for &k in &d[2..] {
                    centre = centre * k + k / 2;
                }
                for o in 0..cout {
                    for i in 0..cin {
                        out[(o * cin + i) * ksize as usize + centre as usize] = core[i * cout + o];
                    }
                }
            }
            Ok(out)
        }
        Resolved::Sparse { rows, cols, zeros_per_column, .. } => {
            let mut out = draws(r, key, shape.numel(), precision, "sparse", &shape.to_string())?;
            // In every column, zero the rows with the smallest mask words
            // (draw 1), ties broken by row index: a uniformly random subset
            // of exactly `zeros_per_column` rows, as PyTorch's randperm.
            let k = zeros_per_column as usize;
            if k > 0 {
                let mut keyed: Vec<(u32, u64)> = Vec::with_capacity(rows as usize);
                for j in 0..cols {
                    keyed.clear();
                    keyed.extend((0..rows).map(|i| (kernels::element_word(key, 1, i * cols + j), i)));
                    if k < keyed.len() {
                        keyed.select_nth_unstable(k - 1);
                    }
                    for &(_, i) in &keyed[..k] {
                        out[(i * cols + j) as usize] = 0.0;
                    }
                }
            }
            Ok(out)
        }
        _ => Err(Error::Internal(format!("{r} is not a structured scheme"))),
    }
}

/// Convert a materialised f64 tensor to the output type: from the working
/// precision (f32 for f32/f16/bf16) with one rounding each.
pub(crate) fn convert<T: Element>(src: &[f64], out: &mut [T]) {
    match T::DTYPE.precision() {
        Precision::Single => {
            for (o, &x) in out.iter_mut().zip(src) {
                *o = T::from_f32(x as f32);
            }
        }
        Precision::Double => {
            for (o, &x) in out.iter_mut().zip(src) {
                *o = T::from_f64(x);
            }
        }
    }
}
