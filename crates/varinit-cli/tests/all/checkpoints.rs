//! `varinit init` and `varinit audit` end to end: identical bytes for any
//! thread count and worker split, and every error case exits non-zero with
//! one clear line and leaves no complete-looking file.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

fn varinit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varinit")).args(args).output().expect("runs")
}

fn ok(args: &[&str]) -> String {
    let o = varinit(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// (exit code, stderr)
fn fails(args: &[&str]) -> (i32, String) {
    let o = varinit(args);
    assert!(!o.status.success(), "{args:?} should fail");
    let err = String::from_utf8(o.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    (o.status.code().unwrap_or(-1), err)
}

/// SHA-256 of every file in a folder, by name.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let digest = Sha256::digest(fs::read(e.path()).unwrap());
            (e.file_name().to_string_lossy().into_owned(), format!("{digest:x}"))
        })
        .collect()
}

/// Names that look like finished checkpoint files (temporary names start with a dot).
fn complete_looking(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect()
}

const MODEL: &[&str] =
    &["--preset", "llama", "--set", "size=tiny", "--dtype", "bf16", "--seed", "11", "--max-shard-size", "60kB"];

fn init_into(dir: &Path, extra: &[&str]) {
    let d = dir.to_str().unwrap();
    let mut args = vec!["init"];
    args.extend_from_slice(MODEL);
    args.extend_from_slice(&["-o", d]);
    args.extend_from_slice(extra);
    ok(&args);
}

#[test]
fn same_bytes_for_any_thread_count_and_worker_split() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("t1");
    init_into(&base, &["--threads", "1"]);
    let want = hashes(&base);
    assert!(want.len() > 4, "several shards, the index and the config: {want:?}");
    assert!(want.contains_key("model.safetensors.index.json") && want.contains_key("config.json"));
    let all = tmp.path().join("tall");
    init_into(&all, &[]);
    assert_eq!(hashes(&all), want, "threads 1 vs all");
    let three = tmp.path().join("t3");
    init_into(&three, &["--threads", "3", "--no-sync"]);
    assert_eq!(hashes(&three), want, "threads 3, no sync");
    for n in [2u32, 3, 5] {
        let split = tmp.path().join(format!("w{n}"));
        // in reverse order, so later workers find earlier ones' files
        for i in (0..n).rev() {
            let w = format!("{i}/{n}");
            init_into(&split, &["--worker", &w]);
            // the index is the commit point: only the last worker to finish writes it
            let h = hashes(&split);
            if i > 0 {
                assert!(!h.contains_key("model.safetensors.index.json"), "worker {w} of {n}: no index yet");
            } else {
                assert_eq!(h["model.safetensors.index.json"], want["model.safetensors.index.json"]);
            }
        }
        assert_eq!(hashes(&split), want, "{n} workers");
    }
    // the checkpoint describes how it was made, and audits clean, bit for bit
    let out = ok(&["audit", base.to_str().unwrap(), "--exact"]);
    assert!(out.contains("21 tensors in 5 files: 21 pass, 0 fail, 0 unchecked"), "{out}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["audit", base.to_str().unwrap(), "--json", "--exact"])).unwrap();
    assert_eq!(j["passed"], true);
    assert!(j["report"]["tensors"].as_array().unwrap().iter().all(|t| t["check"]["exact"] == true));
}

#[test]
fn dry_run_writes_nothing_and_describes_the_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("dry");
    let out = ok(&["init", "--preset", "gpt2", "--set", "size=tiny", "--dry-run", "-o", d.to_str().unwrap()]);
    assert!(out.contains("transformer.h.1.mlp.c_proj.weight") && out.contains("N(0, 0.01^2)"), "{out}");
    assert!(!d.exists());
    let j: serde_json::Value =
        serde_json::from_str(&ok(&["init", "--preset", "llama", "--dry-run", "--json", "--dtype", "bf16"])).unwrap();
    assert_eq!(j["parameters"], 852_559_872u64);
    assert_eq!(j["total_bytes"], 2 * 852_559_872u64);
}

