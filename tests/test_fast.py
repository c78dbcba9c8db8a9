"""The fast path against the reference path, for every registered cell.

Training runs each cell's fast ``layer_forward``/``layer_backward``
(rnn._rnn_cell_fast, rnn._lstm_fast, rnn._gru_fast), the fused output layer
and loss (rnn.losses.output_cross_entropy) and the one-buffer optimiser path
(rnn._flat); the chapters teach the reference functions (``rnn_forward``,
``lstm_backward``, ...). Here the two are checked equal in float64 to 1e-12:
layer by layer (float inputs and token ids, B = 1, T = 1, with and without a
gradient on the final state, chained one step at a time) and for the whole
model (1 and 2 layers, both reductions). The reference path itself is checked
against finite differences and torch in test_cells.py, test_gated_torch.py
and test_torch_reference.py.
"""

import ast
import inspect
import pickle
import tracemalloc

import numpy as np
import pytest

import rnn
from rnn import _gru_fast, _lstm_fast, _rnn_cell_fast
from rnn._flat import FlatDict, arrays_of
from rnn.gradcheck import relative_error
from rnn.losses import output_backward, output_cross_entropy, output_forward, softmax_cross_entropy
from rnn.model import CELLS, one_hot
from rnn.optim import SGD, Adagrad, Adam, clip_elementwise, clip_global_norm

from problems import random_problem

CELL_NAMES = sorted(CELLS)
TOL = 1e-12
# (T, B, D, H): one step, one sequence, and a general case
SHAPES = [(1, 1, 3, 2), (1, 3, 4, 3), (5, 1, 3, 4), (6, 3, 5, 4)]
FAST_MODULES = {"rnn": _rnn_cell_fast, "lstm": _lstm_fast, "gru": _gru_fast}


def assert_close(fast, ref, what):
    assert fast.shape == ref.shape, what
    assert relative_error(fast, ref) < TOL, (what, relative_error(fast, ref))


def layer_both_ways(cell, shape, seed, ids, dstate):
    """Forward and backward of one layer, fast and reference; returns both results."""
    module = CELLS[cell]
    T, B, D, H = shape
    p = random_problem(cell, seed, *shape, scale=1.0)
    x = np.random.default_rng(seed).integers(0, D, (T, B)) if ids else p["x"]
    x_ref = one_hot(x, D) if ids else x
    ds = p["G_state"] if dstate else None
    h, cache, state = module.layer_forward(x, p["state0"], p["params"])
    h_r, cache_r, state_r = module.reference_layer_forward(x_ref, p["state0"], p["params"])
    dx, d0, grads = module.layer_backward(p["G"], cache, ds)
    dx_r, d0_r, grads_r = module.reference_layer_backward(p["G"], cache_r, ds)
    return (h, state, dx, d0, grads), (h_r, state_r, dx_r, d0_r, grads_r)


