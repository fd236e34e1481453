//! Ordered rules that map tensor names to schemes: `(glob, scheme)` pairs,
//! tried in order, the first match wins.
//!
//! This is the one glob matcher of the project: spec files, the candle
//! backend and every later integration use it.
//!
//! # Globs
//!
//! | syntax | matches |
//! |---|---|
//! | `*` (also `**`) | any run of characters, **dots included** (`layers.*.weight` matches `layers.3.mlp.weight`) |
//! | `?` | one character |
//! | `[abc]`, `[a-z]`, `[!a-z]` or `[^a-z]` | one character of (or not of) the class |
//! | `{a,b,c}` | one of the alternatives, each a glob itself (nesting allowed) |
//! | `{name}` | a capture: one or more characters other than `.` (`model.layers.{l}.mlp.weight`) |
//! | `\x` | the character `x` literally |
//!
//! Everything else matches itself; matching is case-sensitive and covers
//! the whole name. A brace group without a comma is a capture: its name is
//! an identifier, used once per glob, and not inside an alternative.
//! [`Glob::captures`] returns what each capture matched; when a name can
//! match in several ways, stars take as few characters as they can and
//! each capture then as many, so captures are read from the left
//! (`*.{l}.mlp.weight` on `model.layers.3.mlp.weight` gives `l = 3`).
//!
//! Written by hand rather than with `globset`: the core crate must stay
//! small for the integrations (globset pulls in `regex-automata` and
//! `aho-corasick`), names are short, and the matcher must run in time
//! linear in the name for any pattern (an NFA simulation, no
//! backtracking), with bounded work for hostile patterns.
//!
//! ```
//! use varinit::rules::{Rules, RuleScheme};
//! let mut rules = Rules::new();
//! rules.push("*.bias", "zeros")?;
//! rules.push("layers.{0,1}.*.weight", "orthogonal")?;
//! rules.push("*.weight", "kaiming_normal(nonlinearity=relu)")?;
//! let (index, rule) = rules.find("layers.1.attn.weight").unwrap();
//! assert_eq!(index, 1);
//! assert!(matches!(rule.scheme(), RuleScheme::Init(i) if i.name() == "orthogonal"));
//! assert_eq!(rules.find("head.weight").unwrap().0, 2);
//! assert!(rules.find("norm").is_none());
//! # Ok::<(), varinit::Error>(())
//! ```

use std::fmt;

use crate::error::{Error, Result};
use crate::scheme::Init;

/// Longest glob accepted, in bytes.
pub const MAX_GLOB_LEN: usize = 4096;
/// Most alternatives a glob may expand to (the product of its brace
/// groups' sizes).
pub const MAX_GLOB_ALTERNATIVES: usize = 1024;

/// The scheme a rule names for a framework integration: `"hint"` means
/// "what the framework's layer asked for".
pub const HINT: &str = "hint";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Char(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// The first character of a capture (not a dot); `.0` is its index.
    CaptureStart(usize),
    /// The rest of a capture: any run of characters other than a dot.
    CaptureRest,
}

impl Tok {
    fn accepts(&self, c: char) -> bool {
        match self {
            Tok::Char(x) => *x == c,
            Tok::Any | Tok::Star => true,
            Tok::Class { negated, ranges } => ranges.iter().any(|&(a, b)| a <= c && c <= b) != *negated,
            Tok::CaptureStart(_) | Tok::CaptureRest => c != '.',
        }
    }
    /// Matches any number of characters (stays in place on a match).
    fn repeats(&self) -> bool {
        matches!(self, Tok::Star | Tok::CaptureRest)
    }
}

