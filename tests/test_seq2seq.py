"""rnn.seq2seq and rnn.beam: the encoder-decoder, with and without
attention, for every cell: gradients (the one through the handed-over state
included) against finite differences and float64 torch; a padded batch is
the pairs one by one; greedy and beam decoding against exhaustive search;
clear errors; and a short training run on string reversal."""

import functools
import itertools

import numpy as np
import pytest

from rnn.beam import beam_decode
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.masking import mask_from_lengths, masked_cross_entropy
from rnn.model import CELLS
from rnn.seq2seq import (END, decode_beam, decode_greedy, decoder_step, encode, exact_matches,
                         init_seq2seq, seq2seq_backward, seq2seq_forward, seq2seq_loss_and_grads,
                         teacher_forcing_inputs, train_seq2seq)
from rnn.tasks import reversal_batch

CELL_NAMES = sorted(CELLS)
CASES = [(cell, att) for cell in CELL_NAMES for att in (False, True)]


def _model(cell, attention, D=4, K=4, H=3, seed=0, scale=0.6):
    params = init_seq2seq(D, K, H, cell=cell, attention=attention, seed=seed)
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) * scale for k, v in params.items()}


def _batch(seed, B=3, max_len=4, alphabet=3):
    return reversal_batch(np.random.default_rng(seed), B=B, max_len=max_len, alphabet=alphabet)


def test_teacher_forcing_inputs_shift_the_targets():
    tgt = np.array([[3, 1], [2, 0], [0, 0]])  # "32" and "1", each ending with END
    assert teacher_forcing_inputs(tgt).tolist() == [[END, END], [3, 1], [2, 0]]
    with pytest.raises(ValueError, match=r"targets must be integer ids of shape \(T_y, B\)"):
        teacher_forcing_inputs(np.zeros(3, int))


@pytest.mark.parametrize("cell, attention", CASES)
def test_gradients_match_finite_differences(cell, attention):
    params = _model(cell, attention, scale=1.0)  # large enough that no gradient is tiny
    src, sl, tgt, tl = _batch(1)
    f = lambda: seq2seq_loss_and_grads(params, src, sl, tgt, tl)[0]  # noqa: E731
    _, grads = seq2seq_loss_and_grads(params, src, sl, tgt, tl)
    assert list(grads) == list(params)
    for k, v in params.items():
        num = numerical_gradient(f, v)
        assert np.abs(num).max() > 1e-4, k
        assert relative_error(grads[k], num) < 1e-6, k


@pytest.mark.parametrize("cell, attention", CASES)
def test_gradient_through_the_handed_over_state(cell, attention):
    """dL/dC from the backward pass against finite differences of the decoder's
    loss as a function of the state it starts from."""
    params = _model(cell, attention, seed=2)
    src, sl, tgt, tl = _batch(2)
    memory, C = encode(params, src, sl)
    mask = mask_from_lengths(tl, tgt.shape[0])
    inputs = teacher_forcing_inputs(tgt)

    def decoder_loss():  # the decoder alone, started from C, fed the true previous tokens
        state, logits = C, []
        for t in range(tgt.shape[0]):
            o_t, state, _ = decoder_step(params, inputs[t], state, memory)
            logits.append(o_t)
        return masked_cross_entropy(np.stack(logits), tgt, mask, "mean")[0]

    o, cache, _ = seq2seq_forward(params, src, sl, tgt)
    _, do = masked_cross_entropy(o, tgt, mask, "mean")
    _, dC = seq2seq_backward(do, cache)
    num = numerical_gradient(decoder_loss, C)
    assert np.abs(num).max() > 1e-3
    assert relative_error(dC, num) < 1e-8


