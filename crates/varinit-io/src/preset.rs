//! Model presets and Hugging Face configs, expanded to full tensor lists.
//!
//! Presets: `llama` (Hugging Face `LlamaForCausalLM`), `gpt2`
//! (`GPT2LMHeadModel`) and `mlp` (a plain stack of linear layers). A Hugging
//! Face `config.json` of model type `llama`, `mistral`, `qwen2` or `gpt2`
//! gives the same tensor lists, with the names and shapes transformers
//! saves (pinned against transformers 5.24 in the tests).
//!
//! Init styles (`style=...`), with L the number of layers and `std` the
//! config's `initializer_range` (default 0.02):
//!
//! | style | linear and embedding weights | output projections (`o_proj`, `down_proj`, GPT-2 `c_proj`) | biases | norms |
//! |---|---|---|---|---|
//! | `hf` | N(0, std²) | Llama: N(0, std²); GPT-2: N(0, (std/sqrt(2L))²) (transformers' GPT-2 rule) | 0 | weight 1, bias 0 |
//! | `megatron` | N(0, std²) | N(0, (std/sqrt(2L))²) | 0 | weight 1, bias 0 |
//! | `torchtitan` | q, k, v, gate: trunc_normal(0, 0.02, a=-2, b=2); embedding N(0, 1); untied `lm_head`: trunc_normal(0, d^-1/2, ±3 d^-1/2) | `o_proj`, `down_proj` and `up_proj`: trunc_normal(0, 0.02/sqrt(2(l+1))) for layer l (`depth_init=true`, the default) or 0.02/sqrt(2L) | 0 | 1 |
//!
//! `hf` is what transformers' `_init_weights` does (5.24), except that it
//! also zeroes the embedding row of `pad_token_id` when the config sets one;
//! varinit draws that row like the others. `torchtitan` follows
//! torchtitan's Llama 3 `init_weights` (its bounds of `trunc_normal_` are
//! PyTorch's absolute defaults, ±2, so the inner layers are practically
//! untruncated); it is defined for the Llama family only.

use serde_json::{Map, Value, json};
use varinit::{DType, Init, Layout, Shape};

use crate::spec::{ModelSpec, TensorSpec};
use crate::{IoError, Result};

/// The preset names.
pub const PRESETS: &[&str] = &["llama", "gpt2", "mlp"];

/// An init style for the transformer presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// transformers' `_init_weights`.
    Hf,
    /// Megatron-LM: output projections std/sqrt(2L).
    Megatron,
    /// torchtitan's Llama `init_weights`.
    Torchtitan,
}

impl Style {
    fn parse(s: &str) -> Result<Style> {
        match s {
            "hf" => Ok(Style::Hf),
            "megatron" => Ok(Style::Megatron),
            "torchtitan" => Ok(Style::Torchtitan),
            _ => Err(IoError::Usage(format!("unknown style {s:?}: use hf, megatron or torchtitan"))),
        }
    }
    fn name(self) -> &'static str {
        match self {
            Style::Hf => "hf",
            Style::Megatron => "megatron",
            Style::Torchtitan => "torchtitan",
        }
    }
}

/// A Llama-family decoder (Llama, Mistral, Qwen2 share the names).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaArch {
    /// `llama`, `mistral` or `qwen2`.
    pub model_type: String,
    /// d_model.
    pub hidden_size: u64,
    /// MLP width.
    pub intermediate_size: u64,
    /// Layers.
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads (GQA when fewer than the query heads).
    pub num_key_value_heads: u64,
    /// Per-head width.
    pub head_dim: u64,
    /// Vocabulary.
    pub vocab_size: u64,
    /// `lm_head` shares the embedding (and is not saved).
    pub tie_word_embeddings: bool,
    /// Biases on q, k, v.
    pub qkv_bias: bool,
    /// Bias on o_proj.
    pub o_bias: bool,
    /// Biases on the MLP.
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

/// GPT-2.
#[derive(Debug, Clone, PartialEq)]
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
    /// MLP width (default 4 n_embd).
    pub n_inner: u64,
    /// `lm_head` shares `wte` (the default).
    pub tie_word_embeddings: bool,
    /// Base std.
    pub initializer_range: f64,
    /// For the generated config.
    pub layer_norm_epsilon: f64,
}

