//! Building blocks of the families: a tensor list in state-dict order,
//! the schemes of a decoder (as values), and the attention and MLP blocks
//! most decoders share.

use varinit::{Init, Shape};

use crate::spec::TensorSpec;
use crate::{IoError, Result};

/// Tensors in the order transformers' state dict lists them.
#[derive(Default)]
pub(super) struct Tensors(pub(super) Vec<TensorSpec>);

impl Tensors {
    pub(super) fn push(&mut self, name: impl Into<String>, dims: &[u64], init: &Init) -> Result<()> {
        self.0.push(TensorSpec {
            name: name.into(),
            shape: Shape::new(dims.to_vec())?,
            init: init.clone(),
            dtype: None,
        });
        Ok(())
    }
}

/// N(0, std²).
pub(super) fn normal(std: f64) -> Result<Init> {
    Ok(Init::normal(0.0, std)?)
}

/// The default schemes of a decoder's weights. Which tensor gets
/// which: `inner` q, k, v, MLP gate (also a fused qkv or gate-up, MoE
/// routers and fused expert gate-up weights); `up` the MLP up projection;
/// `out[l]` o and down projections of layer l; `embed`, `head` (untied
/// `lm_head`).
pub(super) struct Schemes {
    pub(super) embed: Init,
    pub(super) inner: Init,
    pub(super) up: Vec<Init>,
    pub(super) out: Vec<Init>,
    pub(super) head: Init,
}

impl Schemes {
    /// transformers' `_init_weights`: N(0, std²) everywhere (an init style
    /// then changes what it names).
    pub(super) fn hf(std: f64, layers: u64) -> Result<Schemes> {
        let w = normal(std)?;
        Ok(Schemes {
            embed: w.clone(),
            inner: w.clone(),
            up: (0..layers).map(|_| w.clone()).collect(),
            out: (0..layers).map(|_| w.clone()).collect(),
            head: w,
        })
    }
}

/// The widths of a decoder's attention.
#[derive(Clone, Copy)]
pub(super) struct Attn {
    pub(super) d: u64,
    pub(super) q: u64,
    pub(super) kv: u64,
}

/// q, k, v, o projections of `{p}.self_attn` with their biases (q/k/v bias,
/// o bias), in transformers' order.
pub(super) fn attention(t: &mut Tensors, p: &str, a: Attn, bias: (bool, bool), s: &Schemes, l: usize) -> Result<()> {
    for (name, rows) in [("q_proj", a.q), ("k_proj", a.kv), ("v_proj", a.kv)] {
        t.push(format!("{p}.self_attn.{name}.weight"), &[rows, a.d], &s.inner)?;
        if bias.0 {
            t.push(format!("{p}.self_attn.{name}.bias"), &[rows], &Init::zeros())?;
        }
    }
    t.push(format!("{p}.self_attn.o_proj.weight"), &[a.d, a.q], &s.out[l])?;
    if bias.1 {
        t.push(format!("{p}.self_attn.o_proj.bias"), &[a.d], &Init::zeros())?;
    }
    Ok(())
}

/// gate, up, down projections of `{p}.mlp` (SwiGLU), with biases if `bias`.
pub(super) fn mlp(t: &mut Tensors, p: &str, d: u64, f: u64, bias: bool, s: &Schemes, l: usize) -> Result<()> {
    for (name, dims, init) in
        [("gate_proj", [f, d], &s.inner), ("up_proj", [f, d], &s.up[l]), ("down_proj", [d, f], &s.out[l])]
    {
        t.push(format!("{p}.mlp.{name}.weight"), &dims, init)?;
        if bias {
            t.push(format!("{p}.mlp.{name}.bias"), &dims[..1], &Init::zeros())?;
        }
    }
    Ok(())
}

/// transformers 5's fused experts of `{p}.mlp.experts`: `gate_up_proj`
/// (E, 2f, d) and `down_proj` (E, d, f).
pub(super) fn experts(t: &mut Tensors, p: &str, e: u64, d: u64, f: u64, s: &Schemes, l: usize) -> Result<()> {
    t.push(format!("{p}.mlp.experts.gate_up_proj"), &[e, 2 * f, d], &s.inner)?;
    t.push(format!("{p}.mlp.experts.down_proj"), &[e, d, f], &s.out[l])
}

