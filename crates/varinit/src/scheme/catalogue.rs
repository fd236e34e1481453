//! The catalogue: every scheme name, alias and one-line description.

/// Every canonical scheme name with a one-line description.
pub const SCHEMES: &[(&str, &str)] = &[
    ("uniform(a=0, b=1)", "U(a, b) (PyTorch uniform_; Keras random_uniform(minval=-0.05, maxval=0.05))"),
    ("normal(mean=0, std=1)", "N(mean, std^2) (PyTorch normal_; Keras random_normal(mean=0, stddev=0.05))"),
    (
        "trunc_normal(mean=0, std=1, a=-2, b=2)",
        "N(mean, std^2) restricted to [a, b], absolute bounds (PyTorch); Keras truncated_normal(mean, stddev) cuts at +-2 stddev",
    ),
    ("constant(val), zeros, ones", "every element equal"),
    ("eye(gain=1)", "identity matrix, 2-D only (PyTorch eye_; Keras identity)"),
    ("dirac(groups=1)", "identity-preserving conv kernel, 3-5-D (PyTorch dirac_)"),
    ("xavier_uniform(gain=1)", "U(-l, l), l = gain sqrt(6 / (fan_in + fan_out)) (PyTorch)"),
    ("xavier_normal(gain=1)", "N(0, s^2), s = gain sqrt(2 / (fan_in + fan_out)), untruncated (PyTorch)"),
    (
        "kaiming_uniform(a=0, mode=fan_in, nonlinearity=leaky_relu)",
        "U(-l, l), l = gain sqrt(3 / fan), gain from the nonlinearity and a (PyTorch)",
    ),
    (
        "kaiming_normal(a=0, mode=fan_in, nonlinearity=leaky_relu)",
        "N(0, s^2), s = gain / sqrt(fan), untruncated (PyTorch)",
    ),
    ("lecun_uniform, lecun_normal", "variance_scaling(1, fan_in, uniform | truncated_normal) (Keras, JAX)"),
    ("glorot_uniform, glorot_normal", "variance_scaling(1, fan_avg, uniform | truncated_normal) (Keras, JAX)"),
    ("he_uniform, he_normal", "variance_scaling(2, fan_in, uniform | truncated_normal) (Keras, JAX)"),
    (
        "variance_scaling(scale=1, mode=fan_in, distribution=truncated_normal)",
        "var = scale / max(1, fan); truncated_normal (corrected by 0.8796), untruncated_normal or uniform",
    ),
    ("orthogonal(gain=1)", "(semi-)orthogonal matrix times gain, QR of a Gaussian, sign-corrected"),
    (
        "delta_orthogonal(gain=1)",
        "zeros but an orthogonal in x out matrix at the kernel centre, 3-5-D, in <= out (JAX)",
    ),
    ("sparse(sparsity, std=0.01)", "N(0, std^2) with ceil(sparsity rows) zeros per column, 2-D (PyTorch)"),
    ("torch_default", "nn.Linear / nn.ConvNd weight default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))"),
    ("torch_default_bias(fan_in)", "nn.Linear / nn.ConvNd bias default: U(+-1/sqrt(fan_in)), 0 if fan_in is 0"),
    (
        "jax.NAME(...)",
        "JAX's initializers with JAX's semantics: jax.normal(stddev=0.01), jax.truncated_normal(stddev, lower, upper) \
         (bounds in stddev), jax.uniform(scale), jax.kaiming_normal (truncated), \
         jax.variance_scaling(scale, mode, distribution, in_axis, out_axis, batch_axis) ('normal' untruncated)",
    ),
];

/// Canonical names and accepted aliases, for lookup and suggestions.
pub(crate) const NAMES: &[&str] = &[
    "uniform",
    "random_uniform",
    "normal",
    "random_normal",
    "trunc_normal",
    "truncated_normal",
    "constant",
    "zeros",
    "ones",
    "eye",
    "identity",
    "dirac",
    "xavier_uniform",
    "xavier_normal",
    "kaiming_uniform",
    "kaiming_normal",
    "lecun_uniform",
    "lecun_normal",
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "variance_scaling",
    "orthogonal",
    "delta_orthogonal",
    "sparse",
    "torch_default",
    "torch_default_bias",
];
