//! Fans: how many inputs feed a unit (`fan_in`) and how many units a
//! single input feeds (`fan_out`), under each framework's weight layout.
//!
//! | layout | weight layout | fan_in | fan_out |
//! |---|---|---|---|
//! | [`Layout::Torch`] | `(out, in, *kernel)` | `shape[1] * prod(shape[2:])` | `shape[0] * prod(shape[2:])` |
//! | [`Layout::Keras`], [`Layout::Jax`] | `(*kernel, in, out)` | `shape[-2] * prod(shape[:-2])` | `shape[-1] * prod(shape[:-2])` |
//!
//! Small ranks follow each framework: PyTorch and JAX refuse rank < 2;
//! Keras gives `(1, 1)` for a scalar and `(n, n)` for a vector.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result, closest};
use crate::shape::Shape;

/// Whose weight layout (and small-rank rules) a shape follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// PyTorch: `(out, in, *kernel)`; rank < 2 is an error.
    #[default]
    Torch,
    /// Keras 3: `(*kernel, in, out)`; rank 0 gives fans (1, 1), rank 1 (n, n).
    Keras,
    /// JAX / Flax: `(*kernel, in, out)`; rank < 2 is an error.
    Jax,
}

impl Layout {
    /// All layouts, by name.
    pub const ALL: [Layout; 3] = [Layout::Torch, Layout::Keras, Layout::Jax];

    /// The layout's name as accepted by [`FromStr`].
    pub fn name(self) -> &'static str {
        match self {
            Layout::Torch => "torch",
            Layout::Keras => "keras",
            Layout::Jax => "jax",
        }
    }

    /// True when the output axis is the last one (`keras`, `jax`).
    pub fn out_last(self) -> bool {
        !matches!(self, Layout::Torch)
    }
}

impl fmt::Display for Layout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Layout {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "torch" | "pytorch" => Ok(Layout::Torch),
            "keras" | "tf" | "tensorflow" => Ok(Layout::Keras),
            "jax" | "flax" => Ok(Layout::Jax),
            _ => Err(Error::UnknownLayout { name: s.to_string() }),
        }
    }
}

/// Which fan a variance-scaling scheme divides by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FanMode {
    /// Preserve the forward signal's variance.
    FanIn,
    /// Preserve the backward gradient's variance.
    FanOut,
    /// Glorot's compromise, `(fan_in + fan_out) / 2` (Keras and JAX only).
    FanAvg,
    /// The geometric mean, `sqrt(fan_in * fan_out)` (JAX only).
    FanGeoAvg,
}

impl FanMode {
    /// The mode's name.
    pub fn name(self) -> &'static str {
        match self {
            FanMode::FanIn => "fan_in",
            FanMode::FanOut => "fan_out",
            FanMode::FanAvg => "fan_avg",
            FanMode::FanGeoAvg => "fan_geo_avg",
        }
    }

    /// Parse a mode as PyTorch's `kaiming_*` does: `fan_in` or `fan_out`,
    /// case-insensitive; the error text is PyTorch's.
    pub fn parse_torch(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fan_in" => Ok(FanMode::FanIn),
            "fan_out" => Ok(FanMode::FanOut),
            // PyTorch lower-cases the mode before it formats the error
            lower => Err(Error::BadMode { mode: lower.to_string(), valid: "['fan_in', 'fan_out']".into() }),
        }
    }

    /// Parse a mode as Keras and JAX do: `fan_in`, `fan_out`, `fan_avg`, or
    /// JAX's `fan_geo_avg`.
    pub fn parse_keras(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "fan_in" => Ok(FanMode::FanIn),
            "fan_out" => Ok(FanMode::FanOut),
            "fan_avg" => Ok(FanMode::FanAvg),
            "fan_geo_avg" => Ok(FanMode::FanGeoAvg),
            _ => Err(Error::BadMode {
                mode: s.to_string(),
                valid: "['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg']".into(),
            }),
        }
    }
}

impl fmt::Display for FanMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The fans of a weight shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Fans {
    /// Inputs per output unit (times the receptive field).
    pub fan_in: u64,
    /// Outputs per input unit (times the receptive field).
    pub fan_out: u64,
    /// Product of the kernel (spatial) dimensions; 1 for dense layers.
    pub receptive_field: u64,
}

