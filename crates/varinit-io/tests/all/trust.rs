//! Checkpoints you can trust (issue 11), at the library level: transactional
//! writes, the run identifier, whole-checkpoint audits, what the output
//! dtype can represent, hostile-input limits, and no leftovers.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use varinit::DType;
use varinit_io::atomic::AtomicFile;
use varinit_io::audit::{self, AuditOptions};
use varinit_io::checkpoint::{self, WriteOptions};
use varinit_io::limits::{MAX_NAME_BYTES, MAX_SCHEME_BYTES, MAX_TENSORS_PER_FILE};
use varinit_io::plan::{INDEX_FILE, Plan, Worker};
use varinit_io::reader::{SafetensorsFile, parse_header};
use varinit_io::run::RUN_ID_KEY;
use varinit_io::{IoError, preset, spec};

fn llama(seed: u64) -> Plan {
    let mut s = preset::expand("llama", &["size=tiny".into()], DType::BF16).unwrap();
    s.dtype = DType::BF16;
    s.seed = seed;
    Plan::new(&s, 60_000).unwrap()
}

fn write_all(plan: &Plan, dir: &Path, force: bool) -> checkpoint::WriteReport {
    let p = checkpoint::prepare_dir(plan, dir, Worker::default(), force).unwrap();
    let r = checkpoint::write(plan, dir, &WriteOptions { sync: false, ..Default::default() }).unwrap();
    drop(p);
    r
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    v.sort();
    v
}

/// A safetensors file from a header's JSON and data bytes.
fn st_file(path: &Path, json: &str, data: &[u8]) {
    let mut b = (json.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(json.as_bytes());
    b.extend_from_slice(data);
    fs::write(path, b).unwrap();
}

#[test]
fn the_run_id_is_in_every_shard_and_follows_the_plan() {
    let a = llama(0);
    assert!(a.shards.len() > 2);
    assert_eq!(a.run_id.len(), 32);
    assert_eq!(llama(0).run_id, a.run_id, "a pure function of the plan");
    assert_ne!(llama(1).run_id, a.run_id, "the seed");
    let mut s = preset::expand("llama", &["size=tiny".into()], DType::BF16).unwrap();
    s.dtype = DType::BF16;
    assert_ne!(Plan::new(&s, 90_000).unwrap().run_id, a.run_id, "the shard layout");
    for sh in &a.shards {
        let n = u64::from_le_bytes(sh.header[..8].try_into().unwrap()) as usize;
        let h = parse_header(&sh.header[8..8 + n], sh.data_len).unwrap();
        assert_eq!(h.metadata[RUN_ID_KEY], a.run_id);
    }
}

#[test]
fn an_interrupted_overwrite_is_visibly_incomplete_never_a_mix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mix");
    let old = llama(0);
    let r = write_all(&old, &dir, false);
    assert!(r.complete);
    assert!(audit::audit(&dir, &AuditOptions { spec: None, exact: true, progress: None }).unwrap().passed());
    // the same model with another seed, stopped right after its first shard
    let new = llama(1);
    let prepared = checkpoint::prepare_dir(&new, &dir, Worker::default(), true).unwrap();
    assert!(!dir.join(INDEX_FILE).exists(), "the old index goes first");
    let stop = AtomicBool::new(false);
    let written = AtomicU64::new(0);
    let first = new.shards[0].file_len();
    let progress = |n: u64| {
        // past shard 1's last byte: shard 2 has started, so shard 1 was renamed into place
        if written.fetch_add(n, Ordering::SeqCst) + n > first {
            stop.store(true, Ordering::SeqCst);
        }
    };
    let opts = WriteOptions { cancel: Some(&stop), progress: Some(&progress), sync: false, ..Default::default() };
    assert!(matches!(checkpoint::write(&new, &dir, &opts), Err(IoError::Interrupted)));
    drop(prepared);
    let n = names(&dir);
    assert!(!n.contains(&INDEX_FILE.to_string()), "{n:?}");
    assert!(n.iter().all(|f| !f.starts_with('.')), "no temporary or lock left: {n:?}");
    // shard 1 is new, the others old: the audit says so, even --exact
    let rep = audit::audit(&dir, &AuditOptions { spec: None, exact: true, progress: None }).unwrap();
    assert!(!rep.passed());
    let all = rep.problems.join("\n");
    assert!(all.contains("different runs") && all.contains(RUN_ID_KEY), "{all}");
    assert!(all.contains("no model.safetensors.index.json"), "{all}");
    // finishing the new run makes a consistent checkpoint again
    write_all(&new, &dir, true);
    let rep = audit::audit(&dir, &AuditOptions::default()).unwrap();
    assert!(rep.passed(), "{:?}", rep.problems);
    assert_eq!(rep.run_id.as_deref(), Some(new.run_id.as_str()));
}

