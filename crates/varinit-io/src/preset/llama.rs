//! The Llama family: `llama` (`LlamaForCausalLM`), `mistral` and `qwen2`
//! share the tensor names; they differ in defaults and biases (Qwen2: q, k,
//! v biases; Mistral: none; Llama: `attention_bias` on q, k, v, o and
//! `mlp_bias`).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use varinit::{DType, Init};

use super::Style;
use super::build::{self, Attn, Schemes, Tensors, normal, trunc};
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
    /// d_model.
    pub hidden_size: u64,
    /// MLP width.
    pub intermediate_size: u64,
    /// Layers.
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads (GQA when fewer than the query heads); `None`: as
    /// many as the query heads.
    pub num_key_value_heads: Option<u64>,
    /// Per-head width; `None`: hidden_size / num_attention_heads.
    pub head_dim: Option<u64>,
    /// Vocabulary.
    pub vocab_size: u64,
    /// `lm_head` shares the embedding (and is not saved).
    pub tie_word_embeddings: bool,
    /// Llama: biases on q, k, v and o.
    pub attention_bias: bool,
    /// Llama: biases on the MLP.
    pub mlp_bias: bool,
    /// Base std.
    pub initializer_range: f64,
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
            hidden_size: 4096,
            intermediate_size: 11008,
            num_hidden_layers: 32,
            num_attention_heads: 32,
            num_key_value_heads: None,
            head_dim: None,
            vocab_size: 32000,
            tie_word_embeddings: false,
            attention_bias: false,
            mlp_bias: false,
            initializer_range: 0.02,
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
                intermediate_size: 14336,
                num_key_value_heads: Some(8),
                max_position_embeddings: 131072,
                ..d
            },
            "qwen2" => LlamaArch { intermediate_size: 22016, vocab_size: 151936, max_position_embeddings: 32768, ..d },
            _ => d,
        }
    }

    fn kv_heads(&self) -> u64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    fn head_dim(&self) -> u64 {
        self.head_dim.unwrap_or_else(|| self.hidden_size.checked_div(self.num_attention_heads).unwrap_or(0))
    }

    /// The variables init styles use.
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("L", self.num_hidden_layers as f64),
            ("d", self.hidden_size as f64),
            ("d_ff", self.intermediate_size as f64),
            ("heads", self.num_attention_heads as f64),
            ("kv_heads", self.kv_heads() as f64),
            ("head_dim", self.head_dim() as f64),
            ("vocab", self.vocab_size as f64),
            ("std", self.initializer_range),
        ]
    }

    fn check(&self) -> Result<()> {
        build::check_positive(&[
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            ("head_dim", self.head_dim()),
            ("vocab_size", self.vocab_size),
        ])?;
        build::check_gqa(self.num_attention_heads, self.kv_heads())?;
        build::check_std(self.initializer_range)
    }

    /// (q/k/v bias, o bias, MLP bias) of `model_type`.
    fn biases(&self, model_type: &str) -> (bool, bool, bool) {
        match model_type {
            "qwen2" => (true, false, false),
            "mistral" => (false, false, false),
            _ => (self.attention_bias, self.attention_bias, self.mlp_bias),
        }
    }

    /// The style decision for this family: every scheme of `style`.
    fn schemes(&self, style: Style, depth_init: bool) -> Result<Schemes> {
        let (std, l) = (self.initializer_range, self.num_hidden_layers);
        if style != Style::Torchtitan {
            return Schemes::hf_or_megatron(style, std, l, "llama");
        }
        // torchtitan's Llama 3 init_weights: trunc_normal_ with PyTorch's bounds ±2
        let layer_std =
            |i: u64| if depth_init { 0.02 / (2.0 * (i + 1) as f64).sqrt() } else { 0.02 / (2.0 * l as f64).sqrt() };
        let out = (0..l).map(|i| trunc(layer_std(i), 2.0)).collect::<Result<Vec<_>>>()?;
        let s = (self.hidden_size as f64).powf(-0.5);
        Ok(Schemes {
            embed: normal(1.0)?,
            inner: trunc(0.02, 2.0)?,
            // torchtitan draws w3 (up) like the output projections
            up: out.clone(),
            out,
            head: trunc(s, 3.0 * s)?,
        })
    }

    /// The tensors of `model_type`, in transformers' state-dict order, with
    /// `style`'s schemes.
    pub fn tensors(&self, model_type: &str, style: Style, depth_init: bool) -> Result<Vec<TensorSpec>> {
        self.check()?;
        let s = self.schemes(style, depth_init)?;
        let (d, f, l) = (self.hidden_size, self.intermediate_size, self.num_hidden_layers);
        let a = Attn { d, q: self.num_attention_heads * self.head_dim(), kv: self.kv_heads() * self.head_dim() };
        let (qkv_bias, o_bias, mlp_bias) = self.biases(model_type);
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[self.vocab_size, d], &s.embed)?;
        for i in 0..l as usize {
            let p = format!("model.layers.{i}");
            build::attention(&mut t, &p, a, (qkv_bias, o_bias), &s, i)?;
            build::mlp(&mut t, &p, d, f, mlp_bias, &s, i)?;
            t.push(format!("{p}.input_layernorm.weight"), &[d], &Init::ones())?;
            t.push(format!("{p}.post_attention_layernorm.weight"), &[d], &Init::ones())?;
        }
        build::head(&mut t, d, self.vocab_size, self.tie_word_embeddings, &Init::ones(), &s)?;
        Ok(t.0)
    }

    /// A `config.json` transformers reads back as this architecture.
    pub fn hf_config(&self, model_type: &str, dtype: DType) -> Value {
        let arch = match model_type {
            "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            _ => "LlamaForCausalLM",
        };
        let mut c = json!({
            "architectures": [arch],
            "model_type": model_type,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.kv_heads(),
            "head_dim": self.head_dim(),
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
            "initializer_range": self.initializer_range,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "hidden_act": "silu",
            "dtype": torch_dtype_name(dtype),
        });
        if model_type == "llama" {
            c["attention_bias"] = json!(self.attention_bias);
            c["mlp_bias"] = json!(self.mlp_bias);
        }
        c
    }
}
