//! Spec files: a model's tensors, their shapes and schemes, in TOML.
//!
//! ```toml
//! seed = 0            # optional, default 0
//! dtype = "bf16"      # default dtype: f32 (default), f64, f16, bf16
//! layout = "torch"    # weight layout for fans: torch (default), keras, jax
//!
//! [[tensor]]
//! name = "fc1.weight"
//! shape = [512, 784]            # or "512x784"
//! init = "kaiming_normal(nonlinearity=relu)"
//!
//! [[tensor]]
//! name = "fc1.bias"
//! shape = [512]
//! dtype = "f32"                 # optional, overrides the default
//!
//! [[rule]]                      # for tensors without an init: the first matching rule wins
//! match = "*.bias"              # a glob on the name (`*` also crosses dots)
//! init = "zeros"
//! ```
//!
//! Unknown keys, duplicate names, tensors that no rule covers, bad shapes,
//! bad schemes, schemes that do not fit their tensor's shape, and rules
//! that match nothing are errors, reported with the file, line and column.

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;
use varinit::rules::{Glob, Rule, RuleScheme, Rules};
use varinit::{DType, Init, Layout, Shape};

use crate::{IoError, Result, line_col};

/// One tensor to initialize.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    /// The name (the safetensors key).
    pub name: String,
    /// The shape.
    pub shape: Shape,
    /// The scheme.
    pub init: Init,
    /// Its own dtype, if it does not use the model's default.
    pub dtype: Option<DType>,
}

/// A whole model's tensors, with the defaults that apply to them.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The seed.
    pub seed: u64,
    /// Default dtype.
    pub dtype: DType,
    /// Weight layout used to compute fans.
    pub layout: Layout,
    /// The tensors, in file order.
    pub tensors: Vec<TensorSpec>,
    /// How the spec was made (`spec model.toml`, `preset llama style=hf ...`),
    /// recorded in the checkpoint's metadata.
    pub source: String,
    /// A Hugging Face `config.json` to write next to the weights.
    pub hf_config: Option<Vec<u8>>,
}

impl ModelSpec {
    /// The dtype of tensor `t`.
    pub fn dtype_of(&self, t: &TensorSpec) -> DType {
        t.dtype.unwrap_or(self.dtype)
    }

    /// Check what a spec built in code could get wrong: duplicate names, the
    /// reserved name `__metadata__`, schemes that do not fit their shapes.
    pub fn validate(&self) -> Result<()> {
        let mut seen = std::collections::HashSet::new();
        for t in &self.tensors {
            if t.name.is_empty() || t.name == "__metadata__" {
                return Err(IoError::Usage(format!("tensor name {:?} is not allowed", t.name)));
            }
            if !seen.insert(t.name.as_str()) {
                return Err(IoError::Usage(format!("duplicate tensor name {:?}", t.name)));
            }
            t.init
                .resolve(&t.shape, self.layout.into())
                .map_err(|source| IoError::Tensor { tensor: t.name.clone(), source: Box::new(source) })?;
        }
        Ok(())
    }

    /// Total size of the tensors' data in bytes.
    pub fn total_bytes(&self) -> Result<u64> {
        self.tensors.iter().try_fold(0u64, |acc, t| {
            let b = t.shape.byte_len(self.dtype_of(t).size() as u64)?;
            acc.checked_add(b).ok_or_else(|| IoError::Usage("checkpoint larger than 2^64 bytes".into()))
        })
    }