@pytest.mark.parametrize("dstate", [False, True])
@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_fast_layer_equals_reference(cell, shape, ids, dstate):
    (h, state, dx, d0, grads), (h_r, state_r, dx_r, d0_r, grads_r) = \
        layer_both_ways(cell, shape, 3, ids, dstate)
    assert_close(h, h_r, "h")
    assert_close(state, state_r, "state")
    assert_close(d0, d0_r, "dstate0")
    if ids:
        assert dx is None  # token ids carry no gradient
    else:
        assert_close(dx, dx_r, "dx")
    assert list(grads) == list(grads_r) == list(CELLS[cell].PARAM_NAMES)
    for name in grads:
        assert_close(grads[name], grads_r[name], name)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_one_step_at_a_time_with_dstate_equals_the_whole_sequence(cell):
    """T = 1 calls chained through the state forward and through dstate backward."""
    module = CELLS[cell]
    T, B, D, H = 5, 2, 3, 4
    p = random_problem(cell, 7, T, B, D, H, scale=1.0)
    h, cache, state = module.layer_forward(p["x"], p["state0"], p["params"])
    dx, d0, grads = module.layer_backward(p["G"], cache, p["G_state"])

    caches, s = [], p["state0"]
    for t in range(T):
        h_t, c, s = module.layer_forward(p["x"][t:t + 1], s, p["params"])
        assert_close(h_t[0], h[t], f"h[{t}]")
        caches.append(c)
    assert_close(s, state, "state")
    d, total = p["G_state"], {k: 0.0 for k in grads}
    for t in reversed(range(T)):
        dx_t, d, g = module.layer_backward(p["G"][t:t + 1], caches[t], d)
        assert_close(dx_t[0], dx[t], f"dx[{t}]")
        total = {k: total[k] + g[k] for k in g}
    assert_close(d, d0, "dstate0")
    for name in grads:
        assert_close(total[name], grads[name], name)


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("TB", [(1, 1), (1, 3), (4, 1), (5, 3)])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_fast_model_equals_reference_model(cell, TB, layers, reduction):
    T, B = TB
    K, H = 6, 4
    rng = np.random.default_rng(layers * 10 + T)
    params = {k: rng.standard_normal(v.shape) * 0.8
              for k, v in rnn.init_params(K, H, cell=cell, layers=layers, seed=0).items()}
    inputs, targets = rng.integers(0, K, (T, B)), rng.integers(0, K, (T, B))
    state0 = rng.standard_normal((layers, CELLS[cell].N_STATES, B, H))
    loss, grads, state = rnn.loss_and_grads(params, inputs, targets, state0, reduction=reduction)
    loss_r, grads_r, state_r = rnn.loss_and_grads(params, inputs, targets, state0,
                                                  reduction=reduction, fast=False)
    assert abs(loss - loss_r) < TOL * abs(loss_r)
    assert_close(state, state_r, "state")
    assert list(grads) == list(grads_r) == list(params)
    for name in params:
        assert_close(grads[name], grads_r[name], name)
    o, s = rnn.forward(params, inputs, state0)
    o_r, s_r = rnn.forward(params, inputs, state0, fast=False)
    assert_close(o, o_r, "logits")
    assert_close(s, s_r, "forward state")


@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("lead", [(1,), (1, 1), (4, 3)])
def test_output_cross_entropy_equals_the_three_reference_steps(lead, reduction):
    rng = np.random.default_rng(len(lead))
    H, K = 5, 7
    h, V, c = rng.standard_normal(lead + (H,)), rng.standard_normal((K, H)), rng.standard_normal(K)
    V[0] *= 40  # large logits: the shift by the maximum matters
    y = rng.integers(0, K, lead)
    loss, dh, dV, dc = output_cross_entropy(h, V, c, y, reduction)
    loss_r, do = softmax_cross_entropy(output_forward(h, V, c), y, reduction=reduction)
    dh_r, dV_r, dc_r = output_backward(do, h, V)
    assert abs(loss - loss_r) < TOL * abs(loss_r)
    for a, b, what in [(dh, dh_r, "dh"), (dV, dV_r, "dV"), (dc, dc_r, "dc")]:
        assert_close(a, b, what)
    with pytest.raises(ValueError, match=r"output_cross_entropy: y must have shape"):
        output_cross_entropy(h, V, c, np.zeros(lead + (2,), dtype=int), reduction)
    with pytest.raises(ValueError, match=r"c must have shape \(K,\) = \(7,\), got \(6,\)"):
        output_cross_entropy(h, V, c[:6], y, reduction)


# ---------------------------------------------------------------- inputs and dtypes

