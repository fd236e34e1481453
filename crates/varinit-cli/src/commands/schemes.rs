//! `varinit schemes [--json]`
//!
//! The text table is the library's catalogue (`varinit::scheme::SCHEMES`).
//! The JSON lists every scheme for programs: canonical name, aliases,
//! parameters (name, default, type, accepted aliases) and home framework.
//! The library's catalogue has no structured form yet, so [`CATALOGUE`]
//! spells it out here; the tests below hold it to the parser (every name,
//! alias, parameter and default is checked against `Init::from_str`), and
//! it is meant to be re-pointed at a structured library catalogue when one
//! exists.

use serde::Serialize;
use varinit::gain::TORCH_GAIN_NAMES;
use varinit::scheme::SCHEMES;

use crate::output::{CliError, CliResult};

#[derive(clap::Args)]
pub struct Args {
    /// One JSON document instead of text (docs/json.md: name, aliases, parameters, home framework).
    #[arg(long)]
    pub json: bool,
}

/// The type of a parameter's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamType {
    /// A finite number (expressions allowed).
    Number,
    /// A number that may be infinite (`inf`, `-inf`), such as truncation bounds.
    ExtendedNumber,
    /// A non-negative integer.
    Integer,
    /// A positive number or a nonlinearity name whose PyTorch gain is used (`gain=relu`).
    Gain,
    /// One of the listed words.
    Choice(&'static [&'static str]),
}

impl ParamType {
    fn name(self) -> &'static str {
        match self {
            ParamType::Number => "number",
            ParamType::ExtendedNumber => "extended_number",
            ParamType::Integer => "integer",
            ParamType::Gain => "gain",
            ParamType::Choice(_) => "choice",
        }
    }
}

/// A parameter's default value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ParamDefault {
    /// The parameter must be given.
    Required,
    /// Absent unless given (and then something else happens: see the description).
    None,
    Number(f64),
    Word(&'static str),
}

/// One parameter of a scheme, in positional order.
pub struct Param {
    pub name: &'static str,
    pub ty: ParamType,
    pub default: ParamDefault,
    /// Other keyword names accepted for it.
    pub aliases: &'static [&'static str],
}

/// One scheme of the grammar.
pub struct SchemeInfo {
    pub name: &'static str,
    /// Other spellings with the same meaning (beyond the general rules: any
    /// case, CamelCase, a trailing `_`, dotted prefixes).
    pub aliases: &'static [&'static str],
    /// The framework whose semantics the name keeps: pytorch, keras, jax or varinit.
    pub home: &'static str,
    /// Other frameworks whose function of this name has exactly these semantics.
    pub same_in: &'static [&'static str],
    pub params: &'static [Param],
    pub description: &'static str,
}

