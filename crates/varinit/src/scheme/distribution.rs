//! The resolved distribution: moments, support, distribution function and
//! description in words.

use std::fmt;

use crate::fan::Layout;
use crate::shape::Shape;
use crate::special;

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

/// Six significant digits, for descriptions.
fn g(x: f64) -> String {
    crate::number::significant(x, 6)
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
