//! What a new user meets first: a closed pipe never panics, bad paths exit
//! 2 with one line before any work, nothing is drawn on a stderr that is
//! not a terminal, the example spec file works, and `varinit spec --from`
//! round-trips a checkpoint.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_varinit"))
}

fn varinit(args: &[&str]) -> Output {
    bin().args(args).output().expect("run varinit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(args: &[&str]) -> Output {
    let o = varinit(args);
    assert!(o.status.success(), "{args:?}: {:?} {}", o.status, stderr(&o));
    o
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

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A small varinit-made checkpoint (the mlp preset) and a sampled .npy.
fn fixtures(dir: &Path) -> (PathBuf, PathBuf) {
    let ckpt = dir.join("mlp");
    let s = ckpt.to_str().unwrap();
    ok(&["init", "--preset", "mlp", "--set", "dims=12,8,4", "--seed", "7", "--no-sync", "-o", s]);
    let npy = dir.join("w.npy");
    ok(&["sample", "normal", "--shape", "16x16", "--out", npy.to_str().unwrap()]);
    (ckpt, npy)
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, npy) = fixtures(dir.path());
    let ckpt = ckpt.to_str().unwrap();
    let spec = repo_root().join("examples/mlp.toml");
    let spec = spec.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["propagate", "-L", "4", "-n", "16", "-B", "8"],
        vec!["propagate", "-L", "4", "-n", "16", "-B", "8", "--json"],
        vec!["propagate", "-L", "4", "-n", "16", "-B", "8", "--csv"],
        vec!["gain"],
        vec!["gain", "--json"],
        vec!["gain", "--numeric", "tanh"],
        vec!["critical", "tanh"],
        vec!["critical", "tanh", "--json"],
        vec!["phase", "tanh", "--points", "3"],
        vec!["fans", "64", "3", "7", "7"],
        vec!["sample", "normal", "--shape", "8x8"],
        vec!["sample", "normal", "--shape", "8x8", "--json"],
        vec!["schemes"],
        vec!["schemes", "--json"],
        vec!["init", "--preset", "mlp", "--dry-run"],
        vec!["init", "--spec", spec, "--dry-run", "--json"],
        vec!["audit", ckpt],
        vec!["audit", ckpt, "--json"],
        vec!["spec", "--from", ckpt],
        vec!["bench", "--elements", "4096", "--repeats", "1", "--no-orthogonal"],
        vec!["--help"],
        vec!["audit", "--help"],
    ];
    let _ = npy;
    for args in &commands {
        let mut child = bin()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn varinit");
        // close the reading end before the command has written anything
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        let err = stderr(&o);
        let by_sigpipe = {
            #[cfg(unix)]
            {
                use std::os::unix::process::ExitStatusExt;
                o.status.signal() == Some(13)
            }
            #[cfg(not(unix))]
            false
        };
        assert!(o.status.success() || by_sigpipe, "{args:?}: {:?}, stderr {err}", o.status);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

#[test]
fn bad_paths_exit_2_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ckpt, npy) = fixtures(d);
    let missing = d.join("no-such-checkpoint");
    usage_error(&["audit", missing.to_str().unwrap()], "no such file or folder");
    usage_error(&["spec", "--from", missing.to_str().unwrap()], "no such file or folder");
    // a .npy file is not safetensors, whatever its first 8 bytes say as a length
    usage_error(&["audit", npy.to_str().unwrap()], "not a safetensors file");
    usage_error(&["spec", "--from", npy.to_str().unwrap()], "not a safetensors file");
    let text = d.join("notes.safetensors");
    std::fs::write(&text, "these are not the tensors you are looking for").unwrap();
    usage_error(&["audit", text.to_str().unwrap()], "not a safetensors file");
    // output paths in folders that do not exist: refused at once, nothing written
    let nodir = d.join("figures");
    for (args, flag) in [
        (vec!["phase", "tanh", "--plot"], "--plot"),
        (vec!["propagate", "-L", "3", "-n", "8", "--plot"], "--plot"),
        (vec!["sample", "normal", "--shape", "4x4", "--out"], "--out"),
        (vec!["spec", "--from", ckpt.to_str().unwrap(), "-o"], "--out"),
    ] {
        let ext = if flag == "--plot" {
            "png"
        } else if args[0] == "spec" {
            "toml"
        } else {
            "npy"
        };
        let target = nodir.join(format!("x.{ext}"));
        let mut a = args.clone();
        a.push(target.to_str().unwrap());
        usage_error(&a, "does not exist");
        assert!(!nodir.exists());
    }
    // a plot path that is a folder
    usage_error(&["phase", "tanh", "--plot", d.to_str().unwrap()], "--plot");
}

