//! `varinit schemes`

use serde_json::json;
use varinit::scheme::SCHEMES;

use crate::output::{CliResult, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> CliResult {
    if a.json {
        let v: Vec<_> = SCHEMES.iter().map(|(s, d)| json!({"scheme": s, "description": d})).collect();
        return print_json(&json!({ "schemes": v }));
    }
    let w = SCHEMES.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    for (s, d) in SCHEMES {
        println!("{s:<w$}  {d}");
    }
    println!();
    println!("Numbers may be expressions (1/sqrt(5), 2**-3); gains may be nonlinearity names (gain=relu).");
    Ok(())
}
