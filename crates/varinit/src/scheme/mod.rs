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

use crate::fan::{FanMode, JaxAxes};

mod binding;
mod catalogue;
mod constructors;
mod distribution;
mod validate;

pub use crate::grammar::{parse_number, split_list};
pub(crate) use binding::from_call;
pub use catalogue::SCHEMES;
pub use distribution::{ResolveOptions, Resolved};

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

/// Format a number for the canonical scheme string: integers plainly,
/// everything else with Rust's shortest round-trip representation
/// ([`crate::number::shortest`], under the name the scheme code uses).
pub use crate::number::shortest as fmt_num;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, Layout, Shape};

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
