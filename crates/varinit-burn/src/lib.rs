//! # varinit-burn
//!
//! Reproducible, path-keyed initialization for [burn](https://burn.dev)
//! 0.22 models, and (sharded) safetensors checkpoints loaded into them.
//!
//! burn's own initial values depend on the backend's generator and on the
//! order in which modules are built, its `Initializer` has no truncated
//! normal, LeCun or variance scaling (and its Kaiming wants the gain
//! passed by hand), and `burn-store` reads one safetensors file, not a
//! sharded checkpoint. This crate:
//!
//! - [`Reinit`]: re-initializes every float parameter of any burn
//!   [`Module`](burn::module::Module) with varinit, keyed by (seed, the
//!   parameter's path), with any varinit scheme chosen by ordered glob
//!   rules; fans are PyTorch's for the same layer (burn's `Linear` weight is
//!   `(in, out)`, PyTorch's `(out, in)`: see below);
//! - [`Checkpoint`]: loads a safetensors file or a sharded checkpoint
//!   (`model.safetensors.index.json`) into any burn module by path,
//!   read one tensor at a time (positioned reads, so a file truncated underneath is an error, not a SIGBUS), with a key-mapping hook and
//!   errors that name the missing tensor or both shapes.
//!
//! ## In three lines
//!
//! ```
//! use burn::module::Module;
//! use burn::nn::{Linear, LinearConfig};
//!
//! #[derive(Module, Debug)]
//! struct Mlp {
//!     layers: Vec<Linear>,
//! }
//!
//! let device = burn::tensor::Device::flex();
//! let model = Mlp { layers: vec![LinearConfig::new(64, 128).init(&device), LinearConfig::new(128, 10).init(&device)] };
//!
//! let model = varinit_burn::Reinit::new(2024)                    // the seed
//!     .rules([("*.weight", "kaiming_normal(nonlinearity=relu)"), ("*.bias", "zeros")])?
//!     .apply(model)?;
//! # let _ = model;
//! # Ok::<(), varinit_burn::Error>(())
//! ```
//!
//! and one to load a checkpoint written by `varinit init` (or by
//! transformers, PyTorch, candle):
//!
//! ```no_run
//! # fn f<M: burn::module::Module>(model: M) -> Result<M, varinit_burn::Error> {
//! let model = varinit_burn::Checkpoint::open("checkpoint-dir")?.load(model)?;
//! # Ok(model) }
//! ```
//!
//! ## Parameter paths
//!
//! A parameter's path is the one burn gives it while visiting the module
//! (`ModuleVisitor` / `ModuleMapper`'s `enter_module`), the name
//! `burn-store` saves it under: struct field names, `Vec`/array/tuple
//! indices and enum variant names, joined by dots. `Option` fields add
//! nothing. For
//!
//! ```text
//! struct Net { embed: Embedding, blocks: Vec<Block>, head: Linear }
//! struct Block { attn: MultiHeadAttention, norm: LayerNorm, mlp: Mlp }
//! ```
//!
//! the paths are `embed.weight`, `blocks.0.attn.query.weight`,
//! `blocks.0.norm.gamma`, `blocks.1.mlp.fc1.bias`, `head.weight`, ... — the
//! same names a PyTorch module with the same attribute names has, except
//! that burn's norms say `gamma`/`beta` for PyTorch's `weight`/`bias` (and
//! burn's running statistics `running_mean`/`running_var` are float
//! parameters too). The values of a parameter are keyed by this path (the
//! tensor name of varinit's stream format), so they do not depend on the
//! order in which the model's modules were built or are visited.
//!
//! ## burn's layouts and PyTorch's fans
//!
//! burn's `Linear` weight is `(d_input, d_output)`; PyTorch's (and
//! candle's, and transformers') is `(out, in)`. [`Reinit`] draws a `Linear`
//! weight as the PyTorch tensor of the same path and shape `(out, in)`,
//! then transposes it: fans are PyTorch's for the same layer, and **the
//! burn weight is exactly the transpose of the weight varinit gives the
//! PyTorch or candle layer of the same name** (the tests compare a burn
//! and a candle twin byte for byte). burn's convolutions `(out, in/groups,
//! *k)`, transposed convolutions `(in, out/groups, *k)`, embeddings and
//! norms already have PyTorch's layout and are drawn as they are. burn's
//! `Linear` is recognised by its module type and field (`Linear.weight`),
//! with either `LinearLayout`; declare other `(in, out)` weights with
//! [`Reinit::in_out`].
//!
//! ## Twins across frameworks
//!
//! The same architecture gets the same numbers in burn and candle (and in a
//! checkpoint from `varinit init`) when the paths and rules agree: a burn
//! `layers: Vec<Linear>` field gives `layers.0.weight`, the candle model
//! built with `vb.pp("layers").pp(0)` (or `vb.pp("layers.0")`) asks for
//! `layers.0.weight`, and with the same seed and rules the burn weight is
//! the candle weight transposed, bias for bias identical. When the names
//! differ, name the burn fields after the other framework's paths (the
//! path is the key).
// Errors carry the core's error and both shapes by value; they are built once, on the
// cold path that ends the call, so their size costs nothing worth a Box.
#![allow(clippy::result_large_err)]
#![warn(missing_docs)]

mod checkpoint;
mod convert;
pub mod error;
mod params;
mod reinit;
mod rules;

pub use checkpoint::{Checkpoint, LinearOrder, LoadReport, Loaded, pytorch_names};
pub use error::{Error, Result};
pub use reinit::{Journal, KEEP, Origin, Plan, Reinit};
