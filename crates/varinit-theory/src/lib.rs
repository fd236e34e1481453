//! The theory behind initialization, computed: Gaussian expectations of
//! activations ([`quadrature`]), numeric gains ([`gains`]), the mean-field
//! maps, fixed points and edge of chaos ([`meanfield`]), and a simulation
//! of deep networks that measures what the theory predicts
//! ([`propagate`]).
//!
//! The activations' values and derivatives are methods of
//! [`varinit::Activation`] (`value`, `derivative`, `kinks`), defined in
//! the core crate's `activation` module.
#![warn(missing_docs)]

pub mod gains;
pub mod meanfield;
pub mod propagate;
pub mod quadrature;
