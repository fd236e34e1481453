//! [`TensorInit`]: one named tensor's initialization, ready to fill any
//! element range of it.

use std::sync::OnceLock;

use crate::dtype::{DType, Element};
use crate::error::{Error, Result};
use crate::kernels::{self, Par, SimdPath};
use crate::scheme::{Init, ResolveOptions, Resolved};
use crate::shape::Shape;
use crate::stream::TensorKey;
use crate::structured;

/// One tensor's initialization: a scheme resolved for a shape, keyed by
/// (seed, name).
///
/// Values are a pure function of (seed, name, scheme, shape, layout,
/// precision of the dtype): filling any element range gives exactly the
/// same bits as the same slice of a full fill, whatever the thread count.
///
/// ```
/// use varinit::{Init, Layout, Par, Shape, TensorInit};
/// let init: Init = "kaiming_normal".parse().unwrap();
/// let t = TensorInit::new(42, "fc1.weight", &init, Shape::new(vec![256, 512]).unwrap(), Layout::Torch.into()).unwrap();
/// let mut full = vec![0f32; 256 * 512];
/// t.fill(&mut full, Par::Rayon).unwrap();
/// // any slice, filled on its own, is bit-identical
/// let mut part = vec![0f32; 1000];
/// t.fill_range(12_345, &mut part, Par::Seq).unwrap();
/// assert_eq!(&full[12_345..13_345], &part[..]);
/// ```
#[derive(Debug)]
pub struct TensorInit {
    init: Init,
    name: String,
    seed: u64,
    key: TensorKey,
    shape: Shape,
    resolved: Resolved,
    cache_single: OnceLock<Vec<f64>>,
    cache_double: OnceLock<Vec<f64>>,
}

impl Clone for TensorInit {
    fn clone(&self) -> Self {
        TensorInit {
            init: self.init.clone(),
            name: self.name.clone(),
            seed: self.seed,
            key: self.key,
            shape: self.shape.clone(),
            resolved: self.resolved.clone(),
            cache_single: OnceLock::new(),
            cache_double: OnceLock::new(),
        }
    }
}

impl TensorInit {
    /// Resolve `init` for `shape` and key it by `(seed, name)`.
    pub fn new(seed: u64, name: &str, init: &Init, shape: Shape, opts: ResolveOptions) -> Result<Self> {
        let resolved = init.resolve(&shape, opts)?;
        Ok(TensorInit {
            init: init.clone(),
            name: name.to_string(),
            seed,
            key: TensorKey::new(seed, name),
            shape,
            resolved,
            cache_single: OnceLock::new(),
            cache_double: OnceLock::new(),
        })
    }

    /// The scheme as given.
    pub fn init(&self) -> &Init {
        &self.init
    }
    /// The tensor's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The stream key derived from (seed, name).
    pub fn key(&self) -> TensorKey {
        self.key
    }
    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The concrete distribution.
    pub fn resolved(&self) -> &Resolved {
        &self.resolved
    }
    /// Number of elements.
    pub fn numel(&self) -> u64 {
        self.shape.numel()
    }

    /// Fill the whole tensor; `out.len()` must equal the element count.
    pub fn fill<T: Element>(&self, out: &mut [T], par: Par) -> Result<()> {
        if out.len() as u64 != self.numel() {
            return Err(Error::Range { start: 0, end: out.len() as u64, numel: self.numel() });
        }
        self.fill_range(0, out, par)
    }

    /// A freshly allocated, filled tensor.
    pub fn to_vec<T: Element>(&self, par: Par) -> Result<Vec<T>> {
        let n = usize::try_from(self.numel())
            .map_err(|_| Error::TooLarge { scheme: self.init.name().into(), shape: self.shape.to_string() })?;
        let mut v = vec![T::default(); n];
        self.fill(&mut v, par)?;
        Ok(v)
    }

    /// Fill elements `start .. start + out.len()` (row-major order).
    ///
    /// Equal, bit for bit, to the same slice of [`TensorInit::fill`], for
    /// any `start`, length and `par`. Whole-matrix schemes (orthogonal,
    /// delta-orthogonal, sparse) compute the full tensor once, keep it in
    /// this value, and copy the range.
    pub fn fill_range<T: Element>(&self, start: u64, out: &mut [T], par: Par) -> Result<()> {
        let end = start.checked_add(out.len() as u64).filter(|&e| e <= self.numel());
        let Some(_) = end else {
            return Err(Error::Range { start, end: start.saturating_add(out.len() as u64), numel: self.numel() });
        };
        if out.is_empty() {
            return Ok(());
        }
        self.check_dtype(T::DTYPE)?;
        let r = &self.resolved;
        let key = self.key.philox();
        if r.is_elementwise() {
            if kernels::fill_random(r, key, 0, start, out, par) {
                return Ok(());
            }
            let shape = &self.shape;
            kernels::for_chunks(start, out, par, |s, o| {
                for (i, x) in o.iter_mut().enumerate() {
                    let v = structured::elementwise_value(r, shape, s + i as u64).unwrap_or(0.0);
                    *x = T::from_f64(v);
                }
            });
            return Ok(());
        }
        let precision = T::DTYPE.precision();
        let cache = match precision {
            crate::dtype::Precision::Single => &self.cache_single,
            crate::dtype::Precision::Double => &self.cache_double,
        };
        let full = match cache.get() {
            Some(v) => v,
            None => {
                let v = structured::materialize(r, &self.shape, key, precision)?;
                let _ = cache.set(v);
                cache.get().expect("just set")
            }
        };
        structured::convert(&full[start as usize..start as usize + out.len()], out);
        Ok(())
    }

