"""Type stubs of the native extension ``varinit._native`` (Rust, pyo3, stable ABI)."""

from typing import Sequence

class DistributionError(ValueError):
    """A distribution parameter the sampler refuses (empty uniform range,
    negative std, a value the dtype cannot hold)."""

class Plan:
    """One tensor's initialization: a scheme resolved for a shape, keyed by (seed, name)."""

    def __init__(
        self,
        scheme: str,
        shape: Sequence[int],
        seed: int,
        name: str,
        layout: str = "torch",
        transposed: bool = False,
    ) -> None: ...
    @property
    def scheme(self) -> str:
        """The scheme in canonical form."""
    @property
    def distribution(self) -> str:
        """The resolved distribution in words, e.g. ``N(0, 0.0625^2)``."""
    @property
    def resolved_json(self) -> str:
        """The resolved distribution as JSON."""
    @property
    def moments(self) -> tuple[float, float]:
        """Exact (mean, std) over the tensor."""
    @property
    def elementwise(self) -> bool:
        """False for whole-matrix schemes (orthogonal, delta_orthogonal, sparse)."""
    def cdf(self, x: float) -> float | None:
        """CDF of one element where elements are identically distributed, else None."""
    def check_dtype(self, dtype: str) -> None:
        """Raise DistributionError if ``dtype`` cannot hold the parameters."""
    def fill(
        self,
        dtype: str,
        ptr: int,
        span: int,
        base: int,
        offsets: Sequence[int],
        local_shape: Sequence[int],
        strides: Sequence[int] | None = None,
    ) -> None:
        """Write the region ``offsets .. offsets + local_shape`` into memory at
        ``ptr`` (``span`` elements of ``dtype``; element ``base + sum(i*strides)``,
        row-major when ``strides`` is None). Private: the address must be valid."""

class RuleSet:
    """Ordered (glob, scheme) rules, compiled as varinit's spec files compile theirs."""

    def __init__(self, rules: Sequence[tuple[str, str]]) -> None: ...
    def first_match(self, name: str) -> int | None: ...

def fans(shape: Sequence[int], layout: str = "torch", transposed: bool = False) -> tuple[int, int, int]: ...
def calculate_gain(nonlinearity: str, number: float | None = None, text: str | None = None) -> float: ...
def parse_scheme(scheme: str) -> str: ...
def load_spec(path: str) -> tuple[list[tuple[str, str]], dict[str, str], int | None]: ...
def versions() -> tuple[int, str]: ...
def write_checkpoint(
    out_dir: str,
    tensors: Sequence[tuple[str, Sequence[int], str, str | None]],
    *,
    seed: int,
    dtype: str,
    max_shard_bytes: int,
    config: bytes | None = None,
    source: str = "python",
    patches: Sequence[tuple[str, int, int, float]] = (),
    force: bool = False,
    sync: bool = True,
    worker: tuple[int, int] | None = None,
) -> tuple[list[str], int]:
    """varinit-io's streaming checkpoint writer (``varinit.hf``): the same
    plan and bytes as ``varinit init`` for the same tensors, schemes and seed;
    ``patches`` are constants on element ranges applied to the stream."""

class Style:
    """An init style (varinit::style): ordered rules whose globs capture
    path segments and whose schemes are expressions over the captures and
    the architecture's variables."""

    def __init__(self, name_or_path: str) -> None: ...
    @staticmethod
    def parse(text: str, file: str = "<string>") -> Style: ...
    @property
    def name(self) -> str: ...
    @property
    def about(self) -> str: ...
    @property
    def sources(self) -> list[str]: ...
    @property
    def file(self) -> str: ...
    @property
    def variables(self) -> list[str]: ...
    @property
    def rules(self) -> list[tuple[str, str, int]]: ...
    def apply(
        self, vars: dict[str, float], tensors: Sequence[tuple[str, str | None]]
    ) -> list[tuple[str | None, int | None, int | None, bool]]: ...

def styles() -> list[tuple[str, str]]: ...
def vars_from_hf_config(config_json: str) -> list[tuple[str, float]]: ...
def style_variables() -> list[tuple[str, str]]: ...
