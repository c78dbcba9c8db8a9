"""Input validation shared by every public function.

Each check raises ``ValueError`` (or ``TypeError`` for non-arrays) with a
message that names the function, the argument, the shape that was expected
and the shape that was received, so a mistake is fixed in one reading.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_float_array", "check_shape", "check_ids"]


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
