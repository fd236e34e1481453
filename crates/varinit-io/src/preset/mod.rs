//! Model presets and Hugging Face configs, expanded to full tensor lists.
//!
//! Presets: `llama` (Hugging Face `LlamaForCausalLM`), `gpt2`
//! (`GPT2LMHeadModel`) and `mlp` (a plain stack of linear layers). A Hugging
//! Face `config.json` of a [supported model type](HF_MODEL_TYPES) gives the
//! tensor lists transformers saves, with its names, shapes and state-dict
//! order (pinned against transformers 5.24 in the tests); any other
//! architecture goes through the Python package (`python -m varinit.hf`).
//!
//! The module is split by job: `settings` (key=value settings and config
//! objects as a typed serde merge over an architecture's defaults), `build`
//! (tensor lists, the schemes of a decoder as [`varinit::Init`] values, the
//! shared decoder fields [`Dims`], the attention / MLP / MoE blocks), `native`
//! (one path from a config or a preset for the families after Llama and
//! GPT-2) and one file per family. Each
//! architecture struct derives serde with transformers' config defaults,
//! has `vars()` (the variables init styles use: `L`, `d`, `d_ff`, `heads`,
//! `kv_heads`, `head_dim`, `vocab`, `std`, `experts`) and builds its tensors
//! with transformers' `_init_weights` schemes.
//!
//! Init styles are data ([`varinit::style`]): the chosen style
//! ([`ChosenStyle`]: a built-in name or a style file; `hf` by default; the
//! `style` setting or a style given apart) is applied over those defaults
//! with the family's variables. `depth_init = false` turns `torchtitan`
//! into `torchtitan_flat`. A style none of whose rules names a weight of
//! the model (or changes a bias) is refused, except `hf`, which keeps
//! everything. `hf` is what transformers' `_init_weights` does (5.24),
//! except that it also zeroes the embedding row of `pad_token_id` when the
//! config sets one (Gemma, Phi-3 and OLMo 2 set one by default); varinit
//! draws that row like the others.

mod build;
mod gemma;
mod gpt2;
mod llama;
mod mixtral;
mod mlp;
mod native;
mod olmo2;
mod phi3;
mod qwen3;
mod settings;

use serde_json::{Map, Value};
use sha2::Digest;
use varinit::style::{Style, Vars};
use varinit::{DType, Layout};

pub use build::Dims;
pub use gemma::GemmaArch;
pub use gpt2::Gpt2Arch;
pub use llama::LlamaArch;
pub use mixtral::MixtralArch;
pub use olmo2::Olmo2Arch;
pub use phi3::Phi3Arch;
pub use qwen3::Qwen3Arch;

use crate::spec::{ModelSpec, TensorSpec};
use crate::{IoError, Result};
use settings::Settings;

/// The preset names.
pub const PRESETS: &[&str] =
    &["llama", "gpt2", "mlp", "mixtral", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "phi3", "olmo2"];

/// The `model_type`s a Hugging Face config may have.
pub const HF_MODEL_TYPES: &[&str] =
    &["llama", "mistral", "qwen2", "mixtral", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "phi3", "olmo2", "gpt2"];

/// An init style chosen for a transformer preset or a Hugging Face
/// config: a built-in style by name or a style file, with the label the
/// spec's `source` records for it.
#[derive(Debug, Clone)]
pub struct ChosenStyle {
    style: Style,
    given: String,
    label: String,
    builtin: bool,
}

/// Hex digits of the SHA-256 of a style file's bytes kept in its label.
const STYLE_HASH_DIGITS: usize = 16;

