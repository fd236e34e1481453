//! The library never panics on user input: arbitrary scheme strings,
//! shapes and parameters give values or typed errors.

use proptest::prelude::*;
use varinit::{Activation, Fans, Init, Layout, Par, ResolveOptions, Shape, TensorInit, calculate_gain};

const NAMES: &[&str] = &[
    "uniform",
    "normal",
    "trunc_normal",
    "constant",
    "zeros",
    "ones",
    "eye",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_normal",
    "glorot_uniform",
    "he_normal",
    "variance_scaling",
    "orthogonal",
    "delta_orthogonal",
    "sparse",
    "torch_default",
    "torch_default_bias",
    "random_normal",
    "truncated_normal",
];

const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "0.5",
    "2",
    "1e308",
    "-1e308",
    "inf",
    "-inf",
    "nan",
    "1/0",
    "sqrt(-1)",
    "fan_in",
    "fan_out",
    "fan_avg",
    "relu",
    "leaky_relu",
    "tanh",
    "gelu",
    "'uniform'",
    "truncated_normal",
    "untruncated_normal",
    "normal",
    "3",
    "1e-320",
    "9007199254740993",
    "x",
    "(",
    ")",
    "",
    "2**2000",
    "ln(0)",
];

const KEYS: &[&str] = &[
    "a",
    "b",
    "mean",
    "std",
    "gain",
    "mode",
    "nonlinearity",
    "scale",
    "distribution",
    "groups",
    "sparsity",
    "fan_in",
    "val",
    "zz",
];

fn arb_scheme() -> impl Strategy<Value = String> {
    (
        prop::sample::select(NAMES),
        prop::collection::vec((prop::option::of(prop::sample::select(KEYS)), prop::sample::select(VALUES)), 0..4),
        any::<bool>(),
    )
        .prop_map(|(name, args, parens)| {
            if !parens && args.is_empty() {
                return name.to_string();
            }
            let inner: Vec<String> =
                args.into_iter().map(|(k, v)| k.map_or_else(|| v.to_string(), |k| format!("{k}={v}"))).collect();
            format!("{name}({})", inner.join(", "))
        })
}

fn arb_shape() -> impl Strategy<Value = Vec<u64>> {
    prop::collection::vec(prop_oneof![0u64..6, 1u64..40, Just(u64::MAX), Just(1 << 32), Just(3)], 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed), .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(s in ".{0,40}") {
        let _ = s.parse::<Init>();
        let _ = s.parse::<Shape>();
        let _ = s.parse::<Activation>();
        let _ = calculate_gain(&s, None);
        let _ = varinit::scheme::parse_number(&s);
    }

    #[test]
    fn schemes_and_shapes_never_panic(scheme in arb_scheme(), dims in arb_shape(), layout_idx in 0usize..3, transposed: bool) {
        let layout = Layout::ALL[layout_idx];
        let Ok(shape) = Shape::new(dims) else { return Ok(()) };
        let _ = Fans::of(&shape, layout, transposed);
        let Ok(init) = scheme.parse::<Init>() else { return Ok(()) };
        // a valid scheme's canonical string parses back to the same scheme
        prop_assert_eq!(init.to_string().parse::<Init>().unwrap(), init.clone());
        let opts = ResolveOptions { layout, transposed };
        if let Ok(r) = init.resolve(&shape, opts) {
            let _ = r.to_string();
            let _ = r.expected_moments(&shape);
            // draw a few elements when the tensor is small enough to hold
            if shape.numel() <= 4096 {
                let t = TensorInit::new(0, "p", &init, shape.clone(), opts).unwrap();
                // parameters a dtype cannot hold are an error, never inf or NaN values
                let Ok(v) = t.to_vec::<f32>(Par::Seq) else {
                    prop_assert!(t.check_dtype(varinit::DType::F32).is_err());
                    return Ok(());
                };
                if let Some((lo, hi)) = r.support() {
                    let slack = 1e-6 * lo.abs().max(hi.abs()).max(1.0);
                    prop_assert!(v.iter().all(|&x| (x as f64) >= lo - slack && (x as f64) <= hi + slack));
                }
                prop_assert!(v.iter().all(|x| x.is_finite()));
            }
        }
    }
}
