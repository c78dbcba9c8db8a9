"""Encoder-decoder (sequence-to-sequence) models (Goodfellow et al., *Deep
Learning*, §10.4; Sutskever, Vinyals & Le, 2014; Cho et al., 2014).

An *encoder* reads the source sequence x(1), ..., x(T_x); its state after
the last real step is the context C, handed over as the *decoder*'s
initial state. The decoder is a conditional language model of the target
y(1), ..., y(T_y)::

    h_enc(j) = f(h_enc(j-1), x(j); θ_enc)             j = 1, ..., T_x, from h_enc(0) = 0
    C        = h_enc(T_x)                              the whole state (h and s for an LSTM)
    h_dec(t) = f(h_dec(t-1), e_{y(t-1)}; θ_dec)        t = 1, ..., T_y, from h_dec(0) = C
    o(t)     = c + V h_dec(t),   L = sum_t -log softmax(o(t))[y(t)]

y(0) and the last target y(T_y) are the end token :data:`END` (id 0), so the
decoder learns where an output stops. In training the decoder reads the
*true* previous token y(t-1) (teacher forcing, :func:`teacher_forcing_inputs`);
when it generates, it reads its own previous choice (:func:`decode_greedy`,
:func:`decode_beam`).

The only path from the loss to the encoder is C, so the encoder's gradient
is BPTT started from dL/dC, the gradient the decoder sends back to its
initial state (``dstate0`` of the layer protocol, passed to the encoder as
``dstate``).

With ``attention=True`` (Bahdanau et al., 2015; :mod:`rnn.attention`), the
decoder also reads a context C(t) computed afresh at every step from all
the encoder states, ``x_dec(t) = [e_{y(t-1)}; C(t)]``; since C(t) depends
on h_dec(t-1), that decoder runs one step at a time (T = 1 calls of the
layer protocol, chained through ``dstate`` in the backward pass).

Parameters: the encoder's under ``"enc."`` (input size D), the decoder's
under ``"dec."`` (input size K, or K + H with attention), the output layer
``"V"`` (K, H), ``"c"`` (K,), and with attention ``"W_a"``, ``"U_a"`` (H, H),
``"v_a"`` (H,). Both recurrences use the same cell, so their states have
the same shape (S, B, H). Batches are time-major and right-padded, with
their lengths: see :mod:`rnn.masking`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._checks import check_ids, check_int, check_shape
from ._parts import as_inputs, check_cell, find_cell, fit, group, init_group, rng_from, ungroup
from .attention import (ATTENTION_NAMES, attention_backward, attention_forward, attention_keys,
                        attention_keys_backward, init_attention)
from .beam import beam_decode
from .initializers import init_weight
from .losses import log_softmax, output_backward, output_forward
from .masking import (backward_to_lengths, check_lengths, forward_to_lengths, mask_from_lengths,
                      masked_cross_entropy)
from .model import CELLS, one_hot

__all__ = ["END", "init_seq2seq", "teacher_forcing_inputs", "Memory", "encode", "Seq2SeqCache",
           "seq2seq_forward", "seq2seq_backward", "seq2seq_loss_and_grads", "decoder_step",
           "decode_greedy", "decode_beam", "exact_matches", "train_seq2seq"]

#: The end token: the decoder's first input, and the last token of every target.
END = 0


class _Model(NamedTuple):
    module: object
    D: int
    K: int
    H: int
    attention: bool


def _model(func, params) -> _Model:
    cell = find_cell(func, params, "enc.")
    if find_cell(func, params, "dec.") != cell:
        raise ValueError(f"{func}: the encoder and the decoder must use the same cell (their "
                         f"states are handed over), got enc. {cell!r} and dec. "
                         f"{find_cell(func, params, 'dec.')!r}")
    module = CELLS[cell]
    for k in ("V", "c"):
        if k not in params:
            raise ValueError(f"{func}: params has no output layer {k!r}; create it with init_seq2seq")
    H, D = params["enc." + module.PARAM_NAMES[0]].shape
    K = params["V"].shape[0]
    attention = all(k in params for k in ATTENTION_NAMES)
    D_dec = params["dec." + module.PARAM_NAMES[0]].shape[1]
    if D_dec != K + H * attention:
        raise ValueError(f"{func}: the decoder reads {D_dec} inputs, but it must read "
                         + ("K + H = " if attention else "K = ") + f"{K + H * attention} "
                         "(the previous token" + (" and the context C(t))" if attention else ")"))
    return _Model(module, D, K, H, attention)


def init_seq2seq(D: int, K: int, H: int, *, cell: str = "gru", attention: bool = False,
                 init: str = "scaled", seed=None, dtype=np.float64) -> dict:
    """Parameters of an encoder-decoder.

    Parameters
    ----------
    D : int
        Source alphabet size (the encoder reads one-hot vectors).
    K : int
        Target alphabet size, the end token included.
    H : int
        Hidden units of the encoder, the decoder (and the attention layer).
    cell : str, default "gru"
        A key of :data:`rnn.model.CELLS`, for both recurrences.
    attention : bool, default False
        Add additive attention (:mod:`rnn.attention`).
    init : str, default "scaled"
    seed : int or numpy.random.Generator, optional
    dtype : numpy dtype, default float64

    Returns
    -------
    params : dict
        Keys as in the module docstring.
    """
    func = "init_seq2seq"
    check_cell(func, cell)
    D, K, H = (check_int(func, n, v) for n, v in (("D", D), ("K", K), ("H", H)))
    rng = rng_from(seed)
    params = init_group(cell, D, H, rng, init, dtype, "enc.")
    params.update(init_group(cell, K + H * bool(attention), H, rng, init, dtype, "dec."))
    params["V"] = init_weight("output", (K, H), rng, init, dtype)
    params["c"] = np.zeros(K, dtype)
    if attention:
        params.update(init_attention(H, rng, init, dtype))
    return params


def teacher_forcing_inputs(targets, start: int = END) -> np.ndarray:
    """What the decoder reads in training: the targets shifted one step later.

    Parameters
    ----------
    targets : ndarray of int, shape (T_y, B)
        y(1), ..., y(T_y) of each sequence.
    start : int, default END
        y(0), read at the first step.

    Returns
    -------
    inputs : ndarray of int, shape (T_y, B)
        y(0), y(1), ..., y(T_y - 1): at step t the decoder reads the true
        previous token, whatever it predicted there.
    """
    targets = np.asarray(targets)
    if targets.ndim != 2 or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(f"teacher_forcing_inputs: targets must be integer ids of shape (T_y, B), "
                         f"got dtype {targets.dtype} and shape {targets.shape}")
    # --8<-- [start:teacher-forcing]
    inputs = np.concatenate([np.full((1, targets.shape[1]), start), targets[:-1]])  # y(t-1)
    # --8<-- [end:teacher-forcing]
    return inputs


class Memory(NamedTuple):
    """What the decoder may read of the encoder: its states, the keys of
    the attention layer and the mask of the real source steps."""

    h_enc: np.ndarray
    keys: np.ndarray | None
    mask: np.ndarray

    def rows(self, rows):
        """The memory of the sequences ``rows`` (for beams)."""
        return Memory(self.h_enc[:, rows], None if self.keys is None else self.keys[:, rows],
                      self.mask[:, rows])


def _encode(func, params, m, src, src_lengths):
    x = as_inputs(func, src, m.D, params["V"].dtype, "src")  # (T_x, B, D)
    T_x, B, _ = x.shape
    src_lengths = check_lengths(func, src_lengths, T_x, B, "src_lengths")
    module, H, enc = m.module, m.H, group(params, m.module, "enc.")
    # --8<-- [start:encode]
    state0 = np.zeros((module.N_STATES, B, H), x.dtype)  # h_enc(0) = 0
    h_enc, enc_cache, C = forward_to_lengths(module, x, state0, enc, src_lengths)
    # h_enc: (T_x, B, H), every encoder state; C: (S, B, H), the state after each x(T_x)
    # --8<-- [end:encode]
    keys = attention_keys(h_enc, params["U_a"]) if m.attention else None
    return Memory(h_enc, keys, mask_from_lengths(src_lengths, T_x)), enc_cache, C


def encode(params: dict, src, src_lengths):
    """Run the encoder.

    Parameters
    ----------
    params : dict
        From :func:`init_seq2seq`.
    src : ndarray of int (T_x, B), or float (T_x, B, D)
        Right-padded source ids (or vectors).
    src_lengths : ndarray of int, shape (B,)

    Returns
    -------
    memory : Memory
        Encoder states (T_x, B, H), attention keys (or None), source mask.
    C : ndarray of shape (S, B, H)
        The context: the encoder's state after each sequence's last real
        step, the decoder's initial state.
    """
    func = "encode"
    memory, _, C = _encode(func, params, _model(func, params), src, src_lengths)
    return memory, C


def _step_forward(params, module, dec, x_t, state, memory):
    """One attention-decoder step: the context from h_dec(t-1), then the cell."""
    W_a, v_a = params["W_a"], params["v_a"]
    # --8<-- [start:attention-step]
    C_t, alpha, att_cache = attention_forward(state[0], memory.keys, memory.h_enc, memory.mask,
                                              W_a, v_a)  # the query is h_dec(t-1), state row 0
    x = np.concatenate([x_t, C_t], axis=1)[None]  # (1, B, K + H): x_dec(t) = [e_y(t-1); C(t)]
    h, dec_cache, state = module.layer_forward(x, state, dec)  # one step, T = 1
    # --8<-- [end:attention-step]
    return h[0], state, (att_cache, dec_cache), alpha


class Seq2SeqCache(NamedTuple):
    """What :func:`seq2seq_forward` keeps for :func:`seq2seq_backward`."""

    model: _Model
    params: dict
    memory: Memory
    enc_cache: object
    dec_caches: object
    h_dec: np.ndarray


def seq2seq_forward(params: dict, src, src_lengths, tgt):
    """Logits of every target step, with teacher forcing.

    Parameters
    ----------
    params : dict
        From :func:`init_seq2seq`.
    src : ndarray of int (T_x, B), or float (T_x, B, D)
        Right-padded source.
    src_lengths : ndarray of int, shape (B,)
    tgt : ndarray of int, shape (T_y, B)
        Right-padded targets, each ending with :data:`END`; the decoder
        reads them shifted (:func:`teacher_forcing_inputs`).

    Returns
    -------
    o : ndarray of shape (T_y, B, K)
        Logits; ``o[t]`` predicts ``tgt[t]``.
    cache : Seq2SeqCache
    alpha : ndarray of shape (T_y, T_x, B), or None
        Attention weights of every decoder step (None without attention).
    """
    func = "seq2seq_forward"
    m = _model(func, params)
    memory, enc_cache, C = _encode(func, params, m, src, src_lengths)
    tgt = check_ids(func, "tgt", tgt, m.K)
    if tgt.ndim != 2 or tgt.shape[1] != memory.h_enc.shape[1]:
        raise ValueError(f"{func}: tgt must have shape (T_y, B) with B = {memory.h_enc.shape[1]} "
                         f"(src's batch), got {tgt.shape}")
    module, K, dec = m.module, m.K, group(params, m.module, "dec.")
    # --8<-- [start:decoder-inputs]
    x_dec = one_hot(teacher_forcing_inputs(tgt), K, dtype=C.dtype)  # (T_y, B, K): e_y(t-1)
    # --8<-- [end:decoder-inputs]
    if not m.attention:
        # --8<-- [start:decode]
        h_dec, dec_caches, _ = module.layer_forward(x_dec, C, dec)  # h_dec(0) = C: the handover
        # --8<-- [end:decode]
        alphas = None
    else:
        T_y, B = tgt.shape
        h_dec, dec_caches, alphas = np.empty((T_y, B, m.H), x_dec.dtype), [], []
        # --8<-- [start:attention-decode]
        state = C  # h_dec(0) = C, as without attention
        for t in range(T_y):  # one step at a time: C(t) needs h_dec(t-1)
            h_dec[t], state, step_cache, alpha = _step_forward(params, module, dec, x_dec[t],
                                                               state, memory)
            dec_caches.append(step_cache)
            alphas.append(alpha)
        # --8<-- [end:attention-decode]
        alphas = np.stack(alphas)
    o = output_forward(h_dec, params["V"], params["c"])  # (T_y, B, K)
    return o, Seq2SeqCache(m, params, memory, enc_cache, dec_caches, h_dec), alphas


def seq2seq_backward(do, cache):
    """BPTT through the decoder, the handed-over state and the encoder.

    Parameters
    ----------
    do : ndarray of shape (T_y, B, K)
        dL/do for every target step.
    cache : Seq2SeqCache

    Returns
    -------
    grads : dict
        dL/dparam for every key of the parameters.
    dC : ndarray of shape (S, B, H)
        dL/dC: what the decoder sent back to the encoder through the
        handed-over state.
    """
    func = "seq2seq_backward"
    if not isinstance(cache, Seq2SeqCache):
        raise ValueError(f"{func}: cache must be the Seq2SeqCache returned by seq2seq_forward, "
                         f"got {type(cache).__name__}")
    m, params, memory, enc_cache, dec_caches, h_dec = cache
    check_shape(func, "do", np.asarray(do), h_dec.shape[:2] + (m.K,), "(T_y, B, K)")
    dh_dec, dV, dc = output_backward(do, h_dec, params["V"])  # (T_y, B, H)
    grads = {"V": dV, "c": dc}
    module, h_enc = m.module, memory.h_enc
    if not m.attention:
        # --8<-- [start:backward]
        _, dC, g_dec = module.layer_backward(dh_dec, dec_caches)  # dC = dL/dh_dec(0) = dL/dC
        dh_enc = np.zeros_like(h_enc)  # no loss reads the encoder's states directly
        _, _, g_enc = backward_to_lengths(dh_enc, enc_cache, dC)  # BPTT from dL/dC alone
        # --8<-- [end:backward]
    else:
        dC, g_dec, dh_enc, g_att = _attention_decoder_backward(m, params, memory, dh_dec, dec_caches)
        _, _, g_enc = backward_to_lengths(dh_enc, enc_cache, dC)
        grads.update(g_att)
    grads.update(ungroup(g_enc, "enc."))
    grads.update(ungroup(g_dec, "dec."))
    return {k: grads[k] for k in params}, dC


def _attention_decoder_backward(m, params, memory, dh_dec, dec_caches):
    """BPTT through the step-by-step attention decoder, last step first."""
    T_y, B, H = dh_dec.shape
    module, K = m.module, m.K
    g_dec = {n: 0.0 for n in module.PARAM_NAMES}
    dkeys, dh_enc = np.zeros_like(memory.h_enc), np.zeros_like(memory.h_enc)
    dW_a, dv_a = np.zeros_like(params["W_a"]), np.zeros_like(params["v_a"])
    # --8<-- [start:attention-backward]
    ds = np.zeros((module.N_STATES, B, H), dh_dec.dtype)  # dL/dstate(t), from the later steps
    for t in reversed(range(T_y)):
        att_cache, dec_cache = dec_caches[t]
        dx, ds, g = module.layer_backward(dh_dec[t][None], dec_cache, ds)  # T = 1, chained
        dq, dk, dv, dW, dva = attention_backward(dx[0, :, K:], att_cache)  # dx = [de_y; dC(t)]
        ds = ds.copy()
        ds[0] += dq  # the query was h_dec(t-1), row 0 of the state
        dkeys += dk
        dh_enc += dv
        dW_a += dW
        dv_a += dva
        g_dec = {n: g_dec[n] + g[n] for n in g}
    dh_from_keys, dU_a = attention_keys_backward(dkeys, memory.h_enc, params["U_a"])
    dh_enc += dh_from_keys  # the encoder states are both values and keys
    # --8<-- [end:attention-backward]
    return ds, g_dec, dh_enc, {"W_a": dW_a, "U_a": dU_a, "v_a": dv_a}


def seq2seq_loss_and_grads(params: dict, src, src_lengths, tgt, tgt_lengths, *,
                           reduction: str = "mean"):
    """Teacher-forced cross-entropy of an encoder-decoder and its gradient.

    Parameters
    ----------
    params : dict
        From :func:`init_seq2seq`.
    src : ndarray of int (T_x, B), or float (T_x, B, D)
    src_lengths : ndarray of int, shape (B,)
    tgt : ndarray of int, shape (T_y, B)
        Targets, right-padded, each ending with :data:`END`.
    tgt_lengths : ndarray of int, shape (B,)
        Real target steps (the end token included).
    reduction : {"mean", "sum"}, default "mean"
        ``"mean"`` divides by the number of real target tokens.

    Returns
    -------
    loss : float
    grads : dict of str to ndarray
    """
    func = "seq2seq_loss_and_grads"
    o, cache, _ = seq2seq_forward(params, src, src_lengths, tgt)
    T_y, B = o.shape[:2]
    mask = mask_from_lengths(check_lengths(func, tgt_lengths, T_y, B, "tgt_lengths"), T_y)
    loss, do = masked_cross_entropy(o, tgt, mask, reduction)  # only the real target steps count
    grads, _ = seq2seq_backward(do, cache)
    return loss, grads


def decoder_step(params: dict, tokens, state, memory: Memory):
    """One step of the decoder on its own previous tokens (for generating).

    Parameters
    ----------
    params : dict
    tokens : ndarray of int, shape (n,)
        The previous token of each of n outputs.
    state : ndarray of shape (S, n, H)
        The decoder's state (C at the first step).
    memory : Memory
        From :func:`encode`, for the same n rows.

    Returns
    -------
    logits : ndarray of shape (n, K)
    state : ndarray of shape (S, n, H)
    alpha : ndarray of shape (T_x, n), or None without attention
    """
    func = "decoder_step"
    m = _model(func, params)
    dec = group(params, m.module, "dec.")
    x_t = one_hot(np.asarray(tokens), m.K, dtype=params["V"].dtype)  # (n, K)
    if m.attention:
        h, state, _, alpha = _step_forward(params, m.module, dec, x_t, state, memory)
    else:
        h, _, state = m.module.layer_forward(x_t[None], state, dec)
        h, alpha = h[0], None
    return output_forward(h, params["V"], params["c"]), state, alpha


def decode_greedy(params: dict, src, src_lengths, max_len: int):
    """Generate by always taking the most likely next token, for a batch of sources.

    Parameters
    ----------
    params : dict
    src : ndarray of int (T_x, B)
    src_lengths : ndarray of int, shape (B,)
    max_len : int
        Most tokens generated per output, the end token included.

    Returns
    -------
    outputs : list of B int arrays
        Each output without its end token (cut at ``max_len`` if it never ended).
    alpha : ndarray of shape (steps, T_x, B), or None
        The attention weights of every step taken (None without attention).
    """
    func = "decode_greedy"
    max_len = check_int(func, "max_len", max_len)
    memory, C = encode(params, src, src_lengths)
    B = C.shape[1]
    tokens, state = np.full(B, END), C
    out, alphas, length = [], [], np.full(B, max_len)
    # --8<-- [start:greedy]
    for t in range(max_len):
        logits, state, alpha = decoder_step(params, tokens, state, memory)
        tokens = np.argmax(logits, axis=1)  # its own choice is the next input
        out.append(tokens)
        alphas.append(alpha)
        length = np.where((tokens == END) & (length == max_len), t, length)  # first end token
        if (length < max_len).all():
            break
    # --8<-- [end:greedy]
    out = np.stack(out)
    outputs = [out[:length[n], n] for n in range(B)]
    return outputs, (np.stack(alphas) if alphas[0] is not None else None)


def decode_beam(params: dict, src, max_len: int, beam_width: int = 5):
    """The most likely output for one source, by beam search (:func:`rnn.beam.beam_decode`).

    Parameters
    ----------
    params : dict
    src : ndarray of int, shape (T_x,)
        One source sequence (no padding).
    max_len : int
        Most tokens generated, the end token included.
    beam_width : int, default 5

    Returns
    -------
    tokens : ndarray of int64
        The output without its end token.
    score : float
        Its log-probability under the model.
    """
    func = "decode_beam"
    src = np.asarray(src)
    if src.ndim != 1 or src.size == 0:
        raise ValueError(f"{func}: src must be one sequence of ids, shape (T_x,), got {src.shape}")
    memory, C = encode(params, src[:, None], [src.size])

    def step(tokens, beams):
        state, mem = beams
        logits, state, _ = decoder_step(params, tokens, state, mem)
        return log_softmax(logits), (state, mem)

    def select(beams, rows):
        state, mem = beams
        return state[:, rows], mem.rows(rows)

    tokens, score = beam_decode(step, (C, memory), select, start=END, end=END,
                                beam_width=beam_width, max_len=max_len)
    return np.asarray(tokens, dtype=np.int64), score


def exact_matches(outputs, tgt, tgt_lengths) -> np.ndarray:
    """Which outputs equal their target exactly: bool array (B,).

    ``outputs`` as returned by :func:`decode_greedy` (no end token);
    ``tgt`` (T_y, B) and ``tgt_lengths`` as for training (end token included).
    """
    tgt = np.asarray(tgt)
    return np.array([len(out) == n - 1 and np.array_equal(out, tgt[:n - 1, i])
                     for i, (out, n) in enumerate(zip(outputs, tgt_lengths))])


def train_seq2seq(make_batch, D: int, K: int, *, cell: str = "gru", hidden: int = 64,
                  attention: bool = False, steps: int = 2000, lr: float = 5e-3, clip: float = 1.0,
                  seed=0):
    """Train an encoder-decoder with teacher forcing and Adam.

    Parameters
    ----------
    make_batch : callable
        ``make_batch(rng)`` returns ``(src, src_lengths, tgt, tgt_lengths)``,
        e.g. ``functools.partial(rnn.tasks.reversal_batch, B=64, max_len=12)``.
    D, K : int
        Source and target alphabet sizes.
    cell : str, default "gru"
    hidden : int, default 64
    attention : bool, default False
    steps : int, default 2000
    lr : float, default 5e-3
    clip : float, default 1.0
        Global-norm clipping threshold.
    seed : int, default 0

    Returns
    -------
    params : dict
    losses : list of float
        Mean loss per target token of every step.
    """
    rng = rng_from(seed)
    params = init_seq2seq(D, K, hidden, cell=cell, attention=attention, seed=rng)
    losses = fit(params, seq2seq_loss_and_grads, make_batch, steps=steps, lr=lr, clip=clip, seed=rng)
    return params, losses
