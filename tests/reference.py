"""An independent, plain-Python reference for the forward pass.

Nothing here imports numpy or the ``rnn`` package: every quantity is built
from nested lists with ``math.tanh``, ``math.exp`` and ``math.log``, one
scalar at a time, straight from the book's equations (Goodfellow et al.,
ch. 10)::

    h(t) = tanh(b + W h(t-1) + U x(t))
    o(t) = c + V h(t)
    y_hat(t) = softmax(o(t))
    L = sum_t -log y_hat(t)[y(t)]

Matrices are lists of rows, so ``U[i][j]`` is U_ij. Sequences are
time-major lists: ``x[t][n]`` is the input vector of sequence n at step t.
The tests compare the NumPy package against these loops; because the two
share no code, agreement is evidence that both follow the equations.
"""

from __future__ import annotations

import math

__all__ = ["matvec", "rnn_forward", "output_forward", "softmax", "cross_entropy", "sequence_loss",
           "to_list"]


def to_list(a):
    """Turn an array-like (ndarray or nested lists) into nested lists of Python floats."""
    if hasattr(a, "tolist"):
        a = a.tolist()
    if isinstance(a, (list, tuple)):
        return [to_list(v) for v in a]
    return float(a)


def matvec(M, v):
    """M v for a list-of-rows matrix M and a list v."""
    return [sum(M[i][j] * v[j] for j in range(len(v))) for i in range(len(M))]


def rnn_forward(x, h0, U, W, b):
    """Hidden states of the vanilla RNN.

    x : list (T) of lists (B) of input vectors (D); h0 : list (B) of vectors (H).
    Returns h as a list (T) of lists (B) of vectors (H).
    """
    H = len(b)
    h = []
    h_prev = [list(v) for v in h0]
    for x_t in x:
        h_t = []
        for n, x_tn in enumerate(x_t):
            Ux = matvec(U, x_tn)
            Wh = matvec(W, h_prev[n])
            h_t.append([math.tanh(b[i] + Wh[i] + Ux[i]) for i in range(H)])
        h.append(h_t)
        h_prev = h_t
    return h


def output_forward(h_vec, V, c):
    """o = c + V h for one hidden vector."""
    Vh = matvec(V, h_vec)
    return [c[k] + Vh[k] for k in range(len(c))]


def softmax(o):
    """Softmax of one logit vector, shifted by its maximum so exp cannot overflow."""
    m = max(o)
    e = [math.exp(v - m) for v in o]
    s = sum(e)
    return [v / s for v in e]


def cross_entropy(o, y):
    """-log softmax(o)[y] for one logit vector, via log-sum-exp."""
    m = max(o)
    lse = m + math.log(sum(math.exp(v - m) for v in o))
    return lse - o[y]


def sequence_loss(x, h0, U, W, b, V, c, y):
    """Summed cross-entropy of the whole model on inputs x with targets y[t][n].

    Returns ``(loss, h, o)`` with h and o nested like ``x``.
    """
    h = rnn_forward(x, h0, U, W, b)
    o = [[output_forward(h_tn, V, c) for h_tn in h_t] for h_t in h]
    loss = sum(cross_entropy(o[t][n], y[t][n]) for t in range(len(o)) for n in range(len(o[t])))
    return loss, h, o
