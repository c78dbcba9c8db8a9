"""Float64 PyTorch references for the models beyond the language model
(classifier, bidirectional layer, encoder-decoder with and without
attention), written with torch's own modules and autograd, independently
of the package. Weights are read off the torch modules with the mapping of
torch_models.params_from_torch, so the two sides compute from the same
numbers.
"""

import numpy as np

from torch_models import arr, params_from_torch

TORCH_CLASSES = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


class _Layer0:
    """Presents a torch cell, or one direction of a bidirectional module, with
    the attribute names of layer 0 of a plain module (weight_ih_l0, ...), so
    that params_from_torch can read it."""

    def __init__(self, mod, suffix="", cell_attrs=False):
        self.hidden_size = mod.hidden_size
        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            setattr(self, f"{n}_l0", getattr(mod, n if cell_attrs else f"{n}_l0{suffix}"))


def layer_params(mod, cell, *, prefix="", suffix="", cell_attrs=False, grad=False):
    """Our parameter dict (keys with ``prefix``) for a torch layer, or its gradients."""
    p = params_from_torch(_Layer0(mod, suffix, cell_attrs), cell, 0, grad=grad)
    if grad:
        p = p[0]
    return {prefix + k: v for k, v in p.items()}


def scaled(torch, mod, seed, scale=1.5):
    """Multiply every weight of ``mod`` by ``scale`` (gates away from their midpoint)."""
    with torch.no_grad():
        for p in mod.parameters():
            p.mul_(scale)
    return mod


def recurrent(torch, cell, D, H, seed, **kw):
    torch.manual_seed(seed)
    mod = getattr(torch.nn, TORCH_CLASSES[cell])(D, H, dtype=torch.float64, **kw)
    return scaled(torch, mod, seed)


def torch_cell(torch, cell, D, H, seed):
    torch.manual_seed(seed)
    mod = getattr(torch.nn, TORCH_CLASSES[cell] + "Cell")(D, H, dtype=torch.float64)
    return scaled(torch, mod, seed)


def run_packed(torch, mod, cell, x, lengths, state0=None):
    """Run ``mod`` on a right-padded batch through pack_padded_sequence.

    Returns the padded outputs (T, B, ...) and the final state as a tuple
    (h_n,) or (h_n, c_n), each (layers * directions, B, H).
    """
    T = x.shape[0]
    packed = torch.nn.utils.rnn.pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
    out, state = mod(packed) if state0 is None else mod(packed, state0)
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, total_length=T)
    return out, (state if cell == "lstm" else (state,))


def stack_state(state):
    """torch's (h_n,) or (h_n, c_n), each (L, B, H), as our (L, S, B, H)."""
    return np.stack([arr(s) for s in state], axis=1)