#[test]
fn the_audit_hint_names_every_way_to_give_schemes() {
    // a safetensors file without varinit metadata: nothing to check against
    let dir = tempfile::tempdir().unwrap();
    let header = br#"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0u8; 8]);
    let f = dir.path().join("plain.safetensors");
    std::fs::write(&f, bytes).unwrap();
    let o = ok(&["audit", f.to_str().unwrap()]);
    let out = stdout(&o);
    assert!(out.contains("1 unchecked"), "{out}");
    for flag in ["--spec", "--preset", "--hf-config"] {
        assert!(out.contains(flag), "the hint does not mention {flag}: {out}");
    }
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _) = fixtures(dir.path());
    let plot = dir.path().join("p.svg");
    for args in [
        vec!["audit", ckpt.to_str().unwrap()],
        vec!["phase", "tanh", "--points", "3", "--plot", plot.to_str().unwrap()],
        vec!["propagate", "-L", "4", "-n", "16", "-B", "8"],
        vec!["init", "--preset", "mlp", "--set", "dims=4,4", "--no-sync", "-o", dir.path().join("o").to_str().unwrap()],
    ] {
        let o = ok(&args);
        assert!(stderr(&o).is_empty(), "{args:?} wrote to stderr: {:?}", stderr(&o));
    }
}

