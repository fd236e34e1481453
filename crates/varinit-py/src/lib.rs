//! The native part of the `varinit` Python package (`varinit._native`).
//!
//! A thin layer over the `varinit` crate: every value comes from
//! [`TensorInit`]; this module only parses arguments, maps errors to Python
//! exceptions and writes into memory the Python side owns (a numpy array or
//! a torch tensor, passed as an address, a span and strides after the
//! Python side has checked them). The GIL is released while filling.
//!
//! Errors are mapped by their class ([`varinit::ErrorClass`]), never by
//! their message: a caller's mistake (bad scheme, shape, parameter,
//! region) raises `ValueError`; a failure while working (numerical,
//! internal) raises `RuntimeError`, and the operating system's I/O errors
//! `OSError`. Two refinements by variant: a distribution parameter the
//! sampler refuses (an empty uniform range, a negative std, a value the
//! dtype cannot hold) raises `varinit.DistributionError`, a `ValueError`
//! subclass that `varinit.torch` turns into the `RuntimeError` PyTorch
//! raises; a whole matrix that does not fit in memory raises `MemoryError`.

mod checkpoint;
mod style;

use pyo3::create_exception;
use pyo3::exceptions::{PyMemoryError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use varinit::dtype::{BF16, F16};
use varinit::gain::GainParam;
use varinit::{DType, Element, Error, ErrorClass, Fans, Init, Layout, Par, ResolveOptions, Shape, TensorInit};

create_exception!(
    _native,
    DistributionError,
    PyValueError,
    "A distribution parameter the sampler refuses: an empty uniform range, a negative standard deviation, a value the dtype cannot hold."
);

const SAMPLER_SCHEMES: &[&str] = &["uniform", "normal", "trunc_normal"];

/// Map the core's error to a Python exception, by class (see the module's
/// documentation for the two refinements by variant).
pub(crate) fn py_err(e: Error) -> PyErr {
    py_err_with(e, "")
}

/// [`py_err`] with the message prefixed (`"name: "`).
pub(crate) fn py_err_with(e: Error, prefix: &str) -> PyErr {
    let msg = format!("{prefix}{e}");
    match &e {
        Error::DtypeRange { .. } => DistributionError::new_err(msg),
        Error::InvalidParameter { scheme, .. } if SAMPLER_SCHEMES.contains(&scheme.as_str()) => {
            DistributionError::new_err(msg)
        }
        Error::TooLarge { .. } => PyMemoryError::new_err(msg),
        _ => match e.class() {
            ErrorClass::Usage => PyValueError::new_err(msg),
            ErrorClass::Failure => PyRuntimeError::new_err(msg),
        },
    }
}

fn parse_layout(layout: &str) -> PyResult<Layout> {
    layout.parse::<Layout>().map_err(py_err)
}

fn parse_dtype(dtype: &str) -> PyResult<DType> {
    dtype.parse::<DType>().map_err(py_err)
}

/// One tensor's initialization: a scheme resolved for a shape and keyed by
/// (seed, name). Fills any region of the tensor into memory.
#[pyclass(frozen, module = "varinit._native")]
struct Plan {
    t: TensorInit,
}

#[pymethods]
impl Plan {
    #[new]
    #[pyo3(signature = (scheme, shape, seed, name, layout="torch", transposed=false))]
    fn new(scheme: &str, shape: Vec<u64>, seed: u64, name: &str, layout: &str, transposed: bool) -> PyResult<Self> {
        let init: Init = scheme.parse().map_err(py_err)?;
        let shape = Shape::new(shape).map_err(py_err)?;
        let opts = ResolveOptions { layout: parse_layout(layout)?, transposed };
        let t = TensorInit::new(seed, name, &init, shape, opts).map_err(py_err)?;
        Ok(Plan { t })
    }

    /// The scheme in its canonical form (`kaiming_normal(a=0, mode=fan_in, ...)`).
    #[getter]
    fn scheme(&self) -> String {
        self.t.init().to_string()
    }

    /// The resolved distribution in words (`N(0, 0.0625^2)`).
    #[getter]
    fn distribution(&self) -> String {
        self.t.resolved().to_string()
    }

    /// The resolved distribution as JSON (`{"kind": "normal", "mean": 0, "std": 0.0625}`).
    #[getter]
    fn resolved_json(&self) -> PyResult<String> {
        serde_json::to_string(self.t.resolved()).map_err(|e| PyRuntimeError::new_err(e.to_string()))
    }

    /// The exact mean and standard deviation over the tensor.
    #[getter]
    fn moments(&self) -> (f64, f64) {
        self.t.resolved().expected_moments(self.t.shape())
    }

    /// True when every element is computed on its own (a region costs its
    /// size); false for whole-matrix schemes (orthogonal, sparse, ...).
    #[getter]
    fn elementwise(&self) -> bool {
        self.t.resolved().is_elementwise()
    }

    /// The distribution function of one element where the elements are
    /// identically distributed (for KS tests), else None.
    fn cdf(&self, x: f64) -> Option<f64> {
        self.t.resolved().cdf(x)
    }

    /// Check that `dtype` can hold the distribution's parameters.
    fn check_dtype(&self, dtype: &str) -> PyResult<()> {
        self.t.check_dtype(parse_dtype(dtype)?).map_err(py_err)
    }

    /// Fill the region `offsets .. offsets + local_shape` of the tensor
    /// into memory at address `ptr`: region element `i` goes to element
    /// `base + Σ i[k]·strides[k]` of a buffer of `span` elements of
    /// `dtype` (row-major contiguous when `strides` is None).
    ///
    /// # Safety contract (checked by the Python callers)
    /// `ptr` must address `span` writable, aligned elements of `dtype`
    /// that nothing else reads or writes during the call.
    #[pyo3(signature = (dtype, ptr, span, base, offsets, local_shape, strides=None))]
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &self,
        py: Python<'_>,
        dtype: &str,
        ptr: usize,
        span: usize,
        base: usize,
        offsets: Vec<u64>,
        local_shape: Vec<u64>,
        strides: Option<Vec<isize>>,
    ) -> PyResult<()> {
        let dtype = parse_dtype(dtype)?;
        self.t.check_dtype(dtype).map_err(py_err)?;
        if span > 0 && (ptr == 0 || !ptr.is_multiple_of(dtype.size())) {
            return Err(PyValueError::new_err(format!(
                "buffer address {ptr:#x} is not aligned for {} elements",
                dtype.name()
            )));
        }
        if span.checked_mul(dtype.size()).is_none_or(|b| b > isize::MAX as usize) {
            return Err(PyValueError::new_err(format!("buffer of {span} elements is too large")));
        }
        let t = &self.t;
        py.detach(|| match dtype {
            DType::F32 => fill_as::<f32>(t, ptr, span, base, &offsets, &local_shape, strides.as_deref()),
            DType::F64 => fill_as::<f64>(t, ptr, span, base, &offsets, &local_shape, strides.as_deref()),
            DType::F16 => fill_as::<F16>(t, ptr, span, base, &offsets, &local_shape, strides.as_deref()),
            DType::BF16 => fill_as::<BF16>(t, ptr, span, base, &offsets, &local_shape, strides.as_deref()),
        })
        .map_err(py_err)
    }
}

