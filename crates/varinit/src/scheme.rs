//! Initialization schemes: the [`Init`] type, its scheme-string grammar,
//! validation, and resolution to a concrete distribution for a shape.
//!
//! # Grammar
//!
//! ```text
//! scheme := name [ "(" [ arg ("," arg)* [","] ] ")" ]
//! arg    := [ key "=" ] value
//! value  := number-expression | word | 'quoted word'
//! ```
//!
//! Numbers may be expressions: `+ - * /`, `^` or `**`, parentheses,
//! `sqrt( )`, `exp( )`, `ln( )`/`log( )`, and the constants `pi`, `e`,
//! `inf`. Positional arguments follow the home framework's order. Names
//! are case-insensitive; Keras class names (`GlorotUniform`) and PyTorch's
//! in-place names (`kaiming_normal_`) are accepted.
//!
//! Names keep the meaning they have in their home framework:
//! `xavier_*`/`kaiming_*` are PyTorch's (untruncated normals), while
//! `glorot_*`/`he_*`/`lecun_*` and `variance_scaling` are Keras's
//! (truncated normal with the 0.8796 correction).
//!
//! ```
//! use varinit::{Init, Layout, Shape};
//! let init: Init = "kaiming_normal(mode=fan_out, nonlinearity=relu)".parse().unwrap();
//! let shape = Shape::new(vec![64, 3, 7, 7]).unwrap();
//! let r = init.resolve(&shape, Layout::Torch.into()).unwrap();
//! // std = sqrt(2) / sqrt(64 * 49)
//! assert_eq!(r.to_string(), "N(0, 0.0252538^2)");
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result, closest, shape_text};
use crate::fan::{FanMode, Fans, JaxAxes, Layout, mode_suggestion};
use crate::gain::{Activation, TORCH_GAIN_NAMES, calculate_gain};
use crate::shape::Shape;
use crate::special;

mod jax;

/// Keras's and JAX's correction: the standard deviation of a standard
/// normal truncated to [-2, 2].
#[allow(clippy::excessive_precision)]
pub const TRUNCATION_STD_CORRECTION: f64 = 0.879_625_661_034_239_78;

/// Uniform or normal, for schemes that come in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// `*_uniform`.
    Uniform,
    /// `*_normal`.
    Normal,
}

/// The distribution of Keras's and JAX's `variance_scaling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VsDistribution {
    /// N(0, s^2) truncated to [-2s, 2s], s = sqrt(var) / 0.8796...
    TruncatedNormal,
    /// N(0, var).
    UntruncatedNormal,
    /// U(-l, l), l = sqrt(3 var).
    Uniform,
}

impl VsDistribution {
    /// The name in the grammar.
    pub fn name(self) -> &'static str {
        match self {
            VsDistribution::TruncatedNormal => "truncated_normal",
            VsDistribution::UntruncatedNormal => "untruncated_normal",
            VsDistribution::Uniform => "uniform",
        }
    }
}

/// Keras's three named variance-scaling families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KerasFamily {
    /// scale 1, fan_in.
    Lecun,
    /// scale 1, fan_avg.
    Glorot,
    /// scale 2, fan_in.
    He,
}

impl KerasFamily {
    fn scale_mode(self) -> (f64, FanMode) {
        match self {
            KerasFamily::Lecun => (1.0, FanMode::FanIn),
            KerasFamily::Glorot => (1.0, FanMode::FanAvg),
            KerasFamily::He => (2.0, FanMode::FanIn),
        }
    }
}

/// An initialization scheme: parsed, validated, not yet tied to a shape.
///
/// Construct it with [`str::parse`] (the scheme grammar) or directly; a
/// directly built value is checked by [`Init::validate`], which
/// [`Init::resolve`] also calls.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Init {
    /// `uniform(a=0, b=1)`: U(a, b) (PyTorch `uniform_`; Keras `random_uniform(minval, maxval)`).
    Uniform {
        /// Lower bound.
        a: f64,
        /// Upper bound.
        b: f64,
    },
    /// `normal(mean=0, std=1)`: N(mean, std^2) (PyTorch `normal_`; Keras `random_normal`).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// `trunc_normal(mean=0, std=1, a=-2, b=2)`: N(mean, std^2) restricted
    /// to `[a, b]`, **absolute** bounds as in PyTorch. Keras's
    /// `truncated_normal(mean, stddev)` maps here with bounds mean +- 2 stddev.
    TruncNormal {
        /// Mean of the untruncated normal.
        mean: f64,
        /// Standard deviation of the untruncated normal.
        std: f64,
        /// Lower bound (absolute; may be -inf).
        a: f64,
        /// Upper bound (absolute; may be inf).
        b: f64,
    },
    /// `constant(val)`, `zeros`, `ones`.
    Constant {
        /// The value.
        value: f64,
    },
    /// `eye(gain=1)`: the identity matrix (2-D only; Keras `identity(gain)`).
    Eye {
        /// Value of the diagonal.
        gain: f64,
    },
    /// `dirac(groups=1)`: identity-preserving convolution kernel (3-5-D).
    Dirac {
        /// Number of groups; dimension `out` must be divisible by it.
        groups: u64,
    },
    /// `xavier_uniform(gain=1)` / `xavier_normal(gain=1)` (PyTorch, untruncated).
    Xavier {
        /// Uniform or normal.
        family: Family,
        /// Multiplier of the standard deviation (a number or a nonlinearity's gain).
        gain: f64,
    },
    /// `kaiming_uniform(a=0, mode=fan_in, nonlinearity=leaky_relu)` / `kaiming_normal(...)` (PyTorch).
    Kaiming {
        /// Uniform or normal.
        family: Family,
        /// Negative slope of the rectifier (used only with `leaky_relu`).
        a: f64,
        /// `fan_in` or `fan_out`.
        mode: FanMode,
        /// A name from PyTorch's gain table.
        nonlinearity: &'static str,
    },
    /// `lecun_*`, `glorot_*`, `he_*` with Keras's (and JAX's) semantics:
    /// normal means truncated normal with the 0.8796 correction.
    Keras {
        /// Which family.
        family: KerasFamily,
        /// Uniform or (truncated) normal.
        distribution: Family,
    },
    /// `variance_scaling(scale=1, mode=fan_in, distribution=truncated_normal)` (Keras / JAX).
    VarianceScaling {
        /// Variance multiplier.
        scale: f64,
        /// `fan_in`, `fan_out` or `fan_avg`.
        mode: FanMode,
        /// The distribution.
        distribution: VsDistribution,
    },
    /// JAX's `variance_scaling` with explicit `in_axis`, `out_axis`,
    /// `batch_axis` (`jax.variance_scaling(...)`, `jax.he_normal(in_axis=...)`):
    /// fans by JAX's `_compute_fans` over those axes, whatever the layout.
    JaxVarianceScaling {
        /// Variance multiplier.
        scale: f64,
        /// `fan_in`, `fan_out`, `fan_avg` or `fan_geo_avg`.
        mode: FanMode,
        /// The distribution (JAX's `normal` is [`VsDistribution::UntruncatedNormal`]).
        distribution: VsDistribution,
        /// Which axes are inputs, outputs and ignored batch axes.
        axes: JaxAxes,
    },
    /// `orthogonal(gain=1)`: a (semi-)orthogonal matrix times gain; the
    /// tensor is flattened to 2-D as its layout's framework does.
    Orthogonal {
        /// Multiplier.
        gain: f64,
    },
    /// `delta_orthogonal(gain=1)`: zeros except an orthogonal `in x out`
    /// matrix at the kernel's spatial centre (Xiao et al. 2018; JAX).
    DeltaOrthogonal {
        /// Multiplier (JAX's `scale`).
        gain: f64,
    },
    /// `sparse(sparsity, std=0.01)`: N(0, std^2) with exactly
    /// `ceil(sparsity * rows)` zeros in every column (2-D only; PyTorch).
    Sparse {
        /// Fraction of each column set to zero, in [0, 1].
        sparsity: f64,
        /// Standard deviation of the non-zero entries.
        std: f64,
    },
    /// `torch_default`: what `nn.Linear` / `nn.ConvNd` do to their weight,
    /// `kaiming_uniform(a=sqrt(5))`, i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    TorchDefault,
    /// `torch_default_bias(fan_in)`: what `nn.Linear` / `nn.ConvNd` do to
    /// their bias, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), 0 when fan_in is 0.
    TorchDefaultBias {
        /// fan_in of the layer's weight; needed to resolve.
        fan_in: Option<u64>,
    },
}