/// A compiled glob (see the [module docs](self) for the syntax).
#[derive(Clone)]
pub struct Glob {
    text: String,
    /// The glob with its brace groups expanded: it matches when one of
    /// these flat token sequences does.
    alternatives: Vec<Vec<Tok>>,
    /// The capture names, in order.
    captures: Vec<String>,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Glob {
    type Err = Error;
    fn from_str(s: &str) -> Result<Glob> {
        Glob::new(s)
    }
}

fn bad(glob: &str, reason: impl Into<String>) -> Error {
    Error::BadGlob { glob: glob.to_string(), reason: reason.into() }
}

/// Parser state: the characters and the position.
struct Parser<'a> {
    glob: &'a str,
    chars: Vec<char>,
    pos: usize,
    captures: Vec<String>,
}

impl Parser<'_> {
    /// A sequence up to the end, or (inside braces) to `,` or `}`; returns
    /// the expanded alternatives.
    fn sequence(&mut self, depth: usize) -> Result<Vec<Vec<Tok>>> {
        let mut alts: Vec<Vec<Tok>> = vec![Vec::new()];
        while let Some(&c) = self.chars.get(self.pos) {
            if depth > 0 && (c == ',' || c == '}') {
                break;
            }
            self.pos += 1;
            let piece: Vec<Vec<Tok>> = match c {
                '*' => {
                    while self.chars.get(self.pos) == Some(&'*') {
                        self.pos += 1;
                    }
                    vec![vec![Tok::Star]]
                }
                '?' => vec![vec![Tok::Any]],
                '\\' => {
                    let Some(&x) = self.chars.get(self.pos) else {
                        return Err(bad(self.glob, "it ends with an unfinished escape '\\'"));
                    };
                    self.pos += 1;
                    vec![vec![Tok::Char(x)]]
                }
                '[' => vec![vec![self.class()?]],
                '{' => self.braces(depth)?,
                '}' => return Err(bad(self.glob, "'}' without an opening '{'")),
                ']' => return Err(bad(self.glob, "']' without an opening '['")),
                c => vec![vec![Tok::Char(c)]],
            };
            if piece.len() == 1 {
                for a in &mut alts {
                    a.extend(piece[0].iter().cloned());
                }
            } else {
                if alts.len() * piece.len() > MAX_GLOB_ALTERNATIVES {
                    return Err(bad(
                        self.glob,
                        format!("its brace groups expand to more than {MAX_GLOB_ALTERNATIVES} alternatives"),
                    ));
                }
                alts = alts
                    .iter()
                    .flat_map(|a| {
                        piece.iter().map(move |p| {
                            let mut v = a.clone();
                            v.extend(p.iter().cloned());
                            v
                        })
                    })
                    .collect();
            }
        }
        Ok(alts)
    }

    /// `{a,b,...}`, after the `{`.
    fn braces(&mut self, depth: usize) -> Result<Vec<Vec<Tok>>> {
        let open = self.pos - 1;
        let mut out = Vec::new();
        let mut commas = 0;
        loop {
            let alts = self.sequence(depth + 1)?;
            if out.len() + alts.len() > MAX_GLOB_ALTERNATIVES {
                return Err(bad(
                    self.glob,
                    format!("its brace groups expand to more than {MAX_GLOB_ALTERNATIVES} alternatives"),
                ));
            }
            out.extend(alts);
            match self.chars.get(self.pos) {
                Some(',') => {
                    commas += 1;
                    self.pos += 1;
                }
                Some('}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(bad(self.glob, format!("the '{{' at character {} is never closed", open + 1))),
            }
        }
        if commas == 0 {
            let inner: String = self.chars[open + 1..self.pos - 1].iter().collect();
            let identifier = inner.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && inner.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !identifier {
                return Err(bad(
                    self.glob,
                    format!(
                        "{{{inner}}} has no ',': a brace group lists alternatives ({{a,b}}), \
                         or names a capture ({{l}}, an identifier)"
                    ),
                ));
            }
            if depth > 0 {
                return Err(bad(self.glob, format!("the capture {{{inner}}} is inside a brace group")));
            }
            if self.captures.contains(&inner) {
                return Err(bad(self.glob, format!("the capture {{{inner}}} appears twice")));
            }
            self.captures.push(inner);
            return Ok(vec![vec![Tok::CaptureStart(self.captures.len() - 1), Tok::CaptureRest]]);
        }
        Ok(out)
    }

    /// `[...]`, after the `[`.
    fn class(&mut self) -> Result<Tok> {
        let open = self.pos - 1;
        let mut negated = false;
        if matches!(self.chars.get(self.pos), Some('!' | '^')) {
            negated = true;
            self.pos += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let Some(&c) = self.chars.get(self.pos) else {
                return Err(bad(self.glob, format!("the '[' at character {} is never closed", open + 1)));
            };
            self.pos += 1;
            if c == ']' && !first {
                break;
            }
            first = false;
            let c = if c == '\\' {
                let Some(&x) = self.chars.get(self.pos) else {
                    return Err(bad(self.glob, "it ends with an unfinished escape '\\'"));
                };
                self.pos += 1;
                x
            } else {
                c
            };
            if self.chars.get(self.pos) == Some(&'-') && self.chars.get(self.pos + 1).is_some_and(|&x| x != ']') {
                let hi = self.chars[self.pos + 1];
                self.pos += 2;
                if hi < c {
                    return Err(bad(self.glob, format!("the range {c}-{hi} is reversed")));
                }
                ranges.push((c, hi));
            } else {
                ranges.push((c, c));
            }
        }
        Ok(Tok::Class { negated, ranges })
    }
}

impl Glob {
    /// Compile a glob; errors say what is wrong with it.
    pub fn new(glob: &str) -> Result<Glob> {
        if glob.is_empty() {
            return Err(bad(glob, "it is empty"));
        }
        if glob.len() > MAX_GLOB_LEN {
            return Err(Error::TooLong { what: "glob".into(), len: glob.len(), max: MAX_GLOB_LEN });
        }
        let mut p = Parser { glob, chars: glob.chars().collect(), pos: 0, captures: Vec::new() };
        let alternatives = p.sequence(0)?;
        Ok(Glob { text: glob.to_string(), alternatives, captures: p.captures })
    }

    /// The names of the captures (`{l}`), in order.
    pub fn capture_names(&self) -> &[String] {
        &self.captures
    }

    /// What each capture matched (in the order of [`Glob::capture_names`]),
    /// or `None` when `name` does not match. The first alternative that
    /// matches decides; within it, stars take as few characters as they
    /// can and captures as many. Time and memory O(len(name) x
    /// len(glob)) for a glob with captures.
    pub fn captures<'n>(&self, name: &'n str) -> Option<Vec<&'n str>> {
        if self.captures.is_empty() {
            return self.is_match(name).then(Vec::new);
        }
        self.alternatives.iter().find_map(|toks| capture_flat(toks, name, self.captures.len()))
    }

    /// The glob as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the whole of `name` matches. Time O(len(name) x len(glob)),
    /// memory O(len(glob)).
    pub fn is_match(&self, name: &str) -> bool {
        self.alternatives.iter().any(|toks| match_flat(toks, name))
    }
}

