"""Move a model between this package and PyTorch, in both directions.

The character-level model of :mod:`rnn.model` (one-hot input, L recurrent
layers, output layer o(t) = c + V h(t)) has an exact PyTorch counterpart:
``torch.nn.RNN`` (tanh), ``torch.nn.LSTM`` or ``torch.nn.GRU`` with
``num_layers=L``, time-major like this package, followed by
``torch.nn.Linear(H, K)``. :class:`CharModel` is that module;

* :func:`to_torch` builds it from a parameter dict (or a checkpoint's),
* :func:`from_torch` reads a parameter dict back from it (or from any
  ``nn.RNN``/``nn.LSTM``/``nn.GRU`` and ``nn.Linear`` pair of those shapes),
* :func:`layer_state_dict` gives one recurrent layer's weights (an encoder's,
  a classifier's, one direction of a bidirectional layer) as the state-dict
  entries of a torch module, for ``module.load_state_dict``,
* :func:`load_torch` and :func:`save_torch_checkpoint` go through checkpoint
  files, so a model trained with ``rnn train`` can continue training in
  PyTorch and come back to ``rnn sample``.

This is the only module that imports torch, and only when one of its
functions is called: ``import rnn`` never needs it. Install it with
``pip install torch==2.13.0`` (the CPU build on Linux:
``--index-url https://download.pytorch.org/whl/cpu``).

How the weights map
-------------------
PyTorch stacks a layer's gates in one matrix, in the order i, f, g, o for the
LSTM and r, z, n for the GRU, and keeps two biases per gate, one on each
product (``bias_ih`` and ``bias_hh``). Only their sum matters everywhere but
in the GRU candidate, whose hidden-side bias sits inside the reset product,
r ⊙ (W_n h + b_hn), and is this package's ``bh_n``. So, for layer l:

=============  ====================================  ==============================
cell           ``weight_ih_l{l}`` / ``weight_hh_l{l}``  ``bias_ih_l{l}`` + ``bias_hh_l{l}``
=============  ====================================  ==============================
``"rnn"``      U / W                                 b
``"lstm"``     [U_i; U_f; U_g; U_o] / [W_i; ...]     [b_i; b_f; b_g; b_o]
``"gru"``      [U_r; U_z; U_n] / [W_r; W_z; W_n]     [b_r; b_z; b_n] + [0; 0; bh_n]
=============  ====================================  ==============================

:func:`to_torch` puts each bias in ``bias_ih`` and zeros (or ``bh_n``) in
``bias_hh``; :func:`from_torch` adds them up.
"""

from __future__ import annotations

import numpy as np

from .model import CELLS, model_info, param_key, param_shapes

# CharModel (a torch.nn.Module subclass) is defined on first use, so that this
# module imports without torch; rnn.torch_bridge.CharModel works once torch is installed.
__all__ = ["TORCH_GATES", "to_torch", "from_torch", "layer_state_dict", "load_torch",
           "save_torch_checkpoint"]

#: The gates of each cell in PyTorch's stacking order (the vanilla cell has none).
TORCH_GATES = {"rnn": "", "lstm": "ifgo", "gru": "rzn"}

_TORCH_HINT = ("rnn.torch_bridge needs PyTorch: pip install torch==2.13.0 "
               "(on Linux, the CPU build: --index-url https://download.pytorch.org/whl/cpu)")


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_TORCH_HINT) from exc
    return torch


def _check_cell(func: str, cell: str) -> None:
    if cell not in TORCH_GATES:
        known = sorted(set(CELLS) & set(TORCH_GATES))
        raise ValueError(f"{func}: cell {cell!r} has no PyTorch counterpart here; "
                         f"supported cells are {known}")


_CHAR_MODEL = None


