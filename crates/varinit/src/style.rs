//! Init styles as data: ordered rules whose globs capture path segments
//! and whose schemes are expressions over the captures and an
//! architecture's variables.
//!
//! # The file format
//!
//! One directive or rule per line; `#` at the start of a line or after a
//! space starts a comment; blank lines are ignored.
//!
//! ```text
//! style olmo                                  # the name (once)
//! about OLMo's "mitchell" init                # one line of description (once)
//! source allenai/OLMo olmo/model.py (...)     # where it comes from (any number)
//! let s = 1/sqrt(d)                           # a constant: an expression over the variables and earlier lets
//! model.layers.{l}.self_attn.o_proj.weight = trunc_normal(std=1/sqrt(2*d*(l+1)), a=-3/sqrt(2*d*(l+1)), b=3/sqrt(2*d*(l+1)))
//! *norm.weight = keep                         # the architecture's own scheme
//! ```
//!
//! A rule is `GLOB = SCHEME` (the glob of [`crate::rules`], with captures
//! such as `{l}`; it cannot contain `=`), tried in order, the first match
//! winning; a tensor no rule matches keeps its default scheme, and so does
//! one whose rule says `keep`. A scheme is any scheme string whose number
//! arguments may be expressions over the rule's captures (integers: `l`),
//! the `let` constants and the architecture variables of [`VARIABLES`].
//!
//! Loading ([`Style::parse`]) checks the syntax, the globs, the scheme
//! names and parameters and that every name is known; applying
//! ([`Style::apply`]) evaluates the expressions for each tensor and checks
//! the values. Every error is an [`Error::Style`] with the file, line and
//! column.
//!
//! ```
//! use varinit::style::{Style, Vars};
//! use varinit::Init;
//! let style = Style::builtin("megatron")?;
//! let vars = Vars::new().with("L", 16.0).with("std", 0.02);
//! let default: Init = "normal(std=0.02)".parse()?;
//! let a = style.apply(&vars, "model.layers.3.mlp.down_proj.weight", &default)?;
//! assert_eq!(a.init, Init::Normal { mean: 0.0, std: 0.02 / (2.0 * 16.0f64).sqrt() });
//! let a = style.apply(&vars, "model.norm.weight", &"ones".parse()?)?;
//! assert!(a.kept());
//! # Ok::<(), varinit::Error>(())
//! ```

use std::fmt;

use crate::error::{Error, Result};
use crate::grammar::{Call, Expr, ValueKind, parse_expr, parse_template};
use crate::rules::Glob;
use crate::scheme::Init;
use crate::suggest::{closest, did_you_mean};

/// The architecture variables a style may use, with their meaning.
pub const VARIABLES: &[(&str, &str)] = &[
    ("L", "number of layers"),
    ("d", "hidden size (d_model)"),
    ("d_ff", "MLP width (intermediate size)"),
    ("heads", "attention heads"),
    ("kv_heads", "key/value heads"),
    ("head_dim", "width of one head"),
    ("vocab", "vocabulary size"),
    ("std", "the config's initializer_range"),
    ("experts", "experts of a mixture-of-experts layer"),
];

/// Names a `let` or a capture cannot take: the constants and functions of
/// number expressions.
const RESERVED: &[&str] = &["pi", "e", "inf", "infinity", "nan", "sqrt", "exp", "ln", "log", "keep"];

/// The built-in styles: (name, file text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("hf", include_str!("../styles/hf.style")),
    ("megatron", include_str!("../styles/megatron.style")),
    ("torchtitan", include_str!("../styles/torchtitan.style")),
    ("torchtitan_flat", include_str!("../styles/torchtitan_flat.style")),
    ("olmo", include_str!("../styles/olmo.style")),
    ("olmo_megatron", include_str!("../styles/olmo_megatron.style")),
    ("neox", include_str!("../styles/neox.style")),
    ("deepnet", include_str!("../styles/deepnet.style")),
    ("mup", include_str!("../styles/mup.style")),
    ("gemma", include_str!("../styles/gemma.style")),
];

