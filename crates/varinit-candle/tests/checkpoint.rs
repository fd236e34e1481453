//! Loading checkpoints written by varinit (varinit-io's safetensors writer,
//! which `varinit sample --out` and `varinit init` use) into candle models.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use varinit::{Init, Layout, Par, Shape, TensorInit};
use varinit_candle::{Checkpoint, Error, VarinitBackend};

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("varinit-candle-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tensor_init(seed: u64, name: &str, scheme: &str, dims: &[u64]) -> TensorInit {
    let init: Init = scheme.parse().unwrap();
    TensorInit::new(seed, name, &init, Shape::new(dims.to_vec()).unwrap(), Layout::Torch.into()).unwrap()
}

/// A two-layer MLP's checkpoint, written by varinit-io in `dtype`.
fn write_mlp(path: &Path, dtype: varinit::DType) -> Vec<TensorInit> {
    let ts = vec![
        tensor_init(5, "fc1.weight", "kaiming_normal(nonlinearity=relu)", &[32, 16]),
        tensor_init(5, "fc1.bias", "zeros", &[32]),
        tensor_init(5, "fc2.weight", "xavier_uniform", &[4, 32]),
        tensor_init(5, "fc2.bias", "torch_default_bias(fan_in=32)", &[4]),
    ];
    let list: Vec<(&TensorInit, varinit::DType)> = ts.iter().map(|t| (t, dtype)).collect();
    let meta = BTreeMap::from([("format".to_string(), "pt".to_string())]);
    varinit_io::safetensors::write_file(path, &list, &meta, Par::Rayon).unwrap();
    ts
}