/// NFA simulation over the flat token list: `states[i]` is true when the
/// first `i` tokens can match the text read so far.
fn match_flat(toks: &[Tok], text: &str) -> bool {
    let n = toks.len();
    let mut cur = vec![false; n + 1];
    let mut next = vec![false; n + 1];
    cur[0] = true;
    close(toks, &mut cur);
    for c in text.chars() {
        next.iter_mut().for_each(|x| *x = false);
        let mut any = false;
        for i in 0..n {
            if cur[i] && toks[i].accepts(c) {
                // a star stays where it is, every other token moves on
                let to = if toks[i].repeats() { i } else { i + 1 };
                next[to] = true;
                any = true;
            }
        }
        if !any {
            return false;
        }
        close(toks, &mut next);
        std::mem::swap(&mut cur, &mut next);
    }
    cur[n]
}

/// Epsilon closure: a star may match nothing.
fn close(toks: &[Tok], states: &mut [bool]) {
    for i in 0..toks.len() {
        if states[i] && toks[i].repeats() {
            states[i + 1] = true;
        }
    }
}

/// The captures of one flat alternative: a table of which suffixes of the
/// tokens match which suffixes of the text, then one walk from the left
/// choosing, at each star, the shortest run and, at each capture, the
/// longest that still lets the rest match.
fn capture_flat<'n>(toks: &[Tok], text: &'n str, count: usize) -> Option<Vec<&'n str>> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let (n, m) = (toks.len(), chars.len());
    let at = |i: usize, j: usize| i * (m + 1) + j;
    // can[i][j]: toks[i..] matches chars[j..]
    let mut can = vec![false; (n + 1) * (m + 1)];
    can[at(n, m)] = true;
    for i in (0..n).rev() {
        for j in (0..=m).rev() {
            let here = j < m && toks[i].accepts(chars[j].1);
            can[at(i, j)] = if toks[i].repeats() {
                can[at(i + 1, j)] || (here && can[at(i, j + 1)])
            } else {
                here && can[at(i + 1, j + 1)]
            };
        }
    }
    if !can[at(0, 0)] {
        return None;
    }
    let byte = |j: usize| chars.get(j).map_or(text.len(), |c| c.0);
    let mut out = vec![""; count];
    let (mut i, mut j) = (0, 0);
    while i < n {
        match toks[i] {
            Tok::Star => {
                if can[at(i + 1, j)] {
                    i += 1;
                } else {
                    j += 1;
                }
            }
            Tok::CaptureStart(k) => {
                // the longest dot-free run after which the rest matches
                let mut end = j + 1;
                let mut best = None;
                while end <= m && chars[end - 1].1 != '.' {
                    if can[at(i + 2, end)] {
                        best = Some(end);
                    }
                    end += 1;
                }
                let end = best?;
                out[k] = &text[byte(j)..byte(end)];
                j = end;
                i += 2;
            }
            _ => {
                i += 1;
                j += 1;
            }
        }
    }
    Some(out)
}