    /// Total number of elements.
    pub fn numel(&self) -> u64 {
        self.tensors.iter().map(|t| t.shape.numel()).fold(0u64, u64::saturating_add)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    seed: Option<Spanned<i64>>,
    dtype: Option<Spanned<String>>,
    layout: Option<Spanned<String>>,
    #[serde(default)]
    tensor: Vec<RawTensor>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTensor {
    name: Spanned<String>,
    shape: Spanned<toml::Value>,
    init: Option<Spanned<String>>,
    dtype: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(rename = "match")]
    pattern: Spanned<String>,
    init: Spanned<String>,
}

/// Read a spec file.
pub fn load(path: &Path) -> Result<ModelSpec> {
    let text = std::fs::read_to_string(path).map_err(|e| IoError::os(path, e))?;
    parse(&text, &path.display().to_string())
}

/// Parse a spec from its text; `file` names it in error messages.
pub fn parse(text: &str, file: &str) -> Result<ModelSpec> {
    let at = |pos: usize, message: String| {
        let (line, column) = line_col(text, pos);
        IoError::Spec { file: file.to_string(), line, column, message }
    };
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        let pos = e.span().map_or(0, |s| s.start);
        at(pos, e.message().trim().replace('\n', "; "))
    })?;
    let seed = match &raw.seed {
        None => 0,
        Some(s) => u64::try_from(*s.get_ref())
            .map_err(|_| at(s.span().start, format!("seed {} must be a non-negative integer", s.get_ref())))?,
    };
    let dtype = match &raw.dtype {
        None => DType::F32,
        Some(d) => d.get_ref().parse().map_err(|e: varinit::Error| at(d.span().start, e.to_string()))?,
    };
    let layout = match &raw.layout {
        None => Layout::Torch,
        Some(l) => l.get_ref().parse().map_err(|e: varinit::Error| at(l.span().start, e.to_string()))?,
    };
    let mut rules = Rules::new();
    for r in &raw.rule {
        let glob = Glob::new(r.pattern.get_ref()).map_err(|e| at(r.pattern.span().start, e.to_string()))?;
        let init: Init =
            r.init.get_ref().parse().map_err(|e: varinit::Error| at(r.init.span().start, e.to_string()))?;
        rules.push_rule(Rule::from_parts(glob, RuleScheme::Init(init)));
    }
    let mut usage = rules.usage();
    let mut tensors = Vec::with_capacity(raw.tensor.len());
    let mut seen = std::collections::HashMap::<String, usize>::new();
    for t in &raw.tensor {
        let name = t.name.get_ref();
        let name_pos = t.name.span().start;
        if name.is_empty() || name == "__metadata__" {
            return Err(at(name_pos, format!("tensor name {name:?} is not allowed")));
        }
        if let Some(&first) = seen.get(name) {
            let (l, _) = line_col(text, first);
            return Err(at(name_pos, format!("duplicate tensor name {name:?} (first defined on line {l})")));
        }
        seen.insert(name.clone(), name_pos);
        let shape = shape_value(t.shape.get_ref()).map_err(|m| at(t.shape.span().start, m))?;
        let tdtype = match &t.dtype {
            None => None,
            Some(d) => Some(d.get_ref().parse().map_err(|e: varinit::Error| at(d.span().start, e.to_string()))?),
        };
        let (init, init_pos, from_rule) = match &t.init {
            Some(s) => {
                let init: Init = s.get_ref().parse().map_err(|e: varinit::Error| at(s.span().start, e.to_string()))?;
                (init, s.span().start, None)
            }
            None => {
                let Some((index, r)) = usage.find(name) else {
                    return Err(at(
                        name_pos,
                        format!("tensor {name:?} has no init and no [[rule]] matches it; add init = \"...\" or a rule"),
                    ));
                };
                let init = match r.scheme() {
                    RuleScheme::Init(init) => init.clone(),
                    other => return Err(at(name_pos, format!("rule {index}: {other} is not a scheme"))),
                };
                (init, name_pos, Some(line_col(text, raw.rule[index].pattern.span().start).0))
            }
        };
        init.resolve(&shape, layout.into()).map_err(|e| {
            let via = from_rule.map_or(String::new(), |l| format!(" (init from the rule on line {l})"));
            at(init_pos, format!("tensor {name:?}{via}: {e}"))
        })?;
        tensors.push(TensorSpec { name: name.clone(), shape, init, dtype: tdtype });
    }
    if tensors.is_empty() {
        return Err(at(0, "the spec has no [[tensor]] entries".into()));
    }
    if let Some((index, _)) = usage.first_unused() {
        // A rule that covers nothing is almost always a typo in its glob.
        return Err(at(
            raw.rule[index].pattern.span().start,
            format!("rule {index} matches no tensor without an explicit init (a typo in the glob?)"),
        ));
    }
    Ok(ModelSpec { seed, dtype, layout, tensors, source: format!("spec {file}"), hf_config: None })
}

