//! Activations and PyTorch's `calculate_gain` table.
//!
//! The gain is the factor by which an initializer's standard deviation is
//! multiplied to make up for what the nonlinearity does to the signal's
//! second moment:
//!
//! | nonlinearity | gain |
//! |---|---|
//! | linear, conv1d/2d/3d, conv_transpose1d/2d/3d, sigmoid | 1 |
//! | tanh | 5/3 |
//! | relu | sqrt(2) |
//! | leaky_relu(slope) | sqrt(2 / (1 + slope^2)), slope 0.01 when not given |
//! | selu | 3/4 |
//!
//! [`Activation`] also names activations PyTorch's table does not have
//! (gelu, silu, elu, softplus, mish, hard_tanh); for those
//! [`Activation::torch_gain`] fails as PyTorch does.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result, closest};
use crate::grammar::ValueKind;

/// PyTorch's default `negative_slope` for `leaky_relu` in `calculate_gain`.
pub const LEAKY_RELU_DEFAULT_SLOPE: f64 = 0.01;

/// SELU's scale lambda (Klambauer et al. 2017).
pub const SELU_LAMBDA: f64 = 1.050_700_987_355_480_5;
/// SELU's alpha.
pub const SELU_ALPHA: f64 = 1.673_263_242_354_377_2;

/// An activation function (nonlinearity).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Activation {
    /// The identity (also PyTorch's `conv*` and `conv_transpose*` entries).
    Linear,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// max(0, x).
    Relu,
    /// max(0, x) + slope min(0, x).
    LeakyRelu {
        /// The slope for negative inputs.
        negative_slope: f64,
    },
    /// lambda (x if x > 0 else alpha (e^x - 1)), with the self-normalising constants.
    Selu,
    /// x Phi(x) (exact, erf form).
    Gelu,
    /// GELU's tanh approximation.
    GeluTanh,
    /// x sigmoid(x) (also "swish").
    Silu,
    /// x if x > 0 else alpha (e^x - 1).
    Elu {
        /// Saturation value for negative inputs.
        alpha: f64,
    },
    /// ln(1 + e^x).
    Softplus,
    /// x tanh(softplus(x)).
    Mish,
    /// clamp(x, -1, 1).
    HardTanh,
}

/// Every name PyTorch's `calculate_gain` accepts, in its order.
pub const TORCH_GAIN_NAMES: [&str; 12] = [
    "linear",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "sigmoid",
    "tanh",
    "relu",
    "leaky_relu",
    "selu",
];

/// The activations [`Activation::from_str`] accepts beyond PyTorch's gain
/// table (canonical names).
pub const EXTRA_ACTIVATION_NAMES: [&str; 7] = ["gelu", "gelu_tanh", "silu", "elu", "softplus", "mish", "hard_tanh"];

/// A parameter for [`calculate_gain`], as loosely typed as Python's.
#[derive(Debug, Clone, PartialEq)]
pub enum GainParam {
    /// A number.
    Number(f64),
    /// Anything else, as written (a bool, a list, a word): PyTorch rejects it.
    Other(String),
}

impl GainParam {
    /// Interpret a command-line or scheme-string value: a number if it
    /// parses as one, otherwise as written.
    pub fn parse(s: &str) -> GainParam {
        match crate::scheme::parse_number(s) {
            Some(x) => GainParam::Number(x),
            None => GainParam::Other(s.trim().to_string()),
        }
    }
}

/// PyTorch's `torch.nn.init.calculate_gain(nonlinearity, param)`, with its
/// exact values and error messages (names are also accepted in any case).
///
/// ```
/// use varinit::gain::{calculate_gain, GainParam};
/// assert_eq!(calculate_gain("relu", None).unwrap(), 2f64.sqrt());
/// assert_eq!(calculate_gain("tanh", None).unwrap(), 5.0 / 3.0);
/// // leaky_relu's slope defaults to 0.01 when no parameter is given
/// assert_eq!(calculate_gain("leaky_relu", None).unwrap(), (2.0 / (1.0 + 0.01f64 * 0.01)).sqrt());
/// assert_eq!(
///     calculate_gain("leaky_relu", Some(&GainParam::Other("True".into()))).unwrap_err().to_string(),
///     "negative_slope True not a valid number"
/// );
/// ```
pub fn calculate_gain(nonlinearity: &str, param: Option<&GainParam>) -> Result<f64> {
    let name = nonlinearity.trim().to_ascii_lowercase();
    if name == "leaky_relu" {
        let slope = match param {
            None => LEAKY_RELU_DEFAULT_SLOPE,
            Some(GainParam::Number(x)) if x.is_finite() => *x,
            Some(GainParam::Number(x)) => return Err(Error::InvalidSlope { value: x.to_string() }),
            Some(GainParam::Other(s)) => return Err(Error::InvalidSlope { value: s.clone() }),
        };
        return Ok(leaky_relu_gain(slope));
    }
    if TORCH_GAIN_NAMES.contains(&name.as_str()) {
        let act: Activation = name.parse()?;
        return act.torch_gain();
    }
    // A known activation outside the table gets no "did you mean": it is not a typo.
    let known = name.parse::<Activation>().is_ok();
    Err(Error::UnsupportedNonlinearity {
        name: nonlinearity.to_string(),
        suggestion: if known { None } else { closest(&name, TORCH_GAIN_NAMES) },
    })
}