/// What a rule assigns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RuleScheme {
    /// A scheme.
    Init(Init),
    /// [`HINT`]: what the framework's layer asked for (only front ends
    /// with such hints accept it).
    Hint,
}

impl fmt::Display for RuleScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleScheme::Init(i) => i.fmt(f),
            RuleScheme::Hint => f.write_str(HINT),
        }
    }
}

/// One rule: a glob on the tensor name and the scheme for the names it
/// matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    glob: Glob,
    scheme: RuleScheme,
    text: String,
}

impl Rule {
    /// Parse a rule from its glob and its scheme string (a scheme of the
    /// grammar, or [`HINT`]).
    pub fn new(glob: &str, scheme: &str) -> Result<Rule> {
        let glob = Glob::new(glob)?;
        let parsed =
            if scheme.trim().eq_ignore_ascii_case(HINT) { RuleScheme::Hint } else { RuleScheme::Init(scheme.parse()?) };
        Ok(Rule { glob, scheme: parsed, text: scheme.to_string() })
    }

    /// A rule from a compiled glob and a scheme value.
    pub fn from_parts(glob: Glob, scheme: RuleScheme) -> Rule {
        let text = scheme.to_string();
        Rule { glob, scheme, text }
    }

    /// The glob.
    pub fn glob(&self) -> &Glob {
        &self.glob
    }

    /// The scheme.
    pub fn scheme(&self) -> &RuleScheme {
        &self.scheme
    }

    /// The scheme as written.
    pub fn scheme_text(&self) -> &str {
        &self.text
    }
}

/// An ordered list of rules; the first matching rule wins.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rules {
    rules: Vec<Rule>,
}

impl Rules {
    /// No rules.
    pub fn new() -> Rules {
        Rules::default()
    }

