//! `varinit init --style NAME|FILE` as a user runs it: every built-in style
//! on the tiny Llama preset writes, per tensor role, the scheme of the
//! formula its file cites (computed here from the formula, independently of
//! the style files), recorded in the metadata and audited clean with
//! `--exact`; a user style file the same, recorded with its hash; bad style
//! files and styles that name none of a model's weights are one-line usage
//! errors (exit 2).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use varinit::{Init, Layout, Resolved, Shape};

fn varinit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varinit")).args(args).output().expect("run varinit")
}

fn ok(args: &[&str]) -> String {
    let o = varinit(args);
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Exit status 2, one line on stderr containing every needle.
fn usage_error(args: &[&str], needles: &[&str]) -> String {
    let o = varinit(args);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}, stderr {err}", o.status.code());
    for n in needles {
        assert!(err.contains(n), "{args:?}: {err:?} does not mention {n:?}");
    }
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err:?}");
    err
}

/// The safetensors header of `dir/model.safetensors`: (metadata, name -> shape).
fn header(dir: &Path) -> (serde_json::Map<String, serde_json::Value>, BTreeMap<String, Vec<u64>>) {
    let bytes = std::fs::read(dir.join("model.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let h: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let mut meta = serde_json::Map::new();
    let mut shapes = BTreeMap::new();
    for (k, v) in h.as_object().unwrap() {
        if k == "__metadata__" {
            meta = v.as_object().unwrap().clone();
        } else {
            shapes.insert(k.clone(), v["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect());
        }
    }
    (meta, shapes)
}

/// The distribution a role should get, from the cited formula.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// N(0, std²).
    N(f64),
    /// N(0, std²) truncated to ±bound.
    T(f64, f64),
    /// U(-bound, bound).
    U(f64),
    /// Every element this value.
    C(f64),
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
}

fn matches(r: &Resolved, w: Want) -> bool {
    match (r, w) {
        (Resolved::Normal { mean, std }, Want::N(s)) => *mean == 0.0 && close(*std, s),
        (Resolved::TruncNormal { mean, std, low, high }, Want::T(s, b)) => {
            *mean == 0.0 && close(*std, s) && close(*high, b) && close(-*low, b)
        }
        (Resolved::Uniform { low, high }, Want::U(b)) => close(*high, b) && close(-*low, b),
        (Resolved::Constant { value }, Want::C(v)) => *value == v,
        _ => false,
    }
}

/// Every tensor's recorded scheme, resolved with its shape, against
/// `want(role, layer, shape)`; the source names the style.
fn check_recorded(dir: &Path, source: &str, want: &dyn Fn(&str, f64, &[u64]) -> Want) {
    let (meta, shapes) = header(dir);
    assert_eq!(meta["varinit.source"], source, "{meta:?}");
    assert!(!shapes.is_empty());
    for (name, shape) in &shapes {
        let scheme = meta[&format!("varinit.scheme.{name}")].as_str().unwrap();
        let init: Init = scheme.parse().unwrap();
        let r = init.resolve(&Shape::new(shape.clone()).unwrap(), Layout::Torch.into()).unwrap();
        let parts: Vec<&str> = name.split('.').collect();
        let (role, l) = match parts.as_slice() {
            ["model", "layers", l, rest @ ..] => (rest.join("."), l.parse::<f64>().unwrap()),
            _ => (name.clone(), -1.0),
        };
        let w = want(&role, l, shape);
        assert!(matches(&r, w), "{source}: {name} {shape:?}: recorded {scheme} ({r:?}), formula {w:?}");
    }
}

fn audit_exact_passes(dir: &Path) {
    let out = ok(&["audit", dir.to_str().unwrap(), "--exact", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["passed"], true, "{out}");
    for t in v["report"]["tensors"].as_array().unwrap() {
        assert_eq!(t["status"], "pass", "{t}");
        assert_eq!(t["check"]["exact"], true, "{t}");
    }
}

// The tiny Llama preset: 2 layers, d = 64, d_ff = 176, 4 heads of 16 (2 KV
// heads), vocabulary 128, initializer_range 0.02, lm_head untied.
const L: f64 = 2.0;
const D: f64 = 64.0;
const FF: f64 = 176.0;
const STD: f64 = 0.02;

fn is_norm(role: &str) -> bool {
    role.ends_with("norm.weight")
}
fn is_out(role: &str) -> bool {
    role == "self_attn.o_proj.weight" || role == "mlp.down_proj.weight"
}

/// The formula of each built-in style for a Llama tensor role (layer `l`,
/// -1 outside the layers), from the code each style file cites.
fn formula(style: &str, role: &str, l: f64, shape: &[u64]) -> Want {
    let (fan_out, fan_in) = (shape[0] as f64, shape.get(1).copied().unwrap_or(1) as f64);
    match style {
        // transformers _init_weights: N(0, initializer_range²), norms 1
        "hf" => {
            if is_norm(role) {
                Want::C(1.0)
            } else {
                Want::N(STD)
            }
        }
        // Megatron scaled_init_method_normal: sigma / sqrt(2 num_layers)
        "megatron" => match role {
            r if is_norm(r) => Want::C(1.0),
            r if is_out(r) => Want::N(STD / (2.0 * L).sqrt()),
            _ => Want::N(STD),
        },
        // torchtitan llama3: depth_scaled_std = 0.02 / sqrt(2 (layer_id + 1)) for wo, w2, w3; trunc_normal_ a=-2, b=2
        "torchtitan" | "torchtitan_flat" => {
            let depth = if style == "torchtitan" { 2.0 * (l + 1.0) } else { 2.0 * L };
            match role {
                r if is_norm(r) => Want::C(1.0),
                "model.embed_tokens.weight" => Want::N(1.0),
                "lm_head.weight" => Want::T(1.0 / D.sqrt(), 3.0 / D.sqrt()),
                "self_attn.o_proj.weight" | "mlp.up_proj.weight" | "mlp.down_proj.weight" => {
                    Want::T(0.02 / depth.sqrt(), 2.0)
                }
                _ => Want::T(0.02, 2.0),
            }
        }
        // OLMo mitchell: 1/sqrt(d); o 1/sqrt(2 d (l+1)); down 1/sqrt(2 d_ff (l+1)); cutoff 3 sigma
        "olmo" => {
            let t = |s: f64| Want::T(s, 3.0 * s);
            match role {
                r if is_norm(r) => Want::C(1.0),
                "self_attn.o_proj.weight" => t(1.0 / (2.0 * D * (l + 1.0)).sqrt()),
                "mlp.down_proj.weight" => t(1.0 / (2.0 * FF * (l + 1.0)).sqrt()),
                _ => t(1.0 / D.sqrt()),
            }
        }
        // OLMo full_megatron: std; o, down std / sqrt(2 L); lm_head 1/sqrt(d); cutoff 3 sigma
        "olmo_megatron" => {
            let t = |s: f64| Want::T(s, 3.0 * s);
            match role {
                r if is_norm(r) => Want::C(1.0),
                r if is_out(r) => t(STD / (2.0 * L).sqrt()),
                "lm_head.weight" => t(1.0 / D.sqrt()),
                _ => t(STD),
            }
        }
        // GPT-NeoX small_init sqrt(2 / (5 d)), wang_init 2 / L / sqrt(d)
        "neox" => match role {
            r if is_norm(r) => Want::C(1.0),
            r if is_out(r) => Want::N(2.0 / L / D.sqrt()),
            _ => Want::N((2.0 / (5.0 * D)).sqrt()),
        },
        // DeepNet decoder: beta = (8 N)^(-1/4); q, k xavier_uniform(gain 1/sqrt 2); v that times beta; out
        // xavier_uniform(gain beta); fc layers nn.Linear's U(±1/sqrt(fan_in)) times beta
        "deepnet" => {
            let beta = (8.0 * L).powf(-0.25);
            let xavier = |gain: f64| Want::U(gain * (6.0 / (fan_in + fan_out)).sqrt());
            match role {
                r if is_norm(r) => Want::C(1.0),
                "self_attn.q_proj.weight" | "self_attn.k_proj.weight" => xavier(1.0 / 2f64.sqrt()),
                "self_attn.v_proj.weight" => xavier(beta / 2f64.sqrt()),
                "self_attn.o_proj.weight" => xavier(beta),
                r if r.starts_with("mlp.") => Want::U(beta / fan_in.sqrt()),
                _ => Want::N(STD),
            }
        }
        // muP: hidden std * width_mult^-1/2 (width_mult = d / 256); q_proj and the readout zero
        "mup" => match role {
            r if is_norm(r) => Want::C(1.0),
            "self_attn.q_proj.weight" | "lm_head.weight" => Want::C(0.0),
            "model.embed_tokens.weight" => Want::N(STD),
            _ => Want::N(STD / (D / 256.0).sqrt()),
        },
        // Gemma: zero-centred RMSNorm weights (used as 1 + w)
        "gemma" => {
            if is_norm(role) {
                Want::C(0.0)
            } else {
                Want::N(STD)
            }
        }
        other => panic!("no formula for {other}"),
    }
}

const BUILTIN: &[&str] =
    &["hf", "megatron", "torchtitan", "torchtitan_flat", "olmo", "olmo_megatron", "neox", "deepnet", "mup", "gemma"];

#[test]
fn every_builtin_style_writes_its_formula_and_audits_clean() {
    // the built-in list is the one `varinit styles` shows
    let listed: serde_json::Value = serde_json::from_str(&ok(&["styles", "--json"])).unwrap();
    let names: Vec<&str> = listed["styles"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, BUILTIN);
    let dir = tempfile::tempdir().unwrap();
    for style in BUILTIN {
        let out = dir.path().join(style);
        let o = out.to_str().unwrap();
        ok(&["init", "--preset", "llama", "--set", "size=tiny", "--style", style, "-o", o, "--no-sync"]);
        let source = format!("preset llama style={style} size=tiny");
        check_recorded(&out, &source, &|role, l, shape| formula(style, role, l, shape));
        audit_exact_passes(&out);
        // the audit against the preset and style (not the metadata) passes too
        let v: serde_json::Value = serde_json::from_str(&ok(&[
            "audit",
            o,
            "--preset",
            "llama",
            "--set",
            "size=tiny",
            "--style",
            style,
            "--seed",
            "0",
            "--exact",
            "--json",
        ]))
        .unwrap();
        assert_eq!(v["passed"], true, "{style}");
    }
    // --set style=torchtitan depth_init=false is torchtitan_flat, and keeps its old source text
    let out = dir.path().join("flat");
    let o = out.to_str().unwrap();
    ok(&[
        "init",
        "--preset",
        "llama",
        "--set",
        "size=tiny",
        "--set",
        "style=torchtitan",
        "--set",
        "depth_init=false",
        "-o",
        o,
        "--no-sync",
    ]);
    check_recorded(&out, "preset llama size=tiny style=torchtitan depth_init=false", &|role, l, shape| {
        formula("torchtitan_flat", role, l, shape)
    });
}

#[test]
fn a_user_style_file_works_the_same_and_is_recorded_with_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("quarter.style");
    let text = "# output projections std / sqrt(4 (l + 1)), the rest as transformers\n\
                style quarter\n\
                model.layers.{l}.{self_attn.o_proj,mlp.down_proj}.weight = normal(mean=0, std=std/sqrt(4*(l+1)))\n\
                * = keep\n";
    std::fs::write(&file, text).unwrap();
    let f = file.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    ok(&["init", "--preset", "llama", "--set", "size=tiny", "--style", f, "-o", o, "--no-sync"]);
    use sha2::Digest;
    let hex: String = sha2::Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    let source = format!("preset llama style={f}@sha256:{} size=tiny", &hex[..16]);
    check_recorded(&out, &source, &|role, l, _| match role {
        r if is_norm(r) => Want::C(1.0),
        r if is_out(r) => Want::N(STD / (4.0 * (l + 1.0)).sqrt()),
        _ => Want::N(STD),
    });
    audit_exact_passes(&out);
    // the same file as a setting agrees with --style; another style does not
    ok(&["init", "--preset", "llama", "--set", "size=tiny", "--style", f, "--set", &format!("style={f}"), "--dry-run"]);
    usage_error(
        &["init", "--preset", "llama", "--style", f, "--set", "style=megatron", "--dry-run"],
        &["--style", "--set style=megatron", "disagree"],
    );
}

#[test]
fn bad_style_files_are_file_line_column_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.style");
    let f = file.to_str().unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    for (text, line, needle, what) in [
        ("*.bias = zeros\nmodel.layers.{l}.mlp.down_proj.weight = normal(std=sdt/2)\n", 2, "sdt", "unknown variable"),
        ("let x = 1/(L-L)\nmodel.layers.{l}.mlp.down_proj.weight = normal(std=x)\n", 2, "x)", "not finite"),
        ("model.layers.{l}.mlp.down_proj.weight = nromal(std=0.1)\n", 1, "nromal", "did you mean"),
        ("model.layers.{l}.mlp.down_proj.weight\n", 1, "model", "GLOB = SCHEME"),
    ] {
        std::fs::write(&file, text).unwrap();
        let col = text.lines().nth(line - 1).unwrap().find(needle).unwrap() + 1;
        let err = usage_error(
            &["init", "--preset", "llama", "--set", "size=tiny", "--style", f, "-o", o],
            &[&format!("{f}:{line}:{col}: "), what],
        );
        assert!(!out.exists(), "{err}: nothing written");
    }
    usage_error(&["init", "--preset", "llama", "--style", "olmoo", "--dry-run"], &["did you mean \"olmo\""]);
}

#[test]
fn a_style_that_names_no_weight_of_the_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("out");
    let o = o.to_str().unwrap();
    for style in ["torchtitan", "torchtitan_flat", "deepnet", "gemma"] {
        usage_error(
            &["init", "--preset", "gpt2", "--set", "size=tiny", "--style", style, "-o", o],
            &[&format!("style {style} does not apply to gpt2")],
        );
    }
    // the old spelling too; hf applies to everything (it keeps transformers' init)
    usage_error(&["init", "--preset", "gpt2", "--set", "style=torchtitan", "--dry-run"], &["torchtitan", "gpt2"]);
    let cfg = dir.path().join("gpt2.json");
    std::fs::write(&cfg, r#"{"model_type": "gpt2", "n_embd": 32, "n_layer": 2, "n_head": 4, "vocab_size": 50}"#)
        .unwrap();
    let c = cfg.to_str().unwrap();
    usage_error(&["init", "--hf-config", c, "--style", "deepnet", "--dry-run"], &["deepnet does not apply to gpt2"]);
    for style in ["hf", "megatron", "olmo", "neox", "mup"] {
        ok(&["init", "--hf-config", c, "--style", style, "--dry-run"]);
    }
    // the mlp preset and spec files take no --style
    usage_error(&["init", "--preset", "mlp", "--style", "olmo", "--dry-run"], &["--style", "mlp"]);
    let spec = dir.path().join("s.toml");
    std::fs::write(&spec, "[[tensor]]\nname = \"w\"\nshape = [4, 4]\n").unwrap();
    usage_error(&["init", "--spec", spec.to_str().unwrap(), "--style", "olmo", "--dry-run"], &["--style", "spec"]);
}

#[test]
fn hf_config_with_a_style_qwen3() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.json");
    let text = r#"{"model_type": "qwen3", "hidden_size": 64, "intermediate_size": 96, "num_hidden_layers": 3,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100}"#;
    std::fs::write(&cfg, text).unwrap();
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    ok(&["init", "--hf-config", cfg.to_str().unwrap(), "--style", "olmo", "-o", o, "--no-sync"]);
    // OLMo mitchell with d = 64, d_ff = 96; q_norm and k_norm keep transformers' 1
    let t = |s: f64| Want::T(s, 3.0 * s);
    check_recorded(&out, "hf-config qwen3 style=olmo", &|role, l, _| match role {
        r if is_norm(r) => Want::C(1.0),
        "self_attn.o_proj.weight" => t(1.0 / (2.0 * 64.0 * (l + 1.0)).sqrt()),
        "mlp.down_proj.weight" => t(1.0 / (2.0 * 96.0 * (l + 1.0)).sqrt()),
        _ => t(1.0 / 8.0),
    });
    assert_eq!(std::fs::read(out.join("config.json")).unwrap(), text.as_bytes(), "the config is copied unchanged");
    audit_exact_passes(&out);
}