#[test]
fn audit_checks_the_whole_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let plan = llama(0);
    write_all(&plan, &dir, false);
    let third = dir.join(&plan.shards[2].file_name);
    let saved = fs::read(&third).unwrap();
    // a shard named by the index is missing: a problem, not an abort
    fs::remove_file(&third).unwrap();
    let rep = audit::audit(&dir, &AuditOptions::default()).unwrap();
    let all = rep.problems.join("\n");
    assert!(!rep.passed() && all.contains("missing") && all.contains(&plan.shards[2].file_name), "{all}");
    // no index either: "-of-N" still says which are missing
    fs::remove_file(dir.join(INDEX_FILE)).unwrap();
    let rep = audit::audit(&dir, &AuditOptions::default()).unwrap();
    let all = rep.problems.join("\n");
    assert!(all.contains("incomplete checkpoint: 1 of") && all.contains("no model.safetensors.index.json"), "{all}");
    fs::write(&third, &saved).unwrap();
    // a stray shard of another layout
    fs::copy(&third, dir.join("model-00001-of-00009.safetensors")).unwrap();
    let rep = audit::audit(&dir, &AuditOptions::default()).unwrap();
    assert!(rep.problems.join("\n").contains("shards of different checkpoints"), "{:?}", rep.problems);
    fs::remove_file(dir.join("model-00001-of-00009.safetensors")).unwrap();
    write_all(&plan, &dir, true);
    assert!(audit::audit(&dir, &AuditOptions::default()).unwrap().passed());
    // an index whose total_size lies
    let idx = fs::read_to_string(dir.join(INDEX_FILE)).unwrap();
    fs::write(dir.join(INDEX_FILE), idx.replacen("\"total_size\": ", "\"total_size\": 1", 1)).unwrap();
    let rep = audit::audit(&dir, &AuditOptions::default()).unwrap();
    assert!(rep.problems.join("\n").contains("total_size"), "{:?}", rep.problems);
}

#[test]
fn workers_share_a_folder_only_with_the_same_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("w");
    let (a, b) = (llama(1), llama(2));
    let w0: Worker = "0/2".parse().unwrap();
    let w1: Worker = "1/2".parse().unwrap();
    let p = checkpoint::prepare_dir(&a, &dir, w0, false).unwrap();
    let r = checkpoint::write(&a, &dir, &WriteOptions { worker: w0, sync: false, ..Default::default() }).unwrap();
    drop(p);
    assert!(!r.complete && !r.waiting_for.is_empty() && !dir.join(INDEX_FILE).exists());
    // a worker of another run is refused before it writes anything
    let e = checkpoint::prepare_dir(&b, &dir, w1, false).unwrap_err().to_string();
    assert!(e.contains("another run"), "{e}");
    // the right one completes the checkpoint and writes the index
    let p = checkpoint::prepare_dir(&a, &dir, w1, false).unwrap();
    let r = checkpoint::write(&a, &dir, &WriteOptions { worker: w1, sync: false, ..Default::default() }).unwrap();
    drop(p);
    assert!(r.complete && r.waiting_for.is_empty() && dir.join(INDEX_FILE).exists());
    assert!(audit::audit(&dir, &AuditOptions { spec: None, exact: true, progress: None }).unwrap().passed());
}

#[test]
fn unrepresentable_values_are_refused_when_planning() {
    let text = |third: &str, dtype: &str| {
        format!(
            "dtype = '{dtype}'\n[[tensor]]\nname='a'\nshape=[4]\ninit='zeros'\n[[tensor]]\nname='b'\nshape=[4]\ninit='ones'\n[[tensor]]\nname='c'\nshape=[4,4]\ninit='{third}'\n"
        )
    };
    for (third, dtype, ok) in [
        ("constant(val=1e39)", "f32", false),
        ("constant(val=1e39)", "f64", true),
        ("normal(std=1e300)", "f32", false),
        ("normal(std=1e6)", "f16", false),
        ("normal(std=1e6)", "bf16", true),
        ("constant(val=1e-10)", "f16", false),
        ("uniform(a=1e-10, b=2e-10)", "f16", false),
        ("uniform(a=-70000, b=1)", "f16", false),
        ("normal(std=0.02)", "f16", true),
    ] {
        let s = spec::parse(&text(third, dtype), "m.toml").unwrap();
        let r = Plan::new(&s, 1 << 20);
        assert_eq!(r.is_ok(), ok, "{third} in {dtype}: {:?}", r.err().map(|e| e.to_string()));
        if let Err(e) = r {
            let m = e.to_string();
            assert!(m.starts_with("c (") && m.contains(dtype) && e.is_usage(), "{m}");
        }
    }
    // the preset route (initializer_range) too
    let s = preset::expand("gpt2", &["size=tiny".into(), "initializer_range=1e300".into()], DType::F32).unwrap();
    assert!(Plan::new(&s, 1 << 30).is_err());
}