fn fill_as<T: Element>(
    t: &TensorInit,
    ptr: usize,
    span: usize,
    base: usize,
    offsets: &[u64],
    local_shape: &[u64],
    strides: Option<&[isize]>,
) -> varinit::Result<()> {
    let out: &mut [T] = if span == 0 {
        &mut []
    } else {
        // SAFETY: the caller guarantees `span` writable, aligned, exclusive
        // elements at `ptr` (checked non-null and aligned above); f32, f64,
        // f16 and bf16 have no invalid bit patterns.
        unsafe { std::slice::from_raw_parts_mut(ptr as *mut T, span) }
    };
    match strides {
        None => {
            let n: u64 = local_shape.iter().product();
            let end = usize::try_from(n).ok().and_then(|n| base.checked_add(n)).filter(|&e| e <= out.len());
            let Some(end) = end else {
                return Err(Error::Range { start: base as u64, end: base as u64 + n, numel: out.len() as u64 });
            };
            t.fill_region(offsets, local_shape, &mut out[base..end], Par::Rayon)
        }
        Some(s) => t.fill_region_strided(offsets, local_shape, out, base, s, Par::Rayon),
    }
}

/// `(fan_in, fan_out, receptive_field)` of a weight shape.
#[pyfunction]
#[pyo3(signature = (shape, layout="torch", transposed=false))]
fn fans(shape: Vec<u64>, layout: &str, transposed: bool) -> PyResult<(u64, u64, u64)> {
    let shape = Shape::new(shape).map_err(py_err)?;
    let f = Fans::of(&shape, parse_layout(layout)?, transposed).map_err(py_err)?;
    Ok((f.fan_in, f.fan_out, f.receptive_field))
}

