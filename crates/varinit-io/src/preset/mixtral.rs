//! Mixtral (`MixtralForCausalLM`): Mistral's attention, a sparse MoE MLP
//! in every layer: router `mlp.gate` (E, d) and transformers 5's fused
//! experts `mlp.experts.gate_up_proj` (E, 2f, d), `mlp.experts.down_proj`
//! (E, d, f). `_init_weights`: N(0, std²) for all of them, norms 1.

use serde::{Deserialize, Serialize};
use varinit::Init;

use super::build::{self, Dims, Tensors};
use super::native::Native;
use crate::Result;
use crate::spec::TensorSpec;

/// A `MixtralConfig`'s fields that shape the weights (transformers'
/// defaults; `num_experts` is read as `num_local_experts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MixtralArch {
    /// The shared decoder fields (`intermediate_size` is the expert width).
    #[serde(flatten)]
    pub dims: Dims,
    /// Experts per layer.
    pub num_local_experts: u64,
}

impl Default for MixtralArch {
    fn default() -> Self {
        MixtralArch { dims: build::dims(4096, 14336, 32, 32, Some(8), 32000), num_local_experts: 8 }
    }
}

/// Config keys read under another name.
pub(super) const ALIASES: &[(&str, &str)] = &[("num_experts", "num_local_experts")];

impl MixtralArch {
    /// The variables init styles use (`d_ff` is the expert width).
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        let mut v = self.dims.vars();
        v.push(("experts", self.num_local_experts as f64));
        v
    }

    /// The tensors in transformers' order with transformers' default
    /// schemes (an init style is applied over them).
    pub fn tensors(&self) -> Result<Vec<TensorSpec>> {
        let c = &self.dims;
        c.check()?;
        build::check_positive(&[("num_local_experts", self.num_local_experts)])?;
        let s = c.schemes()?;
        let (d, f, e) = (c.hidden_size, c.intermediate_size, self.num_local_experts);
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[c.vocab_size, d], &s.embed)?;
        for i in 0..c.num_hidden_layers as usize {
            let p = format!("model.layers.{i}");
            build::attention(&mut t, &p, c.attn(), (false, false), &s, i)?;
            build::router(&mut t, &p, e, d, &s)?;
            build::experts(&mut t, &p, e, d, f, &s, i)?;
            t.push(format!("{p}.input_layernorm.weight"), &[d], &Init::ones())?;
            t.push(format!("{p}.post_attention_layernorm.weight"), &[d], &Init::ones())?;
        }
        build::head(&mut t, d, c.vocab_size, c.tie_word_embeddings, &Init::ones(), &s)?;
        Ok(t.0)
    }
}

impl Native for MixtralArch {
    const ALIASES: &'static [(&'static str, &'static str)] = ALIASES;
    fn defaults_for(_: &str) -> Self {
        MixtralArch::default()
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