fn spec_tensor(name: String, dims: &[u64], init: &str) -> Result<TensorSpec> {
    let init: Init = init.parse()?;
    Ok(TensorSpec { name, shape: Shape::new(dims.to_vec())?, init, dtype: None })
}

fn normal(std: f64) -> String {
    format!("normal(mean=0, std={})", fmt_f(std))
}

fn trunc(std: f64, bound: f64) -> String {
    format!("trunc_normal(mean=0, std={}, a={}, b={})", fmt_f(std), fmt_f(-bound), fmt_f(bound))
}

/// Shortest text that reads back as the same f64.
fn fmt_f(x: f64) -> String {
    let s = format!("{x:?}");
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}

impl LlamaArch {
    /// The 0.85B reference model (also the preset's default).
    pub fn default_for(model_type: &str) -> LlamaArch {
        LlamaArch {
            model_type: model_type.to_string(),
            hidden_size: 2048,
            intermediate_size: 5632,
            num_hidden_layers: 16,
            num_attention_heads: 32,
            num_key_value_heads: 8,
            head_dim: 64,
            vocab_size: 32000,
            tie_word_embeddings: false,
            qkv_bias: model_type == "qwen2",
            o_bias: false,
            mlp_bias: false,
            initializer_range: 0.02,
            max_position_embeddings: 2048,
            rms_norm_eps: 1e-6,
            rope_theta: 10000.0,
        }
    }

    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(IoError::Usage(m));
        for (k, v) in [
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_key_value_heads),
            ("head_dim", self.head_dim),
            ("vocab_size", self.vocab_size),
        ] {
            if v == 0 {
                return bad(format!("{k} must be at least 1"));
            }
        }
        if !self.num_attention_heads.is_multiple_of(self.num_key_value_heads) {
            return bad(format!(
                "num_attention_heads = {} must be a multiple of num_key_value_heads = {}",
                self.num_attention_heads, self.num_key_value_heads
            ));
        }
        if !(self.initializer_range > 0.0 && self.initializer_range.is_finite()) {
            return bad(format!("initializer_range = {} must be a positive number", self.initializer_range));
        }
        Ok(())
    }

    /// The tensors, in transformers' state-dict order, with `style`'s
    /// schemes.
    pub fn tensors(&self, style: Style, depth_init: bool) -> Result<Vec<TensorSpec>> {
        self.check()?;
        let (d, f, l) = (self.hidden_size, self.intermediate_size, self.num_hidden_layers);
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let std = self.initializer_range;
        let scaled = std / (2.0 * l as f64).sqrt();
        let tt = |s: f64| trunc(s, 2.0);
        let mut v = Vec::new();
        let embed = match style {
            Style::Torchtitan => normal(1.0),
            _ => normal(std),
        };
        v.push(spec_tensor("model.embed_tokens.weight".into(), &[self.vocab_size, d], &embed)?);
        for i in 0..l {
            let p = format!("model.layers.{i}");
            let out_std = match style {
                Style::Hf => std,
                Style::Megatron => scaled,
                Style::Torchtitan if depth_init => 0.02 / (2.0 * (i + 1) as f64).sqrt(),
                Style::Torchtitan => 0.02 / (2.0 * l as f64).sqrt(),
            };
            let (inner, out, up) = match style {
                Style::Torchtitan => (tt(0.02), tt(out_std), tt(out_std)),
                _ => (normal(std), normal(out_std), normal(std)),
            };
            for (name, rows, bias) in
                [("q_proj", q, self.qkv_bias), ("k_proj", kv, self.qkv_bias), ("v_proj", kv, self.qkv_bias)]
            {
                v.push(spec_tensor(format!("{p}.self_attn.{name}.weight"), &[rows, d], &inner)?);
                if bias {
                    v.push(spec_tensor(format!("{p}.self_attn.{name}.bias"), &[rows], "zeros")?);
                }
            }
            v.push(spec_tensor(format!("{p}.self_attn.o_proj.weight"), &[d, q], &out)?);
            if self.o_bias {
                v.push(spec_tensor(format!("{p}.self_attn.o_proj.bias"), &[d], "zeros")?);
            }
            for (name, dims, init) in
                [("gate_proj", [f, d], &inner), ("up_proj", [f, d], &up), ("down_proj", [d, f], &out)]
            {
                v.push(spec_tensor(format!("{p}.mlp.{name}.weight"), &dims, init)?);
                if self.mlp_bias {
                    v.push(spec_tensor(format!("{p}.mlp.{name}.bias"), &dims[..1], "zeros")?);
                }
            }
            v.push(spec_tensor(format!("{p}.input_layernorm.weight"), &[d], "ones")?);
            v.push(spec_tensor(format!("{p}.post_attention_layernorm.weight"), &[d], "ones")?);
        }
        v.push(spec_tensor("model.norm.weight".into(), &[d], "ones")?);
        if !self.tie_word_embeddings {
            let head = match style {
                Style::Torchtitan => {
                    let s = (d as f64).powf(-0.5);
                    trunc(s, 3.0 * s)
                }
                _ => normal(std),
            };
            v.push(spec_tensor("lm_head.weight".into(), &[self.vocab_size, d], &head)?);
        }
        Ok(v)
    }

    /// A `config.json` transformers reads back as this architecture.
    pub fn hf_config(&self, dtype: DType) -> Value {
        let arch = match self.model_type.as_str() {
            "mistral" => "MistralForCausalLM",
            "qwen2" => "Qwen2ForCausalLM",
            _ => "LlamaForCausalLM",
        };
        let mut c = json!({
            "architectures": [arch],
            "model_type": self.model_type,
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "vocab_size": self.vocab_size,
            "tie_word_embeddings": self.tie_word_embeddings,
            "initializer_range": self.initializer_range,
            "max_position_embeddings": self.max_position_embeddings,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "hidden_act": "silu",
            "dtype": torch_dtype_name(dtype),
        });
        if self.model_type == "llama" {
            c["attention_bias"] = json!(self.qkv_bias);
            c["mlp_bias"] = json!(self.mlp_bias);
        }
        c
    }
}

