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
        Ok(Lexer { src, toks, pos: 0, depth: 0 })
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
    /// Every recursion of the expression parser passes through here, so
    /// counting here bounds the stack for any input.
    fn unary(&mut self) -> Result<f64> {
        if self.depth >= MAX_NESTING {
            return Err(syntax(self.src, self.col(), format!("nested more than {MAX_NESTING} levels deep")));
        }
        self.depth += 1;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }
    // unary := ("-"|"+") unary | power
    fn unary_inner(&mut self) -> Result<f64> {
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
pub(crate) enum ValueKind {
    Number(f64),
    Word(String),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Value {
    pub(crate) kind: ValueKind,
    pub(crate) column: usize,
}

#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) name: String,
    pub(crate) name_column: usize,
    pub(crate) args: Vec<(Option<(String, usize)>, Value)>,
}

pub(crate) fn parse_call(src: &str) -> Result<Call> {
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
                    Ok(v) => panic!("parsed to {v}"),
                },
            };
            assert!(matches!(e, Error::Syntax { .. } | Error::TooLong { .. }), "{e}");
        }
        assert_eq!(parse_number(&format!("{}1{}", "(".repeat(150), ")".repeat(150))), Some(1.0));
        assert_eq!(parse_number(&format!("{}1", "-".repeat(150))), Some(1.0));
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
