//! The library's one error type.
//!
//! Every fallible function returns [`Error`]; nothing in this crate panics on
//! user input, prints, or exits. Messages are one line, name the offending
//! input and say what would be valid, so a front end can print them as they
//! are.

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
    /// A parameter with a value outside its domain.
    #[error("{scheme}: invalid {param} = {value}: {reason}")]
    InvalidParameter {
        /// Canonical scheme name (or "calculate_gain", "fans", ...).
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
    /// A numerical failure that should not happen with valid input.
    #[error("{0}")]
    Numerical(String),
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
