//! [`Checkpoint`]: a safetensors file (such as one `varinit init` or
//! `varinit sample --out` writes) loaded into a candle model, with errors
//! that name the missing tensor or both shapes.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use candle_core::safetensors::BufferedSafetensors;
use candle_core::{DType, Device, Tensor};
use candle_nn::var_builder::SimpleBackend;
use candle_nn::{VarBuilder, VarMap};

use crate::error::{Error, Result, closest};

/// A safetensors checkpoint held in memory, checked on opening (header,
/// offsets, dtypes) and read by name.
///
/// Two ways into a model:
///
/// - [`Checkpoint::into_var_builder`]: build the model straight from the
///   file (for inference, or as fixed weights);
/// - [`Checkpoint::load_into`]: overwrite the variables of a [`VarMap`] (for
///   training from the checkpoint): every variable is checked first, and on
///   any problem nothing changes.
///
/// Tensors are converted to the dtype the model asks for (a bf16 checkpoint
/// loads into an f32 model).
///
/// ```
/// use std::collections::BTreeMap;
/// use candle_core::{DType, Device};
/// use varinit::{Init, Layout, Par, Shape, TensorInit};
/// use varinit_candle::Checkpoint;
///
/// // a checkpoint written by varinit
/// let init: Init = "xavier_uniform".parse()?;
/// let w = TensorInit::new(7, "fc.weight", &init, Shape::new(vec![4, 3])?, Layout::Torch.into())?;
/// let b = TensorInit::new(7, "fc.bias", &"zeros".parse()?, Shape::new(vec![4])?, Layout::Torch.into())?;
/// let dir = std::env::temp_dir().join(format!("varinit-candle-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("fc.safetensors");
/// let f32 = varinit::DType::F32;
/// varinit_io::safetensors::write_file(&path, &[(&w, f32), (&b, f32)], &BTreeMap::new(), Par::Seq)?;
///
/// let vb = Checkpoint::open(&path)?.into_var_builder(DType::F32, &Device::Cpu);
/// let fc = candle_nn::linear(3, 4, vb.pp("fc"))?;
/// assert_eq!(fc.weight().flatten_all()?.to_vec1::<f32>()?, w.to_vec::<f32>(Par::Seq)?);
///
/// // a tensor the file does not have is named in the error
/// let err = candle_nn::linear(3, 4, vb.pp("fc2")).unwrap_err().to_string();
/// assert!(err.contains("no tensor \"fc2.weight\""), "{err}");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Checkpoint {
    file: PathBuf,
    st: BufferedSafetensors,
    names: Vec<String>,
    metadata: BTreeMap<String, String>,
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checkpoint").field("file", &self.file).field("tensors", &self.names.len()).finish()
    }
}

/// What [`Checkpoint::load_into`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Variables overwritten (every variable of the `VarMap`).
    pub loaded: usize,
    /// Tensors of the file that no variable took, sorted.
    pub unused: Vec<String>,
}

