//! The decoder families added after Llama and GPT-2 (mixtral, qwen3,
//! qwen3_moe, gemma2, gemma3_text, phi3, olmo2), read from a config or
//! expanded as a preset through one path: their structs share [`Dims`] and
//! implement [`Native`].

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use varinit::DType;

use super::build::Dims;
use super::settings;
use super::{ChosenStyle, apply_style, choose_style, model, preset_arch, torch_dtype_name};
use crate::Result;
use crate::spec::{ModelSpec, TensorSpec};

/// A family's architecture struct.
pub(super) trait Native: Serialize + DeserializeOwned {
    /// Config keys read under another name (`num_experts` for
    /// `num_local_experts`).
    const ALIASES: &'static [(&'static str, &'static str)] = &[];
    /// transformers' config defaults for `model_type`.
    fn defaults_for(model_type: &str) -> Self;
    /// The shared decoder fields.
    fn dims(&self) -> &Dims;
    /// The tensors in state-dict order with transformers' default schemes.
    fn tensors_for(&self, model_type: &str) -> Result<Vec<TensorSpec>>;
    /// The variables init styles use.
    fn style_vars(&self) -> Vec<(&'static str, f64)>;
    /// Drop the generated config's keys `model_type` does not have.
    fn trim_config(_model_type: &str, _config: &mut Map<String, Value>) {}
}

/// The transformers class of each model type.
pub(super) const CLASSES: &[(&str, &str)] = &[
    ("mixtral", "MixtralForCausalLM"),
    ("qwen3", "Qwen3ForCausalLM"),
    ("qwen3_moe", "Qwen3MoeForCausalLM"),
    ("gemma2", "Gemma2ForCausalLM"),
    ("gemma3_text", "Gemma3ForCausalLM"),
    ("phi3", "Phi3ForCausalLM"),
    ("olmo2", "Olmo2ForCausalLM"),
];

/// The tensors of a config object of `model_type`, styled.
pub(super) fn from_config<T: Native>(
    model_type: &str,
    c: &Map<String, Value>,
    file: &str,
    style: &ChosenStyle,
) -> Result<Vec<TensorSpec>> {
    let a = settings::from_config(&T::defaults_for(model_type), c, T::ALIASES, file)?;
    apply_style(style, a.style_vars(), a.tensors_for(model_type)?, model_type)
}

/// The named sizes of these presets: transformers' defaults, and a tiny
/// model for tests (its keys a family does not have are ignored).
fn sizes() -> Vec<(&'static str, Value)> {
    vec![
        ("default", json!({})),
        (
            "tiny",
            json!({"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 128,
                   "num_local_experts": 4, "moe_intermediate_size": 32}),
        ),
    ]
}

/// The preset `model_type`: its defaults, a `size`, then any field of its
/// config; an init style (`hf` by default). The generated config sets
/// `pad_token_id` to null, so transformers' own init zeroes no row either.
pub(super) fn preset<T: Native>(
    model_type: &str,
    sets: &[String],
    style: Option<&ChosenStyle>,
    dtype: DType,
) -> Result<ModelSpec> {
    let (a, s): (T, _) = preset_arch(model_type, sets, &T::defaults_for(model_type), &sizes(), &[])?;
    let (style, from_settings) = choose_style(&s, style, true)?;
    let tensors = apply_style(&style, a.style_vars(), a.tensors_for(model_type)?, model_type)?;
    let mut c = settings::object_of(&a);
    T::trim_config(model_type, &mut c);
    let d = a.dims();
    let class = CLASSES.iter().find(|(m, _)| *m == model_type).map_or("", |(_, c)| c);
    for (k, v) in [
        ("architectures", json!([class])),
        ("model_type", json!(model_type)),
        ("num_key_value_heads", json!(d.kv_heads())),
        ("head_dim", json!(d.head_dim())),
        ("pad_token_id", Value::Null),
        ("dtype", json!(torch_dtype_name(dtype))),
    ] {
        c.insert(k.to_string(), v);
    }
    Ok(model(model_type, &style, from_settings, &s, tensors, Some(Value::Object(c))))
}