#[test]
fn bad_input_exits_2_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("m.toml");
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    let cases: &[(&str, &str)] = &[
        ("seed = 1\ncolour = 'red'\n[[tensor]]\nname='a'\nshape=[2]\ninit='zeros'\n", "m.toml:2:1"),
        ("[[tensor]]\nname='a'\nshape=[2]\ninit='zeros'\n[[tensor]]\nname='a'\nshape=[2]\ninit='ones'\n", "duplicate"),
        ("[[tensor]]\nname='a'\nshape=[2,2]\n", "no [[rule]] matches"),
        ("[[tensor]]\nname='a'\nshape=[2,'x']\ninit='zeros'\n", "m.toml:3:7"),
        ("[[tensor]]\nname='a'\nshape=[2,2]\ninit='xavier_nromal'\n", "did you mean"),
        ("[[tensor]]\nname='a'\nshape=[2]\ninit='kaiming_normal'\n", "m.toml:4:6"),
    ];
    for (text, want) in cases {
        fs::write(&spec, text).unwrap();
        let (code, err) = fails(&["init", "--spec", spec.to_str().unwrap(), "-o", o]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(want), "{want}: {err}");
        assert!(complete_looking(&out).is_empty());
    }
    for (args, want) in [
        (vec!["init", "--preset", "llama", "--set", "layers=2", "-o", o], "no setting \"layers\""),
        (vec!["init", "--preset", "lama", "-o", o], "did you mean \"llama\""),
        (vec!["init", "--preset", "mlp", "--max-shard-size", "5 parsecs", "-o", o], "--max-shard-size"),
        (vec!["init", "--preset", "mlp", "--worker", "3/3", "-o", o], "--worker"),
        (vec!["init", "--preset", "mlp", "--dtype", "int4", "-o", o], "int4"),
        (vec!["init", "--hf-config", "/nonexistent/config.json", "-o", o], "config.json"),
    ] {
        let (code, err) = fails(&args);
        assert!(code == 2 || (want == "config.json" && code == 1), "{err}");
        assert!(err.contains(want), "{want}: {err}");
        assert!(complete_looking(&out).is_empty());
    }
    // an unsupported architecture
    let cfg = tmp.path().join("config.json");
    fs::write(&cfg, r#"{"model_type": "bert", "hidden_size": 8}"#).unwrap();
    let (code, err) = fails(&["init", "--hf-config", cfg.to_str().unwrap(), "-o", o]);
    assert!(code == 2 && err.contains("bert"), "{err}");
    assert!(!out.exists());
}

#[test]
fn refuses_a_non_empty_folder_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("notes.txt"), "keep me").unwrap();
    fs::write(out.join("model-00001-of-00009.safetensors"), "stale").unwrap();
    let o = out.to_str().unwrap();
    let (code, err) = fails(&["init", "--preset", "mlp", "-o", o]);
    assert_eq!(code, 2);
    assert!(err.contains("not empty") && err.contains("--force"), "{err}");
    assert_eq!(complete_looking(&out).len(), 2);
    ok(&["init", "--preset", "mlp", "-o", o, "--force"]);
    let mut names = complete_looking(&out);
    names.sort();
    assert_eq!(names, ["model.safetensors", "notes.txt"], "the stale shard is gone, other files stay");
    // a second run into the finished checkpoint needs --force too
    let (code, _) = fails(&["init", "--preset", "mlp", "-o", o]);
    assert_eq!(code, 2);
}

#[test]
fn unusable_output_folders_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    // the output "folder" is a file
    let f = tmp.path().join("file");
    fs::write(&f, "x").unwrap();
    let (code, err) = fails(&["init", "--preset", "mlp", "-o", f.to_str().unwrap()]);
    assert!(code == 2 && err.contains("not a folder"), "{err}");
    // a folder that cannot be created
    let (code, err) = fails(&["init", "--preset", "mlp", "-o", "/proc/varinit-cannot-exist/out"]);
    assert_eq!(code, 1, "{err}");
}

