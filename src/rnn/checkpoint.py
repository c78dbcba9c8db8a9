"""Save and load training checkpoints as plain ``.npz`` files.

A checkpoint holds everything needed to sample from a model or to resume
training exactly where it stopped, using arrays only, so it loads with
``np.load(path, allow_pickle=False)`` (no code runs while loading):

========================  ==================================================
key                       content
========================  ==================================================
``format``                0-d str array ``"rnn-checkpoint-v1"``
``param/<name>``          the weights, e.g. ``param/U``, ``param/V``
``optim/<name>``          optimiser state (:meth:`rnn.optim.Adam.state_dict`)
``vocab``                 the vocabulary as int32 code points
``config``                0-d str array: JSON of the training configuration
``step``                  0-d int64: optimisation steps taken
``rng``                   0-d str array: JSON of the random generator's state
``extra/<name>``          anything else, e.g. batcher position, hidden state
========================  ==================================================

Writes are atomic: the file is written to a temporary name in the same
folder, flushed to disk, then moved over ``path`` with ``os.replace``, so a
crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_file, check_int
from .data import Vocab
from .model import model_info, param_shapes

__all__ = ["FORMAT", "Checkpoint", "save_checkpoint", "load_checkpoint", "rng_from_state"]

#: Value of the ``format`` entry of every checkpoint this version writes.
FORMAT = "rnn-checkpoint-v1"


@dataclass
class Checkpoint:
    """The contents of a checkpoint file.

    Attributes
    ----------
    params : dict of str to ndarray
        Model weights (see :func:`rnn.model.init_params`).
    vocab : Vocab
    config : dict
        The training configuration (JSON-safe values).
    step : int
        Optimisation steps taken.
    optim_state : dict of str to ndarray
        For the optimiser's ``load_state_dict``.
    rng_state : dict
        ``Generator.bit_generator.state``; see :func:`rng_from_state`.
    extra : dict of str to ndarray
    """

    params: dict
    vocab: Vocab
    config: dict
    step: int
    optim_state: dict = field(default_factory=dict)
    rng_state: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)


def _check_names(what: str, d) -> dict:
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ValueError(f"save_checkpoint: {what} must be a dict of arrays, got "
                         f"{type(d).__name__}")
    out = {}
    for k, v in d.items():
        if not isinstance(k, str) or not k:
            raise ValueError(f"save_checkpoint: {what} keys must be non-empty strings, got {k!r}")
        a = np.asarray(v)
        if a.dtype == object:
            raise ValueError(f"save_checkpoint: {what}[{k!r}] is not a plain numeric/str array "
                             f"(dtype object) and cannot be stored without pickle")
        out[k] = a
    return out


def _to_json(what: str, obj) -> str:
    try:
        return json.dumps(obj, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"save_checkpoint: {what} must be JSON-serialisable "
                         f"(str, numbers, bools, None, lists, dicts): {exc}") from exc


def save_checkpoint(path, *, params: dict, vocab: Vocab, config: dict, step: int,
                    optim_state: dict, rng_state: dict, extra: dict | None = None) -> None:
    """Write a checkpoint to ``path`` atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file (parent folders are created). Written exactly at
        this name; ``.npz`` is the conventional suffix.
    params : dict of str to ndarray
        Model weights.
    vocab : Vocab
    config : dict
        JSON-serialisable training configuration.
    step : int
        Steps taken.
    optim_state : dict of str to ndarray
        From the optimiser's ``state_dict()``.
    rng_state : dict
        ``rng.bit_generator.state`` of the training ``numpy.random.Generator``.
    extra : dict of str to ndarray, optional
        Anything else needed for an exact resume.
    """
    if not isinstance(vocab, Vocab):
        raise ValueError(f"save_checkpoint: vocab must be a Vocab, got {type(vocab).__name__}")
    step = check_int("save_checkpoint", "step", step, low=0)
    if not isinstance(config, dict):
        raise ValueError(f"save_checkpoint: config must be a dict, got {type(config).__name__}")
    params = _check_names("params", params)
    if not params:
        raise ValueError("save_checkpoint: params is empty")
    arrays = {"format": np.array(FORMAT),
              "vocab": vocab.to_array(),
              "config": np.array(_to_json("config", config)),
              "step": np.array(step, dtype=np.int64),
              "rng": np.array(_to_json("rng_state", rng_state))}
    for prefix, d in (("param", params), ("optim", _check_names("optim_state", optim_state)),
                      ("extra", _check_names("extra", extra))):
        for k, a in d.items():
            arrays[f"{prefix}/{k}"] = a

    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file as 0600; give it the mode a normal new file gets
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX; not possible on Windows)
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


class _NotACheckpoint(ValueError):
    """A ValueError raised by :func:`load_checkpoint` itself."""


def _bad(path, problem: str) -> ValueError:
    return _NotACheckpoint(f"{path!r} is not an rnn checkpoint: {problem}")


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Checkpoint

    Raises
    ------
    ValueError
        With a one-sentence reason for a missing file, a directory, a file
        that is not an ``.npz`` archive (text, random or truncated bytes), an
        ``.npz`` that is not an rnn checkpoint (no or another ``format``),
        missing entries, unreadable JSON, or weights whose shapes do not fit
        together or do not match the vocabulary size.
    """
    path = check_file(path, "checkpoint", f"pass the .npz file inside it, e.g. "
                                          f"{os.path.join(os.fspath(path), 'checkpoint.npz')!r}")
    data = _read_arrays(path)
    return _parse(path, data)