/// sqrt(2 / (1 + slope^2)): He et al.'s gain for leaky ReLU / PReLU.
pub fn leaky_relu_gain(slope: f64) -> f64 {
    (2.0 / (1.0 + slope * slope)).sqrt()
}

impl Activation {
    /// The gain in PyTorch's table, or PyTorch's "Unsupported nonlinearity"
    /// error for activations it does not list.
    pub fn torch_gain(&self) -> Result<f64> {
        match *self {
            Activation::Linear | Activation::Sigmoid => Ok(1.0),
            Activation::Tanh => Ok(5.0 / 3.0),
            Activation::Relu => Ok(std::f64::consts::SQRT_2),
            Activation::LeakyRelu { negative_slope } => Ok(leaky_relu_gain(negative_slope)),
            Activation::Selu => Ok(0.75),
            other => Err(Error::UnsupportedNonlinearity { name: other.name().to_string(), suggestion: None }),
        }
    }

    /// The canonical name (without parameters).
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Linear => "linear",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Selu => "selu",
            Activation::Gelu => "gelu",
            Activation::GeluTanh => "gelu_tanh",
            Activation::Silu => "silu",
            Activation::Elu { .. } => "elu",
            Activation::Softplus => "softplus",
            Activation::Mish => "mish",
            Activation::HardTanh => "hard_tanh",
        }
    }

    /// An activation from a name and an optional parameter (the slope of
    /// `leaky_relu`, default 0.01; the alpha of `elu`, default 1).
    pub fn with_param(name: &str, param: Option<f64>) -> Result<Activation> {
        let key = name.trim().to_ascii_lowercase().replace('-', "_");
        let a = match key.as_str() {
            "linear" | "identity" | "conv1d" | "conv2d" | "conv3d" | "conv_transpose1d" | "conv_transpose2d"
            | "conv_transpose3d" => Activation::Linear,
            "sigmoid" => Activation::Sigmoid,
            "tanh" => Activation::Tanh,
            "relu" => Activation::Relu,
            "leaky_relu" | "leakyrelu" | "prelu" => {
                Activation::LeakyRelu { negative_slope: param.unwrap_or(LEAKY_RELU_DEFAULT_SLOPE) }
            }
            "selu" => Activation::Selu,
            "gelu" | "gelu_erf" => Activation::Gelu,
            "gelu_tanh" | "gelu_new" | "gelu_pytorch_tanh" => Activation::GeluTanh,
            "silu" | "swish" => Activation::Silu,
            "elu" => Activation::Elu { alpha: param.unwrap_or(1.0) },
            "softplus" => Activation::Softplus,
            "mish" => Activation::Mish,
            "hard_tanh" | "hardtanh" => Activation::HardTanh,
            _ => {
                return Err(Error::UnsupportedNonlinearity {
                    name: name.to_string(),
                    suggestion: closest(&key, TORCH_GAIN_NAMES.iter().chain(&EXTRA_ACTIVATION_NAMES).copied()),
                });
            }
        };
        let takes_param = matches!(a, Activation::LeakyRelu { .. } | Activation::Elu { .. });
        if let Some(p) = param {
            if !takes_param {
                return Err(Error::BadActivationParameter {
                    activation: a.name().into(),
                    param: "param".into(),
                    value: p.to_string(),
                    reason: "this activation takes no parameter".into(),
                });
            }
            if !p.is_finite() {
                return Err(Error::InvalidSlope { value: p.to_string() });
            }
        }
        if let Activation::Elu { alpha } = a
            && alpha < 0.0
        {
            return Err(Error::BadActivationParameter {
                activation: "elu".into(),
                param: "alpha".into(),
                value: alpha.to_string(),
                reason: "must be >= 0".into(),
            });
        }
        Ok(a)
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Activation::LeakyRelu { negative_slope } => write!(f, "leaky_relu({negative_slope})"),
            Activation::Elu { alpha } => write!(f, "elu({alpha})"),
            other => f.write_str(other.name()),
        }
    }
}