const fn p(name: &'static str, ty: ParamType, default: ParamDefault, aliases: &'static [&'static str]) -> Param {
    Param { name, ty, default, aliases }
}

use ParamDefault::{Number as N, Required, Word as W};
use ParamType::{Choice, ExtendedNumber, Gain, Integer, Number};

const TORCH_MODES: &[&str] = &["fan_in", "fan_out"];
const KERAS_MODES: &[&str] = &["fan_in", "fan_out", "fan_avg", "fan_geo_avg"];
const VS_DISTRIBUTIONS: &[&str] = &["truncated_normal", "untruncated_normal", "uniform"];

/// Every scheme of the grammar.
pub const CATALOGUE: &[SchemeInfo] = &[
    SchemeInfo {
        name: "uniform",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[p("a", Number, N(0.0), &["low", "minval"]), p("b", Number, N(1.0), &["high", "maxval"])],
        description: "U(a, b) (torch.nn.init.uniform_)",
    },
    SchemeInfo {
        name: "random_uniform",
        aliases: &[],
        home: "keras",
        same_in: &[],
        params: &[p("minval", Number, N(-0.05), &["a"]), p("maxval", Number, N(0.05), &["b"])],
        description: "U(minval, maxval) (keras.initializers.RandomUniform)",
    },
    SchemeInfo {
        name: "normal",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[p("mean", Number, N(0.0), &["loc"]), p("std", Number, N(1.0), &["stddev", "scale"])],
        description: "N(mean, std^2) (torch.nn.init.normal_; JAX's normal has std 0.01 and no mean: write normal(std=0.01))",
    },
    SchemeInfo {
        name: "random_normal",
        aliases: &[],
        home: "keras",
        same_in: &[],
        params: &[p("mean", Number, N(0.0), &[]), p("stddev", Number, N(0.05), &["std"])],
        description: "N(mean, stddev^2) (keras.initializers.RandomNormal)",
    },
    SchemeInfo {
        name: "trunc_normal",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[
            p("mean", Number, N(0.0), &[]),
            p("std", Number, N(1.0), &["stddev"]),
            p("a", ExtendedNumber, N(-2.0), &["low"]),
            p("b", ExtendedNumber, N(2.0), &["high"]),
        ],
        description: "N(mean, std^2) restricted to [a, b], absolute bounds (torch.nn.init.trunc_normal_)",
    },
    SchemeInfo {
        name: "truncated_normal",
        aliases: &[],
        home: "keras",
        same_in: &[],
        params: &[p("mean", Number, N(0.0), &[]), p("stddev", Number, N(0.05), &["std"])],
        description: "N(mean, stddev^2) cut at mean +- 2 stddev (keras.initializers.TruncatedNormal; \
                      not JAX's truncated_normal(stddev, lower, upper))",
    },
    SchemeInfo {
        name: "constant",
        aliases: &[],
        home: "pytorch",
        same_in: &["keras", "jax"],
        params: &[p("val", Number, Required, &["value", "fill_value"])],
        description: "every element equal to val (torch.nn.init.constant_)",
    },
    SchemeInfo {
        name: "zeros",
        aliases: &["zero"],
        home: "pytorch",
        same_in: &["keras", "jax"],
        params: &[],
        description: "every element 0",
    },
    SchemeInfo {
        name: "ones",
        aliases: &["one"],
        home: "pytorch",
        same_in: &["keras", "jax"],
        params: &[],
        description: "every element 1",
    },
    SchemeInfo {
        name: "eye",
        aliases: &["identity"],
        home: "pytorch",
        same_in: &["keras"],
        params: &[p("gain", Number, N(1.0), &[])],
        description: "identity matrix times gain, 2-D only (torch.nn.init.eye_, keras.initializers.Identity)",
    },
    SchemeInfo {
        name: "dirac",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[p("groups", Integer, N(1.0), &[])],
        description: "identity-preserving convolution kernel, 3-5-D (torch.nn.init.dirac_)",
    },
    SchemeInfo {
        name: "xavier_uniform",
        aliases: &[],
        home: "pytorch",
        same_in: &["jax"],
        params: &[p("gain", Gain, N(1.0), &[])],
        description: "U(-l, l), l = gain sqrt(6 / (fan_in + fan_out))",
    },
    SchemeInfo {
        name: "xavier_normal",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[p("gain", Gain, N(1.0), &[])],
        description: "N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)), untruncated",
    },
    SchemeInfo {
        name: "kaiming_uniform",
        aliases: &[],
        home: "pytorch",
        same_in: &["jax"],
        params: &[
            p("a", Number, N(0.0), &["negative_slope"]),
            p("mode", Choice(TORCH_MODES), W("fan_in"), &[]),
            p("nonlinearity", Choice(&TORCH_GAIN_NAMES), W("leaky_relu"), &[]),
        ],
        description: "U(-l, l), l = gain sqrt(3 / fan), gain = calculate_gain(nonlinearity, a)",
    },
    SchemeInfo {
        name: "kaiming_normal",
        aliases: &["kaiming_he_normal"],
        home: "pytorch",
        same_in: &[],
        params: &[
            p("a", Number, N(0.0), &["negative_slope"]),
            p("mode", Choice(TORCH_MODES), W("fan_in"), &[]),
            p("nonlinearity", Choice(&TORCH_GAIN_NAMES), W("leaky_relu"), &[]),
        ],
        description: "N(0, s^2), s = gain / sqrt(fan), untruncated (JAX's kaiming_normal is he_normal, truncated)",
    },
    SchemeInfo {
        name: "lecun_uniform",
        aliases: &[],
        home: "keras",
        same_in: &["jax"],
        params: &[],
        description: "variance_scaling(1, fan_in, uniform)",
    },
    SchemeInfo {
        name: "lecun_normal",
        aliases: &[],
        home: "keras",
        same_in: &["jax"],
        params: &[],
        description: "variance_scaling(1, fan_in, truncated_normal)",
    },
    SchemeInfo {
        name: "glorot_uniform",
        aliases: &[],
        home: "keras",
        same_in: &["jax"],
        params: &[],
        description: "variance_scaling(1, fan_avg, uniform)",
    },
    SchemeInfo {
        name: "glorot_normal",
        aliases: &[],
        home: "keras",
        same_in: &["jax"],
        params: &[],
        description: "variance_scaling(1, fan_avg, truncated_normal)",
    },
    SchemeInfo {
        name: "he_uniform",
        aliases: &[],
        home: "keras",
        same_in: &["jax"],
        params: &[],
        description: "variance_scaling(2, fan_in, uniform)",
    },
    SchemeInfo {
        name: "he_normal",
        aliases: &[],
        home: "keras",
        same_in: &["jax"],
        params: &[],
        description: "variance_scaling(2, fan_in, truncated_normal)",
    },
    SchemeInfo {
        name: "variance_scaling",
        aliases: &[],
        home: "keras",
        same_in: &[],
        params: &[
            p("scale", Number, N(1.0), &[]),
            p("mode", Choice(KERAS_MODES), W("fan_in"), &[]),
            p("distribution", Choice(VS_DISTRIBUTIONS), W("truncated_normal"), &[]),
        ],
        description: "var = scale / max(1, fan); truncated_normal (corrected by 0.8796), untruncated_normal or uniform \
                      (JAX's in_axis / out_axis / batch_axis are not accepted)",
    },
    SchemeInfo {
        name: "orthogonal",
        aliases: &[],
        home: "pytorch",
        same_in: &["keras", "jax"],
        params: &[p("gain", Gain, N(1.0), &["scale"])],
        description: "(semi-)orthogonal matrix times gain, QR of a Gaussian, sign-corrected; flattened as the layout's \
                      framework does",
    },
    SchemeInfo {
        name: "delta_orthogonal",
        aliases: &[],
        home: "jax",
        same_in: &[],
        params: &[p("gain", Gain, N(1.0), &["scale"])],
        description: "zeros but an orthogonal in x out matrix at the kernel centre, 3-5-D, in <= out",
    },
    SchemeInfo {
        name: "sparse",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[p("sparsity", Number, Required, &[]), p("std", Number, N(0.01), &[])],
        description: "N(0, std^2) with ceil(sparsity rows) zeros per column, 2-D (torch.nn.init.sparse_)",
    },
    SchemeInfo {
        name: "torch_default",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[],
        description: "nn.Linear / nn.ConvNd weight default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))",
    },
    SchemeInfo {
        name: "torch_default_bias",
        aliases: &[],
        home: "pytorch",
        same_in: &[],
        params: &[p("fan_in", Integer, ParamDefault::None, &[])],
        description: "nn.Linear / nn.ConvNd bias default: U(+-1/sqrt(fan_in)), 0 if fan_in is 0; fan_in is needed \
                      to resolve (a spec file or preset gives it)",
    },
];

/// The JSON shape of `varinit schemes --json` (docs/json.md).
#[derive(Serialize)]
struct JsonOut {
    schemes: Vec<JsonScheme>,
    /// Spellings accepted for every name.
    name_rules: &'static str,
    /// Value syntax.
    value_rules: &'static str,
}

#[derive(Serialize)]
struct JsonScheme {
    name: &'static str,
    aliases: &'static [&'static str],
    home: &'static str,
    same_in: &'static [&'static str],
    parameters: Vec<JsonParam>,
    signature: String,
    description: &'static str,
}

