//! Built-in styles pinned against the formulas of the code they cite, on a
//! small Llama-shaped (and GPT-2-shaped) tensor list built here; the
//! bit-exactness of hf, megatron and torchtitan with the formulas varinit
//! hard-coded before styles were data; user files; one test per error kind.

use varinit::style::{Style, StyleErrorKind, Vars};
use varinit::{Error, Init};

const L: u64 = 3;
const D: u64 = 64;
const FF: u64 = 176;
const STD: f64 = 0.02;

fn vars() -> Vars {
    Vars::new()
        .with("L", L as f64)
        .with("d", D as f64)
        .with("d_ff", FF as f64)
        .with("heads", 4.0)
        .with("kv_heads", 2.0)
        .with("head_dim", 16.0)
        .with("vocab", 128.0)
        .with("std", STD)
}

fn normal(std: f64) -> Init {
    Init::Normal { mean: 0.0, std }
}
fn trunc(std: f64, a: f64, b: f64) -> Init {
    Init::TruncNormal { mean: 0.0, std, a, b }
}
fn constant(value: f64) -> Init {
    Init::Constant { value }
}

/// A Llama list with transformers' defaults: (name, default scheme).
fn llama() -> Vec<(String, Init)> {
    let mut v = vec![("model.embed_tokens.weight".to_string(), normal(STD))];
    for l in 0..L {
        let p = format!("model.layers.{l}");
        for t in ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj"] {
            v.push((format!("{p}.{t}.weight"), normal(STD)));
        }
        for t in ["mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"] {
            v.push((format!("{p}.{t}.weight"), normal(STD)));
        }
        v.push((format!("{p}.input_layernorm.weight"), constant(1.0)));
        v.push((format!("{p}.post_attention_layernorm.weight"), constant(1.0)));
    }
    v.push(("model.norm.weight".into(), constant(1.0)));
    v.push(("lm_head.weight".into(), normal(STD)));
    v
}

fn gpt2() -> Vec<(String, Init)> {
    let mut v =
        vec![("transformer.wte.weight".to_string(), normal(STD)), ("transformer.wpe.weight".into(), normal(STD))];
    for l in 0..L {
        let p = format!("transformer.h.{l}");
        v.push((format!("{p}.ln_1.weight"), constant(1.0)));
        v.push((format!("{p}.ln_1.bias"), constant(0.0)));
        for t in ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"] {
            v.push((format!("{p}.{t}.weight"), normal(STD)));
            v.push((format!("{p}.{t}.bias"), constant(0.0)));
        }
    }
    v.push(("transformer.ln_f.weight".into(), constant(1.0)));
    v
}

/// The style's scheme for every tensor, in order.
fn styled(style: &str, list: &[(String, Init)]) -> Vec<(String, Init)> {
    let s = Style::builtin(style).unwrap();
    let out = s.apply_all(&vars(), list.iter().map(|(n, i)| (n.as_str(), i))).unwrap();
    list.iter().zip(out).map(|((n, _), a)| (n.clone(), a.init)).collect()
}

/// Check every tensor against `expect(role, layer)`; roles are the name
/// without the layer prefix.
fn check(style: &str, list: &[(String, Init)], expect: impl Fn(&str, f64) -> Init) {
    for (name, init) in styled(style, list) {
        let (role, l) = match name.split('.').collect::<Vec<_>>().as_slice() {
            ["model", "layers", l, rest @ ..] | ["transformer", "h", l, rest @ ..] => {
                (rest.join("."), l.parse::<f64>().unwrap())
            }
            _ => (name.clone(), -1.0),
        };
        assert_eq!(init, expect(&role, l), "{style}: {name}");
    }
}

const D_F: f64 = D as f64;
const L_F: f64 = L as f64;
const FF_F: f64 = FF as f64;

#[test]
fn hf_keeps_transformers_init_and_scales_gpt2_c_proj() {
    let llama = llama();
    assert_eq!(styled("hf", &llama), llama, "hf keeps every Llama default");
    // transformers' GPT-2 rule: initializer_range / math.sqrt(2 * n_layer)
    check("hf", &gpt2(), |role, _| match role {
        "attn.c_proj.weight" | "mlp.c_proj.weight" => normal(STD / (2.0 * L_F).sqrt()),
        r if r.ends_with("bias") => constant(0.0),
        r if r.starts_with("ln_") || r.starts_with("transformer.ln") => constant(1.0),
        _ => normal(STD),
    });
}

