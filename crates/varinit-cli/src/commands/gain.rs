//! `varinit gain [NONLINEARITY] [--param X]`

use serde_json::json;
use varinit::gain::{GainParam, TORCH_GAIN_NAMES, calculate_gain};

use crate::output::{CliResult, Table, num, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// A nonlinearity from PyTorch's table (linear, conv1d..3d, conv_transpose1d..3d, sigmoid, tanh,
    /// relu, leaky_relu, selu); all of them when omitted.
    pub nonlinearity: Option<String>,
    /// The parameter, as in calculate_gain(nonlinearity, param): leaky_relu's negative slope (default 0.01).
    #[arg(long, allow_hyphen_values = true)]
    pub param: Option<String>,
    /// One JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Gains computed from the activation itself, for every activation (or the one named): forward
    /// 1/sqrt(E[phi(z)^2]), backward 1/sqrt(E[phi'(z)^2]), and the mean-field edge of chaos.
    #[arg(long)]
    pub numeric: bool,
}

pub fn run(a: Args) -> CliResult {
    if a.numeric {
        return crate::commands::gain_numeric::run(&a);
    }
    let param = a.param.as_deref().map(GainParam::parse);
    match &a.nonlinearity {
        Some(name) => {
            let g = calculate_gain(name, param.as_ref())?;
            if a.json {
                print_json(&json!({"nonlinearity": name, "param": a.param, "gain": g}))
            } else {
                println!("{g}");
                Ok(())
            }
        }
        None => {
            let rows: Vec<(&str, f64)> = TORCH_GAIN_NAMES
                .iter()
                .map(|n| Ok((*n, calculate_gain(n, param.as_ref())?)))
                .collect::<Result<_, varinit::Error>>()?;
            if a.json {
                let table: Vec<_> = rows.iter().map(|(n, g)| json!({"nonlinearity": n, "gain": g})).collect();
                return print_json(&json!({"param": a.param, "gains": table}));
            }
            let mut t = Table::new(["nonlinearity", "gain", "exact"]);
            for (n, g) in rows {
                let exact = match n {
                    "tanh" => "5/3".to_string(),
                    "relu" => "sqrt(2)".to_string(),
                    "selu" => "3/4".to_string(),
                    "leaky_relu" => format!("sqrt(2 / (1 + {}^2))", a.param.as_deref().unwrap_or("0.01")),
                    _ => "1".to_string(),
                };
                t.row([n.to_string(), num(g), exact]);
            }
            print!("{}", t.render());
            Ok(())
        }
    }
}
