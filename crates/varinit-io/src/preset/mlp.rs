//! The `mlp` preset: a plain stack of linear layers (`layers.{i}.weight`
//! (out, in), `layers.{i}.bias`).

use varinit::scheme::Family;
use varinit::{FanMode, Init};

use super::build::{Tensors, normal};
use super::settings::Settings;
use crate::spec::TensorSpec;
use crate::{IoError, Result};

/// The keys the `mlp` preset takes.
pub(super) const KEYS: &[&str] = &["dims", "bias", "style", "initializer_range"];

/// The tensors of the `mlp` preset and its style's name.
pub(super) fn tensors(s: &Settings) -> Result<(Vec<TensorSpec>, String)> {
    let dims_text = s.raw("dims").unwrap_or("784,256,10");
    let dims: Vec<u64> = dims_text
        .split([',', 'x'])
        .map(|d| d.trim().parse::<u64>().ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .filter(|v: &Vec<u64>| v.len() >= 2)
        .ok_or_else(|| {
            IoError::Usage(format!("mlp dims={dims_text:?}: write at least two positive widths, e.g. dims=784,256,10"))
        })?;
    let bias = s.boolean("bias", true)?;
    let std = match s.raw("initializer_range") {
        None => 0.02,
        Some(v) => varinit::scheme::parse_number(v)
            .ok_or_else(|| IoError::Usage(format!("mlp initializer_range={v:?}: expected a number")))?,
    };
    let style = s.raw("style").unwrap_or("torch");
    // the style decision of this preset
    let (w, b) = match style {
        "torch" => (Init::TorchDefault, None),
        "hf" => (normal(std)?, Some(Init::zeros())),
        "kaiming" => (kaiming_relu(), Some(Init::zeros())),
        _ => return Err(IoError::Usage(format!("mlp style={style:?}: use torch, hf or kaiming"))),
    };
    let mut t = Tensors::default();
    for (i, pair) in dims.windows(2).enumerate() {
        let (fan_in, out) = (pair[0], pair[1]);
        t.push(format!("layers.{i}.weight"), &[out, fan_in], &w)?;
        if bias {
            let bi = b.clone().unwrap_or(Init::TorchDefaultBias { fan_in: Some(fan_in) });
            t.push(format!("layers.{i}.bias"), &[out], &bi)?;
        }
    }
    Ok((t.0, style.to_string()))
}

/// `kaiming_normal(nonlinearity=relu)`: PyTorch's defaults a = 0, fan_in.
fn kaiming_relu() -> Init {
    Init::Kaiming { family: Family::Normal, a: 0.0, mode: FanMode::FanIn, nonlinearity: "relu" }
}

#[cfg(test)]
mod tests {
    #[test]
    fn kaiming_relu_is_the_grammar_s() {
        let parsed: varinit::Init = "kaiming_normal(nonlinearity=relu)".parse().unwrap();
        assert_eq!(super::kaiming_relu(), parsed);
        assert_eq!(super::kaiming_relu().to_string(), parsed.to_string());
    }
}