#[test]
fn megatron_scales_output_projections_by_sqrt_2l() {
    // megatron/core/utils.py: sigma / math.sqrt(2.0 * num_layers)
    let out = STD / (2.0 * L_F).sqrt();
    let f = |role: &str, _| match role {
        "self_attn.o_proj.weight" | "mlp.down_proj.weight" | "attn.c_proj.weight" | "mlp.c_proj.weight" => normal(out),
        r if r.ends_with("bias") => constant(0.0),
        r if r.ends_with("norm.weight") || r.starts_with("ln_") || r.starts_with("transformer.ln") => constant(1.0),
        _ => normal(STD),
    };
    check("megatron", &llama(), f);
    check("megatron", &gpt2(), f);
}

fn torchtitan_head() -> Init {
    // Transformer.init_weights: final_out_std = dim**-0.5, cutoff_factor = 3
    let s = D_F.powf(-0.5);
    trunc(s, -3.0 * s, 3.0 * s)
}

#[test]
fn torchtitan_depth_init_and_flat() {
    for (style, depth) in [("torchtitan", true), ("torchtitan_flat", false)] {
        check(style, &llama(), |role, l| {
            // 0.02 / (2 * (layer_id + 1)) ** 0.5, or 0.02 / (2 * n_layers) ** 0.5
            let out = if depth { 0.02 / (2.0 * (l + 1.0)).sqrt() } else { 0.02 / (2.0 * L_F).sqrt() };
            match role {
                "model.embed_tokens.weight" => normal(1.0),
                "lm_head.weight" => torchtitan_head(),
                "self_attn.o_proj.weight" | "mlp.up_proj.weight" | "mlp.down_proj.weight" => trunc(out, -2.0, 2.0),
                r if r.ends_with("norm.weight") => constant(1.0),
                _ => trunc(0.02, -2.0, 2.0),
            }
        });
    }
}

fn t3(s: f64) -> Init {
    // olmo/initialization.py: cutoff_value = init_cutoff_factor * std
    trunc(s, -(3.0 * s), 3.0 * s)
}

#[test]
fn olmo_mitchell() {
    let f = |role: &str, l: f64| {
        let attn_out = 1.0 / (2.0 * D_F * (l + 1.0)).sqrt();
        let ff_out = 1.0 / (2.0 * FF_F * (l + 1.0)).sqrt();
        match role {
            "self_attn.o_proj.weight" | "attn.c_proj.weight" => t3(attn_out),
            "mlp.down_proj.weight" | "mlp.c_proj.weight" => t3(ff_out),
            r if r.ends_with("bias") => constant(0.0),
            r if r.ends_with("norm.weight") || r.starts_with("ln_") || r.starts_with("transformer.ln") => constant(1.0),
            _ => t3(1.0 / D_F.sqrt()),
        }
    };
    check("olmo", &llama(), f);
    check("olmo", &gpt2(), f);
}

#[test]
fn olmo_full_megatron() {
    let f = |role: &str, _| match role {
        "self_attn.o_proj.weight" | "mlp.down_proj.weight" | "attn.c_proj.weight" | "mlp.c_proj.weight" => {
            t3(STD / (2.0 * L_F).sqrt())
        }
        "lm_head.weight" => t3(1.0 / D_F.sqrt()),
        r if r.ends_with("bias") => constant(0.0),
        r if r.ends_with("norm.weight") || r.starts_with("ln_") || r.starts_with("transformer.ln") => constant(1.0),
        _ => t3(STD),
    };
    check("olmo_megatron", &llama(), f);
    check("olmo_megatron", &gpt2(), f);
}

