//! `Checkpoint`: single files and sharded checkpoints (written by varinit's
//! own writer) loaded into burn modules, conversions, key maps, errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use varinit::dtype::{BF16, F16};
use varinit::{DType, Init, Layout, Par, Shape, TensorInit};
use varinit_burn::{Checkpoint, Error, LinearOrder, Reinit, pytorch_names};

use crate::common::{Mlp, all_bits, bits, device, transpose, values};

const RULES: [(&str, &str); 2] =
    [("*.weight", "kaiming_uniform(nonlinearity=relu)"), ("*.bias", "uniform(a=-0.5, b=0.5)")];

/// A spec for `varinit init` of the MLP `dims`, PyTorch's shapes, `RULES`.
fn mlp_spec(dims: &[usize], seed: u64, dtype: &str) -> String {
    let mut s = format!("seed = {seed}\ndtype = \"{dtype}\"\n");
    for (i, w) in dims.windows(2).enumerate() {
        s += &format!("[[tensor]]\nname = \"layers.{i}.weight\"\nshape = [{}, {}]\n", w[1], w[0]);
        s += &format!("[[tensor]]\nname = \"layers.{i}.bias\"\nshape = [{}]\n", w[1]);
    }
    for (g, init) in RULES {
        s += &format!("[[rule]]\nmatch = \"{g}\"\ninit = \"{init}\"\n");
    }
    s
}

/// Write a checkpoint as `varinit init --spec` does, with a shard limit.
fn write_checkpoint(dir: &Path, spec: &str, max_shard_bytes: u64) -> Vec<PathBuf> {
    let spec = varinit_io::spec::parse(spec, "test spec").unwrap();
    let plan = varinit_io::plan::Plan::new(&spec, max_shard_bytes).unwrap();
    let opts = varinit_io::checkpoint::WriteOptions { sync: false, ..Default::default() };
    varinit_io::checkpoint::write(&plan, dir, &opts).unwrap().files
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn sharded_checkpoint_round_trip_equals_reinit() {
    let dir = tmp();
    let dims = [20, 48, 48, 10];
    let files = write_checkpoint(dir.path(), &mlp_spec(&dims, 77, "f32"), 6_000);
    let names: Vec<String> = files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert!(names.contains(&"model.safetensors.index.json".to_string()), "{names:?}");
    assert!(names.iter().filter(|n| n.ends_with(".safetensors")).count() >= 3, "sharded: {names:?}");

    let d = device();
    let ckpt = Checkpoint::open(dir.path()).unwrap();
    assert_eq!(ckpt.files().len(), names.iter().filter(|n| n.ends_with(".safetensors")).count());
    let (loaded, report) = ckpt.load_with_report(Mlp::new(&dims, &d)).unwrap();
    assert_eq!(report.loaded.len(), 6);
    assert!(report.kept.is_empty() && report.unused.is_empty());
    assert!(report.loaded.iter().filter(|l| l.path.ends_with("weight")).all(|l| l.transposed));
    let drawn = Reinit::new(77).rules(RULES).unwrap().apply(Mlp::new(&dims, &d)).unwrap();
    assert_eq!(all_bits(&loaded), all_bits(&drawn), "varinit init + load == Reinit, bit for bit");
}

#[test]
fn single_file_and_half_precision_files_load_into_f32_models() {
    let d = device();
    for dtype in ["f32", "bf16", "f16", "f64"] {
        let dir = tmp();
        write_checkpoint(dir.path(), &mlp_spec(&[6, 5, 3], 1, dtype), 1 << 30);
        assert!(dir.path().join("model.safetensors").exists());
        let m = Checkpoint::open(dir.path().join("model.safetensors")).unwrap().load(Mlp::new(&[6, 5, 3], &d)).unwrap();
        let init: Init = RULES[0].1.parse().unwrap();
        let t = TensorInit::new(1, "layers.1.weight", &init, Shape::new(vec![3, 5]).unwrap(), Layout::Torch.into())
            .unwrap();
        let want: Vec<f32> = match dtype {
            "bf16" => t.to_vec::<BF16>(Par::Seq).unwrap().iter().map(|x| x.to_f32()).collect(),
            "f16" => t.to_vec::<F16>(Par::Seq).unwrap().iter().map(|x| x.to_f32()).collect(),
            "f64" => t.to_vec::<f64>(Par::Seq).unwrap().iter().map(|&x| x as f32).collect(),
            _ => t.to_vec::<f32>(Par::Seq).unwrap(),
        };
        assert_eq!(bits(&values(&m.layers[1].weight)), bits(&transpose(&want, 3, 5)), "{dtype}");
    }
}

/// A safetensors file with arbitrary tensors.
fn write_raw(path: &Path, tensors: &[(&str, Dtype, Vec<usize>, Vec<u8>)], metadata: Option<HashMap<String, String>>) {
    let views: Vec<(String, TensorView)> =
        tensors.iter().map(|(n, d, s, b)| (n.to_string(), TensorView::new(*d, s.clone(), b).unwrap())).collect();
    safetensors::serialize_to_file(views, metadata, path).unwrap();
}

fn f32_bytes(n: usize, scale: f32) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32 * scale).to_le_bytes()).collect()
}

