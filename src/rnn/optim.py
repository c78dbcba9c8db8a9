"""Optimisers and gradient clipping for dicts of NumPy arrays.

Parameters and gradients are flat ``dict``s of arrays with the same keys
(as returned by :func:`rnn.model.init_params` and
:func:`rnn.model.loss_and_grads`). Every optimiser updates the parameter
arrays **in place**, keeps its per-parameter state in arrays of the same
shape, and can save that state pickle-free with :meth:`state_dict` (a dict
of arrays, ready for ``np.savez``) and restore it with
:meth:`load_state_dict`, so training resumes exactly.

The update rules are those of ``torch.optim.SGD``, ``Adagrad`` and ``Adam``
with default options (no momentum, no weight decay), step for step:

* SGD: ``p -= lr * g``.
* Adagrad: ``mem += g * g``; ``p -= lr * g / (sqrt(mem) + eps)``.
  min-char-rnn writes ``sqrt(mem + 1e-8)``. The two differ where ``mem``
  is still below about ``1e-8``, i.e. for gradients that have been smaller
  than about ``1e-4`` so far: there PyTorch's form takes a step of nearly
  ``lr * sign(g)`` while min-char-rnn's takes a smaller one. That happens
  mostly in the first steps; the chapter "min-char-rnn, step by step"
  measures the effect on the loss (a few hundredths of a nat, either way).
* Adam: ``m = beta1 m + (1 - beta1) g``, ``v = beta2 v + (1 - beta2) g^2``,
  ``p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)``.

Default learning rates (:data:`DEFAULT_LR`): Adam 2e-3, Adagrad 0.1 (as
min-char-rnn), SGD 1.0 (plain SGD on a mean per-character loss needs a
large step; clipping keeps it stable).

Speed: every update writes into one scratch array (``out=``) instead of
creating a temporary per operation, and when the parameters and the
gradients are :class:`rnn._flat.FlatDict` s with one layout (what
``rnn.init_params`` and ``rnn.loss_and_grads`` return) the optimiser and the
clipping functions make one pass over the whole buffer instead of one per
array. The numbers are the same either way.
"""

from __future__ import annotations

import math

import numpy as np

from ._checks import check_number
from ._flat import FlatDict, arrays_of, flat_pair

__all__ = ["SGD", "Adagrad", "Adam", "OPTIMIZERS", "DEFAULT_LR", "make_optimizer",
           "clip_elementwise", "clip_global_norm"]


def _check_grads(func: str, params: dict, grads: dict) -> None:
    if set(params) != set(grads):
        raise ValueError(f"{func}: grads must have the keys of params; missing "
                         f"{sorted(set(params) - set(grads))}, unexpected "
                         f"{sorted(set(grads) - set(params))}")
    for k, p in params.items():
        if np.shape(grads[k]) != np.shape(p):
            raise ValueError(f"{func}: grads[{k!r}] must have the shape of params[{k!r}] "
                             f"{np.shape(p)}, got {np.shape(grads[k])}")
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise ValueError(f"{func}: params[{k!r}] must be a floating-point ndarray to be "
                             f"updated in place, got {type(p).__name__}")


#: The key :meth:`_Optimizer.step` hands ``_update`` for the one-buffer update of all parameters.
ALL = None


