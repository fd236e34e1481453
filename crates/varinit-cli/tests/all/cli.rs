//! The `varinit` binary: outputs, and bad input (one line on stderr, exit
//! status 2, no file written).

use std::path::Path;
use std::process::{Command, Output};

fn varinit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varinit")).args(args).output().expect("run varinit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(args: &[&str]) -> serde_json::Value {
    let o = varinit(args);
    assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", stdout(&o)))
}

/// Exit status 2, exactly one line on stderr containing `needle`, nothing on stdout.
fn usage_error(args: &[&str], needle: &str) {
    let o = varinit(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}, stderr {err}", o.status);
    assert!(err.contains(needle), "{args:?}: {err:?} does not mention {needle:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: more than one line: {err:?}");
    assert!(stdout(&o).is_empty(), "{args:?}: printed {:?}", stdout(&o));
}

fn empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().next().is_none()
}

#[test]
fn gain_table_and_values() {
    let o = varinit(&["gain"]);
    assert!(o.status.success());
    let t = stdout(&o);
    for name in ["linear", "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"] {
        assert!(t.contains(name), "{t}");
    }
    assert_eq!(stdout(&varinit(&["gain", "tanh"])).trim(), (5.0f64 / 3.0).to_string());
    assert_eq!(stdout(&varinit(&["gain", "leaky_relu", "--param", "0.2"])).trim(), (2.0f64 / 1.04).sqrt().to_string());
    let v = json(&["gain", "leaky_relu", "--json"]);
    assert_eq!(v["gain"].as_f64().unwrap(), (2.0f64 / 1.0001).sqrt());
    let v = json(&["gain", "--json"]);
    assert_eq!(v["gains"].as_array().unwrap().len(), 12);
}

#[test]
fn fans_under_each_layout() {
    let v = json(&["fans", "64", "3", "7", "7", "--json"]);
    assert_eq!(
        (v["fan_in"].as_u64(), v["fan_out"].as_u64(), v["receptive_field"].as_u64()),
        (Some(147), Some(3136), Some(49))
    );
    let v = json(&["fans", "7x7x3x64", "--layout", "keras", "--json"]);
    assert_eq!((v["fan_in"].as_u64(), v["fan_out"].as_u64()), (Some(147), Some(3136)));
    let v = json(&["fans", "16", "32", "3", "3", "--transposed", "--json"]);
    assert_eq!((v["fan_in"].as_u64(), v["fan_out"].as_u64()), (Some(144), Some(288)));
    let v = json(&["fans", "5", "--layout", "keras", "--json"]);
    assert_eq!((v["fan_in"].as_u64(), v["fan_out"].as_u64()), (Some(5), Some(5)));
}

#[test]
fn sample_reports_the_resolved_distribution() {
    let v = json(&["sample", "kaiming_normal(nonlinearity=relu)", "--shape", "256x512", "--json"]);
    assert_eq!(v["resolved"], "N(0, 0.0625^2)");
    assert_eq!(v["distribution"]["kind"], "normal");
    assert_eq!(v["distribution"]["std"].as_f64().unwrap(), 0.0625);
    assert_eq!(v["numel"].as_u64(), Some(131072));
    let s = v["sample"]["std"].as_f64().unwrap();
    assert!((s / 0.0625 - 1.0).abs() < 0.01, "{s}");
    assert!(v["ks"]["p_value"].as_f64().unwrap() > 1e-6);
    // same request, same numbers; another seed, other numbers
    let again = json(&["sample", "kaiming_normal(nonlinearity=relu)", "--shape", "256x512", "--json"]);
    assert_eq!(v["sample"], again["sample"]);
    let other = json(&["sample", "kaiming_normal(nonlinearity=relu)", "--shape", "256x512", "--seed", "1", "--json"]);
    assert_ne!(v["sample"]["mean"], other["sample"]["mean"]);
    let text = stdout(&varinit(&["sample", "glorot_normal", "--shape", "3x3x64x128", "--layout", "keras"]));
    assert!(text.contains("truncated to") && text.contains("fan_in 576, fan_out 1152"), "{text}");
}