    /// Append a rule (see [`Rule::new`]). An error names the rule by its
    /// 0-based position: [`Error::Rule`].
    pub fn push(&mut self, glob: &str, scheme: &str) -> Result<()> {
        let index = self.rules.len();
        let rule = Rule::new(glob, scheme).map_err(|source| Error::Rule {
            index,
            glob: glob.to_string(),
            scheme: scheme.to_string(),
            source: Box::new(source),
        })?;
        self.rules.push(rule);
        Ok(())
    }

    /// Append a rule already built.
    pub fn push_rule(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    /// The rules, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.rules.iter()
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// No rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The first rule matching `name`, with its 0-based position.
    pub fn find(&self, name: &str) -> Option<(usize, &Rule)> {
        self.rules.iter().enumerate().find(|(_, r)| r.glob.is_match(name))
    }

    /// A tracker of which rules were used, for "rule N matches nothing".
    pub fn usage(&self) -> RuleUsage<'_> {
        RuleUsage { rules: self, used: vec![false; self.rules.len()] }
    }

    /// Check that every rule is the first match of at least one of
    /// `names`: a rule that covers nothing is almost always a typo in its
    /// glob ([`Error::RuleMatchesNothing`]).
    pub fn check_coverage<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Result<()> {
        let mut usage = self.usage();
        for n in names {
            usage.find(n);
        }
        usage.check()
    }
}

impl<'a> IntoIterator for &'a Rules {
    type Item = &'a Rule;
    type IntoIter = std::slice::Iter<'a, Rule>;
    fn into_iter(self) -> Self::IntoIter {
        self.rules.iter()
    }
}

/// Records which rules were the first match of some name (see
/// [`Rules::usage`]).
#[derive(Debug)]
pub struct RuleUsage<'a> {
    rules: &'a Rules,
    used: Vec<bool>,
}

impl<'a> RuleUsage<'a> {
    /// [`Rules::find`], marking the rule found as used.
    pub fn find(&mut self, name: &str) -> Option<(usize, &'a Rule)> {
        let found = self.rules.find(name);
        if let Some((i, _)) = found {
            self.used[i] = true;
        }
        found
    }

    /// The first rule never used, if any.
    pub fn first_unused(&self) -> Option<(usize, &'a Rule)> {
        self.used.iter().position(|u| !u).map(|i| (i, &self.rules.rules[i]))
    }