class _Optimizer:
    """Shared bookkeeping: step count, per-parameter state, state_dict."""

    name = ""
    _slots: tuple = ()  # names of the per-parameter state arrays

    def __init__(self, lr):
        self.lr = check_number(type(self).__name__, "lr", lr, low=0, low_open=True)
        self.t = 0  # number of steps taken
        self.state = {slot: {} for slot in self._slots}  # slot -> param name -> array
        self._flat_params = None  # the FlatDict of the one-buffer update in progress

    def _slot(self, slot: str, key, like: np.ndarray) -> np.ndarray:
        """The state ``slot`` of parameter ``key`` (zeros at first), or of all of them at once
        when ``key`` is :data:`ALL` (see :meth:`step`)."""
        if key is ALL:
            return self._flat_slot(slot, self._flat_params, like.dtype)
        a = self.state[slot].get(key)
        if a is None:
            a = self.state[slot][key] = np.zeros_like(like)
        elif a.shape != like.shape:
            raise ValueError(f"{self.name}: saved state {slot}/{key} has shape {a.shape} but the "
                             f"parameter has shape {like.shape}; the optimiser state belongs "
                             f"to a different model")
        return a

    def step(self, params: dict, grads: dict) -> None:
        """Apply one update to every array of ``params``, in place.

        Parameters
        ----------
        params : dict of str to ndarray
            Updated in place.
        grads : dict of str to ndarray
            Same keys and shapes as ``params``.
        """
        p_flat, g_flat = flat_pair(params, grads)
        if p_flat is not None:  # one buffer each: one update of every parameter at once
            self.t += 1
            self._flat_params = params
            self._update(ALL, p_flat, g_flat)
            return
        _check_grads(f"{self.name}.step", params, grads)
        self.t += 1
        for k in params:
            self._update(k, params[k], np.asarray(grads[k], dtype=params[k].dtype))

    def _flat_slot(self, slot: str, params: FlatDict, dtype) -> np.ndarray:
        """The state ``slot`` as one buffer laid out like ``params`` (built on first use)."""
        current = self.state[slot]
        if type(current) is FlatDict and current.layout == params.layout:
            buf = current.flat
            if buf is not None and buf.dtype == dtype:
                return buf
        arrays = {}
        for key, shape in params.layout:  # what is there (e.g. loaded), else zeros
            arrays[key] = current[key] if key in current else np.zeros(shape, dtype)
            if arrays[key].shape != shape:
                self._slot(slot, key, params[key])  # raises: the state belongs to another model
        self.state[slot] = FlatDict(arrays, dtype)
        return self.state[slot].flat

    def _update(self, key, p, g):  # pragma: no cover - abstract
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The optimiser state as a dict of arrays (pickle-free).

        ``"step"`` is the number of steps taken (0-d int64); per-parameter
        arrays are keyed ``"<slot>/<param name>"``, e.g. ``"m/U"``.
        """
        d = {"step": np.array(self.t, dtype=np.int64)}
        for slot, arrays in self.state.items():
            for k, a in arrays.items():
                d[f"{slot}/{k}"] = a.copy()
        return d

    def load_state_dict(self, d: dict, params: dict | None = None) -> None:
        """Restore a state saved by :meth:`state_dict` of the same kind of optimiser.

        Parameters
        ----------
        d : dict of str to ndarray
        params : dict of str to ndarray, optional
            The parameters the state belongs to. If given, the state must be
            complete: after a step, every slot holds an array of the shape of
            every parameter (a missing one would silently restart from zero
            and the resumed run would not be the run that was saved).
        """
        if "step" not in d:
            raise ValueError(f"{self.name}.load_state_dict: the state has no 'step' entry "
                             f"(keys {sorted(d)}); it was not saved by an rnn optimiser")
        step = np.asarray(d["step"])
        if step.shape != () or not np.issubdtype(step.dtype, np.integer) or step < 0:
            raise ValueError(f"{self.name}.load_state_dict: 'step' must be a non-negative 0-d "
                             f"integer array, got {d['step']!r}")
        state = {slot: {} for slot in self._slots}
        for key, value in d.items():
            if key == "step":
                continue
            slot, _, name = key.partition("/")
            if slot not in state or not name:
                raise ValueError(
                    f"{self.name}.load_state_dict: unexpected entry {key!r}; {self.name} keeps "
                    f"{['step'] + [s + '/<param>' for s in self._slots]} (was the state saved "
                    f"by a different optimiser? then use the same --optim)")
            state[slot][name] = np.array(value, copy=True)
        if params is not None:
            _check_complete(self.name, state, params, int(step))
        self.t = int(step)
        self.state = state

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr:g}, step={self.t})"


def _check_complete(name: str, state: dict, params: dict, step: int) -> None:
    """Every slot holds every parameter's array (after the first step), of its shape."""
    problems = []
    for slot, arrays in state.items():
        for k, p in params.items():
            a = arrays.get(k)
            if a is None and step > 0:
                problems.append(f"{slot}/{k} is missing")
            elif a is not None and a.shape != np.shape(p):
                problems.append(f"{slot}/{k} has shape {a.shape}, the parameter {np.shape(p)}")
        problems += [f"{slot}/{k} names no parameter" for k in sorted(set(arrays) - set(params))]
    if problems:
        shown = "; ".join(problems[:4]) + (f"; and {len(problems) - 4} more" if len(problems) > 4
                                          else "")
        raise ValueError(f"{name}.load_state_dict: the optimiser state is incomplete or belongs to "
                         f"another model ({shown}); a resumed run would not continue the saved one")


class SGD(_Optimizer):
    """Plain stochastic gradient descent: ``p -= lr * g``.

    Parameters
    ----------
    lr : float
        Learning rate.
    """

    name = "sgd"

    def _update(self, key, p, g):
        p -= self.lr * g


