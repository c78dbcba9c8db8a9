"""Save and load training checkpoints as plain ``.npz`` files.

A checkpoint holds everything needed to sample from a model or to resume
training exactly where it stopped, using arrays only, so it also loads with
``np.load(path, allow_pickle=False)``:

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
crash mid-write leaves the previous checkpoint intact. Weights or optimiser
state holding NaN or infinite values are never written.

Reading is safe for a file from anywhere (:func:`load_checkpoint`): it does
not use ``np.load`` but reads the zip directory and every ``.npy`` header
itself, checks them all against the model that the vocabulary and the
weights' names and output layer describe, and only then reads data, never
more than a header declares. Any bad file is one :class:`CheckpointError`.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import warnings
import zipfile
from dataclasses import dataclass, field

import numpy as np
from numpy.lib import format as npformat

from ._checks import atomic_write, available_memory, check_int, format_bytes, open_regular
from .data import Vocab
from .model import model_layout, param_shapes
from .optim import OPTIMIZERS

__all__ = ["FORMAT", "Checkpoint", "CheckpointError", "save_checkpoint", "load_checkpoint",
           "rng_from_state", "extra_limit"]

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
    optim_state = _check_names("optim_state", optim_state)
    extra = _check_names("extra", extra)
    for what, d in (("params", params), ("optim_state", optim_state)):
        for k, a in d.items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise ValueError(f"save_checkpoint: {what}[{k!r}] holds NaN or infinite values; "
                                 f"a checkpoint never stores a diverged model")
    limit = extra_limit(sum(a.nbytes for a in params.values()))
    if sum(a.nbytes for a in extra.values()) > limit:
        raise ValueError(f"save_checkpoint: extra holds more than {format_bytes(limit)} (twice "
                         f"the weights, or 64 MiB), which load_checkpoint would refuse")
    arrays = {"format": np.array(FORMAT),
              "vocab": vocab.to_array(),
              "config": np.array(_to_json("config", config)),
              "step": np.array(step, dtype=np.int64),
              "rng": np.array(_to_json("rng_state", rng_state))}
    for prefix, d in (("param", params), ("optim", optim_state), ("extra", extra)):
        for k, a in d.items():
            arrays[f"{prefix}/{k}"] = a

    atomic_write(path, lambda f: np.savez(f, **arrays))


class CheckpointError(ValueError):
    """A file that is not a usable rnn checkpoint.

    The one error :func:`load_checkpoint` raises for any bad file (missing,
    a folder, a device, text, truncated or corrupt bytes, a crafted archive,
    an inconsistent model, non-finite weights). Its message is one line
    naming the file and the problem.
    """


def _bad(path, problem: str) -> CheckpointError:
    problem = " ".join(problem.split())  # one line, whatever an exception's text held
    return CheckpointError(f"{path!r} is not an rnn checkpoint: {problem}")


# Limits of what the loader reads. Each is far above what `rnn train` writes.
_MAX_MEMBERS = 100_000  # entries of the archive
_MAX_HEADER = 10_000  # bytes of one .npy header (NumPy's own default limit)
_MAX_JSON_CHARS = 1 << 20  # characters of the 'config' and 'rng' JSON
_MAX_JSON_DEPTH = 32  # nesting of [ and { in that JSON
_MAX_FORMAT_CHARS = 64
_EXTRA_ALLOWANCE = 64 << 20  # bytes of extra/ entries beyond twice the weights
# Deflate cannot expand data by more than 1032:1 (a 258-byte match costs at
# least 2 bits); a member claiming more is corrupt or crafted.
_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20  # bytes decompressed and copied at a time
_WEIGHT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_SLOTS = sorted({slot for cls in OPTIMIZERS.values() for slot in cls._slots})
_TOP_LEVEL = ("format", "config", "rng", "step", "vocab")  # besides param/, optim/, extra/


@dataclass
class _Member:
    """One ``.npy`` entry of the archive, as its header declares it (no data read)."""

    key: str  # the entry name without ".npy", e.g. "param/U"
    info: zipfile.ZipInfo
    dtype: np.dtype = None
    shape: tuple = ()
    fortran: bool = False
    offset: int = 0  # bytes of magic and header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def extra_limit(param_bytes: int) -> int:
    """Bytes the ``extra/`` entries of a checkpoint may hold together: twice the
    weights' bytes, or 64 MiB if that is more (the loader refuses more)."""
    return max(_EXTRA_ALLOWANCE, 2 * param_bytes)


