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
//! What input controls is bounded ([`crate::limits`]): the header is parsed
//! in one streaming pass straight into typed entries (memory a small
//! multiple of the header's size, never a generic JSON tree of it), with at
//! most [`MAX_TENSORS_PER_FILE`] tensors and names of at most
//! [`MAX_NAME_BYTES`] bytes; duplicates are found with a hash set.
//!
//! Only regular files are opened, and without blocking (a FIFO or a device
//! named `model.safetensors` is refused, never waited on). The data is read
//! with positioned reads ([`SafetensorsFile::read_data`]) rather than a
//! memory map, so a file truncated while it is read gives an error naming
//! the file instead of killing the process with SIGBUS.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use varinit::DType;

pub use crate::limits::MAX_HEADER_BYTES;
use crate::limits::{MAX_NAME_BYTES, MAX_TENSORS_PER_FILE};
use crate::{IoError, Result};

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
    if let Some(d) = DType::from_safetensors_name(name) {
        return Some((d.size() as u64, Some(d)));
    }
    Some(match name {
        "I64" | "U64" => (8, None),
        "I32" | "U32" => (4, None),
        "I16" | "U16" => (2, None),
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" => (1, None),
        _ => return None,
    })
}

/// The header's top-level object, visited entry by entry: each tensor entry
/// is checked and turned into a [`TensorInfo`] as soon as it is read, so
/// no JSON tree of the whole header is ever built. A problem with the
/// content (rather than the JSON syntax) is kept in `problem`.
struct HeaderSeed<'a> {
    problem: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for HeaderSeed<'_> {
    type Value = Header;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Header, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for HeaderSeed<'_> {
    type Value = Header;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Header, A::Error> {
        let mut h = Header::default();
        let mut have_meta = false;
        let mut fail = |msg: String| -> A::Error {
            *self.problem = Some(msg);
            serde::de::Error::custom("invalid header content")
        };
        while let Some(name) = m.next_key::<String>()? {
            if name == "__metadata__" {
                if have_meta {
                    return Err(fail("tensor \"__metadata__\" appears twice in the header".into()));
                }
                have_meta = true;
                let mut problem = None;
                match m.next_value_seed(MetaSeed { problem: &mut problem }) {
                    Ok(meta) => h.metadata = meta,
                    Err(e) => return Err(problem.map_or(e, &mut fail)),
                }
                continue;
            }
            if name.len() > MAX_NAME_BYTES {
                return Err(fail(format!(
                    "tensor name {:?}... is {} bytes long, over the {MAX_NAME_BYTES}-byte limit",
                    name.chars().take(40).collect::<String>(),
                    name.len()
                )));
            }
            if h.tensors.len() >= MAX_TENSORS_PER_FILE {
                return Err(fail(format!("more than {MAX_TENSORS_PER_FILE} tensors in one file")));
            }
            let v: Value = m.next_value()?;
            match tensor_entry(&name, &v) {
                Ok(t) => h.tensors.push(t),
                Err(e) => return Err(fail(e)),
            }
        }
        Ok(h)
    }
}

/// `__metadata__`: a map of strings to strings, read without a JSON tree.
struct MetaSeed<'a> {
    problem: &'a mut Option<String>,
}

impl<'de> DeserializeSeed<'de> for MetaSeed<'_> {
    type Value = BTreeMap<String, String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for MetaSeed<'_> {
    type Value = BTreeMap<String, String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of strings")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(k) = m.next_key::<String>()? {
            match m.next_value::<Value>()? {
                Value::String(s) => {
                    if out.insert(k.clone(), s).is_some() {
                        *self.problem = Some(format!("__metadata__ has {k:?} twice"));
                        return Err(serde::de::Error::custom("invalid metadata"));
                    }
                }
                _ => {
                    *self.problem = Some(format!("__metadata__ value for {k:?} is not a string"));
                    return Err(serde::de::Error::custom("invalid metadata"));
                }
            }
        }
        Ok(out)
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        self.not_an_object()
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
        self.not_an_object()
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
        self.not_an_object()
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
        self.not_an_object()
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        self.not_an_object()
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<Self::Value, E> {
        self.not_an_object()
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> std::result::Result<Self::Value, A::Error> {
        self.not_an_object()
    }
}

