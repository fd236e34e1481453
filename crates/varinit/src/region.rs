//! Filling a hyper-rectangular region of a tensor: what one shard of a
//! sharded tensor (a DTensor's local shard, one worker's block) holds.
//!
//! A region is given by its `offsets` into the global tensor and its own
//! `shape`, one entry per dimension: it is the set of global indices
//! `offsets[k] <= i[k] < offsets[k] + shape[k]`. Filling it gives, bit for
//! bit, the same values as the same slice of a full fill
//! ([`TensorInit::fill`]), for every scheme, dtype, thread count and split.
//!
//! **Cost.** For the element-wise schemes (uniform, normal, truncated
//! normal, the Keras/JAX families, constants, eye, dirac) the work is
//! proportional to the region's size: the region is cut into runs of
//! consecutive global elements (a run spans the last dimensions the region
//! covers whole) and each run is generated on its own. A run that starts or
//! ends inside a 64-element group (32 for f64) generates that whole group,
//! so regions whose runs are very short (say 9 columns of a 37-column
//! matrix) pay up to one extra group per run. The whole-matrix schemes
//! (orthogonal, delta-orthogonal, sparse) cannot be computed in pieces: the
//! first region filled from a [`TensorInit`] computes the full tensor (kept
//! in that value for later regions) and copies the slice, so their cost
//! and memory are those of the full tensor.

use rayon::prelude::*;

use crate::dtype::Element;
use crate::error::{Error, Result, shape_text};
use crate::kernels::{CHUNK, Par};
use crate::tensor::TensorInit;

/// The runs of consecutive global elements that make up a region.
struct Runs {
    /// Elements per run.
    len: u64,
    /// Number of runs.
    count: u64,
    /// The region's dimensions that index the runs (outer part).
    outer_shape: Vec<u64>,
    /// Global element index of each outer dimension's unit step.
    outer_gstride: Vec<u64>,
    /// Global element index of the first element of run 0.
    base: u64,
}

impl Runs {
    /// Global index of the first element of run `q`.
    fn start(&self, mut q: u64) -> u64 {
        let mut s = self.base;
        for k in (0..self.outer_shape.len()).rev() {
            let n = self.outer_shape[k];
            s += (q % n) * self.outer_gstride[k];
            q /= n;
        }
        s
    }
}

impl TensorInit {
    fn check_region(&self, offsets: &[u64], shape: &[u64]) -> Result<u64> {
        let dims = self.shape().dims();
        let bad = |reason: String| Error::BadShape { what: "region".into(), shape: shape_text(dims), reason };
        if offsets.len() != dims.len() || shape.len() != dims.len() {
            return Err(bad(format!(
                "the region needs one offset and one extent per dimension ({}), got offsets {} and shape {}",
                dims.len(),
                shape_text(offsets),
                shape_text(shape)
            )));
        }
        for k in 0..dims.len() {
            if offsets[k].checked_add(shape[k]).is_none_or(|end| end > dims[k]) {
                return Err(bad(format!(
                    "region offsets {} + shape {} leave the tensor in dimension {k}",
                    shape_text(offsets),
                    shape_text(shape)
                )));
            }
        }
        // fits: every extent is at most the tensor's, whose count fits in u64
        Ok(shape.iter().product())
    }

    fn runs(&self, offsets: &[u64], shape: &[u64]) -> Runs {
        let dims = self.shape().dims();
        let rank = dims.len();
        let mut gstride = vec![1u64; rank];
        for k in (0..rank.saturating_sub(1)).rev() {
            gstride[k] = gstride[k + 1] * dims[k + 1];
        }
        if rank == 0 {
            return Runs { len: 1, count: 1, outer_shape: vec![], outer_gstride: vec![], base: 0 };
        }
        // the smallest k such that every dimension after k is covered whole
        let mut k = rank - 1;
        while k > 0 && shape[k] == dims[k] {
            k -= 1;
        }
        let len: u64 = shape[k..].iter().product();
        let base: u64 = (0..rank).map(|j| offsets[j] * gstride[j]).sum();
        Runs {
            len,
            count: shape[..k].iter().product(),
            outer_shape: shape[..k].to_vec(),
            outer_gstride: gstride[..k].to_vec(),
            base,
        }
    }

    /// Make sure a whole-matrix scheme's tensor is computed once, before
    /// any parallel piece asks for it.
    fn warm<T: Element>(&self) -> Result<()> {
        if !self.resolved().is_elementwise() && self.numel() > 0 {
            let mut one = [T::default()];
            self.fill_range(0, &mut one, Par::Seq)?;
        }
        Ok(())
    }

