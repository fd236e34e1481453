//! VarinitBackend behind candle's VarBuilder: reproducibility, keying by
//! path, hints, rules, statistics, trainable mode, errors.

use std::collections::BTreeMap;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Conv2dConfig, VarBuilder, VarMap};
use varinit::stats::Summary;
use varinit::{Init, Layout, Par, Shape, TensorInit};
use varinit_candle::{Error, Origin, VarinitBackend};

/// A small model touching the common layer kinds: linear, conv2d,
/// embedding, layer norm, and a bare `vb.get`.
struct Model {
    emb: candle_nn::Embedding,
    conv: candle_nn::Conv2d,
    ln: candle_nn::LayerNorm,
    fc1: candle_nn::Linear,
    fc2: candle_nn::Linear,
    extra: Option<candle_nn::Linear>,
    scale: Tensor,
}

fn model(vb: VarBuilder, extra_layer: bool) -> candle_core::Result<Model> {
    Ok(Model {
        emb: candle_nn::embedding(100, 32, vb.pp("emb"))?,
        conv: candle_nn::conv2d(3, 16, 3, Conv2dConfig::default(), vb.pp("conv"))?,
        // an extra layer in the middle of the construction order
        extra: if extra_layer { Some(candle_nn::linear(32, 32, vb.pp("extra"))?) } else { None },
        ln: candle_nn::layer_norm(32, 1e-5, vb.pp("ln"))?,
        fc1: candle_nn::linear(64, 256, vb.pp("fc1"))?,
        fc2: candle_nn::linear(256, 10, vb.pp("fc2"))?,
        scale: vb.get(4, "scale")?,
    })
}

fn tensors(m: &Model) -> BTreeMap<&'static str, Vec<f32>> {
    let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let mut out = BTreeMap::from([
        ("emb.weight", v(m.emb.embeddings())),
        ("conv.weight", v(m.conv.weight())),
        ("conv.bias", v(m.conv.bias().unwrap())),
        ("ln.weight", v(m.ln.weight())),
        ("ln.bias", v(m.ln.bias().unwrap())),
        ("fc1.weight", v(m.fc1.weight())),
        ("fc1.bias", v(m.fc1.bias().unwrap())),
        ("fc2.weight", v(m.fc2.weight())),
        ("fc2.bias", v(m.fc2.bias().unwrap())),
        ("scale", v(&m.scale)),
    ]);
    if let Some(e) = &m.extra {
        out.insert("extra.weight", v(e.weight()));
    }
    out
}

fn build(backend: VarinitBackend, extra: bool) -> BTreeMap<&'static str, Vec<f32>> {
    tensors(&model(backend.into_var_builder(DType::F32, &Device::Cpu), extra).unwrap())
}

#[test]
fn same_seed_same_weights_different_seed_different_weights() {
    let a = build(VarinitBackend::new(1), false);
    let b = build(VarinitBackend::new(1), false);
    assert_eq!(a, b, "the same model built twice with the same seed");
    let c = build(VarinitBackend::new(2), false);
    for name in ["emb.weight", "conv.weight", "conv.bias", "fc1.weight", "fc1.bias", "fc2.weight"] {
        assert_ne!(a[name], c[name], "{name} should differ between seeds");
        // not merely permuted or shifted: almost every element differs
        let same = a[name].iter().zip(&c[name]).filter(|(x, y)| x == y).count();
        assert!(same * 100 < a[name].len(), "{name}: {same} equal elements");
    }
    // constants are constants whatever the seed
    assert_eq!(a["ln.weight"], c["ln.weight"]);
}

#[test]
fn adding_a_layer_changes_no_other_layer() {
    let a = build(VarinitBackend::new(5), false);
    let b = build(VarinitBackend::new(5), true);
    for (name, v) in &a {
        assert_eq!(&b[name], v, "{name}");
    }
    assert!(b.contains_key("extra.weight"));
}