/// Every canonical scheme name with a one-line description.
pub const SCHEMES: &[(&str, &str)] = &[
    ("uniform(a=0, b=1)", "U(a, b) (PyTorch uniform_; Keras random_uniform(minval=-0.05, maxval=0.05))"),
    ("normal(mean=0, std=1)", "N(mean, std^2) (PyTorch normal_; Keras random_normal(mean=0, stddev=0.05))"),
    (
        "trunc_normal(mean=0, std=1, a=-2, b=2)",
        "N(mean, std^2) restricted to [a, b], absolute bounds (PyTorch); Keras truncated_normal(mean, stddev) cuts at +-2 stddev",
    ),
    ("constant(val), zeros, ones", "every element equal"),
    ("eye(gain=1)", "identity matrix, 2-D only (PyTorch eye_; Keras identity)"),
    ("dirac(groups=1)", "identity-preserving conv kernel, 3-5-D (PyTorch dirac_)"),
    ("xavier_uniform(gain=1)", "U(-l, l), l = gain sqrt(6 / (fan_in + fan_out)) (PyTorch)"),
    ("xavier_normal(gain=1)", "N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)), untruncated (PyTorch)"),
    (
        "kaiming_uniform(a=0, mode=fan_in, nonlinearity=leaky_relu)",
        "U(-l, l), l = gain sqrt(3 / fan), gain from the nonlinearity and a (PyTorch)",
    ),
    (
        "kaiming_normal(a=0, mode=fan_in, nonlinearity=leaky_relu)",
        "N(0, s^2), s = gain / sqrt(fan), untruncated (PyTorch)",
    ),
    ("lecun_uniform, lecun_normal", "variance_scaling(1, fan_in, uniform | truncated_normal) (Keras, JAX)"),
    ("glorot_uniform, glorot_normal", "variance_scaling(1, fan_avg, uniform | truncated_normal) (Keras, JAX)"),
    ("he_uniform, he_normal", "variance_scaling(2, fan_in, uniform | truncated_normal) (Keras, JAX)"),
    (
        "variance_scaling(scale=1, mode=fan_in, distribution=truncated_normal)",
        "var = scale / max(1, fan); truncated_normal (corrected by 0.8796), untruncated_normal or uniform",
    ),
    ("orthogonal(gain=1)", "(semi-)orthogonal matrix times gain, QR of a Gaussian, sign-corrected"),
    (
        "delta_orthogonal(gain=1)",
        "zeros but an orthogonal in x out matrix at the kernel centre, 3-5-D, in <= out (JAX)",
    ),
    ("sparse(sparsity, std=0.01)", "N(0, std^2) with ceil(sparsity rows) zeros per column, 2-D (PyTorch)"),
    ("torch_default", "nn.Linear / nn.ConvNd weight default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))"),
    ("torch_default_bias(fan_in)", "nn.Linear / nn.ConvNd bias default: U(+-1/sqrt(fan_in)), 0 if fan_in is 0"),
];

/// Canonical names and accepted aliases, for lookup and suggestions.
const NAMES: &[&str] = &[
    "uniform",
    "random_uniform",
    "normal",
    "random_normal",
    "trunc_normal",
    "truncated_normal",
    "constant",
    "zeros",
    "ones",
    "eye",
    "identity",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_uniform",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "variance_scaling",
    "orthogonal",
    "delta_orthogonal",
    "sparse",
    "torch_default",
    "torch_default_bias",
];

// ---------------------------------------------------------------------------
// Lexer and parser

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    LParen,
    RParen,
    Comma,
    Eq,
    Plus,
    Minus,
    Star,
    Slash,
    Pow,
    End,
}

struct Lexer<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>, // token, 1-based column
    pos: usize,
}

