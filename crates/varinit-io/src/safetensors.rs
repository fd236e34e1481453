//! safetensors writer.
//!
//! Format: an 8-byte little-endian header length `N`, `N` bytes of JSON
//! (`{"__metadata__": {..}, NAME: {"dtype", "shape", "data_offsets"}}`,
//! padded with spaces to a multiple of 8), then the tensors' bytes,
//! contiguous, in header order.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value, json};
use varinit::{DType, Par, TensorInit};

use crate::atomic::AtomicFile;
use crate::{IoError, Result};

/// Bytes generated per piece when streaming a tensor (bounded memory).
pub const PIECE_BYTES: usize = 8 << 20;

/// One tensor's entry in a safetensors header.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Tensor name.
    pub name: String,
    /// Element type.
    pub dtype: DType,
    /// Dimensions.
    pub shape: Vec<u64>,
}

impl Entry {
    /// Size of the tensor's data in bytes.
    pub fn byte_len(&self) -> Result<u64> {
        let shape = varinit::Shape::new(self.shape.clone())?;
        Ok(shape.byte_len(self.dtype.size() as u64)?)
    }
}

/// The header bytes (length prefix included) for `entries` in this order,
/// with `metadata` as `__metadata__`.
pub fn header(entries: &[Entry], metadata: &BTreeMap<String, String>) -> Result<Vec<u8>> {
    let mut obj = Map::new();
    if !metadata.is_empty() {
        obj.insert("__metadata__".into(), json!(metadata));
    }
    let mut offset: u64 = 0;
    for e in entries {
        if e.name == "__metadata__" {
            return Err(IoError::Format("a tensor cannot be named __metadata__".into()));
        }
        let len = e.byte_len()?;
        let end = offset.checked_add(len).ok_or_else(|| IoError::Format("checkpoint larger than 2^64 bytes".into()))?;
        let prev = obj.insert(
            e.name.clone(),
            json!({"dtype": e.dtype.safetensors_name(), "shape": e.shape, "data_offsets": [offset, end]}),
        );
        if prev.is_some() {
            return Err(IoError::Format(format!("duplicate tensor name {:?}", e.name)));
        }
        offset = end;
    }
    let mut text = serde_json::to_string(&Value::Object(obj)).map_err(|e| IoError::Format(e.to_string()))?;
    while text.len() % 8 != 0 {
        text.push(' ');
    }
    let mut out = Vec::with_capacity(8 + text.len());
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(out)
}

/// Generate a tensor's bytes in `dtype` piece by piece (at most
/// [`PIECE_BYTES`] at a time) and hand each piece to `sink`.
pub fn stream_tensor_bytes(
    tensor: &TensorInit,
    dtype: DType,
    par: Par,
    mut sink: impl FnMut(&[u8]) -> Result<()>,
) -> Result<()> {
    // what the dtype can represent, before the first byte
    tensor.check_dtype(dtype)?;
    let size = dtype.size();
    let per_piece = (PIECE_BYTES / size) as u64;
    let numel = tensor.numel();
    let mut buf = vec![0u8; (per_piece.min(numel) as usize) * size];
    let mut start = 0u64;
    while start < numel {
        let n = per_piece.min(numel - start) as usize;
        let bytes = &mut buf[..n * size];
        tensor.fill_bytes(dtype, start, bytes, par)?;
        sink(bytes)?;
        start += n as u64;
    }
    Ok(())
}

/// Write tensors to one `.safetensors` file, atomically, in the given order.
pub fn write_file(
    path: &Path,
    tensors: &[(&TensorInit, DType)],
    metadata: &BTreeMap<String, String>,
    par: Par,
) -> Result<()> {
    let entries: Vec<Entry> = tensors
        .iter()
        .map(|(t, d)| Entry { name: t.name().to_string(), dtype: *d, shape: t.shape().dims().to_vec() })
        .collect();
    let head = header(&entries, metadata)?;
    for (t, d) in tensors {
        t.check_dtype(*d)?; // before the file exists
    }
    let mut file = AtomicFile::create(path)?;
    file.write_all(&head)?;
    for (t, d) in tensors {
        stream_tensor_bytes(t, *d, par, |b| file.write_all(b))?;
    }
    file.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use varinit::{Init, Layout, Shape};

    #[test]
    fn round_trip_through_the_safetensors_crate() {
        let dir = std::env::temp_dir().join(format!("varinit-io-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.safetensors");
        let init: Init = "xavier_uniform".parse().unwrap();
        let a = TensorInit::new(1, "a", &init, Shape::new(vec![3, 5]).unwrap(), Layout::Torch.into()).unwrap();
        let b = TensorInit::new(1, "b", &init, Shape::new(vec![7, 2]).unwrap(), Layout::Torch.into()).unwrap();
        let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
        write_file(&path, &[(&a, DType::BF16), (&b, DType::F32)], &meta, Par::Seq).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        let tb = st.tensor("b").unwrap();
        assert_eq!(tb.shape(), &[7, 2]);
        let want: Vec<f32> = b.to_vec(Par::Seq).unwrap();
        let got: Vec<f32> = tb.data().chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        assert_eq!(got, want);
        assert_eq!(st.tensor("a").unwrap().dtype(), safetensors::Dtype::BF16);
        let (_, m) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(m.metadata().as_ref().unwrap().get("format").unwrap(), "pt");
        // no temporary file left behind
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
