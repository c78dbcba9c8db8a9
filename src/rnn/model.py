"""The character-level language model: parameters, initialisation, and one
function that runs forward, loss and backward for a batch of token ids.

The model reads token ids, each standing for a one-hot vector x(t) of size K
(so D = K), runs one or more recurrent layers, and predicts the next token
with the output layer o(t) = c + V h(t) and a softmax.

Two paths compute the same numbers. By default (``fast=True``) the first
layer reads the ids themselves (its input product ``U x(t)`` becomes a
gather of columns of U, see :func:`embed`), every layer runs its cell's fast
``layer_forward``/``layer_backward``, and the output layer and the loss are
one pass (:func:`rnn.losses.output_cross_entropy`). With ``fast=False`` the
model builds the one-hot vectors and runs the reference functions the
chapters teach (``reference_layer_forward``/``reference_layer_backward`` of
each cell, :func:`rnn.losses.softmax_cross_entropy`, ...); the chapter
"Making it fast" measures the difference, and tests/test_fast.py checks the
two paths equal.

The recurrent layers are driven through the *layer protocol* that every cell
module follows (see :mod:`rnn.rnn_cell`): :data:`CELLS` maps a cell's name to
its module, and nothing below knows which cell it runs. A new cell plugs in
by adding a module with ``PARAM_NAMES``, ``N_STATES``, ``param_shapes``,
``init_layer``, ``layer_forward`` and ``layer_backward`` to :data:`CELLS`.

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
(layers, S, B, H): one row per layer (``layers``, never L: L is the loss), S
state vectors per layer (``N_STATES`` of the cell: 1 for "rnn" and "gru", 2
for "lstm", which also carries a cell state), B sequences, H units.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import gru, lstm, rnn_cell
from ._checks import check_ids, check_int, check_number, check_shape
from ._flat import FlatDict
from .initializers import SCHEMES, init_weight, scale_to_radius
from .losses import output_backward, output_cross_entropy, output_forward, softmax_cross_entropy

__all__ = ["CELLS", "ModelInfo", "one_hot", "embed", "param_key", "param_shapes", "param_count",
           "init_params", "count_params", "hidden_for_budget", "model_layout", "model_info",
           "init_state", "forward", "loss_and_grads", "stepper"]

#: The recurrent cells the model can use: name -> module following the layer protocol.
CELLS: dict = {"rnn": rnn_cell, "lstm": lstm, "gru": gru}


class ModelInfo(NamedTuple):
    """The architecture of a parameter dict, as read by :func:`model_info`."""

    cell: str
    layers: int
    K: int
    H: int


def param_key(name: str, layer: int) -> str:
    """Key of parameter ``name`` of ``layer`` in the flat dict: ``"U"``, ``"U.1"``, ..."""
    return name if layer == 0 else f"{name}.{layer}"


def _check_cell(func: str, cell) -> None:
    if cell not in CELLS:
        raise ValueError(f"{func}: cell must be one of {sorted(CELLS)}, got {cell!r}")


def param_shapes(K: int, H: int, *, cell: str = "rnn", layers: int = 1) -> dict:
    """The shape of every parameter of a model, without allocating any.

    Parameters
    ----------
    K, H : int
        Vocabulary size and hidden units per layer.
    cell : str, default "rnn"
        A key of :data:`CELLS`.
    layers : int, default 1

    Returns
    -------
    shapes : dict of str to tuple
        Keys as in the module docstring, in the order :func:`init_params` creates them.
    """
    func = "param_shapes"
    _check_cell(func, cell)
    K, H = check_int(func, "K", K), check_int(func, "H", H)
    layers = check_int(func, "layers", layers)
    shapes = {}
    for layer in range(layers):
        for name, shape in CELLS[cell].param_shapes(K if layer == 0 else H, H).items():
            shapes[param_key(name, layer)] = shape
    shapes["V"], shapes["c"] = (K, H), (K,)
    return shapes


def param_count(K: int, H: int, *, cell: str = "rnn", layers: int = 1) -> int:
    """The number of scalar parameters of a model, in closed form.

    Equal to ``sum(prod(shape) for shape in param_shapes(...).values())``
    but without a loop over the layers (layer 0 reads K inputs, every
    deeper layer H), so it answers at once even for absurd sizes, before
    anything is allocated.
    """
    func = "param_count"
    _check_cell(func, cell)
    K, H = check_int(func, "K", K), check_int(func, "H", H)
    layers = check_int(func, "layers", layers)

    def layer(D):
        return sum(math.prod(s) for s in CELLS[cell].param_shapes(D, H).values())

    return layer(K) + (layers - 1) * layer(H) + K * H + K


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
                seed=None, dtype=np.float64, spectral_radius=None) -> dict:
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
    init : str, default "small"
        A key of :data:`rnn.initializers.SCHEMES`: ``"small"``, weights
        N(0, 0.01^2) as in min-char-rnn; ``"scaled"``, uniform in
        +-1/sqrt(H) as PyTorch does; ``"orthogonal"`` or ``"identity"``
        recurrent matrices with the other weights as ``"scaled"``. Biases
        start at zero, except where the cell's ``init_layer`` says otherwise
        (the LSTM forget-gate bias ``b_f`` starts at 1; see :mod:`rnn.lstm`).
    seed : int or numpy.random.Generator, optional
        Makes the initialisation reproducible.
    dtype : numpy dtype, default float64
    spectral_radius : float >= 0, optional
        If given, every recurrent matrix (``W``, ``W_*``, every layer) is
        rescaled after drawing so that its spectral radius, the largest
        eigenvalue modulus, is exactly this (:func:`rnn.initializers.scale_to_radius`).

    Returns
    -------
    params : dict of str to ndarray
        Keys as described in the module docstring. The arrays are views of
        one buffer (a :class:`rnn._flat.FlatDict`, a ``dict`` subclass), so
        that an optimiser step is one pass over all of them.
    """
    func = "init_params"
    _check_cell(func, cell)
    for name, v in (("K", K), ("H", H), ("layers", layers)):
        check_int(func, name, v)
    check_number(func, "spectral_radius", spectral_radius, low=0.0, allow_none=True)
    shapes = param_shapes(K, H, cell=cell, layers=layers)
    if init not in SCHEMES:
        raise ValueError(f"{func}: init must be one of {sorted(SCHEMES)}, got {init!r}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    params = {}
    for layer in range(layers):
        D = K if layer == 0 else H
        for name, value in CELLS[cell].init_layer(D, H, rng, init, dtype).items():
            params[param_key(name, layer)] = value
    params["V"] = init_weight("output", shapes["V"], rng, init, dtype)
    params["c"] = np.zeros(K, dtype)
    if spectral_radius is not None:
        for key in params:
            if key.startswith("W"):  # the recurrent matrices, (H, H): W, W_f, W.1, ...
                params[key] = scale_to_radius(params[key], spectral_radius)
    return FlatDict(params, dtype)  # a dict whose arrays share one buffer (rnn._flat)


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
        return sum(int(np.prod(s)) for s in param_shapes(K, H, cell=cell, layers=layers).values())

    budget = check_int("hidden_for_budget", "budget", budget)
    lo, hi = 1, 2
    while count(hi) <= budget:  # the count grows with H: bracket, then bisect
        lo, hi = hi, 2 * hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) <= budget else (lo, mid)
    below, above = count(lo), count(lo + 1)
    return (lo, below) if budget - below <= above - budget else (lo + 1, above)