impl ChosenStyle {
    /// A built-in style by name (its label is the name), else the style
    /// file at that path (its label is `PATH@sha256:` and the first 16 hex
    /// digits of the SHA-256 of its bytes, so the source says which bytes
    /// made the checkpoint).
    pub fn load(name_or_path: &str) -> Result<ChosenStyle> {
        if Style::builtin_names().any(|n| n == name_or_path) {
            return Ok(ChosenStyle {
                style: Style::builtin(name_or_path)?,
                given: name_or_path.to_string(),
                label: name_or_path.to_string(),
                builtin: true,
            });
        }
        let path = std::path::Path::new(name_or_path);
        if !path.is_file() {
            // the loader's message: a mistyped built-in name, or no such file
            return Err(crate::style::load(name_or_path).err().unwrap_or_else(|| {
                IoError::Usage(format!("style {name_or_path:?}: not a built-in style name nor a file"))
            }));
        }
        let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
        if meta.len() > crate::style::MAX_STYLE_BYTES {
            return Err(IoError::Usage(format!(
                "{name_or_path}: {} bytes; a style file has at most {}",
                meta.len(),
                crate::style::MAX_STYLE_BYTES
            )));
        }
        let bytes = std::fs::read(path).map_err(|e| IoError::os(path, e))?;
        let text = String::from_utf8(bytes.clone())
            .map_err(|_| IoError::Usage(format!("{name_or_path}: a style file must be UTF-8 text")))?;
        let style = Style::parse(&text, name_or_path)?;
        let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect::<String>()
            [..STYLE_HASH_DIGITS]
            .to_string();
        Ok(ChosenStyle {
            style,
            given: name_or_path.to_string(),
            label: format!("{name_or_path}@sha256:{digest}"),
            builtin: false,
        })
    }

    /// The style.
    pub fn style(&self) -> &Style {
        &self.style
    }

    /// What `source` records: the built-in name, or `PATH@sha256:HEX`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Whether it is a built-in style.
    pub fn is_builtin(&self) -> bool {
        self.builtin
    }

    fn is_hf(&self) -> bool {
        self.builtin && self.given == "hf"
    }
}

/// The style of a preset or config: `chosen` (given apart from the
/// settings), else the `style` setting, else `hf`; with `depth_init =
/// false`, built-in `torchtitan` is `torchtitan_flat`. Also whether the
/// style came from the settings.
fn choose_style(s: &Settings, chosen: Option<&ChosenStyle>, depth_init: bool) -> Result<(ChosenStyle, bool)> {
    let (mut c, from_settings) = match (chosen, s.raw("style")) {
        (Some(c), Some(set)) => {
            let other = ChosenStyle::load(set)?;
            if other.label != c.label {
                return Err(IoError::Usage(format!("two different styles are given: {} and {}", c.label, other.label)));
            }
            (c.clone(), true)
        }
        (Some(c), None) => (c.clone(), false),
        (None, Some(set)) => (ChosenStyle::load(set)?, true),
        (None, None) => (ChosenStyle::load("hf")?, false),
    };
    if !depth_init && c.builtin && c.given == "torchtitan" {
        c.style = Style::builtin("torchtitan_flat")?;
    }
    Ok((c, from_settings))
}

/// `tensors` (a family's, with transformers' default schemes) with
/// `style` applied with the architecture's variables. A style none of
/// whose rules names a tensor of the model is refused (it was written for
/// other tensor names), except `hf`, which keeps every default: a rule
/// counts when it gives a weight a scheme, or changes a bias's (a
/// catch-all `*.bias = zeros` alone does not make a style apply).
fn apply_style(
    style: &ChosenStyle,
    vars: Vec<(&'static str, f64)>,
    mut tensors: Vec<TensorSpec>,
    model: &str,
) -> Result<Vec<TensorSpec>> {
    let v = vars.into_iter().fold(Vars::new(), |v, (n, x)| v.with(n, x));
    let assigned = style.style.apply_all(&v, tensors.iter().map(|t| (t.name.as_str(), &t.init)))?;
    let mut applies = false;
    for (t, a) in tensors.iter_mut().zip(assigned) {
        if !a.kept() {
            applies |= !t.name.ends_with(".bias") || a.init != t.init;
            t.init = a.init;
        }
    }
    if !applies && !style.is_hf() {
        return Err(IoError::Usage(format!(
            "style {} does not apply to {model}: its rules name none of {model}'s weights (they are written for \
             other tensor names); the style hf is transformers' init",
            style.given
        )));
    }
    Ok(tensors)
}

fn torch_dtype_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
    }
}