@pytest.mark.parametrize("cell, attention", CASES)
def test_matches_torch(cell, attention):
    torch = pytest.importorskip("torch")
    from torch_beyond import layer_params, recurrent, run_packed, torch_cell
    from torch_models import arr

    D, K, H, B = 5, 5, 3, 4
    src, sl, tgt, tl = reversal_batch(np.random.default_rng(5), B=B, max_len=5, alphabet=4)
    enc = recurrent(torch, cell, D, H, seed=5)
    lin = torch.nn.Linear(H, K, dtype=torch.float64)
    x = torch.nn.functional.one_hot(torch.tensor(src), D).double()
    h_enc, C = run_packed(torch, enc, cell, x, sl)  # C: (h_n,) or (h_n, c_n), each (1, B, H)
    x_dec = torch.nn.functional.one_hot(torch.tensor(teacher_forcing_inputs(tgt)), K).double()
    if not attention:
        dec = recurrent(torch, cell, K, H, seed=6)
        h_dec, _ = dec(x_dec, C if cell == "lstm" else C[0])
        extra = {}
    else:
        dec = torch_cell(torch, cell, K + H, H, seed=6)
        gen = torch.Generator().manual_seed(7)
        W_a, U_a = (torch.randn(H, H, generator=gen, dtype=torch.float64, requires_grad=True)
                    for _ in range(2))
        v_a = torch.randn(H, generator=gen, dtype=torch.float64, requires_grad=True)
        keys, src_mask = h_enc @ U_a.T, torch.tensor(mask_from_lengths(sl, src.shape[0]))
        state, outs = tuple(s[0] for s in C), []
        for t in range(tgt.shape[0]):
            u = torch.tanh(state[0] @ W_a.T + keys)
            alpha = torch.softmax((u @ v_a).masked_fill(~src_mask, float("-inf")), dim=0)
            context = (alpha[..., None] * h_enc).sum(dim=0)
            inp = torch.cat([x_dec[t], context], dim=1)
            state = dec(inp, state) if cell == "lstm" else (dec(inp, state[0]),)
            outs.append(state[0])
        h_dec = torch.stack(outs)
        extra = {"W_a": W_a, "U_a": U_a, "v_a": v_a}
    logits = lin(h_dec)
    mask = torch.tensor(mask_from_lengths(tl, tgt.shape[0]))
    loss_t = torch.nn.functional.cross_entropy(logits[mask], torch.tensor(tgt)[mask])
    loss_t.backward()

    dec_kw = dict(prefix="dec.", cell_attrs=attention)
    params = {**layer_params(enc, cell, prefix="enc."), **layer_params(dec, cell, **dec_kw),
              "V": arr(lin.weight), "c": arr(lin.bias), **{k: arr(v) for k, v in extra.items()}}
    expected = {**layer_params(enc, cell, prefix="enc.", grad=True),
                **layer_params(dec, cell, grad=True, **dec_kw), "V": arr(lin.weight.grad),
                "c": arr(lin.bias.grad), **{k: arr(v.grad) for k, v in extra.items()}}
    loss, grads = seq2seq_loss_and_grads(params, src, sl, tgt, tl)
    assert abs(loss - loss_t.item()) < 1e-12 * loss
    assert set(grads) == set(expected)
    for k in grads:
        assert relative_error(grads[k], expected[k]) < 1e-11, k


@pytest.mark.parametrize("cell, attention", CASES)
def test_padded_batch_is_the_pairs_one_by_one(cell, attention):
    params = _model(cell, attention, seed=3)
    src, sl, tgt, tl = _batch(3, B=4, max_len=5)
    loss, grads = seq2seq_loss_and_grads(params, src, sl, tgt, tl, reduction="sum")
    alone = [seq2seq_loss_and_grads(params, src[:sl[n], n:n + 1], sl[n:n + 1],
                                    tgt[:tl[n], n:n + 1], tl[n:n + 1], reduction="sum")
             for n in range(len(sl))]
    assert abs(loss - sum(l for l, _ in alone)) < 1e-12 * loss
    for k in params:
        assert relative_error(grads[k], sum(g[k] for _, g in alone)) < 1e-12, k


def _log_prob(params, src, out):
    """log p(out, END | src) from the teacher-forced logits."""
    tgt = np.append(out, END).astype(np.int64)[:, None]
    o, _, _ = seq2seq_forward(params, src[:, None], [len(src)], tgt)
    logp = o - np.log(np.exp(o).sum(-1, keepdims=True))
    return float(np.take_along_axis(logp, tgt[..., None], -1).sum())


