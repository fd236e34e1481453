//! `varinit._native.Style`: init styles (`varinit::style`) for the Python
//! side. Loading, matching, expressions and checks are the core's; this
//! only converts arguments and errors.

use std::collections::HashMap;

use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;
use varinit::Init;
use varinit::style::Vars;
use varinit_io::IoError;

fn io_err(e: IoError) -> PyErr {
    match &e {
        IoError::Os { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        _ if e.is_usage() => PyValueError::new_err(e.to_string()),
        _ => PyOSError::new_err(e.to_string()),
    }
}

fn core_err(e: varinit::Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn to_vars(vars: HashMap<String, f64>) -> Vars {
    let mut names: Vec<_> = vars.into_iter().collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    let mut v = Vars::new();
    for (n, x) in names {
        v.set(&n, x);
    }
    v
}

/// One tensor styled: (scheme or None, rule index or None, line or None, kept).
type Styled = (Option<String>, Option<usize>, Option<usize>, bool);

/// An init style: ordered rules whose globs capture path segments and
/// whose schemes are expressions over the captures and the architecture's
/// variables.
#[pyclass(frozen, module = "varinit._native")]
pub struct Style {
    s: varinit::style::Style,
}

#[pymethods]
impl Style {
    /// A built-in style by name, else the style file at that path.
    #[new]
    fn new(name_or_path: &str) -> PyResult<Self> {
        if !varinit::style::Style::builtin_names().any(|n| n == name_or_path)
            && !std::path::Path::new(name_or_path).exists()
            && (name_or_path.contains('/') || name_or_path.ends_with(".style"))
        {
            return Err(PyFileNotFoundError::new_err(format!("{name_or_path}: no such style file")));
        }
        Ok(Style { s: varinit_io::style::load(name_or_path).map_err(io_err)? })
    }

    /// A style from its text (`file` names it in errors).
    #[staticmethod]
    #[pyo3(signature = (text, file="<string>"))]
    fn parse(text: &str, file: &str) -> PyResult<Self> {
        Ok(Style { s: varinit::style::Style::parse(text, file).map_err(core_err)? })
    }

    #[getter]
    fn name(&self) -> &str {
        self.s.name()
    }

    #[getter]
    fn about(&self) -> &str {
        self.s.about()
    }

    #[getter]
    fn sources(&self) -> Vec<String> {
        self.s.sources().to_vec()
    }

    /// The file it was read from (`builtin:NAME` style names for built-ins).
    #[getter]
    fn file(&self) -> &str {
        self.s.file()
    }

    /// The architecture variables the style uses.
    #[getter]
    fn variables(&self) -> Vec<&'static str> {
        self.s.variables()
    }

    /// The rules as (glob, scheme text, line).
    #[getter]
    fn rules(&self) -> Vec<(String, String, usize)> {
        self.s.rules().iter().map(|r| (r.glob().to_string(), r.scheme_text().to_string(), r.line())).collect()
    }

    /// Style `tensors`, a list of (name, default scheme or None): for
    /// each, (scheme, rule index, line, kept). A kept tensor gets its
    /// default (None when it had none).
    fn apply(&self, vars: HashMap<String, f64>, tensors: Vec<(String, Option<String>)>) -> PyResult<Vec<Styled>> {
        let vars = to_vars(vars);
        let mut defaults = Vec::with_capacity(tensors.len());
        for (name, scheme) in &tensors {
            let init = match scheme {
                Some(s) => s.parse::<Init>().map_err(|e| PyValueError::new_err(format!("{name}: {e}")))?,
                None => "zeros".parse::<Init>().map_err(core_err)?, // a placeholder: returned as None when kept
            };
            defaults.push(init);
        }
        let assigned = self
            .s
            .apply_all(&vars, tensors.iter().zip(&defaults).map(|((n, _), d)| (n.as_str(), d)))
            .map_err(core_err)?;
        Ok(assigned
            .into_iter()
            .zip(&tensors)
            .map(|(a, (_, default))| {
                let scheme = if a.kept() { default.clone() } else { Some(a.init.to_string()) };
                (scheme, a.rule, a.line, a.kept())
            })
            .collect())
    }

    fn __repr__(&self) -> String {
        format!("<varinit Style {:?} ({} rules, from {})>", self.s.name(), self.s.rules().len(), self.s.file())
    }
}

/// The built-in styles: (name, one-line description).
#[pyfunction]
fn styles() -> PyResult<Vec<(String, String)>> {
    varinit::style::Style::builtin_names()
        .map(|n| Ok((n.to_string(), varinit::style::Style::builtin(n).map_err(core_err)?.about().to_string())))
        .collect()
}

/// The style variables of a Hugging Face config given as JSON text.
#[pyfunction]
fn vars_from_hf_config(config_json: &str) -> PyResult<Vec<(String, f64)>> {
    let v: serde_json::Value =
        serde_json::from_str(config_json).map_err(|e| PyValueError::new_err(format!("config: not valid JSON: {e}")))?;
    let vars = varinit_io::style::vars_from_hf_config(&v).map_err(io_err)?;
    Ok(vars.iter().map(|(n, x)| (n.to_string(), x)).collect())
}

/// The architecture variables a style may use, with their meaning.
#[pyfunction]
fn style_variables() -> Vec<(&'static str, &'static str)> {
    varinit::style::VARIABLES.to_vec()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Style>()?;
    m.add_function(wrap_pyfunction!(styles, m)?)?;
    m.add_function(wrap_pyfunction!(vars_from_hf_config, m)?)?;
    m.add_function(wrap_pyfunction!(style_variables, m)?)?;
    Ok(())
}
