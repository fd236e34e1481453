//! GPT-2 (`GPT2LMHeadModel`): Conv1D weights stored `(in, out)`, LayerNorm
//! with biases, learned positions, `lm_head` tied to `wte` by default.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use varinit::{DType, Init};

use super::build::{self, Schemes, Tensors, normal};
use super::torch_dtype_name;
use crate::spec::TensorSpec;
use crate::{IoError, Result};

/// A `GPT2Config`'s fields that shape the weights; defaults are
/// transformers' (`gpt2`, 124M).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Gpt2Arch {
    /// d_model.
    pub n_embd: u64,
    /// Layers.
    pub n_layer: u64,
    /// Heads.
    pub n_head: u64,
    /// Positions.
    pub n_positions: u64,
    /// Vocabulary.
    pub vocab_size: u64,
    /// MLP width; `None`: 4 n_embd.
    pub n_inner: Option<u64>,
    /// `lm_head` shares `wte` (the default).
    pub tie_word_embeddings: bool,
    /// Base std.
    pub initializer_range: f64,
    /// For the generated config.
    pub layer_norm_epsilon: f64,
}

impl Default for Gpt2Arch {
    fn default() -> Self {
        Gpt2Arch {
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_positions: 1024,
            vocab_size: 50257,
            n_inner: None,
            tie_word_embeddings: true,
            initializer_range: 0.02,
            layer_norm_epsilon: 1e-5,
        }
    }
}

/// The named sizes of the `gpt2` preset (the first is the default).
pub(super) fn sizes() -> Vec<(&'static str, Value)> {
    vec![
        ("small", json!({})),
        ("tiny", json!({"n_embd": 64, "n_layer": 2, "n_head": 4, "n_positions": 32, "vocab_size": 128})),
        ("medium", json!({"n_embd": 1024, "n_layer": 24, "n_head": 16})),
        ("large", json!({"n_embd": 1280, "n_layer": 36, "n_head": 20})),
        ("xl", json!({"n_embd": 1600, "n_layer": 48, "n_head": 25})),
    ]
}

impl Gpt2Arch {
    fn n_inner(&self) -> u64 {
        self.n_inner.unwrap_or(4 * self.n_embd)
    }

    /// The variables init styles use.
    pub fn vars(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("L", self.n_layer as f64),
            ("d", self.n_embd as f64),
            ("d_ff", self.n_inner() as f64),
            ("heads", self.n_head as f64),
            ("kv_heads", self.n_head as f64),
            ("head_dim", self.n_embd.checked_div(self.n_head).unwrap_or(0) as f64),
            ("vocab", self.vocab_size as f64),
            ("std", self.initializer_range),
        ]
    }

    /// transformers' GPT-2 `_init_weights`: N(0, std²), `c_proj`
    /// N(0, (std/sqrt(2L))²).
    fn schemes(&self) -> Result<Schemes> {
        let std = self.initializer_range;
        let mut s = Schemes::hf(std, self.n_layer)?;
        s.out = vec![normal(std / (2.0 * self.n_layer as f64).sqrt())?; self.n_layer as usize];
        Ok(s)
    }

    /// The tensors, in transformers' order, with transformers' default
    /// schemes (an init style is applied over them). Conv1D weights are
    /// stored `(in, out)`.
    pub fn tensors(&self) -> Result<Vec<TensorSpec>> {
        build::check_positive(&[
            ("n_embd", self.n_embd),
            ("n_layer", self.n_layer),
            ("n_head", self.n_head),
            ("n_inner", self.n_inner()),
        ])?;
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(IoError::Usage(format!(
                "n_embd = {} must be a multiple of n_head = {}",
                self.n_embd, self.n_head
            )));
        }
        let s = self.schemes()?;
        let (d, l, f) = (self.n_embd, self.n_layer, self.n_inner());
        let (w, zeros, ones) = (&s.inner, &Init::zeros(), &Init::ones());
        let mut t = Tensors::default();
        t.push("transformer.wte.weight", &[self.vocab_size, d], &s.embed)?;
        t.push("transformer.wpe.weight", &[self.n_positions, d], &s.embed)?;
        for i in 0..l as usize {
            let p = format!("transformer.h.{i}");
            let out = &s.out[i];
            t.push(format!("{p}.ln_1.weight"), &[d], ones)?;
            t.push(format!("{p}.ln_1.bias"), &[d], zeros)?;
            t.push(format!("{p}.attn.c_attn.weight"), &[d, 3 * d], w)?;
            t.push(format!("{p}.attn.c_attn.bias"), &[3 * d], zeros)?;
            t.push(format!("{p}.attn.c_proj.weight"), &[d, d], out)?;
            t.push(format!("{p}.attn.c_proj.bias"), &[d], zeros)?;
            t.push(format!("{p}.ln_2.weight"), &[d], ones)?;
            t.push(format!("{p}.ln_2.bias"), &[d], zeros)?;
            t.push(format!("{p}.mlp.c_fc.weight"), &[d, f], w)?;
            t.push(format!("{p}.mlp.c_fc.bias"), &[f], zeros)?;
            t.push(format!("{p}.mlp.c_proj.weight"), &[f, d], out)?;
            t.push(format!("{p}.mlp.c_proj.bias"), &[d], zeros)?;
        }
        t.push("transformer.ln_f.weight", &[d], ones)?;
        t.push("transformer.ln_f.bias", &[d], zeros)?;
        if !self.tie_word_embeddings {
            t.push("lm_head.weight", &[self.vocab_size, d], &s.head)?;
        }
        Ok(t.0)
    }

    /// A `config.json` transformers reads back as this architecture.
    pub fn hf_config(&self, dtype: DType) -> Value {
        let mut c = json!({
            "architectures": ["GPT2LMHeadModel"],
            "model_type": "gpt2",
            "n_embd": self.n_embd,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "n_positions": self.n_positions,
            "n_inner": self.n_inner(),
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
            "initializer_range": self.initializer_range,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation_function": "gelu_new",
            "dtype": torch_dtype_name(dtype),
        });
        if self.vocab_size > 50256 {
            // GPT-2's <|endoftext|>, only when the vocabulary has it
            c["bos_token_id"] = json!(50256);
            c["eos_token_id"] = json!(50256);
        }
        c
    }
}
