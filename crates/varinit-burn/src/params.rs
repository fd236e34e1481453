//! The float parameters of a burn module, with their paths, as burn names
//! them, and the facts needed to draw or load them without initializing a
//! lazy parameter.
//!
//! **Paths.** burn's derived `Module` calls `enter_module(field, "Struct:Type")`
//! for every field, `Vec`s, arrays and tuples enter their index, and enums
//! their variant name; `Option` fields enter nothing. A parameter's path is
//! those names joined by dots: `layers.3.weight` for the `weight` field of
//! the fourth `Linear` in a `layers: Vec<Linear>` field. These are the names
//! `burn-store` saves under, and the same names a PyTorch model with the same
//! attribute names has.
//!
//! **Saved form.** A parameter is drawn and loaded in the form burn saves it
//! (what `Param::transform_for_save` yields, the tensor `burn-store`
//! writes) and installed with `Param::transform_for_load`, exactly as
//! `burn-store` loads a checkpoint: the parameter keeps its id, device,
//! gradient setting and load/save mappers, and a lazy parameter is replaced
//! without ever running burn's own initializer. For most parameters the
//! saved form is the value; burn's `Linear` with `LinearLayout::Col` saves
//! its `(in, out)` value transposed, `(out, in)`.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{DType, Tensor, TensorData};

/// One float parameter.
#[derive(Debug, Clone)]
pub(crate) struct ParamInfo {
    /// The full path (`layers.3.weight`).
    pub path: String,
    /// The type of the module that owns it (`Linear`, `Conv2d`, a user
    /// struct's name; `Vec`, `Array`, `Tuple` for containers).
    pub module: String,
    /// The shape burn saves it in.
    pub shape: Vec<usize>,
    /// True for a burn `Linear` weight saved `(in, out)` (the default
    /// `LinearLayout::Row`).
    pub linear_in_out: bool,
    /// The dtype it has (or, for a parameter not initialized yet, the
    /// device's default float dtype, which burn's initializers use).
    pub dtype: DType,
}

/// The float parameters of `module`, in burn's visiting order.
pub(crate) fn float_params<M: Module>(module: &M) -> Vec<ParamInfo> {
    let mut v = Collector::default();
    module.visit(&mut v);
    v.params
}

/// Names and container types of the modules entered so far.
#[derive(Debug, Default)]
pub(crate) struct PathStack {
    names: Vec<String>,
    containers: Vec<String>,
}

impl PathStack {
    pub(crate) fn enter(&mut self, name: &str, container_type: &str) {
        self.names.push(name.to_string());
        self.containers.push(container_type.to_string());
    }

    pub(crate) fn exit(&mut self) {
        self.names.pop();
        self.containers.pop();
    }

    pub(crate) fn path(&self) -> String {
        self.names.join(".")
    }

    /// The owning module's type name: `Linear` for `Struct:Linear`.
    fn module(&self) -> String {
        let c = self.containers.last().map(String::as_str).unwrap_or("");
        c.split_once(':').map_or(c, |(_, name)| name).to_string()
    }

    fn field(&self) -> &str {
        self.names.last().map(String::as_str).unwrap_or("")
    }
}

#[derive(Default)]
struct Collector {
    stack: PathStack,
    params: Vec<ParamInfo>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.stack.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.stack.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let transposing = D == 2 && load_transposes(param);
        let initialized = param.is_initialized();
        let mut shape = param.lazy_shape().to_vec();
        if initialized && transposing {
            // the value is the transpose of the saved form
            shape.reverse();
        }
        let module = self.stack.module();
        let linear_in_out = D == 2 && module == "Linear" && self.stack.field() == "weight" && !transposing;
        let dtype = if initialized { param.dtype() } else { param.lazy_device().settings().float_dtype.into() };
        self.params.push(ParamInfo { path: self.stack.path(), module, shape, linear_in_out, dtype });
    }
}

/// Whether the parameter's load mapper transposes a 2-D tensor (burn's
/// `Linear` with `LinearLayout::Col`): a 1x2 probe goes through
/// `transform_for_load` on a clone, which never initializes the parameter.
fn load_transposes<const D: usize>(param: &Param<Tensor<D>>) -> bool {
    let device = param.lazy_device();
    let probe = Tensor::<D>::from_data(TensorData::new(vec![0f32, 0.0], [1, 2]), (&device, DType::F32));
    let loaded = param.clone().transform_for_load(probe, param.id);
    loaded.val().shape().as_slice() == [2, 1]
}