@pytest.mark.parametrize("attention", [False, True])
def test_beam_search_finds_the_most_likely_output(attention):
    K, max_len = 3, 4  # outputs: strings over {1, 2} of length < 4, then END
    src = np.array([1, 2, 2])
    for seed in range(4):
        params = _model("gru", attention, D=3, K=K, H=4, seed=seed, scale=1.5)
        outputs = [np.array(s, dtype=np.int64) for n in range(max_len)
                   for s in itertools.product([1, 2], repeat=n)]
        scores = [_log_prob(params, src, out) for out in outputs]
        best = outputs[int(np.argmax(scores))]
        found, score = decode_beam(params, src, max_len, beam_width=100)  # wider than the space
        assert np.array_equal(found, best) and np.isclose(score, max(scores)), seed
        beam2, score2 = decode_beam(params, src, max_len, beam_width=2)
        if len(beam2) < max_len:  # it ended: the score is the output's log-probability
            assert np.isclose(score2, _log_prob(params, src, beam2))
        greedy, _ = decode_greedy(params, src[:, None], [3], max_len)
        beam1, score1 = decode_beam(params, src, max_len, beam_width=1)
        if len(greedy[0]) < max_len:  # greedy ended within max_len
            assert np.array_equal(beam1, greedy[0]), seed
            assert score2 >= score1 - 1e-12  # a wider beam never finds worse here


def test_beam_decode_on_a_known_step_function():
    """The greedy trap of the sampling chapter, with an end token (0): token 1
    first (0.5), then at best END (0.36); or token 2 first (0.4), then END (0.9)."""
    table = {(): [0.1, 0.5, 0.4], (1,): [0.36, 0.34, 0.30], (2,): [0.9, 0.05, 0.05]}

    def step(tokens, outputs):  # the state of a beam is its output so far
        outputs = [out + (int(t),) if t != -1 else out for out, t in zip(outputs, tokens)]
        rows = [table.get(out, [1.0, 0.0, 0.0]) for out in outputs]
        return np.log(np.array(rows) + 1e-300), outputs

    def select(outputs, rows):
        return [outputs[r] for r in rows]

    kw = dict(start=-1, end=0, max_len=5)
    tokens, score = beam_decode(step, [()], select, beam_width=1, **kw)  # greedy
    assert tokens == [1] and np.isclose(np.exp(score), 0.5 * 0.36)
    tokens, score = beam_decode(step, [()], select, beam_width=2, **kw)
    assert tokens == [2] and np.isclose(np.exp(score), 0.4 * 0.9)
    with pytest.raises(ValueError, match="beam_width must be a positive integer"):
        beam_decode(step, [()], select, beam_width=0, **kw)


def test_errors():
    params = _model("gru", False)
    src, sl, tgt, tl = _batch(0)
    with pytest.raises(ValueError, match=r"tgt_lengths must lie in \[1, T\]"):
        seq2seq_loss_and_grads(params, src, sl, tgt, tl + 5)
    with pytest.raises(ValueError, match=r"src_lengths must have shape \(B,\)"):
        seq2seq_loss_and_grads(params, src, sl[:2], tgt, tl)
    with pytest.raises(ValueError, match=r"tgt must have shape \(T_y, B\) with B = 3"):
        seq2seq_loss_and_grads(params, src, sl, tgt[:, :2], tl[:2])
    mixed = {**params, **{k: v for k, v in _model("rnn", False).items() if k.startswith("dec.")}}
    mixed = {k: v for k, v in mixed.items() if not (k.startswith("dec.") and "_" in k)}
    with pytest.raises(ValueError, match="must use the same cell"):
        seq2seq_loss_and_grads(mixed, src, sl, tgt, tl)
    no_attention = {k: v for k, v in _model("gru", True).items() if k != "v_a"}
    with pytest.raises(ValueError, match=r"the decoder reads 7 inputs, but it must read K = 4"):
        seq2seq_loss_and_grads(no_attention, src, sl, tgt, tl)
    with pytest.raises(ValueError, match=r"src must be one sequence of ids, shape \(T_x,\)"):
        decode_beam(params, src, 5)


def test_reversal_is_learned():
    """A short run of the chapter's task: reverse strings of up to 5 symbols."""
    make_batch = functools.partial(reversal_batch, B=32, max_len=5, alphabet=4)
    params, losses = train_seq2seq(make_batch, 5, 5, hidden=24, attention=True, steps=250,
                                   lr=1e-2, seed=0)
    src, sl, tgt, tl = reversal_batch(np.random.default_rng(8), B=300, max_len=5, alphabet=4)
    outputs, alpha = decode_greedy(params, src, sl, max_len=8)
    accuracy = exact_matches(outputs, tgt, tl).mean()
    assert losses[-1] < 0.1 * losses[0] and accuracy > 0.95, (losses[-1], accuracy)
    assert alpha.shape[1:] == src.shape and np.allclose(alpha.sum(axis=1), 1.0)
