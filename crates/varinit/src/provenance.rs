//! How a file's tensors were made: the `varinit.*` entries of a
//! safetensors `__metadata__` map, written and read in this one place.
//!
//! | key | value |
//! |---|---|
//! | `format` | `pt` (what transformers expects) |
//! | `varinit.version` | the varinit version that wrote the file |
//! | `varinit.stream_version` | the stream format ([`crate::STREAM_VERSION`]) |
//! | `varinit.seed` | the seed |
//! | `varinit.layout` | `torch`, `keras` or `jax`; absent means `torch` |
//! | `varinit.transposed` | `true` when the weights are transposed convolutions'; absent means false |
//! | `varinit.source` | how the tensor list was made (`preset llama size=tiny ...`, `spec model.toml`) |
//! | `varinit.run_id` | a checkpoint's run identifier: a hash of its plan, the same in every shard of one run |
//! | `varinit.dtype` | the dtype a single tensor was drawn in (`varinit sample`) |
//! | `varinit.scheme.NAME` | the canonical scheme string of tensor `NAME` |
//!
//! With the seed, the layout and a tensor's scheme, name, shape and dtype,
//! the tensor can be regenerated bit for bit.
//!
//! ```
//! use varinit::provenance::Provenance;
//! use varinit::{Init, Layout};
//! let mut p = Provenance::new(7, Some(Layout::Keras));
//! p.schemes.insert("dense.kernel".into(), "glorot_uniform".parse::<Init>()?.to_string());
//! let meta = p.to_metadata();
//! assert_eq!(meta["varinit.layout"], "keras");
//! let back = Provenance::from_metadata(&meta)?.expect("varinit metadata");
//! assert_eq!(back, p);
//! assert_eq!(back.layout(), Layout::Keras);
//! # Ok::<(), varinit::Error>(())
//! ```

use std::collections::BTreeMap;

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::fan::Layout;
use crate::scheme::{Init, ResolveOptions};

/// Prefix of every key varinit writes.
pub const PREFIX: &str = "varinit.";
/// Prefix of the per-tensor scheme keys.
pub const SCHEME_PREFIX: &str = "varinit.scheme.";

const FORMAT: &str = "format";
const VERSION: &str = "varinit.version";
/// Key of the stream format version.
pub const STREAM_VERSION: &str = "varinit.stream_version";
/// Key of the seed.
pub const SEED: &str = "varinit.seed";
const LAYOUT: &str = "varinit.layout";
const TRANSPOSED: &str = "varinit.transposed";
/// Key of the source (how the tensor list was made).
pub const SOURCE: &str = "varinit.source";
/// Key of a checkpoint's run identifier.
pub const RUN_ID: &str = "varinit.run_id";
const DTYPE: &str = "varinit.dtype";

/// The `varinit.*` metadata of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    /// The varinit version that wrote it.
    pub version: String,
    /// The stream format version.
    pub stream_version: u32,
    /// The seed.
    pub seed: u64,
    /// The layout the fans were read in; `None` (not written) means
    /// PyTorch's.
    pub layout: Option<Layout>,
    /// The weights are transposed convolutions' (written only when true).
    pub transposed: bool,
    /// How the tensor list was made.
    pub source: Option<String>,
    /// The dtype of a single drawn tensor.
    pub dtype: Option<DType>,
    /// A checkpoint's run identifier (a hash of its plan), the same in every
    /// shard of one run.
    pub run_id: Option<String>,
    /// Canonical scheme string per tensor name.
    pub schemes: BTreeMap<String, String>,
}

impl Provenance {
    /// Provenance written by this version of varinit.
    pub fn new(seed: u64, layout: Option<Layout>) -> Provenance {
        Provenance {
            version: crate::VERSION.to_string(),
            stream_version: crate::STREAM_VERSION,
            seed,
            layout,
            transposed: false,
            source: None,
            dtype: None,
            run_id: None,
            schemes: BTreeMap::new(),
        }
    }

    /// The layout, PyTorch's when none was recorded.
    pub fn layout(&self) -> Layout {
        self.layout.unwrap_or(Layout::Torch)
    }

    /// How to read shapes for the recorded schemes.
    pub fn resolve_options(&self) -> ResolveOptions {
        ResolveOptions { layout: self.layout(), transposed: self.transposed }
    }

    /// Record tensor `name`'s scheme.
    pub fn set_scheme(&mut self, name: &str, init: &Init) {
        self.schemes.insert(name.to_string(), init.to_string());
    }

    /// The scheme recorded for `name`, parsed; `None` if there is none.
    pub fn scheme(&self, name: &str) -> Option<Result<Init>> {
        self.schemes.get(name).map(|s| s.parse())
    }

