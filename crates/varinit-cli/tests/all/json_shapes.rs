//! Every `--json` output has the shape docs/json.md documents: each is
//! parsed into the typed structs below, which refuse unknown fields, and
//! serialized back, which must give the same document (so a missing, renamed,
//! added or retyped field fails). Change docs/json.md and these structs
//! together, and say so in the CHANGELOG.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

fn varinit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_varinit")).args(args).output().expect("run varinit")
}

/// Run, parse as `T`, and check that `T` holds the whole document.
fn shape<T: DeserializeOwned + Serialize>(args: &[&str]) -> T {
    let o = varinit(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{args:?}: not JSON: {e}"));
    let t: T =
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("{args:?}: not the documented shape: {e}\n{v:#}"));
    assert_eq!(serde_json::to_value(&t).unwrap(), v, "{args:?}: fields the documented shape does not have");
    t
}

// ---- gain

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GainOne {
    nonlinearity: String,
    param: Option<String>,
    gain: f64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GainTable {
    param: Option<String>,
    gains: Vec<GainRow>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GainRow {
    nonlinearity: String,
    gain: f64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GainNumeric {
    gains: Vec<GainNumericRow>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct GainNumericRow {
    activation: String,
    torch: Option<f64>,
    forward: Option<f64>,
    backward: Option<f64>,
    chi1_at_forward: Option<f64>,
    edge_of_chaos_sigma_w: Option<f64>,
    edge_of_chaos_q_star: Option<f64>,
    note: Option<String>,
}

// ---- fans, sample

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct FansOut {
    shape: Vec<u64>,
    layout: String,
    transposed: bool,
    fan_in: u64,
    fan_out: u64,
    receptive_field: u64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Fans {
    fan_in: u64,
    fan_out: u64,
    receptive_field: u64,
}

/// A resolved distribution: `kind` and its parameters (numbers, or the layout's name).
#[derive(Deserialize, Serialize)]
struct Distribution {
    kind: String,
    #[serde(flatten)]
    params: BTreeMap<String, Value>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Summary {
    count: u64,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
    zeros: u64,
    nan: u64,
    inf: u64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Ks {
    statistic: f64,
    p_value: f64,
    n: u64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    mean: Option<f64>,
    std: Option<f64>,
    support: Option<(f64, f64)>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    scheme: String,
    name: String,
    seed: u64,
    key: String,
    stream_version: u32,
    shape: Vec<u64>,
    numel: u64,
    dtype: String,
    layout: String,
    transposed: bool,
    fans: Option<Fans>,
    resolved: String,
    distribution: Distribution,
    expected: Expected,
    sample: Summary,
    ks: Option<Ks>,
    out: Option<String>,
}

// ---- theory

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Point {
    sigma_w2: Option<f64>,
    sigma_b2: Option<f64>,
    q0: Option<f64>,
    q_star: Option<f64>,
    chi1: Option<f64>,
    chi_q: Option<f64>,
    c_star: Option<f64>,
    chi_c: Option<f64>,
    xi_q: Option<f64>,
    xi_c: Option<f64>,
    phase: String,
}

#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum Critical {
    Found(Box<CriticalFound>),
    NotFound(CriticalNotFound),
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CriticalFound {
    activation: String,
    sigma_b2: f64,
    critical: Point,
    sigma_w: f64,
    fan: Option<u64>,
    weight_scheme: Option<String>,
    bias_scheme: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CriticalNotFound {
    activation: String,
    sigma_b2: f64,
    critical: (),
    reason: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PhaseOut {
    activation: String,
    critical_line: Vec<LinePoint>,
    plot: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(untagged)]
enum LinePoint {
    Found { sigma_b2: f64, sigma_w2: f64, q_star: Option<f64> },
    NotFound { sigma_b2: f64, sigma_w2: (), reason: String },
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Propagate {
    network: Network,
    runs: Vec<PropagateRun>,
    seconds: f64,
    plot: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Network {
    depth: u64,
    width: u64,
    batch: u64,
    seed: u64,
    bias: Option<String>,
    inputs: String,
}

/// How a second moment changes over depth: `kind` and its factors.
#[derive(Deserialize, Serialize)]
struct Trend {
    kind: String,
    #[serde(flatten)]
    numbers: BTreeMap<String, Option<f64>>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PropagateRun {
    label: String,
    activation: String,
    init: String,
    input_second_moment: f64,
    forward: Trend,
    backward: Trend,
    verdict: String,
    forward_assessment: Assessment,
    backward_assessment: Assessment,
    layers: Vec<PropagateLayer>,
}

/// A direction judged against finite-width noise.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Assessment {
    verdict: String,
    log_total: Option<f64>,
    expected_log_total: Option<f64>,
    noise_sd: Option<f64>,
    z: Option<f64>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PropagateLayer {
    layer: u64,
    fan_in: u64,
    sigma_w2: Option<f64>,
    sigma_b2: Option<f64>,
    second_moment: Option<f64>,
    predicted_second_moment: Option<f64>,
    variance: Option<f64>,
    dead: f64,
    saturated: Option<f64>,
    grad_second_moment: Option<f64>,
    predicted_grad_second_moment: Option<f64>,
    weight_grad_second_moment: Option<f64>,
    predicted_weight_grad_second_moment: Option<f64>,
    lsuv_iterations: Option<u64>,
}

// ---- checkpoints

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Plan {
    source: String,
    seed: u64,
    dtype: String,
    layout: String,
    parameters: u64,
    total_bytes: u64,
    files: Vec<String>,
    shards: Vec<PlanShard>,
    tensors: Vec<PlanTensor>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PlanShard {
    file: String,
    tensors: u64,
    bytes: u64,
    worker: u64,
    mine: bool,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PlanTensor {
    name: String,
    shape: Vec<u64>,
    dtype: String,
    scheme: String,
    resolved: String,
    bytes: u64,
    file: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Written {
    out: String,
    files: Vec<String>,
    bytes: u64,
    seconds: f64,
    threads: u64,
    worker: String,
    removed: Vec<String>,
    complete: bool,
    waiting_for: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Audit {
    passed: bool,
    counts: Counts,
    report: AuditReport,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Counts {
    pass: u64,
    fail: u64,
    unchecked: u64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AuditReport {
    files: Vec<String>,
    tensors: Vec<AuditTensor>,
    problems: Vec<String>,
    run_id: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AuditTensor {
    name: String,
    file: String,
    dtype: String,
    shape: Vec<u64>,
    stats: Option<AuditStats>,
    check: Option<Check>,
    status: String,
    notes: Vec<String>,
}

/// Every statistic of a tensor, the share of zeros included.
#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AuditStats {
    count: u64,
    mean: f64,
    std: f64,
    min: f64,
    max: f64,
    zeros: u64,
    nan: u64,
    inf: u64,
    zero_share: f64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Check {
    scheme: String,
    source: String,
    resolved: String,
    expected_mean: f64,
    expected_std: f64,
    std_ratio: Option<f64>,
    std_tolerance: Option<f64>,
    ks: Option<Ks>,
    exact: Option<bool>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SpecOut {
    from: String,
    files: Vec<String>,
    out: Option<String>,
    tensors: u64,
    schemes_from_metadata: u64,
    schemes_chosen: u64,
    skipped: Vec<Skipped>,
    spec: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Skipped {
    name: String,
    dtype: String,
}

// ---- schemes, bench

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Schemes {
    schemes: Vec<Scheme>,
    name_rules: String,
    value_rules: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Scheme {
    name: String,
    aliases: Vec<String>,
    home: String,
    same_in: Vec<String>,
    parameters: Vec<Parameter>,
    signature: String,
    description: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Parameter {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<Vec<String>>,
    required: bool,
    default: Value,
    aliases: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Bench {
    elements: u64,
    threads: u64,
    repeats: u64,
    simd_path: String,
    load_average_before: Option<String>,
    load_average_after: Option<String>,
    results: Vec<BenchRow>,
    orthogonal: Vec<BenchOrthogonal>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BenchRow {
    name: String,
    dtype: String,
    seconds: f64,
    g_elements_per_s: f64,
    g_elements_per_s_per_thread: f64,
    percent_of_fill: f64,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct BenchOrthogonal {
    rows: u64,
    cols: u64,
    dtype: String,
    seconds: f64,
}

// ---- the tests

#[test]
fn gain_fans_sample() {
    let g: GainOne = shape(&["gain", "leaky_relu", "--param", "0.2", "--json"]);
    assert_eq!((g.nonlinearity.as_str(), g.param.as_deref()), ("leaky_relu", Some("0.2")));
    let t: GainTable = shape(&["gain", "--json"]);
    assert_eq!(t.gains.len(), 12);
    let n: GainNumeric = shape(&["gain", "--numeric", "--json"]);
    assert!(n.gains.iter().any(|r| r.activation == "tanh" && r.torch == Some(5.0 / 3.0)));
    let f: FansOut = shape(&["fans", "64", "3", "7", "7", "--json"]);
    assert_eq!((f.fan_in, f.fan_out), (147, 3136));
    let s: Sample = shape(&["sample", "trunc_normal(std=0.02)", "--shape", "64x64", "--json"]);
    assert_eq!(s.distribution.kind, "trunc_normal");
    assert!(s.ks.is_some() && s.fans.is_some());
    let s: Sample = shape(&["sample", "orthogonal", "--shape", "8x8", "--dtype", "bf16", "--json"]);
    assert_eq!(s.distribution.kind, "orthogonal");
}

#[test]
fn theory_commands() {
    let c: Critical = shape(&["critical", "tanh", "--sigma-b2", "0.05", "--fan", "1024", "--json"]);
    assert!(matches!(c, Critical::Found(ref f) if f.weight_scheme.is_some()));
    let c: Critical = shape(&["critical", "relu", "--sigma-b2", "0.5", "--json"]);
    assert!(matches!(c, Critical::NotFound(_)));
    let p: PhaseOut = shape(&["phase", "tanh", "--points", "4", "--json"]);
    assert_eq!(p.critical_line.len(), 4);
    let p: PhaseOut = shape(&["phase", "relu", "--points", "3", "--json"]);
    assert_eq!(p.critical_line.len(), 3);
    let r: Propagate = shape(&["propagate", "-L", "6", "-n", "32", "-B", "16", "--json"]);
    assert_eq!(r.runs.len(), 4);
    assert!(r.runs.iter().all(|x| x.layers.len() == 6));
    let r: Propagate = shape(&["propagate", "-L", "4", "-n", "16", "-B", "8", "-i", "lsuv", "-a", "relu", "--json"]);
    assert_eq!(r.runs.len(), 1);
}

#[test]
fn checkpoint_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("ckpt");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let p: Plan = shape(&["init", "--preset", "mlp", "--set", "dims=12,8,4", "--dry-run", "--json"]);
    assert_eq!(p.tensors.len(), 4);
    let w: Written = shape(&["init", "--preset", "mlp", "--set", "dims=12,8,4", "--no-sync", "-o", &s(&out), "--json"]);
    assert_eq!(w.files.len(), 1);
    let a: Audit = shape(&["audit", &s(&out), "--json"]);
    assert!(a.passed);
    let st = a.report.tensors[0].stats.as_ref().unwrap();
    assert_eq!(st.zero_share, st.zeros as f64 / st.count as f64);
    let a: Audit = shape(&["audit", &s(&out), "--exact", "--json"]);
    assert!(a.report.tensors.iter().all(|t| t.check.as_ref().unwrap().exact == Some(true)));
    let sp: SpecOut = shape(&["spec", "--from", &s(&out), "--json"]);
    assert!(sp.spec.is_some() && sp.out.is_none());
    let sp: SpecOut = shape(&["spec", "--from", &s(&out), "-o", &s(&d.join("m.toml")), "--json"]);
    assert!(sp.spec.is_none() && sp.out.is_some());
}

#[test]
fn schemes_lists_names_aliases_parameters_and_home() {
    let s: Schemes = shape(&["schemes", "--json"]);
    let by_name = |n: &str| s.schemes.iter().find(|x| x.name == n).unwrap_or_else(|| panic!("{n} missing"));
    let k = by_name("kaiming_normal");
    assert_eq!(k.home, "pytorch");
    let names: Vec<&str> = k.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "mode", "nonlinearity"]);
    assert_eq!(k.parameters[1].ty, "choice");
    assert_eq!(k.parameters[1].default, "fan_in");
    assert_eq!(k.parameters[0].default, 0.0);
    assert_eq!(by_name("eye").aliases, ["identity"]);
    assert_eq!(by_name("he_normal").same_in, ["jax"]);
    let c = &by_name("constant").parameters[0];
    assert!(c.required && c.default.is_null());
    assert_eq!(by_name("random_normal").parameters[1].default, 0.05);
    assert_eq!(by_name("delta_orthogonal").home, "jax");
    assert!(s.schemes.len() >= 27);
}

// ---- styles

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct Styles {
    styles: Vec<StyleOut>,
    variables: Vec<StyleVariable>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StyleOut {
    name: String,
    about: String,
    sources: Vec<String>,
    file: String,
    variables: Vec<String>,
    lets: Vec<StyleLet>,
    rules: Vec<StyleRuleOut>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StyleLet {
    name: String,
    expression: String,
    line: usize,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StyleRuleOut {
    glob: String,
    captures: Vec<String>,
    scheme: String,
    line: usize,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StyleVariable {
    name: String,
    meaning: String,
}

#[test]
fn styles_list_rules_lets_variables_and_sources() {
    let s: Styles = shape(&["styles", "--json"]);
    let names: Vec<&str> = s.styles.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(
        names,
        ["hf", "megatron", "torchtitan", "torchtitan_flat", "olmo", "olmo_megatron", "neox", "deepnet", "mup", "gemma"]
    );
    assert!(s.styles.iter().all(|x| !x.sources.is_empty() && x.file == format!("builtin:{}", x.name)));
    let titan = &s.styles[2];
    assert_eq!(titan.variables, ["d"]);
    assert_eq!(titan.lets[0].name, "init_std");
    let o = titan.rules.iter().find(|r| r.glob == "model.layers.{l}.self_attn.o_proj.weight").unwrap();
    assert_eq!(o.captures, ["l"]);
    assert!(o.scheme.contains("init_std/sqrt(2*(l+1))"), "{}", o.scheme);
    assert_eq!(s.variables[0].name, "L");
    // one style, by name or from a file: the same document with one entry
    let one: Styles = shape(&["styles", "mup", "--json"]);
    assert_eq!(one.styles.len(), 1);
    assert_eq!(one.styles[0].variables, ["d", "std"]);
    let d = tempfile::tempdir().unwrap();
    let f = d.path().join("my.style");
    std::fs::write(&f, "style my\nlet k = 2\nmodel.layers.{l}.mlp.down_proj.weight = normal(std=std/sqrt(k*(l+1)))\n")
        .unwrap();
    let mine: Styles = shape(&["styles", f.to_str().unwrap(), "--json"]);
    assert_eq!(mine.styles[0].name, "my");
    assert_eq!(mine.styles[0].rules[0].line, 3);
    std::fs::write(&f, "x.w = normal(std=sdt)\n").unwrap();
    let o = varinit(&["styles", f.to_str().unwrap(), "--json"]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("my.style:1:18: unknown variable \"sdt\" (did you mean \"std\"?)"), "{err}");
}

#[test]
fn bench_json() {
    let b: Bench = shape(&["bench", "--elements", "65536", "--repeats", "1", "--no-orthogonal", "--json"]);
    assert!(!b.results.is_empty() && b.orthogonal.is_empty());
}
