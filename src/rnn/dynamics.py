"""How far back the gradient reaches: probes of vanishing and exploding gradients.

For the vanilla cell the gradient of a loss L(τ) with respect to an earlier
state is a product of one-step Jacobians (chapter "Vanishing and exploding
gradients")::

    ∂h(τ)/∂h(k) = J(τ) J(τ-1) ... J(k+1),    J(j) = diag(1 - h(j)²) W,

and its spectral norm is bounded by the product of the norms of the factors,
``‖∂h(τ)/∂h(k)‖₂ <= prod_j ‖W‖₂ max_i (1 - h_i(j)²) <= (‖W‖₂ γ)^(τ-k)`` with
γ the largest tanh derivative on the way. :func:`jacobian_products` and
:func:`jacobian_bound` compute both sides for one sequence.

:func:`state_gradients` measures the same thing for *any* registered cell
through the layer protocol: it runs the layer one step at a time and
backpropagates an upstream gradient given at the last step, returning the
gradient on the whole recurrent state (h, and s for the LSTM) after every
step. :func:`loss_gradient_norms` does it for a one-layer model and the loss
of its last prediction, and :func:`decay_rate` fits the factor lost per step.
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_ids, check_int, check_shape
from .losses import output_backward, output_forward, softmax_cross_entropy
from .model import CELLS, model_info, one_hot

__all__ = ["jacobian_products", "jacobian_bound", "state_gradients", "loss_gradient_norms",
           "decay_rate"]


def _check_trajectory(func, h, W):
    h, W = as_float_array(func, "h", h), as_float_array(func, "W", W)
    if W.ndim != 2 or W.shape[0] != W.shape[1]:
        raise ValueError(f"{func}: W must be a square matrix (H, H), got shape {W.shape}")
    check_shape(func, "h", h, (None, W.shape[0]), "(tau, H)")
    return h, W


def jacobian_products(h, W) -> np.ndarray:
    """∂h(τ)/∂h(τ-k) of a vanilla tanh cell along one sequence, for k = 0 .. τ.

    Parameters
    ----------
    h : ndarray of shape (tau, H)
        The states h(1) .. h(τ) of one sequence (``h[:, n]`` of
        :func:`rnn.rnn_forward`'s output).
    W : ndarray of shape (H, H)

    Returns
    -------
    P : ndarray of shape (tau + 1, H, H)
        ``P[k] = J(τ) ... J(τ-k+1)`` with J(j) = diag(1 - h(j)²) W;
        ``P[0]`` is the identity.
    """
    h, W = _check_trajectory("jacobian_products", h, W)
    tau, H = h.shape
    # --8<-- [start:jacobian]
    P = np.empty((tau + 1, H, H))  # P[k] = dh(tau)/dh(tau - k)
    P[0] = np.eye(H)
    for k in range(1, tau + 1):
        J = (1.0 - h[tau - k] ** 2)[:, None] * W  # J(tau-k+1) = diag(1 - h(tau-k+1)^2) W
        P[k] = P[k - 1] @ J  # J(tau) ... J(tau-k+2) J(tau-k+1)
    # --8<-- [end:jacobian]
    return P


def jacobian_bound(h, W) -> np.ndarray:
    """The bound ``prod_j ‖W‖₂ max_i (1 - h_i(j)²)`` on ‖∂h(τ)/∂h(τ-k)‖₂, for k = 0 .. τ.

    Parameters
    ----------
    h : ndarray of shape (tau, H)
    W : ndarray of shape (H, H)

    Returns
    -------
    bound : ndarray of shape (tau + 1,)
        ``bound[0] = 1``; each factor is at most ‖W‖₂, since 0 < 1 - h² <= 1.
    """
    h, W = _check_trajectory("jacobian_bound", h, W)
    # --8<-- [start:bound]
    factors = np.linalg.norm(W, 2) * (1.0 - h ** 2).max(axis=1)  # ||W||_2 max_i |1 - h_i(j)^2|
    bound = np.concatenate([[1.0], np.cumprod(factors[::-1])])  # products over the last k steps
    # --8<-- [end:bound]
    return bound


def state_gradients(cell: str, params: dict, x, state0, dh_last) -> np.ndarray:
    """Gradient of a loss on the last hidden state with respect to every earlier state.

    The layer runs one step at a time through the layer protocol, so every
    intermediate state is a segment boundary, and each step's
    ``layer_backward`` returns the gradient on the state before it.

    Parameters
    ----------
    cell : str
        A key of :data:`rnn.model.CELLS`.
    params : dict
        One layer's parameters (the cell's ``PARAM_NAMES``).
    x : ndarray of shape (tau, B, D)
    state0 : ndarray of shape (S, B, H)
    dh_last : ndarray of shape (B, H)
        ∂L/∂h(τ), the upstream gradient at the last step (zero at every other).

    Returns
    -------
    grads : ndarray of shape (tau + 1, S, B, H)
        ``grads[k]`` is ∂L/∂state(τ-k): row 0 of the state axis is h, row 1
        the LSTM's cell state s. ``grads[0]`` is (dh_last, 0).
    """
    func = "state_gradients"
    if cell not in CELLS:
        raise ValueError(f"{func}: cell must be one of {sorted(CELLS)}, got {cell!r}")
    module = CELLS[cell]
    x, state0 = as_float_array(func, "x", x), as_float_array(func, "state0", state0)
    check_shape(func, "x", x, (None, None, None), "(tau, B, D)")
    tau, B, _ = x.shape
    if tau == 0:
        raise ValueError(f"{func}: x has tau = 0 steps; pass at least one")
    S = module.N_STATES
    H = state0.shape[-1]
    check_shape(func, "state0", state0, (S, B, H), "(S, B, H)")
    dh_last = as_float_array(func, "dh_last", dh_last)
    check_shape(func, "dh_last", dh_last, (B, H), "(B, H)")
    caches, state = [], state0
    for t in range(tau):  # one segment per step
        _, cache, state = module.layer_forward(x[t:t + 1], state, params)
        caches.append(cache)
    grads = np.zeros((tau + 1, S, B, H), dtype=np.result_type(x, state0, dh_last))
    grads[0, 0] = dh_last
    no_output = np.zeros((1, B, H), dtype=grads.dtype)  # no loss at the earlier steps
    for k in range(1, tau + 1):
        _, grads[k], _ = module.layer_backward(no_output, caches[tau - k], grads[k - 1])
    return grads


def loss_gradient_norms(params: dict, inputs, target, state0=None) -> np.ndarray:
    """‖∂L(τ)/∂state(τ-k)‖ for k = 0 .. τ, for the loss of a one-layer model's last prediction.

    L(τ) = -log ŷ(τ)[target] is the loss of the prediction made after reading
    all τ inputs. Measure in float64 (cast ``params`` first) to see gradients
    far below float32's range.

    Parameters
    ----------
    params : dict
        A one-layer model from :func:`rnn.init_params`, any registered cell.
    inputs : ndarray of int, shape (tau, B)
    target : ndarray of int, shape (B,)
    state0 : ndarray of shape (1, S, B, H), optional
        Zeros if omitted.

    Returns
    -------
    norms : ndarray of shape (tau + 1, B)
        ``norms[k, n]``: the Euclidean norm over the whole state (h, and s for
        the LSTM) of sequence n, k steps before the loss.
    """
    func = "loss_gradient_norms"
    cell, layers, K, H = model_info(params)
    if layers != 1:
        raise ValueError(f"{func}: params must be a one-layer model, got {layers} layers")
    inputs = check_ids(func, "inputs", inputs, K)
    if inputs.ndim != 2:
        raise ValueError(f"{func}: inputs must have shape (tau, B), got {inputs.shape}")
    B = inputs.shape[1]
    target = check_ids(func, "target", target, K)
    check_shape(func, "target", target, (B,), "(B,)")
    module = CELLS[cell]
    dtype = params["V"].dtype
    state0 = np.zeros((1, module.N_STATES, B, H), dtype) if state0 is None else state0
    check_shape(func, "state0", state0, (1, module.N_STATES, B, H), "(1, S, B, H)")
    layer = {n: params[n] for n in module.PARAM_NAMES}
    x = one_hot(inputs, K, dtype=dtype)
    _, _, last = module.layer_forward(x, state0[0], layer)
    _, do = softmax_cross_entropy(output_forward(last[0], params["V"], params["c"]), target)
    dh_last, _, _ = output_backward(do, last[0], params["V"])  # V^T dL(τ)/do(τ)
    grads = state_gradients(cell, layer, x, state0[0], dh_last)
    return np.sqrt((grads ** 2).sum(axis=(1, 3)))


def decay_rate(norms, start: int = 1, stop=None) -> float:
    """The factor per step of a geometric fit ``‖g_k‖ ≈ C r^k``.

    A least-squares line through ``log ‖g_k‖`` against k, over the lags
    ``start <= k < stop`` where the norm is positive (a norm that underflowed
    to 0 carries no slope). With one column per sequence the fit goes through
    the mean of the logs, the geometric mean.

    Parameters
    ----------
    norms : ndarray of shape (n,) or (n, B)
        Row k: gradient norm(s) k steps back.
    start, stop : int
        The lags used (default: from 1, skipping the output layer's own lag 0,
        to the end).

    Returns
    -------
    r : float
        exp(slope): below 1 the gradient vanishes geometrically, above 1 it explodes.
    """
    norms = np.asarray(norms, dtype=np.float64)
    if norms.ndim == 1:
        norms = norms[:, None]
    if norms.ndim != 2:
        raise ValueError(f"decay_rate: norms must have shape (n,) or (n, B), got {norms.shape}")
    n = norms.shape[0]
    start = check_int("decay_rate", "start", start, low=0)
    stop = n if stop is None else check_int("decay_rate", "stop", stop, high=n)
    lags = np.arange(start, stop)
    ok = np.all(norms[start:stop] > 0, axis=1) & np.all(np.isfinite(norms[start:stop]), axis=1)
    if ok.sum() < 2:
        raise ValueError(f"decay_rate: need at least 2 lags in [{start}, {stop}) with positive, "
                         f"finite norms, got {int(ok.sum())}")
    slope = np.polyfit(lags[ok], np.log(norms[start:stop][ok]).mean(axis=1), 1)[0]
    return float(np.exp(slope))