/// What is wrong, in an [`Error::Style`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StyleErrorKind {
    /// A line that is not a directive or a rule, a duplicate, a reserved name.
    Syntax(String),
    /// A glob that does not compile.
    Glob(Box<Error>),
    /// A scheme that does not parse or name valid parameters.
    Scheme(Box<Error>),
    /// A name that is no capture, `let` or architecture variable.
    UnknownVariable {
        /// The name.
        name: String,
        /// The closest known name.
        suggestion: Option<String>,
    },
    /// An architecture variable the style uses but the caller did not give.
    MissingVariable {
        /// The name.
        name: String,
        /// The tensor being styled, if any.
        tensor: Option<String>,
    },
    /// A capture used in arithmetic that matched something other than an integer.
    CaptureNotInteger {
        /// The capture's name.
        capture: String,
        /// What it matched.
        value: String,
        /// The tensor.
        tensor: String,
    },
    /// An expression whose value is infinite or not a number.
    NotFinite {
        /// What it is (a parameter, or a `let`).
        what: String,
        /// The value.
        value: f64,
        /// The tensor, if any.
        tensor: Option<String>,
    },
    /// A scheme whose evaluated values are not valid.
    Invalid {
        /// The tensor.
        tensor: String,
        /// Why.
        source: Box<Error>,
    },
}

impl fmt::Display for StyleErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on = |t: &Option<String>| t.as_ref().map(|t| format!(" (for {t})")).unwrap_or_default();
        match self {
            StyleErrorKind::Syntax(m) => f.write_str(m),
            StyleErrorKind::Glob(e) | StyleErrorKind::Scheme(e) => e.fmt(f),
            StyleErrorKind::UnknownVariable { name, suggestion } => write!(
                f,
                "unknown variable {name:?}{}; known: the rule's captures, the lets above, and {}",
                did_you_mean(suggestion.as_deref()),
                VARIABLES.iter().map(|v| v.0).collect::<Vec<_>>().join(", ")
            ),
            StyleErrorKind::MissingVariable { name, tensor } => {
                write!(f, "the style uses {name}, which the architecture does not provide{}", on(tensor))
            }
            StyleErrorKind::CaptureNotInteger { capture, value, tensor } => {
                write!(f, "capture {{{capture}}} matched {value:?} in {tensor}, which is not an integer")
            }
            StyleErrorKind::NotFinite { what, value, tensor } => {
                write!(f, "{what} evaluates to {value}, which is not finite{}", on(tensor))
            }
            StyleErrorKind::Invalid { tensor, source } => write!(f, "for {tensor}: {source}"),
        }
    }
}

/// Architecture variables for [`Style::apply`]: names of [`VARIABLES`]
/// (others are accepted and ignored unless a style uses them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vars {
    values: Vec<(String, f64)>,
}

impl Vars {
    /// No variables.
    pub fn new() -> Vars {
        Vars::default()
    }
    /// Set a variable (replacing an earlier value).
    pub fn set(&mut self, name: &str, value: f64) -> &mut Vars {
        match self.values.iter_mut().find(|(n, _)| n == name) {
            Some(v) => v.1 = value,
            None => self.values.push((name.to_string(), value)),
        }
        self
    }
    /// [`Vars::set`], by value.
    pub fn with(mut self, name: &str, value: f64) -> Vars {
        self.set(name, value);
        self
    }
    /// A variable's value.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|v| v.1)
    }
    /// The variables, in the order set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, f64)> {
        self.values.iter().map(|(n, v)| (n.as_str(), *v))
    }
}

/// A `let` constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Let {
    name: String,
    text: String,
    expr: Expr,
    line: usize,
    column: usize,
}

impl Let {
    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The expression as written.
    pub fn text(&self) -> &str {
        &self.text
    }
    /// 1-based line in the file.
    pub fn line(&self) -> usize {
        self.line
    }
}

