//! The crate's error type.
//!
//! candle's [`SimpleBackend`](candle_nn::var_builder::SimpleBackend) must
//! return [`candle_core::Error`]; every [`Error`] converts into one (as
//! `candle_core::Error::Wrapped`, whose message is this error's message), so
//! `?` works inside model constructors. Functions that can fail before a
//! model is built ([`VarinitBackend::rule`](crate::VarinitBackend::rule),
//! [`VarinitBackend::plan`](crate::VarinitBackend::plan),
//! [`Checkpoint::open`](crate::Checkpoint::open), ...) return [`Error`]
//! itself, so callers can match on it.

use std::path::PathBuf;

pub use varinit::ErrorClass;

/// Everything that can go wrong in varinit-candle.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule's glob does not parse.
    #[error("rule {index} ({glob:?}): invalid glob: {message}")]
    Glob {
        /// 0-based position of the rule.
        index: usize,
        /// The glob as written.
        glob: String,
        /// What is wrong with it.
        message: String,
    },
    /// A rule's scheme string does not parse or validate.
    #[error("rule {index} ({glob:?} -> {scheme:?}): {source}")]
    RuleScheme {
        /// 0-based position of the rule.
        index: usize,
        /// The glob.
        glob: String,
        /// The scheme string as written.
        scheme: String,
        /// varinit's message.
        source: Box<varinit::Error>,
    },
    /// A candle hint with parameters no distribution has.
    #[error("candle hint {hint}: {message}")]
    Hint {
        /// The hint, as candle prints it.
        hint: String,
        /// What is wrong.
        message: String,
    },
    /// A variable's scheme cannot be resolved for its shape or drawn.
    #[error("variable {path:?} {shape} ({origin}: {scheme}): {source}")]
    Variable {
        /// Full variable path.
        path: String,
        /// Its shape, like `[128, 64]`.
        shape: String,
        /// Where the scheme came from: `candle hint ...` or `rule N "glob"`.
        origin: String,
        /// The scheme.
        scheme: String,
        /// varinit's message.
        source: Box<varinit::Error>,
    },
    /// The backend's init style could not give a variable its scheme (a
    /// variable the style uses but was not given, a capture that is not
    /// an integer, a value the scheme refuses); the message names the
    /// style file, line and column.
    #[error("variable {path:?} {shape} (style {style:?}): {source}")]
    Style {
        /// Full variable path.
        path: String,
        /// Its shape, like `[128, 64]`.
        shape: String,
        /// The style's name.
        style: String,
        /// varinit's message.
        source: Box<varinit::Error>,
    },
    /// The same path asked for twice with different shapes (trainable mode).
    #[error("variable {path:?} already exists with shape {existing}, now asked for with shape {requested}")]
    ShapeConflict {
        /// Full variable path.
        path: String,
        /// The shape registered first.
        existing: String,
        /// The shape asked for now.
        requested: String,
    },
    /// A tensor without a shape was asked for (`VarBuilder::get_unchecked`)
    /// from a backend that draws values.
    #[error(
        "variable {path:?}: varinit needs a shape to draw a tensor; use `get`/`get_with_hints`, not `get_unchecked`"
    )]
    NeedsShape {
        /// Full variable path.
        path: String,
    },
    /// A checkpoint file that cannot be read (the operating system's error).
    #[error("{}: cannot read: {message}", file.display())]
    Read {
        /// The file.
        file: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// A checkpoint file that is not valid safetensors, or whose varinit
    /// metadata does not parse.
    #[error("{}: {message}", file.display())]
    Checkpoint {
        /// The file.
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A checkpoint lacks a tensor the model asks for.
    #[error("{}: no tensor {path:?}{}; the file has {count} tensor{}", file.display(), suggestion_text(suggestion), if *count == 1 { "" } else { "s" })]
    MissingTensor {
        /// The file.
        file: PathBuf,
        /// The variable path the model asked for.
        path: String,
        /// The closest name in the file, when one is close.
        suggestion: Option<String>,
        /// How many tensors the file has.
        count: usize,
    },
    /// A checkpoint tensor whose shape is not the one the model asks for.
    #[error("{}: tensor {path:?} has shape {found}, the model expects {expected}", file.display())]
    ShapeMismatch {
        /// The file.
        file: PathBuf,
        /// The variable path.
        path: String,
        /// The shape the model asked for.
        expected: String,
        /// The shape in the file.
        found: String,
    },
    /// Several problems found while loading a checkpoint into a `VarMap`
    /// (nothing was changed).
    #[error("{}: {} problem(s), no variable changed:\n  {}", file.display(), problems.len(), problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "))]
    Load {
        /// The file.
        file: PathBuf,
        /// Each problem (missing tensors, shape mismatches).
        problems: Vec<Error>,
    },
    /// An error from candle while making or converting a tensor.
    #[error("{context}: {message}")]
    Candle {
        /// What was being done.
        context: String,
        /// candle's message.
        message: String,
    },
}

fn suggestion_text(s: &Option<String>) -> String {
    varinit::suggest::did_you_mean(s.as_deref())
}

impl Error {
    /// The error's class: the caller's mistake (rules, hints, shapes, a
    /// checkpoint that does not fit the model...) or a failure while
    /// working (an unreadable file, an error of candle's). Errors that wrap
    /// a core error keep its class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::RuleScheme { source, .. } | Error::Variable { source, .. } => source.class(),
            Error::Style { source, .. } => source.class(),
            Error::Load { problems, .. } => {
                if problems.iter().all(|p| p.class() == ErrorClass::Usage) {
                    ErrorClass::Usage
                } else {
                    ErrorClass::Failure
                }
            }
            Error::Read { .. } | Error::Candle { .. } => ErrorClass::Failure,
            Error::Glob { .. }
            | Error::Hint { .. }
            | Error::ShapeConflict { .. }
            | Error::NeedsShape { .. }
            | Error::Checkpoint { .. }
            | Error::MissingTensor { .. }
            | Error::ShapeMismatch { .. } => ErrorClass::Usage,
        }
    }

    pub(crate) fn candle(context: impl Into<String>, e: candle_core::Error) -> Self {
        Error::Candle { context: context.into(), message: e.to_string() }
    }
}

