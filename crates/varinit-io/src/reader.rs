//! A safetensors reader that treats every file as hostile.
//!
//! The header is checked completely before any tensor is looked at: the
//! length prefix against the file size (and a 100 MB cap), UTF-8 and JSON,
//! `__metadata__` as a string-to-string map, each entry's dtype, shape and
//! offsets, the element count against the byte count, offsets inside the
//! data and in order with no gap and no overlap, and the data's length
//! against the last offset (truncated files and trailing bytes are both
//! errors). Nothing here panics on any input; [`parse_header`] is fuzzed by
//! property tests with random and mutated headers.
//!
//! The data is read through a memory map ([`SafetensorsFile`]), so a
//! multi-GB checkpoint is never loaded whole; [`SafetensorsFile::release`]
//! tells the kernel a tensor's pages are no longer needed, which keeps the
//! resident memory of a scan over a large file small.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use varinit::DType;

use crate::{IoError, Result};

/// Largest header accepted (the `safetensors` crate's limit).
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One tensor's entry in a header.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    /// The name.
    pub name: String,
    /// The dtype as written (`F32`, `BF16`, `I64`, ...).
    pub dtype: String,
    /// Bytes per element.
    pub elem_size: u64,
    /// The floating-point dtype, when varinit can read the values.
    pub float: Option<DType>,
    /// Dimensions.
    pub shape: Vec<u64>,
    /// Number of elements.
    pub numel: u64,
    /// Start of the data, relative to the data section.
    pub begin: u64,
    /// End of the data (exclusive).
    pub end: u64,
}

/// A validated header.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Header {
    /// `__metadata__` (empty when absent).
    pub metadata: BTreeMap<String, String>,
    /// The tensors, in the order of their data.
    pub tensors: Vec<TensorInfo>,
}

/// Element size and float type of a safetensors dtype name.
fn dtype_info(name: &str) -> Option<(u64, Option<DType>)> {
    Some(match name {
        "F64" => (8, Some(DType::F64)),
        "F32" => (4, Some(DType::F32)),
        "F16" => (2, Some(DType::F16)),
        "BF16" => (2, Some(DType::BF16)),
        "I64" | "U64" => (8, None),
        "I32" | "U32" => (4, None),
        "I16" | "U16" => (2, None),
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => (1, None),
        _ => return None,
    })
}

