//! `Reinit`: determinism, keys, fans, statistics, layouts, errors.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, LinearLayout};
use burn::tensor::Tensor;
use varinit::dtype::F16;
use varinit::stats::{ks_p_value, ks_statistic};
use varinit::{Init, Layout, Par, Shape, TensorInit};
use varinit_burn::{Error, Origin, Reinit};

use crate::common::{Mlp, all_bits, bits, device, transpose, values};

fn relu_rules() -> Reinit {
    Reinit::new(2024).rules([("*.weight", "kaiming_normal(nonlinearity=relu)"), ("*.bias", "zeros")]).unwrap()
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let d = device();
    let a = relu_rules().apply(Mlp::new(&[16, 32, 8], &d)).unwrap();
    let b = relu_rules().apply(Mlp::new(&[16, 32, 8], &d)).unwrap();
    assert_eq!(all_bits(&a), all_bits(&b));
    let c = Reinit::new(2025)
        .rules([("*.weight", "kaiming_normal(nonlinearity=relu)"), ("*.bias", "zeros")])
        .unwrap()
        .apply(Mlp::new(&[16, 32, 8], &d))
        .unwrap();
    for ((pa, va), (pc, vc)) in all_bits(&a).iter().zip(all_bits(&c)) {
        assert_eq!(*pa, pc);
        if pa.ends_with("weight") {
            let same = va.iter().zip(&vc).filter(|(x, y)| x == y).count();
            assert!(same < va.len() / 100, "{pa}: {same} of {} equal under another seed", va.len());
        } else {
            assert_eq!(*va, vc, "zeros are zeros");
        }
    }
}

#[test]
fn values_are_the_transposed_pytorch_tensor_of_the_same_path() {
    let d = device();
    let m = relu_rules().apply(Mlp::new(&[16, 32, 8], &d)).unwrap();
    let init: Init = "kaiming_normal(nonlinearity=relu)".parse().unwrap();
    for (i, (d_in, d_out)) in [(16usize, 32usize), (32, 8)].into_iter().enumerate() {
        let path = format!("layers.{i}.weight");
        let torch = TensorInit::new(
            2024,
            &path,
            &init,
            Shape::new(vec![d_out as u64, d_in as u64]).unwrap(),
            Layout::Torch.into(),
        )
        .unwrap()
        .to_vec::<f32>(Par::Seq)
        .unwrap();
        let w = &m.layers[i].weight;
        assert_eq!(w.dims(), [d_in, d_out], "burn keeps its (in, out) shape");
        assert_eq!(bits(&values(w)), bits(&transpose(&torch, d_out, d_in)), "{path}");
    }
}

/// Paths key the values: adding a layer, or visiting the modules in another
/// order, changes nothing else.
#[derive(Module, Debug)]
struct Ab {
    a: Linear,
    b: Linear,
    norm: LayerNorm,
}

#[derive(Module, Debug)]
struct Ba {
    norm: LayerNorm,
    b: Linear,
    a: Linear,
}

#[test]
fn visiting_and_building_order_do_not_matter() {
    let d = device();
    // built a, b, norm and visited a, b, norm
    let ab = Ab {
        a: LinearConfig::new(12, 24).init(&d),
        b: LinearConfig::new(24, 6).init(&d),
        norm: LayerNormConfig::new(6).init(&d),
    };
    // built norm, b, a and visited norm, b, a
    let norm = LayerNormConfig::new(6).init(&d);
    let b = LinearConfig::new(24, 6).init(&d);
    let a = LinearConfig::new(12, 24).init(&d);
    let ba = Ba { norm, b, a };
    let r = Reinit::new(9)
        .rules([
            ("*.weight", "xavier_uniform"),
            ("*.bias", "uniform(a=-0.1, b=0.1)"),
            ("norm.gamma", "normal(1, 0.1)"),
            ("norm.beta", "zeros"),
        ])
        .unwrap();
    let ab = r.apply(ab).unwrap();
    let ba = r.apply(ba).unwrap();
    let mut x = all_bits(&ab);
    let mut y = all_bits(&ba);
    assert_ne!(x.iter().map(|p| &p.0).collect::<Vec<_>>(), y.iter().map(|p| &p.0).collect::<Vec<_>>(), "orders differ");
    x.sort();
    y.sort();
    assert_eq!(x, y);
    // and a model with one more layer has the same values for the others
    let wider = r.clone().allow_unused_rules().apply(Mlp::new(&[12, 24, 6], &d));
    assert!(wider.is_ok());
}

