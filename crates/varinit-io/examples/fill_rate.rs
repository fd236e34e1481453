//! CPU cost per element of generation alone versus the checkpoint pipeline
//! (generation, conversion, piece handling) into a sink that discards the
//! bytes, on one thread: `cargo run --release --example fill_rate`.

use std::time::Instant;

use varinit::{DType, Init, Layout, Par, Shape, TensorInit};
use varinit_io::checkpoint::{WriteOptions, stream_shard};
use varinit_io::plan::Plan;
use varinit_io::preset;

/// CPU seconds (user + system) of the whole process (Linux; wall time
/// elsewhere), so the numbers mean something on a shared, loaded machine.
fn cpu_seconds(wall: Instant) -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name
            Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / 100.0)
        })
        .unwrap_or_else(|| wall.elapsed().as_secs_f64())
}

fn main() {
    let n: u64 = 256 << 20;
    let init: Init = "normal(std=0.02)".parse().unwrap();
    let t = TensorInit::new(0, "w", &init, Shape::new(vec![n]).unwrap(), Layout::Torch.into()).unwrap();
    let mut buf = vec![0f32; n as usize];
    let (start, c0) = (Instant::now(), cpu_seconds(Instant::now()));
    t.fill_range(0, &mut buf, Par::Seq).unwrap();
    let s = cpu_seconds(start) - c0;
    println!("fill_range f32 normal, 1 thread: {:.2} ns/element (CPU time)", s * 1e9 / n as f64);
    let mut bytes = vec![0u8; 2 * n as usize];
    let (start, c0) = (Instant::now(), cpu_seconds(Instant::now()));
    t.fill_bytes(DType::BF16, 0, &mut bytes, Par::Seq).unwrap();
    let s = cpu_seconds(start) - c0;
    println!("fill_bytes bf16 normal, 1 thread: {:.2} ns/element (CPU time)", s * 1e9 / n as f64);

    let spec = preset::expand("llama", &["num_hidden_layers=1".into()], DType::BF16).unwrap();
    let mut spec = spec;
    spec.dtype = DType::BF16;
    let plan = Plan::new(&spec, u64::MAX).unwrap();
    let elems = spec.numel();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let (start, c0) = (Instant::now(), cpu_seconds(Instant::now()));
    pool.install(|| stream_shard(&plan, 0, &mut |_b: &[u8]| Ok(()), &WriteOptions::default())).unwrap();
    let s = cpu_seconds(start) - c0;
    println!("stream_shard bf16 llama (1 layer), 1 thread: {:.2} ns/element (CPU time)", s * 1e9 / elems as f64);
}
