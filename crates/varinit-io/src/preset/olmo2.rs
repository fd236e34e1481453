//! OLMo 2 (`Olmo2ForCausalLM`): norms after the blocks
//! (`post_attention_layernorm`, `post_feedforward_layernorm`, no input
//! norm) and `q_norm`/`k_norm` over the whole q (heads·head_dim) and k
//! (kv_heads·head_dim) widths; `attention_bias` on q, k, v, o.

use serde::{Deserialize, Serialize};
use varinit::Init;

use super::build::{self, Dims, Tensors};
use super::native::Native;
use crate::Result;
use crate::spec::TensorSpec;

/// An `Olmo2Config`'s fields that shape the weights (transformers' defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Olmo2Arch {
    /// The shared decoder fields.
    #[serde(flatten)]
    pub dims: Dims,
    /// Biases on q, k, v, o.
    pub attention_bias: bool,
}

impl Default for Olmo2Arch {
    fn default() -> Self {
        Olmo2Arch { dims: build::dims(4096, 11008, 32, 32, None, 50304), attention_bias: false }
    }
}

impl Olmo2Arch {
    /// The variables init styles use.
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        self.dims.vars()
    }

    /// The tensors in transformers' order with transformers' default
    /// schemes (an init style is applied over them).
    pub fn tensors(&self) -> Result<Vec<TensorSpec>> {
        let c = &self.dims;
        c.check()?;
        let s = c.schemes()?;
        let (d, a, one) = (c.hidden_size, c.attn(), &Init::ones());
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[c.vocab_size, d], &s.embed)?;
        for i in 0..c.num_hidden_layers as usize {
            let p = format!("model.layers.{i}");
            let b = self.attention_bias;
            build::attention(&mut t, &p, a, (b, b), &s, i)?;
            t.push(format!("{p}.self_attn.q_norm.weight"), &[a.q], one)?;
            t.push(format!("{p}.self_attn.k_norm.weight"), &[a.kv], one)?;
            build::mlp(&mut t, &p, d, c.intermediate_size, false, &s, i)?;
            t.push(format!("{p}.post_attention_layernorm.weight"), &[d], one)?;
            t.push(format!("{p}.post_feedforward_layernorm.weight"), &[d], one)?;
        }
        build::head(&mut t, d, c.vocab_size, c.tie_word_embeddings, one, &s)?;
        Ok(t.0)
    }
}

impl Native for Olmo2Arch {
    fn defaults_for(_: &str) -> Self {
        Olmo2Arch::default()
    }
    fn dims(&self) -> &Dims {
        &self.dims
    }
    fn style_vars(&self) -> Vec<(&'static str, f64)> {
        self.vars()
    }
    fn tensors_for(&self, _: &str) -> Result<Vec<TensorSpec>> {
        self.tensors()
    }
}