#[derive(Debug, Clone)]
enum Action {
    Keep,
    /// A template; `constant` when it uses no variable at all.
    Scheme {
        call: Call,
        constant: Option<Init>,
    },
}

/// One rule of a style.
#[derive(Debug, Clone)]
pub struct StyleRule {
    glob: Glob,
    action: Action,
    text: String,
    line: usize,
    column: usize,
}

impl StyleRule {
    /// The glob.
    pub fn glob(&self) -> &Glob {
        &self.glob
    }
    /// The scheme as written (`keep` for the architecture's own).
    pub fn scheme_text(&self) -> &str {
        &self.text
    }
    /// Whether the rule keeps the architecture's scheme.
    pub fn is_keep(&self) -> bool {
        matches!(self.action, Action::Keep)
    }
    /// 1-based line in the file.
    pub fn line(&self) -> usize {
        self.line
    }
}

/// A loaded style (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct Style {
    name: String,
    about: String,
    sources: Vec<String>,
    file: String,
    lets: Vec<Let>,
    rules: Vec<StyleRule>,
}

/// What a style gives one tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct Assignment {
    /// The scheme.
    pub init: Init,
    /// The 0-based index of the rule that matched (`None`: no rule did).
    pub rule: Option<usize>,
    /// 1-based line of that rule in the file.
    pub line: Option<usize>,
    kept: bool,
}

impl Assignment {
    /// Whether the tensor keeps its default scheme (no rule, or `keep`).
    pub fn kept(&self) -> bool {
        self.kept
    }
}

fn err(file: &str, line: usize, column: usize, kind: StyleErrorKind) -> Error {
    Error::Style { file: file.to_string(), line, column, kind: Box::new(kind) }
}

fn is_identifier(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The line without its comment: `#` at the start or after a space or
/// tab, outside quotes, starts one.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    let mut prev_blank = true;
    for (i, c) in line.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '#' && prev_blank => return line[..i].trim_end(),
            None => {}
        }
        prev_blank = c == ' ' || c == '\t';
    }
    line
}

/// The column (in the file) of a column inside a piece that starts at `start`.
fn shift(start: usize, inner: usize) -> usize {
    start + inner.max(1) - 1
}

/// The 1-based column, in characters, of byte offset `at` of `line`.
fn col_of(line: &str, at: usize) -> usize {
    line[..at].chars().count() + 1
}

impl Style {
    /// A built-in style by name ([`BUILTIN`]).
    pub fn builtin(name: &str) -> Result<Style> {
        match BUILTIN.iter().find(|(n, _)| *n == name) {
            Some((n, text)) => Style::parse(text, &format!("builtin:{n}")),
            None => Err(Error::UnknownStyle {
                name: name.to_string(),
                suggestion: closest(name, BUILTIN.iter().map(|b| b.0)),
            }),
        }
    }

