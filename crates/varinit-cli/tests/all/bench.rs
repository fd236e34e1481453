//! `varinit bench`: runs on a small buffer, reports every kernel, honours
//! VARINIT_SIMD, refuses bad arguments with exit status 2. (Timings are
//! never asserted.)

use std::process::Command;

fn bench(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_varinit"));
    c.arg("bench").args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run varinit")
}

#[test]
fn json_has_every_kernel_and_the_forced_path() {
    for path in ["scalar", "portable"] {
        let out = bench(
            &[("VARINIT_SIMD", path)],
            &["--elements", "5000", "--repeats", "2", "--threads", "2", "--no-orthogonal", "--json"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["simd_path"], path);
        assert_eq!(v["elements"], 5000);
        assert_eq!(v["threads"], 2);
        let names: Vec<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r["name"].as_str().unwrap(), r["dtype"].as_str().unwrap()))
            .collect();
        for want in
            ["constant fill f32", "uniform f32", "normal f32", "trunc_normal f32", "normal bf16", "trunc_normal bf16"]
        {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
        for r in v["results"].as_array().unwrap() {
            assert!(r["seconds"].as_f64().unwrap() > 0.0 && r["percent_of_fill"].as_f64().unwrap() > 0.0);
        }
    }
}

#[test]
fn text_output() {
    // (orthogonal 4096x4096 takes seconds: not in a test)
    let out = bench(&[], &["--elements", "3000", "--repeats", "1", "--no-orthogonal"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("constant fill") && text.contains("% of fill") && text.contains("SIMD path"), "{text}");
    assert!(!text.contains("orthogonal"), "{text}");
}

#[test]
fn bad_arguments_exit_2() {
    for args in [&["--elements", "0"][..], &["--repeats", "0"][..], &["--threads", "0"][..]] {
        let out = bench(&[], args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: "));
    }
}
