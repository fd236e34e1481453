//! Element conversions and the one layout change this crate makes.

use varinit::DType;
use varinit::dtype::{BF16, F16};

/// `v` holds a row-major `rows x cols` matrix; the result is its transpose
/// (`cols x rows`, row-major).
pub(crate) fn transpose<T: Copy>(v: &[T], rows: usize, cols: usize) -> Vec<T> {
    debug_assert_eq!(v.len(), rows * cols);
    let mut out = Vec::with_capacity(v.len());
    for c in 0..cols {
        out.extend((0..rows).map(|r| v[r * cols + c]));
    }
    out
}

/// Little-endian `bytes` of `dtype` elements, converted to `T` (exact when
/// widening, rounded to nearest even when narrowing).
pub(crate) fn decode<T: varinit::Element>(dtype: DType, bytes: &[u8]) -> Vec<T> {
    match dtype {
        DType::F32 => {
            bytes.chunks_exact(4).map(|b| T::from_f32(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))).collect()
        }
        DType::F64 => {
            bytes.chunks_exact(8).map(|b| T::from_f64(f64::from_le_bytes(b.try_into().expect("8 bytes")))).collect()
        }
        DType::F16 => bytes.chunks_exact(2).map(|b| T::from_f32(F16::from_le_bytes([b[0], b[1]]).to_f32())).collect(),
        DType::BF16 => bytes.chunks_exact(2).map(|b| T::from_f32(BF16::from_le_bytes([b[0], b[1]]).to_f32())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_is_the_transpose() {
        // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]]
        assert_eq!(transpose(&[1, 2, 3, 4, 5, 6], 2, 3), [1, 4, 2, 5, 3, 6]);
        assert_eq!(transpose(&transpose(&[1, 2, 3, 4, 5, 6], 2, 3), 3, 2), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn decodes_every_float_dtype() {
        let x = [1.5f32, -0.25];
        let f32b: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f64b: Vec<u8> = x.iter().flat_map(|v| f64::from(*v).to_le_bytes()).collect();
        let f16b: Vec<u8> = x.iter().flat_map(|v| F16::from_f32(*v).to_le_bytes()).collect();
        let bf16b: Vec<u8> = x.iter().flat_map(|v| BF16::from_f32(*v).to_le_bytes()).collect();
        for (d, b) in [(DType::F32, &f32b), (DType::F64, &f64b), (DType::F16, &f16b), (DType::BF16, &bf16b)] {
            assert_eq!(decode::<f32>(d, b), x, "{d}");
            assert_eq!(decode::<f64>(d, b), [1.5, -0.25], "{d}");
        }
        // narrowing rounds to nearest even: 1 + 2^-9 is halfway between two bf16 values
        let y = 1.0f32 + 2f32.powi(-9);
        assert_eq!(decode::<BF16>(DType::F32, &y.to_le_bytes())[0].to_f32(), 1.0);
    }
}