@pytest.mark.parametrize("cell", CELL_NAMES)
def test_token_ids_are_checked(cell):
    module = CELLS[cell]
    p = random_problem(cell, 0, 3, 2, 4, 3)
    state0, params = p["state0"], p["params"]
    with pytest.raises(ValueError, match=r"layer_forward: x holds ids in \[-1, 2\] but must lie "
                                         r"in \[0, 3\]"):
        module.layer_forward(np.array([[0, 1], [2, -1], [1, 1]]), state0, params)
    with pytest.raises(ValueError, match=r"x holds ids in \[0, 4\]"):
        module.layer_forward(np.array([[0, 1], [2, 4], [1, 1]]), state0, params)
    with pytest.raises(ValueError, match=r"token ids must have shape \(T, B\), got \(3, 2, 4\)"):
        module.layer_forward(np.zeros((3, 2, 4), dtype=np.int64), state0, params)
    with pytest.raises(ValueError, match=r"x has T = 0 time steps"):
        module.layer_forward(np.zeros((0, 2), dtype=np.int64), state0, params)
    with pytest.raises(ValueError, match=r"state0 must have shape \(S, B, H\)|state0 must have "
                                         r"shape \(1, B, H\)"):
        module.layer_forward(np.zeros((3, 2), dtype=np.int64), state0[:, :1], params)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_token_ids_keep_float32_in_float32(cell):
    module = CELLS[cell]
    p = random_problem(cell, 1, 4, 2, 5, 3)
    params = {k: v.astype(np.float32) for k, v in p["params"].items()}
    ids = np.random.default_rng(1).integers(0, 5, (4, 2)).astype(np.int32)
    h, cache, state = module.layer_forward(ids, p["state0"].astype(np.float32), params)
    dx, d0, grads = module.layer_backward(p["G"].astype(np.float32), cache)
    assert dx is None and h.dtype == state.dtype == d0.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_bad_parameters_get_the_reference_message(cell):
    module = CELLS[cell]
    p = random_problem(cell, 0, 2, 1, 3, 4)
    name = module.PARAM_NAMES[1]  # a W
    bad = dict(p["params"], **{name: np.zeros((4, 5))})
    with pytest.raises(ValueError, match=rf"{name}.* must have shape \(H, H\) = \(4, 4\), got \(4, 5\)"):
        module.layer_forward(p["x"], p["state0"], bad)
    with pytest.raises(ValueError, match=r"cache must be the \w+FastCache returned by layer_forward"):
        module.layer_backward(p["G"], ("not", "a", "cache"))


# ---------------------------------------------------------------- no allocation in the loops

