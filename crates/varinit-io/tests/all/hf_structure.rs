//! The presets and `--hf-config` produce exactly the tensor names and shapes
//! that transformers 5.24 saves (pinned in `data/hf_keys.json` by
//! `tools/reference/pin_hf_keys.py`), so `from_pretrained` finds no missing
//! or unexpected keys. CI cannot install torch; these lists stand in for it.

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
                assert!(m.is_err());
                continue;
            }
            let m = m.unwrap();
            assert_eq!(keys(&m), want(case), "{name} {style}");
            assert_eq!(m.hf_config.as_deref(), Some(&bytes[..]), "the config is written unchanged");
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
