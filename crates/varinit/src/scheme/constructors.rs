//! Small value constructors for the schemes that presets build, so that a
//! caller makes an [`Init`] as a value instead of formatting a scheme string
//! and parsing it back. Each returns the same value the grammar gives for
//! the equivalent text (so the display, the stream and the metadata agree),
//! validated.

use super::Init;
use crate::Result;

impl Init {
    /// `normal(mean, std)`, validated (std > 0, both finite).
    pub fn normal(mean: f64, std: f64) -> Result<Init> {
        let i = Init::Normal { mean, std };
        i.validate()?;
        Ok(i)
    }

    /// `trunc_normal(mean, std, a, b)` with PyTorch's absolute bounds, validated.
    pub fn trunc_normal(mean: f64, std: f64, a: f64, b: f64) -> Result<Init> {
        let i = Init::TruncNormal { mean, std, a, b };
        i.validate()?;
        Ok(i)
    }

    /// `zeros`.
    pub fn zeros() -> Init {
        Init::Constant { value: 0.0 }
    }

    /// `ones`.
    pub fn ones() -> Init {
        Init::Constant { value: 1.0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_equal_their_parsed_text() {
        for (v, s) in [
            (Init::normal(0.0, 0.02).unwrap(), "normal(mean=0, std=0.02)"),
            (Init::normal(0.0, 0.02 / 48f64.sqrt()).unwrap(), "normal(mean=0, std=0.02/sqrt(48))"),
            (
                Init::trunc_normal(0.0, 0.125, -0.375, 0.375).unwrap(),
                "trunc_normal(mean=0, std=0.125, a=-0.375, b=0.375)",
            ),
            (Init::zeros(), "zeros"),
            (Init::ones(), "ones"),
        ] {
            assert_eq!(v, s.parse::<Init>().unwrap(), "{s}");
            assert_eq!(v.to_string(), s.parse::<Init>().unwrap().to_string());
        }
        assert!(Init::normal(0.0, 0.0).is_err());
        assert!(Init::normal(0.0, f64::NAN).is_err());
        assert!(Init::trunc_normal(0.0, 1.0, 2.0, -2.0).is_err());
    }
}