def _char_model_class():
    """Define CharModel on first use (it subclasses torch.nn.Module)."""
    global _CHAR_MODEL
    if _CHAR_MODEL is not None:
        return _CHAR_MODEL
    torch = _torch()

    class CharModel(torch.nn.Module):
        """The character-level model in PyTorch: one-hot ids -> recurrent
        layers -> ``Linear(H, K)``.

        Parameters
        ----------
        cell : {"rnn", "lstm", "gru"}
        K, H : int
            Vocabulary size and hidden units per layer.
        layers : int
        dtype : torch.dtype, default torch.float32

        Attributes
        ----------
        rnn : torch.nn.RNN, torch.nn.LSTM or torch.nn.GRU
            Time-major (``batch_first=False``), like this package.
        out : torch.nn.Linear
            The output layer: ``out.weight`` is V, ``out.bias`` is c.
        """

        def __init__(self, cell: str, K: int, H: int, layers: int = 1, dtype=None):
            super().__init__()
            _check_cell("CharModel", cell)
            modules = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
            self.cell, self.K, self.H, self.layers = cell, K, H, layers
            self.rnn = modules[cell](K, H, num_layers=layers, dtype=dtype)
            self.out = torch.nn.Linear(H, K, dtype=dtype)

        def forward(self, ids, state=None):
            """Logits for token ids, and the state after the last step.

            Parameters
            ----------
            ids : torch.LongTensor of shape (T, B)
            state : tensor of shape (L, S, B, H), optional
                This package's state layout (S = 2 for the LSTM: h, then the
                cell state); zeros when omitted.

            Returns
            -------
            logits : tensor of shape (T, B, K)
            state : tensor of shape (L, S, B, H)
            """
            dtype = self.out.weight.dtype
            x = torch.nn.functional.one_hot(ids, self.K).to(dtype)
            if state is None:
                hx = None
            elif self.cell == "lstm":
                hx = (state[:, 0].contiguous(), state[:, 1].contiguous())
            else:
                hx = state[:, 0].contiguous()
            h, hn = self.rnn(x, hx)
            new_state = torch.stack(hn, dim=1) if self.cell == "lstm" else hn[:, None]
            return self.out(h), new_state

    CharModel.__qualname__ = "CharModel"
    CharModel.__module__ = __name__
    _CHAR_MODEL = CharModel
    return CharModel


def __getattr__(name):  # rnn.torch_bridge.CharModel, defined when first asked for
    if name == "CharModel":
        return _char_model_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def to_torch(params: dict, *, dtype=None):
    """A :class:`CharModel` holding the weights of a parameter dict.

    Parameters
    ----------
    params : dict of str to ndarray
        Model parameters (:func:`rnn.model.init_params`, a checkpoint's
        ``params``); the cell, the number of layers, K and H are read from
        the keys and shapes.
    dtype : torch.dtype, optional
        Default: the dtype of ``params["V"]`` (float64 stays float64).

    Returns
    -------
    model : CharModel
        Its logits equal :func:`rnn.model.forward`'s for the same ids and state.
    """
    torch = _torch()
    cell, layers, K, H = model_info(params)
    _check_cell("to_torch", cell)
    expected = param_shapes(K, H, cell=cell, layers=layers)
    for k, shape in expected.items():
        if np.shape(params[k]) != shape:
            raise ValueError(f"to_torch: params[{k!r}] must have shape {shape} for a {layers}-layer "
                             f"{cell!r} model with K={K}, H={H}, got {np.shape(params[k])}")
    if dtype is None:
        dtype = torch.from_numpy(np.asarray(params["V"])[:0]).dtype
    model = _char_model_class()(cell, K, H, layers, dtype=dtype)
    state = {}
    for layer in range(layers):
        own = {name: params[param_key(name, layer)] for name in CELLS[cell].PARAM_NAMES}
        state.update(layer_state_dict(own, cell, suffix=f"_l{layer}"))
    model.rnn.load_state_dict(state)  # copies, converting to the module's dtype
    model.out.load_state_dict({"weight": torch.from_numpy(np.array(params["V"])),
                               "bias": torch.from_numpy(np.array(params["c"]))})
    return model


