//! # varinit
//!
//! Neural-network weight initialization with the exact semantics of
//! PyTorch's `torch.nn.init`, Keras's initializers and JAX's
//! `nn.initializers`, and values that are reproducible bit for bit: a pure
//! function of (seed, tensor name, scheme, shape, dtype, layout), whatever
//! the thread count, the split into ranges, or the order of tensors.
//!
//! ```
//! use varinit::{DType, Init, Layout, Par, Shape, TensorInit};
//!
//! // PyTorch's kaiming_normal_ for a Linear(512 -> 256) weight (out, in)
//! let init: Init = "kaiming_normal(nonlinearity=relu)".parse()?;
//! let shape: Shape = "256x512".parse()?;
//! let t = TensorInit::new(0, "fc1.weight", &init, shape, Layout::Torch.into())?;
//! assert_eq!(t.resolved().to_string(), "N(0, 0.0625^2)");
//! let w: Vec<f32> = t.to_vec(Par::Rayon)?;
//! assert_eq!(w.len(), 256 * 512);
//! # Ok::<(), varinit::Error>(())
//! ```
//!
//! The modules, from the bottom: [`stream`] (Philox4x32-10 and the tensor
//! key), [`kernels`] (uniform, normal and truncated-normal conversions),
//! [`fan`] and [`gain`] (the frameworks' tables), [`scheme`] (the [`Init`]
//! type and its grammar), [`structured`] schemes, and [`TensorInit`], which
//! ties them together.
#![warn(missing_docs)]

pub mod activation;
pub mod dtype;
pub mod error;
pub mod fan;
pub mod gain;
pub(crate) mod grammar;
pub mod kernels;
pub mod number;
pub mod provenance;
pub mod region;
pub mod representable;
pub mod rules;
pub mod scheme;
pub mod shape;
pub mod special;
pub mod stats;
pub mod stream;
pub(crate) mod structured;
pub mod style;
pub mod suggest;
pub mod tensor;

pub use dtype::{DType, Element, Precision};
pub use error::{Error, ErrorClass, Result};
pub use fan::{FanMode, Fans, Layout};
pub use gain::{Activation, calculate_gain};
pub use kernels::Par;
pub use representable::check_representable;
pub use scheme::{Init, ResolveOptions, Resolved};
pub use shape::Shape;
pub use stream::{STREAM_VERSION, TensorKey};
pub use tensor::TensorInit;

/// This crate's version, recorded in checkpoints' metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
