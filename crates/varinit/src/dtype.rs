//! Output element types.
//!
//! f32, f16 and bf16 outputs share one stream: values are generated in f32
//! and rounded to nearest even, so a bf16 tensor is exactly the rounding of
//! the f32 tensor with the same seed and name. f64 has its own stream with
//! 53-bit uniforms and double-precision transforms.

use std::fmt;
use std::str::FromStr;

use half::{bf16, f16};

use crate::error::{Error, Result};

pub use half::bf16 as BF16;
pub use half::f16 as F16;

/// An output element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DType {
    /// IEEE binary32.
    #[default]
    F32,
    /// IEEE binary64.
    F64,
    /// IEEE binary16.
    F16,
    /// bfloat16 (the top half of a binary32).
    BF16,
}

/// The arithmetic a dtype is generated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Precision {
    /// f32 streams: f32, f16, bf16.
    Single,
    /// f64 streams.
    Double,
}

impl DType {
    /// All dtypes.
    pub const ALL: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];

    /// Every name a dtype is accepted under (lower case; [`FromStr`] also
    /// ignores case and surrounding blanks): varinit's own (`f32`...),
    /// PyTorch's and numpy's (`float32`..., `bfloat16`), C's (`float`,
    /// `double`, `half`) and the `fp32`/`fp16` of training configs. The one
    /// table every front end (command line, spec files, Python) reads.
    pub const ALIASES: [(&'static str, DType); 14] = [
        ("f32", DType::F32),
        ("float32", DType::F32),
        ("float", DType::F32),
        ("fp32", DType::F32),
        ("f64", DType::F64),
        ("float64", DType::F64),
        ("double", DType::F64),
        ("fp64", DType::F64),
        ("f16", DType::F16),
        ("float16", DType::F16),
        ("half", DType::F16),
        ("fp16", DType::F16),
        ("bf16", DType::BF16),
        ("bfloat16", DType::BF16),
    ];

    /// Lower-case name: `f32`, `f64`, `f16`, `bf16`.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
        }
    }

    /// The safetensors dtype string: `F32`, `F64`, `F16`, `BF16`.
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F64 => "F64",
            DType::F16 => "F16",
            DType::BF16 => "BF16",
        }
    }

    /// The dtype's name in PyTorch (`torch.<name>`) and numpy:
    /// `float32`, `float64`, `float16`, `bfloat16`.
    pub fn torch_name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
        }
    }

    /// The dtype of a safetensors dtype string (`F32`, `F64`, `F16`,
    /// `BF16`); `None` for the others (integers, `F8_*`, `BOOL`).
    pub fn from_safetensors_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.safetensors_name() == name)
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
            DType::F16 | DType::BF16 => 2,
        }
    }

    /// The stream family the dtype is generated in.
    pub fn precision(self) -> Precision {
        match self {
            DType::F64 => Precision::Double,
            _ => Precision::Single,
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        let key = s.trim().to_ascii_lowercase();
        DType::ALIASES
            .iter()
            .find(|(alias, _)| *alias == key)
            .map(|&(_, d)| d)
            .ok_or_else(|| Error::UnknownDtype { name: s.to_string() })
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for half::f16 {}
    impl Sealed for half::bf16 {}
}

/// A type a tensor can be filled with: `f32`, `f64`, `half::f16`,
/// `half::bf16`.
pub trait Element: Copy + Default + Send + Sync + PartialOrd + fmt::Debug + 'static + sealed::Sealed {
    /// The dtype tag.
    const DTYPE: DType;
    /// Round an f32 to this type (nearest, ties to even).
    fn from_f32(x: f32) -> Self;
    /// Round an f64 to this type (nearest, ties to even).
    fn from_f64(x: f64) -> Self;
    /// Widen to f64 (exact).
    fn to_f64(self) -> f64;
    /// The next representable value towards +infinity (for finite values).
    fn next_up(self) -> Self;
    /// The next representable value towards -infinity (for finite values).
    fn next_down(self) -> Self;
    /// Little-endian bytes, written to `out` (of length `DTYPE.size()`).
    fn write_le(self, out: &mut [u8]);
}

fn next_bits_up(bits: u64, sign: u64, zero_up: u64) -> u64 {
    // for IEEE-like encodings: magnitude increases with bits when positive
    if bits & !sign == 0 {
        zero_up
    } else if bits & sign == 0 {
        bits + 1
    } else {
        bits - 1
    }
}

