"""rnn.classify: a many-to-one classifier on padded batches, for every cell:
exactly the gradients of the sequences run one by one, finite differences,
float64 torch (packed sequences + Linear + cross_entropy), clear errors,
and training to a high accuracy on a task with a known answer."""

import functools

import numpy as np
import pytest

from rnn.classify import (classifier_forward, classifier_loss_and_grads, classify,
                          init_classifier, train_classifier)
from rnn.gradcheck import numerical_gradient, relative_error
from rnn.masking import pad
from rnn.model import CELLS
from rnn.tasks import parity_batch

CELL_NAMES = sorted(CELLS)


def _model(cell, D=3, H=4, K=3, seed=0, scale=0.7):
    params = init_classifier(D, H, K, cell=cell, seed=seed)
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(v.shape) * scale for k, v in params.items()}


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_padded_batch_gives_the_gradients_of_the_sequences_one_by_one(cell):
    rng = np.random.default_rng(1)
    seqs = [rng.integers(0, 3, n) for n in (5, 1, 3, 5, 2)]
    ids, lengths = pad(seqs)
    ids[ids.shape[0] - 1:, 1] = 2  # what the padding holds does not matter
    targets = rng.integers(0, 3, len(seqs))
    params = _model(cell)
    loss, grads = classifier_loss_and_grads(params, ids, lengths, targets, reduction="sum")
    one_by_one = [classifier_loss_and_grads(params, s[:, None], [len(s)], targets[n:n + 1],
                                            reduction="sum") for n, s in enumerate(seqs)]
    assert abs(loss - sum(l for l, _ in one_by_one)) < 1e-12 * abs(loss)
    for k in params:
        assert relative_error(grads[k], sum(g[k] for _, g in one_by_one)) < 1e-13, k


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_gradients_match_finite_differences(cell):
    rng = np.random.default_rng(2)
    ids, lengths = pad([rng.integers(0, 3, n) for n in (4, 2, 1)])
    targets = np.array([0, 2, 1])
    params = _model(cell, seed=2)
    f = lambda: classifier_loss_and_grads(params, ids, lengths, targets)[0]  # noqa: E731
    _, grads = classifier_loss_and_grads(params, ids, lengths, targets)
    for k, v in params.items():
        num = numerical_gradient(f, v)
        assert np.abs(num).max() > 1e-4, k
        assert relative_error(grads[k], num) < 1e-7, k


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_matches_torch_on_packed_sequences(cell):
    torch = pytest.importorskip("torch")
    from torch_beyond import layer_params, recurrent, run_packed
    from torch_models import arr

    D, H, K, B = 4, 5, 3, 6
    rng = np.random.default_rng(4)
    lengths = np.array([3, 7, 1, 5, 7, 2])
    ids = rng.integers(0, D, (7, B))
    targets = rng.integers(0, K, B)
    mod = recurrent(torch, cell, D, H, seed=4)
    lin = torch.nn.Linear(H, K, dtype=torch.float64)
    x = torch.nn.functional.one_hot(torch.tensor(ids), D).double()
    _, state = run_packed(torch, mod, cell, x, lengths)
    logits = lin(state[0][0])  # h at each sequence's last real step
    loss_t = torch.nn.functional.cross_entropy(logits, torch.tensor(targets))
    loss_t.backward()

    params = {**layer_params(mod, cell), "V": arr(lin.weight), "c": arr(lin.bias)}
    o, _ = classifier_forward(params, ids, lengths)
    loss, grads = classifier_loss_and_grads(params, ids, lengths, targets)
    assert relative_error(o, arr(logits)) < 1e-12
    assert abs(loss - loss_t.item()) < 1e-12 * loss
    expected = {**layer_params(mod, cell, grad=True), "V": arr(lin.weight.grad),
                "c": arr(lin.bias.grad)}
    for k in params:
        assert relative_error(grads[k], expected[k]) < 1e-11, k


def test_errors_name_the_argument():
    params = _model("rnn")
    ids, lengths = np.zeros((4, 2), int), np.array([4, 2])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, T\] = \[1, 4\].*got 5"):
        classifier_forward(params, ids, [5, 2])
    with pytest.raises(ValueError, match=r"lengths must have shape \(B,\) = \(2,\)"):
        classifier_forward(params, ids, [4])
    with pytest.raises(ValueError, match=r"targets must have shape \(B,\) = \(2,\)"):
        classifier_loss_and_grads(params, ids, lengths, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match=r"targets holds ids in \[0, 3\] but must lie in \[0, 2\]"):
        classifier_loss_and_grads(params, ids, lengths, np.array([0, 3]))
    with pytest.raises(ValueError, match=r"inputs holds ids in \[3, 3\] but the model reads D = 3 symbols"):
        classifier_forward(params, ids + 3, lengths)
    with pytest.raises(ValueError, match=r"inputs must have shape \(T, B, D\) = \(\?, \?, 3\)"):
        classifier_forward(params, np.zeros((4, 2, 5)), lengths)
    with pytest.raises(ValueError, match="no recurrent layer"):
        classifier_forward({"V": params["V"], "c": params["c"]}, ids, lengths)


def test_parity_is_learned_to_high_accuracy():
    """The task of the chapter, shorter: parity of up to 10 bits with a GRU."""
    make_batch = functools.partial(parity_batch, B=32, max_len=10)
    params, losses = train_classifier(make_batch, 2, 2, cell="gru", hidden=12, steps=300,
                                      lr=2e-2, seed=0)
    ids, lengths, labels = parity_batch(np.random.default_rng(99), B=500, max_len=10)
    accuracy = (classify(params, ids, lengths) == labels).mean()
    assert losses[0] > 0.6 and accuracy > 0.97, (losses[-1], accuracy)