#[derive(Module, Debug)]
struct Zoo {
    fc: Linear,
    conv: Conv2d,
    embed: Embedding,
}

fn zoo() -> Zoo {
    let d = device();
    Zoo {
        fc: LinearConfig::new(384, 96).init(&d),
        conv: Conv2dConfig::new([8, 24], [3, 3]).init(&d),
        embed: EmbeddingConfig::new(500, 64).init(&d),
    }
}

fn sample_std(v: &[f32]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
    let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// Each scheme's spread, computed by hand from PyTorch's fans of the same
/// layer (Linear(384 -> 96): fan_in 384, fan_out 96; Conv2d(8 -> 24, 3x3):
/// fan_in 72, fan_out 216): a swapped fan changes the std by 2x or more.
#[test]
fn statistics_per_scheme_with_pytorch_fans() {
    let fan_in = 384.0f64;
    let fan_out = 96.0f64;
    let u = |bound: f64| bound / 3f64.sqrt(); // std of U(-b, b)
    let cases: [(&str, f64, bool); 8] = [
        ("kaiming_normal(nonlinearity=relu)", (2.0 / fan_in).sqrt(), true),
        ("kaiming_normal(mode=fan_out, nonlinearity=relu)", (2.0 / fan_out).sqrt(), true),
        ("kaiming_uniform(nonlinearity=relu)", u((6.0 / fan_in).sqrt()), true),
        ("xavier_uniform", u((6.0 / (fan_in + fan_out)).sqrt()), true),
        ("xavier_normal(gain=2)", 2.0 * (2.0 / (fan_in + fan_out)).sqrt(), true),
        ("lecun_normal", (1.0 / fan_in).sqrt(), true),
        ("torch_default", u(1.0 / fan_in.sqrt()), true),
        ("trunc_normal(std=0.02, a=-0.04, b=0.04)", 0.02 * 0.879_625_661_034_239_8, true),
    ];
    for (scheme, want_std, _) in cases {
        let r = Reinit::new(3)
            .rule("fc.weight", scheme)
            .unwrap()
            .rule("conv.weight", "kaiming_normal(nonlinearity=relu)")
            .unwrap()
            .rule("*", "keep")
            .unwrap();
        let journal = r.journal();
        let m = r.apply(zoo()).unwrap();
        let w = values(&m.fc.weight);
        let (mean, std) = sample_std(&w);
        let n = w.len() as f64;
        assert!((std / want_std - 1.0).abs() < 0.02, "{scheme}: std {std} vs {want_std}");
        assert!(mean.abs() < 6.0 * want_std / n.sqrt(), "{scheme}: mean {mean}");
        let plan = journal.get("fc.weight").unwrap();
        assert!(plan.in_out && plan.drawn_shape.dims() == [96, 384], "{plan}");
        let (_, exact_std) = plan.expected_moments().unwrap();
        assert!((exact_std / want_std - 1.0).abs() < 1e-12, "{scheme}: resolved std {exact_std} vs {want_std}");
        let resolved = plan.resolved.clone().unwrap();
        let mut sample: Vec<f64> = w.iter().map(|&x| x as f64).collect();
        let d = ks_statistic(&mut sample, |x| resolved.cdf(x).unwrap());
        assert!(ks_p_value(d, w.len()) > 1e-6, "{scheme}: KS D = {d}");
        // the conv weight (out, in, kh, kw) is PyTorch's layout already
        let c = values(&m.conv.weight);
        let (_, cstd) = sample_std(&c);
        assert!((cstd / (2.0f64 / 72.0).sqrt() - 1.0).abs() < 0.05, "conv std {cstd}");
    }
}

#[test]
fn orthogonal_is_orthogonal_in_pytorch_order() {
    let m = Reinit::new(1).rule("fc.weight", "orthogonal").unwrap().rule("*", "keep").unwrap().apply(zoo()).unwrap();
    // burn's (384, 96) is PyTorch's (96, 384) transposed: its 96 columns are orthonormal
    let w = values(&m.fc.weight);
    let (rows, cols) = (384, 96);
    let mut worst: f64 = 0.0;
    for i in 0..cols {
        for j in 0..cols {
            let dot: f64 = (0..rows).map(|r| w[r * cols + i] as f64 * w[r * cols + j] as f64).sum();
            worst = worst.max((dot - if i == j { 1.0 } else { 0.0 }).abs());
        }
    }
    assert!(worst < 1e-4, "|W^T W - I| = {worst}");
}

#[test]
fn both_linear_layouts_get_the_same_layer() {
    let d = device();
    let row = LinearConfig::new(10, 7).init(&d);
    let col = LinearConfig::new(10, 7).with_layout(LinearLayout::Col).init(&d);
    let r = Reinit::new(5).rules([("weight", "xavier_normal"), ("bias", "normal(0, 1)")]).unwrap();
    let row = r.apply(row).unwrap();
    let col = r.apply(col).unwrap();
    assert_eq!(col.weight.dims(), [10, 7]);
    assert_eq!(bits(&values(&row.weight)), bits(&values(&col.weight)));
    // the same layer (the matrix product may sum in another order for the column-major weight)
    let x = Tensor::<2>::ones([3, 10], &d);
    let a = row.forward(x.clone()).into_data().try_to_vec::<f32>().unwrap();
    let b = col.forward(x).into_data().try_to_vec::<f32>().unwrap();
    assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() <= 1e-5 * x.abs().max(1.0)), "{a:?} vs {b:?}");
    // an initialized Col parameter is handled like a lazy one
    let col2 = LinearConfig::new(10, 7).with_layout(LinearLayout::Col).init(&d);
    let _ = col2.weight.val();
    assert!(col2.weight.is_initialized());
    assert_eq!(bits(&values(&r.apply(col2).unwrap().weight)), bits(&values(&row.weight)));
}

