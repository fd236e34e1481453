//! The presets and Hugging Face configs produce exactly the tensor names,
//! shapes and state-dict order of transformers 5.24, and under the `hf`
//! style the schemes its `_init_weights` amounts to (pinned in
//! `data/hf_keys.json` by `tools/reference/pin_hf_keys.py`), so
//! `from_pretrained` finds no missing or unexpected keys. These lists stand
//! in for torch in the Rust tests; the Python tests load the files live.

use std::collections::BTreeMap;

use varinit::DType;
use varinit_io::preset;
use varinit_io::spec::ModelSpec;

fn cases() -> serde_json::Value {
    serde_json::from_str(include_str!("../data/hf_keys.json")).unwrap()
}

fn keys(m: &ModelSpec) -> BTreeMap<String, Vec<u64>> {
    m.tensors.iter().map(|t| (t.name.clone(), t.shape.dims().to_vec())).collect()
}

fn want(case: &serde_json::Value) -> BTreeMap<String, Vec<u64>> {
    serde_json::from_value(case["keys"].clone()).unwrap()
}

#[test]
fn hf_configs_give_transformers_keys() {
    let all = cases();
    for (name, case) in all["cases"].as_object().unwrap() {
        let bytes = serde_json::to_vec(&case["config"]).unwrap();
        for style in ["hf", "megatron", "torchtitan"] {
            let m = preset::from_hf_config(&bytes, name, &[format!("style={style}")]);
            if style == "torchtitan" && name.starts_with("gpt2") {
                // its rules name no GPT-2 weight but an untied lm_head
                let untied = case["config"]["tie_word_embeddings"] == false;
                assert_eq!(m.is_ok(), untied, "{name}");
                continue;
            }
            // torchtitan's rules name the Llama tensors every other family shares; norms keep their own value
            let m = m.unwrap();
            if style == "torchtitan" {
                let norms = m.tensors.iter().filter(|t| t.name.ends_with("norm.weight"));
                let zero_centred = case["config"]["model_type"].as_str().unwrap().starts_with("gemma");
                for t in norms {
                    assert_eq!(
                        t.init,
                        varinit::Init::Constant { value: if zero_centred { 0.0 } else { 1.0 } },
                        "{name}"
                    );
                }
            }
            assert_eq!(keys(&m), want(case), "{name} {style}");
            let order: Vec<&str> = m.tensors.iter().map(|t| t.name.as_str()).collect();
            let want_order: Vec<&str> = case["order"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
            assert_eq!(order, want_order, "{name}: state-dict order");
            assert_eq!(m.hf_config.as_deref(), Some(&bytes[..]), "the config is written unchanged");
            if style == "hf" {
                for t in &m.tensors {
                    assert_eq!(t.init.to_string(), case["schemes"][&t.name], "{name} {}: transformers' init", t.name);
                }
            }
        }
    }
    // every native family is pinned
    for family in preset::HF_MODEL_TYPES {
        assert!(
            all["cases"].as_object().unwrap().values().any(|c| c["config"]["model_type"] == *family),
            "{family} has no pinned case"
        );
    }
}

#[test]
fn megatron_scales_the_output_projections_of_every_family() {
    let all = cases();
    for (name, case) in all["cases"].as_object().unwrap() {
        let bytes = serde_json::to_vec(&case["config"]).unwrap();
        let m = preset::from_hf_config(&bytes, name, &["style=megatron".into()]).unwrap();
        let l = case["config"]["num_hidden_layers"].as_u64().or(case["config"]["n_layer"].as_u64()).unwrap();
        let scaled = format!("normal(mean=0, std={:?})", 0.02 / (2.0 * l as f64).sqrt());
        for t in &m.tensors {
            let out = t.name.ends_with("o_proj.weight")
                || t.name.ends_with("down_proj.weight")
                || t.name.ends_with("experts.down_proj")
                || t.name.ends_with("c_proj.weight");
            if out {
                assert_eq!(t.init.to_string(), scaled, "{name} {}", t.name);
            } else if t.init.to_string().starts_with("normal") {
                assert_eq!(t.init.to_string(), "normal(mean=0, std=0.02)", "{name} {}", t.name);
            }
        }
    }
}

#[test]
fn presets_give_transformers_keys() {
    let all = cases();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let pairs = [
        ("llama", s(&["size=tiny"]), "llama"),
        (
            "llama",
            s(&["size=tiny", "tie_word_embeddings=true", "attention_bias=true", "mlp_bias=true"]),
            "llama_tied_bias",
        ),
        ("gpt2", s(&["size=tiny"]), "gpt2"),
        (
            "gpt2",
            s(&["size=tiny", "n_layer=3", "n_positions=16", "n_inner=100", "tie_word_embeddings=false"]),
            "gpt2_untied_inner",
        ),
    ];
    for (p, sets, case) in pairs {
        let m = preset::expand(p, &sets, DType::BF16).unwrap();
        assert_eq!(keys(&m), want(&all["cases"][case]), "{p} {sets:?}");
        // the generated config names the same architecture
        let cfg: serde_json::Value = serde_json::from_slice(m.hf_config.as_ref().unwrap()).unwrap();
        let again = preset::from_hf_config(&serde_json::to_vec(&cfg).unwrap(), "generated", &[]).unwrap();
        assert_eq!(keys(&again), keys(&m));
        assert_eq!(cfg["dtype"], "bfloat16");
    }
}

#[test]
fn styles_give_their_stds() {
    // hf: everything N(0, 0.02^2) except GPT-2's c_proj; megatron: output projections 0.02/sqrt(2L)
    let m = preset::expand("llama", &["size=tiny".into(), "style=megatron".into()], DType::F32).unwrap();
    for t in &m.tensors {
        let s = t.init.to_string();
        if t.name.ends_with("o_proj.weight") || t.name.ends_with("down_proj.weight") {
            assert_eq!(s, "normal(mean=0, std=0.01)", "{}", t.name); // 0.02 / sqrt(2 * 2)
        } else if t.name.ends_with("norm.weight") {
            assert_eq!(s, "ones");
        } else {
            assert_eq!(s, "normal(mean=0, std=0.02)", "{}", t.name);
        }
    }
    let h = preset::expand("llama", &["size=tiny".into()], DType::F32).unwrap();
    assert!(
        h.tensors
            .iter()
            .filter(|t| t.name.ends_with("proj.weight"))
            .all(|t| t.init.to_string() == "normal(mean=0, std=0.02)")
    );
}

#[test]
fn new_family_presets_read_back_as_their_config() {
    let tiny = ["size=tiny".to_string()];
    for family in ["mixtral", "qwen3", "qwen3_moe", "gemma2", "gemma3_text", "phi3", "olmo2"] {
        let m = preset::expand(family, &tiny, DType::BF16).unwrap();
        let cfg: serde_json::Value = serde_json::from_slice(m.hf_config.as_ref().unwrap()).unwrap();
        assert_eq!(cfg["model_type"], family);
        assert!(cfg["pad_token_id"].is_null() && cfg["dtype"] == "bfloat16", "{cfg}");
        assert_eq!((cfg["hidden_size"].as_u64(), cfg["head_dim"].as_u64()), (Some(64), Some(16)), "{family}");
        let again = preset::from_hf_config(&serde_json::to_vec(&cfg).unwrap(), "generated", &[]).unwrap();
        let names =
            |m: &ModelSpec| m.tensors.iter().map(|t| (t.name.clone(), t.shape.dims().to_vec())).collect::<Vec<_>>();
        assert_eq!(names(&again), names(&m), "{family}");
        assert!(m.source.starts_with(&format!("preset {family} style=hf size=tiny")), "{}", m.source);
        if family.contains("moe") || family == "mixtral" {
            let e = m.tensors.iter().find(|t| t.name.ends_with("layers.0.mlp.experts.gate_up_proj")).unwrap();
            // Mixtral's experts are intermediate_size wide, Qwen3-MoE's moe_intermediate_size
            let f = if family == "mixtral" { 128 } else { 32 };
            assert_eq!(e.shape.dims(), &[4, 2 * f, 64]);
        }
        // the default size is transformers' config defaults
        let d = preset::expand(family, &[], DType::F32).unwrap();
        let cfg: serde_json::Value = serde_json::from_slice(d.hf_config.as_ref().unwrap()).unwrap();
        let want = match family {
            "mixtral" | "qwen3" | "olmo2" => 4096,
            "qwen3_moe" => 2048,
            "phi3" => 3072,
            _ => 2304,
        };
        assert_eq!(cfg["hidden_size"].as_u64(), Some(want), "{family}");
        // torchtitan's rules name the Llama tensors these families share: layer 1's o_proj 0.02/sqrt(2*2)
        let t = preset::expand(family, &["size=tiny".into(), "style=torchtitan".into()], DType::F32).unwrap();
        let o = t.tensors.iter().find(|t| t.name == "model.layers.1.self_attn.o_proj.weight").unwrap();
        assert_eq!(
            o.init,
            varinit::Init::TruncNormal { mean: 0.0, std: 0.02 / 4f64.sqrt(), a: -2.0, b: 2.0 },
            "{family}"
        );
    }
}
