//! `varinit critical ACTIVATION [--sigma-b2 X] [--fan N] [--q0 X] [--json]`

use serde_json::json;
use varinit::Activation;
use varinit_theory::meanfield::{CriticalSearch, MeanFieldPoint, critical};

use crate::output::{CliError, CliResult, num, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// The activation: linear, relu, leaky_relu(0.2), tanh, sigmoid, gelu, gelu_tanh, silu, elu(1),
    /// selu, softplus, mish, hard_tanh.
    pub activation: String,
    /// Bias variance sigma_b^2 (biases ~ N(0, sigma_b^2)).
    #[arg(long = "sigma-b2", default_value_t = 0.0, allow_hyphen_values = true)]
    pub sigma_b2: f64,
    /// Fan-in of the layer to give the weight scheme for (std = sigma_w / sqrt(fan)).
    #[arg(long)]
    pub fan: Option<u64>,
    /// Second moment of the first layer's pre-activations, where the length map starts.
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    pub q0: f64,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A JSON number, or null for infinities and NaN.
pub fn jnum(x: f64) -> serde_json::Value {
    if x.is_finite() { json!(x) } else { serde_json::Value::Null }
}

pub fn point_json(p: &MeanFieldPoint) -> serde_json::Value {
    json!({
        "sigma_w2": jnum(p.sigma_w2), "sigma_b2": jnum(p.sigma_b2), "q0": jnum(p.q0), "q_star": jnum(p.q_star),
        "chi1": jnum(p.chi1), "chi_q": jnum(p.chi_q), "c_star": jnum(p.c_star), "chi_c": jnum(p.chi_c),
        "xi_q": jnum(p.xi_q), "xi_c": jnum(p.xi_c), "phase": p.phase,
    })
}

pub fn run(a: Args) -> CliResult {
    let act: Activation = a.activation.parse()?;
    if a.fan == Some(0) {
        return Err(CliError::usage("--fan 0: the fan-in must be at least 1"));
    }
    let search = critical(act, a.sigma_b2, a.q0)?;
    let p = match &search {
        CriticalSearch::Found(p) => *p,
        CriticalSearch::NotFound { reason } => {
            if a.json {
                return print_json(&json!({
                    "activation": act.to_string(), "sigma_b2": a.sigma_b2, "critical": null, "reason": reason,
                }));
            }
            println!("{act}, sigma_b^2 = {}: no edge of chaos.", num(a.sigma_b2));
            println!("{reason}");
            return Ok(());
        }
    };
    let sw = p.sigma_w2.sqrt();
    let sb = p.sigma_b2.sqrt();
    let weight = a.fan.map(|f| format!("normal(std={})", num(sw / (f as f64).sqrt())));
    let bias = (p.sigma_b2 > 0.0).then(|| format!("normal(std={})", num(sb)));
    if a.json {
        return print_json(&json!({
            "activation": act.to_string(),
            "sigma_b2": a.sigma_b2,
            "critical": point_json(&p),
            "sigma_w": sw,
            "fan": a.fan,
            "weight_scheme": weight,
            "bias_scheme": bias.clone().unwrap_or_else(|| "zeros".into()),
        }));
    }
    let inf = |x: f64| if x.is_finite() { num(x) } else { "inf".into() };
    println!("activation     {act}");
    println!("sigma_b^2      {}", num(p.sigma_b2));
    println!("edge of chaos  sigma_w^2 = {} (sigma_w = {}), where chi_1 = {}", num(p.sigma_w2), num(sw), num(p.chi1));
    println!("q*             {} (fixed point of the length map, iterated from q0 = {})", num(p.q_star), num(p.q0));
    println!(
        "chi_q          {}, depth scale xi_q = {} layers (how fast the length reaches q*)",
        num(p.chi_q),
        inf(p.xi_q)
    );
    println!(
        "c*             {}, chi_c = {}, depth scale xi_c = {} (how deep input correlations are told apart)",
        num(p.c_star),
        num(p.chi_c),
        inf(p.xi_c)
    );
    match &weight {
        Some(w) => println!("weights        {w}  (sigma_w / sqrt({}))", a.fan.unwrap_or(1)),
        None => println!(
            "weights        normal(std={} / sqrt(fan_in)); add --fan N for the number \
             (for square layers: xavier_normal(gain={}))",
            num(sw),
            num(sw)
        ),
    }
    println!("biases         {}", bias.unwrap_or_else(|| "zeros".into()));
    Ok(())
}