def layer_state_dict(params: dict, cell: str, *, prefix: str = "", suffix: str = "_l0") -> dict:
    """One recurrent layer's parameters as the weights of a torch recurrent module.

    Parameters
    ----------
    params : dict of str to ndarray
        Holds the layer's parameters under ``prefix + name`` for every name of
        the cell's ``PARAM_NAMES`` (``"U"``, ``"W"``, ``"b"`` for the vanilla
        cell; ``"U_i"``, ..., ``"b_o"`` for the LSTM; ``"U_r"``, ...,
        ``"bh_n"`` for the GRU); other keys are ignored.
    cell : {"rnn", "lstm", "gru"}
    prefix : str, default ""
        E.g. ``"enc."`` for the encoder of :func:`rnn.seq2seq.init_seq2seq`,
        ``"fwd."`` for a direction of :func:`rnn.bidirectional.init_bidirectional`.
    suffix : str, default "_l0"
        Which layer of the torch module: ``"_l1"`` for the second,
        ``"_l0_reverse"`` for the backward direction of a bidirectional one.

    Returns
    -------
    state : dict of str to torch.Tensor
        ``weight_ih{suffix}``, ``weight_hh{suffix}``, ``bias_ih{suffix}`` and
        ``bias_hh{suffix}``, gates stacked in torch's order
        (:data:`TORCH_GATES`). The bias is in ``bias_ih``; ``bias_hh`` is zero,
        except the GRU's ``bh_n`` in its last block. Load it with
        ``module.load_state_dict(state)`` (``strict=False`` for part of a
        module); the tensors share memory with new arrays, not with ``params``.

    Examples
    --------
    >>> import torch
    >>> from rnn.classify import init_classifier
    >>> params = init_classifier(3, 4, 2, cell="gru", seed=0)   # D = 3, H = 4, K = 2
    >>> gru = torch.nn.GRU(3, 4, dtype=torch.float64)
    >>> gru.load_state_dict(layer_state_dict(params, "gru"))
    <All keys matched successfully>
    """
    torch = _torch()
    _check_cell("layer_state_dict", cell)
    names = [prefix + name for name in CELLS[cell].PARAM_NAMES]
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"layer_state_dict: params has no {missing} for a {cell!r} layer "
                         f"with prefix {prefix!r}; its keys are {sorted(params)}")
    gates = TORCH_GATES[cell]

    def stacked(name):
        if not gates:
            return np.array(params[prefix + name])
        return np.concatenate([np.asarray(params[f"{prefix}{name}_{g}"]) for g in gates])

    w_ih, w_hh, b_ih = stacked("U"), stacked("W"), stacked("b")
    b_hh = np.zeros_like(b_ih)
    if cell == "gru":  # the candidate's hidden-side bias, inside r * (W_n h + bh_n)
        H = w_hh.shape[1]
        b_hh[2 * H:] = params[prefix + "bh_n"]
    return {f"{name}{suffix}": torch.from_numpy(value) for name, value in
            (("weight_ih", w_ih), ("weight_hh", w_hh), ("bias_ih", b_ih), ("bias_hh", b_hh))}


