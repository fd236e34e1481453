//! The Llama family: `llama` (`LlamaForCausalLM`), `mistral` and `qwen2`
//! share the tensor names; they differ in defaults and biases (Qwen2: q, k,
//! v biases; Mistral: none; Llama: `attention_bias` on q, k, v, o and
//! `mlp_bias`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use varinit::{DType, Init};

use super::build::{self, Dims, Tensors};
use super::settings;
use super::torch_dtype_name;
use crate::Result;
use crate::spec::TensorSpec;

/// A `LlamaConfig` (and `MistralConfig`, `Qwen2Config`): the fields that
/// shape the weights and the generated config. Defaults are transformers'
/// `LlamaConfig` (5.24); [`LlamaArch::defaults_for`] gives Mistral's and
/// Qwen2's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LlamaArch {
    /// The shared decoder fields.
    #[serde(flatten)]
    pub dims: Dims,
    /// Llama: biases on q, k, v and o.
    pub attention_bias: bool,
    /// Llama: biases on the MLP.
    pub mlp_bias: bool,
    /// For the generated config.
    pub max_position_embeddings: u64,
    /// For the generated config.
    pub rms_norm_eps: f64,
    /// For the generated config.
    pub rope_theta: f64,
}

impl Default for LlamaArch {
    fn default() -> Self {
        LlamaArch {
            dims: build::dims(4096, 11008, 32, 32, None, 32000),
            attention_bias: false,
            mlp_bias: false,
            max_position_embeddings: 2048,
            rms_norm_eps: 1e-6,
            rope_theta: 10000.0,
        }
    }
}

/// The named sizes of the `llama` preset (over the defaults; the first is
/// the preset's default: the 0.85B reference model).
pub(super) fn sizes() -> Vec<(&'static str, Value)> {
    vec![
        (
            "0.85b",
            json!({"hidden_size": 2048, "intermediate_size": 5632, "num_hidden_layers": 16,
                   "num_attention_heads": 32, "num_key_value_heads": 8}),
        ),
        (
            "tiny",
            json!({"hidden_size": 64, "intermediate_size": 176, "num_hidden_layers": 2, "num_attention_heads": 4,
                   "num_key_value_heads": 2, "vocab_size": 128, "max_position_embeddings": 128}),
        ),
        (
            "7b",
            json!({"hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                   "num_attention_heads": 32, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}),
        ),
        (
            "13b",
            json!({"hidden_size": 5120, "intermediate_size": 13824, "num_hidden_layers": 40,
                   "num_attention_heads": 40, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5}),
        ),
    ]
}

impl LlamaArch {
    /// transformers' defaults for `model_type` (`llama`, `mistral`, `qwen2`).
    pub fn defaults_for(model_type: &str) -> LlamaArch {
        let d = LlamaArch::default();
        match model_type {
            "mistral" => LlamaArch {
                dims: build::dims(4096, 14336, 32, 32, Some(8), 32000),
                max_position_embeddings: 131072,
                ..d
            },
            "qwen2" => {
                LlamaArch { dims: build::dims(4096, 22016, 32, 32, None, 151936), max_position_embeddings: 32768, ..d }
            }
            _ => d,
        }
    }

    /// The variables init styles use.
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        self.dims.vars()
    }

    /// (q/k/v bias, o bias, MLP bias) of `model_type`.
    fn biases(&self, model_type: &str) -> (bool, bool, bool) {
        match model_type {
            "qwen2" => (true, false, false),
            "mistral" => (false, false, false),
            _ => (self.attention_bias, self.attention_bias, self.mlp_bias),
        }
    }

    /// The tensors of `model_type`, in transformers' state-dict order, with
    /// transformers' default schemes (an init style is applied over them).
    pub fn tensors(&self, model_type: &str) -> Result<Vec<TensorSpec>> {
        let c = &self.dims;
        c.check()?;
        let s = c.schemes()?;
        let (d, f, l, a) = (c.hidden_size, c.intermediate_size, c.num_hidden_layers, c.attn());
        let (qkv_bias, o_bias, mlp_bias) = self.biases(model_type);
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[c.vocab_size, d], &s.embed)?;
        for i in 0..l as usize {
            let p = format!("model.layers.{i}");
            build::attention(&mut t, &p, a, (qkv_bias, o_bias), &s, i)?;
            build::mlp(&mut t, &p, d, f, mlp_bias, &s, i)?;
            t.push(format!("{p}.input_layernorm.weight"), &[d], &Init::ones())?;
            t.push(format!("{p}.post_attention_layernorm.weight"), &[d], &Init::ones())?;
        }
        build::head(&mut t, d, c.vocab_size, c.tie_word_embeddings, &Init::ones(), &s)?;
        Ok(t.0)
    }

    /// A `config.json` transformers reads back as this architecture: the
    /// struct's fields (the biases for `llama` only) with the derived head
    /// counts resolved.
    pub fn hf_config(&self, model_type: &str, dtype: DType) -> Value {
        let arch = match model_type {
            "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            _ => "LlamaForCausalLM",
        };
        let mut c = settings::object_of(self);
        if model_type != "llama" {
            c.remove("attention_bias");
            c.remove("mlp_bias");
        }
        for (k, v) in [
            ("architectures", json!([arch])),
            ("model_type", json!(model_type)),
            ("num_key_value_heads", json!(self.dims.kv_heads())),
            ("head_dim", json!(self.dims.head_dim())),
            ("hidden_act", json!("silu")),
            ("dtype", json!(torch_dtype_name(dtype))),
        ] {
            c.insert(k.to_string(), v);
        }
        Value::Object(c)
    }
}
