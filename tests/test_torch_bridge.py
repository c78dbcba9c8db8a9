"""rnn.torch_bridge: the package's model <-> torch.nn modules, both directions.

References are independent of the converter: the package's own forward pass
and loss_and_grads (themselves checked against finite differences and
float64 torch elsewhere), torch's autograd, and the weight mapping written
out separately in tests/torch_models.py.
"""

import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import rnn  # noqa: E402
from rnn.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from rnn.model import CELLS  # noqa: E402
from rnn.torch_bridge import (TORCH_GATES, from_torch, layer_state_dict, load_torch,  # noqa: E402
                              save_torch_checkpoint, to_torch)
from torch_models import params_from_torch  # noqa: E402

CELL_NAMES = sorted(TORCH_GATES)
K, H, T, B = 7, 5, 6, 3


def random_params(cell, layers, seed=0):
    """Weights with every entry (biases too) away from zero."""
    rng = np.random.default_rng(seed)
    params = rnn.init_params(K, H, cell=cell, layers=layers, init="scaled", seed=seed)
    return {k: v + 0.2 * rng.standard_normal(v.shape) for k, v in params.items()}


def problem(cell, layers, seed=1):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, K, size=(T, B))
    targets = rng.integers(0, K, size=(T, B))
    state0 = 0.5 * rng.standard_normal((layers, CELLS[cell].N_STATES, B, H))
    return ids, targets, state0


def test_every_cell_of_the_package_with_a_torch_counterpart_is_covered():
    assert set(TORCH_GATES) <= set(CELLS)
    assert {"rnn", "lstm", "gru"} <= set(TORCH_GATES)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_to_torch_computes_the_package_forward(cell, layers):
    params = random_params(cell, layers)
    ids, _, state0 = problem(cell, layers)
    model = to_torch(params)
    assert model.out.weight.dtype == torch.float64
    logits, state = model(torch.from_numpy(ids), torch.from_numpy(state0))
    o_ref, state_ref = rnn.forward(params, ids, state0)
    np.testing.assert_allclose(logits.detach().numpy(), o_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(state.detach().numpy(), state_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_torch_autograd_gives_the_package_gradients(cell, layers):
    params = random_params(cell, layers, seed=2)
    ids, targets, state0 = problem(cell, layers, seed=3)
    model = to_torch(params)
    logits, _ = model(torch.from_numpy(ids), torch.from_numpy(state0))
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, K), torch.from_numpy(targets).reshape(-1), reduction="sum")
    loss.backward()
    loss_ref, grads, _ = rnn.loss_and_grads(params, ids, targets, state0)
    assert abs(loss.item() - loss_ref) < 1e-10 * abs(loss_ref)
    got = {}
    for layer in range(layers):  # torch's .grad fields, read with the tests' own mapping
        g, _, _ = params_from_torch(model.rnn, cell, layer, grad=True)
        got.update({(k if layer == 0 else f"{k}.{layer}"): v for k, v in g.items()})
    got["V"], got["c"] = model.out.weight.grad.numpy(), model.out.bias.grad.numpy()
    assert set(got) == set(grads)
    for k in grads:
        assert rnn.relative_error(grads[k], got[k]) < 1e-10, k


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("cell", CELL_NAMES)
def test_round_trips(cell, layers):
    params = random_params(cell, layers, seed=4)
    back = from_torch(to_torch(params))
    assert list(back) == list(params)  # same keys, same order as init_params
    for k in params:
        assert back[k].dtype == params[k].dtype and np.array_equal(back[k], params[k]), k
    # a module torch initialised itself (two different biases per gate) -> package -> same logits
    torch.manual_seed(layers)
    mod = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](K, H, num_layers=layers, dtype=torch.float64)
    out = torch.nn.Linear(H, K, dtype=torch.float64)
    ids, _, _ = problem(cell, layers, seed=5)
    x = torch.nn.functional.one_hot(torch.from_numpy(ids), K).to(torch.float64)
    logits = out(mod(x)[0]).detach().numpy()
    o_ref, _ = rnn.forward(from_torch(mod, out), ids)
    np.testing.assert_allclose(o_ref, logits, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_layer_state_dict_loads_one_layer_anywhere(cell):
    """Each direction of a bidirectional torch layer, read out by the tests' own
    mapping (torch_beyond.layer_params) and loaded back by layer_state_dict into
    a fresh module, under a prefix and a suffix: the same outputs."""
    from torch_beyond import layer_params, recurrent

    D = 4
    mod = recurrent(torch, cell, D, H, seed=7, bidirectional=True)  # two biases per gate, torch's own
    params = {**layer_params(mod, cell, prefix="fwd."),
              **layer_params(mod, cell, prefix="bwd.", suffix="_reverse"), "other": np.zeros(3)}
    fresh = type(mod)(D, H, bidirectional=True, dtype=torch.float64)
    fresh.load_state_dict({**layer_state_dict(params, cell, prefix="fwd."),
                           **layer_state_dict(params, cell, prefix="bwd.", suffix="_l0_reverse")})
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((T, B, D)))
    np.testing.assert_allclose(fresh(x)[0].detach().numpy(), mod(x)[0].detach().numpy(),
                               rtol=1e-12, atol=1e-13)
    assert not any(fresh.bias_hh_l0[: (2 * H if cell == "gru" else None)])  # one bias, in bias_ih
    with pytest.raises(ValueError, match=r"layer_state_dict: params has no \['enc\.U"):
        layer_state_dict(params, cell, prefix="enc.")


