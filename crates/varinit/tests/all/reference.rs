//! varinit against the real libraries: fans, gains and resolved distribution
//! parameters recorded from PyTorch 2.15, Keras 3.15 and JAX 0.10 by
//! `tools/reference/gen_reference.py` (see `tools/reference/README.md`),
//! stored in `tests/data/reference.json`. No Python is needed to run this.
//!
//! Every library value was captured from the library's own code path (the
//! arguments it passed to `uniform_`/`normal_`, to `keras.random.*`, or the
//! factor JAX multiplied a standard sample by), never re-derived. Each case
//! is mapped to the equivalent varinit scheme string, resolved, and compared:
//! a value must agree to 1e-15 relative, and any value that is not equal to
//! the last bit must be listed in [`KNOWN_INEXACT`] (there are none today),
//! so a one-ulp change is caught too. Cases where varinit deliberately or
//! knowingly differs are listed, with the reason, in [`KNOWN_DIFFERENCES`];
//! they must keep failing (a listed case that starts to pass is reported, so
//! the list cannot go stale).
//!
//! `VARINIT_REFERENCE_JSON=/path/to/other.json` runs the test on another file.

use serde_json::Value;
use varinit::gain::GainParam;
use varinit::{Fans, Init, Layout, ResolveOptions, Resolved, Shape, calculate_gain};

/// Largest relative difference accepted for a float.
const REL_TOL: f64 = 1e-15;

/// PyTorch's text for a rank < 2 tensor; varinit embeds it in its message.
const TORCH_FANS_MSG: &str = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions";