# --8<-- [start:adagrad]
class Adagrad(_Optimizer):
    """Adagrad: each parameter's step is divided by the root of its summed squared gradients.

    ``mem += g * g``; ``p -= lr * g / (sqrt(mem) + eps)`` (PyTorch's form;
    min-char-rnn adds eps inside the root).

    Parameters
    ----------
    lr : float
        Learning rate.
    eps : float, default 1e-8
        Keeps the step finite where ``mem`` is still 0.
    """

    name = "adagrad"
    _slots = ("mem",)

    def __init__(self, lr, eps: float = 1e-8):
        super().__init__(lr)
        self.eps = check_number("Adagrad", "eps", eps, low=0.0)

    def _update(self, key, p, g):
        mem = self._slot("mem", key, p)
        mem += g * g
        p -= self.lr * (g / (np.sqrt(mem) + self.eps))
# --8<-- [end:adagrad]


class Adam(_Optimizer):
    """Adam with bias correction (Kingma & Ba), as ``torch.optim.Adam`` with defaults.

    Parameters
    ----------
    lr : float
        Learning rate.
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the running mean of g and of g^2.
    eps : float, default 1e-8
    """

    name = "adam"
    _slots = ("m", "v")

    def __init__(self, lr, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        for n, b in (("beta1", beta1), ("beta2", beta2)):
            if check_number("Adam", n, b, low=0.0) >= 1.0:
                raise ValueError(f"Adam: {n} must lie in [0, 1), got {b!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.eps = check_number("Adam", "eps", eps, low=0.0)

    # --8<-- [start:adam]
    def _update(self, key, p, g):
        m, v, tmp = self._slot("m", key, p), self._slot("v", key, p), np.empty_like(p)
        m *= self.beta1
        m += np.multiply(g, 1.0 - self.beta1, out=tmp)  # m = beta1 m + (1 - beta1) g
        v *= self.beta2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.beta2
        v += tmp  # v = beta2 v + (1 - beta2) g^2
        step_size = self.lr / (1.0 - self.beta1 ** self.t)
        root = math.sqrt(1.0 - self.beta2 ** self.t)  # the bias correction of v, under the root
        np.sqrt(v, out=tmp)
        tmp += self.eps * root  # (sqrt(v / (1 - beta2^t)) + eps) * root: one pass fewer
        np.divide(m, tmp, out=tmp)
        tmp *= step_size * root
        p -= tmp  # p -= step_size * m / (sqrt(v / (1 - beta2^t)) + eps)
    # --8<-- [end:adam]


#: Optimiser classes by name.
OPTIMIZERS = {"sgd": SGD, "adagrad": Adagrad, "adam": Adam}

#: Default learning rate of each optimiser.
DEFAULT_LR = {"adam": 2e-3, "adagrad": 0.1, "sgd": 1.0}


def make_optimizer(name: str, lr=None):
    """Create an optimiser by name.

    Parameters
    ----------
    name : {"adam", "adagrad", "sgd"}
    lr : float, optional
        Learning rate; :data:`DEFAULT_LR` ``[name]`` if omitted (Adam 2e-3,
        Adagrad 0.1, SGD 1.0).
    """
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimiser {name!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[name](DEFAULT_LR[name] if lr is None else lr)


# --8<-- [start:clip]
def clip_elementwise(grads: dict, limit: float = 5.0) -> dict:
    """Clip every gradient entry to ``[-limit, limit]`` in place (as min-char-rnn, limit 5).

    Returns
    -------
    grads : dict
        The same dict, for chaining.
    """
    check_number("clip_elementwise", "limit", limit, low=0, low_open=True)
    for g in arrays_of(grads):  # each array, or the one buffer they share (rnn._flat)
        np.clip(g, -limit, limit, out=g)
    return grads


def clip_global_norm(grads: dict, max_norm: float) -> float:
    """Rescale all gradients together so their joint L2 norm is at most ``max_norm``.

    The norm is ``sqrt(sum of g**2 over every entry of every array)``. If it
    exceeds ``max_norm``, every array is multiplied in place by
    ``max_norm / norm``, which keeps the direction of the whole gradient. A
    non-finite norm is returned without touching the gradients (the caller
    should stop: training has diverged).

    Returns
    -------
    norm : float
        The norm before clipping.
    """
    check_number("clip_global_norm", "max_norm", max_norm, low=0, low_open=True)
    norm = float(np.sqrt(sum(float(np.sum(np.square(g, dtype=np.float64)))
                             for g in arrays_of(grads))))
    if np.isfinite(norm) and norm > max_norm:
        scale = max_norm / norm
        for g in arrays_of(grads):
            g *= scale
    return norm
# --8<-- [end:clip]