#[test]
fn neox_small_init_and_wang_init() {
    // init_functions.py: math.sqrt(2 / (5 * dim)); 2 / n_layers / math.sqrt(dim)
    let small = (2.0 / (5.0 * D_F)).sqrt();
    let wang = 2.0 / L_F / D_F.sqrt();
    let f = |role: &str, _| match role {
        "self_attn.o_proj.weight" | "mlp.down_proj.weight" | "attn.c_proj.weight" | "mlp.c_proj.weight" => normal(wang),
        r if r.ends_with("bias") => constant(0.0),
        r if r.ends_with("norm.weight") || r.starts_with("ln_") || r.starts_with("transformer.ln") => constant(1.0),
        _ => normal(small),
    };
    check("neox", &llama(), f);
    check("neox", &gpt2(), f);
    // GPT-NeoX's own names
    let list: Vec<(String, Init)> = [
        "gpt_neox.embed_in.weight",
        "gpt_neox.layers.1.attention.query_key_value.weight",
        "gpt_neox.layers.1.attention.dense.weight",
        "gpt_neox.layers.1.mlp.dense_h_to_4h.weight",
        "gpt_neox.layers.1.mlp.dense_4h_to_h.weight",
        "embed_out.weight",
    ]
    .iter()
    .map(|n| (n.to_string(), normal(STD)))
    .collect();
    let got: Vec<Init> = styled("neox", &list).into_iter().map(|x| x.1).collect();
    let w = |n: &str| if n.contains("dense.") || n.contains("4h_to_h") { normal(wang) } else { normal(small) };
    assert_eq!(got, list.iter().map(|(n, _)| w(n)).collect::<Vec<_>>());
}

