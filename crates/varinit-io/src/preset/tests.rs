use super::*;

fn sets(s: &[&str]) -> Vec<String> {
    s.iter().map(|x| x.to_string()).collect()
}

#[test]
fn default_llama_is_the_085b_model() {
    let m = expand("llama", &[], DType::BF16).unwrap();
    let n = m.numel();
    assert!((840_000_000..870_000_000).contains(&n), "{n}");
    assert_eq!(m.tensors.len(), 1 + 16 * 9 + 2);
    let k = m.tensors.iter().find(|t| t.name == "model.layers.0.self_attn.k_proj.weight").unwrap();
    assert_eq!(k.shape.dims(), &[512, 2048]);
}

#[test]
fn sizes_and_derived_fields() {
    // 7b: as many KV heads as heads, which follow a new head count; head_dim follows too
    let m = expand("llama", &sets(&["size=7b", "num_hidden_layers=1", "num_attention_heads=16"]), DType::F32).unwrap();
    let cfg: Value = serde_json::from_slice(m.hf_config.as_ref().unwrap()).unwrap();
    assert_eq!((cfg["num_key_value_heads"].as_u64(), cfg["head_dim"].as_u64()), (Some(16), Some(256)));
    assert_eq!(cfg["rms_norm_eps"].as_f64(), Some(1e-5));
    // 0.85b keeps its 8 KV heads
    let m = expand("llama", &sets(&["num_attention_heads=16", "num_hidden_layers=1"]), DType::F32).unwrap();
    let cfg: Value = serde_json::from_slice(m.hf_config.as_ref().unwrap()).unwrap();
    assert_eq!(cfg["num_key_value_heads"].as_u64(), Some(8));
    let g = expand("gpt2", &sets(&["size=tiny", "n_embd=32"]), DType::F32).unwrap();
    let fc = g.tensors.iter().find(|t| t.name == "transformer.h.0.mlp.c_fc.weight").unwrap();
    assert_eq!(fc.shape.dims(), &[32, 128], "n_inner follows n_embd");
    for (p, sizes) in [("llama", llama::sizes()), ("gpt2", gpt2::sizes())] {
        for (name, over) in sizes {
            assert!(over.is_object(), "{p} {name}");
            assert!(expand(p, &sets(&[&format!("size={name}")]), DType::F32).is_ok(), "{p} {name}");
        }
    }
}

#[test]
fn styles_follow_their_rules() {
    let m = expand("llama", &sets(&["size=tiny", "style=megatron"]), DType::F32).unwrap();
    let get = |m: &ModelSpec, n: &str| m.tensors.iter().find(|t| t.name == n).unwrap().init.to_string();
    assert_eq!(get(&m, "model.layers.1.self_attn.o_proj.weight"), "normal(mean=0, std=0.01)");
    assert_eq!(get(&m, "model.layers.1.mlp.up_proj.weight"), "normal(mean=0, std=0.02)");
    let t = expand("llama", &sets(&["size=tiny", "style=torchtitan"]), DType::F32).unwrap();
    assert!(get(&t, "model.layers.1.mlp.up_proj.weight").contains("std=0.01,"));
    assert!(get(&t, "model.layers.0.mlp.down_proj.weight").contains(&format!("std={:?}", 0.02 / 2f64.sqrt())));
    assert_eq!(get(&t, "model.embed_tokens.weight"), "normal(mean=0, std=1)");
    assert_eq!(get(&t, "lm_head.weight"), "trunc_normal(mean=0, std=0.125, a=-0.375, b=0.375)");
    let g = expand("gpt2", &sets(&["size=tiny"]), DType::F32).unwrap();
    assert_eq!(get(&g, "transformer.h.0.mlp.c_proj.weight"), "normal(mean=0, std=0.01)");
    assert!(expand("gpt2", &sets(&["style=torchtitan"]), DType::F32).is_err());
}

#[test]
fn bad_settings_are_refused() {
    for (p, s) in [
        ("llama", "layers=3"),
        ("llama", "num_hidden_layers=x"),
        ("llama", "num_key_value_heads=5"),
        ("llama", "style=hff"),
        ("llama", "noequals"),
        ("llama", "size=70b"),
        ("llama", "initializer_range=0"),
        ("gpt2", "n_head=5"),
        ("gpt2", "depth_init=false"),
        ("mlp", "dims=3"),
        ("mlp", "style=xavier"),
        ("bert", "x=1"),
    ] {
        let e = expand(p, &sets(&[s]), DType::F32).unwrap_err().to_string();
        assert!(!e.contains("--"), "a library message names no flag: {e}");
    }
    let e = expand("llama", &sets(&["num_hidden_layer=3"]), DType::F32).unwrap_err().to_string();
    assert!(e.contains("did you mean \"num_hidden_layers\""), "{e}");
    let e = expand("llama", &sets(&["num_hidden_layers=x"]), DType::F32).unwrap_err().to_string();
    assert!(e.contains("num_hidden_layers") && e.contains("non-negative integer"), "{e}");
}

