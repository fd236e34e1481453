//! [`Checkpoint`]: a safetensors checkpoint (one file, or a folder of shards
//! with `model.safetensors.index.json`) loaded into any burn module by
//! parameter path.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::tensor::{DType as BurnDType, TensorData};
use varinit::DType;
use varinit_io::reader::{SafetensorsFile, TensorInfo};

use crate::convert::{decode, transpose};
use crate::error::{Error, Result};
use crate::params::float_params;
use crate::reinit::Installer;
use crate::rules::Glob;

/// How the 2-D `(in, out)` parameters of the model (burn's `Linear`
/// weights, and paths declared with [`Checkpoint::in_out`]) are stored in
/// the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinearOrder {
    /// PyTorch's `(out, in)`: transformers, PyTorch, candle, and varinit's
    /// `torch` layout. Transposed on loading.
    OutIn,
    /// burn's own `(in, out)` (what burn-store writes by default), and
    /// varinit's `keras` and `jax` layouts. Loaded as stored.
    InOut,
}

type KeyMap = Box<dyn Fn(&str, &str) -> Option<String> + Send + Sync>;

/// A safetensors checkpoint, opened and checked, read through memory maps.
///
/// [`Checkpoint::open`] takes a `.safetensors` file, or a folder with
/// `model.safetensors.index.json` (a sharded checkpoint, as `varinit init`
/// and Hugging Face write it) or with `.safetensors` files and no index.
/// Every header is validated first (varinit-io's reader treats every file
/// as hostile), and the index is checked against the shards: a tensor the
/// index places in a shard that does not have it, a tensor missing from the
/// index, a tensor in two shards are errors.
///
/// [`Checkpoint::load`] puts tensors into the float parameters of any burn
/// module, by parameter path (see the crate docs for how burn names
/// parameters), one tensor at a time: peak memory is the model plus one
/// tensor, whatever the checkpoint's size. Before anything is loaded, every
/// parameter is checked, and all problems are reported at once: tensors the
/// checkpoint lacks (with the name it has when only a prefix differs),
/// shapes that differ (naming both), dtypes that are not floats, and
/// checkpoint tensors no parameter takes. F32, F64, F16 and BF16 tensors
/// are converted to the parameter's dtype (exact when widening, bf16 into
/// an f32 model; rounded to nearest even when narrowing).
///
/// burn's `Linear` weight is `(in, out)`; checkpoints from PyTorch,
/// transformers, candle and varinit's default `torch` layout store it
/// `(out, in)`, so it is transposed on loading, unless the file says it was
/// written in varinit's `keras` or `jax` layout or [`Checkpoint::linear_order`]
/// says otherwise. A model re-initialized by [`crate::Reinit`] and the same
/// rules written as a checkpoint by `varinit init` and loaded here have the
/// same values, bit for bit.
///
/// ```no_run
/// # use burn::module::Module;
/// # fn f<M: Module>(model: M) -> Result<M, varinit_burn::Error> {
/// let model = varinit_burn::Checkpoint::open("llama-0.85b")?.load(model)?;
/// # Ok(model) }
/// ```
pub struct Checkpoint {
    root: PathBuf,
    files: Vec<SafetensorsFile>,
    /// name -> (file, index in that file's header)
    tensors: BTreeMap<String, (usize, usize)>,
    order: LinearOrder,
    in_out: Vec<Glob>,
    key_map: Option<KeyMap>,
    allow_missing: bool,
    allow_unused: bool,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint")
            .field("root", &self.root)
            .field("files", &self.files.iter().map(|f| f.path()).collect::<Vec<_>>())
            .field("tensors", &self.tensors.len())
            .field("order", &self.order)
            .field("key_map", &self.key_map.is_some())
            .field("allow_missing", &self.allow_missing)
            .field("allow_unused", &self.allow_unused)
            .finish()
    }
}

/// One parameter filled from the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The parameter's path in the model.
    pub path: String,
    /// The tensor's name in the checkpoint.
    pub key: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Its dtype in the file.
    pub file_dtype: DType,
    /// The parameter's dtype (the tensor was converted when they differ).
    pub dtype: BurnDType,
    /// Whether it was transposed from PyTorch's `(out, in)`.
    pub transposed: bool,
}