def test_float32_and_dtype_choice():
    params = rnn.init_params(K, H, cell="lstm", seed=0, dtype=np.float32)
    assert to_torch(params).out.weight.dtype == torch.float32
    assert to_torch(params, dtype=torch.float64).out.weight.dtype == torch.float64
    back = from_torch(to_torch(params), dtype=np.float64)
    assert all(v.dtype == np.float64 for v in back.values())


def test_checkpoint_to_torch_train_and_back(tmp_path):
    text = "the quick brown fox jumps over the lazy dog. " * 20
    vocab = rnn.Vocab.from_text(text)
    params = rnn.init_params(vocab.size, 16, cell="gru", seed=0, dtype=np.float32)
    path = tmp_path / "start.npz"
    save_checkpoint(path, params=params, vocab=vocab, config={"cell": "gru"}, step=0,
                    optim_state={}, rng_state={})
    model, vocab2, ckpt = load_torch(path)
    assert vocab2.chars == vocab.chars and ckpt.step == 0

    ids = torch.from_numpy(vocab.encode(text)).long()
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    windows = ids[: 32 * 20].reshape(20, 32).T  # (T, B): 20 streams of 32 characters

    def loss_now():
        logits, _ = model(windows[:-1])
        return torch.nn.functional.cross_entropy(logits.reshape(-1, vocab.size), windows[1:].reshape(-1))

    first = loss_now().item()
    for _ in range(60):
        opt.zero_grad()
        loss = loss_now()
        loss.backward()
        opt.step()
    assert loss_now().item() < 0.8 * first  # training in torch lowers the loss

    out = tmp_path / "trained.npz"
    save_torch_checkpoint(out, model, vocab, step=60)
    back = load_checkpoint(out)
    assert back.step == 60 and back.config["cell"] == "gru"
    o_pkg, _ = rnn.forward(back.params, windows[:-1].numpy())
    np.testing.assert_allclose(o_pkg, model(windows[:-1])[0].detach().numpy(), rtol=1e-4, atol=1e-5)
    # and the command line samples from it
    run = subprocess.run([sys.executable, "-m", "rnn", "sample", str(out), "--length", "20", "--seed", "1"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.strip()) >= 10


def test_clear_errors():
    with pytest.raises(ValueError, match="batch_first"):
        from_torch(torch.nn.LSTM(K, H, batch_first=True), torch.nn.Linear(H, K))
    with pytest.raises(ValueError, match="bidirectional"):
        from_torch(torch.nn.GRU(K, H, bidirectional=True), torch.nn.Linear(H, K))
    with pytest.raises(ValueError, match="nonlinearity='relu'"):
        from_torch(torch.nn.RNN(K, H, nonlinearity="relu"), torch.nn.Linear(H, K))
    with pytest.raises(ValueError, match="input size K = 7"):
        from_torch(torch.nn.RNN(K + 1, H), torch.nn.Linear(H, K))
    with pytest.raises(ValueError, match="CharModel"):
        from_torch(torch.nn.RNN(K, H))
    params = rnn.init_params(K, H, seed=0)
    params["W"] = params["W"][:, :2]
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape \(5, 5\)"):
        to_torch(params)


def test_import_rnn_does_not_import_torch():
    code = ("import sys, rnn, rnn.torch_bridge, rnn.cli, rnn.train; "
            "assert 'torch' not in sys.modules, 'torch imported'")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