#[cfg(unix)]
#[test]
fn interrupt_removes_unfinished_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("big");
    // about 2 GB of f32 normals on one thread: long enough to interrupt
    let mut child = Command::new(env!("CARGO_BIN_EXE_varinit"))
        .args(["init", "--preset", "mlp", "--set", "dims=16384,16384,16384,512", "--set", "style=hf"])
        .args(["--threads", "1", "--no-sync", "-o", out.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // wait, however long the machine takes, until writing has started
    loop {
        let started = out.exists()
            && fs::read_dir(&out).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with('.'));
        if started {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("finished before it could be interrupted: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "no file left at all");
}

#[test]
fn audit_flags_mismatches_and_malformed_files() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("m");
    let ds = d.to_str().unwrap();
    ok(&["init", "--preset", "llama", "--set", "size=tiny", "-o", ds]);
    ok(&["audit", ds, "--preset", "llama", "--set", "size=tiny"]);
    // checked against the wrong style: megatron's output projections are half as wide here
    let o = varinit(&["audit", ds, "--preset", "llama", "--set", "size=tiny", "--set", "style=megatron"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("o_proj.weight") && out.contains("FAIL"), "{out}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("audit failed: 4 tensors failed"), "{err}");
    // against a model with a different shape
    let (code, err) = fails(&["audit", ds, "--preset", "llama", "--set", "size=tiny", "--set", "vocab_size=100"]);
    assert_eq!(code, 1);
    assert!(err.contains("shape"), "{err}");

    let file = d.join("model.safetensors");
    let good = fs::read(&file).unwrap();
    let n = u64::from_le_bytes(good[..8].try_into().unwrap()) as usize;
    let bad = tmp.path().join("bad.safetensors");
    let b = bad.to_str().unwrap();
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..good.len() - 1].to_vec(), "truncated"),
        (good[..5].to_vec(), "shorter than the 8-byte"),
        ([&(1u64 << 40).to_le_bytes()[..], &good[8..]].concat(), "bad header length"),
        ([&good[..8], b"[", &good[9..]].concat(), "JSON"),
        ([&good[..], b"extra"].concat(), "after the last"),
    ];
    let mut shifted = good.clone();
    let text = String::from_utf8(good[8..8 + n].to_vec()).unwrap();
    let at = text.find("\"data_offsets\":[0,").map(|i| i + "\"data_offsets\":[".len()).unwrap();
    shifted[8 + at] = b'2'; // [0,x] -> [2,x]
    cases.push((shifted, "data_offsets"));
    for (bytes, want) in cases {
        fs::write(&bad, &bytes).unwrap();
        let (code, err) = fails(&["audit", b]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(want), "{want}: {err}");
    }
    let (code, err) = fails(&["audit", "/nonexistent.safetensors"]);
    assert!(code == 2 && err.contains("nonexistent") && err.contains("no such file"), "{err}");
}

/// A real full disk: a 3 MB tmpfs, where the machine lets us mount one (root
/// on Linux); elsewhere the library's failing-sink test covers the path.
#[cfg(target_os = "linux")]
#[test]
fn full_disk_leaves_no_complete_looking_file() {
    struct Mount(std::path::PathBuf);
    impl Drop for Mount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let mnt = tmp.path().join("small");
    fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt.to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("cannot mount a tmpfs here: full-disk CLI test skipped (the library test covers ENOSPC)");
        return;
    }
    let _guard = Mount(mnt.clone());
    let out = mnt.join("out");
    let (code, err) = fails(&["init", "--preset", "mlp", "--set", "dims=1024,1024,1024", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("No space left on device") && err.contains("removed"), "{err}");
    assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "no file left at all");
}