def load_checkpoint(path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint`, safely.

    The file is read as a zip archive of ``.npy`` entries without NumPy's
    pickle support, so no code in it can run. The archive's directory and
    every entry's ``.npy`` header (dtype and shape) are checked against the
    model that the vocabulary, the parameter names and the output layer
    describe *before* any data is read, and no entry is decompressed past
    the size its header declares. Memory use is therefore bounded by the
    model the file describes (and by about 1,000 times the file's size,
    the most deflate can expand), and the available memory is checked
    before anything is allocated.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Checkpoint

    Raises
    ------
    CheckpointError
        (a ValueError) for every bad file, with one line naming it and the
        problem: a missing file, a folder, a device or FIFO, a file that is
        not an ``.npz`` archive (text, random or truncated bytes, a single
        ``.npy``), an encrypted or unknown-compression entry, an entry that
        is not plain ``.npy`` data (object arrays, unreadable headers), an
        archive that is not an rnn checkpoint, missing or unexpected entries,
        bad JSON, a bad vocabulary, weights whose shapes do not form the
        model, a model larger than the available memory, and weights or
        optimiser state holding NaN or infinite values.
    """
    shown = os.fspath(path)
    hint = f"pass the .npz file inside it, e.g. {os.path.join(shown, 'checkpoint.npz')!r}"
    try:
        with open_regular(path, "checkpoint", hint) as f:
            return _load(shown, f)
    except CheckpointError:
        raise
    except ValueError as exc:  # from open_regular: missing, a folder, a device, unreadable
        raise CheckpointError(str(exc)) from None
    except MemoryError:
        raise _bad(shown, "there is not enough memory to read it") from None
    except Exception as exc:  # the last line of defence: still one error type, one line
        raise _bad(shown, f"reading it failed ({type(exc).__name__}: {exc})") from None


def _load(shown: str, f) -> Checkpoint:
    size = os.fstat(f.fileno()).st_size
    head = f.read(8)
    f.seek(0)
    if not head:
        raise _bad(shown, "it cannot be read as an .npz archive: the file is empty")
    if head.startswith(b"\x93NUMPY"):
        raise _bad(shown, "it is a single .npy array, not an .npz archive")
    if not head.startswith(b"PK"):
        raise _bad(shown, "it cannot be read as an .npz archive: it does not start with a zip "
                          "signature (is it a text file?)")
    try:
        zf = zipfile.ZipFile(f)
    except Exception as exc:  # BadZipFile, EOFError, OSError, ValueError, ...
        raise _bad(shown, f"it cannot be read as an .npz archive, it may be corrupt or truncated "
                          f"({type(exc).__name__}: {exc})") from None
    with zf:
        members = _directory(shown, zf, size)
        for m in members.values():
            _read_header(shown, zf, m)
        small = _read_small(shown, zf, members)
        _check_plan(shown, members, small[0], small[3])
        return _read_all(shown, zf, members, *small)


def _directory(shown: str, zf: zipfile.ZipFile, size: int) -> dict:
    """The archive's entries by key, after checking what the zip directory says."""
    infos = zf.infolist()
    if len(infos) > _MAX_MEMBERS:
        raise _bad(shown, f"it has {len(infos):,} entries, more than any checkpoint "
                          f"({_MAX_MEMBERS:,})")
    members = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or info.is_dir():
            raise _bad(shown, f"its entry {name!r} is not .npy data")
        key = name[:-len(".npy")]
        if key in members:
            raise _bad(shown, f"its entry {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise _bad(shown, f"its entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _bad(shown, f"its entry {name!r} uses compression method {info.compress_type}; "
                              f"only stored and deflated entries are read")
        if info.header_offset + info.compress_size > size:
            raise _bad(shown, f"its entry {name!r} runs past the end of the file; the file is "
                              f"truncated")
        stored = info.compress_type == zipfile.ZIP_STORED
        if (stored and info.compress_size != info.file_size) or \
                info.file_size > _DEFLATE_RATIO * info.compress_size + _MAX_HEADER:
            raise _bad(shown, f"its entry {name!r} claims {info.file_size:,} bytes from "
                              f"{info.compress_size:,} compressed ones, which is impossible; the "
                              f"archive is corrupt")
        members[key] = _Member(key, info)
    if "format" not in members:
        keys = sorted(members)
        raise _bad(shown, f"it is an .npz archive without a 'format' entry (it holds "
                          f"{keys[:8]}{'...' if len(keys) > 8 else ''}); only files saved by "
                          f"`rnn train` can be loaded")
    return members


def _member_error(shown: str, m: _Member, exc: Exception) -> CheckpointError:
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc):
        return _bad(shown, f"its entry {m.key!r} is corrupt (its CRC-32 checksum does not match)")
    return _bad(shown, f"its entry {m.key!r} cannot be read, the file may be corrupt or truncated "
                       f"({type(exc).__name__}: {exc})")


def _read_header(shown: str, zf: zipfile.ZipFile, m: _Member) -> None:
    """Fill in ``m``'s dtype, shape and data offset from its .npy header (no data read)."""
    try:
        with zf.open(m.info) as stream:
            magic = stream.read(8)
            if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
                raise _bad(shown, f"its entry {m.key!r} is not .npy data")
            version = (magic[6], magic[7])
            if version not in ((1, 0), (2, 0)):
                raise _bad(shown, f"its entry {m.key!r} uses .npy format version "
                                  f"{version[0]}.{version[1]}; only 1.0 and 2.0 are read")
            length_field = stream.read(2 if version == (1, 0) else 4)
            length = int.from_bytes(length_field, "little")
            if length > _MAX_HEADER:
                raise _bad(shown, f"its entry {m.key!r} has a .npy header of {length:,} bytes "
                                  f"(at most {_MAX_HEADER:,} are read)")
            header = stream.read(length)
    except CheckpointError:
        raise
    except Exception as exc:
        raise _member_error(shown, m, exc) from None
    if len(length_field) < (2 if version == (1, 0) else 4) or len(header) < length:
        raise _bad(shown, f"its entry {m.key!r} ends inside its .npy header; the file is "
                          f"truncated")
    reader = (npformat.read_array_header_1_0 if version == (1, 0)
              else npformat.read_array_header_2_0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # NumPy's note about Python 2 headers
            shape, fortran, dtype = reader(io.BytesIO(length_field + header),
                                           max_header_size=_MAX_HEADER)
    except Exception as exc:  # ValueError, SyntaxError, tokenize errors, RecursionError, ...
        raise _bad(shown, f"its entry {m.key!r} has an unreadable .npy header "
                          f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None
    if dtype.hasobject or dtype.names is not None or dtype.subdtype is not None or \
            dtype.kind not in "biufU":
        raise _bad(shown, f"its entry {m.key!r} has dtype {dtype}; checkpoints hold plain "
                          f"numbers and strings only (an object array would need pickle)")
    if any(n < 0 for n in shape):
        raise _bad(shown, f"its entry {m.key!r} declares the impossible shape {shape}")
    m.dtype, m.shape, m.fortran = dtype, tuple(shape), bool(fortran)
    m.offset = 8 + len(length_field) + length
    if m.info.file_size != m.offset + m.nbytes:
        raise _bad(shown, f"its entry {m.key!r} declares shape {m.shape} of {dtype} "
                          f"({m.nbytes:,} bytes) but holds {m.info.file_size - m.offset:,} bytes "
                          f"of data; the file is corrupt or truncated")


def _read_data(shown: str, zf: zipfile.ZipFile, m: _Member) -> np.ndarray:
    """The data of ``m``, never decompressing more than its header declares."""
    flat = np.empty(math.prod(m.shape), dtype=m.dtype)
    buf = flat.view(np.uint8)
    try:
        with zf.open(m.info) as stream:
            stream.read(m.offset)  # magic and header, read before
            pos = 0
            while pos < m.nbytes:
                chunk = stream.read(min(_CHUNK, m.nbytes - pos))
                if not chunk:
                    raise _bad(shown, f"its entry {m.key!r} ends after {pos:,} of "
                                      f"{m.nbytes:,} bytes; the file is truncated")
                buf[pos:pos + len(chunk)] = np.frombuffer(chunk, np.uint8)
                pos += len(chunk)
            if stream.read(1):  # also completes the CRC-32 check
                raise _bad(shown, f"its entry {m.key!r} holds more data than its header "
                                  f"declares")
    except CheckpointError:
        raise
    except Exception as exc:
        raise _member_error(shown, m, exc) from None
    a = flat.reshape(m.shape, order="F" if m.fortran else "C")
    return a if a.dtype.isnative else a.astype(a.dtype.newbyteorder("="))


def _expect(shown: str, m: _Member, kinds: str, ndim: int, what: str, max_items=None) -> None:
    if m.dtype.kind not in kinds or len(m.shape) != ndim or \
            (max_items is not None and math.prod(m.shape) > max_items):
        raise _bad(shown, f"its {m.key!r} entry must be {what}, got {m.dtype} of shape {m.shape}")


def _json_depth(text: str) -> int:
    brackets = re.sub(r"[^\[\]{}]", "", re.sub(r'"(?:[^"\\]|\\.)*"', "", text))
    if not brackets:
        return 0
    b = np.frombuffer(brackets.encode(), np.uint8)
    return int(np.cumsum(np.where((b == ord("[")) | (b == ord("{")), 1, -1)).max())


def _parse_json(shown: str, key: str, a: np.ndarray) -> dict:
    text = str(a)
    depth = _json_depth(text)
    if depth > _MAX_JSON_DEPTH:
        raise _bad(shown, f"its {key!r} entry is JSON nested {depth} levels deep (at most "
                          f"{_MAX_JSON_DEPTH} are read)")
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise _bad(shown, f"its {key!r} entry is not valid JSON ({exc})") from None
    if not isinstance(obj, dict):
        raise _bad(shown, f"its {key!r} entry must be a JSON object, got {type(obj).__name__}")
    return obj


def _read_small(shown: str, zf: zipfile.ZipFile, members: dict) -> tuple:
    """The format, config, rng, step and vocabulary entries, checked."""
    fmt = members["format"]
    _expect(shown, fmt, "U", 0, "a 0-d string")
    if fmt.dtype.itemsize > 4 * _MAX_FORMAT_CHARS:
        raise _bad(shown, f"its 'format' entry is {fmt.dtype}, expected {FORMAT!r}")
    value = str(_read_data(shown, zf, fmt))
    if value != FORMAT:
        raise _bad(shown, f"its format is {value[:_MAX_FORMAT_CHARS]!r}, expected {FORMAT!r}")
    for key in members:
        if key not in _TOP_LEVEL and not key.startswith(("param/", "optim/", "extra/")):
            raise _bad(shown, f"it holds an unexpected entry {key!r}")
    missing = [k for k in ("vocab", "config", "step", "rng") if k not in members]
    if not any(k.startswith("param/") for k in members):
        missing.append("param/...")
    if missing:
        raise _bad(shown, f"entries {missing} are missing; the file is incomplete")
    for key in ("config", "rng"):
        _expect(shown, members[key], "U", 0, "a 0-d string (JSON)")
        if members[key].dtype.itemsize > 4 * _MAX_JSON_CHARS:
            raise _bad(shown, f"its {key!r} entry holds {members[key].dtype.itemsize // 4:,} "
                              f"characters (at most {_MAX_JSON_CHARS:,} are read)")
    _expect(shown, members["step"], "iu", 0, "a 0-d integer")
    _expect(shown, members["vocab"], "iu", 1, "a 1-D integer array of code points", 0x110000)
    config = _parse_json(shown, "config", _read_data(shown, zf, members["config"]))
    rng_state = _parse_json(shown, "rng", _read_data(shown, zf, members["rng"]))
    step = int(_read_data(shown, zf, members["step"]))
    if step < 0:
        raise _bad(shown, f"its 'step' entry must be a non-negative 0-d integer, got {step}")
    try:
        vocab = Vocab.from_array(_read_data(shown, zf, members["vocab"]))
    except ValueError as exc:
        raise _bad(shown, f"its vocabulary is invalid ({exc})") from None
    return config, rng_state, step, vocab


def _check_plan(shown: str, members: dict, config: dict, vocab: Vocab) -> None:
    """Check every weight, optimiser and extra header against the model that
    the vocabulary, the parameter names and V's header describe, and the
    memory all of it needs, before any of their data is read."""
    params = {k[len("param/"):]: m for k, m in members.items() if k.startswith("param/")}
    try:
        cell, layers = model_layout(params)
        if len(params["V"].shape) != 2:
            raise ValueError(f"V must have shape (K, H), got {params['V'].shape}")
        K, H = params["V"].shape
        if K != vocab.size:
            raise _bad(shown, f"its vocabulary has {vocab.size} characters but the output layer "
                              f"V has K={K} rows; the file is inconsistent")
        shapes = param_shapes(K, H, cell=cell, layers=layers)
    except ValueError as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise _bad(shown, f"its weights do not form a model ({exc})") from None
    said = {"cell": cell, "layers": layers, "hidden": H}
    for k, v in said.items():
        if k in config and config[k] != v:
            raise _bad(shown, f"its config says {k}={config[k]!r} but its weights are a "
                              f"{layers}-layer {cell!r} model with H={H}; the file is inconsistent")
    dtypes = set()
    for k, shape in shapes.items():
        m = params[k]
        if m.dtype.newbyteorder("=") not in _WEIGHT_DTYPES:
            raise _bad(shown, f"parameter {k!r} has dtype {m.dtype}, expected float32 or float64")
        if m.shape != shape:
            raise _bad(shown, f"parameter {k!r} has shape {m.shape} but a {layers}-layer {cell!r} "
                              f"model with K={K}, H={H} needs {shape}")
        dtypes.add(m.dtype.newbyteorder("="))
    if len(dtypes) > 1:
        raise _bad(shown, f"its weights mix dtypes {sorted(map(str, dtypes))}")
    param_bytes = sum(m.nbytes for m in params.values())
    extra_bytes = 0
    for key, m in members.items():
        name = key.partition("/")[2]
        if key == "optim/step":
            _expect(shown, m, "iu", 0, "a 0-d integer")
        elif key.startswith("optim/"):
            slot, _, pname = name.partition("/")
            if slot not in _SLOTS or pname not in shapes:
                raise _bad(shown, f"it holds an unexpected optimiser entry {key!r}")
            if m.dtype.newbyteorder("=") not in _WEIGHT_DTYPES or m.shape != shapes[pname]:
                raise _bad(shown, f"optimiser entry {key!r} has {m.dtype} of shape {m.shape}; "
                                  f"it must be float32 or float64 of shape {shapes[pname]}, as "
                                  f"parameter {pname!r}")
        elif key.startswith("extra/"):
            if m.dtype.kind not in "biuf":
                raise _bad(shown, f"its entry {key!r} has dtype {m.dtype}, expected numbers")
            extra_bytes += m.nbytes
    limit = extra_limit(param_bytes)
    if extra_bytes > limit:
        raise _bad(shown, f"its extra/ entries declare {format_bytes(extra_bytes)}, more than "
                          f"the {format_bytes(limit)} a checkpoint of this model may hold")
    total = sum(m.nbytes for m in members.values())
    available = available_memory()
    if available is not None and total > available:
        raise _bad(shown, f"its entries need {format_bytes(total)} of memory, more than the "
                          f"{format_bytes(available)} available")


def _read_all(shown: str, zf: zipfile.ZipFile, members: dict, config, rng_state, step,
              vocab) -> Checkpoint:
    groups = {"param": {}, "optim": {}, "extra": {}}
    for key, m in members.items():
        prefix, _, name = key.partition("/")
        if prefix in groups:
            groups[prefix][name] = _read_data(shown, zf, m)
    for prefix, what in (("param", "parameter"), ("optim", "optimiser entry")):
        for name, a in groups[prefix].items():
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise CheckpointError(
                    f"{shown!r} cannot be used: {what} {name!r} holds NaN or infinite values (the "
                    f"run had diverged when it was saved); use an earlier checkpoint")
    return Checkpoint(params=groups["param"], vocab=vocab, config=config, step=step,
                      optim_state=groups["optim"], rng_state=rng_state, extra=groups["extra"])


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