#[test]
fn a_failed_rename_removes_its_temporary() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("model.safetensors");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("x"), "in the way").unwrap();
    let mut f = AtomicFile::create(&dest).unwrap();
    f.write_all(b"complete").unwrap();
    assert!(f.commit().is_err());
    assert_eq!(names(tmp.path()), ["model.safetensors"], "no .partial left");
}

#[test]
fn force_removes_stale_temporaries_and_locks() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("s");
    fs::create_dir(&dir).unwrap();
    // left by a writer killed with -9 (process 4194303 cannot exist: above pid_max's ceiling)
    fs::write(dir.join(".model-00001-of-00005.safetensors.partial-4194303"), "half").unwrap();
    fs::write(dir.join(".varinit.lock-4194303"), "abc 0/1 4194303\n").unwrap();
    let plan = llama(0);
    // without --force the folder is not empty
    let e = checkpoint::prepare_dir(&plan, &dir, Worker::default(), false).unwrap_err().to_string();
    assert!(e.contains("not empty"), "{e}");
    let p = checkpoint::prepare_dir(&plan, &dir, Worker::default(), true).unwrap();
    assert!(p.removed.iter().any(|r| r.to_string_lossy().contains(".partial-4194303")));
    drop(p);
    assert!(names(&dir).is_empty(), "{:?}", names(&dir));
}

#[test]
fn a_forged_scheme_fails_its_tensor_and_the_audit_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("forged.safetensors");
    let long = "normal(std=1".to_string() + &"0".repeat(MAX_SCHEME_BYTES) + ")";
    let json = format!(
        r#"{{"__metadata__":{{"varinit.seed":"0","varinit.scheme.a":"normal(std=","varinit.scheme.b":"zeros","varinit.scheme.c":"{long}","varinit.scheme.d":"orthogonal"}},"a":{{"dtype":"F32","shape":[2],"data_offsets":[0,8]}},"b":{{"dtype":"F32","shape":[2],"data_offsets":[8,16]}},"c":{{"dtype":"F32","shape":[2],"data_offsets":[16,24]}},"d":{{"dtype":"F32","shape":[2],"data_offsets":[24,32]}}}}"#
    );
    st_file(&f, &json, &[0u8; 32]);
    let rep = audit::audit(&f, &AuditOptions { spec: None, exact: true, progress: None }).unwrap();
    let by = |n: &str| rep.tensors.iter().find(|t| t.name == n).unwrap();
    assert_eq!(rep.tensors.len(), 4);
    assert_eq!(by("a").status, audit::Status::Fail);
    let note = by("a").notes.join(";");
    assert!(note.contains("forged.safetensors") && note.contains("\"a\"") && note.contains("does not parse"), "{note}");
    assert_eq!(by("b").status, audit::Status::Pass);
    assert!(by("c").notes.join(";").contains("limit"), "{:?}", by("c").notes);
    assert_eq!(by("d").status, audit::Status::Fail, "{:?}", by("d").notes);
}

#[test]
fn a_file_truncated_while_being_read_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("t.safetensors");
    st_file(&p, r#"{"a":{"dtype":"F32","shape":[1024],"data_offsets":[0,4096]}}"#, &[0u8; 4096]);
    let f = SafetensorsFile::open(&p).unwrap();
    let t = f.header.tensors[0].clone();
    fs::OpenOptions::new().write(true).open(&p).unwrap().set_len(100).unwrap();
    let e = f.data(&t).unwrap_err().to_string();
    assert!(e.contains("t.safetensors") && e.contains("shorter"), "{e}");
}

#[cfg(unix)]
#[test]
fn special_files_are_refused_without_blocking() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    fs::create_dir(&dir).unwrap();
    let fifo = dir.join("model.safetensors");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    if !made {
        eprintln!("no mkfifo here: skipped");
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let d = dir.clone();
    std::thread::spawn(move || {
        let _ = tx.send(audit::audit(&d, &AuditOptions::default()).map(|_| ()).map_err(|e| e.to_string()));
    });
    let r = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("audit must not block on a FIFO");
    let e = r.unwrap_err();
    assert!(e.contains("FIFO") && e.contains("model.safetensors"), "{e}");
    assert!(SafetensorsFile::open("/dev/zero").err().unwrap().to_string().contains("device"));
}

