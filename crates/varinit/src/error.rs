//! The library's one error type.
//!
//! Every fallible function returns [`Error`]; nothing in this crate panics on
//! user input, prints, or exits. Messages are one line, name the offending
//! input and say what would be valid, so a front end can print them as they
//! are; they never name a command-line flag (the front end adds its own
//! words).
//!
//! Each error has a [`class`](Error::class): the caller's mistake
//! ([`ErrorClass::Usage`]: a bad scheme, shape, parameter, file...) or a
//! failure while working ([`ErrorClass::Failure`]: a numerical breakdown, a
//! broken internal invariant). Front ends map errors by class (the command
//! line exits with status 2 or 1, Python raises `ValueError` or
//! `RuntimeError`), never by their message.

use std::fmt;

/// Everything that can go wrong when describing, resolving or sampling an
/// initialization.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scheme string could not be parsed.
    #[error("cannot parse scheme {input:?}: {message} (at column {column})")]
    Syntax {
        /// The whole scheme string.
        input: String,
        /// 1-based column of the problem.
        column: usize,
        /// What was expected.
        message: String,
    },
    /// An unknown scheme name.
    #[error("unknown scheme {name:?}{}; run `varinit schemes` for the list", suggestion_text(.suggestion))]
    UnknownScheme {
        /// The name as written.
        name: String,
        /// The closest known name, if one is close.
        suggestion: Option<String>,
    },
    /// A parameter name the scheme does not take.
    #[error("{scheme} has no parameter {param:?}{}; it takes: {valid}", suggestion_text(.suggestion))]
    UnknownParameter {
        /// Canonical scheme name.
        scheme: String,
        /// The parameter as written.
        param: String,
        /// Closest valid parameter.
        suggestion: Option<String>,
        /// The parameters it takes, comma separated.
        valid: String,
    },
    /// A parameter given twice, or positionally and by name.
    #[error("{scheme}: parameter {param:?} given more than once")]
    DuplicateParameter {
        /// Canonical scheme name.
        scheme: String,
        /// The parameter.
        param: String,
    },
    /// A parameter the scheme needs but that was not given.
    #[error("{scheme} needs parameter {param:?}: {hint}")]
    MissingParameter {
        /// Canonical scheme name.
        scheme: String,
        /// The parameter.
        param: String,
        /// What it means.
        hint: String,
    },
    /// A scheme parameter with a value outside its domain.
    #[error("{scheme}: invalid {param} = {value}: {reason}")]
    InvalidParameter {
        /// Canonical scheme name.
        scheme: String,
        /// The parameter.
        param: String,
        /// The value as written or computed.
        value: String,
        /// What would be valid.
        reason: String,
    },
    /// PyTorch's mode check.
    #[error("Mode {mode} not supported, please use one of {valid}")]
    BadMode {
        /// The mode as written.
        mode: String,
        /// The accepted modes, formatted as a list.
        valid: String,
    },
    /// PyTorch's `calculate_gain` for a name outside its table.
    #[error("Unsupported nonlinearity {name}{}", suggestion_text(.suggestion))]
    UnsupportedNonlinearity {
        /// The name as written.
        name: String,
        /// Closest known name.
        suggestion: Option<String>,
    },
    /// A slope that is not a number (PyTorch: "negative_slope X not a valid number").
    #[error("negative_slope {value} not a valid number")]
    InvalidSlope {
        /// The value as written.
        value: String,
    },
    /// A shape the scheme or the fan computation cannot handle.
    #[error("{what}: shape {shape} is not valid: {reason}")]
    BadShape {
        /// Which computation.
        what: String,
        /// The shape, formatted like `[256, 512]`.
        shape: String,
        /// Why.
        reason: String,
    },
    /// A shape string (like `256x512`) that could not be parsed.
    #[error("cannot parse shape {input:?}: {reason}")]
    ShapeSyntax {
        /// The input.
        input: String,
        /// Why.
        reason: String,
    },
    /// The element count (or byte count) does not fit in 64 bits.
    #[error("shape {shape} has more elements than fit in 64 bits")]
    Overflow {
        /// The shape.
        shape: String,
    },
    /// An unknown dtype name.
    #[error("unknown dtype {name:?}; valid: f32, f64, f16, bf16")]
    UnknownDtype {
        /// The name as written.
        name: String,
    },
    /// An unknown layout name.
    #[error("unknown layout {name:?}; valid: torch, keras, jax")]
    UnknownLayout {
        /// The name as written.
        name: String,
    },
    /// A fill request whose buffer or range does not match the tensor.
    #[error("element range {start}..{end} does not fit a tensor of {numel} elements")]
    Range {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
        /// Elements in the tensor.
        numel: u64,
    },
    /// A structured scheme whose whole tensor would not fit in memory.
    #[error("{scheme} needs the whole {shape} matrix in memory, which does not fit in this address space")]
    TooLarge {
        /// The scheme.
        scheme: String,
        /// The shape.
        shape: String,
    },
    /// A distribution parameter that does not fit the output dtype.
    #[error("{distribution}: {param} = {value} is out of range for {dtype}")]
    DtypeRange {
        /// The resolved distribution, in words.
        distribution: String,
        /// The parameter.
        param: String,
        /// Its value.
        value: f64,
        /// The dtype.
        dtype: String,
    },
    /// A glob (of a rule) that does not parse.
    #[error("bad glob {glob:?}: {reason}")]
    BadGlob {
        /// The glob as written.
        glob: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A rule whose glob or scheme is not valid.
    #[error("rule {index} ({glob:?} -> {scheme:?}): {source}")]
    Rule {
        /// 0-based position of the rule.
        index: usize,
        /// The glob as written.
        glob: String,
        /// The scheme as written.
        scheme: String,
        /// What is wrong.
        source: Box<Error>,
    },
    /// A rule that is the first match of no tensor (almost always a typo
    /// in its glob).
    #[error("rule {index} ({glob:?}) matches no tensor")]
    RuleMatchesNothing {
        /// 0-based position of the rule.
        index: usize,
        /// The glob.
        glob: String,
    },
    /// An input longer than the documented limit.
    #[error("the {what} is {len} bytes long; at most {max} are accepted")]
    TooLong {
        /// What it is (`scheme`, `glob`, ...).
        what: String,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `varinit.*` metadata entry whose value is not valid.
    #[error("metadata {key} = {value:?} is not valid; expected {expected}")]
    BadMetadata {
        /// The key.
        key: String,
        /// The value found.
        value: String,
        /// What would be valid.
        expected: String,
    },
    /// A name in a number expression (of a style file) that is not a
    /// variable.
    #[error("unknown variable {name:?}{}", suggestion_text(.suggestion))]
    UnknownVariable {
        /// The name as written.
        name: String,
        /// 1-based column in the scheme.
        column: usize,
        /// The closest known variable.
        suggestion: Option<String>,
    },
    /// A style name that is not built in.
    #[error("unknown style {name:?}{}; run `varinit styles` for the list, or give a style file", suggestion_text(.suggestion))]
    UnknownStyle {
        /// The name as written.
        name: String,
        /// The closest built-in name.
        suggestion: Option<String>,
    },
    /// An error in a style file, at a place in it.
    #[error("{file}:{line}:{column}: {kind}")]
    Style {
        /// The file (a path, or `builtin:NAME`).
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column (in characters).
        column: usize,
        /// What is wrong.
        kind: Box<crate::style::StyleErrorKind>,
    },
    /// A parameter of an activation (leaky_relu's slope, elu's alpha, or
    /// one given to an activation that takes none) outside its domain.
    #[error("{activation}: invalid {param} = {value}: {reason}")]
    BadActivationParameter {
        /// The activation's name.
        activation: String,
        /// The parameter.
        param: String,
        /// The value as written.
        value: String,
        /// What would be valid.
        reason: String,
    },
    /// An argument of a computation that is not a scheme (the mean-field
    /// theory, a propagation simulation) outside its domain.
    #[error("{function}: invalid {param} = {value}: {reason}")]
    InvalidArgument {
        /// The computation (`mean field`, `propagate`, ...).
        function: String,
        /// The argument.
        param: String,
        /// The value as given.
        value: String,
        /// What would be valid.
        reason: String,
    },
    /// A SIMD path name that is not one of [`SimdPath`](crate::kernels::SimdPath)'s.
    #[error("unknown SIMD path {name:?}; valid: scalar, portable, avx2, avx512")]
    UnknownSimdPath {
        /// The name as written.
        name: String,
    },
    /// A SIMD path this CPU cannot run.
    #[error("this CPU cannot run the {path} SIMD path; available: {available}")]
    SimdPathUnavailable {
        /// The path asked for.
        path: String,
        /// The paths this CPU runs, comma separated.
        available: String,
    },
    /// An element-by-element fill asked for a distribution that is not drawn
    /// element by element (orthogonal, sparse, eye...).
    #[error(
        "{distribution} is not drawn element by element; expected a uniform, normal or truncated normal distribution"
    )]
    NotElementwise {
        /// The resolved distribution, in words.
        distribution: String,
    },
    /// A numerical failure that should not happen with valid input.
    #[error("{0}")]
    Numerical(String),
    /// A broken internal invariant (a bug in varinit, not in the input).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Whose problem an error is: see [`Error::class`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The caller's mistake: bad input or usage (a scheme, shape, parameter,
    /// name, file or option that is not valid). Fixing the input fixes it.
    /// The command line exits with status 2, Python raises `ValueError`.
    Usage,
    /// A failure while working on valid input: I/O, a numerical breakdown,
    /// an internal error. The command line exits with status 1, Python
    /// raises `RuntimeError` (or `OSError` for the system's I/O errors).
    Failure,
}