#[test]
fn values_are_varinit_streams_keyed_by_the_full_path() {
    let vb = VarinitBackend::new(9).into_var_builder(DType::F32, &Device::Cpu);
    let fc = candle_nn::linear(64, 256, vb.pp("encoder").pp("block.3").pp("fc1")).unwrap();
    let init: Init = "kaiming_normal(nonlinearity=relu)".parse().unwrap();
    let t = TensorInit::new(
        9,
        "encoder.block.3.fc1.weight",
        &init,
        Shape::new(vec![256, 64]).unwrap(),
        Layout::Torch.into(),
    )
    .unwrap();
    let want: Vec<f32> = t.to_vec(Par::Seq).unwrap();
    assert_eq!(fc.weight().flatten_all().unwrap().to_vec1::<f32>().unwrap(), want);
}

/// |sample mean - mean| and |sample std / std - 1| within 6 standard errors.
fn assert_moments(name: &str, values: &[f32], mean: f64, std: f64) {
    let s = Summary::sequential(values);
    let n = values.len() as f64;
    assert!((s.mean - mean).abs() <= 6.0 * std / n.sqrt() + 1e-7, "{name}: mean {} vs {mean} (n = {n})", s.mean);
    // the sample std's standard error is at most about std / sqrt(n) for these distributions
    assert!((s.std - std).abs() <= 6.0 * std / n.sqrt() + 1e-7, "{name}: std {} vs {std} (n = {n})", s.std);
}

#[test]
fn per_variable_statistics_match_the_scheme() {
    // candle's hints: Kaiming normal weights, U(+-1/sqrt(in)) biases, N(0, 1) embeddings, ones, zeros
    let backend = VarinitBackend::new(3);
    let journal = backend.journal();
    let m = build(backend, false);
    let entries = journal.entries();
    assert_eq!(entries.len(), 10);
    for p in &entries {
        let (mean, std) = p.expected_moments();
        assert_moments(&p.path, &m[p.path.as_str()], mean, std);
    }
    // and the expectations are candle's own numbers
    let std = |path: &str| journal.get(path).unwrap().expected_moments().1;
    assert!((std("fc1.weight") - (2.0f64 / 64.0).sqrt()).abs() < 1e-15);
    assert!((std("conv.weight") - (2.0f64 / 27.0).sqrt()).abs() < 1e-15);
    assert!((std("fc2.bias") - 1.0 / 256f64.sqrt() / 3f64.sqrt()).abs() < 1e-15);
    assert_eq!(journal.get("emb.weight").unwrap().expected_moments(), (0.0, 1.0));
    assert_eq!(journal.get("scale").unwrap().init.to_string(), "zeros");

    // rule schemes, including ones candle has no hint for
    let backend = VarinitBackend::new(4)
        .rule("fc1.weight", "xavier_normal")
        .unwrap()
        .rule("fc2.weight", "orthogonal(gain=2)")
        .unwrap()
        .rule("emb.weight", "trunc_normal(std=0.02, a=-0.04, b=0.04)")
        .unwrap()
        .rule("conv.weight", "glorot_uniform")
        .unwrap();
    let journal = backend.journal();
    let m = build(backend, false);
    for p in journal.entries() {
        let (mean, std) = p.expected_moments();
        assert_moments(&p.path, &m[p.path.as_str()], mean, std);
    }
    assert!((journal.get("fc1.weight").unwrap().expected_moments().1 - (2.0f64 / 320.0).sqrt()).abs() < 1e-15);
    // orthogonal: W W^T = gain^2 I exactly (10 x 256, orthonormal rows)
    let w = Tensor::from_vec(m["fc2.weight"].clone(), (10, 256), &Device::Cpu).unwrap();
    let wwt = w.matmul(&w.t().unwrap()).unwrap().to_vec2::<f32>().unwrap();
    for (i, row) in wwt.iter().enumerate() {
        for (j, x) in row.iter().enumerate() {
            let want = if i == j { 4.0 } else { 0.0 };
            assert!((x - want).abs() < 1e-4, "({i}, {j}) = {x}");
        }
    }
}