#[test]
fn lazy_parameters_are_never_initialized_by_burn() {
    let d = device();
    let m = Mlp::new(&[4, 5], &d);
    assert!(!m.layers[0].weight.is_initialized());
    let r = relu_rules();
    let plans = r.plan(&m).unwrap();
    assert_eq!(plans.len(), 2);
    assert!(!m.layers[0].weight.is_initialized(), "planning does not initialize");
    let m = r.apply(m).unwrap();
    assert!(m.layers[0].weight.is_initialized());
    // an already initialized module gets the same values
    let m2 = Mlp::new(&[4, 5], &d);
    let _ = m2.layers[0].weight.val();
    assert_eq!(all_bits(&r.apply(m2).unwrap()), all_bits(&m));
}

#[test]
fn autodiff_models_keep_their_gradients() {
    let d = device().autodiff();
    let m = relu_rules().apply(Mlp::new(&[4, 3], &d)).unwrap();
    let x = Tensor::<2>::ones([2, 4], &d);
    let loss = m.layers[0].forward(x).sum();
    let grads = loss.backward();
    let g = m.layers[0].weight.grad(&grads).expect("the weight still requires grad");
    assert_eq!(g.dims(), [4, 3]);
}

#[test]
fn keep_rules_and_keep_unmatched_keep_values() {
    let d = device();
    let m = Mlp::new(&[6, 4], &d);
    let before = all_bits(&m);
    let r = Reinit::new(1).rule("*.bias", "keep").unwrap().rule("*.weight", "ones").unwrap();
    let journal = r.journal();
    let m2 = r.apply(m.clone()).unwrap();
    let after = all_bits(&m2);
    assert_eq!(after[1], before[1], "bias kept");
    assert!(after[0].1.iter().all(|&b| b == 1f32.to_bits()));
    let bias = journal.get("layers.0.bias").unwrap();
    assert!(!bias.is_drawn() && bias.origin == Origin::Rule { index: 0, glob: "*.bias".into() });
    assert!(bias.to_string().contains("kept"), "{bias}");
    let m3 = Reinit::new(1).rule("*.weight", "zeros").unwrap().keep_unmatched().apply(m).unwrap();
    assert_eq!(all_bits(&m3)[1], before[1]);
}