/// PyTorch's `calculate_gain`: `param` is a number, or the text of anything
/// else (which `leaky_relu` refuses as PyTorch does).
#[pyfunction]
#[pyo3(signature = (nonlinearity, number=None, text=None))]
fn calculate_gain(nonlinearity: &str, number: Option<f64>, text: Option<String>) -> PyResult<f64> {
    let param = match (number, text) {
        (Some(x), _) => Some(GainParam::Number(x)),
        (None, Some(s)) => Some(GainParam::Other(s)),
        (None, None) => None,
    };
    varinit::calculate_gain(nonlinearity, param.as_ref()).map_err(py_err)
}

/// The canonical form of a scheme string (raises on a bad scheme).
#[pyfunction]
fn parse_scheme(scheme: &str) -> PyResult<String> {
    let init: Init = scheme.parse().map_err(py_err)?;
    Ok(init.to_string())
}

/// An ordered list of `(glob, scheme)` rules: the first glob matching a
/// name wins. Globs are the core's (`varinit::rules::Glob`: `*` also
/// crossing dots, `{a,b}` alternatives), as in spec files, so a rule means
/// the same here, in a spec file and in every other integration.
#[pyclass(frozen, module = "varinit._native")]
struct RuleSet {
    matchers: Vec<varinit::rules::Glob>,
}

#[pymethods]
impl RuleSet {
    #[new]
    fn new(rules: Vec<(String, String)>) -> PyResult<Self> {
        let mut matchers = Vec::with_capacity(rules.len());
        for (i, (glob, scheme)) in rules.iter().enumerate() {
            let g = varinit::rules::Glob::new(glob)
                .map_err(|e| py_err_with(e, &format!("rule {i} ({glob:?} -> {scheme:?}): ")))?;
            let init: Result<Init, _> = scheme.parse();
            if let Err(e) = init {
                return Err(py_err_with(e, &format!("rule {i} ({glob:?} -> {scheme:?}): ")));
            }
            matchers.push(g);
        }
        Ok(RuleSet { matchers })
    }

    /// Index of the first rule whose glob matches `name`, or None.
    fn first_match(&self, name: &str) -> Option<usize> {
        self.matchers.iter().position(|m| m.is_match(name))
    }
}

/// Rules, schemes by exact name, and the seed of a spec file.
type SpecRules = (Vec<(String, String)>, std::collections::HashMap<String, String>, Option<u64>);