def _read_arrays(path: str) -> dict:
    """Every member of the ``.npz`` at ``path``, read without pickle."""
    try:
        z = np.load(path, allow_pickle=False)
        if not isinstance(z, np.lib.npyio.NpzFile):
            raise _bad(path, "it is a single .npy array, not an .npz archive")
        with z:
            files = list(z.files)
            data = {k: z[k] for k in files} if "format" in files else None
    except _NotACheckpoint:
        raise
    except ValueError as exc:
        raise _bad(path, f"it cannot be read as an .npz archive ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise _bad(path, f"it cannot be read as an .npz archive, it may be corrupt or "
                         f"truncated ({type(exc).__name__}: {exc})") from None
    if data is None:
        shown = sorted(files)[:8]
        raise _bad(path, f"it is an .npz archive without a 'format' entry (it holds {shown}"
                         f"{'...' if len(files) > 8 else ''}); only files saved by "
                         f"`rnn train` can be loaded")
    return data


def _parse(path: str, data: dict) -> Checkpoint:
    """Check the members of a checkpoint and assemble them."""
    fmt = data["format"]
    if fmt.shape != () or fmt.dtype.kind != "U" or str(fmt) != FORMAT:
        raise _bad(path, f"its format is {fmt!r}, expected {FORMAT!r}")
    missing = [k for k in ("vocab", "config", "step", "rng") if k not in data]
    params = {k[len("param/"):]: v for k, v in data.items() if k.startswith("param/")}
    if not params:
        missing.append("param/...")
    if missing:
        raise _bad(path, f"entries {missing} are missing; the file is incomplete")

    def _json(key):
        a = data[key]
        try:
            if a.shape != () or a.dtype.kind != "U":
                raise ValueError(f"expected a 0-d string array, got {a.dtype} {a.shape}")
            obj = json.loads(str(a))
        except ValueError as exc:
            raise _bad(path, f"its {key!r} entry is not valid JSON ({exc})") from None
        if not isinstance(obj, dict):
            raise _bad(path, f"its {key!r} entry must be a JSON object, got "
                             f"{type(obj).__name__}")
        return obj

    config, rng_state = _json("config"), _json("rng")
    step = data["step"]
    if step.shape != () or not np.issubdtype(step.dtype, np.integer) or step < 0:
        raise _bad(path, f"its 'step' entry must be a non-negative 0-d integer, got {step!r}")
    try:
        vocab = Vocab.from_array(data["vocab"])
    except ValueError as exc:
        raise _bad(path, f"its vocabulary is invalid ({exc})") from None

    for k, a in params.items():
        if not np.issubdtype(a.dtype, np.floating):
            raise _bad(path, f"parameter {k!r} has dtype {a.dtype}, expected a float array")
    try:
        cell, layers, K, H = model_info(params)
        if params["V"].ndim != 2:
            raise ValueError(f"V must have shape (K, H), got {params['V'].shape}")
        shapes = param_shapes(K, H, cell=cell, layers=layers)
    except ValueError as exc:
        raise _bad(path, f"its weights do not form a model ({exc})") from None
    for k, shape in shapes.items():
        if params[k].shape != shape:
            raise _bad(path, f"parameter {k!r} has shape {params[k].shape} but a {layers}-layer "
                             f"{cell!r} model with K={K}, H={H} needs {shape}")
    if vocab.size != K:
        raise _bad(path, f"its vocabulary has {vocab.size} characters but the output layer V "
                         f"has K={K} rows; the file is inconsistent")

    optim_state = {k[len("optim/"):]: v for k, v in data.items() if k.startswith("optim/")}
    extra = {k[len("extra/"):]: v for k, v in data.items() if k.startswith("extra/")}
    return Checkpoint(params=params, vocab=vocab, config=config, step=int(step),
                      optim_state=optim_state, rng_state=rng_state, extra=extra)


def rng_from_state(state: dict) -> np.random.Generator:
    """A ``numpy.random.Generator`` continuing from ``rng.bit_generator.state``.

    Parameters
    ----------
    state : dict
        As saved in a checkpoint, e.g. ``{"bit_generator": "PCG64", "state": {...}, ...}``.
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    cls = getattr(np.random, name, None) if isinstance(name, str) else None
    if not (isinstance(cls, type) and issubclass(cls, np.random.BitGenerator)):
        raise ValueError(f"rng_from_state: expected the state of a numpy bit generator (a dict "
                         f"with 'bit_generator' such as 'PCG64'), got {state!r:.200}")
    bg = cls()
    try:
        bg.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"rng_from_state: invalid {name} state ({exc})") from None
    return np.random.Generator(bg)