#[test]
fn journal_records_scheme_and_distribution() {
    let r = relu_rules();
    let journal = r.journal();
    r.apply(Mlp::new(&[64, 128, 10], &device())).unwrap();
    let e = journal.entries();
    assert_eq!(
        e.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
        ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"]
    );
    let w = &e[0];
    assert_eq!((w.module.as_str(), w.shape.as_slice()), ("Linear", &[64, 128][..]));
    assert_eq!(
        w.to_string(),
        "layers.0.weight [64, 128] kaiming_normal(a=0, mode=fan_in, nonlinearity=relu) ~ N(0, 0.176777^2) (rule 0 \"*.weight\"), drawn as [128, 64] (out, in) and transposed",
        "{w}"
    );
}

#[test]
fn declared_in_out_and_transposed_paths() {
    #[derive(Module, Debug)]
    struct Raw {
        kernel: Param<Tensor<2>>,
        bias: Param<Tensor<1>>,
    }
    let d = device();
    let raw = || Raw {
        kernel: Param::from_tensor(Tensor::zeros([30, 10], &d)),
        bias: Param::from_tensor(Tensor::zeros([10], &d)),
    };
    let r = Reinit::new(2).rules([("kernel", "kaiming_normal(nonlinearity=relu)"), ("bias", "zeros")]).unwrap();
    let plain = r.plan(&raw()).unwrap();
    assert_eq!(plain[0].drawn_shape.dims(), [30, 10], "PyTorch order by default: fan_in 10");
    let declared = r.clone().in_out("kernel").unwrap().plan(&raw()).unwrap();
    assert_eq!(declared[0].drawn_shape.dims(), [10, 30], "declared (in, out): fan_in 30");
    assert!((declared[0].expected_moments().unwrap().1 - (2.0f64 / 30.0).sqrt()).abs() < 1e-12);
    let e = r.clone().in_out("bias").unwrap().plan(&raw()).unwrap_err().to_string();
    assert!(e.contains("\"bias\" [10] matches in_out glob \"bias\""), "{e}");
    let t = r.transposed("kernel").unwrap().plan(&raw()).unwrap();
    assert!(t[0].options.transposed);
    assert!(
        (t[0].expected_moments().unwrap().1 - (2.0f64 / 30.0).sqrt()).abs() < 1e-12,
        "transposed reads fan_in from dim 0"
    );
}

