//! Number formatting: the one home of the two ways varinit writes numbers.
//!
//! - [`shortest`]: the text that reads back as the same `f64` (integers
//!   plainly). Scheme strings, and so checkpoint metadata, use it: it is
//!   part of the bytes varinit writes.
//! - [`significant`]: a number for people, with a given number of
//!   significant digits and trailing zeros removed (`0.0625`, `1.41421`,
//!   `3.2e-7`): descriptions of distributions and the command line's tables.

/// The shortest text that reads back as the same `f64`: integers below
/// 10^15 plainly (`3`, `-2`), everything else as Rust's shortest
/// round-trip representation (`0.02`, `1e-5`, `1e20`); `inf`, `-inf`,
/// `NaN`.
///
/// ```
/// use varinit::number::shortest;
/// assert_eq!(shortest(3.0), "3");
/// assert_eq!(shortest(0.1 + 0.2), "0.30000000000000004");
/// assert_eq!(shortest(f64::NEG_INFINITY), "-inf");
/// ```
pub fn shortest(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x.fract() == 0.0 && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    format!("{x:?}")
}

/// `x` rounded to `digits` significant digits (at least 1), trailing zeros
/// removed: fixed notation from 1e-4 up to 1e6 (with no decimals where the
/// integer part already has `digits` or more digits), scientific notation
/// outside (`1.5e-7`, `2.5e8`); `0`, `inf`, `-inf`, `nan`.
///
/// ```
/// use varinit::number::significant;
/// assert_eq!(significant(std::f64::consts::SQRT_2, 6), "1.41421");
/// assert_eq!(significant(0.0625, 6), "0.0625");
/// assert_eq!(significant(1234.5678, 3), "1235");
/// assert_eq!(significant(-3.25e-7, 6), "-3.25e-7");
/// ```
pub fn significant(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "nan".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == 0.0 {
        return "0".into();
    }
    let digits = digits.max(1) as i32;
    let mag = x.abs().log10().floor() as i32;
    if (-4..6).contains(&mag) {
        let decimals = (digits - 1 - mag).max(0) as usize;
        trim_zeros(&format!("{x:.decimals$}")).to_string()
    } else {
        let s = format!("{x:.prec$e}", prec = (digits - 1) as usize);
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        format!("{}e{e}", trim_zeros(m))
    }
}

/// `1.2500` -> `1.25`, `2.000` -> `2`; text without a decimal point is
/// left alone.
fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_reads_back_exactly() {
        for x in [0.0, -0.0, 1.0, -7.0, 0.02, 1e-300, 123456.789, 1e15, 1e16, 5e-324, f64::MAX, 2f64.sqrt()] {
            let s = shortest(x);
            assert_eq!(s.parse::<f64>().unwrap(), x, "{s}");
        }
        assert_eq!(shortest(-7.0), "-7");
        assert_eq!(shortest(1e15), "1000000000000000.0");
        assert_eq!(shortest(1e16), "1e16");
        assert_eq!(shortest(0.02), "0.02");
        assert_eq!(shortest(f64::INFINITY), "inf");
    }

    #[test]
    fn significant_digits() {
        let cases = [
            (0.0625, 6, "0.0625"),
            (1.0, 6, "1"),
            (-2.5, 6, "-2.5"),
            (123456.7, 6, "123457"),
            (1234567.0, 6, "1.23457e6"),
            (0.00012345678, 6, "0.000123457"),
            (0.000012345678, 6, "1.23457e-5"),
            (1e-15, 6, "1e-15"),
            (0.5691, 3, "0.569"),
            (61.44, 3, "61.4"),
            (9999.4, 3, "9999"),
            (1.3e-15, 3, "1.3e-15"),
            (2.0 / 3.0, 1, "0.7"),
            (2.0 / 3.0, 0, "0.7"),
        ];
        for (x, d, want) in cases {
            assert_eq!(significant(x, d), want, "{x} with {d} digits");
        }
        assert_eq!(significant(f64::NAN, 6), "nan");
        assert_eq!(significant(f64::NEG_INFINITY, 6), "-inf");
        assert_eq!(significant(-0.0, 6), "0");
    }
}