#[test]
fn rules_first_match_wins_and_hint_sends_back_to_candle() {
    let backend = VarinitBackend::new(0)
        .rule("fc2.*", "hint")
        .unwrap()
        .rule("*.bias", "zeros")
        .unwrap()
        .rule("{emb,ln}.*", "hint")
        .unwrap()
        .rule("*.weight", "xavier_uniform")
        .unwrap()
        .rule("fc1.weight", "ones") // shadowed by the rule before
        .unwrap();
    let journal = backend.journal();
    let m = build(backend, false);
    assert!(m["fc1.bias"].iter().all(|&x| x == 0.0));
    assert!(m["conv.bias"].iter().all(|&x| x == 0.0));
    let p = journal.get("fc1.weight").unwrap();
    assert_eq!(p.init.to_string(), "xavier_uniform(gain=1)");
    assert!(matches!(p.origin, Origin::Rule { index: 3, .. }));
    let p = journal.get("fc2.bias").unwrap();
    assert!(matches!(p.origin, Origin::Hint(_)), "{p}");
    assert_eq!(p.init.to_string(), format!("uniform(a={}, b={})", -1.0 / 16.0, 1.0 / 16.0));
    assert!(m["fc2.bias"].iter().any(|&x| x != 0.0));
    let p = journal.get("fc2.weight").unwrap();
    assert_eq!(p.init.to_string(), "kaiming_normal(a=0, mode=fan_in, nonlinearity=relu)");
    // the plan for a path is available without building anything
    let b = VarinitBackend::new(0).rule("head.*", "lecun_normal").unwrap();
    let plan = b.plan("head.weight", &[10, 100], candle_nn::init::DEFAULT_KAIMING_NORMAL).unwrap();
    assert_eq!(
        plan.to_string(),
        "head.weight [10, 100] lecun_normal ~ N(0, 0.113685^2) truncated to [-0.227369, 0.227369] (+-2 std) (rule 0 \"head.*\")"
    );
}

#[test]
fn bad_rules_and_unfit_schemes_are_clear_errors() {
    let e = VarinitBackend::new(0).rule("layers.[0-9.weight", "zeros").unwrap_err();
    assert!(matches!(e, Error::Glob { index: 0, .. }), "{e}");
    assert!(e.to_string().contains("layers.[0-9.weight"), "{e}");

    let e = VarinitBackend::new(0).rule("*.bias", "zeros").unwrap().rule("*.weight", "kaiming_nromal").unwrap_err();
    assert!(matches!(e, Error::RuleScheme { index: 1, .. }), "{e}");
    let msg = e.to_string();
    assert!(msg.contains("kaiming_nromal") && msg.contains("did you mean \"kaiming_normal\""), "{msg}");

    let e = VarinitBackend::new(0).rule("*", "normal(std=-1)").unwrap_err().to_string();
    assert!(e.contains("std") && e.contains("must be > 0"), "{e}");

    // a valid scheme that does not fit a variable's shape: reported when the model asks for it
    let vb = VarinitBackend::new(0).rule("*", "xavier_normal").unwrap().into_var_builder(DType::F32, &Device::Cpu);
    let e = candle_nn::linear(4, 3, vb.pp("fc")).expect_err("xavier on a bias must fail").to_string();
    assert!(
        e.contains("\"fc.bias\"") && e.contains("[3]") && e.contains("xavier_normal") && e.contains("rule 0"),
        "{e}"
    );

    // the typed error is available through plan()
    let b = VarinitBackend::new(0).rule("*", "eye").unwrap();
    let e = b.plan("conv.weight", &[4, 4, 3, 3], candle_nn::Init::Const(0.0)).unwrap_err();
    assert!(matches!(e, Error::Variable { .. }), "{e}");

    // get_unchecked needs a shape
    let vb = VarinitBackend::new(0).into_var_builder(DType::F32, &Device::Cpu);
    let e = vb.get_unchecked("w").unwrap_err().to_string();
    assert!(e.contains("needs a shape"), "{e}");
}