#[test]
fn header_limits() {
    // a name over the limit
    let name = "n".repeat(MAX_NAME_BYTES + 1);
    let e = parse_header(format!(r#"{{"{name}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}}}"#).as_bytes(), 0)
        .unwrap_err();
    assert!(e.contains("limit") && e.len() < 300, "{e}");
    // more tensors than a file may hold
    let mut h = String::from("{");
    for i in 0..=MAX_TENSORS_PER_FILE {
        if i > 0 {
            h.push(',');
        }
        h.push_str(&format!(r#""{i:x}":{{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}"#));
    }
    h.push('}');
    let e = parse_header(h.as_bytes(), 0).unwrap_err();
    assert!(e.contains("more than"), "{e}");
    // deep nesting is a JSON error, not a stack overflow
    let deep = format!(r#"{{"a":{}{}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_header(deep.as_bytes(), 0).is_err());
    let deep = format!(r#"{{"__metadata__":{{"x":{}{}}}}}"#, "[".repeat(100_000), "]".repeat(100_000));
    assert!(parse_header(deep.as_bytes(), 0).is_err());
}

#[test]
fn index_limits() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("i");
    fs::create_dir(&dir).unwrap();
    // larger than the index limit: refused by its size, never read (a sparse file)
    let idx = fs::File::create(dir.join(INDEX_FILE)).unwrap();
    idx.set_len(varinit_io::limits::MAX_INDEX_BYTES + 1).unwrap();
    drop(idx);
    let e = audit::audit(&dir, &AuditOptions::default()).unwrap_err().to_string();
    assert!(e.contains("limit"), "{e}");
    // 100,000 shard names: more than a checkpoint may have, found in linear time
    let map: Vec<String> =
        (0..100_000).map(|i| format!("\"t{i}\": \"model-{:05}-of-99999.safetensors\"", i % 100_000)).collect();
    fs::write(dir.join(INDEX_FILE), format!("{{\"weight_map\": {{{}}}}}", map.join(","))).unwrap();
    let e = audit::audit(&dir, &AuditOptions::default()).unwrap_err().to_string();
    assert!(e.contains("more than 99999 shard files"), "{e}");
}

/// A 1 MB adversarial header (every entry a zero-size tensor, the cheapest
/// bytes an attacker can spend per tensor) is parsed completely and its
/// tensors audited; the time and memory figures in the README come from
/// `cargo run --release -p varinit-io --example hostile_header`.
#[test]
fn a_one_megabyte_adversarial_header_is_audited() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("h.safetensors");
    let mut h = String::from("{");
    let mut i = 0u64;
    while h.len() < 1 << 20 {
        if i > 0 {
            h.push(',');
        }
        h.push_str(&format!(r#""{i:x}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"#));
        i += 1;
    }
    h.push('}');
    st_file(&p, &h, &[]);
    let rep = audit::audit(&p, &AuditOptions::default()).unwrap();
    assert_eq!(rep.tensors.len() as u64, i);
}

mod property {
    use proptest::prelude::*;
    use varinit_io::limits::MAX_NAME_BYTES;
    use varinit_io::reader::parse_header;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

        /// Names around the length limit, nesting of any depth, any count:
        /// an answer (never a panic), and every accepted header within the limits.
        #[test]
        fn the_reader_keeps_its_limits(
            len in prop_oneof![1usize..64, (MAX_NAME_BYTES - 2)..(MAX_NAME_BYTES + 3)],
            count in 0usize..40,
            depth in 0usize..3000,
            nest_in_meta in any::<bool>(),
        ) {
            let mut h = String::from("{");
            if depth > 0 {
                let n = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
                if nest_in_meta {
                    h.push_str(&format!(r#""__metadata__":{{"k":{n}}},"#));
                } else {
                    h.push_str(&format!(r#""deep":{n},"#));
                }
            }
            for i in 0..count {
                let name = format!("{i:0len$}");
                h.push_str(&format!(r#""{name}":{{"dtype":"BF16","shape":[1],"data_offsets":[{},{}]}},"#, 2 * i, 2 * i + 2));
            }
            if h.ends_with(',') { h.pop(); }
            h.push('}');
            let r = parse_header(h.as_bytes(), 2 * count as u64);
            if let Ok(hd) = &r {
                prop_assert!(hd.tensors.iter().all(|t| t.name.len() <= MAX_NAME_BYTES));
                prop_assert_eq!(hd.tensors.len(), count);
                prop_assert_eq!(depth, 0);
            }
            if depth == 0 && len <= MAX_NAME_BYTES {
                prop_assert!(r.is_ok(), "{:?}", r);
            }
        }
    }
}