def from_torch(model, out=None, *, dtype=None) -> dict:
    """The parameter dict of a PyTorch model.

    Parameters
    ----------
    model : CharModel, or torch.nn.RNN / LSTM / GRU
        With a bare recurrent module, pass its output layer as ``out``. The
        module must be time-major (``batch_first=False``), unidirectional,
        without projections, with biases, and an ``nn.RNN`` must use tanh.
    out : torch.nn.Linear, optional
        The output layer (H -> K); taken from ``model.out`` for a CharModel.
    dtype : numpy dtype, optional
        Default: the torch dtype's NumPy equivalent.

    Returns
    -------
    params : dict of str to ndarray
        Keys as :func:`rnn.model.init_params` makes them; :func:`rnn.model.forward`
        on them gives the module's logits.
    """
    torch = _torch()
    if out is None:
        rnn_module, out = getattr(model, "rnn", None), getattr(model, "out", None)
        if rnn_module is None or out is None:
            raise ValueError("from_torch: pass a CharModel, or a recurrent module and its "
                             "output layer as out=")
    else:
        rnn_module = model
    kinds = {torch.nn.LSTM: "lstm", torch.nn.GRU: "gru", torch.nn.RNN: "rnn"}
    cell = next((name for cls, name in kinds.items() if type(rnn_module) is cls), None)
    if cell is None:
        raise ValueError(f"from_torch: expected torch.nn.RNN, LSTM or GRU, got "
                         f"{type(rnn_module).__name__}")
    problems = []
    if rnn_module.batch_first:
        problems.append("batch_first=True (this package is time-major)")
    if rnn_module.bidirectional:
        problems.append("bidirectional=True")
    if not rnn_module.bias:
        problems.append("bias=False")
    if getattr(rnn_module, "proj_size", 0):
        problems.append("proj_size > 0")
    if cell == "rnn" and rnn_module.nonlinearity != "tanh":
        problems.append(f"nonlinearity={rnn_module.nonlinearity!r} (the package's cell uses tanh)")
    if problems:
        raise ValueError("from_torch: this module has no counterpart in the package: " + ", ".join(problems))
    H, K = rnn_module.hidden_size, out.out_features
    if out.in_features != H or rnn_module.input_size != K:
        raise ValueError(f"from_torch: expected input size K = {K} (the output layer's size) and an "
                         f"output layer reading H = {H} units, got input_size="
                         f"{rnn_module.input_size}, out.in_features={out.in_features}")

    def arr(t):
        a = t.detach().cpu().numpy()
        return a.astype(dtype) if dtype is not None else a.copy()

    gates = TORCH_GATES[cell]
    params = {}
    for layer in range(rnn_module.num_layers):
        w_ih, w_hh = arr(getattr(rnn_module, f"weight_ih_l{layer}")), arr(getattr(rnn_module, f"weight_hh_l{layer}"))
        b_ih, b_hh = arr(getattr(rnn_module, f"bias_ih_l{layer}")), arr(getattr(rnn_module, f"bias_hh_l{layer}"))
        if not gates:
            params.update({param_key("U", layer): w_ih, param_key("W", layer): w_hh,
                           param_key("b", layer): b_ih + b_hh})
            continue
        for k, g in enumerate(gates):
            rows = slice(k * H, (k + 1) * H)
            params[param_key(f"U_{g}", layer)] = w_ih[rows]
            params[param_key(f"W_{g}", layer)] = w_hh[rows]
            # the GRU candidate keeps its hidden-side bias apart (inside r * (...))
            params[param_key(f"b_{g}", layer)] = b_ih[rows] + (0 if cell == "gru" and g == "n" else b_hh[rows])
        if cell == "gru":
            params[param_key("bh_n", layer)] = b_hh[2 * H:]
    params["V"], params["c"] = arr(out.weight), arr(out.bias)
    order = param_shapes(K, H, cell=cell, layers=rnn_module.num_layers)
    return {k: params[k] for k in order}


def load_torch(path, *, dtype=None):
    """A checkpoint file as a :class:`CharModel`, with its vocabulary.

    Parameters
    ----------
    path : str or os.PathLike
        A checkpoint written by ``rnn train`` or :func:`save_torch_checkpoint`.
    dtype : torch.dtype, optional
        Default: the dtype of the saved weights.

    Returns
    -------
    model : CharModel
    vocab : rnn.data.Vocab
    checkpoint : rnn.checkpoint.Checkpoint
        Everything else the file holds (configuration, step, ...).
    """
    from .checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    return to_torch(ckpt.params, dtype=dtype), ckpt.vocab, ckpt


def save_torch_checkpoint(path, model, vocab, *, config: dict | None = None, step: int = 0,
                          dtype=np.float32) -> None:
    """Save a PyTorch model as a checkpoint ``rnn sample`` can read.

    Parameters
    ----------
    path : str or os.PathLike
        Written atomically (:func:`rnn.checkpoint.save_checkpoint`).
    model : CharModel
    vocab : rnn.data.Vocab
        The vocabulary the model was trained with (``vocab.size`` = K).
    config : dict, optional
        Stored as the checkpoint's configuration; default: the model's cell,
        layers and hidden size. ``rnn train --resume`` needs the full
        configuration of a package run (the optimiser state is not saved
        here), so resume training from such a file in PyTorch, or start a new
        package run from its weights with ``rnn.train.train(params=...)``.
    step : int, default 0
    dtype : numpy dtype, default float32
        The dtype the weights are stored with.
    """
    from .checkpoint import save_checkpoint

    params = from_torch(model, dtype=dtype)
    cell, layers, K, H = model_info(params)
    if vocab.size != K:
        raise ValueError(f"save_torch_checkpoint: vocab has {vocab.size} characters but the model "
                         f"has K = {K} outputs")
    save_checkpoint(path, params=params, vocab=vocab,
                    config=config if config is not None else {"cell": cell, "layers": layers, "hidden": H},
                    step=step, optim_state={}, rng_state={})
