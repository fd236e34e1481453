//! The crate's error type.
//!
//! Nothing in this crate panics on user input: bad rules, schemes that do
//! not fit a parameter, parameters no rule covers, missing or mis-shaped
//! checkpoint tensors and unreadable files are all [`Error`]s. Where several
//! things are wrong at once (three parameters without a rule, two tensors
//! missing from a checkpoint), one error lists them all, and the model is
//! returned unchanged only through the `Err` (nothing was drawn or loaded).

use std::fmt;
use std::path::PathBuf;

pub use varinit::ErrorClass;

/// Everything that can go wrong in varinit-burn.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A glob (of a rule, or of [`in_out`](crate::Reinit::in_out) /
    /// [`transposed`](crate::Reinit::transposed)) does not parse.
    #[error("{what} ({glob:?}): invalid glob: {message}")]
    Glob {
        /// Which glob: `rule 0`, `in_out glob 1`, ...
        what: String,
        /// The glob as written.
        glob: String,
        /// Why it does not parse.
        message: String,
    },
    /// A rule's scheme does not parse or validate.
    #[error("rule {index} ({glob:?} -> {scheme:?}): {source}")]
    RuleScheme {
        /// 0-based position of the rule.
        index: usize,
        /// The rule's glob.
        glob: String,
        /// The scheme as written.
        scheme: String,
        /// varinit's message.
        source: Box<varinit::Error>,
    },
    /// A parameter's scheme cannot be resolved for its shape (Xavier on a
    /// bias, orthogonal on a vector, ...).
    #[error("parameter {path:?} {shape:?} ({origin}: {scheme}): {source}")]
    Param {
        /// The parameter's full path.
        path: String,
        /// Its shape as burn stores it.
        shape: Vec<usize>,
        /// The rule it matched.
        origin: String,
        /// The scheme.
        scheme: String,
        /// varinit's message.
        source: Box<varinit::Error>,
    },
    /// Parameters no rule matches (and unmatched parameters were not
    /// declared kept).
    #[error(
        "{} parameter{} match{} no rule: {}; add a rule for {}, a \"keep\" rule, or call keep_unmatched()",
        paths.len(), plural(paths.len()), if paths.len() == 1 { "es" } else { "" }, list(paths),
        if paths.len() == 1 { "it" } else { "them" }
    )]
    Unmatched {
        /// The paths, in the model's order.
        paths: Vec<String>,
    },
    /// Rules that match no parameter of the model (usually a typo in the
    /// glob).
    #[error("{} match{} no parameter of the model (a typo in the glob?); call allow_unused_rules() if that is intended", rules.join(", "), if rules.len() == 1 { "es" } else { "" })]
    UnusedRules {
        /// `rule N "glob"` for each.
        rules: Vec<String>,
    },
    /// A parameter declared `(in, out)` that is not 2-D.
    #[error("parameter {path:?} {shape:?} matches in_out glob {glob:?}, but only 2-D weights can be stored (in, out)")]
    NotInOut {
        /// The parameter's path.
        path: String,
        /// Its shape.
        shape: Vec<usize>,
        /// The glob it matched.
        glob: String,
    },
    /// A file or folder that cannot be read, or is not a valid safetensors
    /// checkpoint (header, offsets, index).
    #[error(transparent)]
    Io(#[from] varinit_io::IoError),
    /// The checkpoint has no tensor for a parameter.
    #[error("parameter {path:?}: the checkpoint has no tensor {key:?}{}", suggestion_text(suggestion))]
    MissingTensor {
        /// The parameter's path in the model.
        path: String,
        /// The checkpoint name it was looked up under (after the key map).
        key: String,
        /// A checkpoint name that differs only by a prefix, if there is one.
        suggestion: Option<String>,
    },
    /// A checkpoint tensor whose shape is not the parameter's.
    #[error("parameter {path:?}: tensor {key:?} in {} has shape {found:?}, the model expects {expected:?}{note}", file.display())]
    ShapeMismatch {
        /// The parameter's path in the model.
        path: String,
        /// The tensor's name in the checkpoint.
        key: String,
        /// The file holding it.
        file: PathBuf,
        /// The shape the model expects, in the file's order.
        expected: Vec<u64>,
        /// The shape in the file.
        found: Vec<u64>,
        /// How `expected` relates to burn's own shape, when they differ.
        note: String,
    },
    /// A checkpoint tensor whose dtype cannot become a float parameter.
    #[error("parameter {path:?}: tensor {key:?} in {} is {dtype}; only F32, F64, F16 and BF16 load into float parameters", file.display())]
    DType {
        /// The parameter's path in the model.
        path: String,
        /// The tensor's name in the checkpoint.
        key: String,
        /// The file holding it.
        file: PathBuf,
        /// The dtype as written in the file.
        dtype: String,
    },
    /// A checkpoint whose index and shards disagree, or that holds a tensor
    /// twice.
    #[error("{}: {message}", file.display())]
    Index {
        /// The index file (or the checkpoint folder).
        file: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Checkpoint tensors no parameter took (and unused tensors were not
    /// allowed).
    #[error(
        "{} tensor{} of the checkpoint {} no parameter of the model: {}; map their names with map_keys(), or call allow_unused()",
        keys.len(), plural(keys.len()), if keys.len() == 1 { "matches" } else { "match" }, list(keys)
    )]
    UnusedTensors {
        /// The checkpoint names, sorted.
        keys: Vec<String>,
    },
    /// burn refused a tensor (a dtype it cannot convert to, ...).
    #[error("parameter {path:?}: {message}")]
    Burn {
        /// The parameter's path.
        path: String,
        /// What burn said.
        message: String,
    },
    /// Several problems found before anything was drawn or loaded.
    #[error("{}: {} problems, nothing changed:\n  {}", context, problems.len(), problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("\n  "))]
    Several {
        /// What was being done (`re-initializing`, or the checkpoint path).
        context: String,
        /// Each problem.
        problems: Vec<Error>,
    },
}