impl Gpt2Arch {
    /// HF `gpt2` (124M).
    pub fn small() -> Gpt2Arch {
        Gpt2Arch {
            n_embd: 768,
            n_layer: 12,
            n_head: 12,
            n_positions: 1024,
            vocab_size: 50257,
            n_inner: 3072,
            tie_word_embeddings: true,
            initializer_range: 0.02,
            layer_norm_epsilon: 1e-5,
        }
    }

    /// The tensors, in transformers' order. Conv1D weights are stored
    /// `(in, out)`.
    pub fn tensors(&self, style: Style) -> Result<Vec<TensorSpec>> {
        if style == Style::Torchtitan {
            return Err(IoError::Usage(
                "style torchtitan is defined for Llama-family models only; use hf or megatron for gpt2".into(),
            ));
        }
        for (k, x) in
            [("n_embd", self.n_embd), ("n_layer", self.n_layer), ("n_head", self.n_head), ("n_inner", self.n_inner)]
        {
            if x == 0 {
                return Err(IoError::Usage(format!("{k} must be at least 1")));
            }
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(IoError::Usage(format!(
                "n_embd = {} must be a multiple of n_head = {}",
                self.n_embd, self.n_head
            )));
        }
        let (d, l, f) = (self.n_embd, self.n_layer, self.n_inner);
        let std = self.initializer_range;
        // transformers' GPT-2 rule and Megatron's agree: c_proj std/sqrt(2L).
        let out = normal(std / (2.0 * l as f64).sqrt());
        let w = normal(std);
        let mut v = vec![
            spec_tensor("transformer.wte.weight".into(), &[self.vocab_size, d], &w)?,
            spec_tensor("transformer.wpe.weight".into(), &[self.n_positions, d], &w)?,
        ];
        for i in 0..l {
            let p = format!("transformer.h.{i}");
            v.push(spec_tensor(format!("{p}.ln_1.weight"), &[d], "ones")?);
            v.push(spec_tensor(format!("{p}.ln_1.bias"), &[d], "zeros")?);
            v.push(spec_tensor(format!("{p}.attn.c_attn.weight"), &[d, 3 * d], &w)?);
            v.push(spec_tensor(format!("{p}.attn.c_attn.bias"), &[3 * d], "zeros")?);
            v.push(spec_tensor(format!("{p}.attn.c_proj.weight"), &[d, d], &out)?);
            v.push(spec_tensor(format!("{p}.attn.c_proj.bias"), &[d], "zeros")?);
            v.push(spec_tensor(format!("{p}.ln_2.weight"), &[d], "ones")?);
            v.push(spec_tensor(format!("{p}.ln_2.bias"), &[d], "zeros")?);
            v.push(spec_tensor(format!("{p}.mlp.c_fc.weight"), &[d, f], &w)?);
            v.push(spec_tensor(format!("{p}.mlp.c_fc.bias"), &[f], "zeros")?);
            v.push(spec_tensor(format!("{p}.mlp.c_proj.weight"), &[f, d], &out)?);
            v.push(spec_tensor(format!("{p}.mlp.c_proj.bias"), &[d], "zeros")?);
        }
        v.push(spec_tensor("transformer.ln_f.weight".into(), &[d], "ones")?);
        v.push(spec_tensor("transformer.ln_f.bias".into(), &[d], "zeros")?);
        if !self.tie_word_embeddings {
            v.push(spec_tensor("lm_head.weight".into(), &[self.vocab_size, d], &w)?);
        }
        Ok(v)
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
            "n_inner": self.n_inner,
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

fn torch_dtype_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "float32",
        DType::F64 => "float64",
        DType::F16 => "float16",
        DType::BF16 => "bfloat16",
    }
}