    /// `Err(`[`Error::RuleMatchesNothing`]`)` for the first unused rule.
    pub fn check(&self) -> Result<()> {
        match self.first_unused() {
            None => Ok(()),
            Some((index, r)) => Err(Error::RuleMatchesNothing { index, glob: r.glob.text.clone() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(glob: &str, name: &str) -> bool {
        Glob::new(glob).unwrap().is_match(name)
    }

    #[test]
    fn globs_match_as_documented() {
        assert!(m("*.weight", "layers.3.mlp.weight"));
        assert!(m("*", ""));
        assert!(!m("*.weight", "layers.3.mlp.bias"));
        assert!(m("layers.*.weight", "layers.3.mlp.weight"));
        assert!(m("**.bias", "a.b.bias"));
        assert!(m("layers.?.w", "layers.7.w"));
        assert!(!m("layers.?.w", "layers.17.w"));
        assert!(m("layers.[0-9].w", "layers.4.w"));
        assert!(!m("layers.[!0-9].w", "layers.4.w"));
        assert!(m("layers.[^0-9].w", "layers.x.w"));
        assert!(m("[]]", "]"));
        assert!(m("*.{q,k,v}_proj.weight", "layers.0.self_attn.k_proj.weight"));
        assert!(!m("*.{q,k,v}_proj.weight", "layers.0.self_attn.o_proj.weight"));
        assert!(m("{a,b{c,d}}.x", "bd.x"));
        assert!(m("{,pre.}w", "w") && m("{,pre.}w", "pre.w"));
        assert!(m(r"a\*b", "a*b") && !m(r"a\*b", "axb"));
        assert!(m("é*", "été"));
        assert!(!m("weight", "Weight"));
        assert!(m("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!m("*a*b*c*", "xxaxxcxxbxx"));
    }

    #[test]
    fn bad_globs_say_why() {
        for (g, why) in [
            ("", "empty"),
            ("{a,b", "never closed"),
            ("a}", "without an opening"),
            ("[a-", "never closed"),
            ("[z-a]", "reversed"),
            ("a\\", "escape"),
            ("model.layers.{1}.mlp", "names a capture"),
            ("{a,{l}}.mlp", "inside a brace group"),
            ("{l}.{l}", "appears twice"),
        ] {
            let e = Glob::new(g).unwrap_err().to_string();
            assert!(e.contains(why), "{g}: {e}");
        }
        let e = Glob::new(&"{a,b}".repeat(11)).unwrap_err().to_string();
        assert!(e.contains("more than 1024"), "{e}");
        assert!(matches!(Glob::new(&"a".repeat(MAX_GLOB_LEN + 1)), Err(Error::TooLong { .. })));
    }

    #[test]
    fn captures_read_one_segment_from_the_left() {
        let c = |g: &str, n: &str| Glob::new(g).unwrap().captures(n).map(|v| v.join("|"));
        assert_eq!(c("model.layers.{l}.mlp.down_proj.weight", "model.layers.17.mlp.down_proj.weight").unwrap(), "17");
        assert_eq!(c("model.layers.{l}.mlp.down_proj.weight", "model.layers.1.7.mlp.down_proj.weight"), None);
        assert_eq!(c("model.layers.{l}.mlp.weight", "model.layers..mlp.weight"), None);
        assert_eq!(c("*.{l}.mlp.weight", "model.layers.3.mlp.weight").unwrap(), "3");
        assert_eq!(c("*.{l}.*", "a.1.b.2.c").unwrap(), "1");
        assert_eq!(c("{a}_{b}", "x_y_z").unwrap(), "x_y|z");
        assert_eq!(
            c("{model.layers,transformer.h}.{l}.{kind}.weight", "transformer.h.4.attn.weight").unwrap(),
            "4|attn"
        );
        assert_eq!(c("é.{l}", "é.ü").unwrap(), "ü");
        assert_eq!(c("*.weight", "a.weight").unwrap(), "");
        let g = Glob::new("layers.{l}.{part}").unwrap();
        assert_eq!(g.capture_names(), ["l", "part"]);
        assert!(g.is_match("layers.0.x") && !g.is_match("layers.0.x.y") && !g.is_match("layers.0."));
    }

    #[test]
    fn hostile_patterns_stay_linear() {
        // backtracking matchers take exponential time on this
        let g = Glob::new(&"*a".repeat(200)).unwrap();
        assert!(!g.is_match(&"a".repeat(199)));
        assert!(g.is_match(&"a".repeat(400)));
    }

    #[test]
    fn first_match_wins_and_unused_rules_are_reported() {
        let mut r = Rules::new();
        r.push("*.bias", "zeros").unwrap();
        r.push("*.weight", "hint").unwrap();
        r.push("head.weight", "xavier_uniform").unwrap();
        assert_eq!(r.find("head.weight").unwrap().0, 1);
        assert_eq!(r.find("x.weight").unwrap().1.scheme(), &RuleScheme::Hint);
        let e = r.check_coverage(["a.bias", "head.weight"]).unwrap_err();
        assert_eq!(e, Error::RuleMatchesNothing { index: 2, glob: "head.weight".into() });
        assert!(e.to_string().contains("rule 2"), "{e}");
        let e = r.clone().push("*", "kaiming_nromal").unwrap_err();
        assert!(matches!(&e, Error::Rule { index: 3, .. }), "{e}");
        assert!(e.to_string().contains("did you mean"), "{e}");
    }
}