impl Error {
    /// The error's class: the caller's mistake (rules, model, checkpoint
    /// contents) or a failure while working (an unreadable file, a tensor
    /// burn refused). Errors that wrap a core or file-side error keep its
    /// class; several problems are a usage error only when each one is.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::RuleScheme { source, .. } | Error::Param { source, .. } => source.class(),
            Error::Io(e) => e.class(),
            Error::Several { problems, .. } => {
                if problems.iter().all(Error::is_usage) {
                    ErrorClass::Usage
                } else {
                    ErrorClass::Failure
                }
            }
            Error::Burn { .. } => ErrorClass::Failure,
            Error::Glob { .. }
            | Error::Unmatched { .. }
            | Error::UnusedRules { .. }
            | Error::NotInOut { .. }
            | Error::MissingTensor { .. }
            | Error::ShapeMismatch { .. }
            | Error::DType { .. }
            | Error::Index { .. }
            | Error::UnusedTensors { .. } => ErrorClass::Usage,
        }
    }

    /// True when the error comes from the caller's input
    /// ([`ErrorClass::Usage`]); a front end exits with status 2 for these.
    pub fn is_usage(&self) -> bool {
        self.class() == ErrorClass::Usage
    }

    /// One error for a list of problems: the problem itself when there is
    /// one, [`Error::Several`] otherwise.
    pub(crate) fn from_problems(context: impl fmt::Display, mut problems: Vec<Error>) -> Option<Error> {
        match problems.len() {
            0 => None,
            1 => problems.pop(),
            _ => Some(Error::Several { context: context.to_string(), problems }),
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `a, b, c` with quotes, the first 20 then `... and N more`.
fn list(items: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut s = items.iter().take(SHOWN).map(|p| format!("{p:?}")).collect::<Vec<_>>().join(", ");
    if items.len() > SHOWN {
        s.push_str(&format!(", ... and {} more", items.len() - SHOWN));
    }
    s
}

fn suggestion_text(s: &Option<String>) -> String {
    match s {
        Some(s) => format!(" (it has {s:?}: map the names with map_keys())"),
        None => String::new(),
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_bounded_and_quoted() {
        let many: Vec<String> = (0..25).map(|i| format!("l.{i}")).collect();
        let e = Error::Unmatched { paths: many }.to_string();
        assert!(e.starts_with("25 parameters match no rule: \"l.0\""), "{e}");
        assert!(e.contains("... and 5 more"), "{e}");
        let e = Error::Unmatched { paths: vec!["a.b".into()] }.to_string();
        assert!(e.starts_with("1 parameter matches no rule: \"a.b\"; add a rule for it"), "{e}");
    }

    #[test]
    fn errors_are_classified() {
        use ErrorClass::{Failure, Usage};
        let core = || Box::new("kaiming_nromal".parse::<varinit::Init>().unwrap_err());
        let rule = Error::RuleScheme { index: 0, glob: "*".into(), scheme: "kaiming_nromal".into(), source: core() };
        assert_eq!(rule.class(), Usage);
        let param = |source| Error::Param {
            path: "a".into(),
            shape: vec![2],
            origin: "rule 0".into(),
            scheme: "s".into(),
            source,
        };
        assert_eq!(param(Box::new(varinit::Error::Internal("x".into()))).class(), Failure);
        assert_eq!(Error::Unmatched { paths: vec!["a".into()] }.class(), Usage);
        let os = || Error::Io(varinit_io::IoError::os("m.safetensors", std::io::Error::other("disk on fire")));
        assert_eq!(os().class(), Failure);
        let malformed = || Error::Io(varinit_io::IoError::Malformed { path: "m".into(), message: "bad header".into() });
        assert_eq!(malformed().class(), Usage);
        let burn = || Error::Burn { path: "a".into(), message: "no".into() };
        assert_eq!(burn().class(), Failure);
        let several = |problems| Error::Several { context: "x".into(), problems };
        assert_eq!(several(vec![malformed(), rule]).class(), Usage);
        assert_eq!(several(vec![malformed(), burn()]).class(), Failure);
        assert!(!os().is_usage() && malformed().is_usage());
    }

    #[test]
    fn one_problem_is_itself() {
        let e = Error::from_problems("x", vec![Error::Unmatched { paths: vec!["a".into()] }]).unwrap();
        assert!(matches!(e, Error::Unmatched { .. }));
        assert!(Error::from_problems("x", vec![]).is_none());
    }
}
