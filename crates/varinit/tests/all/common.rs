//! Helpers shared by the integration tests.
#![allow(dead_code)]

use sha2::{Digest, Sha256};
use varinit::{DType, Init, Layout, Par, ResolveOptions, Shape, TensorInit};

pub fn tensor(seed: u64, name: &str, scheme: &str, dims: &[u64], layout: Layout) -> TensorInit {
    let init: Init = scheme.parse().unwrap_or_else(|e| panic!("{scheme}: {e}"));
    TensorInit::new(seed, name, &init, Shape::new(dims.to_vec()).unwrap(), ResolveOptions { layout, transposed: false })
        .unwrap_or_else(|e| panic!("{scheme} {dims:?}: {e}"))
}

/// Little-endian bytes of the whole tensor in `dtype`.
pub fn bytes(t: &TensorInit, dtype: DType, par: Par) -> Vec<u8> {
    let mut b = vec![0u8; t.numel() as usize * dtype.size()];
    t.fill_bytes(dtype, 0, &mut b, par).unwrap();
    b
}

pub fn sha256_hex(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

/// Run `f` on a rayon pool of `threads` threads.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(f)
}