/// The JSON object's entries in file order, keeping duplicates (which a
/// map would silently merge).
struct Entries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Entries, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, Value>()? {
                    v.push((k, val));
                }
                Ok(Entries(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Read the 8-byte length prefix of a file of `file_len` bytes: the header
/// length, checked against the file and the cap.
pub fn header_len(prefix: &[u8], file_len: u64) -> std::result::Result<u64, String> {
    if file_len < 8 || prefix.len() < 8 {
        return Err(format!("not a safetensors file: {file_len} bytes, shorter than the 8-byte header length"));
    }
    let n = u64::from_le_bytes(prefix[..8].try_into().expect("8 bytes"));
    if n > MAX_HEADER_BYTES {
        return Err(format!(
            "not a safetensors file (bad header length {n}: larger than the {MAX_HEADER_BYTES}-byte limit)"
        ));
    }
    if n > file_len - 8 {
        return Err(format!(
            "not a safetensors file (bad header length {n}: the file has only {} bytes after the length)",
            file_len - 8
        ));
    }
    if n < 2 {
        return Err(format!("not a safetensors file (bad header length {n}: too short for a JSON object)"));
    }
    Ok(n)
}

/// Parse and validate a header's JSON bytes, for a data section of
/// `data_len` bytes.
pub fn parse_header(json: &[u8], data_len: u64) -> std::result::Result<Header, String> {
    let text = std::str::from_utf8(json).map_err(|e| format!("header is not UTF-8: {e}"))?;
    let trimmed = text.trim_end_matches(' ');
    if !trimmed.starts_with('{') {
        return Err("not a safetensors file (the header is not a JSON object: it must start with '{')".into());
    }
    let Entries(entries) =
        serde_json::from_str::<Entries>(trimmed).map_err(|e| format!("header is not valid JSON: {e}"))?;
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashSet::new();
    for (name, v) in entries {
        if !seen.insert(name.clone()) {
            return Err(format!("tensor {name:?} appears twice in the header"));
        }
        if name == "__metadata__" {
            let Value::Object(m) = v else { return Err("__metadata__ is not a JSON object".into()) };
            for (k, val) in m {
                let Value::String(s) = val else {
                    return Err(format!("__metadata__ value for {k:?} is not a string"));
                };
                metadata.insert(k, s);
            }
            continue;
        }
        tensors.push(tensor_entry(&name, &v)?);
    }
    tensors.sort_by_key(|t| (t.begin, t.end));
    let mut pos = 0u64;
    for t in &tensors {
        if t.begin < pos {
            return Err(format!(
                "tensor {:?}: data_offsets [{}, {}] overlap the previous tensor (which ends at {pos})",
                t.name, t.begin, t.end
            ));
        }
        if t.begin > pos {
            return Err(format!(
                "tensor {:?}: data_offsets [{}, {}] leave a gap after byte {pos}",
                t.name, t.begin, t.end
            ));
        }
        if t.end > data_len {
            return Err(format!(
                "tensor {:?}: data_offsets [{}, {}] run past the end of the data ({data_len} bytes): the file is truncated",
                t.name, t.begin, t.end
            ));
        }
        pos = t.end;
    }
    if pos < data_len {
        return Err(format!("{} bytes after the last tensor's data: not a valid safetensors file", data_len - pos));
    }
    Ok(Header { metadata, tensors })
}

fn tensor_entry(name: &str, v: &Value) -> std::result::Result<TensorInfo, String> {
    let Value::Object(m) = v else { return Err(format!("tensor {name:?}: entry is not a JSON object")) };
    for k in m.keys() {
        if !matches!(k.as_str(), "dtype" | "shape" | "data_offsets") {
            return Err(format!("tensor {name:?}: unknown field {k:?} (expected dtype, shape, data_offsets)"));
        }
    }
    let dtype = match m.get("dtype") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(format!("tensor {name:?}: missing or non-string \"dtype\"")),
    };
    let (elem_size, float) = dtype_info(&dtype).ok_or_else(|| {
        format!("tensor {name:?}: unknown dtype {dtype:?} (expected F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)")
    })?;
    let ints = |key: &str| -> std::result::Result<Vec<u64>, String> {
        match m.get(key) {
            Some(Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_u64().ok_or_else(|| format!("tensor {name:?}: {key} holds {x}, not a non-negative integer"))
                })
                .collect(),
            _ => Err(format!("tensor {name:?}: missing or non-array {key:?}")),
        }
    };
    let shape = ints("shape")?;
    let offsets = ints("data_offsets")?;
    let [begin, end] = offsets[..] else {
        return Err(format!("tensor {name:?}: data_offsets must be [begin, end], got {} numbers", offsets.len()));
    };
    if begin > end {
        return Err(format!("tensor {name:?}: data_offsets [{begin}, {end}] end before they begin"));
    }
    let numel = shape
        .iter()
        .try_fold(1u64, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("tensor {name:?}: shape {shape:?} has more elements than fit in 64 bits"))?;
    let bytes = numel
        .checked_mul(elem_size)
        .ok_or_else(|| format!("tensor {name:?}: shape {shape:?} has more bytes than fit in 64 bits"))?;
    if bytes != end - begin {
        return Err(format!(
            "tensor {name:?}: shape {shape:?} of {dtype} needs {bytes} bytes but data_offsets [{begin}, {end}] hold {}",
            end - begin
        ));
    }
    Ok(TensorInfo { name: name.to_string(), dtype, elem_size, float, shape, numel, begin, end })
}

/// An open safetensors file: its validated header and its data, memory
/// mapped.
pub struct SafetensorsFile {
    path: PathBuf,
    mmap: Option<Mmap>,
    data_start: usize,
    /// The validated header.
    pub header: Header,
}