impl Error {
    /// The error's class: the caller's mistake or a failure while working.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Numerical(_) | Error::Internal(_) => ErrorClass::Failure,
            Error::Rule { source, .. } => source.class(),
            Error::Syntax { .. }
            | Error::UnknownScheme { .. }
            | Error::UnknownParameter { .. }
            | Error::DuplicateParameter { .. }
            | Error::MissingParameter { .. }
            | Error::InvalidParameter { .. }
            | Error::BadMode { .. }
            | Error::UnsupportedNonlinearity { .. }
            | Error::InvalidSlope { .. }
            | Error::BadShape { .. }
            | Error::ShapeSyntax { .. }
            | Error::Overflow { .. }
            | Error::UnknownDtype { .. }
            | Error::UnknownLayout { .. }
            | Error::Range { .. }
            | Error::TooLarge { .. }
            | Error::DtypeRange { .. }
            | Error::BadGlob { .. }
            | Error::RuleMatchesNothing { .. }
            | Error::TooLong { .. }
            | Error::BadMetadata { .. }
            | Error::BadActivationParameter { .. }
            | Error::InvalidArgument { .. }
            | Error::UnknownSimdPath { .. }
            | Error::SimdPathUnavailable { .. }
            | Error::NotElementwise { .. }
            | Error::UnknownVariable { .. }
            | Error::UnknownStyle { .. }
            | Error::Style { .. } => ErrorClass::Usage,
        }
    }

    /// True for the caller's mistakes ([`ErrorClass::Usage`]).
    pub fn is_usage(&self) -> bool {
        self.class() == ErrorClass::Usage
    }
}