    /// Refuse parameters the dtype cannot hold (as PyTorch refuses
    /// `uniform_(-1e308, 1)` on a float32 tensor): the working precision
    /// (f32 for f32/f16/bf16) must represent every parameter, uniform
    /// bounds must be finite in the output type itself, and no value may
    /// round to ±Inf or to 0 outside the support
    /// ([`crate::representable::check_representable`]). The typed fills
    /// ([`TensorInit::fill_range`], [`TensorInit::to_vec`]) run it;
    /// [`TensorInit::fill_bytes`], the raw interface of writers, leaves it
    /// to its callers (the checkpoint planner, `sample` and the safetensors
    /// writer run it before creating a file).
    pub fn check_dtype(&self, dtype: DType) -> Result<()> {
        let max = match dtype {
            DType::F64 => f64::MAX,
            DType::F32 => f64::from(f32::MAX),
            DType::F16 => 65504.0,
            DType::BF16 => half::bf16::MAX.to_f64(),
        };
        let working = if dtype == DType::F64 { f64::MAX } else { f64::from(f32::MAX) };
        let r = &self.resolved;
        let bad = |param: &str, value: f64| Error::DtypeRange {
            distribution: r.to_string(),
            param: param.into(),
            value,
            dtype: dtype.name().into(),
        };
        let params: Vec<(&str, f64, f64)> = match *r {
            Resolved::Uniform { low, high } => {
                vec![("low", low, max), ("high", high, max), ("high - low", high - low, working)]
            }
            Resolved::Normal { mean, std } => vec![("mean", mean, working), ("std", std, working)],
            Resolved::TruncNormal { mean, std, .. } => vec![("mean", mean, working), ("std", std, working)],
            Resolved::Constant { value } | Resolved::Eye { value, .. } => vec![("value", value, max)],
            Resolved::Sparse { std, .. } => vec![("std", std, working)],
            Resolved::Orthogonal { gain, .. } | Resolved::DeltaOrthogonal { gain, .. } => vec![("gain", gain, max)],
            _ => vec![],
        };
        for (name, value, limit) in params {
            if value.is_nan() || value.abs() > limit {
                return Err(bad(name, value));
            }
        }
        // and no value may round to ±Inf, or to 0 outside the support
        crate::representable::check_representable(r, dtype)
    }

    /// Fill a little-endian byte buffer with elements starting at `start`
    /// in `dtype` (`out.len()` must be a multiple of the element size).
    pub fn fill_bytes(&self, dtype: DType, start: u64, out: &mut [u8], par: Par) -> Result<()> {
        match dtype {
            DType::F32 => self.fill_bytes_as::<f32>(start, out, par),
            DType::F64 => self.fill_bytes_as::<f64>(start, out, par),
            DType::F16 => self.fill_bytes_as::<half::f16>(start, out, par),
            DType::BF16 => self.fill_bytes_as::<half::bf16>(start, out, par),
        }
    }

    fn fill_bytes_as<T: Element>(&self, start: u64, out: &mut [u8], par: Par) -> Result<()> {
        let size = T::DTYPE.size();
        if !out.len().is_multiple_of(size) {
            return Err(Error::Range { start, end: start + (out.len() / size) as u64, numel: self.numel() });
        }
        let n = out.len() / size;
        if start.checked_add(n as u64).is_none_or(|end| end > self.numel()) {
            return Err(Error::Range { start, end: start.saturating_add(n as u64), numel: self.numel() });
        }
        // Element-wise random schemes write straight into `out`, in place and
        // in parallel (native byte order is the file's little-endian order).
        if cfg!(target_endian = "little")
            && self.resolved.is_elementwise()
            && kernels::fill_random_ne(
                &self.resolved,
                self.key.philox(),
                0,
                start,
                T::DTYPE,
                out,
                par,
                SimdPath::active(),
            )
        {
            return Ok(());
        }
        // Generate in bounded pieces so the scratch space stays small.
        const PIECE: usize = 1 << 20;
        let mut tmp = vec![T::default(); n.min(PIECE)];
        for (p, bytes) in out.chunks_mut(PIECE * size).enumerate() {
            let m = bytes.len() / size;
            self.fill_range(start + (p * PIECE) as u64, &mut tmp[..m], par)?;
            for (x, b) in tmp[..m].iter().zip(bytes.chunks_exact_mut(size)) {
                x.write_le(b);
            }
        }
        Ok(())
    }
}