/// On a terminal (a pseudo-terminal from util-linux's `script`, where it
/// exists), the long commands draw their bar on stderr.
#[test]
fn a_progress_bar_on_a_terminal() {
    let probe = Command::new("script").args(["-qec", "true", "/dev/null"]).stdin(Stdio::null()).output();
    if probe.map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("no `script` or no pseudo-terminal here: the terminal case is not tested");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ckpt, _) = fixtures(dir.path());
    let exe = env!("CARGO_BIN_EXE_varinit");
    for (args, label) in [
        ("propagate -L 8 -n 64 -B 32 -a tanh,relu,selu,gelu".to_string(), "propagate"),
        (format!("audit {}", ckpt.display()), "audit"),
        (format!("phase tanh --points 5 --plot {}", dir.path().join("p.svg").display()), "phase diagram"),
    ] {
        // stdout to /dev/null: what `script` records is what the command drew on the terminal's stderr
        let o = Command::new("script")
            .args(["-qec", &format!("{exe} {args} > /dev/null"), "/dev/null"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{args}: {}", stderr(&o));
        let drawn = stdout(&o);
        assert!(drawn.contains(label), "{args}: no bar on the terminal: {drawn:?}");
    }
}

#[test]
fn the_example_spec_file_plans_writes_and_audits() {
    let spec = repo_root().join("examples/mlp.toml");
    let spec = spec.to_str().unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&ok(&["init", "--spec", spec, "--dry-run", "--json"]).stdout).unwrap();
    let tensors = v["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), 6);
    let scheme = |n: &str| tensors.iter().find(|t| t["name"] == n).unwrap()["scheme"].as_str().unwrap().to_string();
    assert!(scheme("fc2.weight").starts_with("kaiming_normal"), "the rule applies: {}", scheme("fc2.weight"));
    assert_eq!(scheme("head.bias"), "zeros");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("mlp");
    ok(&["init", "--spec", spec, "--no-sync", "-o", out.to_str().unwrap()]);
    let o = ok(&["audit", out.to_str().unwrap()]);
    assert!(stdout(&o).contains("6 pass, 0 fail"), "{}", stdout(&o));
}

#[test]
fn spec_from_a_checkpoint_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // a sharded bf16 checkpoint made by varinit: names, shapes, seed, schemes in the metadata
    let ckpt = d.join("llama");
    ok(&[
        "init",
        "--preset",
        "llama",
        "--set",
        "size=tiny",
        "--dtype",
        "bf16",
        "--seed",
        "11",
        "--max-shard-size",
        "100KB",
        "--no-sync",
        "-o",
        ckpt.to_str().unwrap(),
    ]);
    let spec = d.join("llama.toml");
    let o = ok(&["spec", "--from", ckpt.to_str().unwrap(), "-o", spec.to_str().unwrap()]);
    assert!(stdout(&o).contains("schemes from the metadata, 0 chosen"), "{}", stdout(&o));
    let text = std::fs::read_to_string(&spec).unwrap();
    assert!(text.contains("seed = 11\n") && text.contains("dtype = \"bf16\"\n"), "{text}");
    assert!(!text.contains("# chosen"), "{text}");
    // the original is regenerated bit for bit from the spec
    let o = ok(&["audit", ckpt.to_str().unwrap(), "--spec", spec.to_str().unwrap(), "--exact"]);
    assert!(stdout(&o).contains(" 0 fail"), "{}", stdout(&o));
    // the same plan as the original: names, shapes, dtypes, schemes
    let plan = |args: &[&str]| -> serde_json::Value {
        let mut a = vec!["init"];
        a.extend_from_slice(args);
        a.extend(["--dry-run", "--json"]);
        serde_json::from_slice(&ok(&a).stdout).unwrap()
    };
    let from_spec = plan(&["--spec", spec.to_str().unwrap()]);
    let original = plan(&["--preset", "llama", "--set", "size=tiny", "--dtype", "bf16", "--seed", "11"]);
    let key = |v: &serde_json::Value| -> Vec<(String, String, String, String)> {
        v["tensors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].to_string(), t["shape"].to_string(), t["dtype"].to_string(), t["resolved"].to_string()))
            .collect()
    };
    assert_eq!(key(&from_spec), key(&original));
    // refuses to replace the spec without --force
    usage_error(&["spec", "--from", ckpt.to_str().unwrap(), "-o", spec.to_str().unwrap()], "--force");

    // a checkpoint without varinit metadata: the convention fills in, and is marked
    let header = br#"{"model.norm.weight":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"lm_head.weight":{"dtype":"F16","shape":[3,4],"data_offsets":[16,40]},"lm_head.bias":{"dtype":"F32","shape":[3],"data_offsets":[40,52]},"position_ids":{"dtype":"I64","shape":[2],"data_offsets":[52,68]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    bytes.extend_from_slice(&[0u8; 68]);
    let foreign = d.join("foreign.safetensors");
    std::fs::write(&foreign, bytes).unwrap();
    let text = stdout(&ok(&["spec", "--from", foreign.to_str().unwrap()]));
    for line in [
        "init = \"ones\"  # chosen",
        "init = \"normal(mean=0, std=0.02)\"  # chosen",
        "init = \"zeros\"  # chosen",
        "dtype = \"f16\"",
        "# not described: position_ids (I64",
    ] {
        assert!(text.contains(line), "{line:?} missing in\n{text}");
    }
    let spec2 = d.join("foreign.toml");
    std::fs::write(&spec2, &text).unwrap();
    let o = ok(&["init", "--spec", spec2.to_str().unwrap(), "--no-sync", "-o", d.join("fresh").to_str().unwrap()]);
    assert!(stdout(&o).contains("wrote 1 file"), "{}", stdout(&o));
    // --init replaces the weights' default, not the biases' and norms'
    let text = stdout(&ok(&["spec", "--from", foreign.to_str().unwrap(), "--init", "xavier_uniform"]));
    assert_eq!(text.matches("# --init").count(), 1, "{text}");
    assert!(text.contains("init = \"xavier_uniform(gain=1)\"  # --init"), "{text}");
    // a scheme that does not fit a shape is the caller's mistake
    usage_error(&["spec", "--from", foreign.to_str().unwrap(), "--init", "dirac"], "not valid");
}