/// Cases where varinit is known to differ from the library, as id globs
/// (`*` matches any run of characters) with the reason. Each must fail its
/// comparison; see the module documentation.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    // ---- empty tensors: varinit's documented choice, not a parameter bug --------------------------
    (
        "torch/kaiming_*/*/[0]",
        "PyTorch's kaiming_* return early on any tensor with a 0 in its shape, so a rank-1 shape (0,) is a \
         silent no-op; varinit's Init::resolve computes the fans of empty tensors on purpose ('still report \
         what a fan-based scheme could not compute', scheme.rs) and so raises the rank < 2 error",
    ),
    (
        "torch/kaiming_*/mode=fan_avg/[0*",
        "PyTorch checks for zero elements before it validates `mode`, so a bad mode on an empty tensor is a \
         no-op; varinit rejects the mode when the scheme string is parsed, before it sees a shape",
    ),
    ("torch/kaiming_*/mode=fan_avg/[5,0]", "as above"),
    ("torch/kaiming_*/mode=fan_avg/[4,0,3,3]", "as above"),
    (
        "torch/kaiming_*/nonlinearity=gelu/[0*",
        "as above for an unsupported nonlinearity on an empty tensor (PyTorch: no-op; varinit: 'Unsupported \
         nonlinearity gelu')",
    ),
    ("torch/kaiming_*/nonlinearity=gelu/[5,0]", "as above"),
    ("torch/kaiming_*/nonlinearity=gelu/[4,0,3,3]", "as above"),
    (
        "torch/kaiming_*/nonlinearity=gelu/[*]",
        "ordering of checks: PyTorch computes the fans before calculate_gain, so for a rank < 2 tensor it \
         reports the fans error; varinit reports 'Unsupported nonlinearity gelu' at parse time. Both fail. \
         (Matches only the rank 0/1 shapes, whose ids have no comma; see `known_difference`.)",
    ),
    (
        "torch/xavier_*//[0,0]",
        "PyTorch's xavier_* divide by fan_in + fan_out = 0 (ZeroDivisionError, a PyTorch bug); varinit \
         returns Resolved::Empty for every zero-element tensor",
    ),
    (
        "jax/*/[0,5]",
        "JAX's _compute_fans divides prod(shape) by the in and out sizes, so a zero in or out dimension raises \
         ZeroDivisionError (fans and every initializer); varinit's Fans::of returns fans of 0 and \
         Init::resolve returns Resolved::Empty for every zero-element tensor",
    ),
    ("jax/*/[5,0]", "as above"),
    ("jax/*/[3,3,0,8]", "as above"),
    // ---- names: varinit is case-insensitive where the library is not ---------------------------------
    (
        "torch/calculate_gain/Relu/*",
        "PyTorch's calculate_gain compares names case-sensitively ('Unsupported nonlinearity Relu'); \
         varinit's calculate_gain lower-cases names (documented in gain.rs: 'names are also accepted in any \
         case') and returns the relu gain",
    ),
    ("torch/calculate_gain/LEAKY_RELU/*", "as above, for leaky_relu"),
    (
        "torch/kaiming_*/nonlinearity=Relu/*",
        "PyTorch's kaiming_* pass the nonlinearity to calculate_gain verbatim and fail on 'Relu'; varinit's \
         kaiming_* lower-case it (scheme.rs, the `nonlinearity` arm of the kaiming parser)",
    ),
    (
        "keras/VarianceScaling/mode='FAN_IN'/*",
        "Keras's VarianceScaling validates `mode` case-sensitively; varinit's FanMode::parse_keras \
         lower-cases it",
    ),
    (
        "jax/variance_scaling/scale=1.0,mode=FAN_IN,*",
        "JAX compares `mode` case-sensitively ('invalid mode for variance scaling initializer: FAN_IN'); \
         varinit lower-cases it",
    ),
    (
        "jax/variance_scaling/*distribution=Uniform/*",
        "JAX compares `distribution` case-sensitively; varinit lower-cases it",
    ),
    (
        "jax/variance_scaling/*distribution=untruncated_normal/*",
        "JAX has no distribution called 'untruncated_normal' (it spells it 'normal'); varinit accepts the \
         Keras spelling under every layout. Not a parameter difference",
    ),
    (
        "keras/VarianceScaling/mode='fan_geo_avg'/*",
        "Keras's VarianceScaling has no mode 'fan_geo_avg' (JAX's); varinit accepts JAX's mode under every \
         layout, a documented superset",
    ),
    // ---- message text ------------------------------------------------------------------------------
    (
        "torch/kaiming_*/nonlinearity=leaky_relu,a=True/*",
        "message text: PyTorch's kaiming_* hand `a` to calculate_gain, which fails with 'negative_slope True \
         not a valid number'; varinit rejects a=True while binding arguments ('kaiming_*: invalid a = True: \
         must be a number'). Both fail",
    ),
    (
        "torch/kaiming_*/nonlinearity=leaky_relu,a=0.2/*",
        "message text: a = '0.2' as a *string*: PyTorch says 'negative_slope 0.2 not a valid number'; \
         varinit says 'invalid a = 0.2: must be a number'. Both fail",
    ),
    // ---- non-finite slopes: varinit stricter ---------------------------------------------------------
    (
        "torch/calculate_gain/leaky_relu/float:inf",
        "PyTorch returns sqrt(2 / (1 + inf)) = 0.0 for an infinite slope; varinit's calculate_gain rejects \
         non-finite slopes ('negative_slope inf not a valid number')",
    ),
    ("torch/calculate_gain/leaky_relu/float:-inf", "as above (PyTorch: 0.0)"),
    ("torch/calculate_gain/leaky_relu/float:nan", "as above (PyTorch: nan)"),
];

/// Cases whose values agree to [`REL_TOL`] but not to the last bit, with the
/// reason. Empty: every recorded value is reproduced exactly.
const KNOWN_INEXACT: &[(&str, &str)] = &[];

// ---------------------------------------------------------------------------------------------------
// Loading

fn load() -> Value {
    let path = std::env::var("VARINIT_REFERENCE_JSON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/reference.json").to_string());
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Floats are stored as Python repr strings; Rust's parse is correctly rounded.
fn float(v: &Value) -> f64 {
    v.as_str().unwrap_or_else(|| panic!("expected a float string, got {v}")).parse().unwrap()
}

fn string(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("expected a string, got {v}"))
}

fn shape_of(v: &Value) -> Shape {
    Shape::new(v.as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect::<Vec<_>>()).unwrap()
}

/// A recorded number written for varinit's scheme grammar (shortest round-trip form).
fn num(v: &Value) -> String {
    format!("{:?}", float_or_int(v))
}

fn float_or_int(v: &Value) -> f64 {
    string(v).parse().unwrap()
}

// ---------------------------------------------------------------------------------------------------
// Glob matching for the known lists

fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// The index in [`KNOWN_DIFFERENCES`] of the first entry matching `id`.
fn known_difference(id: &str) -> Option<usize> {
    // One glob would be too broad on its own: restrict it to rank 0 and 1 shapes.
    let rank_lt_2 = !id.rsplit('/').next().unwrap_or("").contains(',');
    KNOWN_DIFFERENCES
        .iter()
        .position(|&(p, _)| (rank_lt_2 || p != "torch/kaiming_*/nonlinearity=gelu/[*]") && glob(p, id))
}

fn known_inexact(id: &str) -> bool {
    KNOWN_INEXACT.iter().any(|&(p, _)| glob(p, id))
}

// ---------------------------------------------------------------------------------------------------
// Comparison

/// What checking one case found.
#[derive(Default, Debug)]
struct Outcome {
    /// Disagreements (beyond REL_TOL, wrong kind, missing error, wrong message).
    problems: Vec<String>,
    /// Agreements within REL_TOL that are not exact.
    inexact: Vec<String>,
    /// JAX float32 parameters: exact after rounding varinit's f64 to f32, or one f32 ulp away.
    f32_exact: usize,
    f32_one_ulp: Vec<String>,
}

impl Outcome {
    fn problem(&mut self, s: String) {
        self.problems.push(s);
    }

    fn cmp(&mut self, what: &str, ours: f64, theirs: f64) {
        if ours == theirs || (ours.is_nan() && theirs.is_nan()) {
            return;
        }
        let rel = (ours - theirs).abs() / ours.abs().max(theirs.abs());
        let ulps = (ours.to_bits() as i64).wrapping_sub(theirs.to_bits() as i64).unsigned_abs();
        let text = format!("{what}: varinit {ours:?}, library {theirs:?} (relative {rel:.2e}, {ulps} ulp)");
        if rel <= REL_TOL { self.inexact.push(text) } else { self.problems.push(text) }
    }

    fn cmp_u64(&mut self, what: &str, ours: u64, theirs: u64) {
        if ours != theirs {
            self.problems.push(format!("{what}: varinit {ours}, library {theirs}"));
        }
    }
}

/// Library error text vs varinit's, where varinit promises PyTorch's words.
fn check_error_text(out: &mut Outcome, lib: &str, ours: &str) {
    let promised = if lib.starts_with("Mode ") || lib.starts_with("negative_slope ") {
        Some(ours == lib)
    } else if lib.starts_with("Unsupported nonlinearity ") {
        // varinit may append " (did you mean ...?)"
        Some(ours == lib || ours.starts_with(&format!("{lib} (")))
    } else if lib == TORCH_FANS_MSG {
        Some(ours.contains(lib))
    } else {
        None // Keras's and JAX's texts, Python's ZeroDivisionError: only "it is an error" is promised
    };
    if promised == Some(false) {
        out.problem(format!("error text: varinit {ours:?}, library {lib:?}"));
    }
}

/// Compare a library expectation (`{"dist": ...}` or `{"error": ...}`) with varinit's resolution.
fn check_resolved(
    out: &mut Outcome,
    expect: &Value,
    shape: &Shape,
    scheme: &str,
    got: Result<Resolved, varinit::Error>,
) {
    if let Some(lib_err) = expect.get("error") {
        match got {
            Ok(r) => out.problem(format!("{scheme}: library raised {lib_err}, varinit resolved to {r:?}")),
            Err(e) => check_error_text(out, string(lib_err), &e.to_string()),
        }
        return;
    }
    let got = match got {
        Ok(r) => r,
        Err(e) => return out.problem(format!("{scheme}: varinit failed ({e}), library gave {expect}")),
    };
    let dist = string(&expect["dist"]);
    if dist == "none" || shape.numel() == 0 {
        // the library drew nothing (no-op), or drew into a tensor with no elements
        if got != Resolved::Empty {
            out.problem(format!("{scheme}: zero elements: varinit {got:?}, library {expect}"));
        }
        return;
    }
    match (dist, &got) {
        ("uniform", Resolved::Uniform { low, high }) => {
            out.cmp("low", *low, float(&expect["low"]));
            out.cmp("high", *high, float(&expect["high"]));
        }
        // U(0, 0), e.g. the bias of a layer with fan_in 0
        ("uniform", Resolved::Constant { value }) if float(&expect["low"]) == float(&expect["high"]) => {
            out.cmp("value", *value, float(&expect["low"]));
        }
        ("normal", Resolved::Normal { mean, std }) => {
            out.cmp("mean", *mean, float(&expect["mean"]));
            out.cmp("std", *std, float(&expect["std"]));
        }
        ("trunc_normal", Resolved::TruncNormal { mean, std, low, high }) => {
            out.cmp("mean", *mean, float(&expect["mean"]));
            out.cmp("std", *std, float(&expect["std"]));
            out.cmp("low", *low, float(&expect["low"]));
            out.cmp("high", *high, float(&expect["high"]));
            // Keras and JAX draw a standard normal truncated to [lower, upper] and scale it: varinit's
            // truncated_normal and variance_scaling assume [-2, 2]
            if let Some(lo) = expect.get("lower_in_std") {
                let hi = float(&expect["upper_in_std"]);
                if float(lo) != -2.0 || hi != 2.0 {
                    out.problem(format!("the library truncates at [{}, {hi}] std, not [-2, 2]", float(lo)));
                }
            }
        }
        _ => out.problem(format!("{scheme}: distribution differs: varinit {got:?}, library {expect}")),
    }
}