/// Parses `relu`, `leaky_relu`, `leaky_relu(0.2)`, `leaky_relu(negative_slope=0.2)`,
/// `elu(alpha=0.5)`, ...: a name, or a call in the scheme grammar with at
/// most one number expression (its keyword, if any, is not checked).
impl FromStr for Activation {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if !s.contains('(') {
            return Activation::with_param(s, None);
        }
        let call = crate::grammar::parse_call(s)?;
        let value = match call.args.as_slice() {
            [] => None,
            [(_, v)] => match &v.kind {
                ValueKind::Number(x) => Some(*x),
                ValueKind::Word(w) => return Err(Error::InvalidSlope { value: w.clone() }),
                // parse_call evaluates every number: only style templates keep expressions
                ValueKind::Expr(_) => return Err(Error::InvalidSlope { value: s.to_string() }),
            },
            more => {
                return Err(Error::BadActivationParameter {
                    activation: call.name,
                    param: "parameters".into(),
                    value: format!("{} given", more.len()),
                    reason: "an activation takes at most one".into(),
                });
            }
        };
        Activation::with_param(&call.name, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torch_table() {
        let expect = [
            ("linear", 1.0),
            ("conv1d", 1.0),
            ("conv2d", 1.0),
            ("conv3d", 1.0),
            ("conv_transpose1d", 1.0),
            ("conv_transpose2d", 1.0),
            ("conv_transpose3d", 1.0),
            ("sigmoid", 1.0),
            ("tanh", 5.0 / 3.0),
            ("relu", std::f64::consts::SQRT_2),
            ("leaky_relu", (2.0f64 / 1.0001).sqrt()),
            ("selu", 0.75),
        ];
        for (name, g) in expect {
            assert_eq!(calculate_gain(name, None).unwrap(), g, "{name}");
        }
        assert_eq!(calculate_gain("leaky_relu", Some(&GainParam::Number(0.2))).unwrap(), (2.0f64 / 1.04).sqrt());
        assert_eq!(calculate_gain("leaky_relu", Some(&GainParam::Number(0.0))).unwrap(), 2f64.sqrt());
        // param is ignored for other nonlinearities, as in PyTorch
        assert_eq!(calculate_gain("relu", Some(&GainParam::Number(3.0))).unwrap(), 2f64.sqrt());
    }

    #[test]
    fn torch_errors() {
        assert_eq!(calculate_gain("gelu", None).unwrap_err().to_string(), "Unsupported nonlinearity gelu");
        assert_eq!(
            calculate_gain("rleu", None).unwrap_err().to_string(),
            "Unsupported nonlinearity rleu (did you mean \"relu\"?)"
        );
        for bad in ["True", "[0.1]", "abc"] {
            assert_eq!(
                calculate_gain("leaky_relu", Some(&GainParam::parse(bad))).unwrap_err().to_string(),
                format!("negative_slope {bad} not a valid number")
            );
        }
    }

    #[test]
    fn parse_activations() {
        assert_eq!("leaky_relu(0.2)".parse::<Activation>().unwrap(), Activation::LeakyRelu { negative_slope: 0.2 });
        assert_eq!(
            "leaky_relu(negative_slope=1/5)".parse::<Activation>().unwrap(),
            Activation::LeakyRelu { negative_slope: 0.2 }
        );
        assert_eq!("Swish".parse::<Activation>().unwrap(), Activation::Silu);
        assert!("relu(2)".parse::<Activation>().is_err());
        assert!("leaky_relu(x)".parse::<Activation>().is_err());
        // the scheme grammar: nested parentheses in the expression, quotes, blanks
        assert_eq!(
            " leaky_relu( negative_slope = 1/(2+(1+2)) ) ".parse::<Activation>().unwrap(),
            Activation::LeakyRelu { negative_slope: 0.2 }
        );
        assert_eq!("elu(alpha=(((0.5))))".parse::<Activation>().unwrap(), Activation::Elu { alpha: 0.5 });
        assert_eq!("relu()".parse::<Activation>().unwrap(), Activation::Relu);
        assert!(matches!("leaky_relu('0.2')".parse::<Activation>(), Err(Error::InvalidSlope { .. })));
        assert!(matches!("leaky_relu(0.2".parse::<Activation>(), Err(Error::Syntax { .. })));
        assert!(matches!("leaky_relu(0.1, 0.2)".parse::<Activation>(), Err(Error::BadActivationParameter { .. })));
        for a in [Activation::Tanh, Activation::LeakyRelu { negative_slope: 0.3 }, Activation::Elu { alpha: 0.5 }] {
            assert_eq!(a.to_string().parse::<Activation>().unwrap(), a);
        }
    }
}