def model_layout(keys) -> tuple:
    """The cell and the number of layers that the parameter names ``keys`` spell.

    Reads names only (no arrays), so a checkpoint's list of entries can be
    checked before any weight is read.

    Returns
    -------
    cell : str
    layers : int

    Raises
    ------
    ValueError
        If the names are not exactly those of one registered cell's model.
    """
    keys = set(keys)
    if "V" not in keys or "c" not in keys:
        raise ValueError("params must be a dict holding at least 'V' (K, H) and 'c' (K,); "
                         "create one with rnn.init_params(K, H)")
    for cell, module in CELLS.items():
        names = module.PARAM_NAMES
        if all(n in keys for n in names):
            layers = 1
            while all(param_key(n, layers) in keys for n in names):
                layers += 1
            expected = {param_key(n, l) for l in range(layers) for n in names} | {"V", "c"}
            extra = keys - expected
            if extra:
                raise ValueError(f"params has unexpected keys {sorted(extra)} for a {layers}-layer "
                                 f"{cell!r} model (expected {sorted(expected)})")
            return cell, layers
    raise ValueError(f"params matches no known cell: keys {sorted(keys)}; "
                     f"each cell needs its names ({ {c: m.PARAM_NAMES for c, m in CELLS.items()} })")


_INFO_CACHE: dict = {}  # (keys, V's shape) -> ModelInfo: what model_info reads, nothing else