#[derive(Serialize)]
struct JsonParam {
    name: &'static str,
    #[serde(rename = "type")]
    ty: &'static str,
    /// Allowed words for `choice`, else absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<&'static [&'static str]>,
    required: bool,
    /// A number, a word, or null (required, or absent unless given).
    default: serde_json::Value,
    aliases: &'static [&'static str],
}

fn fmt_default(d: ParamDefault) -> Option<String> {
    match d {
        ParamDefault::Required | ParamDefault::None => None,
        ParamDefault::Number(x) => Some(varinit::scheme::fmt_num(x)),
        ParamDefault::Word(w) => Some(w.to_string()),
    }
}

/// `name(p=default, ...)`, the way the README and the text table write it.
fn signature(s: &SchemeInfo) -> String {
    if s.params.is_empty() {
        return s.name.to_string();
    }
    let ps: Vec<String> = s
        .params
        .iter()
        .map(|p| fmt_default(p.default).map_or(p.name.to_string(), |d| format!("{}={d}", p.name)))
        .collect();
    format!("{}({})", s.name, ps.join(", "))
}

fn to_json() -> JsonOut {
    JsonOut {
        schemes: CATALOGUE
            .iter()
            .map(|s| JsonScheme {
                name: s.name,
                aliases: s.aliases,
                home: s.home,
                same_in: s.same_in,
                parameters: s
                    .params
                    .iter()
                    .map(|p| JsonParam {
                        name: p.name,
                        ty: p.ty.name(),
                        choices: match p.ty {
                            ParamType::Choice(c) => Some(c),
                            _ => None,
                        },
                        required: p.default == ParamDefault::Required,
                        default: match p.default {
                            ParamDefault::Required | ParamDefault::None => serde_json::Value::Null,
                            ParamDefault::Number(x) => serde_json::json!(x),
                            ParamDefault::Word(w) => serde_json::json!(w),
                        },
                        aliases: p.aliases,
                    })
                    .collect(),
                signature: signature(s),
                description: s.description,
            })
            .collect(),
        name_rules: "names are case-insensitive; CamelCase class names (GlorotUniform), a trailing _ (PyTorch's \
                     in-place kaiming_normal_) and dotted prefixes (torch.nn.init.) are accepted; a name keeps its \
                     home framework's meaning whatever the prefix",
        value_rules: "positional arguments in the order of parameters; numbers may be expressions (1/sqrt(5), 2**-3); \
                      a gain may be a nonlinearity name (gain=relu)",
    }
}

