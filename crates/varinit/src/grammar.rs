//! The scheme grammar: lexer, number expressions, and the call syntax
//! `name(key=value, ...)`.

use crate::error::{Error, Result};

/// Longest scheme string accepted, in bytes (hostile metadata cannot make
/// the parser work long: lexing is linear, and this bounds it).
pub const MAX_SCHEME_LEN: usize = 65_536;
/// Deepest nesting of parentheses and unary signs in a number expression
/// (the parser is recursive; this bounds its stack).
pub const MAX_NESTING: usize = 200;

// ---------------------------------------------------------------------------
// Lexer and parser

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
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

pub(crate) struct Lexer<'a> {
    src: &'a str,
    toks: Vec<(Tok, usize)>, // token, 1-based column
    pos: usize,
    /// Current nesting depth of [`Lexer::unary`] (bounded by [`MAX_NESTING`]).
    depth: usize,
    /// Template mode (style files): identifiers in number expressions are
    /// variables, and a bare word that names a known variable is a number.
    known: Option<&'a dyn Fn(&str) -> bool>,
}

pub(crate) fn syntax(src: &str, column: usize, message: impl Into<String>) -> Error {
    Error::Syntax { input: src.to_string(), column, message: message.into() }
}

impl<'a> Lexer<'a> {
    fn new(src: &'a str) -> Result<Self> {
        if src.len() > MAX_SCHEME_LEN {
            return Err(Error::TooLong { what: "scheme".into(), len: src.len(), max: MAX_SCHEME_LEN });
        }
        let mut toks = Vec::new();
        let chars: Vec<(usize, char)> = src.char_indices().collect();
        let mut i = 0;
        while i < chars.len() {
            let (_, c) = chars[i];
            // columns count characters: the index in `chars` (linear, no rescan)
            let start = i + 1;
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
        toks.push((Tok::End, chars.len() + 1));
        Ok(Lexer { src, toks, pos: 0, depth: 0, known: None })
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
    fn expr(&mut self) -> Result<Expr> {
        let first = self.term()?;
        let mut rest = Vec::new();
        loop {
            match self.peek() {
                Tok::Plus => {
                    self.next();
                    rest.push((false, self.term()?));
                }
                Tok::Minus => {
                    self.next();
                    rest.push((true, self.term()?));
                }
                _ => break,
            }
        }
        Ok(if rest.is_empty() { first } else { Expr::Sum(Box::new(first), rest) })
    }
    // term := unary (("*"|"/") unary)*
    fn term(&mut self) -> Result<Expr> {
        let first = self.unary()?;
        let mut rest = Vec::new();
        loop {
            match self.peek() {
                Tok::Star => {
                    self.next();
                    rest.push((false, self.unary()?));
                }
                Tok::Slash => {
                    self.next();
                    rest.push((true, self.unary()?));
                }
                _ => break,
            }
        }
        Ok(if rest.is_empty() { first } else { Expr::Product(Box::new(first), rest) })
    }
    /// Every recursion of the expression parser passes through here, so
    /// counting here bounds the stack for any input (and the depth of the
    /// tree: sums and products are flat lists, so evaluating and dropping
    /// it recurse at most this deep too).
    fn unary(&mut self) -> Result<Expr> {
        if self.depth >= MAX_NESTING {
            return Err(syntax(self.src, self.col(), format!("nested more than {MAX_NESTING} levels deep")));
        }
        self.depth += 1;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }
    // unary := ("-"|"+") unary | power
    fn unary_inner(&mut self) -> Result<Expr> {
        match self.peek() {
            Tok::Minus => {
                self.next();
                Ok(Expr::Neg(Box::new(self.unary()?)))
            }
            Tok::Plus => {
                self.next();
                self.unary()
            }
            _ => self.power(),
        }
    }
    // power := atom [("^"|"**") unary]
    fn power(&mut self) -> Result<Expr> {
        let base = self.atom()?;
        if *self.peek() == Tok::Pow {
            self.next();
            let e = self.unary()?;
            return Ok(Expr::Pow(Box::new(base), Box::new(e)));
        }
        Ok(base)
    }
    fn atom(&mut self) -> Result<Expr> {
        let col = self.col();
        match self.next() {
            Tok::Num(v) => Ok(Expr::Num(v)),
            Tok::LParen => {
                let v = self.expr()?;
                self.expect(Tok::RParen, "')'")?;
                Ok(v)
            }
            Tok::Ident(name) => {
                let lower = name.to_ascii_lowercase();
                if *self.peek() == Tok::LParen {
                    let f = match lower.as_str() {
                        "sqrt" => Func::Sqrt,
                        "exp" => Func::Exp,
                        "ln" | "log" => Func::Ln,
                        _ => {
                            return Err(syntax(
                                self.src,
                                col,
                                format!("unknown function {name:?}; known: sqrt, exp, ln"),
                            ));
                        }
                    };
                    self.next();
                    let x = self.expr()?;
                    self.expect(Tok::RParen, "')'")?;
                    return Ok(Expr::Func(f, Box::new(x)));
                }
                if self.known.is_some_and(|k| k(&name)) {
                    return Ok(Expr::Var { name, column: col });
                }
                match lower.as_str() {
                    "pi" => return Ok(Expr::Num(std::f64::consts::PI)),
                    "e" => return Ok(Expr::Num(std::f64::consts::E)),
                    "inf" | "infinity" => return Ok(Expr::Num(f64::INFINITY)),
                    "nan" => return Ok(Expr::Num(f64::NAN)),
                    _ => {}
                }
                if self.known.is_some() {
                    // checked by the caller, which knows the names and says "did you mean"
                    return Ok(Expr::Var { name, column: col });
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
                // in a template, a known variable or a name followed by an operator starts an expression
                let is_expression = self.known.is_some_and(|k| {
                    k(&name) || matches!(self.peek2(), Tok::Plus | Tok::Minus | Tok::Star | Tok::Slash | Tok::Pow)
                });
                if is_number || is_expression {
                    let v = self.expr()?;
                    return Ok(Value { kind: ValueKind::Expr(v), column: col });
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
                Ok(Value { kind: ValueKind::Expr(v), column: col })
            }
        }
    }
}

/// A function of a number expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Func {
    Sqrt,
    Exp,
    Ln,
}

/// A parsed number expression. Sums and products are flat lists, so the
/// tree is at most [`MAX_NESTING`] deep whatever the input's length.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    Num(f64),
    /// A variable (template mode only), with its 1-based column.
    Var {
        name: String,
        column: usize,
    },
    Neg(Box<Expr>),
    /// First term, then (subtract?, term) pairs, evaluated left to right.
    Sum(Box<Expr>, Vec<(bool, Expr)>),
    /// First factor, then (divide?, factor) pairs, evaluated left to right.
    Product(Box<Expr>, Vec<(bool, Expr)>),
    Pow(Box<Expr>, Box<Expr>),
    Func(Func, Box<Expr>),
}

impl Expr {
    /// The value, with `var(name, column)` giving each variable's.
    ///
    /// The operations are those of the Rust code this replaces, in the
    /// same order: `a/sqrt(2*(l+1))` is `a / (2.0 * (l + 1.0)).sqrt()` bit
    /// for bit. Integer powers up to 64 are repeated multiplications; other
    /// powers are `f64::powf`, the platform's `pow`, as Python's `**` is
    /// (so `d^-0.5` equals torchtitan's `dim**-0.5` and Rust's
    /// `powf(-0.5)`).
    pub(crate) fn eval<E>(&self, var: &mut dyn FnMut(&str, usize) -> Result<f64, E>) -> Result<f64, E> {
        Ok(match self {
            Expr::Num(v) => *v,
            Expr::Var { name, column } => var(name, *column)?,
            Expr::Neg(x) => -x.eval(var)?,
            Expr::Sum(first, rest) => {
                let mut v = first.eval(var)?;
                for (minus, t) in rest {
                    let t = t.eval(var)?;
                    if *minus { v -= t } else { v += t }
                }
                v
            }
            Expr::Product(first, rest) => {
                let mut v = first.eval(var)?;
                for (divide, t) in rest {
                    let t = t.eval(var)?;
                    if *divide { v /= t } else { v *= t }
                }
                v
            }
            Expr::Pow(base, e) => {
                let base = base.eval(var)?;
                let e = e.eval(var)?;
                if e.fract() == 0.0 && e.abs() <= 64.0 {
                    let mut r = 1.0;
                    for _ in 0..(e.abs() as u32) {
                        r *= base;
                    }
                    if e < 0.0 { 1.0 / r } else { r }
                } else {
                    base.powf(e)
                }
            }
            Expr::Func(f, x) => {
                let x = x.eval(var)?;
                match f {
                    Func::Sqrt => x.sqrt(),
                    Func::Exp => libm::exp(x),
                    Func::Ln => libm::log(x),
                }
            }
        })
    }

    /// The value of an expression without variables.
    pub(crate) fn constant(&self) -> f64 {
        let r: std::result::Result<f64, std::convert::Infallible> = self.eval(&mut |_, _| Ok(f64::NAN));
        match r {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    /// Every variable with its column, in reading order.
    pub(crate) fn vars<'e>(&'e self, out: &mut Vec<(&'e str, usize)>) {
        match self {
            Expr::Num(_) => {}
            Expr::Var { name, column } => out.push((name, *column)),
            Expr::Neg(x) | Expr::Func(_, x) => x.vars(out),
            Expr::Sum(first, rest) | Expr::Product(first, rest) => {
                first.vars(out);
                for (_, t) in rest {
                    t.vars(out);
                }
            }
            Expr::Pow(a, b) => {
                a.vars(out);
                b.vars(out);
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueKind {
    Number(f64),
    Word(String),
    /// A number expression not yet evaluated (only in a template, until
    /// [`Call::evaluate`]).
    Expr(Expr),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub(crate) kind: ValueKind,
    pub(crate) column: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub(crate) name: String,
    pub(crate) name_column: usize,
    pub(crate) args: Vec<(Option<(String, usize)>, Value)>,
    /// In a template: the variable names, so that a bare word where a
    /// number belongs is reported as an unknown variable.
    pub(crate) variables: Option<Vec<String>>,
}

impl Call {
    /// Every expression evaluated with `var` (see [`Expr::eval`]).
    pub(crate) fn evaluate<E>(&self, var: &mut dyn FnMut(&str, usize) -> Result<f64, E>) -> Result<Call, E> {
        let mut args = Vec::with_capacity(self.args.len());
        for (k, v) in &self.args {
            let kind = match &v.kind {
                ValueKind::Expr(e) => ValueKind::Number(e.eval(var)?),
                other => other.clone(),
            };
            args.push((k.clone(), Value { kind, column: v.column }));
        }
        Ok(Call { name: self.name.clone(), name_column: self.name_column, args, variables: self.variables.clone() })
    }
}

/// Parse a scheme call; its number expressions are evaluated.
pub(crate) fn parse_call(src: &str) -> Result<Call> {
    let call = parse_call_in(src, None)?;
    let r: std::result::Result<Call, std::convert::Infallible> = call.evaluate(&mut |_, _| Ok(f64::NAN));
    match r {
        Ok(c) => Ok(c),
        Err(never) => match never {},
    }
}

/// Parse a scheme call whose number expressions may use variables: a
/// template (style files). `known` says which names are variables; a name
/// that is not known is still parsed as a variable inside an expression,
/// for the caller to report with a suggestion. The expressions stay
/// unevaluated ([`ValueKind::Expr`]) until [`Call::evaluate`].
pub(crate) fn parse_template(src: &str, known: &dyn Fn(&str) -> bool, variables: Vec<String>) -> Result<Call> {
    let mut call = parse_call_in(src, Some(known))?;
    call.variables = Some(variables);
    Ok(call)
}

fn parse_call_in<'a>(src: &'a str, known: Option<&'a dyn Fn(&str) -> bool>) -> Result<Call> {
    let mut lx = Lexer::new(src)?;
    lx.known = known;
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
    Ok(Call { name, name_column, args, variables: None })
}

/// Parse a number expression whose identifiers are all variables (a
/// style's `let`), unevaluated.
pub(crate) fn parse_expr(src: &str) -> Result<Expr> {
    let mut lx = Lexer::new(src)?;
    let always: &dyn Fn(&str) -> bool = &|_| true;
    lx.known = Some(always);
    if *lx.peek() == Tok::End {
        return Err(syntax(src, 1, "expected an expression"));
    }
    let e = lx.expr()?;
    if *lx.peek() != Tok::End {
        return Err(syntax(src, lx.col(), "unexpected text after the expression"));
    }
    Ok(e)
}

/// Parse a number expression such as `0.02`, `1/sqrt(5)`, `2**-3`; `None`
/// if it is not one.
pub fn parse_number(s: &str) -> Option<f64> {
    let mut lx = Lexer::new(s).ok()?;
    if *lx.peek() == Tok::End {
        return None;
    }
    let v = lx.expr().ok()?;
    (*lx.peek() == Tok::End).then(|| v.constant())
}

/// Split a comma-separated list of scheme-grammar items (`tanh,
/// leaky_relu(0.2)`, `kaiming_normal(mode='fan_in'), orthogonal(gain=1/sqrt(2))`)
/// on the commas that are outside parentheses and quotes, with the scheme
/// lexer's own rules (so a quoted comma or a nested call never splits an
/// item). Items are trimmed; empty items are dropped. Unbalanced
/// parentheses, an unterminated quote or a character the grammar does not
/// know are syntax errors.
pub fn split_list(src: &str) -> Result<Vec<&str>> {
    let lx = Lexer::new(src)?;
    let mut depth = 0usize;
    let mut cuts = Vec::new(); // character indices of the top-level commas
    let mut open = 0; // column of the outermost unclosed '('
    for (t, col) in &lx.toks {
        match t {
            Tok::LParen => {
                if depth == 0 {
                    open = *col;
                }
                depth += 1;
            }
            Tok::RParen => depth = depth.checked_sub(1).ok_or_else(|| syntax(src, *col, "unbalanced ')'"))?,
            Tok::Comma if depth == 0 => cuts.push(col - 1),
            _ => {}
        }
    }
    if depth > 0 {
        return Err(syntax(src, open, "'(' is never closed"));
    }
    let byte_at: Vec<usize> = src.char_indices().map(|(b, _)| b).collect();
    let mut items = Vec::with_capacity(cuts.len() + 1);
    let mut start = 0;
    for c in cuts {
        items.push(&src[start..byte_at[c]]);
        start = byte_at[c] + 1;
    }
    items.push(&src[start..]);
    Ok(items.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect())
}

/// Normalise a scheme name: dotted prefixes dropped, CamelCase to
/// snake_case, lower case, trailing `_` (PyTorch's in-place suffix) dropped.
pub(crate) fn normalise_name(name: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_input_gets_a_typed_error_not_a_stack_overflow() {
        for src in [
            format!("normal(std={}1{})", "(".repeat(20_000), ")".repeat(20_000)),
            format!("normal(std={}1)", "-".repeat(58_000)),
            format!("{}1", "-".repeat(MAX_NESTING + 1)),
        ] {
            let e = match parse_call(&src) {
                Err(e) => e,
                Ok(_) => match Lexer::new(&src).and_then(|mut l| l.expr()) {
                    Err(e) => e,
                    Ok(v) => panic!("parsed to {v:?}"),
                },
            };
            assert!(matches!(e, Error::Syntax { .. } | Error::TooLong { .. }), "{e}");
        }
        assert_eq!(parse_number(&format!("{}1{}", "(".repeat(150), ")".repeat(150))), Some(1.0));
        assert_eq!(parse_number(&format!("{}1", "-".repeat(150))), Some(1.0));
    }

    #[test]
    fn templates_evaluate_variables_with_the_hard_coded_operations() {
        let known = |n: &str| matches!(n, "l" | "L" | "d" | "std");
        let call = parse_template("trunc_normal(std=0.02/sqrt(2*(l+1)), a=-3*d^-0.5, b=mode)", &known, vec![]).unwrap();
        for l in 0..200u64 {
            for d in [64u64, 768, 2048, 4096, 5120, 8192, 12288] {
                let c = call.evaluate::<()>(&mut |n, _| Ok(if n == "l" { l as f64 } else { d as f64 })).unwrap();
                let num = |i: usize| match &c.args[i].1.kind {
                    ValueKind::Number(x) => *x,
                    other => panic!("{other:?}"),
                };
                assert_eq!(num(0).to_bits(), (0.02 / (2.0 * (l + 1) as f64).sqrt()).to_bits());
                assert_eq!(num(1).to_bits(), (-(3.0 * (d as f64).powf(-0.5))).to_bits());
                // an unknown bare word stays a word (mode=fan_in and the like)
                assert_eq!(c.args[2].1.kind, ValueKind::Word("mode".into()));
            }
        }
        // variables report their columns; a name followed by an operator is an expression
        let call = parse_template("normal(std=xx*2)", &known, vec![]).unwrap();
        let ValueKind::Expr(e) = &call.args[0].1.kind else { panic!() };
        let mut vars = Vec::new();
        e.vars(&mut vars);
        assert_eq!(vars, [("xx", 12)]);
        // ordinary schemes still refuse names in numbers
        assert!(parse_call("normal(std=xx*2)").is_err());
        // non-integer powers are powf; integer powers repeated products
        for x in [3.0f64, 7.0, 2048.0, 12345.0] {
            assert_eq!(parse_number(&format!("{x}^-0.5")).unwrap().to_bits(), x.powf(-0.5).to_bits());
            assert_eq!(parse_number(&format!("{x}^0.25")).unwrap().to_bits(), x.powf(0.25).to_bits());
            assert_eq!(parse_number(&format!("{x}^3")).unwrap(), x * x * x);
        }
    }

    #[test]
    fn hostile_templates_are_bounded_too() {
        let always = |_: &str| true;
        let deep = format!("normal(std={}l{})", "(".repeat(5000), ")".repeat(5000));
        assert!(matches!(parse_template(&deep, &always, vec![]), Err(Error::Syntax { .. })));
        let long = format!("normal(std={}l)", "l+".repeat(30_000));
        let c = parse_template(&long, &always, vec![]).unwrap();
        let c = c.evaluate::<()>(&mut |_, _| Ok(1.0)).unwrap();
        assert_eq!(c.args[0].1.kind, ValueKind::Number(30_001.0));
        assert!(matches!(parse_expr(&"1+".repeat(40_000)), Err(Error::TooLong { .. })));
    }

    #[test]
    fn lists_split_only_on_top_level_commas() {
        assert_eq!(split_list("tanh, leaky_relu(0.2) ,relu").unwrap(), ["tanh", "leaky_relu(0.2)", "relu"]);
        // nested parentheses and tuples stay in one item
        assert_eq!(
            split_list("orthogonal(gain=1/sqrt(2*(1+0.5))),jax.variance_scaling(1, fan_in, normal, in_axis=(0, 1))")
                .unwrap(),
            ["orthogonal(gain=1/sqrt(2*(1+0.5)))", "jax.variance_scaling(1, fan_in, normal, in_axis=(0, 1))"]
        );
        // quoted commas and parentheses do not split or nest
        assert_eq!(
            split_list("kaiming_normal(mode='fan,in'), normal(std=\"0.1)\")").unwrap(),
            ["kaiming_normal(mode='fan,in')", "normal(std=\"0.1)\")"]
        );
        // non-ASCII text before a cut (byte and character positions differ)
        assert_eq!(
            split_list("normal(std='\u{3c3},\u{3c3}'),tanh").unwrap(),
            ["normal(std='\u{3c3},\u{3c3}')", "tanh"]
        );
        assert_eq!(split_list(" , a,, b ,").unwrap(), ["a", "b"]);
        assert!(split_list("").unwrap().is_empty());
        for (bad, column) in [("tanh, relu)", 11), ("elu(1, relu", 4), ("normal(std='0.1), tanh", 12)] {
            match split_list(bad) {
                Err(Error::Syntax { column: c, .. }) => assert_eq!(c, column, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn long_input_is_refused_early_and_lexed_in_linear_time() {
        let big = format!("normal(std={})", "1+".repeat(500_000) + "1");
        assert!(matches!(parse_call(&big), Err(Error::TooLong { max: MAX_SCHEME_LEN, .. })));
        // just under the limit: lexed and parsed in one pass (quadratic column
        // counting took tens of seconds on a megabyte)
        let n = (MAX_SCHEME_LEN - 20) / 2;
        let v = parse_number(&("1+".repeat(n) + "1")).unwrap();
        assert_eq!(v, (n + 1) as f64);
    }
}