fn resolve(scheme: &str, shape: &Shape, layout: Layout) -> Result<Resolved, varinit::Error> {
    scheme.parse::<Init>()?.resolve(shape, ResolveOptions { layout, transposed: false })
}

fn call(name: &str, args: &[String]) -> String {
    if args.is_empty() { name.to_string() } else { format!("{name}({})", args.join(", ")) }
}

/// The varinit scheme string equivalent to a recorded library call.
fn scheme_for(case: &Value) -> String {
    let framework = string(&case["framework"]);
    let f = string(&case["fn"]);
    let args = case["args"].as_object().unwrap();
    let arg = |k: &str| args.get(k);
    let mut out = Vec::new();
    match (framework, f) {
        ("torch", "xavier_uniform_" | "xavier_normal_") => {
            if let Some(name) = arg("gain_name") {
                out.push(format!("gain={}", string(name))); // a nonlinearity name: varinit uses PyTorch's gain
            } else if let Some(g) = arg("gain") {
                out.push(format!("gain={}", num(g)));
            }
            call(f.trim_end_matches('_'), &out)
        }
        ("torch", "kaiming_uniform_" | "kaiming_normal_") => {
            let types = case.get("args_python_types");
            for k in ["a", "mode", "nonlinearity"] {
                let Some(v) = arg(k) else { continue };
                let ty = types.and_then(|t| t.get(k)).map(string);
                out.push(match (k, ty) {
                    ("a", Some("bool")) => format!("a={}", string(v)), // True: not a number
                    ("a", Some("str")) => format!("a='{}'", string(v)), // '0.2': a string
                    ("a", _) => format!("a={}", num(v)),
                    _ => format!("{k}={}", string(v)),
                });
            }
            call(f.trim_end_matches('_'), &out)
        }
        ("torch", "trunc_normal_") => {
            for k in ["mean", "std", "a", "b"] {
                if let Some(v) = arg(k) {
                    out.push(format!("{k}={}", num(v)));
                }
            }
            call("trunc_normal", &out)
        }
        ("keras", "VarianceScaling") | ("jax", "variance_scaling") => {
            if let Some(v) = arg("scale") {
                out.push(format!("scale={}", num(v)));
            }
            if let Some(v) = arg("mode") {
                out.push(format!("mode={}", string(v)));
            }
            if let Some(v) = arg("distribution") {
                let d = string(v);
                // 'normal' is the one ambiguous word (varinit refuses it): Keras lower-cases and means
                // the truncated normal, JAX (case-sensitive) means the untruncated one.
                let d = match (framework, d.to_ascii_lowercase().as_str(), d) {
                    ("keras", "normal", _) => "truncated_normal",
                    ("jax", _, "normal") => "untruncated_normal",
                    _ => d,
                };
                out.push(format!("distribution={d}"));
            }
            call("variance_scaling", &out)
        }
        ("keras", "RandomNormal" | "TruncatedNormal") => {
            for k in ["mean", "stddev"] {
                if let Some(v) = arg(k) {
                    out.push(format!("{k}={}", num(v)));
                }
            }
            call(if f == "RandomNormal" { "random_normal" } else { "truncated_normal" }, &out)
        }
        ("keras", "RandomUniform") => {
            for k in ["minval", "maxval"] {
                if let Some(v) = arg(k) {
                    out.push(format!("{k}={}", num(v)));
                }
            }
            call("random_uniform", &out)
        }
        ("keras", named) => {
            assert!(args.is_empty());
            match named {
                "GlorotUniform" => "glorot_uniform",
                "GlorotNormal" => "glorot_normal",
                "HeUniform" => "he_uniform",
                "HeNormal" => "he_normal",
                "LecunUniform" => "lecun_uniform",
                "LecunNormal" => "lecun_normal",
                other => panic!("no mapping for keras {other}"),
            }
            .to_string()
        }
        ("jax", named) => {
            assert!(args.is_empty());
            // JAX's xavier_* and kaiming_* are aliases of glorot_* and he_* (truncated normals!), not
            // PyTorch's untruncated xavier_*/kaiming_*, which is what those names mean in varinit.
            match named {
                "xavier_uniform" => "glorot_uniform",
                "xavier_normal" => "glorot_normal",
                "kaiming_uniform" => "he_uniform",
                "kaiming_normal" => "he_normal",
                "glorot_uniform" | "glorot_normal" | "he_uniform" | "he_normal" | "lecun_uniform" | "lecun_normal" => {
                    named
                }
                other => panic!("no mapping for jax {other}"),
            }
            .to_string()
        }
        (fw, other) => panic!("no mapping for {fw} {other}"),
    }
}