#[test]
fn vars_name_the_style_variables() {
    let c = |s: &str| serde_json::from_str::<Map<String, Value>>(s).unwrap();
    let a: LlamaArch = settings::from_config(&LlamaArch::defaults_for("mistral"), &c("{}"), &[], "c").unwrap();
    let v: std::collections::BTreeMap<_, _> = a.vars().into_iter().collect();
    assert_eq!(
        (v["L"], v["d"], v["d_ff"], v["heads"], v["kv_heads"], v["head_dim"], v["vocab"], v["std"]),
        (32.0, 4096.0, 14336.0, 32.0, 8.0, 128.0, 32000.0, 0.02)
    );
    let m: Qwen3Arch = settings::from_config(
        &Qwen3Arch::defaults_for("qwen3_moe"),
        &c(r#"{"num_experts": 16, "moe_intermediate_size": 96}"#),
        qwen3::ALIASES,
        "c",
    )
    .unwrap();
    let v: std::collections::BTreeMap<_, _> = m.vars().into_iter().collect();
    assert_eq!((v["experts"], v["d_ff"], v["head_dim"]), (16.0, 96.0, 64.0));
    let x: MixtralArch = settings::from_config(&MixtralArch::default(), &c("{}"), mixtral::ALIASES, "c").unwrap();
    assert_eq!(x.vars().last(), Some(&("experts", 8.0)));
    assert_eq!(Gpt2Arch::default().vars()[2], ("d_ff", 3072.0));
    for v in [GemmaArch::default().vars(), Phi3Arch::default().vars(), Olmo2Arch::default().vars()] {
        let names: Vec<&str> = v.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["L", "d", "d_ff", "heads", "kv_heads", "head_dim", "vocab", "std"]);
    }
}

#[test]
fn config_errors_name_the_field_and_the_way_out() {
    let e = from_hf_config(br#"{"model_type": "qwen3", "hidden_size": "big"}"#, "c.json", &[]).unwrap_err().to_string();
    assert!(e.starts_with("c.json: hidden_size = \"big\""), "{e}");
    let e = from_hf_config(br#"{"model_type": "bert"}"#, "c.json", &[]).unwrap_err().to_string();
    assert!(e.contains("\"bert\"") && e.contains("qwen3_moe") && e.contains("python -m varinit.hf"), "{e}");
    let e = from_hf_config(br#"{"model_type": "gemma3", "text_config": {}}"#, "c.json", &[]).unwrap_err().to_string();
    assert!(e.contains("gemma3_text") && e.contains("text_config"), "{e}");
    let e = from_hf_config(br#"{"model_type": "gpt2", "n_layer": 2}"#, "c.json", &sets(&["style=torchtitan"]))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("c.json: style torchtitan does not apply to gpt2"), "{e}");
    let e = from_hf_config(br#"{"model_type": "phi3"}"#, "c.json", &sets(&["size=tiny"])).unwrap_err().to_string();
    assert!(e.contains("no setting \"size\"") && !e.contains("--"), "{e}");
}

#[test]
fn every_builtin_style_applies_or_is_refused_by_name() {
    // a style whose rules name no weight of the model is refused, naming both; hf always applies
    for style in Style::builtin_names() {
        for p in PRESETS.iter().filter(|p| **p != "mlp") {
            let r = expand(p, &sets(&["size=tiny", &format!("style={style}")]), DType::F32);
            let gpt2_only_llama_names =
                *p == "gpt2" && ["torchtitan", "torchtitan_flat", "deepnet", "gemma"].contains(&style);
            match r {
                Ok(m) => {
                    assert!(!gpt2_only_llama_names, "{style} on {p} should be refused");
                    assert!(m.source.contains(&format!("style={style}")), "{}", m.source);
                }
                Err(e) => {
                    let e = e.to_string();
                    assert!(gpt2_only_llama_names, "{style} on {p}: {e}");
                    assert!(e.contains(&format!("style {style} does not apply to gpt2")), "{e}");
                }
            }
        }
    }
}

#[test]
fn a_style_file_is_recorded_with_its_hash_and_must_agree_with_the_setting() {
    let dir = std::env::temp_dir().join(format!("varinit-chosen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("half.style");
    let text = "model.layers.{l}.mlp.down_proj.weight = normal(std=std/2)\n";
    std::fs::write(&f, text).unwrap();
    let path = f.to_str().unwrap();
    let c = ChosenStyle::load(path).unwrap();
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(c.label(), format!("{path}@sha256:{}", &hex[..16]));
    let m = expand_styled("llama", &sets(&["size=tiny"]), Some(&c), DType::F32).unwrap();
    assert_eq!(m.source, format!("preset llama style={} size=tiny", c.label()));
    let down = m.tensors.iter().find(|t| t.name == "model.layers.1.mlp.down_proj.weight").unwrap();
    assert_eq!(down.init, varinit::Init::Normal { mean: 0.0, std: 0.01 });
    // the same file given as a setting too: fine; another style: refused
    assert!(expand_styled("llama", &sets(&["size=tiny", &format!("style={path}")]), Some(&c), DType::F32).is_ok());
    let e = expand_styled("llama", &sets(&["style=megatron"]), Some(&c), DType::F32).unwrap_err().to_string();
    assert!(e.contains("two different styles") && !e.contains("--"), "{e}");
    // a file given as a setting is recorded with its hash as well
    let m = expand("llama", &sets(&["size=tiny", &format!("style={path}")]), DType::F32).unwrap();
    assert_eq!(m.source, format!("preset llama style={} size=tiny", c.label()));
    let m = from_hf_config(
        br#"{"model_type": "qwen2", "num_hidden_layers": 2}"#,
        "c.json",
        &sets(&[&format!("style={path}")]),
    )
    .unwrap();
    assert_eq!(m.source, format!("hf-config qwen2 style={}", c.label()));
    // built-in names given apart keep the old source shape; the mlp preset takes none
    let o = ChosenStyle::load("olmo").unwrap();
    let m = expand_styled("gpt2", &sets(&["size=tiny"]), Some(&o), DType::F32).unwrap();
    assert_eq!(m.source, "preset gpt2 style=olmo size=tiny");
    assert!(expand_styled("mlp", &[], Some(&o), DType::F32).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