    /// The names of the built-in styles.
    pub fn builtin_names() -> impl Iterator<Item = &'static str> {
        BUILTIN.iter().map(|b| b.0)
    }

    /// Load a style from its text; `file` names it in errors (a path, or
    /// `builtin:NAME`). The name is the `style` directive's, else `file`'s
    /// stem.
    pub fn parse(text: &str, file: &str) -> Result<Style> {
        let mut name: Option<String> = None;
        let mut about: Option<String> = None;
        let mut sources = Vec::new();
        let mut lets: Vec<Let> = Vec::new();
        let mut rules = Vec::new();
        for (index, full) in text.lines().enumerate() {
            let line_no = index + 1;
            let raw = strip_comment(full);
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = raw.len() - trimmed.len();
            let first_end = trimmed.find(|c: char| c.is_whitespace()).unwrap_or(trimmed.len());
            let word = &trimmed[..first_end];
            let rest = &trimmed[first_end..];
            let rest_start = indent + first_end + (rest.len() - rest.trim_start().len());
            let rest = rest.trim();
            let directive = matches!(word, "style" | "about" | "source" | "let") && !rest.starts_with('=');
            let at = |byte: usize, kind| err(file, line_no, col_of(raw, byte), kind);
            if directive {
                if rest.is_empty() {
                    return Err(at(indent, StyleErrorKind::Syntax(format!("{word} needs a value"))));
                }
                match word {
                    "style" => {
                        if name.is_some() {
                            return Err(at(indent, StyleErrorKind::Syntax("a second style line".into())));
                        }
                        if !is_identifier(rest) {
                            return Err(at(
                                rest_start,
                                StyleErrorKind::Syntax(format!("the style name {rest:?} is not an identifier")),
                            ));
                        }
                        name = Some(rest.to_string());
                    }
                    "about" => {
                        if about.is_some() {
                            return Err(at(indent, StyleErrorKind::Syntax("a second about line".into())));
                        }
                        about = Some(rest.to_string());
                    }
                    "source" => sources.push(rest.to_string()),
                    _ => {
                        let l = Self::parse_let(raw, rest, rest_start, line_no, file, &lets)?;
                        lets.push(l);
                    }
                }
                continue;
            }
            rules.push(Self::parse_rule(raw, indent, line_no, file, &lets)?);
        }
        let name = name.unwrap_or_else(|| {
            let base = file.rsplit(['/', '\\']).next().unwrap_or(file);
            let base = base.strip_prefix("builtin:").unwrap_or(base);
            base.split('.').next().unwrap_or(base).to_string()
        });
        Ok(Style { name, about: about.unwrap_or_default(), sources, file: file.to_string(), lets, rules })
    }

    fn check_new_name(name: &str, what: &str, lets: &[Let], file: &str, line: usize, column: usize) -> Result<()> {
        let bad = |m: String| Err(err(file, line, column, StyleErrorKind::Syntax(m)));
        if !is_identifier(name) {
            return bad(format!("the {what} name {name:?} is not an identifier"));
        }
        if RESERVED.contains(&name.to_ascii_lowercase().as_str()) {
            return bad(format!("{name:?} is reserved (a constant or function of expressions)"));
        }
        if VARIABLES.iter().any(|v| v.0 == name) {
            return bad(format!("the {what} {name} would hide the architecture variable {name}"));
        }
        if lets.iter().any(|l| l.name == name) {
            return bad(format!("the {what} {name} is already defined by a let"));
        }
        Ok(())
    }

    fn parse_let(raw: &str, rest: &str, rest_start: usize, line: usize, file: &str, lets: &[Let]) -> Result<Let> {
        let column = col_of(raw, rest_start);
        let Some(eq) = rest.find('=') else {
            return Err(err(file, line, column, StyleErrorKind::Syntax("write let NAME = EXPRESSION".into())));
        };
        let name = rest[..eq].trim();
        Self::check_new_name(name, "let", lets, file, line, column)?;
        let expr_text = rest[eq + 1..].trim();
        let expr_byte = rest_start + eq + 1 + (rest[eq + 1..].len() - rest[eq + 1..].trim_start().len());
        let expr_col = col_of(raw, expr_byte);
        let expr = parse_expr(expr_text).map_err(|e| located_syntax(e, file, line, expr_col))?;
        let mut vars = Vec::new();
        expr.vars(&mut vars);
        for (v, c) in vars {
            if !(lets.iter().any(|l| l.name == v) || VARIABLES.iter().any(|x| x.0 == v)) {
                let known = lets.iter().map(|l| l.name.as_str()).chain(VARIABLES.iter().map(|x| x.0));
                return Err(err(
                    file,
                    line,
                    shift(expr_col, c),
                    StyleErrorKind::UnknownVariable { name: v.to_string(), suggestion: closest(v, known) },
                ));
            }
        }
        if !expr_uses_variables(&expr) {
            let v = expr.constant();
            if !v.is_finite() {
                return Err(err(
                    file,
                    line,
                    expr_col,
                    StyleErrorKind::NotFinite { what: format!("let {name}"), value: v, tensor: None },
                ));
            }
        }
        Ok(Let { name: name.to_string(), text: expr_text.to_string(), expr, line, column: expr_col })
    }

    fn parse_rule(raw: &str, indent: usize, line: usize, file: &str, lets: &[Let]) -> Result<StyleRule> {
        let body = &raw[indent..];
        let Some(eq) = body.find('=') else {
            return Err(err(
                file,
                line,
                col_of(raw, indent),
                StyleErrorKind::Syntax(
                    "expected GLOB = SCHEME, or a directive (style, about, source, let); # starts a comment".into(),
                ),
            ));
        };
        let glob_text = body[..eq].trim();
        let glob_col = col_of(raw, indent);
        if glob_text.is_empty() {
            return Err(err(file, line, glob_col, StyleErrorKind::Syntax("the rule has no glob before '='".into())));
        }
        if glob_text.contains(char::is_whitespace) {
            return Err(err(
                file,
                line,
                glob_col,
                StyleErrorKind::Syntax(format!("the glob {glob_text:?} contains a space")),
            ));
        }
        let glob = Glob::new(glob_text).map_err(|e| err(file, line, glob_col, StyleErrorKind::Glob(Box::new(e))))?;
        for c in glob.capture_names() {
            Self::check_new_name(c, "capture", lets, file, line, glob_col)?;
        }
        let after = &body[eq + 1..];
        let scheme_text = after.trim();
        let scheme_byte = indent + eq + 1 + (after.len() - after.trim_start().len());
        let scheme_col = col_of(raw, scheme_byte);
        if scheme_text.is_empty() {
            return Err(err(file, line, scheme_col, StyleErrorKind::Syntax("the rule has no scheme after '='".into())));
        }
        let text = scheme_text.to_string();
        if scheme_text == "keep" {
            return Ok(StyleRule { glob, action: Action::Keep, text, line, column: scheme_col });
        }
        let known_names: Vec<String> = glob
            .capture_names()
            .iter()
            .cloned()
            .chain(lets.iter().map(|l| l.name.clone()))
            .chain(VARIABLES.iter().map(|v| v.0.to_string()))
            .collect();
        let known = |n: &str| known_names.iter().any(|k| k == n);
        let call = parse_template(scheme_text, &known, known_names.clone())
            .map_err(|e| located_scheme(e, file, line, scheme_col))?;
        // every name in an expression must be known
        let mut uses_variables = false;
        for (_, v) in &call.args {
            if let ValueKind::Expr(e) = &v.kind {
                let mut vars = Vec::new();
                e.vars(&mut vars);
                for (name, c) in vars {
                    uses_variables = true;
                    if !known(name) {
                        return Err(err(
                            file,
                            line,
                            shift(scheme_col, c),
                            StyleErrorKind::UnknownVariable {
                                name: name.to_string(),
                                suggestion: closest(name, known_names.iter().map(String::as_str)),
                            },
                        ));
                    }
                }
            }
        }
        // the scheme's name and parameters, checked with placeholder values
        let trial: std::result::Result<Call, std::convert::Infallible> = call.evaluate(&mut |_, _| Ok(1.0));
        let trial = match trial {
            Ok(c) => c,
            Err(never) => match never {},
        };
        let constant = if uses_variables {
            if let Err(e) = crate::scheme::from_call(&trial) {
                let structural = matches!(
                    e,
                    Error::UnknownScheme { .. }
                        | Error::UnknownParameter { .. }
                        | Error::DuplicateParameter { .. }
                        | Error::MissingParameter { .. }
                        | Error::UnknownVariable { .. }
                        | Error::UnsupportedNonlinearity { .. }
                        | Error::BadMode { .. }
                        | Error::Syntax { .. }
                );
                if structural {
                    return Err(located_scheme(e, file, line, scheme_col));
                }
            }
            None
        } else {
            let evaluated = evaluate_checked(&call, &mut |_, _| unreachable_var(), None)
                .map_err(|(c, k)| err(file, line, shift(scheme_col, c), k))?;
            Some(crate::scheme::from_call(&evaluated).map_err(|e| located_scheme(e, file, line, scheme_col))?)
        };
        Ok(StyleRule { glob, action: Action::Scheme { call, constant }, text, line, column: scheme_col })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The one-line description (may be empty).
    pub fn about(&self) -> &str {
        &self.about
    }
    /// The sources it cites.
    pub fn sources(&self) -> &[String] {
        &self.sources
    }
    /// The file it was loaded from (a path, or `builtin:NAME`).
    pub fn file(&self) -> &str {
        &self.file
    }
    /// The `let` constants, in order.
    pub fn lets(&self) -> &[Let] {
        &self.lets
    }
    /// The rules, in order.
    pub fn rules(&self) -> &[StyleRule] {
        &self.rules
    }
    /// The architecture variables the style uses (in [`VARIABLES`] order).
    pub fn variables(&self) -> Vec<&'static str> {
        let mut used = Vec::new();
        for l in &self.lets {
            l.expr.vars(&mut used);
        }
        for r in &self.rules {
            if let Action::Scheme { call, .. } = &r.action {
                for (_, v) in &call.args {
                    if let ValueKind::Expr(e) = &v.kind {
                        e.vars(&mut used);
                    }
                }
            }
        }
        VARIABLES.iter().map(|v| v.0).filter(|v| used.iter().any(|(u, _)| u == v)).collect()
    }

    /// The scheme of one tensor: the first rule whose glob matches `name`,
    /// its expressions evaluated with the rule's captures, the lets and
    /// `vars`; `default` when no rule matches or the rule says `keep`.
    pub fn apply(&self, vars: &Vars, name: &str, default: &Init) -> Result<Assignment> {
        let mut cache = vec![None; self.lets.len()];
        self.apply_cached(vars, name, default, &mut cache)
    }

    /// [`Style::apply`] for every `(name, default)` in order.
    pub fn apply_all<'a>(
        &self,
        vars: &Vars,
        tensors: impl IntoIterator<Item = (&'a str, &'a Init)>,
    ) -> Result<Vec<Assignment>> {
        let mut cache = vec![None; self.lets.len()];
        tensors.into_iter().map(|(n, d)| self.apply_cached(vars, n, d, &mut cache)).collect()
    }

    fn apply_cached(&self, vars: &Vars, name: &str, default: &Init, cache: &mut [Option<f64>]) -> Result<Assignment> {
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(captured) = rule.glob.captures(name) else { continue };
            let (call, constant) = match &rule.action {
                Action::Keep => {
                    return Ok(Assignment {
                        init: default.clone(),
                        rule: Some(index),
                        line: Some(rule.line),
                        kept: true,
                    });
                }
                Action::Scheme { call, constant } => (call, constant),
            };
            let init = match constant {
                Some(i) => i.clone(),
                None => {
                    let file = &self.file;
                    let captures = rule.glob.capture_names();
                    let mut lookup = |v: &str, c: usize| -> Located<f64> {
                        if let Some(k) = captures.iter().position(|x| x == v) {
                            let text = captured[k];
                            return match text.parse::<u64>() {
                                Ok(x) if x < (1 << 53) => Ok(x as f64),
                                _ => Err((
                                    c,
                                    StyleErrorKind::CaptureNotInteger {
                                        capture: v.to_string(),
                                        value: text.to_string(),
                                        tensor: name.to_string(),
                                    },
                                )),
                            };
                        }
                        self.variable(v, vars, cache, Some(name)).map_err(|k| (c, k))
                    };
                    let evaluated = evaluate_checked(call, &mut lookup, Some(name))
                        .map_err(|(c, k)| err(file, rule.line, shift(rule.column, c), k))?;
                    crate::scheme::from_call(&evaluated).map_err(|e| {
                        err(
                            file,
                            rule.line,
                            rule.column,
                            StyleErrorKind::Invalid { tensor: name.to_string(), source: Box::new(e) },
                        )
                    })?
                }
            };
            return Ok(Assignment { init, rule: Some(index), line: Some(rule.line), kept: false });
        }
        Ok(Assignment { init: default.clone(), rule: None, line: None, kept: true })
    }

    /// A let's or an architecture variable's value.
    fn variable(
        &self,
        v: &str,
        vars: &Vars,
        cache: &mut [Option<f64>],
        tensor: Option<&str>,
    ) -> std::result::Result<f64, StyleErrorKind> {
        if let Some(k) = self.lets.iter().position(|l| l.name == v) {
            if let Some(x) = cache[k] {
                return Ok(x);
            }
            let l = &self.lets[k];
            // a let's own errors point into the let, not the rule using it
            let value =
                l.expr.eval(&mut |name: &str, _c: usize| self.variable(name, vars, cache, tensor)).and_then(|x| {
                    if x.is_finite() {
                        Ok(x)
                    } else {
                        Err(StyleErrorKind::NotFinite {
                            what: format!("let {} (line {})", l.name, l.line),
                            value: x,
                            tensor: tensor.map(str::to_string),
                        })
                    }
                })?;
            cache[k] = Some(value);
            return Ok(value);
        }
        match vars.get(v) {
            Some(x) if x.is_finite() => Ok(x),
            Some(x) => Err(StyleErrorKind::NotFinite {
                what: format!("the variable {v}"),
                value: x,
                tensor: tensor.map(str::to_string),
            }),
            None => Err(StyleErrorKind::MissingVariable { name: v.to_string(), tensor: tensor.map(str::to_string) }),
        }
    }
}