/// The keys every transformer preset takes besides its config fields.
const COMMON_KEYS: &[&str] = &["size", "style"];

/// The settings of a transformer preset, checked, and its architecture:
/// the defaults, then the named `size` (the first of `sizes` when none is
/// given), then the settings, merged into `T`.
fn preset_arch<'a, T>(
    name: &str,
    sets: &'a [String],
    defaults: &T,
    sizes: &[(&str, Value)],
    extra: &[&str],
) -> Result<(T, Settings<'a>)>
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let mut base = settings::object_of(defaults);
    let mut valid: Vec<&str> = COMMON_KEYS.to_vec();
    valid.extend_from_slice(extra);
    valid.extend(settings::keys_of(&base));
    let s = Settings::new(&format!("preset {name}"), sets, &valid)?;
    let size = s.raw("size").unwrap_or(sizes[0].0);
    let Some((_, over)) = sizes.iter().find(|(n, _)| *n == size) else {
        let names: Vec<&str> = sizes.iter().map(|(n, _)| *n).collect();
        let (last, rest) = names.split_last().unwrap_or((&"", &[]));
        return Err(IoError::Usage(format!("{name} size={size:?}: use {} or {last}", rest.join(", "))));
    };
    if let Value::Object(o) = over {
        for (k, v) in o {
            if base.contains_key(k) {
                base.insert(k.clone(), v.clone());
            }
        }
    }
    Ok((s.merge(base)?, s))
}

/// Expand a preset with `key=value` settings into a spec (seed 0, dtype
/// f32: the caller applies its seed and dtype), with a `config.json` for
/// the transformer presets.
///
/// - `llama`: `size` = `tiny` | `0.85b` (default: hidden 2048, MLP 5632, 16
///   layers, 32 heads, 8 KV heads, vocabulary 32000) | `7b` | `13b`, then any
///   `LlamaConfig` field (`num_key_value_heads=4`, `tie_word_embeddings=true`,
///   ...), `style` (a built-in style name or a style file), `depth_init`.
/// - `gpt2`: `size` = `tiny` | `small` (default, 124M) | `medium` | `large` |
///   `xl`, then any `GPT2Config` field, `style`.
/// - `mlp`: `dims=784,256,10`, `bias=true`, `style` = `torch` (PyTorch's
///   `nn.Linear` default) | `hf` (N(0, 0.02²), zero bias) | `kaiming`
///   (kaiming_normal for ReLU, zero bias).
pub fn expand(preset: &str, sets: &[String], dtype: DType) -> Result<ModelSpec> {
    expand_styled(preset, sets, None, dtype)
}