def model_info(params: dict) -> ModelInfo:
    """Read ``(cell, layers, K, H)`` off a parameter dict.

    Raises
    ------
    ValueError
        If the dict does not hold a complete, consistent model.
    """
    if isinstance(params, dict) and "V" in params:
        key = (tuple(params), np.shape(params["V"]))
        info = _INFO_CACHE.get(key)
        if info is None:
            info = _model_info(params)
            if len(_INFO_CACHE) > 100:
                _INFO_CACHE.clear()
            _INFO_CACHE[key] = info
        return info
    return _model_info(params)


def _model_info(params: dict) -> ModelInfo:
    if not isinstance(params, dict):
        raise ValueError("params must be a dict holding at least 'V' (K, H) and 'c' (K,); "
                         "create one with rnn.init_params(K, H)")
    cell, layers = model_layout(params)
    if np.ndim(params["V"]) != 2:
        raise ValueError(f"model_info: params['V'] must have shape (K, H), got {np.shape(params['V'])}")
    K, H = np.shape(params["V"])
    return ModelInfo(cell, layers, K, H)


def init_state(params: dict, B: int) -> np.ndarray:
    """Zero recurrent state for ``B`` sequences: ndarray of shape (layers, S, B, H)."""
    cell, layers, K, H = model_info(params)
    B = check_int("init_state", "B", B)
    return np.zeros((layers, CELLS[cell].N_STATES, B, H), dtype=params["V"].dtype)


def _layer_params(params, names, layer):
    return {n: params[param_key(n, layer)] for n in names}


def _run(params, info, inputs, state0, fast=True):
    """Forward pass of every layer; returns the top layer's h, the caches and the state."""
    cell, layers, K, H = info
    inputs = check_ids("forward", "inputs", inputs, K)
    if inputs.ndim != 2 or inputs.shape[0] == 0:
        raise ValueError(f"forward: inputs must have shape (T, B) with T >= 1, got {inputs.shape}")
    T, B = inputs.shape
    module = CELLS[cell]
    if state0 is None:
        state0 = init_state(params, B)
    check_shape("forward", "state0", state0, (layers, module.N_STATES, B, H), "(layers, S, B, H)")
    if fast:  # the first layer reads the ids: a gather of U's columns, no K-wide product
        x, layer_forward = inputs, module.layer_forward
    else:  # (T, B, K) one-hot vectors: D = K for the first layer
        x, layer_forward = one_hot(inputs, K, dtype=params["V"].dtype), module.reference_layer_forward
    caches, last = [], []
    for layer in range(layers):
        p = _layer_params(params, module.PARAM_NAMES, layer)
        x, cache, state = layer_forward(x, state0[layer], p)  # x becomes this layer's h
        caches.append(cache)
        last.append(state)
    return x, caches, (last[0][None] if layers == 1 else np.stack(last))


def forward(params: dict, inputs, state0=None, *, fast: bool = True):
    """Logits for every position of a batch of token ids.

    Parameters
    ----------
    params : dict
        From :func:`init_params`.
    inputs : ndarray of int, shape (T, B)
        Token ids.
    state0 : ndarray of shape (layers, S, B, H), optional
        Initial recurrent state; zeros if omitted.
    fast : bool, default True
        False runs the reference functions of the chapters (same numbers).

    Returns
    -------
    o : ndarray of shape (T, B, K)
        Logits; softmax(o[t]) predicts the token after ``inputs[t]``.
    state : ndarray of shape (layers, S, B, H)
        Recurrent state after the last step (feed it to the next call).
    """
    h, _, state = _run(params, model_info(params), inputs, state0, fast)
    return output_forward(h, params["V"], params["c"]), state


def stepper(params: dict):
    """One step of the model at a time, for generation.

    Every layer's weights are checked and laid out once (each cell's
    ``prepare_layer``), so that a step is a few NumPy calls per layer: what
    :func:`rnn.sample.sample` needs, one character after the other. The
    parameters must not change while the returned function is in use.

    Parameters
    ----------
    params : dict
        From :func:`init_params` or a checkpoint.

    Returns
    -------
    step : callable
        ``step(ids, state) -> (logits, state)`` with ids of shape (B,), the
        tokens read at this step, state of shape (layers, S, B, H) and logits of
        shape (B, K), as ``forward(params, ids[None], state)`` computes them.
    """
    cell, layers, K, H = model_info(params)
    module, dtype = CELLS[cell], params["V"].dtype
    weights = [module.prepare_layer(_layer_params(params, module.PARAM_NAMES, layer), dtype,
                                    ids=layer == 0) for layer in range(layers)]
    VT, c = params["V"].T, params["c"]

    def step(ids, state):
        x = check_ids("step", "ids", ids, K).reshape(1, -1)  # (T, B) = (1, B) token ids
        check_shape("step", "state", state, (layers, module.N_STATES, x.shape[1], H),
                    "(layers, S, B, H)")
        last = []
        for layer, w in enumerate(weights):
            x, _, s = module.prepared_forward(w, x, layer == 0, state[layer])
            last.append(s)
        return x[0].dot(VT) + c, (last[0][None] if layers == 1 else np.stack(last))

    return step