/// An error at a column of a scheme.
type Located<T> = std::result::Result<T, (usize, StyleErrorKind)>;

fn unreachable_var() -> Located<f64> {
    Ok(f64::NAN)
}

fn expr_uses_variables(e: &Expr) -> bool {
    let mut v = Vec::new();
    e.vars(&mut v);
    !v.is_empty()
}

/// Evaluate a template's expressions, each required finite; errors carry
/// the column in the scheme.
fn evaluate_checked(
    call: &Call,
    lookup: &mut dyn FnMut(&str, usize) -> Located<f64>,
    tensor: Option<&str>,
) -> Located<Call> {
    let evaluated = call.evaluate(lookup)?;
    for (i, ((key, v), (_, orig))) in evaluated.args.iter().zip(&call.args).enumerate() {
        if let (ValueKind::Number(x), ValueKind::Expr(_)) = (&v.kind, &orig.kind)
            && !x.is_finite()
        {
            let what = match key {
                Some((k, _)) => k.clone(),
                None => format!("argument {}", i + 1),
            };
            return Err((v.column, StyleErrorKind::NotFinite { what, value: *x, tensor: tensor.map(str::to_string) }));
        }
    }
    Ok(evaluated)
}

/// A scheme error at its place in the file.
fn located_scheme(e: Error, file: &str, line: usize, scheme_col: usize) -> Error {
    let column = match &e {
        Error::Syntax { column, .. } | Error::UnknownVariable { column, .. } => shift(scheme_col, *column),
        _ => scheme_col,
    };
    let kind = match e {
        Error::UnknownVariable { name, suggestion, .. } => StyleErrorKind::UnknownVariable { name, suggestion },
        other => StyleErrorKind::Scheme(Box::new(other)),
    };
    err(file, line, column, kind)
}

/// An expression's syntax error at its place in the file.
fn located_syntax(e: Error, file: &str, line: usize, start: usize) -> Error {
    match e {
        Error::Syntax { column, message, .. } => err(file, line, shift(start, column), StyleErrorKind::Syntax(message)),
        other => err(file, line, start, StyleErrorKind::Syntax(other.to_string())),
    }
}
