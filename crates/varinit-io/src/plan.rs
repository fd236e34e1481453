//! A spec laid out as files: which tensor goes in which shard, at which
//! offset, with which header; the Hugging Face index; the config.
//!
//! Everything here is a pure function of the spec and the shard limit, so
//! every worker of a split run computes the same plan and writes the same
//! index.

use std::collections::BTreeMap;

use varinit::provenance::Provenance;
use varinit::{DType, TensorInit};

use crate::safetensors::{Entry, header};
use crate::spec::ModelSpec;
use crate::{IoError, Result};

/// Name of a single-file checkpoint.
pub const SINGLE_FILE: &str = "model.safetensors";
/// Name of the Hugging Face shard index.
pub const INDEX_FILE: &str = "model.safetensors.index.json";
/// Name of the Hugging Face config.
pub const CONFIG_FILE: &str = "config.json";

/// One tensor of the plan.
#[derive(Debug, Clone)]
pub struct PlannedTensor {
    /// What to generate.
    pub init: TensorInit,
    /// In which dtype.
    pub dtype: DType,
    /// Size of its data.
    pub byte_len: u64,
    /// The shard it lives in.
    pub shard: usize,
    /// Offset of its data within the shard's data section.
    pub offset: u64,
}

/// One output file.
#[derive(Debug, Clone)]
pub struct Shard {
    /// File name (no folder).
    pub file_name: String,
    /// Indices into [`Plan::tensors`], in data order.
    pub tensors: Vec<usize>,
    /// The complete header, length prefix included.
    pub header: Vec<u8>,
    /// Size of the data section.
    pub data_len: u64,
}

impl Shard {
    /// Size of the whole file.
    pub fn file_len(&self) -> u64 {
        self.header.len() as u64 + self.data_len
    }
}

/// Which part of a split run this process does: worker `index` of `count`
/// (0-based) writes the shards whose number is `index` modulo `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Worker {
    /// 0-based index.
    pub index: u32,
    /// Number of workers.
    pub count: u32,
}

impl Default for Worker {
    fn default() -> Self {
        Worker { index: 0, count: 1 }
    }
}

impl std::str::FromStr for Worker {
    type Err = IoError;
    /// `I/N` with 0 <= I < N (Slurm array or Kubernetes indexed-job style).
    fn from_str(s: &str) -> Result<Worker> {
        let bad = || IoError::Usage(format!("worker {s:?}: write I/N with 0 <= I < N, e.g. 0/4"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Worker { index, count })
    }
}

/// A checkpoint laid out in files.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The tensors, in spec order.
    pub tensors: Vec<PlannedTensor>,
    /// The shard files, in order.
    pub shards: Vec<Shard>,
    /// `model.safetensors.index.json`'s bytes when there are several shards.
    pub index: Option<Vec<u8>>,
    /// `config.json`'s bytes, when the spec has one.
    pub config: Option<Vec<u8>>,
    /// Sum of the tensors' data sizes.
    pub total_bytes: u64,
    /// The seed.
    pub seed: u64,
    /// How the spec was made.
    pub source: String,
    /// The run identifier: a hash of everything that decides the bytes
    /// (see [`crate::run::run_id`]), recorded in every shard's metadata.
    pub run_id: String,
}

