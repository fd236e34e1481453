//! JAX's initializer names with JAX's semantics, under the `jax.` (or
//! `flax.`) prefix: `jax.normal` (std 0.01), `jax.truncated_normal` (bounds
//! in units of stddev), `jax.uniform` (`[0, scale)`), `jax.kaiming_normal`
//! and `jax.xavier_normal` (JAX's aliases of the *truncated* `he_normal` and
//! `glorot_normal`), `jax.variance_scaling` (`normal` is untruncated, as in
//! JAX) with `in_axis`, `out_axis` and `batch_axis` (Flax's multi-axis
//! fans), `jax.orthogonal(scale)`, ...
//!
//! Without explicit axes the fans follow the layout (JAX's for
//! `--layout jax`); explicit axes give JAX's `_compute_fans` whatever the
//! layout.

use super::{Args, Call, Family, Init, KerasFamily, Value, ValueKind, VsDistribution};
use crate::error::{Error, Result, closest};
use crate::fan::{Axes, FanMode, JaxAxes, mode_suggestion};

/// The names accepted after `jax.`.
const JAX_NAMES: &[&str] = &[
    "normal",
    "truncated_normal",
    "uniform",
    "variance_scaling",
    "lecun_normal",
    "lecun_uniform",
    "glorot_normal",
    "glorot_uniform",
    "he_normal",
    "he_uniform",
    "xavier_normal",
    "xavier_uniform",
    "kaiming_normal",
    "kaiming_uniform",
    "orthogonal",
    "delta_orthogonal",
    "constant",
    "zeros",
    "ones",
];

/// True when a scheme name asks for JAX's semantics: a dotted name whose
/// first part is `jax` or `flax` (`jax.normal`, `jax.nn.initializers.normal`,
/// `flax.linen.initializers.lecun_normal`).
pub(super) fn is_jax_name(raw: &str) -> bool {
    match raw.split_once('.') {
        Some((first, _)) => matches!(first.to_ascii_lowercase().as_str(), "jax" | "flax"),
        None => false,
    }
}

/// An axes parameter: a number (`-2`) or a quoted list (`'0,1'`, `'(0, 1)'`, `''`).
fn axes(a: &Args, name: &str, default: Axes) -> Result<Axes> {
    let bad = |value: String| {
        a.invalid(name, value, "must be an integer axis or a quoted list of axes such as '0,1' (or '' for none)")
    };
    match &a.values[a.index(name)] {
        None => Ok(default),
        Some(Value { kind: ValueKind::Number(x), .. }) => {
            if x.fract() != 0.0 || !x.is_finite() || x.abs() > 127.0 {
                return Err(bad(super::fmt_num(*x)));
            }
            Axes::one(*x as i64)
        }
        Some(Value { kind: ValueKind::Word(w), .. }) => {
            let inner = w.trim().trim_start_matches(['(', '[']).trim_end_matches([')', ']']);
            let mut list = Vec::new();
            for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                list.push(part.parse::<i64>().map_err(|_| bad(format!("{w:?}")))?);
            }
            Axes::seq(&list)
        }
        Some(Value { kind: ValueKind::Expr(_), .. }) => Err(bad("an unevaluated expression".into())),
    }
}

fn jax_axes(a: &Args) -> Result<JaxAxes> {
    let d = JaxAxes::default();
    Ok(JaxAxes {
        in_axis: axes(a, "in_axis", d.in_axis)?,
        out_axis: axes(a, "out_axis", d.out_axis)?,
        batch_axis: axes(a, "batch_axis", d.batch_axis)?,
    })
}

fn variance_scaling(scale: f64, mode: FanMode, distribution: VsDistribution, axes: JaxAxes) -> Init {
    if axes.is_default() {
        Init::VarianceScaling { scale, mode, distribution }
    } else {
        Init::JaxVarianceScaling { scale, mode, distribution, axes }
    }
}