#[test]
fn burn_order_files_and_layout_metadata_load_without_transposing() {
    let d = device();
    let dir = tmp();
    let path = dir.path().join("w.safetensors");
    // burn's own (in, out) order, as burn-store writes it
    write_raw(
        &path,
        &[("weight", Dtype::F32, vec![3, 2], f32_bytes(6, 1.0)), ("bias", Dtype::F32, vec![2], f32_bytes(2, 1.0))],
        None,
    );
    let e = Checkpoint::open(&path).unwrap().load(LinearConfig::new(3, 2).init(&d)).unwrap_err().to_string();
    assert!(
        e.contains(
            "has shape [3, 2], the model expects [2, 3] (PyTorch's (out, in) order of burn's (in, out) shape [3, 2])"
        ),
        "{e}"
    );
    let l = Checkpoint::open(&path)
        .unwrap()
        .linear_order(LinearOrder::InOut)
        .load(LinearConfig::new(3, 2).init(&d))
        .unwrap();
    assert_eq!(values(&l.weight), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    // a file that says it was written in varinit's keras layout is (in, out)
    let meta = HashMap::from([("varinit.layout".to_string(), "keras".to_string())]);
    write_raw(
        &path,
        &[("weight", Dtype::F32, vec![3, 2], f32_bytes(6, 1.0)), ("bias", Dtype::F32, vec![2], f32_bytes(2, 1.0))],
        Some(meta),
    );
    let l = Checkpoint::open(&path).unwrap().load(LinearConfig::new(3, 2).init(&d)).unwrap();
    assert_eq!(values(&l.weight), [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[derive(Module, Debug)]
struct Block {
    fc: Linear,
    norm: LayerNorm,
}

#[test]
fn key_maps_rename_and_skip() {
    let d = device();
    let dir = tmp();
    let path = dir.path().join("pt.safetensors");
    // PyTorch names with a prefix: norm.weight / norm.bias for burn's gamma / beta
    write_raw(
        &path,
        &[
            ("model.fc.weight", Dtype::F32, vec![2, 4], f32_bytes(8, 0.5)),
            ("model.fc.bias", Dtype::F32, vec![2], f32_bytes(2, 1.0)),
            ("model.norm.weight", Dtype::F32, vec![2], f32_bytes(2, 3.0)),
            ("model.norm.bias", Dtype::F32, vec![2], f32_bytes(2, -1.0)),
        ],
        None,
    );
    let block = || Block { fc: LinearConfig::new(4, 2).init(&d), norm: LayerNormConfig::new(2).init(&d) };
    let ckpt = Checkpoint::open(&path).unwrap();
    // without a map: every name differs by the prefix, and the error says so
    let e = ckpt.load(block()).unwrap_err().to_string();
    assert!(e.contains("parameter \"fc.weight\": the checkpoint has no tensor \"fc.weight\" (it has \"model.fc.weight\": map the names with map_keys())"), "{e}");
    assert!(e.contains("no tensor \"norm.gamma\""), "{e}");
    let b = Checkpoint::open(&path)
        .unwrap()
        .map_keys(|path, module| pytorch_names(path, module).map(|k| format!("model.{k}")))
        .load(block())
        .unwrap();
    assert_eq!(values(&b.fc.weight), transpose(&[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], 2, 4));
    assert_eq!(values(&b.norm.gamma), [0.0, 3.0]);
    assert_eq!(values(&b.norm.beta.unwrap()), [0.0, -1.0]);
    // None leaves a parameter alone (and its tensor becomes unused)
    let before = values(&block().norm.gamma);
    let (b, report) = Checkpoint::open(&path)
        .unwrap()
        .map_keys(|path, module| (module != "LayerNorm").then(|| format!("model.{path}")))
        .allow_unused()
        .load_with_report(block())
        .unwrap();
    assert_eq!(report.kept, ["norm.gamma", "norm.beta"]);
    assert_eq!(report.unused, ["model.norm.bias", "model.norm.weight"]);
    assert_eq!(values(&b.norm.gamma), before, "LayerNorm's ones kept");
}

#[test]
fn every_load_error_is_reported_before_anything_is_loaded() {
    let d = device();
    let dir = tmp();
    let path = dir.path().join("bad.safetensors");
    write_raw(
        &path,
        &[
            ("layers.0.weight", Dtype::F32, vec![4, 3], f32_bytes(12, 1.0)), // (out, in) for Linear(3, 5) is [5, 3]
            ("layers.0.bias", Dtype::I64, vec![5], vec![0; 40]),
            ("layers.1.weights", Dtype::F32, vec![2, 5], f32_bytes(10, 1.0)),
            ("extra", Dtype::F32, vec![1], f32_bytes(1, 1.0)),
        ],
        None,
    );
    let e = Checkpoint::open(&path).unwrap().load(Mlp::new(&[3, 5, 2], &d)).unwrap_err();
    let Error::Several { problems, .. } = &e else { panic!("{e}") };
    let s = e.to_string();
    assert_eq!(problems.len(), 5, "{s}");
    assert!(s.contains(": 5 problems, nothing changed:"), "{s}");
    assert!(s.contains("parameter \"layers.0.weight\": tensor \"layers.0.weight\" in "), "{s}");
    assert!(
        s.contains(
            "has shape [4, 3], the model expects [5, 3] (PyTorch's (out, in) order of burn's (in, out) shape [3, 5])"
        ),
        "{s}"
    );
    assert!(
        s.contains("parameter \"layers.0.bias\": tensor \"layers.0.bias\" in ")
            && s.contains("is I64; only F32, F64, F16 and BF16"),
        "{s}"
    );
    assert!(s.contains("parameter \"layers.1.weight\": the checkpoint has no tensor \"layers.1.weight\""), "{s}");
    assert!(s.contains("parameter \"layers.1.bias\": the checkpoint has no tensor \"layers.1.bias\""), "{s}");
    assert!(
        s.contains("2 tensors of the checkpoint match no parameter of the model: \"extra\", \"layers.1.weights\""),
        "{s}"
    );
    assert!(e.is_usage());

    // allow_missing keeps what the file lacks; allow_unused ignores the rest
    write_raw(
        &path,
        &[("layers.0.weight", Dtype::BF16, vec![5, 3], vec![0; 30]), ("extra", Dtype::F32, vec![1], f32_bytes(1, 1.0))],
        None,
    );
    let (m, report) = Checkpoint::open(&path)
        .unwrap()
        .allow_missing()
        .allow_unused()
        .load_with_report(Mlp::new(&[3, 5, 2], &d))
        .unwrap();
    assert_eq!(report.kept, ["layers.0.bias", "layers.1.weight", "layers.1.bias"]);
    assert_eq!(report.unused, ["extra"]);
    assert_eq!(report.loaded[0].file_dtype, DType::BF16);
    assert!(values(&m.layers[0].weight).iter().all(|&x| x == 0.0));

    // not a safetensors file, or no file at all
    std::fs::write(&path, b"not a checkpoint").unwrap();
    let e = Checkpoint::open(&path).unwrap_err();
    assert!(matches!(e, Error::Io(_)) && e.is_usage(), "{e}");
    let e = Checkpoint::open(dir.path().join("nothing-here")).unwrap_err();
    assert!(matches!(e, Error::Io(_)) && !e.is_usage(), "{e}");
}

#[test]
fn index_and_shards_must_agree() {
    let dir = tmp();
    write_checkpoint(dir.path(), &mlp_spec(&[20, 48, 10], 3, "f32"), 3_000);
    let index = dir.path().join("model.safetensors.index.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&index).unwrap()).unwrap();
    let original = v.clone();
    let map = v["weight_map"].as_object_mut().unwrap();
    let mut shards: Vec<String> = map.values().map(|f| f.as_str().unwrap().to_string()).collect();
    shards.sort();
    shards.dedup();
    assert!(shards.len() >= 2, "{shards:?}");
    let holder = map["layers.0.bias"].as_str().unwrap().to_string();
    let other = shards.iter().find(|s| **s != holder).unwrap().clone();
    // one entry moved to another shard, one that is nowhere
    map.insert("layers.0.bias".into(), other.clone().into());
    map.insert("ghost.weight".into(), other.into());
    std::fs::write(&index, v.to_string()).unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("model.safetensors.index.json: lists \"ghost.weight\" in ") && e.contains("which does not have it"),
        "{e}"
    );
    assert!(e.contains("lists \"layers.0.bias\" in ") && e.contains(&format!(", but it is in {holder}")), "{e}");

    // a tensor the index does not list
    let mut v = original.clone();
    v["weight_map"].as_object_mut().unwrap().remove("layers.0.bias");
    std::fs::write(&index, v.to_string()).unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains(&format!("does not list \"layers.0.bias\", which is in {holder}")), "{e}");

    // without an index, the same tensor in two files
    std::fs::remove_file(&index).unwrap();
    std::fs::copy(dir.path().join(&holder), dir.path().join("zz-copy.safetensors")).unwrap();
    let e = Checkpoint::open(dir.path()).unwrap_err().to_string();
    assert!(e.contains(&format!("is in both {holder} and zz-copy.safetensors")), "{e}");
}