fn suggestion_text(s: &Option<String>) -> String {
    crate::suggest::did_you_mean(s.as_deref())
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Format a shape as `[a, b, c]` for messages.
pub(crate) fn shape_text(dims: &[u64]) -> String {
    struct S<'a>(&'a [u64]);
    impl fmt::Display for S<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("[")?;
            for (i, d) in self.0.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                write!(f, "{d}")?;
            }
            f.write_str("]")
        }
    }
    S(dims).to_string()
}

pub(crate) use crate::suggest::closest;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DType, Init, Layout, Shape};

    #[test]
    fn the_callers_mistakes_are_usage_errors() {
        let errors = [
            "kaiming_nromal".parse::<Init>().unwrap_err(),
            "normal(std=-1)".parse::<Init>().unwrap_err(),
            "uniform(a=".parse::<Init>().unwrap_err(),
            "256xx".parse::<Shape>().unwrap_err(),
            "f8".parse::<DType>().unwrap_err(),
            "caffe".parse::<Layout>().unwrap_err(),
            "sse9".parse::<crate::kernels::SimdPath>().unwrap_err(),
            "relu(0.1)".parse::<crate::Activation>().unwrap_err(),
        ];
        for e in errors {
            assert_eq!(e.class(), ErrorClass::Usage, "{e:?}");
            assert!(e.is_usage());
        }
    }

    #[test]
    fn failures_while_working_are_failures() {
        let internal = Error::Internal("a broken invariant".into());
        assert_eq!(internal.class(), ErrorClass::Failure);
        assert_eq!(internal.to_string(), "internal error: a broken invariant");
        assert_eq!(Error::Numerical("no convergence".into()).class(), ErrorClass::Failure);
        // a wrapper takes the class of what it wraps
        let rule =
            |source: Error| Error::Rule { index: 0, glob: "*".into(), scheme: "x".into(), source: Box::new(source) };
        assert_eq!(rule(internal).class(), ErrorClass::Failure);
        assert_eq!(rule(Error::UnknownDtype { name: "f8".into() }).class(), ErrorClass::Usage);
    }

    #[test]
    fn simd_errors_are_typed_by_cause() {
        let e = "sse9".parse::<crate::kernels::SimdPath>().unwrap_err();
        assert!(matches!(&e, Error::UnknownSimdPath { name } if name == "sse9"), "{e:?}");
        assert_eq!(e.to_string(), "unknown SIMD path \"sse9\"; valid: scalar, portable, avx2, avx512");
    }
}
