"""Input validation shared by every public function.

Each check raises ``ValueError`` (or ``TypeError`` for non-arrays) with a
message that names the function, the argument, the shape that was expected
and the shape that was received, so a mistake is fixed in one reading.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["as_float_array", "check_shape", "check_ids", "check_gated_params"]


def as_float_array(func: str, name: str, a) -> np.ndarray:
    """Return ``a`` as a floating-point ndarray, or raise a clear error."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise TypeError(f"{func}: {name} must be array-like, got {type(a).__name__}") from exc
    if not np.issubdtype(a.dtype, np.floating):
        raise ValueError(
            f"{func}: {name} must be a floating-point array (float32 or float64), "
            f"got dtype {a.dtype}; convert it with {name}.astype(np.float64)"
        )
    return a


def check_shape(func: str, name: str, a: np.ndarray, expected: tuple, labels: str) -> None:
    """Check ``a.shape`` against ``expected``; ``None`` entries match any size.

    ``labels`` spells the expected shape in symbols, e.g. ``"(B, H)"``.
    """
    shape = tuple(a.shape)
    ok = len(shape) == len(expected) and all(
        e is None or e == s for e, s in zip(expected, shape)
    )
    if not ok:
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ")"
        if len(expected) == 1:
            want = want[:-1] + ",)"
        raise ValueError(
            f"{func}: {name} must have shape {labels} = {want}, got {shape}"
        )


def check_ids(func: str, name: str, y, K: int) -> np.ndarray:
    """Return integer class ids ``y`` as an ndarray after checking range and dtype."""
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"{func}: {name} must hold integer class ids, got dtype {y.dtype}; "
            f"convert it with {name}.astype(np.int64)"
        )
    if y.size and (y.min() < 0 or y.max() >= K):
        raise ValueError(
            f"{func}: {name} holds ids in [{y.min()}, {y.max()}] but must lie in "
            f"[0, {K - 1}] for K = {K} classes"
        )
    return y


def check_gated_params(func: str, params, names: tuple, cell: str):
    """Validate the parameter dict of a gated cell (LSTM, GRU).

    ``names`` lists the required keys. The shape of each follows from its
    prefix: ``U_*`` is (H, D), ``W_*`` is (H, H), and biases (``b_*``,
    ``bh_*``) are (H,); H and D are read off the first key, which must be a
    ``U_*`` matrix.

    Returns
    -------
    p : dict of str to ndarray
        The parameters as floating-point arrays.
    H, D : int
    """
    if not isinstance(params, Mapping):
        raise ValueError(f"{func}: params must be a dict with keys {list(names)}, "
                         f"got {type(params).__name__}")
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"{func}: params is missing {missing}; {cell} needs the keys {list(names)}")
    extra = sorted(set(params) - set(names))
    if extra:
        raise ValueError(f"{func}: params has unexpected keys {extra}; {cell} needs exactly "
                         f"the keys {list(names)}")
    p = {k: as_float_array(func, f"params['{k}']", params[k]) for k in names}
    first = names[0]
    if p[first].ndim != 2:
        raise ValueError(f"{func}: params['{first}'] must have shape (H, D), got {p[first].shape}")
    H, D = p[first].shape
    for k in names:
        if k.startswith("U_"):
            check_shape(func, f"params['{k}']", p[k], (H, D), "(H, D)")
        elif k.startswith("W_"):
            check_shape(func, f"params['{k}']", p[k], (H, H), "(H, H)")
        else:
            check_shape(func, f"params['{k}']", p[k], (H,), "(H,)")
    return p, H, D
