//! Qwen3 (`Qwen3ForCausalLM`) and Qwen3-MoE (`Qwen3MoeForCausalLM`):
//! Llama's layout plus per-head RMSNorms `self_attn.q_norm`/`k_norm`
//! (head_dim, weight 1) after `o_proj`; `attention_bias` on q, k, v, o.
//! Qwen3-MoE: in the sparse layers (every `decoder_sparse_step`-th, not in
//! `mlp_only_layers`) the fused experts (E, 2f, d) / (E, d, f) with f =
//! `moe_intermediate_size`, then the router `mlp.gate` (E, d); the other
//! layers a dense MLP of `intermediate_size`.

use serde::{Deserialize, Serialize};
use varinit::Init;

use super::build::{self, Dims, Tensors};
use super::native::Native;
use crate::Result;
use crate::spec::TensorSpec;

/// A `Qwen3Config` / `Qwen3MoeConfig`'s fields that shape the weights.
/// Defaults are transformers' for `qwen3` ([`Qwen3Arch::defaults_for`]
/// gives `qwen3_moe`'s); `num_experts` is read as `num_local_experts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Qwen3Arch {
    /// The shared decoder fields.
    #[serde(flatten)]
    pub dims: Dims,
    /// Biases on q, k, v, o.
    pub attention_bias: bool,
    /// MoE: experts per sparse layer (0: dense).
    pub num_local_experts: u64,
    /// MoE: expert width.
    pub moe_intermediate_size: u64,
    /// MoE: every n-th layer is sparse.
    pub decoder_sparse_step: u64,
    /// MoE: layers with a dense MLP.
    pub mlp_only_layers: Vec<u64>,
}

impl Default for Qwen3Arch {
    fn default() -> Self {
        Qwen3Arch {
            dims: Dims { head_dim: Some(128), ..build::dims(4096, 22016, 32, 32, None, 151936) },
            attention_bias: false,
            num_local_experts: 0,
            moe_intermediate_size: 768,
            decoder_sparse_step: 1,
            mlp_only_layers: Vec::new(),
        }
    }
}

/// Config keys read under another name.
pub(super) const ALIASES: &[(&str, &str)] = &[("num_experts", "num_local_experts")];

impl Qwen3Arch {
    /// transformers' defaults for `qwen3` or `qwen3_moe`.
    pub fn defaults_for(model_type: &str) -> Qwen3Arch {
        match model_type {
            "qwen3_moe" => Qwen3Arch {
                // Qwen3MoeConfig has no head_dim default: hidden / heads
                dims: build::dims(2048, 6144, 24, 32, Some(4), 151936),
                num_local_experts: 128,
                ..Qwen3Arch::default()
            },
            _ => Qwen3Arch::default(),
        }
    }

    fn sparse(&self, layer: u64) -> bool {
        !self.mlp_only_layers.contains(&layer)
            && self.num_local_experts > 0
            && (layer + 1).is_multiple_of(self.decoder_sparse_step.max(1))
    }

    /// The variables init styles use (`d_ff`: the expert width when MoE).
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        let mut v = self.dims.vars();
        if self.num_local_experts > 0 {
            v[2].1 = self.moe_intermediate_size as f64;
            v.push(("experts", self.num_local_experts as f64));
        }
        v
    }

    /// The tensors in transformers' order with transformers' default
    /// schemes (an init style is applied over them).
    pub fn tensors(&self, model_type: &str) -> Result<Vec<TensorSpec>> {
        let c = &self.dims;
        c.check()?;
        let moe = model_type == "qwen3_moe";
        if moe {
            build::check_positive(&[
                ("decoder_sparse_step", self.decoder_sparse_step),
                ("moe_intermediate_size", self.moe_intermediate_size),
            ])?;
        }
        let s = c.schemes()?;
        let (d, hd) = (c.hidden_size, c.head_dim());
        let mut t = Tensors::default();
        t.push("model.embed_tokens.weight", &[c.vocab_size, d], &s.embed)?;
        for i in 0..c.num_hidden_layers as usize {
            let p = format!("model.layers.{i}");
            let b = self.attention_bias;
            build::attention(&mut t, &p, c.attn(), (b, b), &s, i)?;
            t.push(format!("{p}.self_attn.q_norm.weight"), &[hd], &Init::ones())?;
            t.push(format!("{p}.self_attn.k_norm.weight"), &[hd], &Init::ones())?;
            if moe && self.sparse(i as u64) {
                let e = self.num_local_experts;
                build::experts(&mut t, &p, e, d, self.moe_intermediate_size, &s, i)?;
                build::router(&mut t, &p, e, d, &s)?;
            } else {
                build::mlp(&mut t, &p, d, c.intermediate_size, false, &s, i)?;
            }
            t.push(format!("{p}.input_layernorm.weight"), &[d], &Init::ones())?;
            t.push(format!("{p}.post_attention_layernorm.weight"), &[d], &Init::ones())?;
        }
        build::head(&mut t, d, c.vocab_size, c.tie_word_embeddings, &Init::ones(), &s)?;
        Ok(t.0)
    }
}

impl Native for Qwen3Arch {
    const ALIASES: &'static [(&'static str, &'static str)] = ALIASES;
    fn defaults_for(model_type: &str) -> Self {
        Qwen3Arch::defaults_for(model_type)
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
    fn trim_config(model_type: &str, config: &mut serde_json::Map<String, serde_json::Value>) {
        if model_type == "qwen3" {
            for k in ["num_local_experts", "moe_intermediate_size", "decoder_sparse_step", "mlp_only_layers"] {
                config.remove(k);
            }
        }
    }
}
