//! Glob matching on parameter paths: the one place this crate matches names.
//!
//! The semantics are those of varinit's spec files and of varinit-candle:
//! `*` matches any run of characters, dots included (`layers.*.weight`
//! matches `layers.12.weight`), `?` one character, `[0-9]` a class, `{a,b}`
//! alternatives, `\` escapes. Ordered rule lists (first match wins) are
//! built on top of this in [`crate::Reinit`].
//!
//! This wraps globset exactly as varinit-candle does today, so that the
//! same glob means the same thing in both integrations. When the core's
//! `varinit::rules` module exists, only [`Glob::new`] changes.

use globset::{GlobBuilder, GlobMatcher};

/// A compiled glob on a parameter path.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    text: String,
    matcher: GlobMatcher,
}

impl Glob {
    /// Compile `glob`; the error is the reason it does not parse.
    pub(crate) fn new(glob: &str) -> Result<Glob, String> {
        let matcher = GlobBuilder::new(glob)
            .literal_separator(false)
            .backslash_escape(true)
            .build()
            .map_err(|e| e.kind().to_string())?
            .compile_matcher();
        Ok(Glob { text: glob.to_string(), matcher })
    }

    /// Whether `path` matches.
    pub(crate) fn is_match(&self, path: &str) -> bool {
        self.matcher.is_match(path)
    }

    /// The glob as written.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_crosses_dots_and_alternatives_work() {
        let g = Glob::new("layers.*.weight").unwrap();
        assert!(g.is_match("layers.0.weight") && g.is_match("layers.a.b.weight"));
        assert!(!g.is_match("layers.0.bias"));
        let g = Glob::new("*.{weight,bias}").unwrap();
        assert!(g.is_match("fc.weight") && g.is_match("fc.bias") && !g.is_match("fc.gamma"));
        assert!(Glob::new("a[").unwrap_err().contains("unclosed"), "{}", Glob::new("a[").unwrap_err());
    }
}
