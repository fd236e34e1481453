//! `varinit gain --numeric`, `critical`, `phase` and `propagate` as a user
//! runs them: output, files, and one-line errors with exit status 2.

use std::process::{Command, Output};

fn varinit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varinit")).args(args).output().expect("run varinit")
}

fn ok(args: &[&str]) -> String {
    let o = varinit(args);
    assert!(o.status.success(), "{args:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Exit status 2, one line on stderr containing `needle`, nothing on stdout.
fn usage_error(args: &[&str], needle: &str) {
    let o = varinit(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: status {:?}, stderr {err}", o.status.code());
    assert!(err.contains(needle), "{args:?}: {err:?} does not mention {needle:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: not one line: {err:?}");
    assert!(o.stdout.is_empty(), "{args:?}: printed {:?}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn bad_input_is_a_one_line_usage_error() {
    let small = ["propagate", "-L", "3", "-n", "16", "-B", "4"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { small.iter().chain(extra).copied().collect() };
    usage_error(&with(&["-a", "rleu"]), "did you mean \"relu\"");
    usage_error(&["critical", "swoosh"], "Unsupported nonlinearity swoosh");
    usage_error(&["phase", "tanhh", "--plot", "x.svg"], "did you mean \"tanh\"");
    usage_error(&["gain", "--numeric", "sigmoyd"], "did you mean \"sigmoid\"");
    usage_error(&["propagate", "--depth", "0"], "depth = 0");
    usage_error(&["propagate", "--width", "0"], "width = 0");
    usage_error(&["propagate", "--batch", "1"], "batch = 1");
    usage_error(&["propagate", "--width", "1000000"], "GB of memory");
    usage_error(&with(&["-i", "kaiming_nromal"]), "did you mean \"kaiming_normal\"");
    usage_error(&with(&["--bias", "normal(std=-1)"]), "std");
    usage_error(&with(&["--plot", "out.jpg"]), ".svg or .png");
    usage_error(&with(&["--data", "/nonexistent/data.csv"]), "/nonexistent/data.csv");
    usage_error(&with(&["--every", "0"]), "--every 0");
    for bad in ["nan", "inf", "-inf", "-0.5"] {
        usage_error(&["critical", "tanh", "--sigma-b2", bad], "sigma_b2");
    }
    usage_error(&["critical", "tanh", "--q0", "nan"], "q0");
    usage_error(&["critical", "tanh", "--fan", "0"], "--fan 0");
    usage_error(&["phase", "tanh", "--sigma-w2-max", "inf"], "--sigma-w2-max");
    usage_error(&["phase", "tanh", "--sigma-b2-max", "nan"], "--sigma-b2-max");
}

#[test]
fn numeric_gains_table() {
    let out = ok(&["gain", "--numeric"]);
    for name in ["linear", "relu", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu", "elu(1)", "selu", "softplus", "mish"]
    {
        assert!(out.contains(name), "{name} missing:\n{out}");
    }
    assert!(out.contains("note: tanh: PyTorch's 5/3"), "{out}");
    assert!(out.contains("note: selu: PyTorch's 3/4"), "{out}");
    let v: serde_json::Value = serde_json::from_str(&ok(&["gain", "--numeric", "tanh", "--json"])).unwrap();
    let g = &v["gains"][0];
    assert!((g["forward"].as_f64().unwrap() - 1.592537419698).abs() < 1e-9);
    assert_eq!(g["edge_of_chaos_sigma_w"].as_f64(), Some(1.0));
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["gain", "--numeric", "leaky_relu", "--param", "0.2", "--json"])).unwrap();
    assert!((v["gains"][0]["forward"].as_f64().unwrap() - (2.0f64 / 1.04).sqrt()).abs() < 1e-12);
    // the PyTorch table itself is unchanged
    assert!(ok(&["gain", "tanh"]).starts_with("1.6666666666666667"));
}

#[test]
fn critical_reports_the_edge_of_chaos() {
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["critical", "tanh", "--sigma-b2", "0.05", "--fan", "512", "--json"])).unwrap();
    let w = v["critical"]["sigma_w2"].as_f64().unwrap();
    assert!((w - 1.7609546396067).abs() < 1e-9, "{w}");
    assert_eq!(v["critical"]["xi_c"], serde_json::Value::Null); // infinite
    let scheme = v["weight_scheme"].as_str().unwrap();
    assert!(scheme.starts_with("normal(std=0.0586"), "{scheme}");
    // the scheme it prints is valid in the grammar
    ok(&["sample", scheme, "--shape", "512x512"]);
    let relu = ok(&["critical", "relu"]);
    assert!(relu.contains("sigma_w^2 = 2 "), "{relu}");
    let none = ok(&["critical", "relu", "--sigma-b2", "0.1"]);
    assert!(none.contains("no edge of chaos"), "{none}");
}

#[test]
fn propagate_outputs_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let small = ["propagate", "-L", "6", "-n", "32", "-B", "8", "-a", "tanh,leaky_relu(0.2)"];
    let text = ok(&small);
    assert!(text.contains("Verdict (from this run):"), "{text}");
    assert!(text.contains("xavier+tanh:") && text.contains("kaiming+leaky_relu(0.2):"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&ok(&[&small[..], &["--json"]].concat())).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 4);
    assert_eq!(v["runs"][0]["layers"].as_array().unwrap().len(), 6);
    let csv = ok(&[&small[..], &["--csv"]].concat());
    assert_eq!(csv.lines().count(), 1 + 4 * 6);
    assert!(csv.starts_with("label,activation,init,layer,"));
    // same seed, same numbers
    assert_eq!(csv, ok(&[&small[..], &["--csv"]].concat()));
    for ext in ["svg", "png"] {
        let p = dir.path().join(format!("p.{ext}"));
        ok(&[&small[..], &["--plot", p.to_str().unwrap()]].concat());
        let bytes = std::fs::read(&p).unwrap();
        if ext == "png" {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
        } else {
            let s = String::from_utf8(bytes).unwrap();
            assert!(s.contains("<svg") && s.contains("xavier+tanh") && s.contains("layer"));
        }
    }
    let conv = ok(&["propagate", "-L", "3", "-n", "8", "-B", "4", "--conv", "3", "--image", "5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&conv).unwrap();
    assert_eq!(v["runs"][0]["layers"][1]["fan_in"].as_u64(), Some(72));
    usage_error(&["propagate", "-L", "3", "-n", "8", "-B", "4", "--conv", "4"], "must be odd");
    usage_error(&["propagate", "-L", "3", "-n", "8", "-B", "4", "--image", "4"], "--image needs --conv");
    let lsuv = ok(&["propagate", "-L", "4", "-n", "32", "-B", "16", "-a", "tanh", "-i", "lsuv"]);
    assert!(lsuv.contains("LSUV:") && lsuv.contains("lsuv it"), "{lsuv}");
}

#[test]
fn propagate_reads_csv_and_gzip() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let rows: String = (0..12).map(|i| format!("{},{},{},{}\n", i, (i * 7) % 5, i % 3, i % 2)).collect();
    let plain = dir.path().join("d.csv");
    std::fs::write(&plain, format!("a,b,c,label\n{rows}")).unwrap();
    let gz = dir.path().join("d.csv.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(rows.as_bytes()).unwrap();
    enc.finish().unwrap();
    let args = |p: &std::path::Path| -> Vec<String> {
        ["propagate", "-L", "3", "-n", "16", "-B", "10", "-a", "relu", "-i", "kaiming_normal", "--csv", "--data"]
            .iter()
            .map(|s| s.to_string())
            .chain([p.display().to_string()])
            .collect()
    };
    let a: Vec<String> = args(&plain);
    let b: Vec<String> = args(&gz);
    let out_a = ok(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let out_b = ok(&b.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(out_a, out_b, "the header line is skipped and gzip is read");
    // fan_in of the first layer = 3 columns (the label is dropped)
    assert!(out_a.lines().nth(1).unwrap().contains(",1,3,"), "{out_a}");
    let mut too_many = a.clone();
    too_many[6] = "20".into();
    usage_error(&too_many.iter().map(String::as_str).collect::<Vec<_>>(), "only 12 rows");
    std::fs::write(&plain, "1,2,3\n4,5\n").unwrap();
    usage_error(&a.iter().map(String::as_str).collect::<Vec<_>>(), "line 2");
}

#[test]
fn phase_diagram() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("phase.svg");
    let out = ok(&["phase", "relu", "--points", "3", "--plot", p.to_str().unwrap()]);
    assert!(out.contains("positively homogeneous"), "{out}");
    let svg = std::fs::read_to_string(&p).unwrap();
    assert!(svg.contains("edge of chaos") && svg.contains("σ_w²"));
    let v: serde_json::Value = serde_json::from_str(&ok(&["phase", "tanh", "--points", "3", "--json"])).unwrap();
    let line = v["critical_line"].as_array().unwrap();
    assert_eq!(line[0]["sigma_w2"].as_f64(), Some(1.0));
    assert!((line[2]["sigma_w2"].as_f64().unwrap() - 4.2663961061271).abs() < 1e-9);
}

#[test]
fn verdicts_know_finite_width() {
    // The runs of issue 16: 30 layers of 512 units, batch 256, seeds 1-6.
    // Kaiming + ReLU drifts by finite-width noise only (seed 1: x3.1 over 30
    // layers, once called "x1.04 per layer"); Xavier + ReLU halves per layer.
    for seed in 1..=6 {
        let s = seed.to_string();
        let text = ok(&["propagate", "-L", "30", "-n", "512", "-a", "relu", "--seed", &s]);
        let line = |label: &str| text.lines().find(|l| l.trim_start().starts_with(label)).unwrap().to_string();
        let k = line("kaiming+relu:");
        assert!(k.contains("kaiming+relu: stable within finite-width noise"), "seed {seed}: {k}");
        let x = line("xavier+relu:");
        // "forward variance x0.49 per layer (...); gradients x0.50 per layer (...)"
        let rate = |what: &str| -> f64 {
            let rest = &x[x.find(what).unwrap_or_else(|| panic!("seed {seed}: {x}")) + what.len()..];
            assert!(rest[..rest.find(' ').unwrap()].len() <= 4 && rest.contains(" per layer"), "seed {seed}: {x}");
            rest[..rest.find(' ').unwrap()].parse().unwrap()
        };
        for what in ["forward variance x", "gradients x"] {
            assert!((0.46..=0.54).contains(&rate(what)), "seed {seed}: {x}");
        }
    }
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["propagate", "-L", "30", "-n", "512", "-a", "relu", "--seed", "1", "--json"]))
            .unwrap();
    let k = &v["runs"][1]["forward_assessment"];
    assert_eq!(k["verdict"], "stable_within_noise");
    // 5 (L - 1) / n for ReLU
    assert!((k["noise_sd"].as_f64().unwrap() - (5.0 * 29.0 / 512.0f64).sqrt()).abs() < 1e-9, "{k}");
    assert_eq!(v["runs"][0]["forward_assessment"]["verdict"], "as_predicted");
}

#[test]
fn residual_stacks() {
    let dir = tempfile::tempdir().unwrap();
    let small = ["propagate", "--residual", "-L", "8", "-n", "64", "-B", "16"];
    let text = ok(&small);
    assert!(text.contains("Pre-norm residual stacks: 8 blocks"), "{text}");
    for (label, shape) in [
        ("kaiming+relu, s = none:", "linear in depth"),
        ("kaiming+relu, s = 1/sqrt(2L):", "bounded in depth"),
        ("kaiming+relu, s = 1/sqrt(2(l+1)):", "sublinear in depth"),
    ] {
        let line =
            text.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}\n{text}"));
        assert!(line.contains(shape), "{line}");
    }
    let v: serde_json::Value = serde_json::from_str(&ok(&[&small[..], &["--json", "-a", "tanh"]].concat())).unwrap();
    assert_eq!(v["runs"].as_array().unwrap().len(), 3);
    let last = &v["runs"][0]["blocks"][7];
    assert!((last["predicted_stream"].as_f64().unwrap() / last["stream"].as_f64().unwrap() - 1.0).abs() < 0.15);
    let csv = ok(&[&small[..], &["--csv", "--branch-scale", "2/L"]].concat());
    assert_eq!(csv.lines().count(), 1 + 8);
    assert!(csv.contains(",2/L,8,0.25,"), "{csv}");
    let p = dir.path().join("r.png");
    ok(&[&small[..], &["--plot", p.to_str().unwrap()]].concat());
    assert!(std::fs::read(&p).unwrap().starts_with(b"\x89PNG\r\n\x1a\n"));
    usage_error(&[&small[..], &["--branch-scale", "1/sqrt(2x)"]].concat(), "unknown name \"x\"");
    usage_error(&[&small[..], &["--branch-scale", "1/(L-8)"]].concat(), "must be a finite number");
    usage_error(&[&small[..], &["-i", "lsuv"]].concat(), "lsuv");
    // --branch-scale belongs to --residual; --residual is for Gaussian inputs and dense blocks
    assert_eq!(varinit(&["propagate", "--branch-scale", "none"]).status.code(), Some(2));
    assert_eq!(varinit(&["propagate", "--residual", "--conv", "3"]).status.code(), Some(2));
}

/// List flags are split by the scheme grammar: commas inside nested
/// parentheses or quotes stay in their item.
#[test]
fn list_flags_split_on_top_level_commas_only() {
    let args = [
        "propagate",
        "-L",
        "3",
        "-n",
        "16",
        "-B",
        "4",
        "-a",
        "leaky_relu(negative_slope=1/(2+(1+2))),tanh",
        "-i",
        "orthogonal(gain=sqrt(2*(1/2))), kaiming_normal(mode='fan_in')",
        "--json",
    ];
    let v: serde_json::Value = serde_json::from_str(&ok(&args)).unwrap();
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4, "2 activations x 2 inits: {v}");
    usage_error(&["propagate", "-L", "3", "-n", "16", "-B", "4", "-a", "tanh,relu)"], "unbalanced ')'");
    usage_error(&["propagate", "-L", "3", "-n", "16", "-B", "4", "-i", "kaiming_normal(mode='fan_in), tanh"], "quote");
}
