"""Float64 torch.nn.RNN / LSTM / GRU modules and the mapping of their weights
onto this package's parameter dicts, for the torch cross-checks.

The mapping is written here, independently of rnn.pack_lstm / rnn.pack_gru:
torch stacks the gates of a layer in the order i, f, g, o (LSTM) and r, z, n
(GRU) and keeps two biases per gate; our biases are their sums, except the
GRU candidate's hidden-side bias, which sits inside the reset product and is
kept apart as ``bh_n``.
"""

import numpy as np

GATES = {"rnn": "", "lstm": "ifgo", "gru": "rzn"}


def arr(t):
    """A torch tensor as a NumPy copy."""
    return t.detach().numpy().copy()


def key(name, layer):
    return name if layer == 0 else f"{name}.{layer}"


def torch_module(torch, cell, D, H, layers, seed, scale=1.5):
    """A float64 torch recurrent module with its own random weights, scaled up
    ``scale`` times so that gates are not all near their midpoint."""
    torch.manual_seed(seed)
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    mod = cls(D, H, num_layers=layers, dtype=torch.float64)
    with torch.no_grad():
        for p in mod.parameters():
            p.mul_(scale)
    return mod


def params_from_torch(mod, cell, layer, grad=False):
    """Our parameter dict for one layer, read off torch's stacked arrays.

    With ``grad=True`` it reads the ``.grad`` fields instead and also returns
    the two torch bias gradients, for the checks that only apply to them.
    """
    H = mod.hidden_size
    get = (lambda n: arr(getattr(mod, f"{n}_l{layer}").grad)) if grad else \
          (lambda n: arr(getattr(mod, f"{n}_l{layer}")))
    w_ih, w_hh, b_ih, b_hh = get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")
    if cell == "rnn":
        p = {"U": w_ih, "W": w_hh, "b": b_ih if grad else b_ih + b_hh}
        return (p, b_ih, b_hh) if grad else p
    p = {}
    for k, gate in enumerate(GATES[cell]):
        rows = slice(k * H, (k + 1) * H)
        p[f"U_{gate}"], p[f"W_{gate}"] = w_ih[rows], w_hh[rows]
        # our bias is torch's two biases added, so its gradient is that of either one
        p[f"b_{gate}"] = b_ih[rows] if grad else b_ih[rows] + b_hh[rows]
    if cell == "gru":  # except the GRU candidate's: b_hn sits inside r * (W_hn h + b_hn)
        p["b_n"], p["bh_n"] = b_ih[2 * H:], b_hh[2 * H:]
    return (p, b_ih, b_hh) if grad else p


def run_torch(torch, mod, cell, x, state0):
    """Run ``mod`` on x (T, B, D) from our state (layers, S, B, H); return (out, state (layers, S, B, H))."""
    if cell == "lstm":
        out, (hn, cn) = mod(x, (torch.tensor(state0[:, 0]), torch.tensor(state0[:, 1])))
        return out, np.stack([arr(hn), arr(cn)], axis=1)
    out, hn = mod(x, torch.tensor(state0[:, 0]))
    return out, arr(hn)[:, None]
