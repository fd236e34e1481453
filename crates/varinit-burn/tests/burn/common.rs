//! Models and helpers shared by the tests.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// The CPU device of the tests.
pub fn device() -> Device {
    Device::flex()
}

/// A plain MLP: `layers.0 .. layers.{n-1}`, widths `dims[i] -> dims[i+1]`.
#[derive(Module, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
}

impl Mlp {
    pub fn new(dims: &[usize], device: &Device) -> Mlp {
        Mlp { layers: dims.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect() }
    }
}

/// A parameter's values as f32, row-major in burn's shape.
pub fn values<const D: usize>(p: &Param<Tensor<D>>) -> Vec<f32> {
    p.val().into_data().convert::<f32>().try_to_vec::<f32>().expect("f32 data")
}

/// Bit patterns, for exact comparisons (NaN-proof, -0.0 != 0.0).
pub fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Every float parameter's path and bits, in visiting order.
pub fn all_bits<M: Module>(m: &M) -> Vec<(String, Vec<u32>)> {
    use burn::module::ModuleVisitor;
    #[derive(Default)]
    struct V {
        path: Vec<String>,
        out: Vec<(String, Vec<u32>)>,
    }
    impl ModuleVisitor for V {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.to_string());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), bits(&values(p))));
        }
    }
    let mut v = V::default();
    m.visit(&mut v);
    v.out
}

/// `v` (row-major `rows x cols`) transposed.
pub fn transpose(v: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|c| (0..rows).map(move |r| v[r * cols + c])).collect()
}
