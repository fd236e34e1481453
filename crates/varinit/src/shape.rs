//! Tensor shapes with a checked element count.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result, shape_text};

/// A tensor shape (row-major, outermost dimension first) whose element count
/// is known to fit in a `u64`.
///
/// ```
/// use varinit::Shape;
/// let s: Shape = "256x512".parse().unwrap();
/// assert_eq!(s.dims(), &[256, 512]);
/// assert_eq!(s.numel(), 131072);
/// assert!(Shape::new(vec![1 << 40, 1 << 40]).is_err()); // 2^80 elements
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: Vec<u64>,
    numel: u64,
}

impl Shape {
    /// A shape from its dimensions; an error if the element count overflows
    /// 64 bits. Rank 0 (a scalar, one element) and zero-sized dimensions are
    /// allowed.
    pub fn new(dims: impl Into<Vec<u64>>) -> Result<Self> {
        let dims = dims.into();
        let mut numel: u64 = 1;
        for &d in &dims {
            numel = numel.checked_mul(d).ok_or_else(|| Error::Overflow { shape: shape_text(&dims) })?;
        }
        Ok(Shape { dims, numel })
    }

    /// The dimensions.
    pub fn dims(&self) -> &[u64] {
        &self.dims
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> u64 {
        self.numel
    }

    /// Element count times `bytes_per_element`, or an overflow error.
    pub fn byte_len(&self, bytes_per_element: u64) -> Result<u64> {
        self.numel.checked_mul(bytes_per_element).ok_or_else(|| Error::Overflow { shape: self.to_string() })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shape_text(&self.dims))
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Parses `256x512`, `64x3x7x7`, `[256, 512]`, `256,512` or `()` / `[]`
/// (a scalar).
impl FromStr for Shape {
    type Err = Error;

    fn from_str(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::ShapeSyntax { input: input.to_string(), reason: reason.to_string() };
        let s = input.trim();
        let inner = s
            .strip_prefix('[')
            .and_then(|r| r.strip_suffix(']'))
            .or_else(|| s.strip_prefix('(').and_then(|r| r.strip_suffix(')')))
            .unwrap_or(s)
            .trim();
        if inner.is_empty() {
            if s.is_empty() {
                return Err(bad("empty; write dimensions like 256x512 (or [] for a scalar)"));
            }
            return Shape::new(Vec::new());
        }
        let sep: &[char] = if inner.contains(['x', 'X', '×']) { &['x', 'X', '×'] } else { &[','] };
        let mut dims = Vec::new();
        for (i, part) in inner.split(sep).enumerate() {
            let part = part.trim();
            if part.is_empty() && sep == [','] && i > 0 {
                // trailing comma as in Python's (3,)
                continue;
            }
            let d: u64 = part.replace('_', "").parse().map_err(|_| {
                bad(&format!("dimension {:?} is not a non-negative integer; write dimensions like 256x512", part))
            })?;
            dims.push(d);
        }
        Shape::new(dims)
    }
}

impl TryFrom<&[u64]> for Shape {
    type Error = Error;
    fn try_from(d: &[u64]) -> Result<Self> {
        Shape::new(d.to_vec())
    }
}

impl TryFrom<&[usize]> for Shape {
    type Error = Error;
    fn try_from(d: &[usize]) -> Result<Self> {
        Shape::new(d.iter().map(|&x| x as u64).collect::<Vec<_>>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        for (s, d) in [
            ("256x512", vec![256, 512]),
            ("64 x 3 x 7 x 7", vec![64, 3, 7, 7]),
            ("[256, 512]", vec![256, 512]),
            ("(3,)", vec![3]),
            ("10", vec![10]),
            ("[]", vec![]),
            ("0x5", vec![0, 5]),
        ] {
            assert_eq!(s.parse::<Shape>().unwrap().dims(), &d[..], "{s}");
        }
        assert_eq!("[]".parse::<Shape>().unwrap().numel(), 1);
        assert_eq!("0x5".parse::<Shape>().unwrap().numel(), 0);
        for s in ["", "abc", "3x-1", "3xx4", "1.5x2"] {
            assert!(s.parse::<Shape>().is_err(), "{s}");
        }
        assert!(matches!("4294967296x4294967296".parse::<Shape>(), Err(Error::Overflow { .. })));
    }
}