/// Whole-matrix schemes, mixed dtypes and rules: still the same bytes under
/// any thread count and worker split, and the audit passes them.
#[test]
fn structured_schemes_and_mixed_dtypes_are_split_invariant() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("m.toml");
    fs::write(
        &spec,
        r#"
seed = 5
dtype = "bf16"

[[tensor]]
name = "rnn.weight_hh"
shape = [96, 96]
init = "orthogonal(gain=relu)"

[[tensor]]
name = "conv.weight"
shape = [16, 8, 3, 3]
init = "delta_orthogonal"
dtype = "f32"

[[tensor]]
name = "sparse.weight"
shape = [64, 40]
init = "sparse(0.25, std=0.02)"
dtype = "f64"

[[tensor]]
name = "id.weight"
shape = [32, 32]
init = "eye"

[[tensor]]
name = "fc.weight"
shape = [300, 200]
init = "trunc_normal(std=0.02, a=-0.04, b=0.04)"
dtype = "f16"

[[tensor]]
name = "fc.bias"
shape = [300]

[[tensor]]
name = "head.weight"
shape = [7, 300]

[[rule]]
match = "*.bias"
init = "constant(0.1)"

[[rule]]
match = "head.*"
init = "glorot_uniform"
"#,
    )
    .unwrap();
    let s = spec.to_str().unwrap();
    let run = |name: &str, extra: &[&str]| {
        let d = tmp.path().join(name);
        let mut args = vec!["init", "--spec", s, "--max-shard-size", "40kB", "-o", d.to_str().unwrap()];
        args.extend_from_slice(extra);
        ok(&args);
        d
    };
    let want = hashes(&run("a", &["--threads", "1"]));
    assert!(want.len() >= 4, "{want:?}");
    assert_eq!(hashes(&run("b", &["--threads", "2"])), want);
    let c = tmp.path().join("c");
    for w in ["1/2", "0/2"] {
        ok(&["init", "--spec", s, "--max-shard-size", "40kB", "-o", c.to_str().unwrap(), "--worker", w]);
    }
    assert_eq!(hashes(&c), want);
    let out = ok(&["audit", c.to_str().unwrap(), "--exact"]);
    assert!(out.contains("7 pass, 0 fail"), "{out}");
}

// ---- issue 11: checkpoints you can trust ----

/// A spec of three shards: a 4 kB one first, then two of 1 MB.
const THREE_SHARDS: &str = "dtype='f32'\n[[tensor]]\nname='a'\nshape=[1024]\ninit='normal(std=0.02)'\n[[tensor]]\nname='b'\nshape=[512,512]\ninit='normal(std=0.02)'\n[[tensor]]\nname='c'\nshape=[512,512]\ninit='kaiming_uniform'\n";

/// Run `varinit ARGS` with a file-size limit of `limit` bytes (a full disk
/// at a fixed point); with `die`, exceeding it kills the process (SIGXFSZ,
/// like kill -9: no chance to clean up), else writes fail with EFBIG.
#[cfg(target_os = "linux")]
fn with_fsize_limit(args: &[&str], limit: u64, die: bool) -> Output {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new(env!("CARGO_BIN_EXE_varinit"));
    c.args(args);
    // SAFETY: only async-signal-safe calls between fork and exec
    unsafe {
        c.pre_exec(move || {
            let r = libc::rlimit { rlim_cur: limit, rlim_max: limit };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::signal(libc::SIGXFSZ, if die { libc::SIG_DFL } else { libc::SIG_IGN });
            // no core file from the deliberate kill
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    c.output().unwrap()
}

#[cfg(target_os = "linux")]
#[test]
fn a_rerun_stopped_after_its_first_shard_never_leaves_a_mix_that_audits_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("m.toml");
    fs::write(&spec, THREE_SHARDS).unwrap();
    let d = tmp.path().join("mix");
    let (s, o) = (spec.to_str().unwrap(), d.to_str().unwrap());
    let base = ["init", "--spec", s, "--max-shard-size", "8kB", "--no-sync", "-o", o];
    ok(&base);
    ok(&["audit", o, "--exact"]);
    // the same with another seed and --force, the disk full after the first (4 kB) shard
    let rerun: Vec<&str> = base.iter().copied().chain(["--seed", "1", "--force"]).collect();
    let out = with_fsize_limit(&rerun, 256 << 10, false);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("File too large") && err.lines().count() == 1, "{err}");
    let left: Vec<String> =
        fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!left.iter().any(|n| n.starts_with('.')), "no temporary, no lock: {left:?}");
    assert!(!d.join("model.safetensors.index.json").exists(), "the old index went first: {left:?}");
    // shard 1 of seed 1 with shards 2-3 of seed 0: the audit fails, naming the cause
    let o2 = varinit(&["audit", o, "--exact"]);
    assert_eq!(o2.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o2.stdout);
    assert!(text.contains("different runs") && text.contains("no model.safetensors.index.json"), "{text}");
    // killed outright at the same point (SIGXFSZ: nothing can clean up) in a fresh folder
    let k = tmp.path().join("killed");
    let args = ["init", "--spec", s, "--max-shard-size", "8kB", "--no-sync", "-o", k.to_str().unwrap()];
    let out = with_fsize_limit(&args, 256 << 10, true);
    assert!(out.status.code().is_none(), "killed by a signal");
    let o3 = varinit(&["audit", k.to_str().unwrap()]);
    assert_eq!(o3.status.code(), Some(1));
    let text = String::from_utf8_lossy(&o3.stdout);
    assert!(text.contains("incomplete checkpoint: 2 of 3 shards missing"), "{text}");
    // --force cleans the dead run's temporary and lock and completes the checkpoint
    let mut again = args.to_vec();
    again.push("--force");
    ok(&again);
    assert!(complete_looking(&k).len() == fs::read_dir(&k).unwrap().count(), "nothing hidden left");
    ok(&["audit", k.to_str().unwrap(), "--exact"]);
}

