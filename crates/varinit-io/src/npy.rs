//! NumPy `.npy` (format version 1.0) writer.

use std::path::Path;

use varinit::{DType, Par, TensorInit};

use crate::atomic::AtomicFile;
use crate::{IoError, Result};

/// The `.npy` header for a little-endian array of `dtype` and `shape`,
/// padded so the data starts at a multiple of 64 bytes.
pub fn header(dtype: DType, shape: &[u64]) -> Result<Vec<u8>> {
    let descr = match dtype {
        DType::F32 => "<f4",
        DType::F64 => "<f8",
        DType::F16 => "<f2",
        DType::BF16 => {
            return Err(IoError::Format(
                "numpy has no bfloat16 dtype; write .safetensors or choose another dtype (f32, f64, f16)".into(),
            ));
        }
    };
    let dims = match shape.len() {
        0 => "()".to_string(),
        1 => format!("({},)", shape[0]),
        _ => format!("({})", shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", ")),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    // magic (6) + version (2) + length (2) + dict + padding + '\n' = multiple of 64
    let unpadded = 10 + dict.len() + 1;
    let pad = (64 - unpadded % 64) % 64;
    dict.push_str(&" ".repeat(pad));
    dict.push('\n');
    let len =
        u16::try_from(dict.len()).map_err(|_| IoError::Format("shape too long for an .npy v1.0 header".into()))?;
    let mut out = Vec::with_capacity(10 + dict.len());
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    Ok(out)
}

/// Write one initialized tensor as `.npy`, atomically.
pub fn write_tensor(path: &Path, tensor: &TensorInit, dtype: DType, par: Par) -> Result<()> {
    let head = header(dtype, tensor.shape().dims())?;
    let mut file = AtomicFile::create(path)?;
    file.write_all(&head)?;
    crate::safetensors::stream_tensor_bytes(tensor, dtype, par, |bytes| file.write_all(bytes))?;
    file.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_well_formed() {
        for shape in [vec![], vec![3], vec![256, 512], vec![64, 3, 7, 7]] {
            let h = header(DType::F32, &shape).unwrap();
            assert_eq!(h.len() % 64, 0);
            assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
            let len = u16::from_le_bytes([h[8], h[9]]) as usize;
            assert_eq!(10 + len, h.len());
            assert_eq!(*h.last().unwrap(), b'\n');
        }
        let h = header(DType::F64, &[3]).unwrap();
        assert!(String::from_utf8_lossy(&h).contains("'shape': (3,)"));
        assert!(header(DType::BF16, &[3]).is_err());
    }
}