#[test]
fn deepnet_beta_on_v_out_fc1_fc2() {
    // decoder.py: init_scale = math.pow(8.0 * decoder_layers, 0.25); weights divided by it
    let beta = 1.0 / (8.0 * L_F).powf(0.25);
    check("deepnet", &llama(), |role, _| match role {
        "self_attn.q_proj.weight" | "self_attn.k_proj.weight" => {
            Init::Xavier { family: varinit::scheme::Family::Uniform, gain: 1.0 / 2f64.sqrt() }
        }
        "self_attn.v_proj.weight" => {
            Init::Xavier { family: varinit::scheme::Family::Uniform, gain: 1.0 / 2f64.sqrt() * beta }
        }
        "self_attn.o_proj.weight" => Init::Xavier { family: varinit::scheme::Family::Uniform, gain: beta },
        "mlp.gate_proj.weight" | "mlp.up_proj.weight" | "mlp.down_proj.weight" => Init::VarianceScaling {
            scale: beta * beta / 3.0,
            mode: varinit::FanMode::FanIn,
            distribution: varinit::scheme::VsDistribution::Uniform,
        },
        r if r.ends_with("norm.weight") => constant(1.0),
        _ => normal(STD),
    });
    // the fc layers' bound is nn.Linear's 1/sqrt(fan_in) divided by (8N)^(1/4)
    let s = Style::builtin("deepnet").unwrap();
    let a = s.apply(&vars(), "model.layers.0.mlp.down_proj.weight", &normal(STD)).unwrap();
    let shape: varinit::Shape = format!("{D}x{FF}").parse().unwrap();
    let r = a.init.resolve(&shape, varinit::Layout::Torch.into()).unwrap();
    let want = 1.0 / FF_F.sqrt() / (8.0 * L_F).powf(0.25);
    match r {
        varinit::Resolved::Uniform { low: a, high: b } => {
            assert!((b - want).abs() < 1e-15 && (a + want).abs() < 1e-15, "{a} {b} vs {want}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn mup_width_multiplier_and_zero_readout() {
    // mup/init.py: std * width_mult()**-0.5 for (inf, inf) tensors
    let hidden = STD * (D_F / 256.0).powf(-0.5);
    let f = |role: &str, _| match role {
        "self_attn.q_proj.weight" | "lm_head.weight" => constant(0.0),
        "model.embed_tokens.weight" | "transformer.wte.weight" | "transformer.wpe.weight" => normal(STD),
        r if r.ends_with("bias") => constant(0.0),
        r if r.ends_with("norm.weight") || r.starts_with("ln_") || r.starts_with("transformer.ln") => constant(1.0),
        _ => normal(hidden),
    };
    check("mup", &llama(), f);
    check("mup", &gpt2(), f);
    assert!(hidden > STD, "width 64 is below the base 256: hidden weights wider");
}

#[test]
fn gemma_zero_centred_norms() {
    check("gemma", &llama(), |role, _| match role {
        r if r.ends_with("norm.weight") => constant(0.0),
        _ => normal(STD),
    });
}

/// Today's (pre-style) preset code, copied: the bytes of `init --style`
/// depend on these f64 being identical.
#[test]
fn hf_megatron_torchtitan_are_bit_exact_with_the_hard_coded_formulas() {
    for layers in [1u64, 2, 16, 30, 32, 40, 61, 80, 126] {
        for d in [64u64, 768, 1000, 2048, 4096, 5120, 7168, 8192, 12288, 16384] {
            for std in [0.02, 0.006, 0.1] {
                let v = Vars::new().with("L", layers as f64).with("d", d as f64).with("std", std);
                let get = |style: &str, name: &str| {
                    Style::builtin(style).unwrap().apply(&v, name, &normal(std)).unwrap().init
                };
                let scaled = std / (2.0 * layers as f64).sqrt();
                assert_eq!(get("megatron", "model.layers.0.self_attn.o_proj.weight"), normal(scaled));
                assert_eq!(get("hf", "transformer.h.0.mlp.c_proj.weight"), normal(scaled));
                for i in [0, layers / 2, layers - 1] {
                    let out = 0.02 / (2.0 * (i + 1) as f64).sqrt();
                    assert_eq!(
                        get("torchtitan", &format!("model.layers.{i}.mlp.down_proj.weight")),
                        trunc(out, -2.0, 2.0)
                    );
                    let flat = 0.02 / (2.0 * layers as f64).sqrt();
                    assert_eq!(
                        get("torchtitan_flat", &format!("model.layers.{i}.mlp.up_proj.weight")),
                        trunc(flat, -2.0, 2.0)
                    );
                }
                let s = (d as f64).powf(-0.5);
                assert_eq!(get("torchtitan", "lm_head.weight"), trunc(s, -(3.0 * s), 3.0 * s));
            }
        }
    }
}

#[test]
fn a_user_style_file_loads_and_applies_the_same_way() {
    let text = "\
# my style
style mine   # its name
about a test
source nowhere
let base = 0.5 * std	# half the usual
model.layers.{l}.mlp.down_proj.weight = normal(std=base/sqrt(l+1))  # deeper, smaller
model.layers.{l}.*.weight = kaiming_normal(nonlinearity=relu)
*norm.weight = keep
";
    let s = Style::parse(text, "mine.style").unwrap();
    assert_eq!((s.name(), s.about(), s.sources()), ("mine", "a test", &["nowhere".to_string()][..]));
    assert_eq!(s.variables(), ["std"]);
    let v = vars();
    let a = s.apply(&v, "model.layers.3.mlp.down_proj.weight", &normal(1.0)).unwrap();
    assert_eq!(a.init, normal(0.5 * STD / 4f64.sqrt()));
    assert_eq!((a.rule, a.line, a.kept()), (Some(0), Some(6), false));
    let a = s.apply(&v, "model.layers.3.self_attn.q_proj.weight", &normal(1.0)).unwrap();
    assert_eq!(a.init, "kaiming_normal(nonlinearity=relu)".parse().unwrap());
    let a = s.apply(&v, "model.norm.weight", &constant(1.0)).unwrap();
    assert!(a.kept() && a.rule == Some(2));
    let a = s.apply(&v, "lm_head.weight", &normal(0.3)).unwrap();
    assert!(a.kept() && a.rule.is_none() && a.init == normal(0.3));
    // the same style under another file name applies identically
    let t = Style::parse(text, "elsewhere/x.style").unwrap();
    for (n, i) in llama() {
        assert_eq!(s.apply(&v, &n, &i).unwrap(), t.apply(&v, &n, &i).unwrap());
    }
}

#[test]
fn every_builtin_loads_cites_a_source_and_matches_something() {
    let names: Vec<&str> = Style::builtin_names().collect();
    assert_eq!(
        names,
        ["hf", "megatron", "torchtitan", "torchtitan_flat", "olmo", "olmo_megatron", "neox", "deepnet", "mup", "gemma"]
    );
    for n in names {
        let s = Style::builtin(n).unwrap();
        assert_eq!(s.name(), n);
        assert!(!s.about().is_empty() && !s.sources().is_empty(), "{n}");
        assert!(s.sources().iter().all(|x| x.contains('/') && x.contains(".py")), "{n}: {:?}", s.sources());
        let applied = s.apply_all(&vars(), llama().iter().map(|(a, b)| (a.as_str(), b))).unwrap();
        assert!(applied.iter().any(|a| a.rule.is_some()), "{n} matches no Llama tensor");
    }
    let e = Style::builtin("olmoo").unwrap_err();
    assert!(matches!(&e, Error::UnknownStyle { suggestion: Some(s), .. } if s == "olmo"), "{e}");
}

fn error(text: &str) -> (usize, usize, StyleErrorKind, String) {
    match Style::parse(text, "bad.style") {
        Err(e @ Error::Style { .. }) => {
            let msg = e.to_string();
            let Error::Style { line, column, kind, file } = e else { unreachable!() };
            assert_eq!(file, "bad.style");
            (line, column, *kind, msg)
        }
        Err(e) => panic!("not a style error: {e}"),
        Ok(_) => panic!("{text:?} loaded"),
    }
}

fn apply_error(text: &str, vars: &Vars, name: &str) -> (usize, usize, StyleErrorKind, String) {
    let s = Style::parse(text, "bad.style").unwrap();
    match s.apply(vars, name, &normal(1.0)) {
        Err(e @ Error::Style { .. }) => {
            let msg = e.to_string();
            let Error::Style { line, column, kind, .. } = e else { unreachable!() };
            (line, column, *kind, msg)
        }
        Err(e) => panic!("not a style error: {e}"),
        Ok(a) => panic!("applied: {a:?}"),
    }
}

#[test]
fn error_unknown_variable_with_did_you_mean() {
    let (line, col, kind, msg) = error("# x\n*.weight = normal(std=sdt/2)\n");
    assert_eq!((line, col), (2, 23));
    assert_eq!(kind, StyleErrorKind::UnknownVariable { name: "sdt".into(), suggestion: Some("std".into()) });
    assert!(msg.starts_with("bad.style:2:23: unknown variable \"sdt\" (did you mean \"std\"?)"), "{msg}");
    // a bare word where a number belongs
    let (line, col, kind, _) = error("*.weight = normal(std=dd)");
    assert_eq!((line, col), (1, 23));
    assert!(matches!(kind, StyleErrorKind::UnknownVariable { name, suggestion: Some(s) } if name == "dd" && s == "d"));
    // in a let, and a capture of another rule is not known here
    let (line, col, kind, _) = error("let x = 2 * layers\n");
    assert_eq!((line, col), (1, 13));
    assert!(matches!(kind, StyleErrorKind::UnknownVariable { name, .. } if name == "layers"));
    let (_, _, kind, _) = error("a.{l}.w = zeros\nb.w = normal(std=1/(l+1))\n");
    assert!(matches!(kind, StyleErrorKind::UnknownVariable { name, .. } if name == "l"));
}

#[test]
fn error_capture_not_an_integer() {
    let text = "model.{part}.{l}.weight = normal(std=0.02/sqrt(l+1))\n";
    let (line, col, kind, msg) = apply_error(text, &vars(), "model.layers.attn.weight");
    assert_eq!((line, col), (1, 48));
    assert_eq!(
        kind,
        StyleErrorKind::CaptureNotInteger {
            capture: "l".into(),
            value: "attn".into(),
            tensor: "model.layers.attn.weight".into()
        }
    );
    assert!(msg.contains("not an integer"), "{msg}");
}

#[test]
fn error_not_finite_and_invalid_values() {
    // division by zero at a match: 1/(l) at layer 0
    let (line, col, kind, _) = apply_error("x.{l}.w = normal(std=1/l)\n", &vars(), "x.0.w");
    assert_eq!((line, col), (1, 22));
    assert!(matches!(kind, StyleErrorKind::NotFinite { what, tensor: Some(t), .. } if what == "std" && t == "x.0.w"));
    // a let that is not finite
    let (line, col, kind, _) = error("let z = 1/0\n");
    assert_eq!((line, col), (1, 9));
    assert!(matches!(kind, StyleErrorKind::NotFinite { .. }));
    // finite but invalid: a negative std, found when applied
    let (line, col, kind, msg) = apply_error("x.{l}.w = normal(std=0.02*(l-1))\n", &vars(), "x.0.w");
    assert_eq!((line, col), (1, 11));
    assert!(matches!(kind, StyleErrorKind::Invalid { .. }), "{msg}");
    // and at load when the rule has no variables
    let (_, col, kind, _) = error("  x.w = trunc_normal(std=1, a=2, b=1)\n");
    assert_eq!(col, 9);
    assert!(matches!(kind, StyleErrorKind::Scheme(_)));
}

#[test]
fn error_missing_architecture_variable() {
    let (line, col, kind, _) = apply_error("x.w = normal(std=1/sqrt(d_ff))\n", &Vars::new().with("d", 8.0), "x.w");
    assert_eq!((line, col), (1, 25));
    assert_eq!(kind, StyleErrorKind::MissingVariable { name: "d_ff".into(), tensor: Some("x.w".into()) });
}

#[test]
fn error_syntax_glob_and_scheme() {
    let (line, col, kind, _) = error("style a\n\n   this is not a rule\n");
    assert_eq!((line, col), (3, 4));
    assert!(matches!(kind, StyleErrorKind::Syntax(_)));
    let (_, _, kind, msg) = error("style a\nstyle b\n");
    assert!(matches!(kind, StyleErrorKind::Syntax(_)) && msg.contains("second style"), "{msg}");
    let (_, _, kind, msg) = error("let d = 3\n");
    assert!(matches!(kind, StyleErrorKind::Syntax(_)) && msg.contains("hide the architecture variable"), "{msg}");
    let (line, col, kind, _) = error("x.w = normal(std=(1+2)\n");
    assert_eq!((line, col), (1, 22));
    assert!(matches!(kind, StyleErrorKind::Scheme(_)));
    let (line, col, kind, msg) = error("x.{l.w = zeros\n");
    assert_eq!((line, col), (1, 1));
    assert!(matches!(kind, StyleErrorKind::Glob(_)), "{msg}");
    let (_, col, kind, msg) = error("x.w = kaiming_nromal\n");
    assert_eq!(col, 7);
    assert!(matches!(kind, StyleErrorKind::Scheme(_)) && msg.contains("did you mean"), "{msg}");
    let (_, _, kind, msg) = error("x.{l}.w = normal(std=l, sdt=2)\n");
    assert!(matches!(kind, StyleErrorKind::Scheme(_)) && msg.contains("no parameter"), "{msg}");
    let (_, _, _, msg) = error("x.{e}.w = zeros\n");
    assert!(msg.contains("reserved"), "{msg}");
}

/// Drawn, not just described: every weight of the small Llama, under every
/// built-in style, has the sample std its formula says (within 5 %, with
/// about 1 % of sampling error at these sizes) and stays inside its bounds.
#[test]
fn drawn_tensors_have_the_formula_std_of_every_role() {
    let shape_of = |name: &str| -> Vec<u64> {
        let (q, kv) = (4 * 16, 2 * 16);
        if name.contains("embed_tokens") || name.contains("lm_head") {
            vec![128, D]
        } else if name.contains("q_proj") {
            vec![q, D]
        } else if name.contains("k_proj") || name.contains("v_proj") {
            vec![kv, D]
        } else if name.contains("o_proj") {
            vec![D, q]
        } else if name.contains("gate_proj") || name.contains("up_proj") {
            vec![FF, D]
        } else if name.contains("down_proj") {
            vec![D, FF]
        } else {
            vec![D]
        }
    };
    // standard normal truncated at +-3: std factor
    let phi3 = (-4.5f64).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let mass3 = 0.997_300_203_936_739_8;
    let t3_factor = (1.0 - 2.0 * 3.0 * phi3 / mass3).sqrt();
    let beta = 1.0 / (8.0 * L_F).powf(0.25);
    // the std each style's source gives, by role and layer (truncation included)
    let formula = |style: &str, name: &str, l: f64, fan_in: f64, fan_out: f64| -> Option<f64> {
        let out = name.contains("o_proj") || name.contains("down_proj");
        let down = name.contains("down_proj");
        Some(match style {
            "hf" | "gemma" => STD,
            "megatron" => {
                if out {
                    STD / (2.0 * L_F).sqrt()
                } else {
                    STD
                }
            }
            "torchtitan" | "torchtitan_flat" => {
                if name.contains("embed") {
                    1.0
                } else if name.contains("lm_head") {
                    D_F.powf(-0.5) * t3_factor
                } else if out || name.contains("up_proj") {
                    if style == "torchtitan" { 0.02 / (2.0 * (l + 1.0)).sqrt() } else { 0.02 / (2.0 * L_F).sqrt() }
                } else {
                    0.02
                }
            }
            "olmo" => {
                t3_factor
                    * if down {
                        1.0 / (2.0 * FF_F * (l + 1.0)).sqrt()
                    } else if out {
                        1.0 / (2.0 * D_F * (l + 1.0)).sqrt()
                    } else {
                        1.0 / D_F.sqrt()
                    }
            }
            "olmo_megatron" => {
                t3_factor
                    * if out {
                        STD / (2.0 * L_F).sqrt()
                    } else if name.contains("lm_head") {
                        1.0 / D_F.sqrt()
                    } else {
                        STD
                    }
            }
            "neox" => {
                if out {
                    2.0 / L_F / D_F.sqrt()
                } else {
                    (2.0 / (5.0 * D_F)).sqrt()
                }
            }
            "deepnet" => {
                let xavier = |g: f64| g * (2.0 / (fan_in + fan_out)).sqrt();
                if name.contains("q_proj") || name.contains("k_proj") {
                    xavier(1.0 / 2f64.sqrt())
                } else if name.contains("v_proj") {
                    xavier(1.0 / 2f64.sqrt()) * beta
                } else if name.contains("o_proj") {
                    xavier(1.0) * beta
                } else if name.contains("mlp") {
                    // nn.Linear: U(+-1/sqrt(fan_in)), std 1/sqrt(3 fan_in)
                    1.0 / (3.0 * fan_in).sqrt() * beta
                } else {
                    STD
                }
            }
            "mup" => {
                if name.contains("q_proj") || name.contains("lm_head") {
                    return None; // zeros
                } else if name.contains("embed") {
                    STD
                } else {
                    STD / (D_F / 256.0).sqrt()
                }
            }
            _ => unreachable!(),
        })
    };
    let mut checked = 0;
    for style_name in Style::builtin_names() {
        let style = Style::builtin(style_name).unwrap();
        for (name, default) in llama() {
            let init = style.apply(&vars(), &name, &default).unwrap().init;
            let dims = shape_of(&name);
            let t = varinit::TensorInit::new(
                7,
                &name,
                &init,
                varinit::Shape::new(dims.clone()).unwrap(),
                varinit::Layout::Torch.into(),
            )
            .unwrap();
            let x: Vec<f64> = t.to_vec(varinit::Par::Seq).unwrap();
            let n = x.len() as f64;
            let mean = x.iter().sum::<f64>() / n;
            let sd = (x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
            if dims.len() == 1 {
                // norms: 1, or 0 for gemma
                let want = if style_name == "gemma" { 0.0 } else { 1.0 };
                assert!(x.iter().all(|&v| v == want), "{style_name} {name}");
                continue;
            }
            let l = name.split('.').nth(2).and_then(|s| s.parse::<f64>().ok()).unwrap_or(-1.0);
            let (fan_out, fan_in) = (dims[0] as f64, dims[1] as f64);
            match formula(style_name, &name, l, fan_in, fan_out) {
                None => assert!(x.iter().all(|&v| v == 0.0), "{style_name} {name}"),
                Some(want) => {
                    assert!((sd / want - 1.0).abs() < 0.05, "{style_name} {name}: std {sd} vs {want}");
                    if let Some((lo, hi)) = t.resolved().support() {
                        assert!(x.iter().all(|&v| lo <= v && v <= hi), "{style_name} {name}");
                    }
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 150, "{checked}");
}