/// Build the [`Init`] of a `jax.` scheme; `name` is the normalised last part.
pub(super) fn parse(name: &str, call: &Call) -> Result<Init> {
    let axis_params: &'static [&'static str] = &["in_axis", "out_axis", "batch_axis"];
    Ok(match name {
        "normal" => {
            let a = Args::bind("jax.normal", &["stddev"], &[("std", "stddev")], call)?;
            Init::Normal { mean: 0.0, std: a.num("stddev", 0.01)? }
        }
        "truncated_normal" => {
            let a = Args::bind("jax.truncated_normal", &["stddev", "lower", "upper"], &[("std", "stddev")], call)?;
            let std = a.positive("stddev", 0.01)?;
            let (lower, upper) = (a.num("lower", -2.0)?, a.num("upper", 2.0)?);
            Init::TruncNormal { mean: 0.0, std, a: lower * std, b: upper * std }
        }
        "uniform" => {
            let a = Args::bind("jax.uniform", &["scale"], &[], call)?;
            Init::Uniform { a: 0.0, b: a.finite("scale", 0.01)? }
        }
        "variance_scaling" => {
            let a = Args::bind(
                "jax.variance_scaling",
                &["scale", "mode", "distribution", "in_axis", "out_axis", "batch_axis"],
                &[],
                call,
            )?;
            a.required("scale", "the variance multiplier, e.g. jax.variance_scaling(2.0, fan_in, normal)")?;
            let scale = a.positive("scale", 1.0)?;
            let Some((m, _)) = a.word("mode") else {
                return Err(Error::MissingParameter {
                    scheme: "jax.variance_scaling".into(),
                    param: "mode".into(),
                    hint: "fan_in, fan_out, fan_avg or fan_geo_avg".into(),
                });
            };
            let mode = FanMode::parse_keras(&m).map_err(|_| Error::BadMode {
                mode: m.clone(),
                valid: format!(
                    "['fan_in', 'fan_out', 'fan_avg', 'fan_geo_avg']{}",
                    mode_suggestion(&m).map(|s| format!(" (did you mean {s:?}?)")).unwrap_or_default()
                ),
            })?;
            let Some((d, _)) = a.word("distribution") else {
                return Err(Error::MissingParameter {
                    scheme: "jax.variance_scaling".into(),
                    param: "distribution".into(),
                    hint: "truncated_normal, normal (untruncated, as in JAX) or uniform".into(),
                });
            };
            let distribution = match d.to_ascii_lowercase().as_str() {
                "truncated_normal" => VsDistribution::TruncatedNormal,
                "normal" | "untruncated_normal" => VsDistribution::UntruncatedNormal,
                "uniform" => VsDistribution::Uniform,
                _ => {
                    return Err(a.invalid(
                        "distribution",
                        &d,
                        "must be truncated_normal, normal (untruncated, as in JAX) or uniform",
                    ));
                }
            };
            variance_scaling(scale, mode, distribution, jax_axes(&a)?)
        }
        "lecun_normal" | "lecun_uniform" | "glorot_normal" | "glorot_uniform" | "he_normal" | "he_uniform"
        | "xavier_normal" | "xavier_uniform" | "kaiming_normal" | "kaiming_uniform" => {
            let family = match &name[..name.find('_').unwrap_or(0)] {
                "lecun" => KerasFamily::Lecun,
                "glorot" | "xavier" => KerasFamily::Glorot,
                _ => KerasFamily::He,
            };
            let uniform = name.ends_with("uniform");
            let static_name = JAX_NAMES.iter().find(|n| **n == name).copied().unwrap_or("variance_scaling");
            let a = Args::bind(static_name, axis_params, &[], call)?;
            let axes = jax_axes(&a)?;
            if axes.is_default() {
                Init::Keras { family, distribution: if uniform { Family::Uniform } else { Family::Normal } }
            } else {
                let (scale, mode) = family.scale_mode();
                let dist = if uniform { VsDistribution::Uniform } else { VsDistribution::TruncatedNormal };
                Init::JaxVarianceScaling { scale, mode, distribution: dist, axes }
            }
        }
        "orthogonal" | "delta_orthogonal" => {
            let a = Args::bind(
                if name == "orthogonal" { "jax.orthogonal" } else { "jax.delta_orthogonal" },
                &["scale", "column_axis"],
                &[("gain", "scale")],
                call,
            )?;
            let gain = a.positive("scale", 1.0)?;
            let col = a.num("column_axis", -1.0)?;
            if col != -1.0 {
                return Err(a.invalid("column_axis", super::fmt_num(col), "only -1 (the last axis) is supported"));
            }
            if name == "orthogonal" { Init::Orthogonal { gain } } else { Init::DeltaOrthogonal { gain } }
        }
        "constant" => {
            let a = Args::bind("jax.constant", &["value"], &[("val", "value")], call)?;
            Init::Constant { value: a.required("value", "the value every element takes")? }
        }
        "zeros" | "ones" => {
            Args::bind(if name == "zeros" { "jax.zeros" } else { "jax.ones" }, &[], &[], call)?;
            Init::Constant { value: if name == "zeros" { 0.0 } else { 1.0 } }
        }
        other => {
            return Err(Error::UnknownScheme {
                name: format!("jax.{other}"),
                suggestion: closest(other, JAX_NAMES.iter().copied()).map(|s| format!("jax.{s}")),
            });
        }
    })
}

#[cfg(test)]
mod tests {
    use crate::fan::Layout;
    use crate::scheme::{Init, Resolved, TRUNCATION_STD_CORRECTION};
    use crate::shape::Shape;

