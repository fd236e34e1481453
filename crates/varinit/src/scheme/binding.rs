//! Binding a parsed call's arguments to a scheme's parameters, and
//! building the [`Init`] from a scheme string.

use std::fmt;
use std::str::FromStr;

use super::catalogue::NAMES;
use super::{Family, Init, KerasFamily, VsDistribution, fmt_num};
use crate::error::{Error, Result, closest};
use crate::fan::{FanMode, mode_suggestion};
use crate::gain::{Activation, TORCH_GAIN_NAMES};
use crate::grammar::{Call, Value, ValueKind, normalise_name, parse_call, syntax};

mod jax;

// ---------------------------------------------------------------------------
// Binding arguments to parameters

struct Args {
    scheme: &'static str,
    names: &'static [&'static str],
    values: Vec<Option<Value>>,
    /// A template's variable names (see [`Call::variables`]).
    variables: Option<Vec<String>>,
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
        Ok(Args { scheme, names, values, variables: call.variables.clone() })
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
            Some(Value { kind: ValueKind::Word(w), column }) => match &self.variables {
                Some(vars) => Err(Error::UnknownVariable {
                    name: w.clone(),
                    column: *column,
                    suggestion: closest(w, vars.iter().map(String::as_str)),
                }),
                None => Err(self.invalid(name, w, "must be a number")),
            },
            Some(Value { kind: ValueKind::Expr(_), .. }) => {
                Err(self.invalid(name, "an expression", "is not evaluated"))
            }
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
            Some(Value { kind: ValueKind::Expr(_), column }) => Some(("an expression".into(), *column)),
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

impl FromStr for Init {
    type Err = Error;

    fn from_str(src: &str) -> Result<Init> {
        from_call(&parse_call(src)?)
    }
}

/// The scheme a parsed (and evaluated) call names, validated.
pub(crate) fn from_call(call: &Call) -> Result<Init> {
    let name = normalise_name(&call.name);
    if jax::is_jax_name(&call.name) {
        return jax::parse(&name, call);
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
                call,
            )?;
            Init::Uniform { a: a.finite("a", 0.0)?, b: a.finite("b", 1.0)? }
        }
        "random_uniform" => {
            let a = Args::bind("random_uniform", &["minval", "maxval"], &[("a", "minval"), ("b", "maxval")], call)?;
            Init::Uniform { a: a.finite("minval", -0.05)?, b: a.finite("maxval", 0.05)? }
        }
        "normal" => {
            let a =
                Args::bind("normal", &["mean", "std"], &[("stddev", "std"), ("loc", "mean"), ("scale", "std")], call)?;
            Init::Normal { mean: a.finite("mean", 0.0)?, std: a.num("std", 1.0)? }
        }
        "random_normal" => {
            let a = Args::bind("random_normal", &["mean", "stddev"], &[("std", "stddev")], call)?;
            Init::Normal { mean: a.finite("mean", 0.0)?, std: a.num("stddev", 0.05)? }
        }
        "trunc_normal" => {
            let a = Args::bind(
                "trunc_normal",
                &["mean", "std", "a", "b"],
                &[("stddev", "std"), ("low", "a"), ("high", "b")],
                call,
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
            let a = Args::bind("truncated_normal", &["mean", "stddev"], &[("std", "stddev")], call)?;
            let mean = a.finite("mean", 0.0)?;
            let std = a.positive("stddev", 0.05)?;
            Init::TruncNormal { mean, std, a: mean - 2.0 * std, b: mean + 2.0 * std }
        }
        "constant" => {
            let a = Args::bind("constant", &["val"], &[("value", "val"), ("fill_value", "val")], call)?;
            Init::Constant { value: a.required("val", "the value every element takes")? }
        }
        "zeros" | "ones" => {
            Args::bind(if name == "zeros" { "zeros" } else { "ones" }, &[], &[], call)?;
            Init::Constant { value: if name == "zeros" { 0.0 } else { 1.0 } }
        }
        "eye" | "identity" => {
            let a = Args::bind("eye", &["gain"], &[], call)?;
            Init::Eye { gain: a.finite("gain", 1.0)? }
        }
        "dirac" => {
            let a = Args::bind("dirac", &["groups"], &[], call)?;
            Init::Dirac { groups: a.integer("groups", 1)? }
        }
        "xavier_uniform" | "xavier_normal" => {
            let family = if name.ends_with("uniform") { Family::Uniform } else { Family::Normal };
            let a = Args::bind(
                if family == Family::Uniform { "xavier_uniform" } else { "xavier_normal" },
                &["gain"],
                &[],
                call,
            )?;
            Init::Xavier { family, gain: a.gain("gain")? }
        }
        "kaiming_uniform" | "kaiming_normal" => {
            let family = if name.ends_with("uniform") { Family::Uniform } else { Family::Normal };
            let a = Args::bind(
                if family == Family::Uniform { "kaiming_uniform" } else { "kaiming_normal" },
                &["a", "mode", "nonlinearity"],
                &[("negative_slope", "a")],
                call,
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
                    *TORCH_GAIN_NAMES.iter().find(|x| **x == lower).ok_or_else(|| Error::UnsupportedNonlinearity {
                        name: n.clone(),
                        suggestion: closest(&lower, TORCH_GAIN_NAMES),
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
            Args::bind(static_name, &[], &[], call)?;
            Init::Keras { family, distribution }
        }
        "variance_scaling" => {
            let a = Args::bind("variance_scaling", &["scale", "mode", "distribution"], &[], call)?;
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
            let a = Args::bind("orthogonal", &["gain"], &[("scale", "gain")], call)?;
            Init::Orthogonal { gain: a.gain("gain")? }
        }
        "delta_orthogonal" => {
            let a = Args::bind("delta_orthogonal", &["gain"], &[("scale", "gain")], call)?;
            Init::DeltaOrthogonal { gain: a.gain("gain")? }
        }
        "sparse" => {
            let a = Args::bind("sparse", &["sparsity", "std"], &[], call)?;
            Init::Sparse {
                sparsity: a.required("sparsity", "the fraction of each column set to zero, in [0, 1]")?,
                std: a.num("std", 0.01)?,
            }
        }
        "torch_default" => {
            Args::bind("torch_default", &[], &[], call)?;
            Init::TorchDefault
        }
        "torch_default_bias" => {
            let a = Args::bind("torch_default_bias", &["fan_in"], &[], call)?;
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
