"""The character-level language model: parameters, initialisation, and one
function that runs forward, loss and backward for a batch of token ids.

The model reads token ids, turns each into a one-hot vector x(t) of size K
(so D = K), runs one or more recurrent layers, and predicts the next token
with the output layer o(t) = c + V h(t) and a softmax.

Parameters live in a flat ``dict`` of arrays (easy to save as ``.npz``):

* layer 0 of the vanilla cell (``cell="rnn"``): ``"U"`` (H, K), ``"W"`` (H, H),
  ``"b"`` (H,)
* layer 0 of an LSTM (``cell="lstm"``, :mod:`rnn.lstm`): ``"U_*"`` (H, K),
  ``"W_*"`` (H, H) and ``"b_*"`` (H,) for each of the gates ``*`` = i, f, o, g
  (the keys :data:`rnn.lstm.LSTM_PARAM_NAMES`)
* layer 0 of a GRU (``cell="gru"``, :mod:`rnn.gru`): ``"U_*"`` (H, K),
  ``"W_*"`` (H, H) and ``"b_*"`` (H,) for ``*`` = r, z, n, plus the
  candidate's hidden-side bias ``"bh_n"`` (H,) (the keys
  :data:`rnn.gru.GRU_PARAM_NAMES`)
* deeper layers ``l >= 1`` carry a suffix and read the H outputs of the layer
  below: ``"U.1"`` (H, H), ``"W.1"``, ``"b.1"``, ... or ``"U_f.1"``, ...
* the output layer: ``"V"`` (K, H), ``"c"`` (K,)

The recurrent state of the whole model is one array ``state`` of shape
(L, S, B, H): L layers, S state vectors per layer (1 for "rnn", 2 for a cell
that also carries a cell state), B sequences, H units.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ._checks import check_ids, check_shape
from .losses import output_backward, output_forward, softmax_cross_entropy
from .gru import GRU_PARAM_NAMES, gru_backward, gru_forward
from .lstm import LSTM_PARAM_NAMES, lstm_backward, lstm_forward
from .rnn_cell import rnn_backward, rnn_forward

__all__ = ["CELLS", "Cell", "one_hot", "embed", "param_key", "init_params", "count_params",
           "hidden_for_budget", "model_info", "init_state", "forward", "loss_and_grads"]


class Cell(NamedTuple):
    """How the model drives one kind of recurrent layer.

    Attributes
    ----------
    names : tuple of str
        Parameter names of one layer, e.g. ``("U", "W", "b")``.
    n_states : int
        State vectors per layer: 1 (h) or 2 (h and a cell state s).
    init : callable
        ``init(D, H, rng, scheme, dtype) -> dict`` of this layer's parameters.
    forward : callable
        ``forward(x, state0, p) -> (h, cache, state_last)`` with x (T, B, D),
        state0 and state_last (S, B, H), h (T, B, H), p the layer's dict.
    backward : callable
        ``backward(dh, cache) -> (dx, grads)`` with grads keyed like p.
    """

    names: tuple
    n_states: int
    init: Callable
    forward: Callable
    backward: Callable


def _rnn_init(D, H, rng, scheme, dtype):
    if scheme == "small":  # min-char-rnn: N(0, 0.01^2) weights, zero bias
        U = rng.standard_normal((H, D)) * 0.01
        W = rng.standard_normal((H, H)) * 0.01
    else:  # "scaled": U(-1/sqrt(H), 1/sqrt(H)) as torch.nn.RNN
        k = 1.0 / np.sqrt(H)
        U = rng.uniform(-k, k, (H, D))
        W = rng.uniform(-k, k, (H, H))
    return {"U": U.astype(dtype), "W": W.astype(dtype), "b": np.zeros(H, dtype)}


def _rnn_layer_forward(x, state0, p):
    h, cache = rnn_forward(x, state0[0], p["U"], p["W"], p["b"])
    return h, cache, h[-1][None]


def _rnn_layer_backward(dh, cache):
    dx, _dh0, dU, dW, db = rnn_backward(dh, cache)
    return dx, {"U": dU, "W": dW, "b": db}


def _gated_weights(names, D, H, rng, scheme, dtype):
    """Weights of every ``U_*`` (H, D) and ``W_*`` (H, H) in ``names``, zero biases."""
    p = {}
    for name in names:
        shape = (H, D) if name.startswith("U_") else (H, H) if name.startswith("W_") else None
        if shape is None:
            p[name] = np.zeros(H, dtype)
        elif scheme == "small":
            p[name] = (rng.standard_normal(shape) * 0.01).astype(dtype)
        else:  # "scaled": U(-1/sqrt(H), 1/sqrt(H)) as torch.nn.LSTM / torch.nn.GRU
            p[name] = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), shape).astype(dtype)
    return p


def _lstm_init(D, H, rng, scheme, dtype):
    p = _gated_weights(LSTM_PARAM_NAMES, D, H, rng, scheme, dtype)
    # Forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015): f = σ(1) ≈ 0.73,
    # so the cell starts by remembering instead of halving s at every step.
    p["b_f"][:] = 1.0
    return p


def _lstm_layer_forward(x, state0, p):
    h, cache = lstm_forward(x, state0[0], state0[1], p)  # state0[0] = h, state0[1] = s
    return h, cache, np.stack([h[-1], cache.s[-1]])


def _lstm_layer_backward(dh, cache):
    dx, _dh0, _ds0, grads = lstm_backward(dh, cache)
    return dx, grads


def _gru_init(D, H, rng, scheme, dtype):
    return _gated_weights(GRU_PARAM_NAMES, D, H, rng, scheme, dtype)  # all biases 0


def _gru_layer_forward(x, state0, p):
    h, cache = gru_forward(x, state0[0], p)
    return h, cache, h[-1][None]


def _gru_layer_backward(dh, cache):
    dx, _dh0, grads = gru_backward(dh, cache)
    return dx, grads


#: The recurrent cells the model can use, by name.
CELLS: dict = {
    "rnn": Cell(("U", "W", "b"), 1, _rnn_init, _rnn_layer_forward, _rnn_layer_backward),
    "lstm": Cell(LSTM_PARAM_NAMES, 2, _lstm_init, _lstm_layer_forward, _lstm_layer_backward),
    "gru": Cell(GRU_PARAM_NAMES, 1, _gru_init, _gru_layer_forward, _gru_layer_backward),
}


def param_key(name: str, layer: int) -> str:
    """Key of parameter ``name`` of ``layer`` in the flat dict: ``"U"``, ``"U.1"``, ..."""
    return name if layer == 0 else f"{name}.{layer}"


def one_hot(ids, K: int, dtype=np.float64) -> np.ndarray:
    """One-hot encode token ids.

    Parameters
    ----------
    ids : ndarray of int, shape (T, B) (any shape works)
    K : int
        Vocabulary size.

    Returns
    -------
    x : ndarray of shape (T, B, K)
        ``x[t, i, ids[t, i]] = 1``, zeros elsewhere.
    """
    ids = check_ids("one_hot", "ids", ids, K)
    return np.eye(K, dtype=dtype)[ids]


def embed(ids, U) -> np.ndarray:
    """The input term of the first layer, ``x(t) @ U.T``, as a gather.

    For a one-hot x(t) with its 1 at index k, ``U x(t)`` is column k of U,
    so ``one_hot(ids, K) @ U.T == U.T[ids]``, without the K-wide product.

    Parameters
    ----------
    ids : ndarray of int, shape (T, B)
    U : ndarray of shape (H, K)

    Returns
    -------
    xu : ndarray of shape (T, B, H)
    """
    ids = check_ids("embed", "ids", ids, U.shape[1])
    return U.T[ids]


def init_params(K: int, H: int, *, cell: str = "rnn", layers: int = 1, init: str = "small",
                seed=None, dtype=np.float64) -> dict:
    """Create the parameters of a character-level model.

    Parameters
    ----------
    K : int
        Vocabulary size (also the input size D of the first layer).
    H : int
        Hidden units per layer.
    cell : str, default "rnn"
        A key of :data:`CELLS`.
    layers : int, default 1
        Number of stacked recurrent layers.
    init : {"small", "scaled"}, default "small"
        ``"small"``: weights N(0, 0.01^2) as in min-char-rnn; ``"scaled"``:
        uniform in +-1/sqrt(H) as PyTorch does. Biases start at zero, except
        the LSTM forget-gate bias ``b_f``, which starts at 1 (so the forget
        gate starts near σ(1) ≈ 0.73; see :mod:`rnn.lstm`).
    seed : int or numpy.random.Generator, optional
        Makes the initialisation reproducible.
    dtype : numpy dtype, default float64

    Returns
    -------
    params : dict of str to ndarray
        Keys as described in the module docstring.
    """
    if cell not in CELLS:
        raise ValueError(f"init_params: unknown cell {cell!r}; choose one of {sorted(CELLS)}")
    for name, v in (("K", K), ("H", H), ("layers", layers)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"init_params: {name} must be a positive integer, got {v!r}")
    if init not in ("small", "scaled"):
        raise ValueError(f"init_params: init must be 'small' or 'scaled', got {init!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    spec = CELLS[cell]
    params = {}
    for layer in range(layers):
        D = K if layer == 0 else H
        for name, value in spec.init(D, H, rng, init, dtype).items():
            params[param_key(name, layer)] = value
    if init == "small":
        V = rng.standard_normal((K, H)) * 0.01
    else:
        V = rng.uniform(-1 / np.sqrt(H), 1 / np.sqrt(H), (K, H))
    params["V"] = V.astype(dtype)
    params["c"] = np.zeros(K, dtype)
    return params


def count_params(params: dict) -> int:
    """Total number of scalar parameters in a parameter dict."""
    return sum(int(np.size(v)) for v in params.values())


def hidden_for_budget(K: int, budget: int, *, cell: str = "rnn", layers: int = 1) -> tuple:
    """The hidden size H whose model has the parameter count closest to ``budget``.

    Used to compare cells at an equal number of parameters: an LSTM layer of
    width H has four times the recurrent weights of a vanilla one, so equal
    widths would compare models of very different sizes.

    Parameters
    ----------
    K : int
        Vocabulary size.
    budget : int
        Target number of parameters.
    cell : str, default "rnn"
        A key of :data:`CELLS`.
    layers : int, default 1

    Returns
    -------
    H : int
        The width (the smaller one when two are equally close).
    count : int
        The number of parameters of that model.
    """
    def count(H):
        return count_params(init_params(K, H, cell=cell, layers=layers, seed=0))

    H = 1
    while count(H + 1) <= budget:  # the count grows with H
        H += 1
    below, above = count(H), count(H + 1)
    return (H, below) if budget - below <= above - budget else (H + 1, above)


def model_info(params: dict) -> tuple:
    """Read ``(cell, layers, K, H)`` off a parameter dict.

    Raises
    ------
    ValueError
        If the dict does not hold a complete, consistent model.
    """
    if not isinstance(params, dict) or "V" not in params or "c" not in params:
        raise ValueError("params must be a dict holding at least 'V' (K, H) and 'c' (K,); "
                         "create one with rnn.init_params(K, H)")
    if np.ndim(params["V"]) != 2:
        raise ValueError(f"model_info: params['V'] must have shape (K, H), got {np.shape(params['V'])}")
    K, H = np.shape(params["V"])
    for cell, spec in CELLS.items():
        if all(n in params for n in spec.names):
            layers = 1
            while all(param_key(n, layers) in params for n in spec.names):
                layers += 1
            expected = {param_key(n, l) for l in range(layers) for n in spec.names} | {"V", "c"}
            extra = set(params) - expected
            if extra:
                raise ValueError(f"params has unexpected keys {sorted(extra)} for a {layers}-layer "
                                 f"{cell!r} model (expected {sorted(expected)})")
            return cell, layers, K, H
    raise ValueError(f"params matches no known cell: keys {sorted(params)}; "
                     f"each cell needs its names ({ {c: s.names for c, s in CELLS.items()} })")


def init_state(params: dict, B: int) -> np.ndarray:
    """Zero recurrent state for ``B`` sequences: ndarray of shape (L, S, B, H)."""
    cell, layers, K, H = model_info(params)
    return np.zeros((layers, CELLS[cell].n_states, B, H), dtype=params["V"].dtype)


def _layer_params(params, cell, layer):
    return {n: params[param_key(n, layer)] for n in CELLS[cell].names}


def _run(params, inputs, state0):
    cell, layers, K, H = model_info(params)
    inputs = check_ids("forward", "inputs", inputs, K)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise ValueError(f"inputs must have shape (T, B) with T >= 1, got {inputs.shape}")
    T, B = inputs.shape
    if state0 is None:
        state0 = init_state(params, B)
    check_shape("forward", "state0", state0, (layers, CELLS[cell].n_states, B, H), "(L, S, B, H)")
    spec = CELLS[cell]
    x = one_hot(inputs, K, dtype=params["V"].dtype)  # (T, B, K): D = K for the first layer
    caches, last = [], []
    for layer in range(layers):
        x, cache, s_last = spec.forward(x, state0[layer], _layer_params(params, cell, layer))
        caches.append(cache)
        last.append(s_last)
    o = output_forward(x, params["V"], params["c"])  # (T, B, K)
    return o, x, caches, np.stack(last)


def forward(params: dict, inputs, state0=None):
    """Logits for every position of a batch of token ids.

    Parameters
    ----------
    params : dict
        From :func:`init_params`.
    inputs : ndarray of int, shape (T, B)
        Token ids.
    state0 : ndarray of shape (L, S, B, H), optional
        Initial recurrent state; zeros if omitted.

    Returns
    -------
    o : ndarray of shape (T, B, K)
        Logits; softmax(o[t]) predicts the token after ``inputs[t]``.
    state : ndarray of shape (L, S, B, H)
        Recurrent state after the last step (feed it to the next call).
    """
    o, _, _, state = _run(params, inputs, state0)
    return o, state


def loss_and_grads(params: dict, inputs, targets, state0=None, *, reduction: str = "sum"):
    """Forward pass, loss and backpropagation through time for the whole model.

    Parameters
    ----------
    params : dict
        From :func:`init_params`.
    inputs : ndarray of int, shape (T, B)
        Token ids read at each step.
    targets : ndarray of int, shape (T, B)
        The ids to predict (for language modelling, ``inputs`` shifted by one).
    state0 : ndarray of shape (L, S, B, H), optional
        Initial recurrent state; zeros if omitted. It is treated as a constant
        (truncated BPTT): no gradient flows into the previous window.
    reduction : {"sum", "mean"}, default "sum"
        ``"sum"``: L summed over time and batch (the book's L); ``"mean"``:
        per position, in nats per character.

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
        dL/dparam for every key of ``params`` (``grads["U"]`` is dU, ...).
    state : ndarray of shape (L, S, B, H)
        Recurrent state after the last step.
    """
    targets = np.asarray(targets)
    if targets.shape != np.shape(inputs):
        raise ValueError(f"loss_and_grads: targets must have the shape of inputs (T, B) = "
                         f"{np.shape(inputs)}, got {targets.shape}")
    cell, layers, K, H = model_info(params)
    targets = check_ids("loss_and_grads", "targets", targets, K)  # name the argument the caller passed
    spec = CELLS[cell]
    o, h, caches, state = _run(params, inputs, state0)
    loss, do = softmax_cross_entropy(o, targets, reduction=reduction)
    grads = {}
    dh, grads["V"], grads["c"] = output_backward(do, h, params["V"])
    for layer in reversed(range(layers)):
        dh, g = spec.backward(dh, caches[layer])  # dx of this layer is dh of the one below
        for name, value in g.items():
            grads[param_key(name, layer)] = value
    return loss, {k: grads[k] for k in params}, state
