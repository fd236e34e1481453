//! # varinit-candle
//!
//! Reproducible initialization for [candle](https://github.com/huggingface/candle)
//! models. candle's CPU generator cannot be seeded, so a candle model's
//! initial weights cannot be reproduced, and candle's `Init` knows only
//! constants, normals, uniforms and Kaiming. This crate plugs varinit into
//! candle-nn's `VarBuilder`:
//!
//! - [`VarinitBackend`]: every variable is drawn by varinit, keyed by
//!   (seed, full variable path) — the same model built twice has the same
//!   weights bit for bit, adding a layer changes no other layer, and any
//!   varinit scheme (Xavier, orthogonal, truncated normal, variance scaling,
//!   ...) can be assigned to paths by glob rules. Without a rule, the hint
//!   candle's layer passes is followed ([`scheme_for_hint`] documents the
//!   mapping and where candle differs from PyTorch).
//! - [`Checkpoint`]: the other way, a safetensors file written by varinit
//!   (`varinit init`, `varinit sample --out`, or `varinit_io`) loaded into a
//!   candle model, with errors naming the missing tensor or both shapes.
//!
//! ## In a few lines
//!
//! ```
//! use candle_core::{DType, Device};
//! use candle_nn::{Optimizer, VarMap};
//! use varinit_candle::VarinitBackend;
//!
//! let varmap = VarMap::new();
//! let vb = VarinitBackend::new(2024)                // the seed
//!     .rule("*.weight", "kaiming_normal(nonlinearity=relu)")?
//!     .rule("*.bias", "zeros")?
//!     .trainable(&varmap)                          // register the variables for training
//!     .into_var_builder(DType::F32, &Device::Cpu);
//! let fc1 = candle_nn::linear(64, 128, vb.pp("fc1"))?;  // any candle model
//! let fc2 = candle_nn::linear(128, 10, vb.pp("fc2"))?;
//! let mut sgd = candle_nn::SGD::new(varmap.all_vars(), 0.1)?;
//! # let _ = (fc1, fc2, &mut sgd);
//! // ... train; varmap.save("model.safetensors") writes the weights.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Without `.trainable(..)` the variables are plain tensors (for inference
//! or analysis). [`VarinitBackend::journal`] records which scheme and
//! distribution every variable got; [`VarinitBackend::plan`] answers the
//! same question for one path without drawing.
//!
//! ## Errors
//!
//! Bad rules (glob or scheme) are reported when the rule is added; a scheme
//! that does not fit a variable's shape (Xavier on a bias) when the model
//! asks for it, naming the path, the shape and the rule. Inside a model
//! constructor the error arrives as a `candle_core::Error` carrying the
//! same message ([`Error`] converts into it).
//!
//! ## The example
//!
//! `cargo run --release -p varinit-candle --example deep_relu` repeats He et
//! al. (2015)'s depth experiment on the handwritten-digits data set: a
//! 30-layer plain ReLU network under Kaiming and Xavier initialization,
//! and a 10-layer one; see the repository README for the measured result.
#![warn(missing_docs)]

mod backend;
mod checkpoint;
pub mod error;
pub mod hint;

pub use backend::{HINT, Journal, Origin, Plan, VarinitBackend};
pub use checkpoint::{Checkpoint, LoadReport};
pub use error::{Error, Result};
pub use hint::scheme_for_hint;
