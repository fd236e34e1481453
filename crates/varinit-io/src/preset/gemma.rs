//! Gemma 2 (`Gemma2ForCausalLM`) and Gemma 3 text (`Gemma3ForCausalLM`,
//! model type `gemma3_text`): RMSNorms are zero-centred (the weight is
//! used as `1 + w`, initialized to 0), four per layer (input,
//! post-attention, pre- and post-feedforward); Gemma 3 adds per-head
//! `q_norm`/`k_norm` (head_dim, 0). `lm_head` tied by default.

use serde::{Deserialize, Serialize};
use varinit::Init;

use super::build::{self, Dims, Tensors};
use super::native::Native;
use crate::Result;
use crate::spec::TensorSpec;

/// A `Gemma2Config` / `Gemma3TextConfig`'s fields that shape the weights
/// (transformers' defaults; Gemma 3's differ in the vocabulary).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GemmaArch {
    /// The shared decoder fields.
    #[serde(flatten)]
    pub dims: Dims,
    /// Biases on q, k, v, o.
    pub attention_bias: bool,
}

impl Default for GemmaArch {
    fn default() -> Self {
        GemmaArch {
            dims: Dims {
                head_dim: Some(256),
                tie_word_embeddings: true,
                ..build::dims(2304, 9216, 26, 8, Some(4), 256000)
            },
            attention_bias: false,
        }
    }
}

impl GemmaArch {
    /// transformers' defaults for `gemma2` or `gemma3_text`.
    pub fn defaults_for(model_type: &str) -> GemmaArch {
        let mut a = GemmaArch::default();
        if model_type == "gemma3_text" {
            a.dims.vocab_size = 262208;
        }
        a
    }

    /// The variables init styles use.
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        self.dims.vars()
    }

    /// The tensors in transformers' order with transformers' default
    /// schemes (an init style is applied over them).
    pub fn tensors(&self, model_type: &str) -> Result<Vec<TensorSpec>> {
        let c = &self.dims;
        c.check()?;
        let s = c.schemes()?;
        let (d, hd, zero) = (c.hidden_size, c.head_dim(), &Init::zeros());
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[c.vocab_size, d], &s.embed)?;
        for i in 0..c.num_hidden_layers as usize {
            let p = format!("model.layers.{i}");
            let b = self.attention_bias;
            build::attention(&mut t, &p, c.attn(), (b, b), &s, i)?;
            if model_type == "gemma3_text" {
                t.push(format!("{p}.self_attn.q_norm.weight"), &[hd], zero)?;
                t.push(format!("{p}.self_attn.k_norm.weight"), &[hd], zero)?;
            }
            build::mlp(&mut t, &p, d, c.intermediate_size, false, &s, i)?;
            for n in [
                "input_layernorm",
                "post_attention_layernorm",
                "pre_feedforward_layernorm",
                "post_feedforward_layernorm",
            ] {
                t.push(format!("{p}.{n}.weight"), &[d], zero)?;
            }
        }
        build::head(&mut t, d, c.vocab_size, c.tie_word_embeddings, zero, &s)?;
        Ok(t.0)
    }
}

impl Native for GemmaArch {
    fn defaults_for(model_type: &str) -> Self {
        GemmaArch::defaults_for(model_type)
    }
    fn dims(&self) -> &Dims {
        &self.dims
    }
    fn style_vars(&self) -> Vec<(&'static str, f64)> {
        self.vars()
    }
    fn tensors_for(&self, model_type: &str) -> Result<Vec<TensorSpec>> {
        self.tensors(model_type)
    }
}