/// `--set key=value` pairs, checked against the keys a preset takes.
struct Settings<'a> {
    pairs: Vec<(&'a str, &'a str, bool)>,
    preset: &'a str,
}

impl<'a> Settings<'a> {
    fn new(preset: &'a str, sets: &'a [String], valid: &[&str]) -> Result<Self> {
        let mut pairs = Vec::new();
        for s in sets {
            let (k, v) = s.split_once('=').ok_or_else(|| {
                IoError::Usage(format!("--set {s:?}: write key=value, e.g. --set num_hidden_layers=4"))
            })?;
            let k = k.trim();
            if !valid.contains(&k) {
                return Err(IoError::Usage(format!(
                    "preset {preset} has no setting {k:?}{}; it takes: {}",
                    varinit::suggest::did_you_mean(varinit::suggest::closest(k, valid.iter().copied()).as_deref()),
                    valid.join(", ")
                )));
            }
            if pairs.iter().any(|(p, _, _)| *p == k) {
                return Err(IoError::Usage(format!("--set {k} given twice")));
            }
            pairs.push((k, v.trim(), false));
        }
        Ok(Settings { pairs, preset })
    }
    fn raw(&mut self, key: &str) -> Option<&'a str> {
        self.pairs.iter_mut().find(|(k, _, _)| *k == key).map(|(_, v, used)| {
            *used = true;
            *v
        })
    }
    fn int(&mut self, key: &str, target: &mut u64) -> Result<()> {
        if let Some(v) = self.raw(key) {
            *target = v
                .replace('_', "")
                .parse()
                .map_err(|_| IoError::Usage(format!("{} {key}={v:?}: expected a non-negative integer", self.preset)))?;
        }
        Ok(())
    }
    fn float(&mut self, key: &str, target: &mut f64) -> Result<()> {
        if let Some(v) = self.raw(key) {
            *target = varinit::scheme::parse_number(v)
                .ok_or_else(|| IoError::Usage(format!("{} {key}={v:?}: expected a number", self.preset)))?;
        }
        Ok(())
    }
    fn boolean(&mut self, key: &str, target: &mut bool) -> Result<()> {
        if let Some(v) = self.raw(key) {
            *target = match v.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => true,
                "false" | "0" | "no" => false,
                _ => return Err(IoError::Usage(format!("{} {key}={v:?}: expected true or false", self.preset))),
            };
        }
        Ok(())
    }
    /// The settings in the order given, for the spec's `source`.
    fn describe(&self) -> String {
        self.pairs.iter().map(|(k, v, _)| format!(" {k}={v}")).collect()
    }
}

