//! The burn and candle twins of the digits MLP (the examples' architecture:
//! 64 -> 128 x 29 -> 10, 30 weight layers), same seed, same rules: the
//! same starting weights, byte for byte.
//!
//! The name mapping: burn's `layers: Vec<Linear>` field gives the paths
//! `layers.{i}.weight` / `layers.{i}.bias`; candle's model asks for the same
//! paths through `vb.pp(format!("layers.{i}"))`. burn stores a `Linear`
//! weight `(in, out)`, candle `(out, in)`: the burn weight's bytes are the
//! candle weight's bytes transposed.

use candle_core::{DType, Device};
use varinit_burn::Reinit;
use varinit_candle::VarinitBackend;

use crate::common::{Mlp, bits, device, transpose, values};

const DEPTH: usize = 30;
const WIDTH: usize = 128;

fn dims() -> Vec<usize> {
    let mut d = vec![64];
    d.extend(std::iter::repeat_n(WIDTH, DEPTH - 1));
    d.push(10);
    d
}

#[test]
fn burn_and_candle_twins_start_from_the_same_bytes() {
    for scheme in
        ["kaiming_normal(nonlinearity=relu)", "xavier_normal", "trunc_normal(std=0.05, a=-0.1, b=0.1)", "orthogonal"]
    {
        let rules = [("*.weight", scheme), ("*.bias", "uniform(a=-0.01, b=0.01)")];
        let burn_model = Reinit::new(2015).rules(rules).unwrap().apply(Mlp::new(&dims(), &device())).unwrap();
        let vb = VarinitBackend::new(2015).rules(rules).unwrap().into_var_builder(DType::F32, &Device::Cpu);
        let dims = dims();
        for (i, w) in dims.windows(2).enumerate() {
            let (d_in, d_out) = (w[0], w[1]);
            let candle_layer = candle_nn::linear(d_in, d_out, vb.pp(format!("layers.{i}"))).unwrap();
            let cw: Vec<f32> = candle_layer.weight().flatten_all().unwrap().to_vec1().unwrap();
            let cb: Vec<f32> = candle_layer.bias().unwrap().to_vec1().unwrap();
            let burn_layer = &burn_model.layers[i];
            assert_eq!(
                bits(&values(&burn_layer.weight)),
                bits(&transpose(&cw, d_out, d_in)),
                "{scheme}: layers.{i}.weight"
            );
            assert_eq!(bits(&values(burn_layer.bias.as_ref().unwrap())), bits(&cb), "{scheme}: layers.{i}.bias");
        }
    }
}