fn layout_of(case: &Value) -> Layout {
    match string(&case["framework"]) {
        "torch" => Layout::Torch,
        "keras" => Layout::Keras,
        "jax" => Layout::Jax,
        other => panic!("unknown framework {other}"),
    }
}

/// Check one recorded case against varinit.
fn check_case(case: &Value) -> Outcome {
    let mut out = Outcome::default();
    match string(&case["kind"]) {
        "fans" => check_fans(&mut out, case),
        "gain" => check_gain(&mut out, case),
        "init" => check_init(&mut out, case),
        "module" => check_module(&mut out, case),
        other => panic!("unknown kind {other}"),
    }
    out
}

fn check_fans(out: &mut Outcome, case: &Value) {
    let layout = layout_of(case);
    let shape = shape_of(&case["shape"]);
    let expect = &case["expect"];
    match (Fans::of(&shape, layout, false), expect.get("error")) {
        (Err(e), Some(lib)) => check_error_text(out, string(lib), &e.to_string()),
        (Ok(f), Some(lib)) => out.problem(format!("library raised {lib}, varinit gave {f:?}")),
        (Err(e), None) => out.problem(format!("varinit failed ({e}), library gave {expect}")),
        (Ok(f), None) => {
            if layout == Layout::Jax {
                // JAX's fans are floats: in_size * (prod(shape) / in_size / out_size)
                out.cmp("fan_in", f.fan_in as f64, float(&expect["fan_in"]));
                out.cmp("fan_out", f.fan_out as f64, float(&expect["fan_out"]));
            } else {
                out.cmp_u64("fan_in", f.fan_in, expect["fan_in"].as_u64().unwrap());
                out.cmp_u64("fan_out", f.fan_out, expect["fan_out"].as_u64().unwrap());
            }
        }
    }
}

fn check_gain(out: &mut Outcome, case: &Value) {
    let name = string(&case["nonlinearity"]);
    let param = match string(&case["param_type"]) {
        "none" => None,
        "int" | "float" => Some(GainParam::Number(string(&case["param"]).parse().unwrap())),
        _ => Some(GainParam::Other(string(&case["param"]).to_string())), // True, [0.1], 'x': str() of it
    };
    let got = calculate_gain(name, param.as_ref());
    let expect = &case["expect"];
    match (got, expect.get("error")) {
        (Err(e), Some(lib)) => check_error_text(out, string(lib), &e.to_string()),
        (Ok(g), Some(lib)) => out.problem(format!("library raised {lib}, varinit gave {g:?}")),
        (Err(e), None) => out.problem(format!("varinit failed ({e}), library gave {expect}")),
        (Ok(g), None) => out.cmp("gain", g, float(&expect["gain"])),
    }
}