/// [`expand`] with an init style given apart from the settings (a
/// built-in name or a file, [`ChosenStyle`]); a `style` setting too must
/// name the same style. The `mlp` preset takes no init style (its `style`
/// setting is its own).
pub fn expand_styled(preset: &str, sets: &[String], style: Option<&ChosenStyle>, dtype: DType) -> Result<ModelSpec> {
    match preset {
        "llama" => {
            let (a, s): (LlamaArch, _) =
                preset_arch("llama", sets, &LlamaArch::default(), &llama::sizes(), &["depth_init"])?;
            let (style, from_settings) = choose_style(&s, style, s.boolean("depth_init", true)?)?;
            let tensors = apply_style(&style, a.vars(), a.tensors("llama")?, "llama")?;
            Ok(model("llama", &style, from_settings, &s, tensors, Some(a.hf_config("llama", dtype))))
        }
        "gpt2" => {
            let (a, s): (Gpt2Arch, _) = preset_arch("gpt2", sets, &Gpt2Arch::default(), &gpt2::sizes(), &[])?;
            let (style, from_settings) = choose_style(&s, style, true)?;
            let tensors = apply_style(&style, a.vars(), a.tensors()?, "gpt2")?;
            Ok(model("gpt2", &style, from_settings, &s, tensors, Some(a.hf_config(dtype))))
        }
        "mixtral" => native::preset::<MixtralArch>(preset, sets, style, dtype),
        "qwen3" | "qwen3_moe" => native::preset::<Qwen3Arch>(preset, sets, style, dtype),
        "gemma2" | "gemma3_text" => native::preset::<GemmaArch>(preset, sets, style, dtype),
        "phi3" => native::preset::<Phi3Arch>(preset, sets, style, dtype),
        "olmo2" => native::preset::<Olmo2Arch>(preset, sets, style, dtype),
        "mlp" => {
            if style.is_some() {
                return Err(IoError::Usage(
                    "init styles apply to the transformer presets and configs; the mlp preset has a style setting \
                     of its own (torch, hf, kaiming)"
                        .into(),
                ));
            }
            let s = Settings::new("preset mlp", sets, mlp::KEYS)?;
            let (tensors, style) = mlp::tensors(&s)?;
            let settings = s.describe();
            let source = if settings.contains(" style=") {
                format!("preset mlp{settings}")
            } else {
                format!("preset mlp style={style}{settings}")
            };
            Ok(ModelSpec { seed: 0, dtype: DType::F32, layout: Layout::Torch, tensors, source, hf_config: None })
        }
        _ => {
            let suggestion = varinit::suggest::closest(preset, PRESETS.iter().copied());
            Err(IoError::Usage(format!(
                "unknown preset {preset:?}{}; presets: {}",
                varinit::suggest::did_you_mean(suggestion.as_deref()),
                PRESETS.join(", ")
            )))
        }
    }
}

/// The spec of a transformer preset. Its `source` is `preset NAME`, the
/// style and the settings: a built-in style set as a setting stays where
/// it was given (`preset llama size=tiny style=megatron`); otherwise the
/// style's label comes first (`preset llama style=olmo size=tiny`, a file
/// as `PATH@sha256:HEX`).
fn model(
    name: &str,
    style: &ChosenStyle,
    from_settings: bool,
    s: &Settings,
    tensors: Vec<TensorSpec>,
    config: Option<Value>,
) -> ModelSpec {
    let hf_config = config.map(|c| {
        let mut text = serde_json::to_string_pretty(&c).expect("JSON values serialize");
        text.push('\n');
        text.into_bytes()
    });
    let source = if from_settings && style.is_builtin() {
        format!("preset {name}{}", s.describe())
    } else {
        format!("preset {name} style={}{}", style.label(), s.describe_without("style"))
    };
    ModelSpec { seed: 0, dtype: DType::F32, layout: Layout::Torch, tensors, source, hf_config }
}

/// Read a Hugging Face `config.json` (a model type of [`HF_MODEL_TYPES`])
/// into a spec whose tensors are what transformers' `*ForCausalLM` /
/// `GPT2LMHeadModel` saves, and which writes the config's bytes,
/// unchanged, next to the weights. The fields absent from the config take
/// transformers' defaults for its model type. `sets` may choose `style` and
/// `depth_init`; the architecture comes from the config alone. The dtype is
/// the config's `dtype` (or `torch_dtype`) when it names one, else f32.
///
/// A multimodal Gemma 3 config (model type `gemma3`) is refused: its
/// checkpoint holds a vision tower too; its `text_config`, saved as a
/// config of its own (model type `gemma3_text`), is the text model.
pub fn from_hf_config(bytes: &[u8], file: &str, sets: &[String]) -> Result<ModelSpec> {
    from_hf_config_styled(bytes, file, sets, None)
}