    fn res(s: &str, d: &[u64]) -> Resolved {
        s.parse::<Init>().unwrap().resolve(&Shape::new(d.to_vec()).unwrap(), Layout::Jax.into()).unwrap()
    }

    #[test]
    fn jax_meanings() {
        // JAX's normal defaults to std 0.01, PyTorch's to 1
        assert_eq!(res("jax.normal", &[3, 4]), Resolved::Normal { mean: 0.0, std: 0.01 });
        assert_eq!(res("normal", &[3, 4]), Resolved::Normal { mean: 0.0, std: 1.0 });
        // bounds in units of stddev
        assert_eq!(
            res("jax.truncated_normal(stddev=0.5, lower=-1, upper=3)", &[3]),
            Resolved::TruncNormal { mean: 0.0, std: 0.5, low: -0.5, high: 1.5 }
        );
        assert_eq!(res("jax.uniform(2)", &[]), Resolved::Uniform { low: 0.0, high: 2.0 });
        // JAX's kaiming_normal is the truncated he_normal, PyTorch's is not truncated
        let std = (2.0f64 / 64.0).sqrt() / TRUNCATION_STD_CORRECTION;
        let he = Resolved::TruncNormal { mean: 0.0, std, low: -2.0 * std, high: 2.0 * std };
        assert_eq!(res("jax.nn.initializers.kaiming_normal", &[64, 32]), he);
        assert_eq!(res("flax.linen.initializers.he_normal", &[64, 32]), he);
        assert!(matches!(res("kaiming_normal", &[64, 32]), Resolved::Normal { .. }));
        // JAX's "normal" distribution is untruncated
        assert_eq!(
            res("jax.variance_scaling(2, fan_in, normal)", &[64, 32]),
            Resolved::Normal { mean: 0.0, std: (2.0f64 / 64.0).sqrt() }
        );
        // DenseGeneral: the (12, 64, 768) kernel with in_axis (0, 1) has fan_in 768
        assert_eq!(
            res("jax.lecun_normal(in_axis='0,1', out_axis=-1)", &[12, 64, 768]),
            res("jax.lecun_normal", &[768, 768])
        );
        assert_eq!(res("jax.orthogonal(scale=2)", &[4, 4]), res("orthogonal(gain=2)", &[4, 4]));
        assert_eq!(res("jax.constant(0.5)", &[2]), Resolved::Constant { value: 0.5 });
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "jax.variance_scaling(1, fan_avg, uniform, in_axis='0,1', out_axis='2,3', batch_axis='')",
            "jax.variance_scaling(0.5, fan_geo_avg, normal, batch_axis=0)",
            "jax.he_normal(in_axis='(0, 1)')",
            "jax.variance_scaling(2, fan_in, truncated_normal)",
            "jax.truncated_normal(stddev=0.02)",
            "jax.zeros",
        ] {
            let init: Init = s.parse().unwrap_or_else(|e| panic!("{s}: {e}"));
            let again: Init = init.to_string().parse().unwrap_or_else(|e| panic!("{init}: {e}"));
            assert_eq!(init, again, "{s} -> {init}");
        }
        let i: Init = "jax.variance_scaling(2, fan_in, normal, in_axis='0,1')".parse().unwrap();
        assert_eq!(
            i.to_string(),
            "jax.variance_scaling(scale=2, mode=fan_in, distribution=normal, in_axis='0,1', out_axis=-1, batch_axis='')"
        );
    }

    #[test]
    fn errors() {
        let e = |s: &str| s.parse::<Init>().unwrap_err().to_string();
        assert!(e("jax.kaiming_nromal").contains("did you mean \"jax.kaiming_normal\""), "{}", e("jax.kaiming_nromal"));
        assert!(e("jax.variance_scaling(2)").contains("mode"));
        assert!(e("jax.variance_scaling(2, fan_in)").contains("distribution"));
        assert!(e("jax.variance_scaling(2, fan_in, gamma)").contains("truncated_normal"));
        assert!(e("jax.variance_scaling(2, fan_inn, normal)").contains("fan_in"));
        assert!(e("jax.orthogonal(column_axis=0)").contains("-1"));
        assert!(e("jax.he_normal(in_axis='a,b')").contains("in_axis"));
        assert!(e("jax.he_normal(in_axis=0.5)").contains("in_axis"));
        assert!(e("jax.sparse(0.1)").contains("jax."));
        let shape = Shape::new(vec![3, 5]).unwrap();
        let i: Init = "jax.he_normal(in_axis=0, out_axis=0)".parse().unwrap();
        assert!(i.resolve(&shape, Layout::Jax.into()).unwrap_err().to_string().contains("both"));
        let i: Init = "jax.he_normal(in_axis=2)".parse().unwrap();
        assert!(i.resolve(&shape, Layout::Jax.into()).unwrap_err().to_string().contains("out of range"));
    }
}