#[test]
fn sample_writes_files_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("w.npy");
    let o = varinit(&["sample", "xavier_uniform", "--shape", "30x40", "--out", npy.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    assert_eq!(bytes.len(), 128 + 30 * 40 * 4);
    let st = dir.path().join("w.safetensors");
    let o = varinit(&["sample", "orthogonal", "--shape", "30x40", "--dtype", "bf16", "--out", st.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // only the two finished files, no temporaries
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn bad_input_is_one_line_status_2_and_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("t.npy");
    let out = out.to_str().unwrap();
    let st = dir.path().join("t.safetensors");
    let st = st.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["sample", "kaiming_nromal", "--shape", "3x3", "-o", out], "did you mean \"kaiming_normal\""),
        (&["sample", "normal(std=0)", "--shape", "3x3", "-o", out], "std = 0: must be > 0"),
        (&["sample", "normal(std=-1)", "--shape", "3x3", "-o", out], "must be > 0"),
        (&["sample", "uniform(a=1, b=0)", "--shape", "3x3", "-o", out], "must be greater than a"),
        (&["sample", "sparse(sparsity=2)", "--shape", "3x3", "-o", out], "must be in [0, 1]"),
        (&["sample", "normal(mean=nan)", "--shape", "3x3", "-o", out], "mean"),
        (&["sample", "trunc_normal(a=inf)", "--shape", "3x3", "-o", out], "invalid a"),
        (&["sample", "kaiming_normal", "--shape", "7", "-o", out], "fewer than 2 dimensions"),
        (&["sample", "dirac", "--shape", "3x3", "-o", out], "3, 4, or 5 dimensions"),
        (&["sample", "kaiming_normal(mode=fan_avg)", "--shape", "3x3", "-o", out], "Mode fan_avg not supported"),
        (
            &["sample", "kaiming_normal(nonlinearity=swish)", "--shape", "3x3", "-o", out],
            "Unsupported nonlinearity swish",
        ),
        (&["sample", "normal", "--shape", "4294967296x4294967296", "-o", out], "more elements than fit in 64 bits"),
        (&["sample", "normal", "--shape", "3xabc", "-o", out], "cannot parse shape"),
        (&["sample", "normal", "--shape", "3x3", "--dtype", "int8", "-o", out], "unknown dtype \"int8\""),
        (&["sample", "normal", "--shape", "3x3", "--layout", "caffe", "-o", out], "unknown layout \"caffe\""),
        (&["sample", "normal", "--shape", "3x3", "--dtype", "bf16", "-o", out], "bfloat16"),
        (&["sample", "normal", "--shape", "3x3", "-o", "t.txt"], "must end in .npy or .safetensors"),
        (&["sample", "normal(std=1", "--shape", "3x3", "-o", st], "expected ',' or ')'"),
        (&["sample", "variance_scaling(distribution=normal)", "--shape", "3x3", "-o", st], "ambiguous"),
        (&["sample", "orthogonal", "--shape", "1000000x1000000", "-o", st], "does not fit"),
        (&["gain", "leaky_relu", "--param", "True"], "negative_slope True not a valid number"),
        (&["gain", "leaky_relu", "--param", "[0.1]"], "negative_slope [0.1] not a valid number"),
        (&["gain", "rleu"], "Unsupported nonlinearity rleu (did you mean \"relu\"?)"),
        (&["fans", "5"], "fewer than 2 dimensions"),
        (&["fans", "0", "4294967296", "4294967296"], "64 bits"),
    ];
    for (args, needle) in cases {
        usage_error(args, needle);
        assert!(empty_dir(dir.path()), "{args:?} left a file behind");
    }
    // clap's own usage errors also exit with 2
    assert_eq!(varinit(&["sample"]).status.code(), Some(2));
    assert_eq!(varinit(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn schemes_lists_everything() {
    let v = json(&["schemes", "--json"]);
    let list = v["schemes"].as_array().unwrap();
    for name in
        ["xavier_uniform", "kaiming_normal", "glorot_normal", "variance_scaling", "orthogonal", "sparse", "dirac"]
    {
        assert!(list.iter().any(|s| s["name"] == name), "{name}");
    }
}

/// The exit status follows the library error's class: 2 for the caller's
/// mistakes, 1 for failures while working; the CLI adds its own flag to the
/// library's message where it helps.
#[test]
fn exit_status_follows_the_error_class() {
    // usage: a core error, an io error, and an io error the CLI adds its flag to
    usage_error(&["sample", "kaiming_nromal", "--shape", "4x4"], "did you mean");
    usage_error(&["init", "--preset", "mlp", "--worker", "3/3", "--dry-run"], "--worker: worker \"3/3\"");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notes.txt"), b"x").unwrap();
    let o = tmp.path().to_str().unwrap();
    usage_error(&["init", "--preset", "mlp", "-o", o], "choose an empty folder or force writing into it (--force)");
    // failure: the operating system refuses to create the folder
    let out = varinit(&["init", "--preset", "mlp", "-o", "/proc/varinit-cannot-be-here/out"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: /proc/varinit-cannot-be-here") && err.trim_end().lines().count() == 1, "{err}");
}