const LLAMA_KEYS: &[&str] = &[
    "size",
    "style",
    "depth_init",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "tie_word_embeddings",
    "attention_bias",
    "mlp_bias",
    "initializer_range",
    "max_position_embeddings",
    "rms_norm_eps",
    "rope_theta",
];
const GPT2_KEYS: &[&str] = &[
    "size",
    "style",
    "n_embd",
    "n_layer",
    "n_head",
    "n_positions",
    "n_inner",
    "vocab_size",
    "tie_word_embeddings",
    "initializer_range",
    "layer_norm_epsilon",
];
const MLP_KEYS: &[&str] = &["dims", "bias", "style", "initializer_range"];

/// Expand a preset with `--set key=value` settings into a spec (seed 0,
/// dtype f32: the caller applies `--seed` and `--dtype`), with a
/// `config.json` for the transformer presets.
///
/// - `llama`: `size` = `tiny` | `0.85b` (default: hidden 2048, MLP 5632, 16
///   layers, 32 heads, 8 KV heads, vocabulary 32000) | `7b` | `13b`, then any
///   `LlamaConfig` field (`num_key_value_heads=4`, `tie_word_embeddings=true`,
///   ...), `style` = `hf` | `megatron` | `torchtitan`, `depth_init`.
/// - `gpt2`: `size` = `tiny` | `small` (default, 124M) | `medium` | `large` |
///   `xl`, then any `GPT2Config` field, `style` = `hf` | `megatron`.
/// - `mlp`: `dims=784,256,10`, `bias=true`, `style` = `torch` (PyTorch's
///   `nn.Linear` default) | `hf` (N(0, 0.02²), zero bias) | `kaiming`
///   (kaiming_normal for ReLU, zero bias).
pub fn expand(preset: &str, sets: &[String], dtype: DType) -> Result<ModelSpec> {
    match preset {
        "llama" => {
            let mut s = Settings::new("llama", sets, LLAMA_KEYS)?;
            let mut a = LlamaArch::default_for("llama");
            match s.raw("size") {
                None | Some("0.85b") => {}
                Some("tiny") => {
                    (a.hidden_size, a.intermediate_size, a.num_hidden_layers) = (64, 176, 2);
                    (a.num_attention_heads, a.num_key_value_heads, a.head_dim, a.vocab_size) = (4, 2, 16, 128);
                    a.max_position_embeddings = 128;
                }
                Some("7b") => {
                    (a.hidden_size, a.intermediate_size, a.num_hidden_layers) = (4096, 11008, 32);
                    (a.num_attention_heads, a.num_key_value_heads, a.head_dim) = (32, 32, 128);
                    a.max_position_embeddings = 4096;
                    a.rms_norm_eps = 1e-5;
                }
                Some("13b") => {
                    (a.hidden_size, a.intermediate_size, a.num_hidden_layers) = (5120, 13824, 40);
                    (a.num_attention_heads, a.num_key_value_heads, a.head_dim) = (40, 40, 128);
                    a.max_position_embeddings = 4096;
                    a.rms_norm_eps = 1e-5;
                }
                Some(other) => {
                    return Err(IoError::Usage(format!("llama size={other:?}: use tiny, 0.85b, 7b or 13b")));
                }
            }
            let heads_before = a.num_attention_heads;
            let kv_before = a.num_key_value_heads;
            s.int("hidden_size", &mut a.hidden_size)?;
            s.int("intermediate_size", &mut a.intermediate_size)?;
            s.int("num_hidden_layers", &mut a.num_hidden_layers)?;
            s.int("num_attention_heads", &mut a.num_attention_heads)?;
            if a.num_attention_heads != heads_before && kv_before == heads_before {
                a.num_key_value_heads = a.num_attention_heads;
            }
            s.int("num_key_value_heads", &mut a.num_key_value_heads)?;
            a.head_dim = a.hidden_size.checked_div(a.num_attention_heads).unwrap_or(0);
            s.int("head_dim", &mut a.head_dim)?;
            s.int("vocab_size", &mut a.vocab_size)?;
            s.boolean("tie_word_embeddings", &mut a.tie_word_embeddings)?;
            s.boolean("attention_bias", &mut a.qkv_bias)?;
            a.o_bias = a.qkv_bias;
            s.boolean("mlp_bias", &mut a.mlp_bias)?;
            s.float("initializer_range", &mut a.initializer_range)?;
            s.int("max_position_embeddings", &mut a.max_position_embeddings)?;
            s.float("rms_norm_eps", &mut a.rms_norm_eps)?;
            s.float("rope_theta", &mut a.rope_theta)?;
            let style = s.raw("style").map_or(Ok(Style::Hf), Style::parse)?;
            let mut depth_init = true;
            s.boolean("depth_init", &mut depth_init)?;
            let tensors = a.tensors(style, depth_init)?;
            let config = a.hf_config(dtype);
            Ok(model("llama", style.name(), &s.describe(), tensors, Some(config)))
        }
        "gpt2" => {
            let mut s = Settings::new("gpt2", sets, GPT2_KEYS)?;
            let mut a = Gpt2Arch::small();
            match s.raw("size") {
                None | Some("small") => {}
                Some("tiny") => (a.n_embd, a.n_layer, a.n_head, a.n_positions, a.vocab_size) = (64, 2, 4, 32, 128),
                Some("medium") => (a.n_embd, a.n_layer, a.n_head) = (1024, 24, 16),
                Some("large") => (a.n_embd, a.n_layer, a.n_head) = (1280, 36, 20),
                Some("xl") => (a.n_embd, a.n_layer, a.n_head) = (1600, 48, 25),
                Some(other) => {
                    return Err(IoError::Usage(format!("gpt2 size={other:?}: use tiny, small, medium, large or xl")));
                }
            }
            s.int("n_embd", &mut a.n_embd)?;
            a.n_inner = 4 * a.n_embd;
            s.int("n_layer", &mut a.n_layer)?;
            s.int("n_head", &mut a.n_head)?;
            s.int("n_positions", &mut a.n_positions)?;
            s.int("n_inner", &mut a.n_inner)?;
            s.int("vocab_size", &mut a.vocab_size)?;
            s.boolean("tie_word_embeddings", &mut a.tie_word_embeddings)?;
            s.float("initializer_range", &mut a.initializer_range)?;
            s.float("layer_norm_epsilon", &mut a.layer_norm_epsilon)?;
            let style = s.raw("style").map_or(Ok(Style::Hf), Style::parse)?;
            let tensors = a.tensors(style)?;
            let config = a.hf_config(dtype);
            Ok(model("gpt2", style.name(), &s.describe(), tensors, Some(config)))
        }
        "mlp" => {
            let mut s = Settings::new("mlp", sets, MLP_KEYS)?;
            let dims_text = s.raw("dims").unwrap_or("784,256,10");
            let dims: Vec<u64> = dims_text
                .split([',', 'x'])
                .map(|d| d.trim().parse::<u64>().ok().filter(|&d| d > 0))
                .collect::<Option<_>>()
                .filter(|v: &Vec<u64>| v.len() >= 2)
                .ok_or_else(|| {
                    IoError::Usage(format!(
                        "mlp dims={dims_text:?}: write at least two positive widths, e.g. dims=784,256,10"
                    ))
                })?;
            let mut bias = true;
            s.boolean("bias", &mut bias)?;
            let mut std = 0.02;
            s.float("initializer_range", &mut std)?;
            let style = s.raw("style").unwrap_or("torch");
            let (w, b) = match style {
                "torch" => ("torch_default".to_string(), None),
                "hf" => (normal(std), Some("zeros".to_string())),
                "kaiming" => ("kaiming_normal(nonlinearity=relu)".to_string(), Some("zeros".to_string())),
                _ => return Err(IoError::Usage(format!("mlp style={style:?}: use torch, hf or kaiming"))),
            };
            let mut tensors = Vec::new();
            for (i, pair) in dims.windows(2).enumerate() {
                let (fan_in, out) = (pair[0], pair[1]);
                tensors.push(spec_tensor(format!("layers.{i}.weight"), &[out, fan_in], &w)?);
                if bias {
                    let bi = b.clone().unwrap_or_else(|| format!("torch_default_bias(fan_in={fan_in})"));
                    tensors.push(spec_tensor(format!("layers.{i}.bias"), &[out], &bi)?);
                }
            }
            Ok(model("mlp", style, &s.describe(), tensors, None))
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

fn model(name: &str, style: &str, settings: &str, tensors: Vec<TensorSpec>, config: Option<Value>) -> ModelSpec {
    let hf_config = config.map(|c| {
        let mut text = serde_json::to_string_pretty(&c).expect("JSON values serialize");
        text.push('\n');
        text.into_bytes()
    });
    let source = if settings.contains(" style=") {
        format!("preset {name}{settings}")
    } else {
        format!("preset {name} style={style}{settings}")
    };
    ModelSpec { seed: 0, dtype: DType::F32, layout: Layout::Torch, tensors, source, hf_config }
}

/// Read a Hugging Face `config.json` (model type `llama`, `mistral`,
/// `qwen2` or `gpt2`) into a spec whose tensors are what transformers'
/// `*ForCausalLM` / `GPT2LMHeadModel` saves, and which writes the config's
/// bytes, unchanged, next to the weights. `sets` may choose `style` and
/// `depth_init`; the architecture comes from the config alone. The dtype is
/// the config's `dtype` (or `torch_dtype`) when it names one, else f32.
pub fn from_hf_config(bytes: &[u8], file: &str, sets: &[String]) -> Result<ModelSpec> {
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
    let mut s = Settings::new("--hf-config", sets, &["style", "depth_init"])?;
    let style = s.raw("style").map_or(Ok(Style::Hf), Style::parse)?;
    let mut depth_init = true;
    s.boolean("depth_init", &mut depth_init)?;
    let tensors = match model_type {
        "llama" | "mistral" | "qwen2" => {
            let mut a = LlamaArch::default_for(model_type);
            a.hidden_size = req_int(&c, "hidden_size").map_err(bad)?;
            a.intermediate_size = req_int(&c, "intermediate_size").map_err(bad)?;
            a.num_hidden_layers = req_int(&c, "num_hidden_layers").map_err(bad)?;
            a.num_attention_heads = req_int(&c, "num_attention_heads").map_err(bad)?;
            a.vocab_size = req_int(&c, "vocab_size").map_err(bad)?;
            a.num_key_value_heads = opt_int(&c, "num_key_value_heads").map_err(bad)?.unwrap_or(a.num_attention_heads);
            if a.num_attention_heads == 0 {
                return Err(bad("num_attention_heads must be at least 1".into()));
            }
            a.head_dim = opt_int(&c, "head_dim").map_err(bad)?.unwrap_or(a.hidden_size / a.num_attention_heads);
            a.tie_word_embeddings = opt_bool(&c, "tie_word_embeddings").map_err(bad)?.unwrap_or(false);
            if model_type == "llama" {
                a.qkv_bias = opt_bool(&c, "attention_bias").map_err(bad)?.unwrap_or(false);
                a.o_bias = a.qkv_bias;
                a.mlp_bias = opt_bool(&c, "mlp_bias").map_err(bad)?.unwrap_or(false);
            }
            a.initializer_range = opt_f64(&c, "initializer_range").map_err(bad)?.unwrap_or(0.02);
            a.tensors(style, depth_init)?
        }
        "gpt2" => {
            let mut a = Gpt2Arch::small();
            a.n_embd = opt_int(&c, "n_embd").map_err(bad)?.unwrap_or(a.n_embd);
            a.n_layer = opt_int(&c, "n_layer").map_err(bad)?.unwrap_or(a.n_layer);
            a.n_head = opt_int(&c, "n_head").map_err(bad)?.unwrap_or(a.n_head);
            a.n_positions = opt_int(&c, "n_positions").map_err(bad)?.unwrap_or(a.n_positions);
            a.vocab_size = opt_int(&c, "vocab_size").map_err(bad)?.unwrap_or(a.vocab_size);
            a.n_inner = opt_int(&c, "n_inner").map_err(bad)?.unwrap_or(4 * a.n_embd);
            a.tie_word_embeddings = opt_bool(&c, "tie_word_embeddings").map_err(bad)?.unwrap_or(true);
            a.initializer_range = opt_f64(&c, "initializer_range").map_err(bad)?.unwrap_or(0.02);
            if c.get("add_cross_attention").and_then(Value::as_bool) == Some(true) {
                return Err(bad("add_cross_attention = true is not supported".into()));
            }
            a.tensors(style)?
        }
        "" => return Err(bad("no \"model_type\"; supported: llama, mistral, qwen2, gpt2".into())),
        other => {
            return Err(bad(format!("model_type {other:?} is not supported; supported: llama, mistral, qwen2, gpt2")));
        }
    };
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
            style.name(),
            if depth_init { "" } else { " depth_init=false" }
        ),
        hf_config: Some(bytes.to_vec()),
    })
}