    /// The metadata map, with `"format": "pt"`.
    pub fn to_metadata(&self) -> BTreeMap<String, String> {
        let mut m = BTreeMap::new();
        self.write_into(&mut m);
        m
    }

    /// Add the entries to an existing map (replacing any of the same keys).
    pub fn write_into(&self, m: &mut BTreeMap<String, String>) {
        m.insert(FORMAT.into(), "pt".into());
        m.insert(VERSION.into(), self.version.clone());
        m.insert(STREAM_VERSION.into(), self.stream_version.to_string());
        m.insert(SEED.into(), self.seed.to_string());
        if let Some(l) = self.layout {
            m.insert(LAYOUT.into(), l.name().into());
        }
        if self.transposed {
            m.insert(TRANSPOSED.into(), "true".into());
        }
        if let Some(s) = &self.source {
            m.insert(SOURCE.into(), s.clone());
        }
        if let Some(d) = self.dtype {
            m.insert(DTYPE.into(), d.name().into());
        }
        if let Some(r) = &self.run_id {
            m.insert(RUN_ID.into(), r.clone());
        }
        for (name, scheme) in &self.schemes {
            m.insert(format!("{SCHEME_PREFIX}{name}"), scheme.clone());
        }
    }

    /// Read the entries back. `Ok(None)` when the map has no
    /// `varinit.seed` (not a file varinit made); an error names the key
    /// whose value is not valid. Unknown `varinit.*` keys are ignored
    /// (later versions may add some).
    pub fn from_metadata(m: &BTreeMap<String, String>) -> Result<Option<Provenance>> {
        let Some(seed) = m.get(SEED) else { return Ok(None) };
        let bad = |key: &str, value: &str, expected: &str| Error::BadMetadata {
            key: key.to_string(),
            value: value.to_string(),
            expected: expected.to_string(),
        };
        let seed: u64 = seed.parse().map_err(|_| bad(SEED, seed, "a non-negative integer"))?;
        let stream_version = match m.get(STREAM_VERSION) {
            None => crate::STREAM_VERSION,
            Some(v) => v.parse().map_err(|_| bad(STREAM_VERSION, v, "a non-negative integer"))?,
        };
        let layout = m.get(LAYOUT).map(|l| l.parse::<Layout>().map_err(|_| bad(LAYOUT, l, "torch, keras or jax")));
        let transposed = match m.get(TRANSPOSED).map(String::as_str) {
            None | Some("false") => false,
            Some("true") => true,
            Some(v) => return Err(bad(TRANSPOSED, v, "true or false")),
        };
        let dtype = m.get(DTYPE).map(|d| d.parse::<DType>().map_err(|_| bad(DTYPE, d, "f32, f64, f16 or bf16")));
        Ok(Some(Provenance {
            version: m.get(VERSION).cloned().unwrap_or_default(),
            stream_version,
            seed,
            layout: layout.transpose()?,
            transposed,
            source: m.get(SOURCE).cloned(),
            dtype: dtype.transpose()?,
            run_id: m.get(RUN_ID).cloned(),
            schemes: m
                .iter()
                .filter_map(|(k, v)| k.strip_prefix(SCHEME_PREFIX).map(|n| (n.to_string(), v.clone())))
                .collect(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_defaults() {
        let mut p = Provenance::new(3, None);
        p.source = Some("spec m.toml".into());
        p.dtype = Some(DType::BF16);
        p.transposed = true;
        p.run_id = Some("0123abcd".into());
        p.set_scheme("w", &"kaiming_normal".parse().unwrap());
        let m = p.to_metadata();
        assert_eq!(m["format"], "pt");
        assert!(!m.contains_key("varinit.layout"));
        assert_eq!(m["varinit.transposed"], "true");
        let back = Provenance::from_metadata(&m).unwrap().unwrap();
        assert_eq!(back, p);
        assert_eq!(back.resolve_options(), ResolveOptions { layout: Layout::Torch, transposed: true });
        assert!(back.scheme("w").unwrap().is_ok());
        assert!(back.scheme("x").is_none());
        assert_eq!(Provenance::from_metadata(&BTreeMap::new()).unwrap(), None);
    }

    #[test]
    fn bad_values_name_the_key() {
        let mut m = Provenance::new(1, Some(Layout::Jax)).to_metadata();
        m.insert("varinit.layout".into(), "caffe".into());
        let e = Provenance::from_metadata(&m).unwrap_err().to_string();
        assert!(e.contains("varinit.layout") && e.contains("torch, keras or jax"), "{e}");
        m.insert("varinit.layout".into(), "jax".into());
        m.insert("varinit.seed".into(), "-1".into());
        assert!(Provenance::from_metadata(&m).unwrap_err().to_string().contains("varinit.seed"));
    }
}
