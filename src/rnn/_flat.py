"""A dict of arrays that all live in one 1-D buffer.

A model has a dozen parameter arrays (five for one vanilla layer, fourteen for
an LSTM), and every optimiser update, clipping pass and finiteness check does
a few NumPy calls per array. At B = 1 a whole training step is a few hundred
microseconds, and one Adam update is 12 calls: per array that is a large
share of the step. :class:`FlatDict` keeps the arrays as consecutive views of
one buffer, so those passes run once over :attr:`FlatDict.flat` instead.

It is an ordinary ``dict`` to everyone else (``rnn.init_params`` returns
one; ``rnn.loss_and_grads`` returns the gradients as one). Writing into an
entry (``params["b_f"][:] = 1``) writes into the buffer; replacing an entry
(``params["U"] = other``) makes :attr:`FlatDict.flat` ``None``, and the
optimiser then goes array by array as before: slower, never wrong.
"""

from __future__ import annotations

from operator import is_

import numpy as np

__all__ = ["FlatDict", "flat_pair", "arrays_of"]


class FlatDict(dict):
    """A dict of arrays copied into consecutive views of one buffer.

    Parameters
    ----------
    arrays : dict of str to array-like
        Copied, in order, into one buffer of ``dtype``.
    dtype : numpy dtype, optional
        Default: the common type of the arrays.
    """

    __slots__ = ("_flat", "_views", "layout")

    def __init__(self, arrays: dict, dtype=None):
        values = [v if type(v) is np.ndarray else np.asarray(v) for v in arrays.values()]
        if dtype is None:
            dtype = np.result_type(*values) if values else np.float64
        buf = np.concatenate([v.reshape(-1) for v in values] or [np.empty(0)], dtype=dtype)
        views, start = [], 0
        for v in values:
            views.append(buf[start:start + v.size].reshape(v.shape))
            start += v.size
        super().__init__(zip(arrays, views))
        self._flat, self._views = buf, tuple(views)
        #: ((key, shape), ...) in buffer order: two FlatDicts with equal layouts line up.
        self.layout = tuple((k, v.shape) for k, v in zip(arrays, views))

    @property
    def flat(self):
        """The 1-D buffer, or None if an entry was replaced, added or removed since."""
        views = self._views
        if len(self) == len(views) and all(map(is_, self.values(), views)):
            return self._flat
        return None

    def __reduce__(self):  # pickle and copy give a plain dict
        return dict, (dict(self),)


def flat_pair(params, grads):
    """The buffers of ``params`` and ``grads`` if both are intact FlatDicts with one layout."""
    if type(params) is FlatDict and type(grads) is FlatDict and params.layout == grads.layout:
        p, g = params.flat, grads.flat
        if p is not None and g is not None and p.dtype == g.dtype:
            return p, g
    return None, None



def arrays_of(arrays: dict) -> list:
    """The arrays of a dict, or ``[buffer]`` if they are the intact views of one (a FlatDict).

    For passes that treat every entry alike (clipping, finiteness checks):
    one NumPy call over the buffer instead of one per array.
    """
    flat = arrays.flat if type(arrays) is FlatDict else None
    return list(arrays.values()) if flat is None else [flat]