fn mlp(vb: &VarBuilder) -> candle_core::Result<(candle_nn::Linear, candle_nn::Linear)> {
    Ok((candle_nn::linear(16, 32, vb.pp("fc1"))?, candle_nn::linear(32, 4, vb.pp("fc2"))?))
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

#[test]
fn a_varinit_checkpoint_builds_the_model_with_the_same_values() {
    let dir = TempDir::new("ckpt-build");
    let path = dir.path("mlp.safetensors");
    let ts = write_mlp(&path, varinit::DType::F32);
    let ckpt = Checkpoint::open(&path).unwrap();
    assert_eq!(ckpt.names(), ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"]);
    assert_eq!(ckpt.metadata().get("format").map(String::as_str), Some("pt"));
    let vb = ckpt.into_var_builder(DType::F32, &Device::Cpu);
    let (fc1, fc2) = mlp(&vb).unwrap();
    let want = |i: usize| ts[i].to_vec::<f32>(Par::Seq).unwrap();
    assert_eq!(flat(fc1.weight()), want(0));
    assert_eq!(flat(fc1.bias().unwrap()), want(1));
    assert_eq!(flat(fc2.weight()), want(2));
    assert_eq!(flat(fc2.bias().unwrap()), want(3));

    // the checkpoint holds exactly what VarinitBackend draws for the same (seed, path, scheme)
    let vb = VarinitBackend::new(5)
        .rule("fc1.weight", "kaiming_normal(nonlinearity=relu)")
        .unwrap()
        .rule("fc1.bias", "zeros")
        .unwrap()
        .rule("fc2.weight", "xavier_uniform")
        .unwrap()
        .rule("fc2.bias", "torch_default_bias(fan_in=32)")
        .unwrap()
        .into_var_builder(DType::F32, &Device::Cpu);
    let (g1, g2) = mlp(&vb).unwrap();
    assert_eq!(flat(g1.weight()), want(0));
    assert_eq!(flat(g2.bias().unwrap()), want(3));
}

#[test]
fn bf16_checkpoint_into_an_f32_model() {
    let dir = TempDir::new("ckpt-bf16");
    let path = dir.path("mlp.safetensors");
    let ts = write_mlp(&path, varinit::DType::BF16);
    let vb = Checkpoint::open(&path).unwrap().into_var_builder(DType::F32, &Device::Cpu);
    let (fc1, _) = mlp(&vb).unwrap();
    let want: Vec<f32> = ts[0].to_vec::<half::bf16>(Par::Seq).unwrap().into_iter().map(f32::from).collect();
    assert_eq!(flat(fc1.weight()), want);
}

#[test]
fn missing_tensors_and_shape_mismatches_are_named() {
    let dir = TempDir::new("ckpt-errors");
    let path = dir.path("mlp.safetensors");
    write_mlp(&path, varinit::DType::F32);
    let ckpt = Checkpoint::open(&path).unwrap();

    let e = ckpt.check("fc2.weights", &[4, 32]).unwrap_err();
    assert!(matches!(e, Error::MissingTensor { .. }));
    let msg = e.to_string();
    assert!(msg.contains("mlp.safetensors") && msg.contains("no tensor \"fc2.weights\""), "{msg}");
    assert!(msg.contains("did you mean \"fc2.weight\"") && msg.contains("4 tensors"), "{msg}");

    let e = ckpt.check("fc1.weight", &[16, 32]).unwrap_err().to_string();
    assert!(e.contains("\"fc1.weight\" has shape [32, 16], the model expects [16, 32]"), "{e}");

    // through a candle model: the same messages inside candle's error
    let vb = ckpt.into_var_builder(DType::F32, &Device::Cpu);
    let e = candle_nn::linear(32, 16, vb.pp("fc1")).err().unwrap().to_string();
    assert!(e.contains("the model expects [16, 32]"), "{e}");
    let e = candle_nn::linear(16, 32, vb.pp("encoder")).err().unwrap().to_string();
    assert!(e.contains("no tensor \"encoder.weight\""), "{e}");
}

#[test]
fn load_into_a_varmap_is_all_or_nothing() {
    let dir = TempDir::new("ckpt-varmap");
    let path = dir.path("mlp.safetensors");
    let ts = write_mlp(&path, varinit::DType::F32);
    let ckpt = Checkpoint::open(&path).unwrap();

    // a trainable model built with another seed, then overwritten from the checkpoint
    let varmap = VarMap::new();
    let vb = VarinitBackend::new(99).trainable(&varmap).into_var_builder(DType::F32, &Device::Cpu);
    let (fc1, fc2) = mlp(&vb).unwrap();
    assert_ne!(flat(fc1.weight()), ts[0].to_vec::<f32>(Par::Seq).unwrap());
    let report = ckpt.load_into(&varmap).unwrap();
    assert_eq!(report.loaded, 4);
    assert!(report.unused.is_empty());
    assert_eq!(flat(fc1.weight()), ts[0].to_vec::<f32>(Par::Seq).unwrap());
    assert_eq!(flat(fc2.bias().unwrap()), ts[3].to_vec::<f32>(Par::Seq).unwrap());

    // a model that does not fit: every problem listed, nothing changed
    let varmap = VarMap::new();
    let vb = VarinitBackend::new(99).trainable(&varmap).into_var_builder(DType::F32, &Device::Cpu);
    let a = candle_nn::linear(16, 32, vb.pp("fc1")).unwrap();
    let _b = candle_nn::linear(32, 8, vb.pp("fc2")).unwrap(); // 8 outputs, the file has 4
    let _c = candle_nn::linear(8, 2, vb.pp("head")).unwrap(); // not in the file
    let before = flat(a.weight());
    let e = ckpt.load_into(&varmap).unwrap_err();
    let Error::Load { problems, .. } = &e else { panic!("{e}") };
    assert_eq!(problems.len(), 4, "{e}"); // fc2.weight, fc2.bias shapes; head.weight, head.bias missing
    let msg = e.to_string();
    assert!(msg.contains("no variable changed") && msg.contains("\"head.bias\"") && msg.contains("[8, 32]"), "{msg}");
    assert_eq!(flat(a.weight()), before);

    // a smaller model: the rest of the file is reported unused
    let varmap = VarMap::new();
    let vb = VarinitBackend::new(1).trainable(&varmap).into_var_builder(DType::F32, &Device::Cpu);
    candle_nn::linear(16, 32, vb.pp("fc1")).unwrap();
    let report = ckpt.load_into(&varmap).unwrap();
    assert_eq!(report.unused, ["fc2.bias", "fc2.weight"]);
}

#[test]
fn malformed_files_are_refused_with_the_file_name() {
    let dir = TempDir::new("ckpt-malformed");
    let path = dir.path("mlp.safetensors");
    write_mlp(&path, varinit::DType::F32);
    let bytes = std::fs::read(&path).unwrap();
    for (what, data) in [
        ("truncated", bytes[..bytes.len() - 10].to_vec()),
        ("header only", bytes[..20].to_vec()),
        ("empty", Vec::new()),
        ("garbage", b"\xff\xff\xff\xff\xff\xff\xff\xffnot json".to_vec()),
    ] {
        let bad = dir.path("bad.safetensors");
        std::fs::write(&bad, &data).unwrap();
        let e = Checkpoint::open(&bad).unwrap_err();
        assert!(matches!(e, Error::Checkpoint { .. }), "{what}: {e}");
        assert!(e.to_string().contains("bad.safetensors"), "{what}: {e}");
    }
    let e = Checkpoint::open(dir.path("nope.safetensors")).unwrap_err().to_string();
    assert!(e.contains("nope.safetensors") && e.contains("cannot read"), "{e}");
}
