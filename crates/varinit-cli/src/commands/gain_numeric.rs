//! `varinit gain --numeric [ACTIVATION] [--param X] [--json]`

use rayon::prelude::*;
use serde_json::json;
use varinit::Activation;
use varinit_theory::gains::{NumericGain, numeric_gain};

use crate::commands::critical::jnum;
use crate::commands::gain::Args;
use crate::output::{CliError, CliResult, Table, num, print_json};

pub fn run(a: &Args) -> CliResult {
    let acts: Vec<Activation> = match &a.nonlinearity {
        Some(name) => {
            let param = match &a.param {
                None => None,
                Some(p) => Some(varinit::scheme::parse_number(p).ok_or_else(|| {
                    CliError::usage(format!("--param {p}: not a number (the slope of leaky_relu or the alpha of elu)"))
                })?),
            };
            let act = if name.contains('(') { name.parse()? } else { Activation::with_param(name, param)? };
            vec![act]
        }
        None => Activation::all().to_vec(),
    };
    let rows: Vec<NumericGain> = acts.par_iter().map(|&x| numeric_gain(x)).collect::<Result<_, varinit::Error>>()?;
    if a.json {
        let v: Vec<_> = rows
            .iter()
            .map(|g| {
                json!({
                    "activation": g.activation, "torch": g.torch, "forward": jnum(g.forward),
                    "backward": jnum(g.backward), "chi1_at_forward": jnum(g.chi1_at_forward),
                    "edge_of_chaos_sigma_w": g.edge_of_chaos, "edge_of_chaos_q_star": g.edge_q_star, "note": g.note,
                })
            })
            .collect();
        return print_json(&json!({ "gains": v }));
    }
    let opt = |x: Option<f64>| x.map_or("-".to_string(), num);
    let mut t = Table::new(["activation", "torch", "forward", "backward", "chi_1@fwd", "edge sigma_w", "q* there"]);
    for g in &rows {
        t.row([
            g.activation.clone(),
            opt(g.torch),
            num(g.forward),
            num(g.backward),
            num(g.chi1_at_forward),
            opt(g.edge_of_chaos),
            opt(g.edge_q_star),
        ]);
    }
    print!("{}", t.render());
    println!();
    println!("forward  = 1/sqrt(E[phi(z)^2]), z ~ N(0,1): keeps E[h^2] = 1 from layer to layer (He's argument)");
    println!("backward = 1/sqrt(E[phi'(z)^2]): keeps the gradient's second moment");
    println!("chi_1@fwd = (forward/backward)^2: gradient growth per layer at the forward gain (1 = both kept)");
    println!("edge sigma_w: the weight std x sqrt(fan_in) where chi_1 = 1 with sigma_b = 0 (mean field), q* there");
    let notes: Vec<&String> = rows.iter().filter_map(|g| g.note.as_ref()).collect();
    if !notes.is_empty() {
        println!();
        for n in notes {
            println!("note: {n}");
        }
    }
    Ok(())
}