impl MetaSeed<'_> {
    fn not_an_object<T, E: serde::de::Error>(self) -> std::result::Result<T, E> {
        *self.problem = Some("__metadata__ is not a JSON object".into());
        Err(E::custom("invalid metadata"))
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
    let mut problem = None;
    let mut de = serde_json::Deserializer::from_str(trimmed);
    let parsed = HeaderSeed { problem: &mut problem }.deserialize(&mut de).and_then(|h| de.end().map(|()| h));
    let Header { metadata, mut tensors } = match parsed {
        Ok(h) => h,
        Err(e) => return Err(problem.unwrap_or_else(|| format!("header is not valid JSON: {e}"))),
    };
    {
        let mut seen: HashSet<&str> = HashSet::with_capacity(tensors.len());
        for t in &tensors {
            if !seen.insert(t.name.as_str()) {
                return Err(format!("tensor {:?} appears twice in the header", t.name));
            }
        }
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

/// Refuse anything but a regular file before opening it: a FIFO, socket
/// or device would block or never end. Follows symbolic links.
pub fn check_regular(path: &Path) -> Result<std::fs::Metadata> {
    let meta = std::fs::metadata(path).map_err(|e| IoError::os(path, e))?;
    if !meta.is_file() {
        let ft = meta.file_type();
        let what = if ft.is_dir() { "a folder" } else { special_kind(&ft) };
        return Err(IoError::Malformed { path: path.to_path_buf(), message: format!("not a regular file ({what})") });
    }
    Ok(meta)
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO"
    } else if ft.is_socket() {
        "a socket"
    } else if ft.is_char_device() || ft.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "a special file"
}

/// Open a regular file for reading without ever blocking: the type is
/// checked before opening, the file is opened non-blocking (so a FIFO
/// swapped in between is not waited on) and checked again after.
pub fn open_regular(path: &Path) -> Result<(File, u64)> {
    check_regular(path)?;
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NONBLOCK);
    }
    let file = o.open(path).map_err(|e| IoError::os(path, e))?;
    let meta = file.metadata().map_err(|e| IoError::os(path, e))?;
    if !meta.is_file() {
        return Err(IoError::Malformed { path: path.to_path_buf(), message: "not a regular file".into() });
    }
    Ok((file, meta.len()))
}

/// Read up to `limit` bytes of a regular file (an index, a config): the
/// size is checked before reading, and the read stops at the limit even if
/// the file grows meanwhile.
pub fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let (file, len) = open_regular(path)?;
    if len > limit {
        return Err(IoError::Malformed {
            path: path.to_path_buf(),
            message: format!("{len} bytes, larger than the {limit}-byte limit"),
        });
    }
    let mut out = Vec::with_capacity(len as usize);
    file.take(limit + 1).read_to_end(&mut out).map_err(|e| IoError::os(path, e))?;
    if out.len() as u64 > limit {
        return Err(IoError::Malformed {
            path: path.to_path_buf(),
            message: format!("grew past the {limit}-byte limit while being read"),
        });
    }
    Ok(out)
}

/// An open safetensors file: its validated header, and its data read on
/// demand with positioned reads.
pub struct SafetensorsFile {
    path: PathBuf,
    file: File,
    data_start: u64,
    /// The validated header.
    pub header: Header,
}

impl SafetensorsFile {
    /// Open and validate a file (only its header is read).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let malformed = |message: String| IoError::Malformed { path: path.clone(), message };
        let (file, file_len) = open_regular(&path)?;
        let mut prefix = [0u8; 8];
        if file_len < 8 {
            return Err(malformed(header_len(&[], file_len).unwrap_err()));
        }
        read_exact_at(&file, &path, &mut prefix, 0)?;
        let n = header_len(&prefix, file_len).map_err(malformed)?;
        let mut json = vec![0u8; n as usize];
        read_exact_at(&file, &path, &mut json, 8)?;
        let data_start = 8 + n;
        let header = parse_header(&json, file_len - data_start).map_err(malformed)?;
        Ok(SafetensorsFile { path, file, data_start, header })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read bytes `start .. start + buf.len()` of a tensor's data into
    /// `buf`. A file that shrank since it was opened is an error naming it.
    pub fn read_data(&self, t: &TensorInfo, start: u64, buf: &mut [u8]) -> Result<()> {
        let len = t.end - t.begin;
        if start.checked_add(buf.len() as u64).is_none_or(|e| e > len) {
            return Err(IoError::Format(format!(
                "{}: read of {} bytes at {start} outside tensor {:?}",
                self.path.display(),
                buf.len(),
                t.name
            )));
        }
        read_exact_at(&self.file, &self.path, buf, self.data_start + t.begin + start)
    }

    /// A whole tensor's bytes (small tensors; large ones are read in
    /// windows with [`SafetensorsFile::read_data`]).
    pub fn data(&self, t: &TensorInfo) -> Result<Vec<u8>> {
        let mut v = vec![0u8; (t.end - t.begin) as usize];
        self.read_data(t, 0, &mut v)?;
        Ok(v)
    }
}

fn read_exact_at(file: &File, path: &Path, buf: &mut [u8], offset: u64) -> Result<()> {
    #[cfg(unix)]
    let r = std::os::unix::fs::FileExt::read_exact_at(file, buf, offset);
    #[cfg(windows)]
    let r = {
        let mut done = 0usize;
        let mut r = Ok(());
        while done < buf.len() {
            match std::os::windows::fs::FileExt::seek_read(file, &mut buf[done..], offset + done as u64) {
                Ok(0) => {
                    r = Err(std::io::ErrorKind::UnexpectedEof.into());
                    break;
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    r = Err(e);
                    break;
                }
            }
        }
        r
    };
    r.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            IoError::Malformed {
                path: path.to_path_buf(),
                message: "the file became shorter while being read (truncated or replaced by another process)".into(),
            }
        } else {
            IoError::os(path, e)
        }
    })
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