#[test]
fn every_error_names_what_is_wrong() {
    let d = device();
    let e = Reinit::new(0).rule("a[", "zeros").unwrap_err();
    assert!(matches!(e, Error::Glob { .. }) && e.to_string().starts_with("rule 0 (\"a[\"): invalid glob"), "{e}");
    let e = Reinit::new(0).rule("*", "zeros").unwrap().rule("*.weight", "kaiming_nromal").unwrap_err().to_string();
    assert!(e.starts_with("rule 1 (\"*.weight\" -> \"kaiming_nromal\"): unknown scheme"), "{e}");
    assert!(e.contains("kaiming_normal"), "did you mean: {e}");
    let e = Reinit::new(0).in_out("[").unwrap_err().to_string();
    assert!(e.starts_with("in_out glob 0"), "{e}");
    let e = Reinit::new(0).transposed("{").unwrap_err().to_string();
    assert!(e.starts_with("transposed glob 0"), "{e}");

    // a scheme that does not fit: Xavier on a bias
    let e = Reinit::new(0).rule("*", "xavier_normal").unwrap().apply(Mlp::new(&[3, 2], &d)).unwrap_err();
    let s = e.to_string();
    assert!(s.contains("parameter \"layers.0.bias\" [2] (rule 0 \"*\": xavier_normal(gain=1))"), "{s}");
    assert!(e.is_usage());

    // unmatched parameters, all listed
    let e = Reinit::new(0).rule("layers.0.weight", "zeros").unwrap().apply(Mlp::new(&[3, 2, 2], &d)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "3 parameters match no rule: \"layers.0.bias\", \"layers.1.weight\", \"layers.1.bias\"; add a rule for them, a \"keep\" rule, or call keep_unmatched()"
    );

    // a rule that matches nothing
    let e = relu_rules().rule("*.gama", "ones").unwrap().apply(Mlp::new(&[3, 2], &d)).unwrap_err().to_string();
    assert_eq!(
        e,
        "rule 2 \"*.gama\" -> \"ones\" matches no parameter of the model (a typo in the glob?); call allow_unused_rules() if that is intended"
    );

    // several problems at once, nothing drawn
    let e = Reinit::new(0)
        .rule("*.weight", "orthogonal")
        .unwrap()
        .rule("nothing", "zeros")
        .unwrap()
        .apply(Mlp::new(&[3, 2], &d))
        .unwrap_err();
    let Error::Several { problems, .. } = &e else { panic!("{e}") };
    assert_eq!(problems.len(), 2, "{e}");
    assert!(
        e.to_string().starts_with(
            "re-initializing: 2 problems, nothing changed:\n  1 parameter matches no rule: \"layers.0.bias\""
        ),
        "{e}"
    );

    // a value the dtype cannot hold is refused before anything is drawn
    let half = device();
    let m = Mlp::new(&[3, 2], &half).map(&mut ToF16);
    let e = Reinit::new(0)
        .rules([("*.weight", "uniform(a=-1e6, b=1e6)"), ("*.bias", "zeros")])
        .unwrap()
        .apply(m)
        .unwrap_err()
        .to_string();
    assert!(e.contains("layers.0.weight"), "{e}");
}

/// Casts every float parameter to f16 (a half-precision model).
struct ToF16;

impl burn::module::ModuleMapper for ToF16 {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        p.map(|t| t.cast(burn::tensor::DType::F16))
    }
}

#[test]
fn half_precision_models_are_drawn_in_their_dtype() {
    let d = device();
    let m = Mlp::new(&[8, 4], &d).map(&mut ToF16);
    assert_eq!(m.layers[0].weight.dtype(), burn::tensor::DType::F16);
    let m = Reinit::new(4).rules([("*.weight", "xavier_normal"), ("*.bias", "zeros")]).unwrap().apply(m).unwrap();
    assert_eq!(m.layers[0].weight.dtype(), burn::tensor::DType::F16);
    let got = m.layers[0].weight.val().into_data().try_to_vec::<F16>().unwrap();
    let f16 = TensorInit::new(
        4,
        "layers.0.weight",
        &"xavier_normal".parse().unwrap(),
        Shape::new(vec![4, 8]).unwrap(),
        Layout::Torch.into(),
    )
    .unwrap()
    .to_vec::<F16>(Par::Seq)
    .unwrap();
    let want: Vec<u16> =
        (0..8).flat_map(|c| (0..4).map(move |r| (r, c))).map(|(r, c)| f16[r * 8 + c].to_bits()).collect();
    assert_eq!(got.iter().map(|x| x.to_bits()).collect::<Vec<_>>(), want);
}