def _masked_loss(func, o, targets, loss_mask, reduction):
    """Cross-entropy of the logits o (T, B, K) at the positions where ``loss_mask``
    (T, B) is True (every position if it is None), and dL/do, zero elsewhere."""
    if loss_mask is None:
        return softmax_cross_entropy(o, targets, reduction=reduction)
    mask = np.asarray(loss_mask)
    if mask.dtype != np.bool_ or mask.shape != targets.shape:
        raise ValueError(f"{func}: loss_mask must be a bool array of the shape of inputs (T, B) = "
                         f"{targets.shape}, got dtype {mask.dtype} and shape {mask.shape}")
    if not mask.any():
        raise ValueError(f"{func}: loss_mask selects no position; at least one must count")
    loss, do_kept = softmax_cross_entropy(o[mask], targets[mask], reduction=reduction)
    do = np.zeros_like(o)
    do[mask] = do_kept  # positions that do not count send no gradient
    return loss, do


def loss_and_grads(params: dict, inputs, targets, state0=None, *, reduction: str = "sum",
                   loss_mask=None, fast: bool = True):
    """Forward pass, loss and backpropagation through time for the whole model.

    Parameters
    ----------
    params : dict
        From :func:`init_params`.
    inputs : ndarray of int, shape (T, B)
        Token ids read at each step.
    targets : ndarray of int, shape (T, B)
        The ids to predict (for language modelling, ``inputs`` shifted by one).
    state0 : ndarray of shape (layers, S, B, H), optional
        Initial recurrent state; zeros if omitted. It is treated as a constant
        (truncated BPTT): no gradient flows into the previous window.
    reduction : {"sum", "mean"}, default "sum"
        ``"sum"``: L summed over time and batch (the book's L); ``"mean"``:
        per position, in nats per character.
    loss_mask : ndarray of bool, shape (T, B), optional
        Only the positions where it is True count in the loss (and ``"mean"``
        divides by their number); the others send no gradient. For a loss at
        the last step only, or for the positions an overlapping window has
        already trained on (:mod:`rnn.truncation`). None: every position.
    fast : bool, default True
        The fast layers and the fused output layer and loss (what training
        runs); False runs the reference functions the chapters teach, on
        one-hot inputs. Both compute the same numbers.

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
        dL/dparam for every key of ``params`` (``grads["U"]`` is dU, ...),
        in the order of ``params``; on the fast path (one dtype) a
        :class:`rnn._flat.FlatDict`.
    state : ndarray of shape (layers, S, B, H)
        Recurrent state after the last step.
    """
    targets = np.asarray(targets)
    if targets.shape != np.shape(inputs):
        raise ValueError(f"loss_and_grads: targets must have the shape of inputs (T, B) = "
                         f"{np.shape(inputs)}, got {targets.shape}")
    info = model_info(params)
    targets = check_ids("loss_and_grads", "targets", targets, info.K)  # name the caller's argument
    module = CELLS[info.cell]
    h, caches, state = _run(params, info, inputs, state0, fast)
    grads = {}
    if fast and loss_mask is None:  # output layer, loss and their gradients in one pass
        loss, dh, grads["V"], grads["c"] = output_cross_entropy(h, params["V"], params["c"], targets,
                                                                reduction)
    else:
        o = output_forward(h, params["V"], params["c"])
        loss, do = _masked_loss("loss_and_grads", o, targets, loss_mask, reduction)
        dh, grads["V"], grads["c"] = output_backward(do, h, params["V"])
    layer_backward = module.layer_backward if fast else module.reference_layer_backward
    for layer in reversed(range(info.layers)):
        dh, _, g = layer_backward(dh, caches[layer])  # dx of this layer is dh of the one below
        for name, value in g.items():
            grads[param_key(name, layer)] = value
    grads = {k: grads[k] for k in params}
    dtypes = {g.dtype for g in grads.values()}
    if fast and len(dtypes) == 1:
        grads = FlatDict(grads, dtypes.pop())  # one buffer: clipping, the optimiser: one pass each
    return loss, grads, state
