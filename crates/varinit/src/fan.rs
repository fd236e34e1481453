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

/// The largest number of axes an [`Axes`] set holds.
pub const MAX_AXES: usize = 8;

/// A set of axes, as JAX's `in_axis`, `out_axis` and `batch_axis` take them:
/// one axis or a sequence of axes, negative ones counted from the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Axes {
    len: u8,
    /// One given as a single integer (`in_axis=-2`) rather than a sequence (`in_axis=(0, 1)`).
    single: bool,
    axes: [i8; MAX_AXES],
}

impl Axes {
    /// One axis (`in_axis=-2`).
    pub fn one(axis: i64) -> Result<Axes> {
        let mut a = Axes::seq(&[axis])?;
        a.single = true;
        Ok(a)
    }

    /// A sequence of axes (`in_axis=(0, 1)`, `batch_axis=()`), at most [`MAX_AXES`].
    pub fn seq(axes: &[i64]) -> Result<Axes> {
        if axes.len() > MAX_AXES {
            return Err(Error::InvalidParameter {
                scheme: "variance_scaling".into(),
                param: "axes".into(),
                value: format!("{axes:?}"),
                reason: format!("at most {MAX_AXES} axes are supported"),
            });
        }
        let mut out = [0i8; MAX_AXES];
        for (o, &a) in out.iter_mut().zip(axes) {
            *o = i8::try_from(a).map_err(|_| Error::InvalidParameter {
                scheme: "variance_scaling".into(),
                param: "axes".into(),
                value: a.to_string(),
                reason: "an axis must be in -128 .. 127".into(),
            })?;
        }
        Ok(Axes { len: axes.len() as u8, single: false, axes: out })
    }

    /// The axes as given.
    pub fn as_slice(&self) -> Vec<i64> {
        self.axes[..self.len as usize].iter().map(|&a| i64::from(a)).collect()
    }

    /// True for a single integer (not a sequence).
    pub fn is_single(&self) -> bool {
        self.single
    }
}

impl fmt::Display for Axes {
    /// A single axis as a number, a sequence as a quoted comma list (`'0,1'`, `''`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.as_slice();
        if self.single {
            return write!(f, "{}", v[0]);
        }
        let items: Vec<String> = v.iter().map(|a| a.to_string()).collect();
        write!(f, "'{}'", items.join(","))
    }
}

/// JAX's `(in_axis, out_axis, batch_axis)` of `variance_scaling` and the
/// named families: which axes are the inputs, the outputs and the ignored
/// batch; every other axis is the receptive field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JaxAxes {
    /// Input axes (JAX's default `-2`).
    pub in_axis: Axes,
    /// Output axes (default `-1`).
    pub out_axis: Axes,
    /// Ignored (batch) axes (default `()`).
    pub batch_axis: Axes,
}

impl Default for JaxAxes {
    fn default() -> Self {
        JaxAxes {
            in_axis: Axes::one(-2).expect("valid"),
            out_axis: Axes::one(-1).expect("valid"),
            batch_axis: Axes::seq(&[]).expect("valid"),
        }
    }
}

impl JaxAxes {
    /// True for JAX's defaults `(-2, -1, ())`, whose fans are [`Layout::Jax`]'s.
    pub fn is_default(&self) -> bool {
        let d = JaxAxes::default();
        self.in_axis.as_slice() == d.in_axis.as_slice()
            && self.out_axis.as_slice() == d.out_axis.as_slice()
            && self.batch_axis.as_slice().is_empty()
    }
}

