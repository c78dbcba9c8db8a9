"""Weight initialisation schemes, shared by every cell and the output layer.

A scheme draws one weight matrix given its *role*: ``"input"`` (``U``,
``U_*``: shape (H, D)), ``"recurrent"`` (``W``, ``W_*``: (H, H)) or
``"output"`` (``V``: (K, H)). Biases are not drawn here: every bias starts
at zero except where a cell's module says otherwise (the LSTM's forget-gate
bias).

* ``"small"``: every weight N(0, 0.01²), as min-char-rnn.
* ``"scaled"``: every weight uniform in ±1/√H, as ``torch.nn.RNN``, ``LSTM``
  and ``GRU`` (and ``Linear`` with H inputs, for V).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SCHEMES", "ROLES", "init_weight"]

#: The initialisation schemes, by name, with a one-line description.
SCHEMES = {
    "scaled": "uniform in +-1/sqrt(H) for every weight, as PyTorch",
    "small": "N(0, 0.01^2) for every weight, as min-char-rnn",
}

#: What a weight matrix does: read the input, carry the state, or produce logits.
ROLES = ("input", "recurrent", "output")


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
        A key of :data:`SCHEMES`.
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
    if scheme == "small":
        w = rng.standard_normal(shape) * 0.01
    else:
        w = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), shape)
    return w.astype(dtype)