fn opt_int(c: &Map<String, Value>, k: &str) -> std::result::Result<Option<u64>, String> {
    match c.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| format!("{k} = {v} is not a non-negative integer")),
    }
}
fn req_int(c: &Map<String, Value>, k: &str) -> std::result::Result<u64, String> {
    opt_int(c, k)?.ok_or_else(|| format!("missing {k:?}"))
}
fn opt_bool(c: &Map<String, Value>, k: &str) -> std::result::Result<Option<bool>, String> {
    match c.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_bool().map(Some).ok_or_else(|| format!("{k} = {v} is not true or false")),
    }
}
fn opt_f64(c: &Map<String, Value>, k: &str) -> std::result::Result<Option<f64>, String> {
    match c.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            v.as_f64().filter(|x| *x > 0.0).map(Some).ok_or_else(|| format!("{k} = {v} is not a positive number"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn default_llama_is_the_085b_model() {
        let m = expand("llama", &[], DType::BF16).unwrap();
        let n = m.numel();
        assert!((840_000_000..870_000_000).contains(&n), "{n}");
        assert_eq!(m.tensors.len(), 1 + 16 * 9 + 2);
        let k = m.tensors.iter().find(|t| t.name == "model.layers.0.self_attn.k_proj.weight").unwrap();
        assert_eq!(k.shape.dims(), &[512, 2048]);
    }

    #[test]
    fn styles_follow_their_rules() {
        let m = expand("llama", &sets(&["size=tiny", "style=megatron"]), DType::F32).unwrap();
        let get = |m: &ModelSpec, n: &str| m.tensors.iter().find(|t| t.name == n).unwrap().init.to_string();
        assert_eq!(get(&m, "model.layers.1.self_attn.o_proj.weight"), "normal(mean=0, std=0.01)");
        assert_eq!(get(&m, "model.layers.1.mlp.up_proj.weight"), "normal(mean=0, std=0.02)");
        let t = expand("llama", &sets(&["size=tiny", "style=torchtitan"]), DType::F32).unwrap();
        assert!(get(&t, "model.layers.1.mlp.up_proj.weight").contains("std=0.01,"));
        assert!(get(&t, "model.layers.0.mlp.down_proj.weight").contains(&format!("std={:?}", 0.02 / 2f64.sqrt())));
        assert_eq!(get(&t, "model.embed_tokens.weight"), "normal(mean=0, std=1)");
        assert_eq!(get(&t, "lm_head.weight"), "trunc_normal(mean=0, std=0.125, a=-0.375, b=0.375)");
        let g = expand("gpt2", &sets(&["size=tiny"]), DType::F32).unwrap();
        assert_eq!(get(&g, "transformer.h.0.mlp.c_proj.weight"), "normal(mean=0, std=0.01)");
        assert!(expand("gpt2", &sets(&["style=torchtitan"]), DType::F32).is_err());
    }

    #[test]
    fn bad_settings_are_refused() {
        for (p, s) in [
            ("llama", "layers=3"),
            ("llama", "num_hidden_layers=x"),
            ("llama", "num_key_value_heads=5"),
            ("llama", "style=hff"),
            ("llama", "noequals"),
            ("gpt2", "n_head=5"),
            ("mlp", "dims=3"),
            ("mlp", "style=xavier"),
            ("bert", "x=1"),
        ] {
            assert!(expand(p, &sets(&[s]), DType::F32).is_err(), "{p} {s}");
        }
    }
}