impl From<Error> for candle_core::Error {
    fn from(e: Error) -> Self {
        candle_core::Error::wrap(e)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) use varinit::suggest::closest;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let names = ["layers.0.weight", "layers.0.bias", "head.weight"];
        assert_eq!(closest("layer.0.weight", names).as_deref(), Some("layers.0.weight"));
        assert_eq!(closest("head.wieght", names).as_deref(), Some("head.weight"));
        assert_eq!(closest("embeddings", names), None);
    }

    #[test]
    fn errors_are_classified() {
        use ErrorClass::{Failure, Usage};
        let core_usage = || Box::new("kaiming_nromal".parse::<varinit::Init>().unwrap_err());
        let rule =
            Error::RuleScheme { index: 0, glob: "*".into(), scheme: "kaiming_nromal".into(), source: core_usage() };
        assert_eq!(rule.class(), Usage);
        let internal = Box::new(varinit::Error::Internal("x".into()));
        let var = |source| Error::Variable {
            path: "a".into(),
            shape: "[2]".into(),
            origin: "rule 0".into(),
            scheme: "s".into(),
            source,
        };
        assert_eq!(var(internal).class(), Failure, "a wrapped core error keeps its class");
        assert_eq!(Error::NeedsShape { path: "a".into() }.class(), Usage);
        let read = Error::Read { file: "m.safetensors".into(), message: "permission denied".into() };
        assert_eq!(read.class(), Failure);
        let bad = Error::Checkpoint { file: "m.safetensors".into(), message: "not a valid safetensors file".into() };
        assert_eq!(bad.class(), Usage);
        let missing = || Error::MissingTensor { file: "m".into(), path: "a".into(), suggestion: None, count: 1 };
        assert_eq!(Error::Load { file: "m".into(), problems: vec![missing(), missing()] }.class(), Usage);
        assert_eq!(Error::Load { file: "m".into(), problems: vec![missing(), read] }.class(), Failure);
        let Err(e) = crate::Checkpoint::open("/nonexistent/m.safetensors") else { panic!("no such file") };
        assert!(matches!(e, Error::Read { .. }) && e.class() == Failure, "{e:?}");
        let Err(e) = crate::Checkpoint::from_bytes(b"not safetensors".to_vec(), "x.safetensors") else {
            panic!("bad bytes")
        };
        assert_eq!(e.class(), Usage, "{e}");
    }

    #[test]
    fn converts_into_candle_errors_with_the_same_message() {
        let e = Error::NeedsShape { path: "a.b".into() };
        let msg = e.to_string();
        let c: candle_core::Error = e.into();
        assert!(c.to_string().contains(&msg), "{c}");
    }
}
