//! Init styles in VarinitBackend: a Llama-named candle model gets the
//! style's per-layer std (OLMo's mitchell formulas, Megatron's 1/sqrt(2L)),
//! explicit rules take precedence, user styles with `{l}` captures on
//! candle paths, same seed same weights, errors.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use varinit::Init;
use varinit::style::{Style, Vars};
use varinit_candle::{Error, Origin, VarinitBackend};

const D: usize = 128;
const D_FF: usize = 256;
const L: usize = 3;
const VOCAB: usize = 256;

/// std of a standard normal truncated at +-3: 1 - 6 phi(3) / (2 Phi(3) - 1),
/// with 2 Phi(3) - 1 = erf(3 / sqrt 2) = 0.9973002039367398.
fn trunc3() -> f64 {
    let phi3 = (-4.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    (1.0 - 6.0 * phi3 / 0.997_300_203_936_739_8).sqrt()
}

/// A Llama-shaped model with transformers' names, built through candle-nn.
fn llama(vb: VarBuilder) -> candle_core::Result<Vec<(String, Tensor)>> {
    let mut out = Vec::new();
    let m = vb.pp("model");
    out.push((
        "model.embed_tokens.weight".to_string(),
        candle_nn::embedding(VOCAB, D, m.pp("embed_tokens"))?.embeddings().clone(),
    ));
    for l in 0..L {
        let p = m.pp(format!("layers.{l}"));
        let a = p.pp("self_attn");
        for (name, o, i) in [("q_proj", D, D), ("k_proj", D / 2, D), ("v_proj", D / 2, D), ("o_proj", D, D)] {
            let w = candle_nn::linear_no_bias(i, o, a.pp(name))?;
            out.push((format!("model.layers.{l}.self_attn.{name}.weight"), w.weight().clone()));
        }
        let f = p.pp("mlp");
        for (name, o, i) in [("gate_proj", D_FF, D), ("up_proj", D_FF, D), ("down_proj", D, D_FF)] {
            let w = candle_nn::linear_no_bias(i, o, f.pp(name))?;
            out.push((format!("model.layers.{l}.mlp.{name}.weight"), w.weight().clone()));
        }
        for n in ["input_layernorm", "post_attention_layernorm"] {
            let w = p.pp(n).get_with_hints(D, "weight", candle_nn::Init::Const(1.0))?;
            out.push((format!("model.layers.{l}.{n}.weight"), w));
        }
    }
    out.push(("model.norm.weight".to_string(), m.pp("norm").get_with_hints(D, "weight", candle_nn::Init::Const(1.0))?));
    out.push(("lm_head.weight".to_string(), candle_nn::linear_no_bias(D, VOCAB, vb.pp("lm_head"))?.weight().clone()));
    Ok(out)
}

fn vars() -> Vars {
    Vars::new()
        .with("L", L as f64)
        .with("d", D as f64)
        .with("d_ff", D_FF as f64)
        .with("heads", 4.0)
        .with("kv_heads", 2.0)
        .with("head_dim", 32.0)
        .with("vocab", VOCAB as f64)
        .with("std", 0.02)
}

fn values(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1::<f64>().unwrap()
}

fn sample_std(x: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// OLMo's mitchell std for a Llama name (allenai/OLMo olmo/model.py, init_fn mitchell), None for norms.
fn olmo_std(name: &str) -> Option<f64> {
    if name == "model.embed_tokens.weight" || name == "lm_head.weight" {
        return Some(1.0 / (D as f64).sqrt());
    }
    let rest = name.strip_prefix("model.layers.")?;
    let (l, role) = rest.split_once('.').unwrap();
    let l: f64 = l.parse().unwrap();
    match role {
        "self_attn.o_proj.weight" => Some(1.0 / (2.0 * D as f64 * (l + 1.0)).sqrt()),
        "mlp.down_proj.weight" => Some(1.0 / (2.0 * D_FF as f64 * (l + 1.0)).sqrt()),
        r if r.ends_with("layernorm.weight") => None,
        _ => Some(1.0 / (D as f64).sqrt()),
    }
}

#[test]
fn olmo_style_gives_each_role_its_formula() {
    let backend = VarinitBackend::new(7).style(Style::builtin("olmo").unwrap(), vars());
    let journal = backend.journal();
    let tensors = llama(backend.into_var_builder(DType::F32, &Device::Cpu)).unwrap();
    assert_eq!(tensors.len(), 2 + 9 * L + 1);
    let k = trunc3();
    for (name, t) in &tensors {
        let plan = journal.get(name).unwrap();
        let x = values(t);
        match olmo_std(name) {
            None => {
                assert!(matches!(plan.origin, Origin::Hint(_)), "{name}: {}", plan.origin);
                assert!(x.iter().all(|&v| v == 1.0), "{name}");
            }
            Some(s) => {
                assert!(matches!(&plan.origin, Origin::Style { name, .. } if name == "olmo"), "{}", plan.origin);
                assert_eq!(plan.init, Init::TruncNormal { mean: 0.0, std: s, a: -3.0 * s, b: 3.0 * s }, "{name}");
                let drawn = sample_std(&x);
                assert!((drawn / (s * k) - 1.0).abs() < 0.04, "{name}: std {drawn}, want {}", s * k);
                assert!(x.iter().all(|v| v.abs() <= 3.0 * s), "{name}: outside 3 sigma");
            }
        }
    }
    // the depth scaling is really drawn: layer 2's o_proj is sqrt(3) times narrower than layer 0's
    let std_of = |n: &str| sample_std(&values(&tensors.iter().find(|(m, _)| m == n).unwrap().1));
    let r = std_of("model.layers.0.self_attn.o_proj.weight") / std_of("model.layers.2.self_attn.o_proj.weight");
    assert!((r / 3f64.sqrt() - 1.0).abs() < 0.04, "{r}");
}

#[test]
fn rules_take_precedence_over_the_style_and_same_seed_same_weights() {
    let build = |seed: u64| {
        let backend = VarinitBackend::new(seed)
            .rule("model.layers.1.mlp.down_proj.weight", "zeros")
            .unwrap()
            .style(Style::builtin("megatron").unwrap(), vars())
            // added after the style, still first
            .rule("model.layers.2.self_attn.q_proj.weight", "hint")
            .unwrap();
        let journal = backend.journal();
        (llama(backend.into_var_builder(DType::F32, &Device::Cpu)).unwrap(), journal)
    };
    let (a, journal) = build(3);
    let (b, _) = build(3);
    let (c, _) = build(4);
    let scaled = 0.02 / (2.0 * L as f64).sqrt();
    for ((name, ta), ((_, tb), (_, tc))) in a.iter().zip(b.iter().zip(&c)) {
        let (xa, xb, xc) = (values(ta), values(tb), values(tc));
        assert_eq!(xa, xb, "{name}: same seed, same weights");
        let plan = journal.get(name).unwrap();
        if name == "model.layers.1.mlp.down_proj.weight" {
            assert!(matches!(plan.origin, Origin::Rule { index: 0, .. }));
            assert!(xa.iter().all(|&v| v == 0.0));
            continue;
        }
        if name == "model.layers.2.self_attn.q_proj.weight" {
            // candle's linear hint (Kaiming uniform-like, not the style's N(0, 0.02^2))
            assert!(matches!(plan.origin, Origin::Hint(_)), "{}", plan.origin);
            assert!(sample_std(&xa) > 0.04);
            continue;
        }
        if name.ends_with("layernorm.weight") || name == "model.norm.weight" {
            continue;
        }
        assert_ne!(xa, xc, "{name}: another seed");
        let want = if name.ends_with("o_proj.weight") || name.ends_with("down_proj.weight") { scaled } else { 0.02 };
        assert_eq!(plan.init, Init::Normal { mean: 0.0, std: want }, "{name}");
        assert!((sample_std(&xa) / want - 1.0).abs() < 0.04, "{name}");
    }
}

#[test]
fn user_style_with_captures_on_candle_paths() {
    let style =
        Style::parse("style deep\nblocks.{l}.fc.weight = normal(std=1/sqrt(d*(l+1)))\n*.bias = keep\n", "deep.style")
            .unwrap();
    let vb = VarinitBackend::new(0)
        .style(style.clone(), Vars::new().with("d", 200.0))
        .into_var_builder(DType::F32, &Device::Cpu);
    for l in 0..4 {
        let fc = candle_nn::linear(200, 200, vb.pp(format!("blocks.{l}.fc"))).unwrap();
        let want = 1.0 / (200.0 * (l as f64 + 1.0)).sqrt();
        let s = sample_std(&values(fc.weight()));
        assert!((s / want - 1.0).abs() < 0.04, "layer {l}: {s} vs {want}");
        // the bias keeps candle's hint: uniform(+-1/sqrt(200)), std 1/sqrt(600)
        let b = values(fc.bias().unwrap());
        assert!(b.iter().all(|v| v.abs() <= 1.0 / 200f64.sqrt()));
    }
    // a variable the style needs but was not given: an error naming the file and line, when drawn
    let vb = VarinitBackend::new(0).style(style, Vars::new()).into_var_builder(DType::F32, &Device::Cpu);
    let e = candle_nn::linear(8, 8, vb.pp("blocks.0.fc")).unwrap_err().to_string();
    assert!(e.contains("deep.style:2:") && e.contains("uses d,"), "{e}");
    let backend = VarinitBackend::new(0)
        .style(Style::parse("blocks.{l}.fc.weight = normal(std=1/(l+1))\n", "x.style").unwrap(), Vars::new());
    let e = backend.plan("blocks.first.fc.weight", &[4, 4], candle_nn::Init::Const(0.0)).unwrap_err();
    assert!(matches!(&e, Error::Style { style, .. } if style == "x"), "{e}");
    assert!(e.to_string().contains("not an integer"), "{e}");
}