pub fn run(a: Args) -> CliResult {
    if a.json {
        let s = serde_json::to_string_pretty(&to_json()).map_err(|e| CliError::failure(e.to_string()))?;
        println!("{s}");
        return Ok(());
    }
    let w = SCHEMES.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    for (s, d) in SCHEMES {
        println!("{s:<w$}  {d}");
    }
    println!();
    println!("Numbers may be expressions (1/sqrt(5), 2**-3); gains may be nonlinearity names (gain=relu).");
    println!("`varinit schemes --json` lists every name with its aliases, parameters, defaults and home framework.");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use varinit::Init;

    fn parse(s: &str) -> Init {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    /// A valid value for a parameter (not its default where possible).
    fn some_value(p: &Param) -> String {
        match p.ty {
            Number | ExtendedNumber => match p.name {
                "sparsity" => "0.25".into(),
                "a" | "low" | "minval" => "-0.5".into(),
                "b" | "maxval" => "0.75".into(),
                _ => "0.5".into(),
            },
            Integer => "2".into(),
            Gain => "1.5".into(),
            Choice(c) => c.last().unwrap().to_string(),
        }
    }

    /// The scheme called with its required parameters only.
    fn minimal(s: &SchemeInfo, name: &str) -> String {
        let req: Vec<String> = s
            .params
            .iter()
            .filter(|p| p.default == Required)
            .map(|p| format!("{}={}", p.name, some_value(p)))
            .collect();
        if req.is_empty() { name.to_string() } else { format!("{name}({})", req.join(", ")) }
    }

    #[test]
    fn every_library_name_is_listed_and_every_listed_name_parses() {
        let listed: Vec<&str> = CATALOGUE.iter().map(|s| s.name).collect();
        // the library's catalogue: "name(...)" or "a, b" per row
        let mut library = Vec::new();
        for (sig, _) in SCHEMES {
            for part in sig.split(", ") {
                let name = part.split('(').next().unwrap().trim();
                if !name.contains('=') && !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    library.push(name);
                }
            }
        }
        for n in &library {
            assert!(listed.contains(n), "{n} is in the library's catalogue but not in the JSON");
        }
        for s in CATALOGUE {
            parse(&minimal(s, s.name));
            for a in s.aliases {
                assert_eq!(parse(&minimal(s, a)), parse(&minimal(s, s.name)), "alias {a} of {}", s.name);
            }
        }
        assert!(listed.len() >= library.len());
    }

    #[test]
    fn parameters_defaults_and_aliases_match_the_parser() {
        for s in CATALOGUE {
            let base = minimal(s, s.name);
            // too many positional arguments are refused: the list is complete
            let all: Vec<String> = s.params.iter().map(some_value).collect();
            let mut too_many = all.clone();
            too_many.push("1".into());
            assert!(format!("{}({})", s.name, too_many.join(", ")).parse::<Init>().is_err(), "{}", s.name);
            if !s.params.is_empty() {
                // positional order
                let kw: Vec<String> = s.params.iter().zip(&all).map(|(p, v)| format!("{}={v}", p.name)).collect();
                assert_eq!(
                    parse(&format!("{}({})", s.name, all.join(", "))),
                    parse(&format!("{}({})", s.name, kw.join(", "))),
                    "{}: positional order",
                    s.name
                );
            }
            let required: Vec<String> = s
                .params
                .iter()
                .filter(|p| p.default == Required)
                .map(|p| format!("{}={}", p.name, some_value(p)))
                .collect();
            for p in s.params {
                let others: Vec<String> =
                    required.iter().filter(|r| !r.starts_with(&format!("{}=", p.name))).cloned().collect();
                let call = |arg: String| {
                    let mut v = others.clone();
                    v.push(arg);
                    format!("{}({})", s.name, v.join(", "))
                };
                match p.default {
                    Required => {
                        let without = if others.is_empty() {
                            s.name.to_string()
                        } else {
                            format!("{}({})", s.name, others.join(", "))
                        };
                        assert!(without.parse::<Init>().is_err(), "{}: {} should be required", s.name, p.name);
                    }
                    ParamDefault::None => {}
                    d => {
                        let d = fmt_default(d).unwrap();
                        assert_eq!(
                            parse(&call(format!("{}={d}", p.name))),
                            parse(&base),
                            "{}: default of {}",
                            s.name,
                            p.name
                        );
                    }
                }
                let v = some_value(p);
                let with = parse(&call(format!("{}={v}", p.name)));
                if !matches!(p.default, Required | ParamDefault::None) {
                    assert_ne!(with, parse(&base), "{}: {}={v} changes nothing", s.name, p.name);
                }
                for a in p.aliases {
                    assert_eq!(parse(&call(format!("{a}={v}"))), with, "{}: alias {a} of {}", s.name, p.name);
                }
                if let Choice(c) = p.ty {
                    for w in c {
                        parse(&call(format!("{}={w}", p.name)));
                    }
                    assert!(call(format!("{}=nonsense", p.name)).parse::<Init>().is_err());
                }
            }
        }
    }

    #[test]
    fn signatures_match_the_text_table() {
        let mut compared = 0;
        for (row, _) in SCHEMES {
            if let Some(end) = row.find(')') {
                let sig = &row[..=end];
                let name = &sig[..sig.find('(').unwrap()];
                if name.contains('.') {
                    continue; // the `jax.NAME(...)` row describes a prefix, not one scheme
                }
                let s = CATALOGUE.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name} not listed"));
                assert_eq!(signature(s), sig);
                compared += 1;
            }
        }
        assert!(compared >= 12, "{compared}");
    }
}