/// [`from_hf_config`] with an init style given apart from the settings (a
/// `style` setting too must name the same style).
pub fn from_hf_config_styled(
    bytes: &[u8],
    file: &str,
    sets: &[String],
    style: Option<&ChosenStyle>,
) -> Result<ModelSpec> {
    let v: Value = serde_json::from_slice(bytes).map_err(|e| IoError::Spec {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: format!("not valid JSON: {e}"),
    })?;
    let Value::Object(c) = v else {
        return Err(IoError::Usage(format!("{file}: a config.json must be a JSON object")));
    };
    let bad = |m: String| IoError::Usage(format!("{file}: {m}"));
    let model_type = c.get("model_type").and_then(Value::as_str).unwrap_or("");
    let s = Settings::new("a Hugging Face config", sets, &["style", "depth_init"])?;
    let depth_init = s.boolean("depth_init", true)?;
    let (style, _) = choose_style(&s, style, depth_init)?;
    let tensors = tensors_of_config(model_type, &c, file, &style).map_err(|e| match e {
        IoError::Usage(m) if !m.starts_with(file) => bad(m),
        e => e,
    })?;
    let dtype = match c.get("dtype").or_else(|| c.get("torch_dtype")).and_then(Value::as_str) {
        Some("bfloat16") => DType::BF16,
        Some("float16") => DType::F16,
        Some("float64") => DType::F64,
        _ => DType::F32,
    };
    Ok(ModelSpec {
        seed: 0,
        dtype,
        layout: Layout::Torch,
        tensors,
        source: format!(
            "hf-config {model_type} style={}{}",
            style.label(),
            if depth_init { "" } else { " depth_init=false" }
        ),
        hf_config: Some(bytes.to_vec()),
    })
}

/// The tensors of a config object of `model_type`, styled.
fn tensors_of_config(
    model_type: &str,
    c: &Map<String, Value>,
    file: &str,
    style: &ChosenStyle,
) -> Result<Vec<TensorSpec>> {
    match model_type {
        "llama" | "mistral" | "qwen2" => {
            let a = settings::from_config(&LlamaArch::defaults_for(model_type), c, &[], file)?;
            apply_style(style, a.vars(), a.tensors(model_type)?, model_type)
        }
        "mixtral" => native::from_config::<MixtralArch>(model_type, c, file, style),
        "qwen3" | "qwen3_moe" => native::from_config::<Qwen3Arch>(model_type, c, file, style),
        "gemma2" | "gemma3_text" => native::from_config::<GemmaArch>(model_type, c, file, style),
        "phi3" => native::from_config::<Phi3Arch>(model_type, c, file, style),
        "olmo2" => native::from_config::<Olmo2Arch>(model_type, c, file, style),
        "gpt2" => {
            if c.get("add_cross_attention").and_then(Value::as_bool) == Some(true) {
                return Err(IoError::Usage("add_cross_attention = true is not supported".into()));
            }
            let a = settings::from_config(&Gpt2Arch::default(), c, &[], file)?;
            apply_style(style, a.vars(), a.tensors()?, model_type)
        }
        "gemma3" => Err(IoError::Usage(
            "model_type \"gemma3\" is the multimodal Gemma 3 (Gemma3ForConditionalGeneration, with a vision tower), \
             which is not supported natively; its text model is the \"text_config\" saved as a config of its own \
             (model_type \"gemma3_text\"), and the Python path (python -m varinit.hf CONFIG -o DIR) writes any \
             architecture"
                .into(),
        )),
        _ => {
            let what = if model_type.is_empty() {
                "no \"model_type\"".to_string()
            } else {
                format!("model_type {model_type:?} is not supported natively")
            };
            Err(IoError::Usage(format!(
                "{what}; supported: {}; the Python path (python -m varinit.hf CONFIG -o DIR) writes any architecture \
                 transformers knows",
                HF_MODEL_TYPES.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests;