fn shape_value(v: &toml::Value) -> std::result::Result<Shape, String> {
    match v {
        toml::Value::String(s) => s.parse::<Shape>().map_err(|e| e.to_string()),
        toml::Value::Array(a) => {
            let mut dims = Vec::with_capacity(a.len());
            for x in a {
                match x {
                    toml::Value::Integer(i) if *i >= 0 => dims.push(*i as u64),
                    other => {
                        return Err(format!(
                            "shape entries must be non-negative integers, found {other}; write shape = [256, 512] or \"256x512\""
                        ));
                    }
                }
            }
            Shape::new(dims).map_err(|e| e.to_string())
        }
        other => Err(format!("shape must be a list or a string like \"256x512\", found {}", other.type_str())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
seed = 7
dtype = "bf16"

[[tensor]]
name = "fc1.weight"
shape = [16, 8]
init = "kaiming_normal"

[[tensor]]
name = "fc1.bias"
shape = "16"
dtype = "f32"

[[tensor]]
name = "fc2.weight"
shape = [4, 16]

[[rule]]
match = "*.bias"
init = "zeros"

[[rule]]
match = "fc*"
init = "xavier_uniform"
"#;

    #[test]
    fn parses_a_good_spec() {
        let s = parse(GOOD, "m.toml").unwrap();
        assert_eq!((s.seed, s.dtype, s.layout), (7, DType::BF16, Layout::Torch));
        let names: Vec<_> = s.tensors.iter().map(|t| (t.name.as_str(), t.init.to_string())).collect();
        assert_eq!(names[1], ("fc1.bias", "zeros".to_string()));
        assert_eq!(names[2].1, "xavier_uniform(gain=1)");
        assert_eq!(s.tensors[1].dtype, Some(DType::F32));
    }

    fn err(text: &str) -> String {
        parse(text, "m.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_have_places() {
        let e = err("seed = 1\nbogus = 2\n[[tensor]]\nname='a'\nshape=[1]\ninit='zeros'\n");
        assert!(e.starts_with("m.toml:2:1:") && e.contains("bogus"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2,2]\ninit='zeros'\n[[tensor]]\nname='a'\nshape=[1]\ninit='ones'\n");
        assert!(e.starts_with("m.toml:6:6:") && e.contains("duplicate") && e.contains("line 2"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2,2]\n");
        assert!(e.starts_with("m.toml:2:6:") && e.contains("no [[rule]]"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2,-2]\ninit='zeros'\n");
        assert!(e.starts_with("m.toml:3:7:") && e.contains("non-negative"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2,2]\ninit='kaiming_nromal'\n");
        assert!(e.starts_with("m.toml:4:6:") && e.contains("did you mean"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2]\ninit='kaiming_normal'\n");
        assert!(e.starts_with("m.toml:4:6:") && e.contains("shape"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2]\n[[rule]]\nmatch='*'\ninit='xavier_normal'\n");
        assert!(e.starts_with("m.toml:2:6:") && e.contains("rule on line 5"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2]\ninit='zeros'\n[[rule]]\nmatch='b*'\ninit='ones'\n");
        assert!(e.starts_with("m.toml:6:7:") && e.contains("matches no tensor"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2]\ninit='zeros'\ndtype='int4'\n");
        assert!(e.starts_with("m.toml:5:7:"), "{e}");
        let e = err("[[tensor]]\nname='a'\nshape=[2]\ninit='zeros'\n[[rule]]\nmatch='a[*'\ninit='ones'\n");
        assert!(e.contains("bad glob"), "{e}");
        let e = err("seed = -1\n[[tensor]]\nname='a'\nshape=[2]\ninit='zeros'\n");
        assert!(e.starts_with("m.toml:1:8:"), "{e}");
        let e = err("[[tensor]\n");
        assert!(e.starts_with("m.toml:1:"), "{e}");
        assert!(err("").contains("no [[tensor]]"));
        let e = err("[[tensor]]\nname='a'\nshape='4294967296x4294967296'\ninit='zeros'\n");
        assert!(e.contains("64 bits"), "{e}");
    }
}
