"""Independent cross-check of varinit's theory numbers with scipy (adaptive
quadrature, different algorithm): Gaussian expectations, numeric gains,
mean-field fixed points and critical points.

    python tools/theory/crosscheck.py      # needs numpy and scipy

Prints the values pinned in crates/varinit/tests/theory.rs.
"""
import numpy as np
from scipy import integrate, optimize, special

LAM, ALPHA = 1.0507009873554805, 1.6732632423543772


def gelu(x):
    return x * 0.5 * special.erfc(-x / np.sqrt(2))


def sp(x):
    return np.logaddexp(0.0, x)


ACT = {
    "linear": (lambda x: x, lambda x: 1.0, []),
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0, [0.0]),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, []),
    "sigmoid": (special.expit, lambda x: special.expit(x) * (1 - special.expit(x)), []),
    "gelu": (gelu, lambda x: 0.5 * special.erfc(-x / np.sqrt(2)) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi), []),
    "silu": (lambda x: x * special.expit(x), lambda x: special.expit(x) * (1 + x * (1 - special.expit(x))), []),
    "elu": (lambda x: x if x > 0 else np.expm1(x), lambda x: 1.0 if x > 0 else np.exp(x), [0.0]),
    "selu": (lambda x: LAM * (x if x > 0 else ALPHA * np.expm1(x)), lambda x: LAM * (1.0 if x > 0 else ALPHA * np.exp(x)), [0.0]),
    "softplus": (sp, special.expit, []),
    "mish": (lambda x: x * np.tanh(sp(x)), lambda x: np.tanh(sp(x)) + x * (1 - np.tanh(sp(x)) ** 2) * special.expit(x), []),
    "hard_tanh": (lambda x: min(max(x, -1.0), 1.0), lambda x: 1.0 if abs(x) < 1 else 0.0, [-1.0, 1.0]),
}


def E(f, q, kinks):
    s = np.sqrt(q)
    pts = sorted([k / s for k in kinks if abs(k / s) < 30])
    edges = [-30.0] + pts + [30.0]
    tot = 0.0
    for a, b in zip(edges[:-1], edges[1:]):
        v, _ = integrate.quad(lambda z: f(s * z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi), a, b, epsabs=1e-15, epsrel=1e-13, limit=400)
        tot += v
    return tot


def qstar(name, sw2, sb2, q0=1.0):
    f, _, k = ACT[name]
    L = lambda q: sw2 * E(lambda x: f(x) ** 2, q, k) + sb2
    q = q0
    for _ in range(2000):
        n = L(q)
        if abs(n - q) < 1e-15 * n:
            return n
        q = n
    return optimize.brentq(lambda q: L(q) - q, q * 0.5, q * 2, xtol=1e-15, rtol=1e-14)


def chi1(name, sw2, q):
    _, d, k = ACT[name]
    return sw2 * E(lambda x: d(x) ** 2, q, k)


def critical(name, sb2, lo=0.5, hi=20):
    return optimize.brentq(lambda w: chi1(name, w, qstar(name, w, sb2)) - 1, lo, hi, xtol=1e-14, rtol=1e-13)


if __name__ == "__main__":
    print("forward / backward gains at q = 1")
    for n in ACT:
        f, d, k = ACT[n]
        print(f"  {n:10s} E[phi^2] = {E(lambda x: f(x) ** 2, 1.0, k):.15f}  E[phi'^2] = {E(lambda x: d(x) ** 2, 1.0, k):.15f}")
    print("tanh edge of chaos")
    for sb2 in [0.01, 0.05, 0.1, 0.3, 1.0, 2.0]:
        w = critical("tanh", sb2)
        print(f"  sb2 {sb2}: sw2 {w:.13f} q* {qstar('tanh', w, sb2):.13f}")
    for n, sw2, sb2 in [("tanh", 2.5, 0.05), ("selu", 1.0, 0.0), ("elu", 1.5, 0.1), ("gelu", 1.5, 0.1), ("sigmoid", 4.0, 0.0)]:
        q = qstar(n, sw2, sb2)
        print(f"  {n} sw2={sw2} sb2={sb2}: q* {q:.13f} chi1 {chi1(n, sw2, q):.13f}")
    # ELU with a small bias: chaotic in a window of sigma_w^2 (bracket the first crossing)
    w = optimize.brentq(lambda w: chi1("elu", w, qstar("elu", w, 0.05)) - 1, 1.2, 1.9, xtol=1e-14, rtol=1e-13)
    print(f"  elu critical sb2=0.05: sw2 {w!r} q* {qstar('elu', w, 0.05)!r}")


def E2(f, q, c, n=160):
    """E[f(u1, u2)] for smooth f by a tensor Gauss-Hermite rule (numpy's)."""
    x, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    W = np.outer(w, w)
    s = np.sqrt(q)
    u1 = s * z1
    u2 = s * (c * z1 + np.sqrt(1 - c * c) * z2)
    return float((W * f(u1, u2)).sum())


def extra():
    print("smooth activations at other q (adaptive quad)")
    for n in ["tanh", "sigmoid", "gelu", "silu", "softplus", "mish"]:
        f, d, k = ACT[n]
        for q in [0.25, 9.0]:
            print(f"  {n:10s} q={q}: E[phi^2] = {E(lambda x: f(x) ** 2, q, k):.15f}  E[phi'^2] = {E(lambda x: d(x) ** 2, q, k):.15f}")
    sw2, sb2 = 2.5, 0.05
    q = qstar("tanh", sw2, sb2)
    cmap = lambda c: (sw2 * E2(lambda a, b: np.tanh(a) * np.tanh(b), q, c) + sb2) / q
    for c in [0.0, 0.5, 0.9]:
        print(f"  tanh (2.5, 0.05) c-map({c}) = {cmap(c):.13f}")
    cs = optimize.brentq(lambda c: cmap(c) - c, 0.0, 0.99, xtol=1e-15)
    chic = sw2 * E2(lambda a, b: (1 - np.tanh(a) ** 2) * (1 - np.tanh(b) ** 2), q, cs)
    print(f"  tanh (2.5, 0.05): c* = {cs:.13f} chi_c = {chic:.13f} xi_c = {-1 / np.log(chic):.10f}")


if __name__ == "__main__":
    extra()