impl SafetensorsFile {
    /// Open and validate a file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let malformed = |message: String| IoError::Malformed { path: path.clone(), message };
        let file = File::open(&path).map_err(|e| IoError::os(&path, e))?;
        let meta = file.metadata().map_err(|e| IoError::os(&path, e))?;
        if !meta.is_file() {
            return Err(malformed("not a regular file".into()));
        }
        let file_len = meta.len();
        if file_len < 8 {
            return Err(malformed(header_len(&[], file_len).unwrap_err()));
        }
        // SAFETY: the map is read-only; a file changed underneath by another
        // process could show changed bytes, which the statistics tolerate
        // (they never index with data read from the map).
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| IoError::os(&path, e))?;
        if (mmap.len() as u64) != file_len {
            return Err(malformed("the file changed size while being opened".into()));
        }
        let n = header_len(&mmap[..8], file_len).map_err(malformed)?;
        let data_start = 8 + n as usize;
        let header = parse_header(&mmap[8..data_start], file_len - data_start as u64).map_err(malformed)?;
        #[cfg(unix)]
        let _ = mmap.advise(memmap2::Advice::Sequential);
        Ok(SafetensorsFile { path, mmap: Some(mmap), data_start, header })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A tensor's bytes (offsets were validated against the file).
    pub fn data(&self, t: &TensorInfo) -> &[u8] {
        let m = self.mmap.as_ref().expect("mapped");
        &m[self.data_start + t.begin as usize..self.data_start + t.end as usize]
    }

    /// Tell the kernel that a tensor's pages will not be read again soon, so
    /// they leave this process's resident set.
    pub fn release(&self, t: &TensorInfo) {
        self.release_range(t, 0, t.end - t.begin);
    }

    /// [`SafetensorsFile::release`] for bytes `start .. end` of a tensor's data.
    pub fn release_range(&self, t: &TensorInfo, start: u64, end: u64) {
        #[cfg(unix)]
        if let Some(m) = &self.mmap {
            let page = 4096usize;
            let from = (self.data_start + (t.begin + start) as usize) / page * page;
            let to = (self.data_start + (t.begin + end.min(t.end - t.begin)) as usize).min(m.len());
            if to > from {
                // SAFETY: the map is a read-only view of a file; dropping its
                // pages only means they are read from the file again if needed.
                let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, from, to - from) };
            }
        }
        #[cfg(not(unix))]
        let _ = (t, start, end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(s: &str, data_len: u64) -> std::result::Result<Header, String> {
        parse_header(s.as_bytes(), data_len)
    }

    #[test]
    fn accepts_a_valid_header() {
        let h = hdr(
            r#"{"__metadata__":{"format":"pt"},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}   "#,
            12,
        )
        .unwrap();
        assert_eq!(h.tensors.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(h.metadata["format"], "pt");
    }

    #[test]
    fn rejects_each_kind_of_damage() {
        let cases = [
            (r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "truncated"),
            (r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 12, "after the last"),
            (
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,16]}}"#,
                16,
                "needs 4 bytes",
            ),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#,
                6,
                "overlap",
            ),
            (r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8, "gap"),
            (r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, 8, "end before"),
            (r#"{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, 4, "unknown dtype"),
            (r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "non-negative"),
            (r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, 4, "64 bits"),
            (
                r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                8,
                "twice",
            ),
            (r#"{"__metadata__":{"x":1}}"#, 0, "not a string"),
            (r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"extra":1}}"#, 4, "unknown field"),
            (r#"{"a":{"dtype":"F32","shape":[1]"#, 4, "not valid JSON"),
            (r#"[1,2]"#, 0, "JSON object"),
        ];
        for (h, len, want) in cases {
            let e = hdr(h, len).unwrap_err();
            assert!(e.contains(want), "{h}: {e}");
        }
        assert!(parse_header(&[0xff, 0xfe], 0).unwrap_err().contains("UTF-8"));
        assert!(header_len(&u64::MAX.to_le_bytes(), 100).unwrap_err().contains("limit"));
        assert!(header_len(&50u64.to_le_bytes(), 20).unwrap_err().contains("only 12 bytes"));
        assert!(header_len(&[1, 2], 2).unwrap_err().contains("shorter"));
    }
}
