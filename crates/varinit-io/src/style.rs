//! Loading an init style by name or from a file (the styles themselves,
//! and applying them, are `varinit::style`).

use std::path::Path;

use serde_json::Value;
use varinit::style::{Style, Vars};

use crate::{IoError, Result};

/// Longest style file read, in bytes (a style is a few dozen lines).
pub const MAX_STYLE_BYTES: u64 = 1 << 20;

/// A built-in style by name, else the style file at that path. A name
/// that is neither gets [`varinit::Error::UnknownStyle`] (with the closest
/// built-in name) when no such file exists.
pub fn load(name_or_path: &str) -> Result<Style> {
    if Style::builtin_names().any(|n| n == name_or_path) {
        return Ok(Style::builtin(name_or_path)?);
    }
    let path = Path::new(name_or_path);
    if !path.exists() {
        // a mistyped built-in name reads better than "no such file"
        return Err(Style::builtin(name_or_path)
            .err()
            .map(IoError::from)
            .unwrap_or_else(|| IoError::Usage(format!("no style {name_or_path:?}"))));
    }
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    if meta.len() > MAX_STYLE_BYTES {
        return Err(IoError::Usage(format!(
            "{}: {} bytes; a style file has at most {MAX_STYLE_BYTES}",
            path.display(),
            meta.len()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| IoError::os(path, e))?;
    Ok(Style::parse(&text, &path.display().to_string())?)
}

/// The style variables ([`varinit::style::VARIABLES`]) of any Hugging Face
/// `config.json` object, whatever its architecture: the field names of the
/// common families are tried in turn, and a multimodal config's
/// `text_config` supplies the fields the top level lacks.
///
/// | variable | fields (first present) | default |
/// |---|---|---|
/// | `L` | `num_hidden_layers`, `n_layer`, `num_layers`, `n_layers` | |
/// | `d` | `hidden_size`, `n_embd`, `d_model` | |
/// | `d_ff` | `moe_intermediate_size` (with experts), `intermediate_size`, `n_inner`, `ffn_dim`, `d_ff` | `4 d` with GPT-2's `n_embd` |
/// | `heads` | `num_attention_heads`, `n_head`, `num_heads` | |
/// | `kv_heads` | `num_key_value_heads` | `heads` |
/// | `head_dim` | `head_dim` | `d / heads` (integer division, as transformers) |
/// | `vocab` | `vocab_size` | |
/// | `std` | `initializer_range`, `init_std` | 0.02 |
/// | `experts` | `num_local_experts`, `num_experts`, `n_routed_experts` | |
///
/// A field that is `null` counts as absent. A variable with no field and
/// no default is left out: a style that uses it then fails with
/// [`varinit::style::StyleErrorKind::MissingVariable`]. A field that is
/// not a non-negative number is an error.
pub fn vars_from_hf_config(config: &Value) -> Result<Vars> {
    let Value::Object(top) = config else {
        return Err(IoError::Usage("a Hugging Face config must be a JSON object".into()));
    };
    let text = top.get("text_config").and_then(Value::as_object);
    let field = |key: &str| -> Result<Option<f64>> {
        let v = match top.get(key) {
            Some(v) if !v.is_null() => Some(v),
            _ => text.and_then(|t| t.get(key)).filter(|v| !v.is_null()),
        };
        match v {
            None => Ok(None),
            Some(v) => match v.as_f64() {
                Some(x) if x.is_finite() && x >= 0.0 => Ok(Some(x)),
                _ => Err(IoError::Usage(format!("config field {key:?} is {v}, not a non-negative number"))),
            },
        }
    };
    let first = |keys: &[&str]| -> Result<Option<f64>> {
        for k in keys {
            if let Some(x) = field(k)? {
                return Ok(Some(x));
            }
        }
        Ok(None)
    };
    let mut vars = Vars::new();
    let layers = first(&["num_hidden_layers", "n_layer", "num_layers", "n_layers"])?;
    let d = first(&["hidden_size", "n_embd", "d_model"])?;
    let heads = first(&["num_attention_heads", "n_head", "num_heads"])?;
    let experts = first(&["num_local_experts", "num_experts", "n_routed_experts"])?.filter(|&e| e > 0.0);
    let moe_ff = if experts.is_some() { field("moe_intermediate_size")? } else { None };
    let gpt2_default = || match (field("n_embd"), d) {
        (Ok(Some(_)), Some(d)) => Some(4.0 * d),
        _ => None,
    };
    let d_ff = match moe_ff {
        Some(x) => Some(x),
        None => first(&["intermediate_size", "n_inner", "ffn_dim", "d_ff"])?.or_else(gpt2_default),
    };
    let kv_heads = field("num_key_value_heads")?.or(heads);
    let head_dim = match (field("head_dim")?, d, heads) {
        (Some(h), _, _) => Some(h),
        (None, Some(d), Some(h)) if h > 0.0 => Some((d / h).floor()),
        _ => None,
    };
    let std = first(&["initializer_range", "init_std"])?.unwrap_or(0.02);
    for (name, value) in [
        ("L", layers),
        ("d", d),
        ("d_ff", d_ff),
        ("heads", heads),
        ("kv_heads", kv_heads),
        ("head_dim", head_dim),
        ("vocab", field("vocab_size")?),
        ("std", Some(std)),
        ("experts", experts),
    ] {
        if let Some(v) = value {
            vars.set(name, v);
        }
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_files_and_typos() {
        assert_eq!(load("olmo").unwrap().name(), "olmo");
        let dir = std::env::temp_dir().join(format!("varinit-style-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("mine.style");
        std::fs::write(&f, "*.bias = zeros\nx.w = normal(std=sdt)\n").unwrap();
        let e = load(f.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{}:2:18: unknown variable \"sdt\"", f.display())), "{e}");
        std::fs::write(&f, "*.bias = zeros\n").unwrap();
        assert_eq!(load(f.to_str().unwrap()).unwrap().name(), "mine");
        let e = load("megatorn").unwrap_err().to_string();
        assert!(e.contains("did you mean \"megatron\""), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn vars(json: &str) -> Vars {
        vars_from_hf_config(&serde_json::from_str(json).unwrap()).unwrap()
    }

    fn all(v: &Vars) -> Vec<(String, f64)> {
        v.iter().map(|(n, x)| (n.to_string(), x)).collect()
    }

    fn expect(v: &Vars, want: &[(&str, f64)]) {
        let want: Vec<(String, f64)> = want.iter().map(|(n, x)| (n.to_string(), *x)).collect();
        assert_eq!(all(v), want);
    }

    #[test]
    fn vars_of_several_families() {
        // Llama: GQA, explicit initializer_range
        let v = vars(
            r#"{"model_type":"llama","num_hidden_layers":4,"hidden_size":64,"intermediate_size":176,
            "num_attention_heads":8,"num_key_value_heads":2,"vocab_size":1000,"initializer_range":0.01}"#,
        );
        let llama = [
            ("L", 4.0),
            ("d", 64.0),
            ("d_ff", 176.0),
            ("heads", 8.0),
            ("kv_heads", 2.0),
            ("head_dim", 8.0),
            ("vocab", 1000.0),
            ("std", 0.01),
        ];
        expect(&v, &llama);
        // GPT-2: n_inner null means 4 d; no kv heads means heads; std default
        let v = vars(r#"{"model_type":"gpt2","n_layer":3,"n_embd":48,"n_head":4,"n_inner":null,"vocab_size":500}"#);
        let gpt2 = [
            ("L", 3.0),
            ("d", 48.0),
            ("d_ff", 192.0),
            ("heads", 4.0),
            ("kv_heads", 4.0),
            ("head_dim", 12.0),
            ("vocab", 500.0),
            ("std", 0.02),
        ];
        expect(&v, &gpt2);
        // OPT: ffn_dim, init_std
        let v = vars(
            r#"{"model_type":"opt","num_hidden_layers":2,"hidden_size":32,"ffn_dim":128,"num_attention_heads":4,
            "vocab_size":300,"init_std":0.03}"#,
        );
        assert_eq!((v.get("d_ff"), v.get("std"), v.get("head_dim")), (Some(128.0), Some(0.03), Some(8.0)));
        // T5: d_model, d_ff, num_layers, num_heads, explicit head_dim (d_kv is not read)
        let v =
            vars(r#"{"model_type":"t5","num_layers":6,"d_model":512,"d_ff":2048,"num_heads":8,"vocab_size":32128}"#);
        assert_eq!(
            (v.get("L"), v.get("d"), v.get("d_ff"), v.get("head_dim")),
            (Some(6.0), Some(512.0), Some(2048.0), Some(64.0))
        );
        // Qwen3-MoE: the experts' width; explicit head_dim not d/heads
        let v = vars(
            r#"{"model_type":"qwen3_moe","num_hidden_layers":2,"hidden_size":64,"intermediate_size":256,
            "moe_intermediate_size":32,"num_experts":8,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":32,"vocab_size":100}"#,
        );
        assert_eq!((v.get("d_ff"), v.get("experts"), v.get("head_dim")), (Some(32.0), Some(8.0), Some(32.0)));
        // Mixtral: experts use intermediate_size
        let v = vars(
            r#"{"model_type":"mixtral","num_hidden_layers":2,"hidden_size":64,"intermediate_size":224,
            "num_local_experts":4,"num_attention_heads":4,"vocab_size":100}"#,
        );
        assert_eq!((v.get("d_ff"), v.get("experts"), v.get("kv_heads")), (Some(224.0), Some(4.0), Some(4.0)));
        // a multimodal config: the text model's fields
        let v = vars(
            r#"{"model_type":"gemma3","initializer_range":0.02,"text_config":{"num_hidden_layers":4,"hidden_size":64,
            "intermediate_size":176,"num_attention_heads":8,"num_key_value_heads":2,"vocab_size":1000,"initializer_range":0.01}}"#,
        );
        assert_eq!(all(&v).len(), 8);
        assert_eq!((v.get("L"), v.get("std"), v.get("head_dim")), (Some(4.0), Some(0.02), Some(8.0)));
        // an unknown architecture with only some fields: the rest are left out
        let v = vars(r#"{"model_type":"mystery","hidden_size":10}"#);
        expect(&v, &[("d", 10.0), ("std", 0.02)]);
    }

    #[test]
    fn vars_feed_a_style_and_bad_fields_are_errors() {
        let v = vars(r#"{"n_layer":3,"n_embd":48,"n_head":4,"vocab_size":500}"#);
        let style = load("olmo").unwrap();
        let a = style.apply(&v, "transformer.h.2.mlp.c_proj.weight", &"zeros".parse().unwrap()).unwrap();
        let s = 1.0 / (2.0 * 192.0 * 3.0f64).sqrt();
        assert_eq!(a.init, varinit::Init::TruncNormal { mean: 0.0, std: s, a: -3.0 * s, b: 3.0 * s });
        // a style needing what the config lacks fails when applied
        let v = vars(r#"{"hidden_size":10}"#);
        let e = style.apply(&v, "model.layers.0.mlp.down_proj.weight", &"zeros".parse().unwrap()).unwrap_err();
        assert!(e.to_string().contains("d_ff"), "{e}");
        let e = vars_from_hf_config(&serde_json::json!({"hidden_size": "big"})).unwrap_err().to_string();
        assert!(e.contains("\"hidden_size\" is \"big\""), "{e}");
        assert!(vars_from_hf_config(&serde_json::json!({"hidden_size": -1})).is_err());
        assert!(vars_from_hf_config(&serde_json::json!([1])).is_err());
    }
}