fn syntax(src: &str, column: usize, message: impl Into<String>) -> Error {
    Error::Syntax { input: src.to_string(), column, message: message.into() }
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Result<Self> {
        let mut toks = Vec::new();
        let chars: Vec<(usize, char)> = src.char_indices().collect();
        let col = |byte: usize| src[..byte].chars().count() + 1;
        let mut i = 0;
        while i < chars.len() {
            let (b, c) = chars[i];
            let start = col(b);
            if c.is_whitespace() {
                i += 1;
                continue;
            }
            let simple = match c {
                '(' => Some(Tok::LParen),
                ')' => Some(Tok::RParen),
                ',' => Some(Tok::Comma),
                '=' | ':' => Some(Tok::Eq),
                '+' => Some(Tok::Plus),
                '-' => Some(Tok::Minus),
                '/' => Some(Tok::Slash),
                '^' => Some(Tok::Pow),
                _ => None,
            };
            if let Some(t) = simple {
                toks.push((t, start));
                i += 1;
                continue;
            }
            if c == '*' {
                if chars.get(i + 1).map(|x| x.1) == Some('*') {
                    toks.push((Tok::Pow, start));
                    i += 2;
                } else {
                    toks.push((Tok::Star, start));
                    i += 1;
                }
                continue;
            }
            if c == '\'' || c == '"' {
                let mut j = i + 1;
                while j < chars.len() && chars[j].1 != c {
                    j += 1;
                }
                if j == chars.len() {
                    return Err(syntax(src, start, "unterminated quote"));
                }
                let s: String = chars[i + 1..j].iter().map(|x| x.1).collect();
                toks.push((Tok::Str(s), start));
                i = j + 1;
                continue;
            }
            if c.is_ascii_digit() || c == '.' {
                let mut j = i;
                while j < chars.len() {
                    let d = chars[j].1;
                    let prev = if j > i { chars[j - 1].1 } else { ' ' };
                    let exponent_sign = (d == '+' || d == '-') && (prev == 'e' || prev == 'E');
                    if !(d.is_ascii_digit() || matches!(d, '.' | '_' | 'e' | 'E') || exponent_sign) {
                        break;
                    }
                    j += 1;
                }
                let text: String = chars[i..j].iter().map(|x| x.1).filter(|&x| x != '_').collect();
                let v: f64 = text.parse().map_err(|_| syntax(src, start, format!("{text:?} is not a number")))?;
                toks.push((Tok::Num(v), start));
                i = j;
                continue;
            }
            if c.is_alphabetic() || c == '_' {
                let mut j = i;
                while j < chars.len() && (chars[j].1.is_alphanumeric() || chars[j].1 == '_' || chars[j].1 == '.') {
                    j += 1;
                }
                let s: String = chars[i..j].iter().map(|x| x.1).collect();
                toks.push((Tok::Ident(s), start));
                i = j;
                continue;
            }
            return Err(syntax(src, start, format!("unexpected character {c:?}")));
        }
        toks.push((Tok::End, src.chars().count() + 1));
        Ok(Lexer { src, toks, pos: 0 })
    }

    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn peek2(&self) -> &Tok {
        &self.toks[(self.pos + 1).min(self.toks.len() - 1)].0
    }
    fn col(&self) -> usize {
        self.toks[self.pos].1
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].0.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn expect(&mut self, t: Tok, what: &str) -> Result<()> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            Err(syntax(self.src, self.col(), format!("expected {what}")))
        }
    }

    // expr := term (("+"|"-") term)*
    fn expr(&mut self) -> Result<f64> {
        let mut v = self.term()?;
        loop {
            match self.peek() {
                Tok::Plus => {
                    self.next();
                    v += self.term()?;
                }
                Tok::Minus => {
                    self.next();
                    v -= self.term()?;
                }
                _ => return Ok(v),
            }
        }
    }
    // term := unary (("*"|"/") unary)*
    fn term(&mut self) -> Result<f64> {
        let mut v = self.unary()?;
        loop {
            match self.peek() {
                Tok::Star => {
                    self.next();
                    v *= self.unary()?;
                }
                Tok::Slash => {
                    self.next();
                    v /= self.unary()?;
                }
                _ => return Ok(v),
            }
        }
    }
    // unary := ("-"|"+") unary | power
    fn unary(&mut self) -> Result<f64> {
        match self.peek() {
            Tok::Minus => {
                self.next();
                Ok(-self.unary()?)
            }
            Tok::Plus => {
                self.next();
                self.unary()
            }
            _ => self.power(),
        }
    }
    // power := atom [("^"|"**") unary]
    fn power(&mut self) -> Result<f64> {
        let base = self.atom()?;
        if *self.peek() == Tok::Pow {
            self.next();
            let e = self.unary()?;
            // integer powers by repeated multiplication (exact sequence), others by libm
            if e.fract() == 0.0 && e.abs() <= 64.0 {
                let mut r = 1.0;
                for _ in 0..(e.abs() as u32) {
                    r *= base;
                }
                return Ok(if e < 0.0 { 1.0 / r } else { r });
            }
            return Ok(libm::pow(base, e));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<f64> {
        let col = self.col();
        match self.next() {
            Tok::Num(v) => Ok(v),
            Tok::LParen => {
                let v = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(v)
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                match lower.as_str() {
                    "pi" => return Ok(std::f64::consts::PI),
                    "e" => return Ok(std::f64::consts::E),
                    "inf" | "infinity" => return Ok(f64::INFINITY),
                    "nan" => return Ok(f64::NAN),
                    _ => {}
                }
                if *self.peek() == Tok::LParen {
                    self.next();
                    let x = self.expr()?;
                    self.expect(Tok::RParen, "')'")?;
                    return match lower.as_str() {
                        "sqrt" => Ok(x.sqrt()),
                        "exp" => Ok(libm::exp(x)),
                        "ln" | "log" => Ok(libm::log(x)),
                        _ => Err(syntax(self.src, col, format!("unknown function {name:?}; known: sqrt, exp, ln"))),
                    };
                }
                Err(syntax(self.src, col, format!("expected a number, found {name:?}")))
            }
            _ => Err(syntax(self.src, col, "expected a number")),
        }
    }

    /// A value: a quoted or bare word, or a number expression.
    fn value(&mut self) -> Result<Value> {
        let col = self.col();
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(Value { kind: ValueKind::Word(s), column: col })
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                let is_number = matches!(lower.as_str(), "pi" | "e" | "inf" | "infinity" | "nan")
                    || (matches!(lower.as_str(), "sqrt" | "exp" | "ln" | "log") && *self.peek2() == Tok::LParen);
                if is_number {
                    let v = self.expr()?;
                    return Ok(Value { kind: ValueKind::Number(v), column: col });
                }
                self.next();
                // a word may carry its own arguments, like leaky_relu(0.2): keep them verbatim
                let mut text = name;
                if *self.peek() == Tok::LParen {
                    let start = self.pos;
                    let mut depth = 0;
                    loop {
                        match self.next() {
                            Tok::LParen => depth += 1,
                            Tok::RParen => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Tok::End => return Err(syntax(self.src, self.col(), "unbalanced parentheses")),
                            _ => {}
                        }
                    }
                    let from = self.toks[start].1;
                    let to = self.toks[self.pos].1;
                    let inner: String = self.src.chars().skip(from - 1).take(to - from).collect();
                    text.push_str(inner.trim_end());
                }
                Ok(Value { kind: ValueKind::Word(text), column: col })
            }
            _ => {
                let v = self.expr()?;
                Ok(Value { kind: ValueKind::Number(v), column: col })
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum ValueKind {
    Number(f64),
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Value {
    kind: ValueKind,
    column: usize,
}

#[derive(Debug)]
struct Call {
    name: String,
    name_column: usize,
    args: Vec<(Option<(String, usize)>, Value)>,
}

fn parse_call(src: &str) -> Result<Call> {
    let mut lx = Lexer::new(src)?;
    let name_column = lx.col();
    let name = match lx.next() {
        Tok::Ident(n) => n,
        Tok::End => return Err(syntax(src, 1, "empty scheme; write a name like kaiming_normal or normal(std=0.02)")),
        _ => return Err(syntax(src, name_column, "expected a scheme name")),
    };
    let mut args = Vec::new();
    if *lx.peek() == Tok::LParen {
        lx.next();
        loop {
            if *lx.peek() == Tok::RParen {
                lx.next();
                break;
            }
            let key = match (lx.peek().clone(), lx.peek2().clone()) {
                (Tok::Ident(k), Tok::Eq) => {
                    let c = lx.col();
                    lx.next();
                    lx.next();
                    Some((k, c))
                }
                _ => None,
            };
            let v = lx.value()?;
            args.push((key, v));
            match lx.next() {
                Tok::Comma => {}
                Tok::RParen => break,
                _ => return Err(syntax(src, lx.toks[lx.pos.saturating_sub(1)].1, "expected ',' or ')'")),
            }
        }
    }
    if *lx.peek() != Tok::End {
        return Err(syntax(src, lx.col(), "unexpected text after the scheme"));
    }
    Ok(Call { name, name_column, args })
}

/// Parse a number expression such as `0.02`, `1/sqrt(5)`, `2**-3`; `None`
/// if it is not one.
pub fn parse_number(s: &str) -> Option<f64> {
    let mut lx = Lexer::new(s).ok()?;
    if *lx.peek() == Tok::End {
        return None;
    }
    let v = lx.expr().ok()?;
    (*lx.peek() == Tok::End).then_some(v)
}

/// Normalise a scheme name: dotted prefixes dropped, CamelCase to
/// snake_case, lower case, trailing `_` (PyTorch's in-place suffix) dropped.
fn normalise_name(name: &str) -> String {
    let last = name.rsplit('.').next().unwrap_or(name);
    let mut out = String::new();
    let mut prev_lower = false;
    for c in last.chars() {
        if c.is_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.extend(c.to_lowercase());
            prev_lower = false;
        } else {
            out.push(c);
            prev_lower = c.is_lowercase() || c.is_ascii_digit();
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

// ---------------------------------------------------------------------------
// Binding arguments to parameters

struct Args {
    scheme: &'static str,
    names: &'static [&'static str],
    values: Vec<Option<Value>>,
}

impl Args {
    fn bind(
        scheme: &'static str,
        names: &'static [&'static str],
        aliases: &[(&str, &'static str)],
        call: &Call,
    ) -> Result<Args> {
        let mut values: Vec<Option<Value>> = vec![None; names.len()];
        let mut positional = 0;
        let mut seen_keyword = false;
        for (key, v) in &call.args {
            let idx = match key {
                None => {
                    if seen_keyword {
                        return Err(syntax(&call_text(call), v.column, "positional argument after a keyword argument"));
                    }
                    if positional >= names.len() {
                        return Err(Error::InvalidParameter {
                            scheme: scheme.into(),
                            param: "arguments".into(),
                            value: format!("{} given", call.args.len()),
                            reason: if names.is_empty() {
                                "it takes no parameters".into()
                            } else {
                                format!("it takes at most {}: {}", names.len(), names.join(", "))
                            },
                        });
                    }
                    positional += 1;
                    positional - 1
                }
                Some((k, _)) => {
                    seen_keyword = true;
                    let k = k.to_ascii_lowercase();
                    let canonical = aliases.iter().find(|(a, _)| *a == k).map_or(k.as_str(), |(_, c)| c);
                    names.iter().position(|n| *n == canonical).ok_or_else(|| Error::UnknownParameter {
                        scheme: scheme.into(),
                        param: k.clone(),
                        suggestion: closest(&k, names.iter().copied().chain(aliases.iter().map(|(a, _)| *a))),
                        valid: if names.is_empty() { "nothing".into() } else { names.join(", ") },
                    })?
                }
            };
            if values[idx].is_some() {
                return Err(Error::DuplicateParameter { scheme: scheme.into(), param: names[idx].into() });
            }
            values[idx] = Some(v.clone());
        }
        Ok(Args { scheme, names, values })
    }

    fn index(&self, name: &str) -> usize {
        self.names.iter().position(|n| *n == name).expect("parameter names are static")
    }

    fn invalid(&self, name: &str, value: impl fmt::Display, reason: &str) -> Error {
        Error::InvalidParameter {
            scheme: self.scheme.into(),
            param: name.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    /// A number parameter; `None` if absent.
    fn num_opt(&self, name: &str) -> Result<Option<f64>> {
        match &self.values[self.index(name)] {
            None => Ok(None),
            Some(Value { kind: ValueKind::Number(x), .. }) => {
                if x.is_nan() {
                    Err(self.invalid(name, "nan", "must be a number"))
                } else {
                    Ok(Some(*x))
                }
            }
            Some(Value { kind: ValueKind::Word(w), .. }) => Err(self.invalid(name, w, "must be a number")),
        }
    }

    fn num(&self, name: &str, default: f64) -> Result<f64> {
        Ok(self.num_opt(name)?.unwrap_or(default))
    }

    fn finite(&self, name: &str, default: f64) -> Result<f64> {
        let x = self.num(name, default)?;
        if !x.is_finite() {
            return Err(self.invalid(name, fmt_num(x), "must be finite"));
        }
        Ok(x)
    }

    fn positive(&self, name: &str, default: f64) -> Result<f64> {
        let x = self.finite(name, default)?;
        if x <= 0.0 {
            return Err(self.invalid(name, fmt_num(x), "must be > 0"));
        }
        Ok(x)
    }

    fn required(&self, name: &str, hint: &str) -> Result<f64> {
        if self.values[self.index(name)].is_none() {
            return Err(Error::MissingParameter { scheme: self.scheme.into(), param: name.into(), hint: hint.into() });
        }
        self.finite(name, 0.0)
    }

    fn word(&self, name: &str) -> Option<(String, usize)> {
        match &self.values[self.index(name)] {
            Some(Value { kind: ValueKind::Word(w), column }) => Some((w.clone(), *column)),
            Some(Value { kind: ValueKind::Number(x), column }) => Some((fmt_num(*x), *column)),
            None => None,
        }
    }

    fn integer(&self, name: &str, default: u64) -> Result<u64> {
        let x = self.num(name, default as f64)?;
        if !(x >= 0.0 && x.fract() == 0.0 && x < 9.0e15) {
            return Err(self.invalid(name, fmt_num(x), "must be a non-negative integer"));
        }
        Ok(x as u64)
    }

    /// A gain: a positive number, or a nonlinearity whose PyTorch gain is used.
    fn gain(&self, name: &str) -> Result<f64> {
        if let Some(Value { kind: ValueKind::Word(w), .. }) = &self.values[self.index(name)] {
            let act: Activation = w.parse()?;
            return act.torch_gain();
        }
        self.positive(name, 1.0)
    }
}

fn call_text(call: &Call) -> String {
    call.name.clone()
}

/// Format a number for the canonical scheme string: integers plainly,
/// everything else with Rust's shortest round-trip representation.
pub fn fmt_num(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    format!("{x:?}")
}

impl FromStr for Init {
    type Err = Error;

    fn from_str(src: &str) -> Result<Init> {
        let call = parse_call(src)?;
        let name = normalise_name(&call.name);
        if jax::is_jax_name(&call.name) {
            return jax::parse(&name, &call);
        }
        let name = match name.as_str() {
            "zero" => "zeros".to_string(),
            "one" => "ones".to_string(),
            "he_uniform_" => "he_uniform".to_string(),
            "kaiming_he_normal" => "kaiming_normal".to_string(),
            _ => name,
        };
        let init = match name.as_str() {
            "uniform" => {
                let a = Args::bind(
                    "uniform",
                    &["a", "b"],
                    &[("low", "a"), ("high", "b"), ("minval", "a"), ("maxval", "b")],
                    &call,
                )?;
                Init::Uniform { a: a.finite("a", 0.0)?, b: a.finite("b", 1.0)? }
            }
            "random_uniform" => {
                let a =
                    Args::bind("random_uniform", &["minval", "maxval"], &[("a", "minval"), ("b", "maxval")], &call)?;
                Init::Uniform { a: a.finite("minval", -0.05)?, b: a.finite("maxval", 0.05)? }
            }
            "normal" => {
                let a = Args::bind(
                    "normal",
                    &["mean", "std"],
                    &[("stddev", "std"), ("loc", "mean"), ("scale", "std")],
                    &call,
                )?;
                Init::Normal { mean: a.finite("mean", 0.0)?, std: a.num("std", 1.0)? }
            }
            "random_normal" => {
                let a = Args::bind("random_normal", &["mean", "stddev"], &[("std", "stddev")], &call)?;
                Init::Normal { mean: a.finite("mean", 0.0)?, std: a.num("stddev", 0.05)? }
            }
            "trunc_normal" => {
                let a = Args::bind(
                    "trunc_normal",
                    &["mean", "std", "a", "b"],
                    &[("stddev", "std"), ("low", "a"), ("high", "b")],
                    &call,
                )?;
                Init::TruncNormal {
                    mean: a.finite("mean", 0.0)?,
                    std: a.num("std", 1.0)?,
                    a: a.num("a", -2.0)?,
                    b: a.num("b", 2.0)?,
                }
            }
            "truncated_normal" => {
                // Keras: bounds at mean +- 2 stddev, no variance correction
                let a = Args::bind("truncated_normal", &["mean", "stddev"], &[("std", "stddev")], &call)?;
                let mean = a.finite("mean", 0.0)?;
                let std = a.positive("stddev", 0.05)?;
                Init::TruncNormal { mean, std, a: mean - 2.0 * std, b: mean + 2.0 * std }
            }
            "constant" => {
                let a = Args::bind("constant", &["val"], &[("value", "val"), ("fill_value", "val")], &call)?;
                Init::Constant { value: a.required("val", "the value every element takes")? }
            }
            "zeros" | "ones" => {
                Args::bind(if name == "zeros" { "zeros" } else { "ones" }, &[], &[], &call)?;
                Init::Constant { value: if name == "zeros" { 0.0 } else { 1.0 } }
            }
            "eye" | "identity" => {
                let a = Args::bind("eye", &["gain"], &[], &call)?;
                Init::Eye { gain: a.finite("gain", 1.0)? }
            }
            "dirac" => {
                let a = Args::bind("dirac", &["groups"], &[], &call)?;
                Init::Dirac { groups: a.integer("groups", 1)? }
            }
            "xavier_uniform" | "xavier_normal" => {
                let family = if name.ends_with("uniform") { Family::Uniform } else { Family::Normal };
                let a = Args::bind(
                    if family == Family::Uniform { "xavier_uniform" } else { "xavier_normal" },
                    &["gain"],
                    &[],
                    &call,
                )?;
                Init::Xavier { family, gain: a.gain("gain")? }
            }
            "kaiming_uniform" | "kaiming_normal" => {
                let family = if name.ends_with("uniform") { Family::Uniform } else { Family::Normal };
                let a = Args::bind(
                    if family == Family::Uniform { "kaiming_uniform" } else { "kaiming_normal" },
                    &["a", "mode", "nonlinearity"],
                    &[("negative_slope", "a")],
                    &call,
                )?;
                let slope = a.finite("a", 0.0)?;
                let mode = match a.word("mode") {
                    None => FanMode::FanIn,
                    Some((m, _)) => FanMode::parse_torch(&m)?,
                };
                let nonlinearity = match a.word("nonlinearity") {
                    None => "leaky_relu",
                    Some((n, _)) => {
                        let lower = n.to_ascii_lowercase();
                        *TORCH_GAIN_NAMES.iter().find(|x| **x == lower).ok_or_else(|| {
                            Error::UnsupportedNonlinearity {
                                name: n.clone(),
                                suggestion: closest(&lower, TORCH_GAIN_NAMES),
                            }
                        })?
                    }
                };
                Init::Kaiming { family, a: slope, mode, nonlinearity }
            }
            "lecun_uniform" | "lecun_normal" | "glorot_uniform" | "glorot_normal" | "he_uniform" | "he_normal" => {
                let family = match &name[..name.find('_').unwrap_or(0)] {
                    "lecun" => KerasFamily::Lecun,
                    "glorot" => KerasFamily::Glorot,
                    _ => KerasFamily::He,
                };
                let distribution = if name.ends_with("uniform") { Family::Uniform } else { Family::Normal };
                let static_name = NAMES.iter().find(|n| **n == name).copied().unwrap_or("variance_scaling");
                Args::bind(static_name, &[], &[], &call)?;
                Init::Keras { family, distribution }
            }
            "variance_scaling" => {
                let a = Args::bind("variance_scaling", &["scale", "mode", "distribution"], &[], &call)?;
                let scale = a.positive("scale", 1.0)?;
                let mode = match a.word("mode") {
                    None => FanMode::FanIn,
                    Some((m, _)) => FanMode::parse_keras(&m).map_err(|_| Error::BadMode {
                        mode: m.clone(),
                        valid: format!(
                            "['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg']{}",
                            mode_suggestion(&m).map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
                        ),
                    })?,
                };
                let distribution = match a.word("distribution").map(|(d, _)| d.to_ascii_lowercase()) {
                    None => VsDistribution::TruncatedNormal,
                    Some(d) => match d.as_str() {
                        "truncated_normal" => VsDistribution::TruncatedNormal,
                        "untruncated_normal" => VsDistribution::UntruncatedNormal,
                        "uniform" => VsDistribution::Uniform,
                        "normal" => {
                            return Err(a.invalid(
                                "distribution",
                                "normal",
                                "ambiguous: Keras means truncated_normal, JAX means untruncated_normal; write the one you mean",
                            ));
                        }
                        _ => {
                            return Err(a.invalid(
                                "distribution",
                                &d,
                                "valid: truncated_normal, untruncated_normal, uniform",
                            ));
                        }
                    },
                };
                Init::VarianceScaling { scale, mode, distribution }
            }
            "orthogonal" => {
                let a = Args::bind("orthogonal", &["gain"], &[("scale", "gain")], &call)?;
                Init::Orthogonal { gain: a.gain("gain")? }
            }
            "delta_orthogonal" => {
                let a = Args::bind("delta_orthogonal", &["gain"], &[("scale", "gain")], &call)?;
                Init::DeltaOrthogonal { gain: a.gain("gain")? }
            }
            "sparse" => {
                let a = Args::bind("sparse", &["sparsity", "std"], &[], &call)?;
                Init::Sparse {
                    sparsity: a.required("sparsity", "the fraction of each column set to zero, in [0, 1]")?,
                    std: a.num("std", 0.01)?,
                }
            }
            "torch_default" => {
                Args::bind("torch_default", &[], &[], &call)?;
                Init::TorchDefault
            }
            "torch_default_bias" => {
                let a = Args::bind("torch_default_bias", &["fan_in"], &[], &call)?;
                let fan_in = match a.num_opt("fan_in")? {
                    None => None,
                    Some(_) => Some(a.integer("fan_in", 0)?),
                };
                Init::TorchDefaultBias { fan_in }
            }
            _ => {
                let _ = call.name_column;
                return Err(Error::UnknownScheme {
                    name: call.name.clone(),
                    suggestion: closest(&name, NAMES.iter().copied()),
                });
            }
        };
        init.validate()?;
        Ok(init)
    }
}

// ---------------------------------------------------------------------------
// Validation, display

impl Init {
    /// The canonical scheme name.
    pub fn name(&self) -> &'static str {
        match self {
            Init::Uniform { .. } => "uniform",
            Init::Normal { .. } => "normal",
            Init::TruncNormal { .. } => "trunc_normal",
            Init::Constant { value } if *value == 0.0 && value.is_sign_positive() => "zeros",
            Init::Constant { value } if *value == 1.0 => "ones",
            Init::Constant { .. } => "constant",
            Init::Eye { .. } => "eye",
            Init::Dirac { .. } => "dirac",
            Init::Xavier { family: Family::Uniform, .. } => "xavier_uniform",
            Init::Xavier { family: Family::Normal, .. } => "xavier_normal",
            Init::Kaiming { family: Family::Uniform, .. } => "kaiming_uniform",
            Init::Kaiming { family: Family::Normal, .. } => "kaiming_normal",
            Init::Keras { family, distribution } => match (family, distribution) {
                (KerasFamily::Lecun, Family::Uniform) => "lecun_uniform",
                (KerasFamily::Lecun, Family::Normal) => "lecun_normal",
                (KerasFamily::Glorot, Family::Uniform) => "glorot_uniform",
                (KerasFamily::Glorot, Family::Normal) => "glorot_normal",
                (KerasFamily::He, Family::Uniform) => "he_uniform",
                (KerasFamily::He, Family::Normal) => "he_normal",
            },
            Init::VarianceScaling { .. } => "variance_scaling",
            Init::JaxVarianceScaling { .. } => "jax.variance_scaling",
            Init::Orthogonal { .. } => "orthogonal",
            Init::DeltaOrthogonal { .. } => "delta_orthogonal",
            Init::Sparse { .. } => "sparse",
            Init::TorchDefault => "torch_default",
            Init::TorchDefaultBias { .. } => "torch_default_bias",
        }
    }

    /// Check the parameters (DESIGN.md §4): finite numbers, std > 0,
    /// a < b, sparsity in [0, 1], groups >= 1, gains > 0.
    pub fn validate(&self) -> Result<()> {
        let bad = |param: &str, value: f64, reason: &str| {
            Err(Error::InvalidParameter {
                scheme: self.name().into(),
                param: param.into(),
                value: fmt_num(value),
                reason: reason.into(),
            })
        };
        let finite = |param: &str, v: f64| if v.is_finite() { Ok(()) } else { bad(param, v, "must be finite") };
        let positive = |param: &str, v: f64| {
            finite(param, v)?;
            if v > 0.0 { Ok(()) } else { bad(param, v, "must be > 0") }
        };
        match *self {
            Init::Uniform { a, b } => {
                finite("a", a)?;
                finite("b", b)?;
                if a >= b {
                    return bad("b", b, &format!("must be greater than a = {}", fmt_num(a)));
                }
                if !(b - a).is_finite() {
                    return bad("b", b, "b - a overflows");
                }
            }
            Init::Normal { mean, std } => {
                finite("mean", mean)?;
                positive("std", std)?;
            }
            Init::TruncNormal { mean, std, a, b } => {
                finite("mean", mean)?;
                positive("std", std)?;
                if a.is_nan() || a == f64::INFINITY {
                    return bad("a", a, "must be a number below b (may be -inf)");
                }
                if b.is_nan() || b == f64::NEG_INFINITY {
                    return bad("b", b, "must be a number above a (may be inf)");
                }
                if a >= b {
                    return bad("b", b, &format!("must be greater than a = {}", fmt_num(a)));
                }
                let (alpha, beta) = ((a - mean) / std, (b - mean) / std);
                if special::norm_mass(alpha, beta).is_nan() || special::norm_mass(alpha, beta) <= 0.0 {
                    return bad(
                        "a",
                        a,
                        &format!(
                            "[a, b] = [{}, {}] has probability 0 under N({}, {}^2) in double precision",
                            fmt_num(a),
                            fmt_num(b),
                            fmt_num(mean),
                            fmt_num(std)
                        ),
                    );
                }
            }
            Init::Constant { value } => finite("val", value)?,
            Init::Eye { gain } => finite("gain", gain)?,
            Init::Dirac { groups } => {
                if groups == 0 {
                    return bad("groups", 0.0, "must be >= 1");
                }
            }
            Init::Xavier { gain, .. } | Init::Orthogonal { gain } | Init::DeltaOrthogonal { gain } => {
                positive("gain", gain)?
            }
            Init::Kaiming { a, nonlinearity, .. } => {
                finite("a", a)?;
                if !TORCH_GAIN_NAMES.contains(&nonlinearity) {
                    return Err(Error::UnsupportedNonlinearity { name: nonlinearity.into(), suggestion: None });
                }
            }
            Init::Keras { .. } | Init::TorchDefault | Init::TorchDefaultBias { .. } => {}
            Init::VarianceScaling { scale, .. } | Init::JaxVarianceScaling { scale, .. } => positive("scale", scale)?,
            Init::Sparse { sparsity, std } => {
                finite("sparsity", sparsity)?;
                if !(0.0..=1.0).contains(&sparsity) {
                    return bad("sparsity", sparsity, "must be in [0, 1]");
                }
                positive("std", std)?;
            }
        }
        Ok(())
    }

    /// The gain of a Kaiming scheme, as PyTorch's `calculate_gain(nonlinearity, a)`.
    fn kaiming_gain(a: f64, nonlinearity: &str) -> Result<f64> {
        calculate_gain(nonlinearity, Some(&crate::gain::GainParam::Number(a)))
    }
}

/// The canonical scheme string, with every parameter spelled out; it
/// parses back to an equal [`Init`].
impl fmt::Display for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        match *self {
            Init::Uniform { a, b } => write!(f, "{name}(a={}, b={})", fmt_num(a), fmt_num(b)),
            Init::Normal { mean, std } => write!(f, "{name}(mean={}, std={})", fmt_num(mean), fmt_num(std)),
            Init::TruncNormal { mean, std, a, b } => {
                write!(f, "{name}(mean={}, std={}, a={}, b={})", fmt_num(mean), fmt_num(std), fmt_num(a), fmt_num(b))
            }
            Init::Constant { value } => {
                if name == "constant" {
                    write!(f, "constant(val={})", fmt_num(value))
                } else {
                    f.write_str(name)
                }
            }
            Init::Eye { gain } => write!(f, "{name}(gain={})", fmt_num(gain)),
            Init::Dirac { groups } => write!(f, "{name}(groups={groups})"),
            Init::Xavier { gain, .. } | Init::Orthogonal { gain } | Init::DeltaOrthogonal { gain } => {
                write!(f, "{name}(gain={})", fmt_num(gain))
            }
            Init::Kaiming { a, mode, nonlinearity, .. } => {
                write!(f, "{name}(a={}, mode={mode}, nonlinearity={nonlinearity})", fmt_num(a))
            }
            Init::Keras { .. } | Init::TorchDefault => f.write_str(name),
            Init::VarianceScaling { scale, mode, distribution } => {
                write!(f, "{name}(scale={}, mode={mode}, distribution={})", fmt_num(scale), distribution.name())
            }
            Init::JaxVarianceScaling { scale, mode, distribution, axes } => write!(
                f,
                "{name}(scale={}, mode={mode}, distribution={}, in_axis={}, out_axis={}, batch_axis={})",
                fmt_num(scale),
                // JAX's word for the untruncated normal
                if distribution == VsDistribution::UntruncatedNormal { "normal" } else { distribution.name() },
                axes.in_axis,
                axes.out_axis,
                axes.batch_axis
            ),
            Init::Sparse { sparsity, std } => write!(f, "{name}(sparsity={}, std={})", fmt_num(sparsity), fmt_num(std)),
            Init::TorchDefaultBias { fan_in: Some(n) } => write!(f, "{name}(fan_in={n})"),
            Init::TorchDefaultBias { fan_in: None } => f.write_str(name),
        }
    }
}

// ---------------------------------------------------------------------------
// Resolution

/// How to read a shape when resolving a scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ResolveOptions {
    /// Whose weight layout.
    pub layout: Layout,
    /// The weight is a transposed convolution's (see [`Fans::of`]).
    pub transposed: bool,
}

impl From<Layout> for ResolveOptions {
    fn from(layout: Layout) -> Self {
        ResolveOptions { layout, transposed: false }
    }
}

/// The concrete distribution a scheme resolves to for one shape.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Resolved {
    /// The tensor has no elements; nothing to draw.
    Empty,
    /// U(low, high).
    Uniform {
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// N(mean, std^2).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// N(mean, std^2) restricted to [low, high].
    TruncNormal {
        /// Mean of the parent normal.
        mean: f64,
        /// Standard deviation of the parent normal.
        std: f64,
        /// Lower bound.
        low: f64,
        /// Upper bound.
        high: f64,
    },
    /// Every element equal.
    Constant {
        /// The value.
        value: f64,
    },
    /// `value` on the main diagonal of a `rows x cols` matrix, 0 elsewhere.
    Eye {
        /// Rows.
        rows: u64,
        /// Columns.
        cols: u64,
        /// Diagonal value.
        value: f64,
    },
    /// Dirac delta convolution kernel.
    Dirac {
        /// Groups.
        groups: u64,
        /// Where `out` and `in` are in the shape.
        layout: Layout,
    },
    /// gain times a matrix with orthonormal rows or columns, of the
    /// tensor flattened to `rows x cols`.
    Orthogonal {
        /// Rows after flattening.
        rows: u64,
        /// Columns after flattening.
        cols: u64,
        /// Multiplier.
        gain: f64,
    },
    /// Zeros, but gain times an `fan_in x fan_out` matrix with orthonormal
    /// rows at the spatial centre.
    DeltaOrthogonal {
        /// Input channels.
        channels_in: u64,
        /// Output channels.
        channels_out: u64,
        /// Multiplier.
        gain: f64,
        /// Where `out` and `in` are in the shape.
        layout: Layout,
    },
    /// N(0, std^2) with exactly `zeros_per_column` zeros in every column.
    Sparse {
        /// Rows.
        rows: u64,
        /// Columns.
        cols: u64,
        /// Zeros per column.
        zeros_per_column: u64,
        /// Standard deviation of the rest.
        std: f64,
    },
}

fn bad_shape(what: &str, shape: &Shape, reason: impl Into<String>) -> Error {
    Error::BadShape { what: what.into(), shape: shape_text(shape.dims()), reason: reason.into() }
}

impl Init {
    /// Resolve the scheme for a tensor shape: compute fans, gains and bounds
    /// exactly as the scheme's home framework does.
    pub fn resolve(&self, shape: &Shape, opts: ResolveOptions) -> Result<Resolved> {
        self.validate()?;
        let name = self.name();
        let rank = shape.rank();
        // Shape requirements come first, so a bad shape is reported even for an empty tensor.
        match self {
            Init::Eye { .. } | Init::Sparse { .. } if rank != 2 => {
                return Err(bad_shape(name, shape, "Only tensors with 2 dimensions are supported"));
            }
            Init::Dirac { .. } if !(3..=5).contains(&rank) => {
                return Err(bad_shape(name, shape, "Only tensors with 3, 4, or 5 dimensions are supported"));
            }
            Init::DeltaOrthogonal { .. } if !(3..=5).contains(&rank) => {
                return Err(bad_shape(name, shape, "delta_orthogonal requires a 3-D, 4-D or 5-D shape"));
            }
            Init::Orthogonal { .. } if rank < 2 => {
                return Err(bad_shape(name, shape, "Only tensors with 2 or more dimensions are supported"));
            }
            _ => {}
        }
        let fans = || Fans::of(shape, opts.layout, opts.transposed);
        if shape.numel() == 0 {
            // PyTorch returns early ("Initializing zero-element tensors is a no-op");
            // still report what a fan-based scheme could not compute.
            if matches!(self, Init::Xavier { .. } | Init::Kaiming { .. } | Init::TorchDefault) {
                fans()?;
            }
            return Ok(Resolved::Empty);
        }
        let sqrt3 = 3f64.sqrt();
        Ok(match *self {
            Init::Uniform { a, b } => Resolved::Uniform { low: a, high: b },
            Init::Normal { mean, std } => Resolved::Normal { mean, std },
            Init::TruncNormal { mean, std, a, b } => Resolved::TruncNormal { mean, std, low: a, high: b },
            Init::Constant { value } => Resolved::Constant { value },
            Init::Eye { gain } => Resolved::Eye { rows: shape.dims()[0], cols: shape.dims()[1], value: gain },
            Init::Dirac { groups } => {
                let out = if opts.layout.out_last() { shape.dims()[rank - 1] } else { shape.dims()[0] };
                if out % groups != 0 {
                    return Err(bad_shape(
                        name,
                        shape,
                        format!(
                            "dim {} = {out} must be divisible by groups = {groups}",
                            if opts.layout.out_last() { rank - 1 } else { 0 }
                        ),
                    ));
                }
                Resolved::Dirac { groups, layout: opts.layout }
            }
            Init::Xavier { family, gain } => {
                let f = fans()?;
                // PyTorch: std = gain * sqrt(2 / (fan_in + fan_out)); a = sqrt(3) * std
                let std = gain * (2.0 / (f.fan_in as f64 + f.fan_out as f64)).sqrt();
                match family {
                    Family::Normal => Resolved::Normal { mean: 0.0, std },
                    Family::Uniform => Resolved::Uniform { low: -(sqrt3 * std), high: sqrt3 * std },
                }
            }
            Init::Kaiming { family, a, mode, nonlinearity } => {
                let f = fans()?;
                let fan = f.get(mode);
                let gain = Init::kaiming_gain(a, nonlinearity)?;
                let std = gain / fan.sqrt();
                match family {
                    Family::Normal => Resolved::Normal { mean: 0.0, std },
                    Family::Uniform => Resolved::Uniform { low: -(sqrt3 * std), high: sqrt3 * std },
                }
            }
            Init::Keras { family, distribution } => {
                let (scale, mode) = family.scale_mode();
                let dist = match distribution {
                    Family::Uniform => VsDistribution::Uniform,
                    Family::Normal => VsDistribution::TruncatedNormal,
                };
                variance_scaling(scale, mode, dist, &fans()?)
            }
            Init::VarianceScaling { scale, mode, distribution } => {
                variance_scaling(scale, mode, distribution, &fans()?)
            }
            Init::JaxVarianceScaling { scale, mode, distribution, axes } => {
                variance_scaling(scale, mode, distribution, &Fans::of_jax_axes(shape, &axes)?)
            }
            Init::Orthogonal { gain } => {
                let d = shape.dims();
                let (rows, cols) = if opts.layout.out_last() {
                    (shape.numel() / d[rank - 1], d[rank - 1])
                } else {
                    (d[0], shape.numel() / d[0])
                };
                Resolved::Orthogonal { rows, cols, gain }
            }
            Init::DeltaOrthogonal { gain } => {
                let d = shape.dims();
                let (cin, cout) = if opts.layout.out_last() { (d[rank - 2], d[rank - 1]) } else { (d[1], d[0]) };
                if cin > cout {
                    return Err(bad_shape(
                        name,
                        shape,
                        format!("in = {cin} must be <= out = {cout} for an orthogonal kernel centre"),
                    ));
                }
                Resolved::DeltaOrthogonal { channels_in: cin, channels_out: cout, gain, layout: opts.layout }
            }
            Init::Sparse { sparsity, std } => {
                let (rows, cols) = (shape.dims()[0], shape.dims()[1]);
                let zeros = (sparsity * rows as f64).ceil() as u64;
                Resolved::Sparse { rows, cols, zeros_per_column: zeros.min(rows), std }
            }
            Init::TorchDefault => {
                // kaiming_uniform_(a=sqrt(5)), with PyTorch's exact operation order
                let f = fans()?;
                let a = 5f64.sqrt();
                let gain = (2.0 / (1.0 + a * a)).sqrt();
                let std = gain / (f.fan_in as f64).sqrt();
                let bound = sqrt3 * std;
                Resolved::Uniform { low: -bound, high: bound }
            }
            Init::TorchDefaultBias { fan_in } => {
                let fan_in = fan_in.ok_or_else(|| Error::MissingParameter {
                    scheme: name.into(),
                    param: "fan_in".into(),
                    hint: "the fan_in of the layer's weight, e.g. torch_default_bias(fan_in=768)".into(),
                })?;
                if fan_in == 0 {
                    Resolved::Constant { value: 0.0 }
                } else {
                    let bound = 1.0 / (fan_in as f64).sqrt();
                    Resolved::Uniform { low: -bound, high: bound }
                }
            }
        })
    }
}

fn variance_scaling(scale: f64, mode: FanMode, distribution: VsDistribution, fans: &Fans) -> Resolved {
    let n = fans.get(mode).max(1.0);
    let var = scale / n;
    match distribution {
        VsDistribution::TruncatedNormal => {
            let std = var.sqrt() / TRUNCATION_STD_CORRECTION;
            Resolved::TruncNormal { mean: 0.0, std, low: -2.0 * std, high: 2.0 * std }
        }
        VsDistribution::UntruncatedNormal => Resolved::Normal { mean: 0.0, std: var.sqrt() },
        VsDistribution::Uniform => {
            let limit = (3.0 * var).sqrt();
            Resolved::Uniform { low: -limit, high: limit }
        }
    }
}

/// Six significant digits, for descriptions.
fn g(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let mag = x.abs().log10().floor() as i32;
    if (-4..6).contains(&mag) {
        let decimals = (5 - mag).max(0) as usize;
        let s = format!("{x:.decimals$}");
        if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
    } else {
        let s = format!("{x:.5e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = if m.contains('.') { m.trim_end_matches('0').trim_end_matches('.') } else { m };
        format!("{m}e{e}")
    }
}

impl Resolved {
    /// True for schemes computed element by element from the stream
    /// (uniform, normal, truncated normal, constants, eye, dirac); false
    /// for those that need the whole matrix (orthogonal, delta-orthogonal,
    /// sparse).
    pub fn is_elementwise(&self) -> bool {
        !matches!(self, Resolved::Orthogonal { .. } | Resolved::DeltaOrthogonal { .. } | Resolved::Sparse { .. })
    }

    /// The exact mean and standard deviation over the elements of a tensor
    /// of `numel` elements drawn from this distribution (for the
    /// structured schemes, over the whole tensor).
    pub fn expected_moments(&self, shape: &Shape) -> (f64, f64) {
        let n = shape.numel() as f64;
        match *self {
            Resolved::Empty => (f64::NAN, f64::NAN),
            Resolved::Uniform { low, high } => ((low + high) / 2.0, (high - low) / 12f64.sqrt()),
            Resolved::Normal { mean, std } => (mean, std),
            Resolved::TruncNormal { mean, std, low, high } => {
                let (m, s) = special::trunc_norm_moments((low - mean) / std, (high - mean) / std);
                (mean + std * m, std * s)
            }
            Resolved::Constant { value } => (value, 0.0),
            Resolved::Eye { rows, cols, value } => {
                let k = rows.min(cols) as f64;
                point_mixture(k / n, value)
            }
            Resolved::Dirac { groups, layout } => {
                let d = shape.dims();
                let (out, inp) = if layout.out_last() { (d[d.len() - 1], d[d.len() - 2]) } else { (d[0], d[1]) };
                let ones = groups * (out / groups).min(inp);
                point_mixture(ones as f64 / n, 1.0)
            }
            Resolved::Orthogonal { rows, cols, gain } => {
                // sum of squares = gain^2 min(rows, cols) exactly; the mean is 0 in expectation
                (0.0, gain * (rows.min(cols) as f64 / n).sqrt())
            }
            Resolved::DeltaOrthogonal { channels_in, gain, .. } => (0.0, gain * (channels_in as f64 / n).sqrt()),
            Resolved::Sparse { rows, zeros_per_column, std, .. } => {
                (0.0, std * ((rows - zeros_per_column) as f64 / rows as f64).sqrt())
            }
        }
    }

    /// The closed interval every value lies in, when there is one.
    pub fn support(&self) -> Option<(f64, f64)> {
        match *self {
            Resolved::Uniform { low, high } => Some((low, high)),
            Resolved::TruncNormal { low, high, .. } => Some((low, high)),
            Resolved::Constant { value } => Some((value, value)),
            Resolved::Eye { value, .. } => Some((value.min(0.0), value.max(0.0))),
            Resolved::Dirac { .. } => Some((0.0, 1.0)),
            _ => None,
        }
    }

    /// The distribution function of one element, for the schemes whose
    /// elements are identically distributed (uniform, normal, truncated
    /// normal, sparse, constant); `None` otherwise.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        Some(match *self {
            Resolved::Uniform { low, high } => ((x - low) / (high - low)).clamp(0.0, 1.0),
            Resolved::Normal { mean, std } => special::norm_cdf((x - mean) / std),
            Resolved::TruncNormal { mean, std, low, high } => {
                special::trunc_norm_cdf((x - mean) / std, (low - mean) / std, (high - mean) / std)
            }
            Resolved::Sparse { rows, zeros_per_column, std, .. } => {
                let p0 = zeros_per_column as f64 / rows as f64;
                (1.0 - p0) * special::norm_cdf(x / std) + if x >= 0.0 { p0 } else { 0.0 }
            }
            Resolved::Constant { value } => f64::from(u8::from(x >= value)),
            _ => return None,
        })
    }
}

fn point_mixture(p: f64, value: f64) -> (f64, f64) {
    let mean = p * value;
    let second = p * value * value;
    (mean, (second - mean * mean).max(0.0).sqrt())
}

/// The distribution in words: `U(-0.0765, 0.0765)`, `N(0, 0.0442^2)`,
/// `N(0, 0.02^2) truncated to [-0.04, 0.04]`, ...
impl fmt::Display for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Resolved::Empty => f.write_str("nothing (zero elements)"),
            Resolved::Uniform { low, high } => write!(f, "U({}, {})", g(low), g(high)),
            Resolved::Normal { mean, std } => write!(f, "N({}, {}^2)", g(mean), g(std)),
            Resolved::TruncNormal { mean, std, low, high } => {
                write!(f, "N({}, {}^2) truncated to [{}, {}]", g(mean), g(std), g(low), g(high))?;
                let (a, b) = ((low - mean) / std, (high - mean) / std);
                if a.is_finite() && b.is_finite() && (a + b).abs() < 1e-12 * b.abs() {
                    write!(f, " (+-{} std)", g(b))?;
                }
                Ok(())
            }
            Resolved::Constant { value } => write!(f, "constant {}", g(value)),
            Resolved::Eye { rows, cols, value } => {
                write!(f, "{} on the diagonal of a {rows}x{cols} matrix, 0 elsewhere", g(value))
            }
            Resolved::Dirac { groups, .. } => {
                write!(f, "Dirac delta kernel ({groups} group{})", if groups == 1 { "" } else { "s" })
            }
            Resolved::Orthogonal { rows, cols, gain } => {
                let which = if rows <= cols { "orthonormal rows" } else { "orthonormal columns" };
                write!(f, "{} x ({rows}x{cols} matrix with {which})", g(gain))
            }
            Resolved::DeltaOrthogonal { channels_in, channels_out, gain, .. } => write!(
                f,
                "zeros but {} x ({channels_in}x{channels_out} matrix with orthonormal rows) at the kernel centre",
                g(gain)
            ),
            Resolved::Sparse { rows, zeros_per_column, std, .. } => {
                write!(f, "N(0, {}^2) with {zeros_per_column} of {rows} entries zero in every column", g(std))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(d: &[u64]) -> Shape {
        Shape::new(d.to_vec()).unwrap()
    }
    fn res(s: &str, d: &[u64], layout: Layout) -> Resolved {
        s.parse::<Init>().unwrap().resolve(&shape(d), layout.into()).unwrap()
    }

    #[test]
    fn parse_and_display_round_trip() {
        for s in [
            "uniform",
            "normal(0, 0.02)",
            "trunc_normal(std=0.02)",
            "trunc_normal(mean=1, std=2, a=-inf, b=3)",
            "constant(0.5)",
            "zeros",
            "ones",
            "eye",
            "dirac(groups=2)",
            "xavier_uniform(gain=tanh)",
            "xavier_normal",
            "kaiming_uniform(a=sqrt(5))",
            "kaiming_normal(mode='fan_out', nonlinearity='relu')",
            "lecun_normal",
            "glorot_uniform",
            "he_normal",
            "variance_scaling(2, fan_avg, uniform)",
            "orthogonal(gain=relu)",
            "delta_orthogonal",
            "sparse(0.1)",
            "torch_default",
            "torch_default_bias(fan_in=768)",
            "torch_default_bias",
            "GlorotNormal",
            "kaiming_normal_",
            "torch.nn.init.xavier_uniform_",
            "random_normal(stddev=0.02)",
            "truncated_normal",
        ] {
            let init: Init = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            let again: Init = init.to_string().parse().unwrap();
            assert_eq!(init, again, "{s} -> {init}");
        }
    }

    #[test]
    fn expressions() {
        assert_eq!(parse_number("1/sqrt(5)"), Some(1.0 / 5f64.sqrt()));
        assert_eq!(parse_number("2**-3"), Some(0.125));
        assert_eq!(parse_number("2^10"), Some(1024.0));
        assert_eq!(parse_number("-(1 + 2) * 3"), Some(-9.0));
        assert_eq!(parse_number("1e-3"), Some(0.001));
        assert_eq!(parse_number("abc"), None);
        assert_eq!(parse_number("1 2"), None);
        let i: Init = "normal(std=0.02/sqrt(2*24))".parse().unwrap();
        assert_eq!(i, Init::Normal { mean: 0.0, std: 0.02 / 48f64.sqrt() });
    }

    #[test]
    fn errors_are_specific() {
        let e = "kaiming_nromal".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("did you mean \"kaiming_normal\""), "{e}");
        let e = "normal(std=0)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("std") && e.contains("> 0"), "{e}");
        let e = "uniform(1, 0)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("greater than a"), "{e}");
        let e = "sparse(1.5)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("[0, 1]"), "{e}");
        let e = "sparse".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("needs parameter \"sparsity\""), "{e}");
        let e = "kaiming_normal(mode=fan_avg)".parse::<Init>().unwrap_err().to_string();
        assert_eq!(e, "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']");
        let e = "kaiming_normal(nonlinearity=gelu)".parse::<Init>().unwrap_err().to_string();
        assert!(e.starts_with("Unsupported nonlinearity gelu"), "{e}");
        let e = "normal(stdd=1)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("did you mean \"std\""), "{e}");
        let e = "normal(mean=nan)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("mean"), "{e}");
        let e = "normal(std=inf)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("finite"), "{e}");
        let e = "variance_scaling(distribution=normal)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("ambiguous"), "{e}");
        let e = "normal(1, 2, 3)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("at most 2"), "{e}");
        let e = "normal(std=1, std=2)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("more than once"), "{e}");
        let e = "normal(std=1".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("expected ',' or ')'"), "{e}");
        let e = "trunc_normal(mean=0, std=1, a=40, b=41)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains("probability 0"), "{e}");
        let e = "dirac(groups=0)".parse::<Init>().unwrap_err().to_string();
        assert!(e.contains(">= 1"), "{e}");
        assert!("".parse::<Init>().is_err());
        assert!("normal(std=)".parse::<Init>().is_err());
        assert!("xavier_normal(gain=relu6)".parse::<Init>().is_err());
    }

    #[test]
    fn torch_semantics() {
        // xavier: std = gain sqrt(2 / (fan_in + fan_out)), bound = sqrt(3) std
        let std = (2.0f64 / (512.0 + 256.0)).sqrt();
        assert_eq!(res("xavier_normal", &[256, 512], Layout::Torch), Resolved::Normal { mean: 0.0, std });
        assert_eq!(
            res("xavier_uniform", &[256, 512], Layout::Torch),
            Resolved::Uniform { low: -(3f64.sqrt() * std), high: 3f64.sqrt() * std }
        );
        // kaiming default: leaky_relu with a = 0 gives exactly sqrt(2)
        let std = 2f64.sqrt() / 512f64.sqrt();
        assert_eq!(res("kaiming_normal", &[256, 512], Layout::Torch), Resolved::Normal { mean: 0.0, std });
        // fan_out of a conv
        let std = 2f64.sqrt() / (64.0f64 * 9.0).sqrt();
        assert_eq!(
            res("kaiming_normal(mode=fan_out, nonlinearity=relu)", &[64, 32, 3, 3], Layout::Torch),
            Resolved::Normal { mean: 0.0, std }
        );
        // nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) up to rounding
        if let Resolved::Uniform { low, high } = res("torch_default", &[10, 100], Layout::Torch) {
            assert!((high - 0.1).abs() < 1e-16 && low == -high);
        } else {
            panic!()
        }
        assert_eq!(
            res("torch_default_bias(fan_in=100)", &[10], Layout::Torch),
            Resolved::Uniform { low: -0.1, high: 0.1 }
        );
        assert_eq!(res("torch_default_bias(fan_in=0)", &[10], Layout::Torch), Resolved::Constant { value: 0.0 });
        assert!(matches!(
            "kaiming_normal".parse::<Init>().unwrap().resolve(&shape(&[10]), Layout::Torch.into()),
            Err(Error::BadShape { .. })
        ));
        // zero-element tensors: a no-op, as in PyTorch
        assert_eq!(res("kaiming_normal", &[0, 5], Layout::Torch), Resolved::Empty);
    }

    #[test]
    fn keras_semantics() {
        // glorot_normal on a Dense(512 -> 256) kernel (512, 256): var = 1/384
        let var: f64 = 1.0 / 384.0;
        let std = var.sqrt() / TRUNCATION_STD_CORRECTION;
        assert_eq!(
            res("glorot_normal", &[512, 256], Layout::Keras),
            Resolved::TruncNormal { mean: 0.0, std, low: -2.0 * std, high: 2.0 * std }
        );
        // the corrected truncated normal has exactly the intended variance
        let r = res("he_normal", &[512, 256], Layout::Keras);
        let (_, s) = r.expected_moments(&shape(&[512, 256]));
        assert!((s - (2.0f64 / 512.0).sqrt()).abs() < 1e-15);
        // he_uniform: limit sqrt(3 * 2 / fan_in)
        assert_eq!(
            res("he_uniform", &[3, 3, 16, 32], Layout::Keras),
            Resolved::Uniform { low: -(6.0f64 / 144.0).sqrt(), high: (6.0f64 / 144.0).sqrt() }
        );
        // rank 1 and 0 under Keras: fans (n, n) and (1, 1)
        assert_eq!(
            res("lecun_uniform", &[4], Layout::Keras),
            Resolved::Uniform { low: -(0.75f64).sqrt(), high: 0.75f64.sqrt() }
        );
        assert_eq!(
            res("lecun_uniform", &[], Layout::Keras),
            Resolved::Uniform { low: -(3f64).sqrt(), high: 3f64.sqrt() }
        );
        // Keras truncated_normal: +-2 stddev, no correction
        assert_eq!(
            res("truncated_normal", &[3, 3], Layout::Keras),
            Resolved::TruncNormal { mean: 0.0, std: 0.05, low: -0.1, high: 0.1 }
        );
    }

    #[test]
    fn structured_shape_rules() {
        let e = "eye".parse::<Init>().unwrap().resolve(&shape(&[3, 3, 3]), Layout::Torch.into()).unwrap_err();
        assert!(e.to_string().contains("Only tensors with 2 dimensions"), "{e}");
        let e = "dirac(groups=3)"
            .parse::<Init>()
            .unwrap()
            .resolve(&shape(&[4, 4, 3, 3]), Layout::Torch.into())
            .unwrap_err();
        assert!(e.to_string().contains("divisible by groups"), "{e}");
        let e =
            "delta_orthogonal".parse::<Init>().unwrap().resolve(&shape(&[3, 3, 8, 4]), Layout::Jax.into()).unwrap_err();
        assert!(e.to_string().contains("must be <= out"), "{e}");
        assert_eq!(res("orthogonal", &[6, 2, 3], Layout::Torch), Resolved::Orthogonal { rows: 6, cols: 6, gain: 1.0 });
        assert_eq!(res("orthogonal", &[2, 3, 6], Layout::Keras), Resolved::Orthogonal { rows: 6, cols: 6, gain: 1.0 });
        assert_eq!(res("orthogonal", &[4, 8, 3], Layout::Torch), Resolved::Orthogonal { rows: 4, cols: 24, gain: 1.0 });
        assert_eq!(
            res("sparse(0.25)", &[10, 3], Layout::Torch),
            Resolved::Sparse { rows: 10, cols: 3, zeros_per_column: 3, std: 0.01 }
        );
    }

    #[test]
    fn descriptions() {
        assert_eq!(res("xavier_uniform", &[256, 512], Layout::Torch).to_string(), "U(-0.0883883, 0.0883883)");
        assert_eq!(res("normal(std=0.02)", &[2, 2], Layout::Torch).to_string(), "N(0, 0.02^2)");
        assert_eq!(
            res("glorot_normal", &[512, 256], Layout::Keras).to_string(),
            "N(0, 0.0580145^2) truncated to [-0.116029, 0.116029] (+-2 std)"
        );
    }
}