fn check_init(out: &mut Outcome, case: &Value) {
    let layout = layout_of(case);
    let shape = shape_of(&case["shape"]);
    let scheme = scheme_for(case);
    let got = resolve(&scheme, &shape, layout);
    check_resolved(out, &case["expect"], &shape, &scheme, got.clone());
    if let (Some(e32), Ok(r)) = (case.get("expect_f32"), &got) {
        check_jax_f32(out, case, e32, r, &shape);
    }
}

/// JAX computes the scale in the weight dtype: for float32 weights its
/// standard deviation (or limit) is a float32 value computed with float32
/// arithmetic. Check (1) our model of that arithmetic reproduces JAX's bits
/// exactly and (2) varinit's f64 value rounded to f32 is within one f32 ulp.
fn check_jax_f32(out: &mut Outcome, case: &Value, e32: &Value, r: &Resolved, shape: &Shape) {
    if e32.get("error").is_some() || shape.numel() == 0 {
        return;
    }
    let (lib, ours) = match (string(&e32["dist"]), r) {
        ("uniform", Resolved::Uniform { high, .. }) => (float(&e32["high"]), *high),
        ("normal", Resolved::Normal { std, .. }) | ("trunc_normal", Resolved::TruncNormal { std, .. }) => {
            (float(&e32["std"]), *std)
        }
        _ => return out.problem(format!("float32: distribution differs: varinit {r:?}, JAX {e32}")),
    };
    // (1) JAX's float32 arithmetic: variance = f32(scale / denominator) (Python double, then rounded);
    //     truncated: sqrt(variance) / f32(0.87962566103423978); normal: sqrt(variance);
    //     uniform: sqrt(3 * variance); all in float32.
    let (scale, mode, dist) = jax_vs_params(case);
    let f = Fans::of(shape, Layout::Jax, false).unwrap();
    let var32 = match mode {
        "fan_in" => (scale / f.fan_in as f64) as f32,
        "fan_out" => (scale / f.fan_out as f64) as f32,
        // jnp.sqrt(fan_in * fan_out) is a float32 array, so the division happens in float32 too
        "fan_geo_avg" => scale as f32 / ((f.fan_in as f64 * f.fan_out as f64) as f32).sqrt(),
        _ => (scale / ((f.fan_in as f64 + f.fan_out as f64) / 2.0)) as f32,
    };
    #[allow(clippy::excessive_precision)]
    let emulated = match dist {
        "truncated_normal" => var32.sqrt() / (0.87962566103423978f64 as f32),
        "normal" => var32.sqrt(),
        _ => (3.0f32 * var32).sqrt(),
    };
    // XLA fuses fan_geo_avg's float32 sqrt/divide/multiply chain in its own order: allow one ulp there
    let ulp = (emulated.next_up() - emulated) as f64;
    let tolerance = if mode == "fan_geo_avg" { ulp } else { 0.0 };
    if (emulated as f64 - lib).abs() > tolerance {
        out.problem(format!("float32: emulated JAX arithmetic gives {emulated:?}, JAX gave {lib:?}"));
    }
    // (2) varinit's double, rounded once to float32
    let rounded = ours as f32;
    if rounded as f64 == lib {
        out.f32_exact += 1;
    } else if (rounded.to_bits() as i64 - (lib as f32).to_bits() as i64).abs() == 1 {
        out.f32_one_ulp.push(format!("varinit {ours:?} -> f32 {rounded:?}, JAX float32 {lib:?}"));
    } else {
        out.problem(format!("float32: varinit {ours:?} -> f32 {rounded:?}, JAX float32 {lib:?}"));
    }
}

/// (scale, mode, distribution) of a JAX case, in JAX's words.
fn jax_vs_params(case: &Value) -> (f64, &str, &str) {
    let f = string(&case["fn"]);
    let dist = if f.ends_with("uniform") { "uniform" } else { "truncated_normal" };
    match f {
        "glorot_uniform" | "glorot_normal" | "xavier_uniform" | "xavier_normal" => (1.0, "fan_avg", dist),
        "he_uniform" | "he_normal" | "kaiming_uniform" | "kaiming_normal" => (2.0, "fan_in", dist),
        "lecun_uniform" | "lecun_normal" => (1.0, "fan_in", dist),
        "variance_scaling" => {
            let a = &case["args"];
            (float_or_int(&a["scale"]), string(&a["mode"]), string(&a["distribution"]))
        }
        other => panic!("no JAX parameters for {other}"),
    }
}

