//! Phi-3 (`Phi3ForCausalLM`): fused `self_attn.qkv_proj` (q + 2 kv rows)
//! after `o_proj`, fused `mlp.gate_up_proj` (2f, d), no biases.

use serde::{Deserialize, Serialize};
use varinit::Init;

use super::build::{self, Dims, Tensors};
use super::native::Native;
use crate::Result;
use crate::spec::TensorSpec;

/// A `Phi3Config`'s fields that shape the weights (transformers' defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Phi3Arch {
    /// The shared decoder fields.
    #[serde(flatten)]
    pub dims: Dims,
}

impl Default for Phi3Arch {
    fn default() -> Self {
        Phi3Arch { dims: build::dims(3072, 8192, 32, 32, None, 32064) }
    }
}

impl Phi3Arch {
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
        let (d, f, a) = (c.hidden_size, c.intermediate_size, c.attn());
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[c.vocab_size, d], &s.embed)?;
        for i in 0..c.num_hidden_layers as usize {
            let p = format!("model.layers.{i}");
            t.push(format!("{p}.self_attn.o_proj.weight"), &[d, a.q], &s.out[i])?;
            t.push(format!("{p}.self_attn.qkv_proj.weight"), &[a.q + 2 * a.kv, d], &s.inner)?;
            t.push(format!("{p}.mlp.gate_up_proj.weight"), &[2 * f, d], &s.inner)?;
            t.push(format!("{p}.mlp.down_proj.weight"), &[d, f], &s.out[i])?;
            t.push(format!("{p}.input_layernorm.weight"), &[d], &Init::ones())?;
            t.push(format!("{p}.post_attention_layernorm.weight"), &[d], &Init::ones())?;
        }
        build::head(&mut t, d, c.vocab_size, c.tie_word_embeddings, &Init::ones(), &s)?;
        Ok(t.0)
    }
}

impl Native for Phi3Arch {
    fn defaults_for(_: &str) -> Self {
        Phi3Arch::default()
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