/// The MoE router `{p}.mlp.gate.weight` (E, d).
pub(super) fn router(t: &mut Tensors, p: &str, e: u64, d: u64, s: &Schemes) -> Result<()> {
    t.push(format!("{p}.mlp.gate.weight"), &[e, d], &s.inner)
}

/// `model.norm` and, when untied, `lm_head`.
pub(super) fn head(t: &mut Tensors, d: u64, vocab: u64, tied: bool, norm: &Init, s: &Schemes) -> Result<()> {
    t.push("model.norm.weight", &[d], norm)?;
    if !tied {
        t.push("lm_head.weight", &[vocab, d], &s.head)?;
    }
    Ok(())
}

/// Every listed size at least 1.
pub(super) fn check_positive(fields: &[(&str, u64)]) -> Result<()> {
    match fields.iter().find(|(_, v)| *v == 0) {
        Some((k, _)) => Err(IoError::Usage(format!("{k} must be at least 1"))),
        None => Ok(()),
    }
}

/// Query heads a multiple of the key/value heads.
pub(super) fn check_gqa(heads: u64, kv: u64) -> Result<()> {
    if kv == 0 || !heads.is_multiple_of(kv) {
        return Err(IoError::Usage(format!(
            "num_attention_heads = {heads} must be a multiple of num_key_value_heads = {kv}"
        )));
    }
    Ok(())
}

/// A usable `initializer_range`.
pub(super) fn check_std(std: f64) -> Result<()> {
    if !(std > 0.0 && std.is_finite()) {
        return Err(IoError::Usage(format!("initializer_range = {std} must be a positive number")));
    }
    Ok(())
}

/// The fields most decoder configs share (flattened into each family's
/// config struct; each family gives its own transformers defaults).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Dims {
    /// d_model.
    pub hidden_size: u64,
    /// MLP width (dense layers).
    pub intermediate_size: u64,
    /// Layers.
    pub num_hidden_layers: u64,
    /// Query heads.
    pub num_attention_heads: u64,
    /// Key/value heads; `None`: as many as the query heads.
    pub num_key_value_heads: Option<u64>,
    /// Per-head width; `None`: hidden_size / num_attention_heads.
    pub head_dim: Option<u64>,
    /// Vocabulary.
    pub vocab_size: u64,
    /// `lm_head` shares the embedding (and is not saved).
    pub tie_word_embeddings: bool,
    /// Base std.
    pub initializer_range: f64,
}

impl Default for Dims {
    fn default() -> Self {
        dims(4096, 11008, 32, 32, None, 32000)
    }
}

impl Dims {
    /// Key/value heads.
    pub fn kv_heads(&self) -> u64 {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Per-head width.
    pub fn head_dim(&self) -> u64 {
        self.head_dim.unwrap_or_else(|| self.hidden_size.checked_div(self.num_attention_heads).unwrap_or(0))
    }

    pub(super) fn attn(&self) -> Attn {
        Attn {
            d: self.hidden_size,
            q: self.num_attention_heads * self.head_dim(),
            kv: self.kv_heads() * self.head_dim(),
        }
    }

    /// The style variables (`d_ff` is the dense MLP width).
    pub(super) fn vars(&self) -> Vec<(&'static str, f64)> {
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

    pub(super) fn check(&self) -> Result<()> {
        check_positive(&[
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.kv_heads()),
            ("head_dim", self.head_dim()),
            ("vocab_size", self.vocab_size),
        ])?;
        check_gqa(self.num_attention_heads, self.kv_heads())?;
        check_std(self.initializer_range)
    }

    /// transformers' default schemes for this decoder (before a style).
    pub(super) fn schemes(&self) -> Result<Schemes> {
        Schemes::hf(self.initializer_range, self.num_hidden_layers)
    }
}

/// Dims with transformers' usual decoder defaults (4096 wide, 32 layers).
pub(super) fn dims(hidden: u64, inter: u64, layers: u64, heads: u64, kv: Option<u64>, vocab: u64) -> Dims {
    Dims {
        hidden_size: hidden,
        intermediate_size: inter,
        num_hidden_layers: layers,
        num_attention_heads: heads,
        num_key_value_heads: kv,
        head_dim: None,
        vocab_size: vocab,
        tie_word_embeddings: false,
        initializer_range: 0.02,
    }
}