#[test]
fn trainable_mode_registers_trains_and_saves() {
    let varmap = VarMap::new();
    let vb = VarinitBackend::new(11)
        .rule("*.bias", "zeros")
        .unwrap()
        .trainable(&varmap)
        .into_var_builder(DType::F32, &Device::Cpu);
    let fc = candle_nn::linear(8, 4, vb.pp("fc")).unwrap();
    assert_eq!(varmap.all_vars().len(), 2);
    // asking again returns the same variable; another shape is an error
    let again = vb.pp("fc").get((4, 8), "weight").unwrap();
    assert_eq!(again.id(), fc.weight().id());
    let e = vb.pp("fc").get((8, 4), "weight").unwrap_err().to_string();
    assert!(e.contains("already exists with shape [4, 8]"), "{e}");
    assert!(vb.contains_tensor("fc.weight") && !vb.contains_tensor("fc.other"));

    // an optimizer trains the registered variables
    let before = fc.weight().to_vec2::<f32>().unwrap();
    let x = Tensor::ones((2, 8), DType::F32, &Device::Cpu).unwrap();
    let loss = fc.forward(&x).unwrap().sqr().unwrap().sum_all().unwrap();
    let mut sgd = <candle_nn::SGD as candle_nn::Optimizer>::new(varmap.all_vars(), 0.1).unwrap();
    candle_nn::Optimizer::backward_step(&mut sgd, &loss).unwrap();
    let after = fc.weight().to_vec2::<f32>().unwrap();
    assert_ne!(before, after);

    // VarMap::save writes them, and they load back
    let dir = std::env::temp_dir().join(format!("varinit-candle-trainable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fc.safetensors");
    varmap.save(&path).unwrap();
    let loaded = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    assert_eq!(loaded["fc.weight"].to_vec2::<f32>().unwrap(), after);
    std::fs::remove_dir_all(&dir).unwrap();

    // two trainable builds with the same seed start from the same point
    let other = VarMap::new();
    let vb = VarinitBackend::new(11)
        .rule("*.bias", "zeros")
        .unwrap()
        .trainable(&other)
        .into_var_builder(DType::F32, &Device::Cpu);
    let fc2 = candle_nn::linear(8, 4, vb.pp("fc")).unwrap();
    assert_eq!(fc2.weight().to_vec2::<f32>().unwrap(), before);
}

#[test]
fn dtypes_and_parallelism() {
    let draw = |dtype: DType, par: Par| {
        VarinitBackend::new(21)
            .par(par)
            .draw("w", &[300, 200], candle_nn::init::DEFAULT_KAIMING_NORMAL, dtype, &Device::Cpu)
            .unwrap()
    };
    let f32s = draw(DType::F32, Par::Rayon).flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert_eq!(draw(DType::F32, Par::Seq).flatten_all().unwrap().to_vec1::<f32>().unwrap(), f32s);
    // bf16 and f16 are the rounding of the f32 values (varinit's contract)
    let bf = draw(DType::BF16, Par::Rayon).flatten_all().unwrap().to_vec1::<half::bf16>().unwrap();
    assert!(bf.iter().zip(&f32s).all(|(b, f)| *b == half::bf16::from_f32(*f)));
    let h = draw(DType::F16, Par::Rayon).flatten_all().unwrap().to_vec1::<half::f16>().unwrap();
    assert!(h.iter().zip(&f32s).all(|(b, f)| *b == half::f16::from_f32(*f)));
    let f64s = draw(DType::F64, Par::Rayon).flatten_all().unwrap().to_vec1::<f64>().unwrap();
    assert_moments("f64", &f64s.iter().map(|&x| x as f32).collect::<Vec<_>>(), 0.0, (2.0f64 / 200.0).sqrt());
    // other dtypes: drawn in f32 and converted by candle
    let u = VarinitBackend::new(0).draw("c", &[3], candle_nn::Init::Const(7.0), DType::U32, &Device::Cpu).unwrap();
    assert_eq!(u.to_vec1::<u32>().unwrap(), vec![7, 7, 7]);
}