impl Checkpoint {
    /// Read and check a `.safetensors` file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes =
            std::fs::read(path).map_err(|e| Error::Read { file: path.to_path_buf(), message: e.to_string() })?;
        Checkpoint::from_bytes(bytes, path)
    }

    /// Check safetensors bytes; `label` names them in messages.
    pub fn from_bytes(bytes: Vec<u8>, label: impl Into<PathBuf>) -> Result<Self> {
        let file = label.into();
        let bad = |message: String| Error::Checkpoint { file: file.clone(), message };
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
        let metadata: BTreeMap<String, String> = meta
            .metadata()
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let st = BufferedSafetensors::new(bytes).map_err(|e| bad(format!("not a valid safetensors file: {e}")))?;
        let mut names: Vec<String> = st.tensors().into_iter().map(|(n, _)| n).collect();
        names.sort();
        for name in &names {
            let view = st.get(name).map_err(|e| bad(e.to_string()))?;
            DType::try_from(view.dtype())
                .map_err(|_| bad(format!("tensor {name:?} has dtype {:?}, which candle cannot load", view.dtype())))?;
        }
        Ok(Checkpoint { file, st, names, metadata })
    }

    /// The file (or label) the checkpoint came from.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// The tensor names, sorted.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The `__metadata__` of the file.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// How the file's tensors were made (seed, layout, scheme per tensor),
    /// read from its `varinit.*` metadata: `Ok(None)` for a file varinit
    /// did not write, an error for metadata that does not parse.
    pub fn provenance(&self) -> Result<Option<varinit::provenance::Provenance>> {
        varinit::provenance::Provenance::from_metadata(&self.metadata)
            .map_err(|e| Error::Checkpoint { file: self.file.clone(), message: e.to_string() })
    }

    /// The shape of tensor `name`, if the file has it.
    pub fn shape(&self, name: &str) -> Option<Vec<usize>> {
        self.st.get(name).ok().map(|v| v.shape().to_vec())
    }

    fn missing(&self, path: &str) -> Error {
        Error::MissingTensor {
            file: self.file.clone(),
            path: path.to_string(),
            suggestion: closest(path, self.names.iter().map(String::as_str)),
            count: self.names.len(),
        }
    }

    /// Check that the file has `path` with shape `dims`.
    pub fn check(&self, path: &str, dims: &[usize]) -> Result<()> {
        let found = self.shape(path).ok_or_else(|| self.missing(path))?;
        if found != dims {
            return Err(Error::ShapeMismatch {
                file: self.file.clone(),
                path: path.to_string(),
                expected: format!("{dims:?}"),
                found: format!("{found:?}"),
            });
        }
        Ok(())
    }

    /// Tensor `path`, checked against `dims`, converted to `dtype`, on `device`.
    pub fn tensor(&self, path: &str, dims: &[usize], dtype: DType, device: &Device) -> Result<Tensor> {
        self.check(path, dims)?;
        self.load(path, dtype, device)
    }

    fn load(&self, path: &str, dtype: DType, device: &Device) -> Result<Tensor> {
        self.st
            .load(path, device)
            .and_then(|t| t.to_dtype(dtype))
            .map_err(|e| Error::candle(format!("{}: loading tensor {path:?}", self.file.display()), e))
    }

    /// Wrap the checkpoint in a candle `VarBuilder`: every variable the model
    /// asks for must be in the file with the right shape.
    pub fn into_var_builder<'a>(self, dtype: DType, device: &Device) -> VarBuilder<'a> {
        VarBuilder::from_backend(Box::new(self), dtype, device.clone())
    }

    /// Overwrite every variable of `varmap` with the tensor of the same name
    /// (converted to the variable's dtype and device). All variables are
    /// checked and loaded before any is changed: on error (listing every
    /// missing tensor and shape mismatch) the `VarMap` is as it was.
    pub fn load_into(&self, varmap: &VarMap) -> Result<LoadReport> {
        let vars = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = vars.keys().collect();
        names.sort();
        let problems: Vec<Error> = names.iter().filter_map(|n| self.check(n, vars[*n].dims()).err()).collect();
        if !problems.is_empty() {
            return Err(Error::Load { file: self.file.clone(), problems });
        }
        let mut loaded = Vec::with_capacity(names.len());
        for n in &names {
            let var = &vars[*n];
            loaded.push(self.load(n, var.dtype(), var.device())?);
        }
        for (n, t) in names.iter().zip(&loaded) {
            vars[*n]
                .set(t)
                .map_err(|e| Error::candle(format!("{}: setting variable {n:?}", self.file.display()), e))?;
        }
        let unused = self.names.iter().filter(|n| !vars.contains_key(*n)).cloned().collect();
        Ok(LoadReport { loaded: names.len(), unused })
    }
}

impl SimpleBackend for Checkpoint {
    fn get(
        &self,
        s: candle_core::Shape,
        name: &str,
        _hint: candle_nn::Init,
        dtype: DType,
        dev: &Device,
    ) -> candle_core::Result<Tensor> {
        Ok(self.tensor(name, s.dims(), dtype, dev)?)
    }

    fn get_unchecked(&self, name: &str, dtype: DType, dev: &Device) -> candle_core::Result<Tensor> {
        if self.shape(name).is_none() {
            return Err(self.missing(name).into());
        }
        Ok(self.load(name, dtype, dev)?)
    }

    fn contains_tensor(&self, name: &str) -> bool {
        self.shape(name).is_some()
    }
}