impl Fans {
    /// The fans of `shape` as JAX's `_compute_fans(shape, in_axis, out_axis,
    /// batch_axis)` computes them: `fan_in = prod(in axes) * rf`, `fan_out =
    /// prod(out axes) * rf`, `rf` the product of the axes in none of the three
    /// sets. (Flax's DenseGeneral flattens its kernel to `(prod(in), prod(out))`
    /// before it calls the initializer, which gives the same fans.)
    ///
    /// Like JAX, a rank < 2 shape is refused with the default `in_axis`, and an
    /// axis outside the shape is an error. Unlike JAX, an axis listed twice
    /// (in two sets, or twice in one) is refused: JAX then divides the element
    /// count by that dimension twice and returns fractional fans.
    ///
    /// ```
    /// use varinit::{Shape, fan::{Axes, Fans, JaxAxes}};
    /// // a DenseGeneral kernel (heads, head_dim, embed) with in_axis=(0, 1)
    /// let s = Shape::new(vec![12, 64, 768]).unwrap();
    /// let axes = JaxAxes { in_axis: Axes::seq(&[0, 1]).unwrap(), ..JaxAxes::default() };
    /// let f = Fans::of_jax_axes(&s, &axes).unwrap();
    /// assert_eq!((f.fan_in, f.fan_out), (768, 768));
    /// ```
    pub fn of_jax_axes(shape: &Shape, axes: &JaxAxes) -> Result<Fans> {
        let d = shape.dims();
        let rank = d.len();
        let bad = |reason: String| Error::BadShape { what: "fans".into(), shape: shape.to_string(), reason };
        if axes.in_axis.is_single() && axes.in_axis.as_slice() == [-2] && rank <= 1 {
            return Err(bad(format!(
                "Can't compute input and output sizes of a {rank}-dimensional weights tensor with default in_axis. \
                 Must be at least 2D or specify in_axis explicitly."
            )));
        }
        let mut owner: Vec<Option<&str>> = vec![None; rank];
        let mut size = |set: &Axes, what: &'static str| -> Result<u64> {
            let mut p = 1u64;
            for a in set.as_slice() {
                let k = if a < 0 { a + rank as i64 } else { a };
                if k < 0 || k >= rank as i64 {
                    return Err(bad(format!("{what} {a} is out of range for a rank-{rank} shape")));
                }
                let k = k as usize;
                if let Some(other) = owner[k] {
                    return Err(bad(format!(
                        "axis {k} is listed in both {other} and {what}; JAX would divide by it twice"
                    )));
                }
                owner[k] = Some(what);
                p = p.checked_mul(d[k]).ok_or_else(|| Error::Overflow { shape: shape.to_string() })?;
            }
            Ok(p)
        };
        let inp = size(&axes.in_axis, "in_axis")?;
        let out = size(&axes.out_axis, "out_axis")?;
        size(&axes.batch_axis, "batch_axis")?;
        let rf = (0..rank)
            .filter(|&k| owner[k].is_none())
            .try_fold(1u64, |p, k| p.checked_mul(d[k]))
            .ok_or_else(|| Error::Overflow { shape: shape.to_string() })?;
        let overflow = || Error::Overflow { shape: shape.to_string() };
        Ok(Fans {
            fan_in: inp.checked_mul(rf).ok_or_else(overflow)?,
            fan_out: out.checked_mul(rf).ok_or_else(overflow)?,
            receptive_field: rf,
        })
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
    fn jax_axes() {
        let of = |d: &[u64], i: Axes, o: Axes, b: Axes| {
            Fans::of_jax_axes(&Shape::new(d.to_vec()).unwrap(), &JaxAxes { in_axis: i, out_axis: o, batch_axis: b })
                .map(|f| (f.fan_in, f.fan_out))
        };
        let one = |a| Axes::one(a).unwrap();
        let seq = |a: &[i64]| Axes::seq(a).unwrap();
        // the defaults are Layout::Jax's fans
        assert_eq!(of(&[3, 3, 16, 32], one(-2), one(-1), seq(&[])).unwrap(), (144, 288));
        // DenseGeneral (8, 12, 4, 32) with in (0, 1), out (2, 3)
        assert_eq!(of(&[8, 12, 4, 32], seq(&[0, 1]), seq(&[2, 3]), seq(&[])).unwrap(), (96, 128));
        // a stacked weight: batch axis 0 is ignored
        assert_eq!(of(&[5, 16, 32], one(-2), one(-1), one(0)).unwrap(), (16, 32));
        assert!(of(&[7], one(-2), one(-1), seq(&[])).is_err());
        assert!(of(&[3, 5], one(2), one(-1), seq(&[])).is_err());
        let e = of(&[3, 5], one(0), one(0), seq(&[])).unwrap_err().to_string();
        assert!(e.contains("both in_axis and out_axis"), "{e}");
        assert_eq!(JaxAxes::default().in_axis.to_string(), "-2");
        assert_eq!(seq(&[0, 1]).to_string(), "'0,1'");
        assert_eq!(seq(&[]).to_string(), "''");
        assert!(JaxAxes::default().is_default());
        assert!(Axes::seq(&[0; 9]).is_err());
    }

    #[test]
    fn modes() {
        assert_eq!(FanMode::parse_torch("FAN_IN").unwrap(), FanMode::FanIn);
        let e = FanMode::parse_torch("fan_avg").unwrap_err();
        assert_eq!(e.to_string(), "Mode fan_avg not supported, please use one of ['fan_in', 'fan_out']");
        assert_eq!(FanMode::parse_keras("fan_avg").unwrap(), FanMode::FanAvg);
    }
}