fn check_module(out: &mut Outcome, case: &Value) {
    let w_shape = shape_of(&case["weight_shape"]);
    let got = resolve("torch_default", &w_shape, Layout::Torch);
    check_resolved(out, &case["weight"], &w_shape, "torch_default", got);
    let fan_in = Fans::of(&w_shape, Layout::Torch, false).unwrap().fan_in;
    out.cmp_u64("weight fan_in", fan_in, case["weight_fan_in"].as_u64().unwrap());
    if !case["bias"].is_null() {
        let b_shape = shape_of(&case["bias_shape"]);
        let scheme = format!("torch_default_bias(fan_in={fan_in})");
        let got = resolve(&scheme, &b_shape, Layout::Torch);
        check_resolved(out, &case["bias"], &b_shape, &scheme, got);
    }
}

// ---------------------------------------------------------------------------------------------------
// Tests

#[test]
fn varinit_matches_pytorch_keras_and_jax() {
    let doc = load();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() > 1000, "only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut stats: std::collections::BTreeMap<&str, [usize; 4]> = Default::default(); // cases, exact, known, inexact
    let (mut f32_exact, mut f32_one_ulp) = (0, Vec::new());
    let mut known_used = vec![0usize; KNOWN_DIFFERENCES.len()];
    for case in cases {
        let id = string(&case["id"]);
        let fw = string(&case["framework"]);
        let out = check_case(case);
        let entry = stats.entry(fw).or_default();
        entry[0] += 1;
        f32_exact += out.f32_exact;
        f32_one_ulp.extend(out.f32_one_ulp.iter().map(|s| format!("{id}: {s}")));
        match (out.problems.is_empty(), known_difference(id)) {
            (true, None) => {}
            (false, Some(i)) => {
                entry[2] += 1;
                known_used[i] += 1;
                continue;
            }
            (false, None) => {
                failures.push(format!("{id}\n    {}\n    {}", string(&case["call"]), out.problems.join("\n    ")))
            }
            (true, Some(i)) => failures.push(format!(
                "{id}: listed in KNOWN_DIFFERENCES but now agrees with the library; remove it from the list \
                 ({})",
                KNOWN_DIFFERENCES[i].1
            )),
        }
        if out.inexact.is_empty() {
            entry[1] += 1;
        } else {
            entry[3] += 1;
            if !known_inexact(id) {
                failures.push(format!(
                    "{id}: agrees to {REL_TOL:e} but not exactly (add to KNOWN_INEXACT with the reason, or fix)\n    \
                     {}\n    {}",
                    string(&case["call"]),
                    out.inexact.join("\n    ")
                ));
            }
        }
    }
    for (&used, (p, _)) in known_used.iter().zip(KNOWN_DIFFERENCES) {
        if used == 0 {
            failures.push(format!("KNOWN_DIFFERENCES entry {p:?} matches no failing case; remove it"));
        }
    }
    println!("framework  cases  bit-exact  known-differences  inexact");
    for (fw, [n, exact, known, inexact]) in &stats {
        println!("{fw:<9} {n:>6} {exact:>10} {known:>18} {inexact:>8}");
    }
    println!(
        "JAX float32 parameters: {f32_exact} equal to varinit's f64 rounded to f32, {} one f32 ulp away",
        f32_one_ulp.len()
    );
    for s in f32_one_ulp.iter().take(5) {
        println!("    {s}");
    }
    println!("known differences (cases per entry):");
    for (&used, (p, _)) in known_used.iter().zip(KNOWN_DIFFERENCES) {
        println!("{used:>6}  {p}");
    }
    assert!(failures.is_empty(), "{} reference cases disagree:\n{}", failures.len(), failures.join("\n"));
}

