//! Glob matching on parameter paths: the one place this crate matches names.
//!
//! The semantics are those of varinit's spec files and of varinit-candle:
//! `*` matches any run of characters, dots included (`layers.*.weight`
//! matches `layers.12.weight`), `?` one character, `[0-9]` a class, `{a,b}`
//! alternatives, `\` escapes. Ordered rule lists (first match wins) are
//! built on top of this in [`crate::Reinit`].
//!
//! The matching itself is the core's one glob matcher, [`varinit::rules::Glob`].

/// A compiled glob on a parameter path.
#[derive(Debug, Clone)]
pub(crate) struct Glob(varinit::rules::Glob);

impl Glob {
    /// Compile `glob`; the error is the reason it does not parse.
    pub(crate) fn new(glob: &str) -> Result<Glob, String> {
        varinit::rules::Glob::new(glob).map(Glob).map_err(|e| e.to_string())
    }

    /// Whether `path` matches.
    pub(crate) fn is_match(&self, path: &str) -> bool {
        self.0.is_match(path)
    }

    /// The glob as written.
    pub(crate) fn as_str(&self) -> &str {
        self.0.as_str()
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
        assert!(Glob::new("a[").unwrap_err().contains("never closed"), "{}", Glob::new("a[").unwrap_err());
    }
}