impl Plan {
    /// Lay out `spec` in shards of at most `max_shard_bytes` of tensor data
    /// (a tensor larger than that gets a shard of its own), greedily in spec
    /// order; within a shard, wider dtypes come first so every tensor's data
    /// is aligned to its element size.
    pub fn new(spec: &ModelSpec, max_shard_bytes: u64) -> Result<Plan> {
        spec.validate()?;
        if max_shard_bytes == 0 {
            return Err(IoError::Usage("the shard size limit must be at least 1 byte".into()));
        }
        let opts = spec.layout.into();
        let mut tensors = Vec::with_capacity(spec.tensors.len());
        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut current = 0u64;
        let mut total = 0u64;
        if spec.tensors.len() > crate::limits::MAX_TENSORS_PER_FILE.saturating_mul(crate::limits::MAX_SHARDS) {
            return Err(IoError::Usage(format!("{} tensors: more than a checkpoint can hold", spec.tensors.len())));
        }
        for (i, t) in spec.tensors.iter().enumerate() {
            if t.name.len() > crate::limits::MAX_NAME_BYTES {
                return Err(IoError::Usage(format!(
                    "tensor name {:?}... is {} bytes long, over the {}-byte limit",
                    t.name.chars().take(40).collect::<String>(),
                    t.name.len(),
                    crate::limits::MAX_NAME_BYTES
                )));
            }
            let dtype = spec.dtype_of(t);
            let init = TensorInit::new(spec.seed, &t.name, &t.init, t.shape.clone(), opts)
                .map_err(|source| IoError::Tensor { tensor: t.name.clone(), source: Box::new(source) })?;
            // what the output dtype can represent, before any byte is written
            init.check_dtype(dtype).map_err(|source| IoError::Tensor {
                tensor: format!("{} ({dtype})", t.name),
                source: Box::new(source),
            })?;
            let byte_len = t.shape.byte_len(dtype.size() as u64)?;
            total = total
                .checked_add(byte_len)
                .ok_or_else(|| IoError::Usage("checkpoint larger than 2^64 bytes".into()))?;
            if groups.is_empty() || (current > 0 && current.saturating_add(byte_len) > max_shard_bytes) {
                groups.push(Vec::new());
                current = 0;
            }
            groups.last_mut().expect("a group").push(i);
            current += byte_len;
            tensors.push(PlannedTensor { init, dtype, byte_len, shard: 0, offset: 0 });
        }
        let n = groups.len();
        if n > crate::limits::MAX_SHARDS {
            return Err(IoError::Usage(format!(
                "{n} shards: more than the {} a checkpoint may have; raise the shard size limit",
                crate::limits::MAX_SHARDS
            )));
        }
        if groups.iter().any(|g| g.len() > crate::limits::MAX_TENSORS_PER_FILE) {
            return Err(IoError::Usage(format!(
                "a shard would hold more than {} tensors; lower the shard size limit",
                crate::limits::MAX_TENSORS_PER_FILE
            )));
        }
        let file_name_of = |s: usize| {
            if n == 1 { SINGLE_FILE.to_string() } else { format!("model-{:05}-of-{:05}.safetensors", s + 1, n) }
        };
        let mut shard_of = vec![0usize; tensors.len()];
        for (s, g) in groups.iter().enumerate() {
            for &i in g {
                shard_of[i] = s;
            }
        }
        let run_id = crate::run::run_id(
            spec,
            tensors
                .iter()
                .zip(&shard_of)
                .map(|(t, &s)| (t.init.name(), t.dtype, t.init.shape(), t.init.init(), file_name_of(s))),
        );
        let mut shards = Vec::with_capacity(n);
        for (s, mut members) in groups.into_iter().enumerate() {
            members.sort_by_key(|&i| std::cmp::Reverse(tensors[i].dtype.size()));
            let mut off = 0u64;
            let mut meta = base_metadata(spec);
            meta.run_id = Some(run_id.clone());
            let mut entries = Vec::with_capacity(members.len());
            for &i in &members {
                let t = &mut tensors[i];
                t.shard = s;
                t.offset = off;
                off += t.byte_len;
                meta.set_scheme(t.init.name(), t.init.init());
                entries.push(Entry {
                    name: t.init.name().to_string(),
                    dtype: t.dtype,
                    shape: t.init.shape().dims().to_vec(),
                });
            }
            let file_name = file_name_of(s);
            let header = header(&entries, &meta.to_metadata())?;
            shards.push(Shard { file_name, tensors: members, header, data_len: off });
        }
        let index = (n > 1).then(|| index_json(&tensors, &shards, total));
        Ok(Plan {
            tensors,
            shards,
            index,
            config: spec.hf_config.clone(),
            total_bytes: total,
            seed: spec.seed,
            source: spec.source.clone(),
            run_id,
        })
    }

    /// The shards worker `w` writes.
    pub fn shards_of(&self, w: Worker) -> Vec<usize> {
        (0..self.shards.len()).filter(|s| s % w.count as usize == w.index as usize).collect()
    }

