//! Golden vectors: the stream format, frozen. If one of these changes, the
//! stream format changed, which needs a new `STREAM_VERSION` and a
//! CHANGELOG entry; never update these values to make a test pass.

use crate::common::{bytes, sha256_hex, tensor};
use varinit::{DType, Layout, Par, TensorKey};

#[test]
fn tensor_keys() {
    assert_eq!(TensorKey::new(0, "weight").0, GOLDEN_KEYS[0]);
    assert_eq!(TensorKey::new(42, "model.layers.0.self_attn.q_proj.weight").0, GOLDEN_KEYS[1]);
    assert_eq!(TensorKey::new(u64::MAX, "").0, GOLDEN_KEYS[2]);
    assert_eq!(TensorKey::new(7, "émbed").0, GOLDEN_KEYS[3]);
}

const GOLDEN_KEYS: [u64; 4] = [0x8478013ed1b6f90d, 0x1551bf1170ed6c8c, 0xcc0dc8910321bcb5, 0x637f0a7ca4f65e77];

/// (scheme, shape, dtype) -> first values (bits) and SHA-256 of the whole tensor.
/// Orthogonal is not here: its Gaussian draw is (it is a normal fill), but
/// its QR runs through faer, whose kernels are chosen per CPU; see
/// `determinism.rs` for what is guaranteed about it.
const CASES: &[(&str, &[u64], DType)] = &[
    ("uniform(-1, 1)", &[1000, 37], DType::F32),
    ("normal(0, 1)", &[1000, 37], DType::F32),
    ("trunc_normal(0, 1, -2, 2)", &[1000, 37], DType::F32),
    ("trunc_normal(mean=0, std=0.02, a=-2, b=2)", &[1000, 37], DType::BF16),
    ("trunc_normal(mean=1, std=1, a=2.5, b=4)", &[1000, 37], DType::F32),
    ("kaiming_uniform", &[1000, 37], DType::F16),
    ("xavier_normal", &[1000, 37], DType::BF16),
    ("uniform(-1, 1)", &[1000, 37], DType::F64),
    ("normal(0, 1)", &[1000, 37], DType::F64),
    ("trunc_normal(0, 1, -2, 2)", &[1000, 37], DType::F64),
    ("sparse(0.3)", &[50, 20], DType::F32),
];

const GOLDEN: &[(&str, &str)] = &[
    (
        "be567058 3f249760 3f09a512 3cc88700 bf047762 3d83ebb0 3d1aa2c0 bdc343d0",
        "b561da282b7c8b026704102dc74b36f6b92c3426bc7c1a867b8b7aa438cea570",
    ),
    (
        "bf19446f bf9d790d bfc60c45 3f995b73 be59bf93 bf95c578 bf7bd1a7 3f7832b1",
        "18d5e1dbcb62e128fae2a40343ca23da046db2ad1892a7010a99e80af0bd3c94",
    ),
    (
        "be81a322 3f5dc6a7 3f320756 3cefec8b bf2a38a6 3d9df8ba 3d390d73 bdea1a0e",
        "11e39b6c12428a352c4afd63c6539a6fc3aadf44c07e80e2e849e698eb8884b5",
    ),
    ("bbae 3c97 3c71 3a21 bc66 3ad4 3a78 bb1d", "e03098a64adab72ce737177f2acbb5e5e5f5957b222a7b9fdc6825fb9d7c85c6"),
    (
        "402f5ba0 404e6895 40487b92 40356b36 4028a580 403690e2 4035cbc1 40322fa2",
        "c615d08c061851386607e2b067ed8d8bf8da997b08013a80cd3e3f544bc1de2f",
    ),
    ("ad66 3424 32ee 210c b2ab 26a4 23c9 a8ea", "9f6bf6ec872abbeb3e6720e467760c29acbf07540cab42aa337d8f232fc3ca77"),
    ("bcd7 bd5d bd8b 3d58 bc19 bd52 bd31 3d2e", "ae96e23d4b135f4e866455a05b767b9835b9a626a59086b8204bcc99a552039c"),
    (
        "bfcace0a3c5a0fb0 3fe492ec2857611c 3fe134a254647fc6 3f9910e158058000 bfe08eec0892f4be 3fb07d7788e5ec90 3fa354585e653d40 bfb8687883d84710",
        "b46351442f32bd82010b8a199c9f6bcc3397be0d29d3bfb374c2926bbb42dd2d",
    ),
    (
        "bfe03abb763e615f 3ff0c5361cf357a7 3ffaedc2d6f8392d bfd8104ac7aa15ee bfe33275584c661b 3fd23575e5eb034a 3fe90c206e7d7576 bff12831e86346b2",
        "9f440e4876a16e41a919ded4dca25a575dba5d489be6289ecc715bc25b28ad9e",
    ),
    (
        "bfd03463d48157f7 3febb8d4eb776e5e 3fe640eaee5a2af7 3f9dfd88cbc0f88c bfe54714380e2a07 3fb3bf193d2b54d4 3fa721a8ee1cd332 bfbd43409fda4342",
        "911c9a9bed1db96ff53789e1460c14389a5cd5cc3ce4c8c8f099ef7e67b5ae83",
    ),
    ("bbc42ea2 bc4990b4 0 0 0 0 0 3c1ed8c3", "e08a2d649e916ee283c2752995c9a9b7cc117eb1dc4150a44a63e94a296c4cbf"),
];

#[test]
fn golden_tensors() {
    let mut got = Vec::new();
    for &(scheme, dims, dtype) in CASES {
        let t = tensor(7, "golden", scheme, dims, Layout::Torch);
        let b = bytes(&t, dtype, Par::Rayon);
        let head: Vec<String> = b[..8 * dtype.size()]
            .chunks(dtype.size())
            .map(|c| {
                let mut v = [0u8; 8];
                v[..c.len()].copy_from_slice(c);
                format!("{:x}", u64::from_le_bytes(v))
            })
            .collect();
        got.push((head.join(" "), sha256_hex(&b)));
    }
    if GOLDEN.is_empty() {
        for (h, s) in &got {
            println!("    (\"{h}\", \"{s}\"),");
        }
        panic!("no golden values yet");
    }
    for (i, ((h, s), (gh, gs))) in got.iter().zip(GOLDEN).enumerate() {
        assert_eq!((h.as_str(), s.as_str()), (*gh, *gs), "case {i}: {:?}", CASES[i]);
    }
    assert_eq!(got.len(), GOLDEN.len());
}
