//! Byte sizes as people write them: `5GB`, `500MB`, `2GiB`, `1000000`.

use crate::{IoError, Result};

/// Parse a byte size. Decimal units (`KB`, `MB`, `GB`, `TB`, as Hugging
/// Face's `max_shard_size` reads them) and binary ones (`KiB`, `MiB`,
/// `GiB`, `TiB`); a bare number is bytes. Case-insensitive; fractions
/// allowed (`1.5GB`).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        IoError::Usage(format!(
            "cannot read size {s:?}: write a number of bytes or a number with a unit, like 5GB, 500MB or 2GiB"
        ))
    };
    let x: f64 = num.replace('_', "").parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    let v = x * mult as f64;
    if !v.is_finite() || v < 1.0 || v > u64::MAX as f64 {
        return Err(IoError::Usage(format!("size {s:?} must be at least 1 byte")));
    }
    Ok(v.round() as u64)
}

/// A byte count for people: `1.70 GB`, `512 B` (decimal units).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut x = n as f64;
    let mut u = 0;
    while x >= 1000.0 && u + 1 < UNITS.len() {
        x /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{x:.2} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("5GB").unwrap(), 5_000_000_000);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("1.5 mb").unwrap(), 1_500_000);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        for bad in ["", "GB", "5 parsecs", "-1GB", "0"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
        assert_eq!(human_bytes(1_700_000_000), "1.70 GB");
        assert_eq!(human_bytes(12), "12 B");
    }
}
