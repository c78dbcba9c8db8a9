"""Teacher forcing against free running: what a language model predicts
when it reads the true text, and when it reads its own output.

Training (:func:`rnn.model.loss_and_grads`) feeds the model the true text:
at every step it reads the true previous character, whatever it predicted
there. This is *teacher forcing*. Generating (:mod:`rnn.sample`), it reads
its own previous choice, and after a mistake it is in a state that training
never showed it. The mismatch is called *exposure bias*.

:func:`exposure_losses` measures it on held-out text. After reading the
same true prime, the model predicts the next N true characters in two ways:

* teacher-forced: at step k it has read the true characters before k;
* free-running: it has read its own k choices since the prime (the
  arg-max, or a draw from its distribution).

Both losses are -log p(true character). They agree at k = 0 and part as the
model's own text drifts away from the true one.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_ids, check_int
from ._parts import rng_from
from .losses import log_softmax
from .model import forward, init_state, model_info
from .sample import next_distribution

__all__ = ["exposure_losses"]


def _picked(logits, y):
    """-log softmax(logits)[y] per row: logits (..., K), y (...)."""
    logp = log_softmax(logits.astype(np.float64))
    return -np.take_along_axis(logp, y[..., None], axis=-1)[..., 0]


def exposure_losses(params: dict, ids, prime: int, *, mode: str = "greedy",
                    temperature: float = 1.0, seed=None):
    """Loss per position after a prime, teacher-forced and free-running.

    Parameters
    ----------
    params : dict
        A character model (:func:`rnn.model.init_params` or a checkpoint).
    ids : ndarray of int, shape (P + N, B)
        B windows of true text, time-major: a prime of P characters, then
        the N characters to predict.
    prime : int
        P, at least 1.
    mode : {"greedy", "sample"}, default "greedy"
        How the free-running model chooses what it reads next: the arg-max,
        or a draw from softmax(o / temperature).
    temperature : float, default 1.0
        Only for ``mode="sample"``.
    seed : int or numpy.random.Generator, optional
        For ``mode="sample"``.

    Returns
    -------
    teacher_forced : ndarray of shape (N,)
        Mean over the B windows of -log p(true character k) when the model
        has read the true characters before it.
    free_running : ndarray of shape (N,)
        The same when it has read its own choices since the prime.
    """
    func = "exposure_losses"
    info = model_info(params)
    ids = check_ids(func, "ids", ids, info.K)
    if ids.ndim != 2:
        raise ValueError(f"{func}: ids must have shape (P + N, B), got {ids.shape}")
    prime = check_int(func, "prime", prime, low=1, high=ids.shape[0] - 1)
    if mode not in ("greedy", "sample"):
        raise ValueError(f"{func}: mode must be 'greedy' or 'sample', got {mode!r}")
    next_distribution(np.zeros(info.K), temperature)  # validates the temperature
    rng = rng_from(seed)
    B = ids.shape[1]
    o, state = forward(params, ids[:prime], init_state(params, B))  # read the true prime
    truth = ids[prime:]  # (N, B): what is predicted
    # --8<-- [start:teacher-forced]
    o_tf, _ = forward(params, ids[prime:-1], state)  # reads the true characters
    logits = np.concatenate([o[-1:], o_tf])  # (N, B, K): position k predicts truth[k]
    teacher_forced = _picked(logits, truth).mean(axis=1)
    # --8<-- [end:teacher-forced]
    # --8<-- [start:free-running]
    free_running = np.empty(len(truth))
    logits = o[-1]  # (B, K)
    for k in range(len(truth)):
        free_running[k] = _picked(logits, truth[k]).mean()  # the truth, scored as before
        if mode == "greedy":
            chosen = np.argmax(logits, axis=1)  # its own choice ...
        else:
            p = next_distribution(logits, temperature)
            u = rng.random((B, 1))  # inverse-CDF draw, one per window
            chosen = np.minimum((p.cumsum(axis=1) <= u).sum(axis=1), info.K - 1)
        o_k, state = forward(params, chosen[None], state)  # ... is what it reads next
        logits = o_k[0]
    # --8<-- [end:free-running]
    return teacher_forced, free_running