/// The checker itself must be able to fail: corrupt recorded values and
/// watch it object.
#[test]
fn checker_catches_wrong_values() {
    let doc = load();
    let cases = doc["cases"].as_array().unwrap();
    let find = |id: &str| cases.iter().find(|c| c["id"] == id).unwrap_or_else(|| panic!("no case {id}")).clone();
    let set = |case: &mut Value, path: &[&str], v: Value| {
        let mut p = case;
        for k in &path[..path.len() - 1] {
            p = &mut p[*k];
        }
        p[path[path.len() - 1]] = v;
    };
    let bump = |s: &Value, rel: f64| Value::String(format!("{:?}", float(s) * (1.0 + rel)));
    let next_up = |s: &Value| Value::String(format!("{:?}", f64::from_bits(float(s).to_bits() + 1)));

    // every one of these is right as recorded ...
    for id in [
        "torch/fans/[64,3,7,7]",
        "keras/fans/[3,3,16,32]",
        "jax/fans/[2,3,5,4,8]",
        "torch/kaiming_normal_/default/[256,512]",
        "keras/GlorotNormal/default/[784,128]",
        "torch/module/nn.Conv2d(3, 64, 7)",
        "torch/calculate_gain/leaky_relu/float:0.2",
        "torch/calculate_gain/leaky_relu/bool:True",
    ] {
        let o = check_case(&find(id));
        assert!(o.problems.is_empty() && o.inexact.is_empty(), "{id}: {o:?}");
    }
    // ... and wrong after a small change
    let mut c = find("torch/fans/[64,3,7,7]");
    set(&mut c, &["expect", "fan_in"], Value::from(148u64));
    assert!(!check_case(&c).problems.is_empty(), "a wrong PyTorch fan_in went unnoticed");
    let mut c = find("keras/fans/[3,3,16,32]");
    set(&mut c, &["expect", "fan_out"], Value::from(289u64));
    assert!(!check_case(&c).problems.is_empty(), "a wrong Keras fan_out went unnoticed");
    let mut c = find("jax/fans/[2,3,5,4,8]");
    set(&mut c, &["expect", "fan_in"], Value::String("121.0".into()));
    assert!(!check_case(&c).problems.is_empty(), "a wrong JAX fan_in went unnoticed");

    let mut c = find("torch/kaiming_normal_/default/[256,512]");
    let std = c["expect"]["std"].clone();
    set(&mut c, &["expect", "std"], bump(&std, 1e-12));
    assert!(!check_case(&c).problems.is_empty(), "a std off by 1e-12 went unnoticed");
    set(&mut c, &["expect", "std"], next_up(&std));
    let o = check_case(&c);
    assert!(o.problems.is_empty() && !o.inexact.is_empty(), "a std one ulp off is not reported as inexact: {o:?}");

    let mut c = find("keras/GlorotNormal/default/[784,128]");
    let high = c["expect"]["high"].clone();
    set(&mut c, &["expect", "high"], bump(&high, 1e-9));
    assert!(!check_case(&c).problems.is_empty(), "a wrong truncation bound went unnoticed");
    let mut c = find("keras/GlorotNormal/default/[784,128]");
    set(&mut c, &["expect", "dist"], Value::String("normal".into()));
    assert!(!check_case(&c).problems.is_empty(), "truncated vs untruncated went unnoticed");

    let mut c = find("torch/module/nn.Conv2d(3, 64, 7)");
    set(&mut c, &["weight_fan_in"], Value::from(3u64 * 49 + 1));
    assert!(!check_case(&c).problems.is_empty(), "a wrong module fan_in went unnoticed");
    let mut c = find("torch/module/nn.Conv2d(3, 64, 7)");
    let b = c["bias"]["high"].clone();
    set(&mut c, &["bias", "high"], bump(&b, 1e-6));
    assert!(!check_case(&c).problems.is_empty(), "a wrong bias bound went unnoticed");

    let mut c = find("torch/calculate_gain/leaky_relu/float:0.2");
    set(&mut c, &["param"], Value::String("0.21".into()));
    assert!(!check_case(&c).problems.is_empty(), "a wrong gain went unnoticed");
    let mut c = find("torch/calculate_gain/leaky_relu/bool:True");
    set(&mut c, &["expect", "error"], Value::String("negative_slope TRUE not a valid number".into()));
    assert!(!check_case(&c).problems.is_empty(), "a wrong error text went unnoticed");

    // the known-difference globs are not so broad that they would hide a good case
    assert!(known_difference("torch/kaiming_normal_/a=0.2,mode=fan_out/[64,3,7,7]").is_none());
    assert!(known_difference("torch/kaiming_normal_/nonlinearity=gelu/[64,3,7,7]").is_none());
    assert!(known_difference("jax/glorot_normal/default/[784,128]").is_none());
    assert!(known_difference("torch/kaiming_uniform_/default/[0]").is_some());
}