def _is_numpy_call(node):
    """``np.something(...)`` or ``array.dot(...)``."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
        getattr(node.func.value, "id", None) == "np" or node.func.attr == "dot")


def _loops(func):
    tree = ast.parse(inspect.getsource(func))
    return [node for node in ast.walk(tree) if isinstance(node, ast.For)]


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_the_time_loops_allocate_no_arrays(cell):
    """Inside the loops over time every NumPy call writes into an existing array (``out=``)
    and arithmetic is in place (``*=``): arithmetic operators that would create an array
    appear only inside indices. (Views, like ``g[:, None, :]``, allocate no data.)"""
    module = FAST_MODULES[cell]
    for func in (module.forward, module.layer_backward):
        loops = _loops(func)
        assert loops, func
        for loop in loops:
            subscripted = {id(n) for s in ast.walk(loop) if isinstance(s, ast.Subscript)
                           for n in ast.walk(s.slice)}
            for node in ast.walk(ast.Module(body=loop.body, type_ignores=[])):
                if _is_numpy_call(node):
                    assert any(k.arg == "out" for k in node.keywords), (func, ast.unparse(node))
                if isinstance(node, ast.BinOp):
                    assert id(node) in subscripted, (func, ast.unparse(node))


CALLS_PER_STEP = {"rnn": (3, 3), "lstm": (10, 7), "gru": (12, 6)}  # (forward, backward), as documented


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_numpy_calls_per_step_are_the_documented_ones(cell):
    """NumPy calls and in-place operations in the body of each time loop (the module
    docstrings and the chapter "Making it fast" give these counts)."""
    module = FAST_MODULES[cell]
    counts = []
    for func in (module.forward, module.layer_backward):
        (loop,) = _loops(func)
        body = ast.Module(body=loop.body, type_ignores=[])
        counts.append(sum(isinstance(n, ast.AugAssign) or _is_numpy_call(n) for n in ast.walk(body)))
    assert tuple(counts) == CALLS_PER_STEP[cell]
    doc = module.__doc__
    if cell != "rnn":
        assert f"forward pass makes {counts[0]} NumPy calls, the backward pass {counts[1]}" in doc


def test_an_adam_update_is_twelve_numpy_calls():
    """The count the chapter "Making it fast" gives (60 calls for the 5 arrays of a vanilla
    model and 168 for the 14 of an LSTM when they are updated one by one)."""
    (func,) = [n for n in ast.walk(ast.parse(inspect.getsource(Adam))) if
               isinstance(n, ast.FunctionDef) and n.name == "_update"]
    body = ast.Module(body=func.body, type_ignores=[])
    calls = sum(isinstance(n, ast.AugAssign) or (isinstance(n, ast.Call) and getattr(
        getattr(n.func, "value", None), "id", None) == "np" and n.func.attr != "empty_like")
        for n in ast.walk(body))
    assert calls == 12
    assert 5 * calls == 60 and 14 * calls == 168
    assert len(rnn.init_params(3, 2).keys()) == 5 and len(rnn.init_params(3, 2, cell="lstm")) == 14


STORED = {"rnn": 2, "lstm": 12, "gru": 11}  # T*B*H arrays held at the peak (module docstrings)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_peak_memory_of_a_layer_is_what_the_docstring_says(cell):
    """Forward and backward together hold STORED[cell] arrays of T*B*H numbers at the peak."""
    module = CELLS[cell]
    T, B, D, H = 64, 16, 8, 32
    p = random_problem(cell, 0, T, B, D, H)
    ids = np.random.default_rng(0).integers(0, D, (T, B))
    G = p["G"]
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        _, cache, _ = module.layer_forward(ids, p["state0"], p["params"])
        grads = module.layer_backward(G, cache)
        peak = tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
    del grads
    unit = T * B * H * 8
    # the rest: B*H temporaries, weights and their gradients (n*H*(D+H)), one-hot rows (T*B*D)
    rest = 8 * (8 * B * H + 4 * 4 * H * (D + H + 1) + T * B * D) + 20_000
    assert STORED[cell] * unit <= peak <= STORED[cell] * unit + rest, (peak / unit, STORED[cell])


# ---------------------------------------------------------------- one buffer for all parameters

def test_init_params_is_one_buffer_and_a_plain_dict_to_everyone():
    params = rnn.init_params(5, 3, cell="lstm", layers=2, seed=0)
    assert isinstance(params, dict) and params.flat is not None
    assert params.flat.size == sum(v.size for v in params.values())
    params["b_f"][:] = 7.0  # writing into an entry writes into the buffer
    assert (params.flat == 7.0).sum() == 3
    assert type(pickle.loads(pickle.dumps(params))) is dict
    params["U_i"] = np.zeros((3, 5))  # replacing an entry: no buffer any more
    assert params.flat is None and len(arrays_of(params)) == len(params)


@pytest.mark.parametrize("make", [lambda: SGD(0.5), lambda: Adagrad(0.1), lambda: Adam(0.01)])
def test_one_buffer_update_equals_array_by_array(make):
    rng = np.random.default_rng(0)
    start = rnn.init_params(4, 3, cell="gru", seed=1, dtype=np.float32)
    flat, plain = FlatDict(start), {k: v.copy() for k, v in start.items()}
    opt_flat, opt_plain = make(), make()
    for step in range(4):
        g = {k: rng.standard_normal(v.shape).astype(np.float32) * 3 for k, v in start.items()}
        g_flat = FlatDict(g)
        assert clip_elementwise(g_flat, 2.0) is g_flat
        clip_elementwise(g, 2.0)
        if step == 2:  # global-norm clipping too (the norm may differ in the last bit)
            assert clip_global_norm(g_flat, 1.0) == pytest.approx(clip_global_norm(g, 1.0), rel=1e-6)
        opt_flat.step(flat, g_flat)
        opt_plain.step(plain, g)
        for k in start:
            np.testing.assert_allclose(flat[k], plain[k], rtol=2e-7 if step >= 2 else 0, atol=0)
    assert flat.flat is not None  # still one buffer: the fast path was taken
    a, b = opt_flat.state_dict(), opt_plain.state_dict()
    assert sorted(a) == sorted(b)


def test_optimizer_state_survives_a_round_trip_through_the_buffer():
    params = rnn.init_params(4, 3, seed=0)
    grads = rnn.loss_and_grads(params, np.array([[0], [1]]), np.array([[1], [2]]))[1]
    assert type(grads) is FlatDict
    opt = Adam(0.01)
    opt.step(params, grads)
    saved = opt.state_dict()
    again = Adam(0.01)
    again.load_state_dict(saved)
    p1, p2 = FlatDict(params), FlatDict(params)
    opt.step(p1, grads)
    again.step(p2, grads)
    assert np.array_equal(p1.flat, p2.flat)