/// Read a varinit spec file for `init_module_`: `(rules, schemes, seed)`.
///
/// A full spec (with `[[tensor]]` entries) is read by varinit-io's spec
/// reader, with all its checks; its tensors give schemes by exact name
/// (their `[[rule]]`s already applied). A file with only `seed` and
/// `[[rule]]` entries gives an ordered rule list.
#[pyfunction]
fn load_spec(path: &str) -> PyResult<SpecRules> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let msg = format!("{path}: {e}");
        match e.kind() {
            std::io::ErrorKind::NotFound => pyo3::exceptions::PyFileNotFoundError::new_err(msg),
            _ => pyo3::exceptions::PyOSError::new_err(msg),
        }
    })?;
    let table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| PyValueError::new_err(format!("{path}: {}", e.message().trim())))?;
    if table.contains_key("tensor") {
        let spec = varinit_io::spec::parse(&text, path).map_err(checkpoint::io_err)?;
        if spec.layout != Layout::Torch {
            return Err(PyValueError::new_err(format!(
                "{path}: layout {} — PyTorch modules use the torch layout (out, in, *kernel)",
                spec.layout.name()
            )));
        }
        let schemes = spec.tensors.iter().map(|t| (t.name.clone(), t.init.to_string())).collect();
        return Ok((Vec::new(), schemes, Some(spec.seed)));
    }
    let mut seed = None;
    let mut rules = Vec::new();
    for (key, value) in &table {
        match (key.as_str(), value) {
            ("seed", toml::Value::Integer(s)) if *s >= 0 => seed = Some(*s as u64),
            ("rule", toml::Value::Array(items)) => {
                for (i, item) in items.iter().enumerate() {
                    let get = |k: &str| item.get(k).and_then(|v| v.as_str()).map(str::to_string);
                    let (Some(glob), Some(init)) = (get("match"), get("init")) else {
                        return Err(PyValueError::new_err(format!(
                            "{path}: rule {i} needs match = \"GLOB\" and init = \"SCHEME\""
                        )));
                    };
                    if let Some(t) = item.as_table()
                        && let Some(k) = t.keys().find(|k| *k != "match" && *k != "init")
                    {
                        return Err(PyValueError::new_err(format!("{path}: rule {i}: unknown key {k:?}")));
                    }
                    rules.push((glob, init));
                }
            }
            ("layout", toml::Value::String(l)) if l == "torch" => {}
            ("dtype", toml::Value::String(_)) => {}
            _ => {
                return Err(PyValueError::new_err(format!(
                    "{path}: unexpected key {key:?} (a rules file has seed and [[rule]] entries with match and init)"
                )));
            }
        }
    }
    if rules.is_empty() {
        return Err(PyValueError::new_err(format!("{path}: no [[tensor]] and no [[rule]] entries")));
    }
    Ok((rules, std::collections::HashMap::new(), seed))
}

/// The core's dtype table: `(name, torch/numpy name, bytes, aliases)` per
/// dtype ([`DType::ALIASES`]), so the Python side keeps no copy of it.
#[pyfunction]
fn dtypes() -> Vec<(&'static str, &'static str, usize, Vec<&'static str>)> {
    DType::ALL
        .into_iter()
        .map(|d| {
            let aliases = DType::ALIASES.iter().filter(|(_, a)| *a == d).map(|(n, _)| *n).collect();
            (d.name(), d.torch_name(), d.size(), aliases)
        })
        .collect()
}

/// The stream format version and the crate version.
#[pyfunction]
fn versions() -> (u32, &'static str) {
    (varinit::STREAM_VERSION, varinit::VERSION)
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Plan>()?;
    m.add_class::<RuleSet>()?;
    m.add_function(wrap_pyfunction!(load_spec, m)?)?;
    m.add_function(wrap_pyfunction!(fans, m)?)?;
    m.add_function(wrap_pyfunction!(calculate_gain, m)?)?;
    m.add_function(wrap_pyfunction!(parse_scheme, m)?)?;
    m.add_function(wrap_pyfunction!(versions, m)?)?;
    m.add_function(wrap_pyfunction!(dtypes, m)?)?;
    m.add("DistributionError", m.py().get_type::<DistributionError>())?;
    checkpoint::register(m)?;
    style::register(m)?;
    Ok(())
}