impl Element for f32 {
    const DTYPE: DType = DType::F32;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn next_up(self) -> Self {
        f32::from_bits(next_bits_up(u64::from(self.to_bits()), 1 << 31, 1) as u32)
    }
    fn next_down(self) -> Self {
        -(-self).next_up()
    }
    #[inline(always)]
    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Element for f64 {
    const DTYPE: DType = DType::F64;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        f64::from(x)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    fn next_up(self) -> Self {
        f64::from_bits(next_bits_up(self.to_bits(), 1 << 63, 1))
    }
    fn next_down(self) -> Self {
        -Element::next_up(-self)
    }
    #[inline(always)]
    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Element for f16 {
    const DTYPE: DType = DType::F16;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        f16::from_f32(x)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        f16::from_f64(x)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn next_up(self) -> Self {
        f16::from_bits(next_bits_up(u64::from(self.to_bits()), 1 << 15, 1) as u16)
    }
    fn next_down(self) -> Self {
        -(-self).next_up()
    }
    #[inline(always)]
    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

impl Element for bf16 {
    const DTYPE: DType = DType::BF16;
    #[inline(always)]
    fn from_f32(x: f32) -> Self {
        bf16::from_f32(x)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        bf16::from_f64(x)
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn next_up(self) -> Self {
        bf16::from_bits(next_bits_up(u64::from(self.to_bits()), 1 << 15, 1) as u16)
    }
    fn next_down(self) -> Self {
        -(-self).next_up()
    }
    #[inline(always)]
    fn write_le(self, out: &mut [u8]) {
        out.copy_from_slice(&self.to_le_bytes());
    }
}

/// The representable values of `T` closest to `[low, high]` from inside:
/// the smallest value `>= low` and the largest `<= high`.
pub(crate) fn inward_bounds<T: Element>(low: f64, high: f64) -> (T, T) {
    let mut lo = T::from_f64(low);
    if lo.to_f64() < low {
        lo = lo.next_up();
    }
    let mut hi = T::from_f64(high);
    if hi.to_f64() > high {
        hi = hi.next_down();
    }
    (lo, hi)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_table_of_names() {
        for d in DType::ALL {
            for name in [d.name(), d.torch_name()] {
                assert_eq!(name.parse::<DType>().unwrap(), d, "{name}");
                assert!(DType::ALIASES.contains(&(name, d)), "{name}");
            }
            assert_eq!(DType::from_safetensors_name(d.safetensors_name()), Some(d));
        }
        for (alias, d) in DType::ALIASES {
            assert_eq!(format!(" {} ", alias.to_uppercase()).parse::<DType>().unwrap(), d, "{alias}");
        }
        assert_eq!(DType::from_safetensors_name("I8"), None);
        assert_eq!(DType::from_safetensors_name("f32"), None, "safetensors names are upper case");
        assert!(matches!("int4".parse::<DType>(), Err(Error::UnknownDtype { .. })));
    }

    #[test]
    fn names_round_trip() {
        for d in DType::ALL {
            assert_eq!(d.name().parse::<DType>().unwrap(), d);
        }
        assert!("int8".parse::<DType>().is_err());
    }

    #[test]
    fn next_up_down() {
        assert_eq!(1.0f32.next_up(), 1.0 + f32::EPSILON);
        assert_eq!(Element::next_down(1.0f32), 1.0 - f32::EPSILON / 2.0);
        assert_eq!(Element::next_up(0.0f32), f32::from_bits(1));
        assert_eq!(Element::next_up(-f32::from_bits(1)), -0.0);
        let b = bf16::from_f32(1.0);
        assert_eq!(b.next_up().to_f32(), 1.0078125);
        assert_eq!(Element::next_down(b).to_f32(), 0.99609375);
    }

    #[test]
    fn inward() {
        let (lo, hi) = inward_bounds::<bf16>(-0.0765, 0.0765);
        assert!(lo.to_f64() >= -0.0765 && hi.to_f64() <= 0.0765);
        assert!(Element::next_down(lo).to_f64() < -0.0765 && hi.next_up().to_f64() > 0.0765);
        let (lo, hi) = inward_bounds::<f16>(-1e6, 1e6);
        assert_eq!((lo.to_f64(), hi.to_f64()), (-65504.0, 65504.0));
    }
}