impl Fans {
    /// The fans of `shape` under `layout`.
    ///
    /// `transposed` declares a transposed-convolution weight, which PyTorch
    /// stores as `(in, out/groups, *k)` (and Keras as `(*k, out, in)`): the
    /// first two roles are swapped so that `fan_in` really counts the inputs
    /// of a unit. PyTorch's own `_calculate_fan_in_and_fan_out` does not do
    /// this; leave `transposed` false to reproduce it.
    ///
    /// ```
    /// use varinit::{Fans, Layout, Shape};
    /// let conv = Shape::new(vec![64, 3, 7, 7]).unwrap();
    /// let f = Fans::of(&conv, Layout::Torch, false).unwrap();
    /// assert_eq!((f.fan_in, f.fan_out, f.receptive_field), (147, 3136, 49));
    /// ```
    pub fn of(shape: &Shape, layout: Layout, transposed: bool) -> Result<Fans> {
        let d = shape.dims();
        let overflow = || Error::Overflow { shape: shape.to_string() };
        let rank = d.len();
        if rank < 2 {
            return match layout {
                Layout::Torch => Err(Error::BadShape {
                    what: "fans".into(),
                    shape: shape.to_string(),
                    reason: "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions".into(),
                }),
                Layout::Jax => Err(Error::BadShape {
                    what: "fans".into(),
                    shape: shape.to_string(),
                    reason: "JAX computes fans only for tensors of rank 2 or more".into(),
                }),
                Layout::Keras => {
                    let n = d.first().copied().unwrap_or(1);
                    Ok(Fans { fan_in: n, fan_out: n, receptive_field: 1 })
                }
            };
        }
        let (a, b, rf) = match layout {
            // (out, in, *k)
            Layout::Torch => (d[1], d[0], d[2..].iter().try_fold(1u64, |p, &x| p.checked_mul(x)).ok_or_else(overflow)?),
            // (*k, in, out)
            Layout::Keras | Layout::Jax => (
                d[rank - 2],
                d[rank - 1],
                d[..rank - 2].iter().try_fold(1u64, |p, &x| p.checked_mul(x)).ok_or_else(overflow)?,
            ),
        };
        let (inp, out) = if transposed { (b, a) } else { (a, b) };
        Ok(Fans {
            fan_in: inp.checked_mul(rf).ok_or_else(overflow)?,
            fan_out: out.checked_mul(rf).ok_or_else(overflow)?,
            receptive_field: rf,
        })
    }

    /// The fan a mode selects, as a real number (`fan_avg` may be a half).
    pub fn get(&self, mode: FanMode) -> f64 {
        match mode {
            FanMode::FanIn => self.fan_in as f64,
            FanMode::FanOut => self.fan_out as f64,
            FanMode::FanAvg => (self.fan_in as f64 + self.fan_out as f64) / 2.0,
            FanMode::FanGeoAvg => (self.fan_in as f64 * self.fan_out as f64).sqrt(),
        }
    }
}

/// Names of the accepted fan modes, for suggestions.
pub(crate) fn mode_suggestion(s: &str) -> Option<String> {
    closest(s, ["fan_in", "fan_out", "fan_avg", "fan_geo_avg"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fans(d: &[u64], l: Layout, t: bool) -> Result<(u64, u64)> {
        Fans::of(&Shape::new(d.to_vec()).unwrap(), l, t).map(|f| (f.fan_in, f.fan_out))
    }

    #[test]
    fn torch_rules() {
        assert_eq!(fans(&[256, 512], Layout::Torch, false).unwrap(), (512, 256));
        // depthwise Conv2d(4, 4, 3, groups=4): groups are ignored
        assert_eq!(fans(&[4, 1, 3, 3], Layout::Torch, false).unwrap(), (9, 36));
        // ConvTranspose2d(16, 32, 3): weight (16, 32, 3, 3); PyTorch's "fan_in" is 32*9
        assert_eq!(fans(&[16, 32, 3, 3], Layout::Torch, false).unwrap(), (288, 144));
        assert_eq!(fans(&[16, 32, 3, 3], Layout::Torch, true).unwrap(), (144, 288));
        assert!(fans(&[5], Layout::Torch, false).is_err());
        assert!(fans(&[], Layout::Torch, false).is_err());
    }

    #[test]
    fn keras_rules() {
        assert_eq!(fans(&[], Layout::Keras, false).unwrap(), (1, 1));
        assert_eq!(fans(&[7], Layout::Keras, false).unwrap(), (7, 7));
        assert_eq!(fans(&[512, 256], Layout::Keras, false).unwrap(), (512, 256));
        assert_eq!(fans(&[3, 3, 16, 32], Layout::Keras, false).unwrap(), (144, 288));
        assert_eq!(fans(&[2, 3, 3, 16, 32], Layout::Jax, false).unwrap(), (288, 576));
        assert!(fans(&[7], Layout::Jax, false).is_err());
    }

    #[test]
    fn overflow_is_an_error() {
        // A zero dimension keeps the element count at 0, but fan_in = 2^40 * 2^40 overflows.
        let s = Shape::new(vec![0, 1 << 40, 1 << 40]).unwrap();
        assert!(matches!(Fans::of(&s, Layout::Torch, false), Err(Error::Overflow { .. })));
        let s = Shape::new(vec![0, 1 << 40, 1 << 40]).unwrap();
        assert!(matches!(Fans::of(&s, Layout::Keras, false), Ok(Fans { fan_in: 0, fan_out: 0, .. })));
    }

    #[test]
    fn modes() {
        assert_eq!(FanMode::parse_torch("FAN_IN").unwrap(), FanMode::FanIn);
        let e = FanMode::parse_torch("fan_avg").unwrap_err();
        assert_eq!(e.to_string(), "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']");
        assert_eq!(FanMode::parse_keras("fan_avg").unwrap(), FanMode::FanAvg);
    }
}