    /// Every file name the finished checkpoint has.
    pub fn file_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.shards.iter().map(|s| s.file_name.clone()).collect();
        if self.index.is_some() {
            v.push(INDEX_FILE.into());
        }
        if self.config.is_some() {
            v.push(CONFIG_FILE.into());
        }
        v
    }

    /// Total size of the files worker `w` writes (shards only).
    pub fn bytes_of(&self, w: Worker) -> u64 {
        self.shards_of(w).iter().map(|&s| self.shards[s].file_len()).sum()
    }
}

fn base_metadata(spec: &ModelSpec) -> Provenance {
    let mut p = Provenance::new(spec.seed, Some(spec.layout));
    p.source = Some(spec.source.clone());
    p
}

/// The index as transformers 5.24 writes it: sorted keys, two-space indent,
/// `total_parameters` and `total_size` (bytes of tensor data).
fn index_json(tensors: &[PlannedTensor], shards: &[Shard], total: u64) -> Vec<u8> {
    let map: BTreeMap<&str, &str> =
        tensors.iter().map(|t| (t.init.name(), shards[t.shard].file_name.as_str())).collect();
    let params: u64 = tensors.iter().map(|t| t.init.numel()).sum();
    let v = serde_json::json!({"metadata": {"total_parameters": params, "total_size": total}, "weight_map": map});
    let mut s = serde_json::to_string_pretty(&v).expect("JSON values serialize");
    s.push('\n');
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_follow_the_limit_and_keep_alignment() {
        let spec = crate::spec::parse(
            "dtype='bf16'\n[[tensor]]\nname='a'\nshape=[3]\ninit='zeros'\n[[tensor]]\nname='b'\nshape=[4]\ninit='ones'\ndtype='f32'\n[[tensor]]\nname='c'\nshape=[100]\ninit='ones'\n[[tensor]]\nname='d'\nshape=[2]\ninit='ones'\ndtype='f64'\n",
            "t.toml",
        )
        .unwrap();
        let p = Plan::new(&spec, 1 << 20).unwrap();
        assert_eq!(p.shards.len(), 1);
        assert_eq!(p.shards[0].file_name, SINGLE_FILE);
        // f64 first, then f32, then the bf16 tensors in spec order
        let order: Vec<&str> = p.shards[0].tensors.iter().map(|&i| p.tensors[i].init.name()).collect();
        assert_eq!(order, ["d", "b", "a", "c"]);
        assert!(p.tensors.iter().all(|t| t.offset % t.dtype.size() as u64 == 0));
        let p = Plan::new(&spec, 30).unwrap();
        let names: Vec<&str> = p.shards.iter().map(|s| s.file_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors",
                "model-00003-of-00003.safetensors"
            ]
        );
        assert_eq!(p.shards[0].tensors, [1, 0]); // a (6 bytes) and b (16), the f32 one first
        let idx = String::from_utf8(p.index.clone().unwrap()).unwrap();
        assert!(idx.contains("\"total_size\": 238"), "{idx}");
        let w: Worker = "1/2".parse().unwrap();
        assert_eq!(p.shards_of(w), [1]);
        for bad in ["2/2", "1", "a/b", "0/0"] {
            assert!(bad.parse::<Worker>().is_err());
        }
    }

    #[test]
    fn limits_are_usage_errors_that_name_no_flag() {
        use crate::spec::{ModelSpec, TensorSpec};
        use varinit::Shape;
        let zeros: varinit::Init = "zeros".parse().unwrap();
        let tensors = (0..=crate::limits::MAX_SHARDS)
            .map(|i| TensorSpec {
                name: format!("t{i}"),
                shape: Shape::new(vec![1]).unwrap(),
                init: zeros.clone(),
                dtype: None,
            })
            .collect();
        let spec = ModelSpec {
            tensors,
            ..crate::spec::parse("[[tensor]]\nname='a'\nshape=[1]\ninit='zeros'\n", "t.toml").unwrap()
        };
        let e = Plan::new(&spec, 1).unwrap_err();
        assert!(e.is_usage(), "{e:?}");
        assert!(e.to_string().ends_with("raise the shard size limit"), "{e}");
        let e = Plan::new(&spec, 0).unwrap_err();
        assert!(e.is_usage() && !e.to_string().contains("--"), "{e}");
    }
}
