//! `varinit fans DIM... [--layout L] [--transposed]`

use serde_json::json;
use varinit::{Fans, Layout, Shape};

use crate::output::{CliError, CliResult, print_json};

#[derive(clap::Args)]
pub struct Args {
    /// The weight's dimensions, outermost first (e.g. `64 3 7 7`, or one argument `64x3x7x7`).
    #[arg(required = true, num_args = 1..)]
    pub dims: Vec<String>,
    /// Whose weight layout: torch (out, in, *k), keras or jax (*k, in, out).
    #[arg(long, default_value = "torch")]
    pub layout: String,
    /// The weight belongs to a transposed convolution (PyTorch stores those as (in, out/groups, *k)):
    /// swap the roles so that fan_in counts a unit's real inputs.
    #[arg(long)]
    pub transposed: bool,
    /// One JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parse `DIM...` given as separate numbers or as one `AxBxC` string.
pub fn parse_dims(dims: &[String]) -> Result<Shape, CliError> {
    Ok(dims.join("x").parse::<Shape>()?)
}

pub fn run(a: Args) -> CliResult {
    let shape = parse_dims(&a.dims)?;
    let layout: Layout = a.layout.parse()?;
    let f = Fans::of(&shape, layout, a.transposed)?;
    if a.json {
        return print_json(&json!({
            "shape": shape.dims(), "layout": layout.name(), "transposed": a.transposed,
            "fan_in": f.fan_in, "fan_out": f.fan_out, "receptive_field": f.receptive_field,
        }));
    }
    println!("fan_in           {}", f.fan_in);
    println!("fan_out          {}", f.fan_out);
    println!("receptive_field  {}", f.receptive_field);
    Ok(())
}