    /// Fill the region `offsets .. offsets + shape` of the tensor into `out`,
    /// row-major (`out.len()` must be the region's element count).
    ///
    /// Bit-identical to the same slice of [`TensorInit::fill`], for any
    /// region, dtype and `par` (see the [module documentation](crate::region)
    /// for the cost).
    ///
    /// ```
    /// use varinit::{Init, Layout, Par, Shape, TensorInit};
    /// let init: Init = "normal(std=0.02)".parse()?;
    /// let t = TensorInit::new(0, "w", &init, Shape::new(vec![1001, 37])?, Layout::Torch.into())?;
    /// let full: Vec<f32> = t.to_vec(Par::Rayon)?;
    /// // columns 10..19 of rows 500..1001 (one shard of a Shard(1) split, say)
    /// let mut part = vec![0f32; 501 * 9];
    /// t.fill_region(&[500, 10], &[501, 9], &mut part, Par::Rayon)?;
    /// for i in 0..501 {
    ///     assert_eq!(part[i * 9..i * 9 + 9], full[(500 + i) * 37 + 10..(500 + i) * 37 + 19]);
    /// }
    /// # Ok::<(), varinit::Error>(())
    /// ```
    pub fn fill_region<T: Element>(&self, offsets: &[u64], shape: &[u64], out: &mut [T], par: Par) -> Result<()> {
        let n = self.check_region(offsets, shape)?;
        if out.len() as u64 != n {
            return Err(Error::Range { start: 0, end: out.len() as u64, numel: n });
        }
        if n == 0 {
            return Ok(());
        }
        self.check_dtype(T::DTYPE)?;
        let runs = self.runs(offsets, shape);
        if runs.count == 1 {
            return self.fill_range(runs.base, out, par);
        }
        self.warm::<T>()?;
        let len = runs.len as usize;
        if runs.len >= CHUNK || par == Par::Seq {
            // long runs: each is parallel on its own
            for (q, o) in out.chunks_mut(len).enumerate() {
                self.fill_range(runs.start(q as u64), o, par)?;
            }
            return Ok(());
        }
        // short runs: parallel over batches of about CHUNK elements
        let per_task = (CHUNK as usize / len).max(1);
        out.par_chunks_mut(len * per_task).enumerate().try_for_each(|(t, batch)| {
            for (i, o) in batch.chunks_mut(len).enumerate() {
                self.fill_range(runs.start((t * per_task + i) as u64), o, Par::Seq)?;
            }
            Ok(())
        })
    }

    /// Fill the region `offsets .. offsets + shape` into a strided buffer:
    /// region element `i` goes to `out[base + Σ i[k]·strides[k]]`
    /// (strides in elements, possibly negative or zero for extent-1
    /// dimensions).
    ///
    /// For views of arrays that are not contiguous (a transposed matrix, a
    /// slice of columns). Every addressed position must lie inside `out`
    /// and no two region elements may share one (checked: an error, not a
    /// silent overlap). Runs with unit stride are written in place; others
    /// go through a bounded scratch buffer. Bit-identical to the same slice
    /// of [`TensorInit::fill`].
    pub fn fill_region_strided<T: Element>(
        &self,
        offsets: &[u64],
        shape: &[u64],
        out: &mut [T],
        base: usize,
        strides: &[isize],
        par: Par,
    ) -> Result<()> {
        let n = self.check_region(offsets, shape)?;
        let rank = shape.len();
        let bad = |reason: String| Error::BadShape { what: "strided region".into(), shape: shape_text(shape), reason };
        if strides.len() != rank {
            return Err(bad(format!("{} strides for {rank} dimensions", strides.len())));
        }
        if n == 0 {
            return Ok(());
        }
        // bounds: the lowest and highest positions addressed
        let (mut lo, mut hi) = (base as i128, base as i128);
        for k in 0..rank {
            let reach = (shape[k] as i128 - 1) * strides[k] as i128;
            if reach < 0 {
                lo += reach;
            } else {
                hi += reach;
            }
        }
        if lo < 0 || hi >= out.len() as i128 {
            return Err(bad(format!(
                "strides {strides:?} from position {base} address positions {lo}..={hi}, outside a buffer of {} elements",
                out.len()
            )));
        }
        // no overlap: sorted by |stride|, each stride must exceed the reach of the smaller ones
        let mut order: Vec<usize> = (0..rank).filter(|&k| shape[k] > 1).collect();
        order.sort_by_key(|&k| strides[k].unsigned_abs());
        let mut reach: u128 = 0;
        for &k in &order {
            let s = strides[k].unsigned_abs() as u128;
            if s <= reach {
                return Err(bad(format!(
                    "strides {strides:?} make several elements share one position (an expanded or overlapping view)"
                )));
            }
            reach += (shape[k] as u128 - 1) * s;
        }
        self.check_dtype(T::DTYPE)?;
        // contiguous row-major: the plain region fill
        let mut contiguous = true;
        let mut expect = 1i128;
        for k in (0..rank).rev() {
            if shape[k] > 1 && strides[k] as i128 != expect {
                contiguous = false;
            }
            expect *= shape[k] as i128;
        }
        if contiguous {
            return self.fill_region(offsets, shape, &mut out[base..base + n as usize], par);
        }
        self.warm::<T>()?;
        // rows along the last dimension
        let dims = self.shape().dims();
        let last = rank - 1;
        let row = shape[last] as usize;
        let step = strides[last];
        let mut gstride = vec![1u64; rank];
        for k in (0..last).rev() {
            gstride[k] = gstride[k + 1] * dims[k + 1];
        }
        const PIECE: usize = 1 << 16;
        let mut scratch = vec![T::default(); if step == 1 { 0 } else { row.min(PIECE) }];
        let rows = n / row as u64;
        let mut idx = vec![0u64; last];
        for _ in 0..rows {
            let mut g = offsets[last];
            let mut pos = base as isize;
            for k in 0..last {
                g += (offsets[k] + idx[k]) * gstride[k];
                pos += idx[k] as isize * strides[k];
            }
            let row_par = if row as u64 >= CHUNK { par } else { Par::Seq };
            if step == 1 {
                let p = pos as usize;
                self.fill_range(g, &mut out[p..p + row], row_par)?;
            } else {
                let mut done = 0usize;
                while done < row {
                    let m = (row - done).min(PIECE);
                    self.fill_range(g + done as u64, &mut scratch[..m], row_par)?;
                    for (i, &v) in scratch[..m].iter().enumerate() {
                        out[(pos + (done + i) as isize * step) as usize] = v;
                    }
                    done += m;
                }
            }
            // next row index (row-major over the outer dimensions)
            for k in (0..last).rev() {
                idx[k] += 1;
                if idx[k] < shape[k] {
                    break;
                }
                idx[k] = 0;
            }
        }
        Ok(())
    }
}
