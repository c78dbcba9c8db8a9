"""Weight initialisation schemes, shared by every cell and the output layer.

A scheme draws one weight matrix given its *role*: ``"input"`` (``U``,
``U_*``: shape (H, D)), ``"recurrent"`` (``W``, ``W_*``: (H, H)) or
``"output"`` (``V``: (K, H)). Biases are not drawn here: every bias starts
at zero except where a cell's module says otherwise (the LSTM's forget-gate
bias).

* ``"small"``: every weight N(0, 0.01²), as min-char-rnn.
* ``"scaled"``: every weight uniform in ±1/√H, as ``torch.nn.RNN``, ``LSTM``
  and ``GRU`` (and ``Linear`` with H inputs, for V).
* ``"orthogonal"``: the recurrent matrix is a random orthogonal matrix (Saxe,
  McClelland & Ganguli 2014), drawn uniformly (Haar measure) from the QR
  decomposition of a Gaussian matrix; every singular value and every
  eigenvalue modulus is 1. Input and output weights as ``"scaled"``.
* ``"identity"``: the recurrent matrix is the identity (Le, Jaitly & Hinton
  2015, who pair it with a ReLU cell); input and output weights as
  ``"scaled"``.

:func:`scale_to_radius` rescales a square matrix to a given spectral radius
ρ(W) = max |λ|; ``rnn.init_params(..., spectral_radius=r)`` applies it to
every recurrent matrix after any scheme. The chapter "Vanishing and exploding
gradients" explains why ρ(W) and the largest singular value ‖W‖₂ matter.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_number

__all__ = ["SCHEMES", "ROLES", "init_weight", "orthogonal", "spectral_radius", "scale_to_radius"]

#: The initialisation schemes, by name, with a one-line description.
SCHEMES = {
    "scaled": "uniform in +-1/sqrt(H) for every weight, as PyTorch",
    "small": "N(0, 0.01^2) for every weight, as min-char-rnn",
    "orthogonal": "random orthogonal recurrent matrices, other weights as 'scaled'",
    "identity": "identity recurrent matrices (Le et al. 2015), other weights as 'scaled'",
}

#: What a weight matrix does: read the input, carry the state, or produce logits.
ROLES = ("input", "recurrent", "output")


def orthogonal(H: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal (H, H) matrix, uniform over the orthogonal group.

    Q from the QR decomposition of a standard Gaussian matrix, with the signs
    of its columns fixed by the signs of R's diagonal (without that fix, Q is
    orthogonal but not uniformly distributed).

    Returns
    -------
    Q : ndarray of shape (H, H), float64, with ``Q.T @ Q == I`` to rounding
    """
    Q, R = np.linalg.qr(rng.standard_normal((H, H)))
    return Q * np.where(np.diag(R) < 0, -1.0, 1.0)


def init_weight(role: str, shape: tuple, rng: np.random.Generator, scheme: str = "scaled",
                dtype=np.float64) -> np.ndarray:
    """Draw one weight matrix.

    Parameters
    ----------
    role : {"input", "recurrent", "output"}
        ``U`` (H, D), ``W`` (H, H) or ``V`` (K, H).
    shape : tuple of int
        The matrix shape; the fan-in H of ``"scaled"`` is its last axis for
        ``V`` and its first axis otherwise (the layer's width).
    rng : numpy.random.Generator
    scheme : str, default "scaled"
        A key of :data:`SCHEMES`. ``"orthogonal"`` and ``"identity"`` need a
        square recurrent shape.
    dtype : numpy dtype, default float64

    Returns
    -------
    ndarray of the given shape and dtype
    """
    if role not in ROLES:
        raise ValueError(f"init_weight: role must be one of {list(ROLES)}, got {role!r}")
    if scheme not in SCHEMES:
        raise ValueError(f"init_weight: init must be one of {sorted(SCHEMES)}, got {scheme!r}")
    H = shape[1] if role == "output" else shape[0]
    if role == "recurrent" and scheme in ("orthogonal", "identity"):
        if len(shape) != 2 or shape[0] != shape[1]:
            raise ValueError(f"init_weight: a recurrent matrix must be square (H, H) for init "
                             f"{scheme!r}, got shape {tuple(shape)}")
        w = orthogonal(H, rng) if scheme == "orthogonal" else np.eye(H)
    elif scheme == "small":
        w = rng.standard_normal(shape) * 0.01
    else:
        w = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), shape)
    return w.astype(dtype)


def spectral_radius(W) -> float:
    """ρ(W) = max |λ| over the eigenvalues λ of a square matrix W (H, H)."""
    W = as_float_array("spectral_radius", "W", W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"spectral_radius: W must be a square matrix (H, H), got shape {W.shape}")
    return float(np.abs(np.linalg.eigvals(W.astype(np.float64))).max())


def scale_to_radius(W, radius: float) -> np.ndarray:
    """``W`` multiplied by the one positive number that makes its spectral radius ``radius``.

    Scaling a matrix scales every eigenvalue by the same factor, so the
    result has ρ = ``radius`` (to rounding) and the same eigenvectors.

    Parameters
    ----------
    W : ndarray of shape (H, H)
    radius : float, >= 0

    Returns
    -------
    ndarray of shape (H, H), the dtype of ``W`` (a new array)

    Raises
    ------
    ValueError
        If ``radius`` is negative or not finite, or W has ρ(W) = 0 (a
        nilpotent matrix, e.g. zero, cannot be scaled to a positive radius).
    """
    radius = check_number("scale_to_radius", "radius", radius, low=0.0)
    W = as_float_array("scale_to_radius", "W", W)
    rho = spectral_radius(W)
    if rho == 0.0:
        if radius == 0.0:
            return np.zeros_like(W)
        raise ValueError(f"scale_to_radius: W has spectral radius 0 (all eigenvalues are zero), so "
                         f"no scaling gives radius {radius:g}; draw W with another scheme")
    return (W * (radius / rho)).astype(W.dtype)