#[test]
fn workers_of_different_runs_cannot_share_a_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("w");
    let o = d.to_str().unwrap();
    let run = |w: &str, seed: &str| {
        let mut a = vec!["init", "--preset", "llama", "--set", "size=tiny", "--max-shard-size", "60kB"];
        a.extend_from_slice(&["-o", o, "--worker", w, "--seed", seed]);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let a0 = run("0/2", "1");
    ok(&a0.iter().map(String::as_str).collect::<Vec<_>>());
    let a1 = run("1/2", "2");
    let (code, err) = fails(&a1.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(code == 2 && err.contains("another run"), "{err}");
    assert!(!d.join("model.safetensors.index.json").exists());
}

/// A long single-threaded write to interrupt or to collide with.
#[cfg(unix)]
fn long_init(out: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_varinit"))
        .args(["init", "--preset", "mlp", "--set", "dims=16384,16384,16384,512", "--set", "style=hf"])
        .args(["--threads", "1", "--no-sync", "-o", out.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

#[cfg(unix)]
fn wait_for_partial(dir: &Path, child: &mut std::process::Child) {
    loop {
        let started = dir.exists()
            && fs::read_dir(dir).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().contains(".partial-"));
        if started {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("finished before it could be interrupted: {status}");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[cfg(unix)]
#[test]
fn a_second_writer_is_refused_and_every_signal_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    for sig in ["TERM", "HUP", "INT"] {
        let out = tmp.path().join(format!("big-{sig}"));
        let mut child = long_init(&out);
        wait_for_partial(&out, &mut child);
        if sig == "TERM" {
            // a concurrent run into the same folder: refused, and it touches nothing
            let (code, err) = fails(&["init", "--preset", "mlp", "--force", "-o", out.to_str().unwrap()]);
            assert!(code == 2 && err.contains("another varinit"), "{err}");
        }
        let pid = child.id().to_string();
        assert!(Command::new("kill").args([&format!("-{sig}"), &pid]).status().unwrap().success());
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "SIG{sig}: {err}");
        assert_eq!(fs::read_dir(&out).unwrap().count(), 0, "SIG{sig}: no file left at all");
    }
}

#[cfg(unix)]
#[test]
fn sample_cleans_up_on_a_signal_and_refuses_unrepresentable_values() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("big.npy");
    let mut child = Command::new(env!("CARGO_BIN_EXE_varinit"))
        .args(["sample", "normal", "--shape", "60000x60000", "-o", f.to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for_partial(tmp.path(), &mut child);
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0, "no file left");
    for (scheme, dtype) in [("normal(std=1e6)", "f16"), ("normal(std=1e300)", "f32"), ("constant(val=1e39)", "f32")] {
        let (code, err) = fails(&["sample", scheme, "--shape", "4x4", "--dtype", dtype, "-o", f.to_str().unwrap()]);
        assert!(code == 2 && err.contains("out of range for"), "{scheme}: {err}");
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }
}

#[test]
fn unrepresentable_values_are_refused_before_any_folder_exists() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = tmp.path().join("m.toml");
    fs::write(&spec, "[[tensor]]\nname='a'\nshape=[4]\ninit='zeros'\n[[tensor]]\nname='b'\nshape=[4]\ninit='ones'\n[[tensor]]\nname='c'\nshape=[4]\ninit='constant(val=1e39)'\n").unwrap();
    let out = tmp.path().join("out");
    let (s, o) = (spec.to_str().unwrap(), out.to_str().unwrap());
    let (code, err) = fails(&["init", "--spec", s, "--dry-run"]);
    assert!(code == 2 && err.contains("c (f32)") && err.contains("out of range for f32"), "{err}");
    let (code, _) = fails(&["init", "--spec", s, "--max-shard-size", "16B", "-o", o]);
    assert_eq!(code, 2);
    assert!(!out.exists(), "no folder for bad input");
    let (code, err) =
        fails(&["init", "--preset", "gpt2", "--set", "size=tiny", "--set", "initializer_range=1e300", "-o", o]);
    assert!(code == 2 && err.contains("out of range for"), "{err}");
    let (code, _) = fails(&[
        "init",
        "--preset",
        "gpt2",
        "--set",
        "size=tiny",
        "--dtype",
        "f16",
        "--set",
        "initializer_range=1e6",
        "-o",
        o,
    ]);
    assert_eq!(code, 2);
    assert!(!out.exists());
}

#[test]
fn long_names_never_crash_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    // in a spec: over the name limit, one line
    let spec = tmp.path().join("m.toml");
    let huge = "w".repeat(70_000);
    fs::write(&spec, format!("[[tensor]]\nname='{huge}'\nshape=[4]\ninit='zeros'\n")).unwrap();
    let (code, err) = fails(&["init", "--spec", spec.to_str().unwrap(), "--dry-run"]);
    assert!(code == 2 && err.contains("limit") && err.len() < 400, "{}", &err[..err.len().min(400)]);
    // in a file: a 70,000-character name is refused in one line; a 4,000-character one is shortened
    let write = |name: &str| {
        let p = tmp.path().join("n.safetensors");
        let json = format!(r#"{{"{name}":{{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}}}"#);
        let mut b = (json.len() as u64).to_le_bytes().to_vec();
        b.extend_from_slice(json.as_bytes());
        b.extend_from_slice(&[0u8; 8]);
        fs::write(&p, b).unwrap();
        p
    };
    let p = write(&huge);
    let (code, err) = fails(&["audit", p.to_str().unwrap()]);
    assert!(code == 2 && err.len() < 400, "{}", &err[..err.len().min(400)]);
    let long = "x".repeat(3990) + ".weight";
    let p = write(&long);
    let text = ok(&["audit", p.to_str().unwrap()]);
    assert!(text.contains('…') && !text.contains(&long) && text.lines().all(|l| l.chars().count() < 1000), "{text}");
    let j: serde_json::Value = serde_json::from_str(&ok(&["audit", p.to_str().unwrap(), "--json"])).unwrap();
    assert_eq!(j["report"]["tensors"][0]["name"], long.as_str(), "the JSON keeps it whole");
}

#[cfg(unix)]
#[test]
fn a_fifo_is_refused_not_waited_on() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("d");
    fs::create_dir(&d).unwrap();
    let fifo = d.join("model.safetensors");
    if !Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
        eprintln!("no mkfifo: skipped");
        return;
    }
    for target in [&d, &fifo] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_varinit"))
            .args(["audit", target.to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut waited = 0;
        while child.try_wait().unwrap().is_none() {
            waited += 1;
            if waited > 6000 {
                child.kill().unwrap();
                panic!("audit hangs on a FIFO");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let o = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.code() == Some(2) && err.contains("FIFO"), "{err}");
    }
}

#[test]
fn a_failed_rename_leaves_no_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // a folder where the single file must go
    fs::create_dir_all(out.join("model.safetensors").join("x")).unwrap();
    let (code, err) = fails(&["init", "--preset", "mlp", "--force", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    let hidden: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "{hidden:?}");
}
