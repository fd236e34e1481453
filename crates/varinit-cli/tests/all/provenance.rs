//! Every writer's files audit clean with `--exact`, under every layout
//! (and `--transposed`): the provenance a writer records is what the
//! auditor reads back (issue 9: a keras-layout `sample` used to fail its
//! own audit).

use std::path::Path;
use std::process::{Command, Output};

fn varinit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varinit")).args(args).output().expect("runs")
}

fn ok(args: &[&str]) -> String {
    let o = varinit(args);
    assert!(
        o.status.success(),
        "{args:?}: exit {:?}\n{}\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn audit_exact_passes(path: &Path) {
    let p = path.to_str().unwrap();
    let out = ok(&["audit", p, "--exact", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let tensors = v["report"]["tensors"].as_array().unwrap();
    assert_eq!(v["passed"], true, "{out}");
    assert!(!tensors.is_empty(), "{out}");
    for t in tensors {
        assert_eq!(t["status"], "pass", "{p}: {t}");
        assert_eq!(t["check"]["exact"], true, "{p}: {t}");
    }
}

#[test]
fn sample_files_audit_clean_under_every_layout() {
    let dir = tempfile::tempdir().unwrap();
    // the reproduction, then fan-based schemes whose numbers differ between layouts
    let mut n = 0;
    for scheme in ["glorot_uniform", "kaiming_normal(mode=fan_out)", "he_normal", "orthogonal"] {
        for layout in ["torch", "keras", "jax"] {
            for transposed in [false, true] {
                n += 1;
                let f = dir.path().join(format!("w{n}.safetensors"));
                let fs = f.to_str().unwrap();
                let mut args = vec!["sample", scheme, "--shape", "3x3x16x32", "--layout", layout, "-o", fs];
                if transposed {
                    args.push("--transposed");
                }
                ok(&args);
                audit_exact_passes(&f);
            }
        }
    }
}

#[test]
fn init_files_audit_clean_under_every_layout() {
    let dir = tempfile::tempdir().unwrap();
    for layout in ["torch", "keras", "jax"] {
        let spec = dir.path().join(format!("{layout}.toml"));
        std::fs::write(
            &spec,
            format!(
                "seed = 3\nlayout = \"{layout}\"\n\
                 [[tensor]]\nname = \"conv.weight\"\nshape = [3, 3, 16, 32]\ninit = \"glorot_uniform\"\n\
                 [[tensor]]\nname = \"fc.weight\"\nshape = [64, 48]\ninit = \"kaiming_uniform(mode=fan_out)\"\n\
                 [[tensor]]\nname = \"q.weight\"\nshape = [24, 24]\ninit = \"orthogonal\"\n\
                 [[tensor]]\nname = \"fc.bias\"\nshape = [48]\ninit = \"zeros\"\n"
            ),
        )
        .unwrap();
        let out = dir.path().join(layout);
        for shard in ["5GB", "4kB"] {
            ok(&[
                "init",
                "--spec",
                spec.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--max-shard-size",
                shard,
                "--force",
                "--no-sync",
            ]);
            audit_exact_passes(&out);
        }
    }
}

#[test]
fn preset_files_audit_clean() {
    let dir = tempfile::tempdir().unwrap();
    for (preset, set) in [("llama", "size=tiny"), ("gpt2", "size=tiny"), ("mlp", "dims=32,16")] {
        let out = dir.path().join(preset);
        ok(&["init", "--preset", preset, "--set", set, "--dtype", "bf16", "-o", out.to_str().unwrap(), "--no-sync"]);
        audit_exact_passes(&out);
    }
}