/// What [`Checkpoint::load_with_report`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The parameters filled, in the model's order.
    pub loaded: Vec<Loaded>,
    /// Parameters that kept their value: the key map returned `None`, or
    /// the checkpoint lacks them and missing tensors were allowed.
    pub kept: Vec<String>,
    /// Checkpoint tensors no parameter took (when allowed), sorted.
    pub unused: Vec<String>,
}

/// A planned load of one parameter.
struct Source {
    path: String,
    key: String,
    file: usize,
    tensor: usize,
    shape: Vec<usize>,
    dtype: BurnDType,
    transpose: bool,
}

impl Checkpoint {
    /// Open a `.safetensors` file or a checkpoint folder and check it (see
    /// the type's docs).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let root = path.as_ref().to_path_buf();
        let (paths, weight_map) = varinit_io::audit::checkpoint_files(&root)?;
        let files = paths.iter().map(SafetensorsFile::open).collect::<varinit_io::Result<Vec<_>>>()?;
        let index_path = root.join(varinit_io::plan::INDEX_FILE);
        let mut tensors: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        let mut problems = Vec::new();
        for (fi, f) in files.iter().enumerate() {
            for (ti, t) in f.header.tensors.iter().enumerate() {
                if let Some((other, _)) = tensors.insert(t.name.clone(), (fi, ti)) {
                    problems.push(Error::Index {
                        file: root.clone(),
                        message: format!(
                            "tensor {:?} is in both {} and {}",
                            t.name,
                            file_name(files[other].path()),
                            file_name(f.path())
                        ),
                    });
                }
            }
        }
        if let Some(map) = &weight_map {
            let index_problem = |message| Error::Index { file: index_path.clone(), message };
            for (k, f) in map {
                match tensors.get(k) {
                    None => problems.push(index_problem(format!("lists {k:?} in {f}, which does not have it"))),
                    Some(&(fi, _)) if file_name(files[fi].path()) != *f => problems.push(index_problem(format!(
                        "lists {k:?} in {f}, but it is in {}",
                        file_name(files[fi].path())
                    ))),
                    Some(_) => {}
                }
            }
            for (k, &(fi, _)) in &tensors {
                if !map.contains_key(k) {
                    problems.push(index_problem(format!(
                        "does not list {k:?}, which is in {}",
                        file_name(files[fi].path())
                    )));
                }
            }
        }
        if let Some(e) = Error::from_problems(root.display(), problems) {
            return Err(e);
        }
        let layout = files.first().and_then(|f| f.header.metadata.get("varinit.layout")).map(String::as_str);
        let order = match layout {
            Some("keras" | "jax") => LinearOrder::InOut,
            _ => LinearOrder::OutIn,
        };
        Ok(Checkpoint {
            root,
            files,
            tensors,
            order,
            in_out: Vec::new(),
            key_map: None,
            allow_missing: false,
            allow_unused: false,
        })
    }

    /// The tensor names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// The files read, in order.
    pub fn files(&self) -> Vec<&Path> {
        self.files.iter().map(|f| f.path()).collect()
    }

    /// The first file's `__metadata__` (varinit writes the same metadata
    /// keys into every shard: seed, layout, scheme per tensor).
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.files[0].header.metadata
    }

    /// How `(in, out)` parameters are stored in the file (default: from
    /// the file's `varinit.layout` metadata, else PyTorch's `(out, in)`).
    pub fn linear_order(mut self, order: LinearOrder) -> Self {
        self.order = order;
        self
    }

    /// Declare the 2-D parameters matching `glob` as `(in, out)` in the
    /// model, like burn's `Linear` weight (detected on its own); see
    /// [`Checkpoint::linear_order`].
    pub fn in_out(mut self, glob: &str) -> Result<Self> {
        let g = Glob::new(glob).map_err(|message| Error::Glob {
            what: format!("in_out glob {}", self.in_out.len()),
            glob: glob.to_string(),
            message,
        })?;
        self.in_out.push(g);
        Ok(self)
    }

    /// Look parameters up under other names: `f(path, module_type)`
    /// returns the checkpoint name for the parameter at `path` (owned by a
    /// module of type `module_type`, such as `Linear` or `BatchNorm`), or
    /// `None` to leave that parameter as it is. [`pytorch_names`] is the
    /// map for PyTorch's norm and PReLU names.
    ///
    /// ```
    /// # let dir = std::env::temp_dir();
    /// # let path = dir.join(format!("varinit-burn-doc-{}.safetensors", std::process::id()));
    /// # let w = varinit::TensorInit::new(0, "model.fc.weight", &"zeros".parse()?, varinit::Shape::new(vec![2, 2])?, varinit::Layout::Torch.into())?;
    /// # varinit_io::safetensors::write_file(&path, &[(&w, varinit::DType::F32)], &Default::default(), varinit::Par::Seq)?;
    /// let checkpoint = varinit_burn::Checkpoint::open(&path)?
    ///     .map_keys(|path, _module| Some(format!("model.{path}"))); // the file's names have a prefix
    /// # std::fs::remove_file(&path)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_keys(mut self, f: impl Fn(&str, &str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.key_map = Some(Box::new(f));
        self
    }

    /// Keep the value of parameters the checkpoint lacks (by default they
    /// are an error).
    pub fn allow_missing(mut self) -> Self {
        self.allow_missing = true;
        self
    }

    /// Do not report checkpoint tensors that no parameter takes (by default
    /// they are an error, as in PyTorch's strict `load_state_dict`).
    pub fn allow_unused(mut self) -> Self {
        self.allow_unused = true;
        self
    }

    /// Load the checkpoint into `module` (see the type's docs).
    pub fn load<M: Module>(&self, module: M) -> Result<M> {
        Ok(self.load_with_report(module)?.0)
    }

    /// [`Checkpoint::load`], and what it did.
    pub fn load_with_report<M: Module>(&self, module: M) -> Result<(M, LoadReport)> {
        let (sources, mut report) = self.plan(&module)?;
        let mut by_path: HashMap<&str, &Source> = sources.iter().map(|s| (s.path.as_str(), s)).collect();
        let module = Installer::run(module, |path| by_path.remove(path).map(|s| self.read(s)))?;
        report.loaded = sources
            .iter()
            .map(|s| {
                let f = &self.files[s.file];
                Loaded {
                    path: s.path.clone(),
                    key: s.key.clone(),
                    file: f.path().to_path_buf(),
                    file_dtype: f.header.tensors[s.tensor].float.expect("checked in plan"),
                    dtype: s.dtype,
                    transposed: s.transpose,
                }
            })
            .collect();
        Ok((module, report))
    }

    /// Every parameter's source, or every problem.
    fn plan<M: Module>(&self, module: &M) -> Result<(Vec<Source>, LoadReport)> {
        let mut sources = Vec::new();
        let mut report = LoadReport::default();
        let mut problems = Vec::new();
        let mut used: HashSet<&str> = HashSet::new();
        for p in float_params(module) {
            let key = match &self.key_map {
                Some(f) => match f(&p.path, &p.module) {
                    Some(k) => k,
                    None => {
                        report.kept.push(p.path);
                        continue;
                    }
                },
                None => p.path.clone(),
            };
            let Some((stored_key, &(fi, ti))) = self.tensors.get_key_value(&key) else {
                if self.allow_missing {
                    report.kept.push(p.path);
                } else {
                    let suggestion = self.suggest(&key);
                    problems.push(Error::MissingTensor { path: p.path, key, suggestion });
                }
                continue;
            };
            used.insert(stored_key.as_str());
            let file = &self.files[fi];
            let t: &TensorInfo = &file.header.tensors[ti];
            if t.float.is_none() {
                problems.push(Error::DType {
                    path: p.path,
                    key,
                    file: file.path().to_path_buf(),
                    dtype: t.dtype.clone(),
                });
                continue;
            }
            let in_out = p.linear_in_out || self.in_out.iter().any(|g| g.is_match(&p.path));
            let transpose = in_out && p.shape.len() == 2 && self.order == LinearOrder::OutIn;
            let mut expected: Vec<u64> = p.shape.iter().map(|&d| d as u64).collect();
            if transpose {
                expected.reverse();
            }
            if t.shape != expected {
                let note = if transpose {
                    format!(" (PyTorch's (out, in) order of burn's (in, out) shape {:?})", p.shape)
                } else {
                    String::new()
                };
                problems.push(Error::ShapeMismatch {
                    path: p.path,
                    key,
                    file: file.path().to_path_buf(),
                    expected,
                    found: t.shape.clone(),
                    note,
                });
                continue;
            }
            sources.push(Source { path: p.path, key, file: fi, tensor: ti, shape: p.shape, dtype: p.dtype, transpose });
        }
        let unused: Vec<String> = self.tensors.keys().filter(|k| !used.contains(k.as_str())).cloned().collect();
        if self.allow_unused {
            report.unused = unused;
        } else if !unused.is_empty() {
            problems.push(Error::UnusedTensors { keys: unused });
        }
        match Error::from_problems(self.root.display(), problems) {
            Some(e) => Err(e),
            None => Ok((sources, report)),
        }
    }

    /// A checkpoint name that differs from `key` only by a leading prefix
    /// (`model.layers.0.weight` for `layers.0.weight`, or the reverse).
    fn suggest(&self, key: &str) -> Option<String> {
        let dotted = format!(".{key}");
        self.tensors.keys().find(|k| k.ends_with(&dotted) || key.ends_with(&format!(".{k}"))).cloned()
    }

    /// One tensor, converted to the parameter's dtype and burn's saved form.
    fn read(&self, s: &Source) -> Result<TensorData> {
        let f = &self.files[s.file];
        let t = &f.header.tensors[s.tensor];
        let dtype = t.float.expect("checked in plan");
        let bytes = &f.data(t)?;
        let rows_cols = (t.shape.first().copied().unwrap_or(0) as usize, t.shape.get(1).copied().unwrap_or(0) as usize);
        fn typed<T: varinit::Element + burn::tensor::Element>(
            dtype: DType,
            bytes: &[u8],
            shape: &[usize],
            transpose_from: Option<(usize, usize)>,
        ) -> TensorData {
            let v: Vec<T> = decode(dtype, bytes);
            let v = match transpose_from {
                Some((r, c)) => transpose(&v, r, c),
                None => v,
            };
            TensorData::new(v, shape.to_vec())
        }
        let tr = s.transpose.then_some(rows_cols);
        let data = match s.dtype {
            BurnDType::F64 => typed::<f64>(dtype, bytes, &s.shape, tr),
            BurnDType::F16 => typed::<varinit::dtype::F16>(dtype, bytes, &s.shape, tr),
            BurnDType::BF16 => typed::<varinit::dtype::BF16>(dtype, bytes, &s.shape, tr),
            BurnDType::F32 => typed::<f32>(dtype, bytes, &s.shape, tr),
            other => typed::<f32>(dtype, bytes, &s.shape, tr)
                .try_cast(other)
                .map_err(|e| Error::Burn { path: s.path.clone(), message: format!("converting to {other:?}: {e}") })?,
        };
        Ok(data)
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The checkpoint name PyTorch gives a burn parameter, for
/// [`Checkpoint::map_keys`]: burn's norm layers (`BatchNorm`, `LayerNorm`,
/// `GroupNorm`, `InstanceNorm`, `RmsNorm`) call their scale and shift
/// `gamma` and `beta` where PyTorch says `weight` and `bias`, and `PRelu`
/// its slope `alpha` where PyTorch says `weight`; every other path is the
/// same in both (`layers.0.weight`, `bn.running_mean`, ...).
///
/// ```
/// use varinit_burn::pytorch_names;
/// assert_eq!(pytorch_names("block.norm.gamma", "LayerNorm").as_deref(), Some("block.norm.weight"));
/// assert_eq!(pytorch_names("fc.weight", "Linear").as_deref(), Some("fc.weight"));
/// ```
pub fn pytorch_names(path: &str, module: &str) -> Option<String> {
    let (prefix, last) = path.rsplit_once('.').unwrap_or(("", path));
    let renamed = match (module, last) {
        ("BatchNorm" | "LayerNorm" | "GroupNorm" | "InstanceNorm" | "RmsNorm", "gamma") => "weight",
        ("BatchNorm" | "LayerNorm" | "GroupNorm" | "InstanceNorm" | "RmsNorm", "beta") => "bias",
        ("PRelu", "alpha") => "weight",
        _ => return Some(path.to_string()),
    };
    Some(if prefix.is_empty() { renamed.to_string() } else { format!("{prefix}.{renamed}") })
}
