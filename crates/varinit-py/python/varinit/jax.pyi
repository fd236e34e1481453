"""Type stubs of varinit.jax (see jax.py for the documentation)."""

from os import PathLike
from typing import Any, Callable, Mapping, Sequence

Initializer = Callable[..., Any]
Axes = int | Sequence[int]
Rules = Sequence[tuple[str, str]] | str | PathLike[str]

def initializer(
    scheme: str, *, seed: int = 0, name: str, layout: str = "jax", dtype: Any = None
) -> Initializer: ...
def leaf_name(path: Sequence[Any]) -> str: ...
def torch_name(path: Sequence[Any] | str) -> str: ...
def plan_params(
    params: Any,
    rules: Rules,
    *,
    seed: int | None = None,
    layout: str = "jax",
    names: None | str | Mapping[str, str] | Callable[[tuple[Any, ...]], str] = None,
    unmatched: str = "error",
) -> list[dict[str, Any]]: ...
def init_params(
    params: Any,
    rules: Rules,
    *,
    seed: int | None = None,
    layout: str = "jax",
    sharding: Any = None,
    names: None | str | Mapping[str, str] | Callable[[tuple[Any, ...]], str] = None,
    unmatched: str = "error",
) -> Any: ...
def variance_scaling(
    scale: float,
    mode: str,
    distribution: str,
    in_axis: Axes = -2,
    out_axis: Axes = -1,
    batch_axis: Axes = (),
    dtype: Any = None,
    *,
    seed: int = 0,
    name: str,
) -> Initializer: ...
def lecun_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def lecun_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def glorot_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def glorot_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def he_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def he_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def xavier_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def xavier_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def kaiming_normal(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def kaiming_uniform(
    in_axis: Axes = -2, out_axis: Axes = -1, batch_axis: Axes = (), dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def normal(stddev: float = 0.01, dtype: Any = None, *, seed: int = 0, name: str) -> Initializer: ...
def truncated_normal(
    stddev: float = 0.01, dtype: Any = None, lower: float = -2.0, upper: float = 2.0, *, seed: int = 0, name: str
) -> Initializer: ...
def uniform(scale: float = 0.01, dtype: Any = None, *, seed: int = 0, name: str) -> Initializer: ...
def orthogonal(
    scale: float = 1.0, column_axis: int = -1, dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def delta_orthogonal(
    scale: float = 1.0, column_axis: int = -1, dtype: Any = None, *, seed: int = 0, name: str
) -> Initializer: ...
def constant(value: float, dtype: Any = None) -> Initializer: ...
def zeros(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any: ...
def ones(key: Any, shape: Sequence[int], dtype: Any = None, out_sharding: Any = None) -> Any: ...
