"""A trained model as one compact file that a web page can run.

The site's interactive pages run the forward pass of a character model in
the browser (``docs/javascripts/interactive/model.js``). They load the model
from a file in this format, which holds only what the forward pass needs:
the weights as float32, the vocabulary, and a description that the reader
checks before it uses a single number. Every integer is little-endian::

    offset      size   content
    0           4      magic b"RNNM"
    4           4      uint32 format version (FORMAT_VERSION)
    8           4      uint32 n, the length of the header in bytes
    12          4      uint32 CRC-32 of the header bytes
    16          n      the header: UTF-8 JSON (below)
    16 + n      0..3   zero bytes, so that the data starts at a multiple of 4
    data        ...    float32 arrays, one after the other, in C order

The header is a JSON object::

    {"cell": "gru", "layers": 1, "K": 67, "H": 96,
     "vocab": [10, 32, 33, ...],               # code points, id order
     "params": [["U_r", [96, 67]], ...],       # name and shape, in data order
     "data_bytes": 215236, "data_crc32": 1234567890,
     "meta": {...}}                            # free-form, JSON (training facts)

``params`` names exactly the arrays of :func:`rnn.model.param_shapes` for
the cell, K, H and layers, so a reader knows the layout from the header
alone. A file that is cut, damaged (a CRC-32 differs), of another format
version, or whose header does not describe a complete model is refused with
one :class:`ExportError` naming the problem, never half-read.
"""

from __future__ import annotations

import json
import math
import os
import struct
import zlib
from typing import NamedTuple

import numpy as np

from .data import Vocab
from .model import CELLS, model_info, param_shapes

__all__ = ["MAGIC", "FORMAT_VERSION", "ExportError", "Exported", "to_bytes", "from_bytes",
           "save_export", "load_export"]

#: The first four bytes of every file.
MAGIC = b"RNNM"
#: The version this module writes and reads. A reader refuses any other.
FORMAT_VERSION = 1

_PRELUDE = struct.Struct("<4sIII")  # magic, version, header length, header CRC-32
_MAX_HEADER = 1 << 24  # 16 MiB: far above any vocabulary a character model has


class ExportError(ValueError):
    """A file (or bytes) that is not a usable model export."""


class Exported(NamedTuple):
    """The contents of a model export.

    Attributes
    ----------
    params : dict of str to ndarray
        The weights, float32 (:func:`rnn.model.init_params` layout).
    vocab : rnn.data.Vocab
    meta : dict
        What the writer recorded (training settings, losses, ...).
    """

    params: dict
    vocab: Vocab
    meta: dict


def _crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


def to_bytes(params: dict, vocab: Vocab, meta: dict | None = None) -> bytes:
    """Encode a model as an export file (see the module docstring).

    Parameters
    ----------
    params : dict of str to ndarray
        A complete model (:func:`rnn.model.init_params`), any cell and
        number of layers; stored as float32.
    vocab : rnn.data.Vocab
        Its vocabulary (K characters).
    meta : dict, optional
        JSON-serialisable facts to store with it (e.g. how it was trained).

    Returns
    -------
    data : bytes

    Raises
    ------
    ValueError
        If ``params`` is not a complete model, the vocabulary's size is not
        its K, a weight is not finite (float32 included), or ``meta`` is not
        JSON.
    """
    func = "to_bytes"
    cell, layers, K, H = model_info(params)
    if not isinstance(vocab, Vocab):
        raise ValueError(f"{func}: vocab must be an rnn.data.Vocab, got {type(vocab).__name__}")
    if vocab.size != K:
        raise ValueError(f"{func}: the vocabulary has {vocab.size} characters but the model has "
                         f"K = {K}; pass the vocabulary the model was trained with")
    shapes = param_shapes(K, H, cell=cell, layers=layers)
    arrays = []
    for name, shape in shapes.items():
        a = np.asarray(params[name])
        if a.shape != shape:
            raise ValueError(f"{func}: params[{name!r}] must have shape {shape}, got {a.shape}")
        with np.errstate(over="ignore"):  # a weight beyond float32's range: refused below
            a = np.ascontiguousarray(a, dtype="<f4")
        if not np.isfinite(a).all():
            raise ValueError(f"{func}: params[{name!r}] holds NaN or infinite values (in float32)")
        arrays.append(a)
    data = b"".join(a.tobytes() for a in arrays)
    try:
        meta_json = json.loads(json.dumps(meta or {}, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{func}: meta must be JSON-serialisable (no NaN or inf): {exc}") from None
    header = {
        "cell": cell, "layers": layers, "K": K, "H": H,
        "vocab": [ord(ch) for ch in vocab.chars],
        "params": [[name, list(shape)] for name, shape in shapes.items()],
        "data_bytes": len(data), "data_crc32": _crc32(data),
        "meta": meta_json,
    }
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    pad = b"\0" * (-(_PRELUDE.size + len(head)) % 4)
    return _PRELUDE.pack(MAGIC, FORMAT_VERSION, len(head), _crc32(head)) + head + pad + data


def _field(header: dict, name: str, kind, what: str):
    value = header.get(name)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ExportError(f"the header's {name!r} must be {what}, got {value!r}")
    if kind is not int and not isinstance(value, kind):
        raise ExportError(f"the header's {name!r} must be {what}, got {value!r}")
    return value


def from_bytes(data: bytes) -> Exported:
    """Decode and check an export file's bytes.

    Parameters
    ----------
    data : bytes

    Returns
    -------
    Exported
        ``params`` as float32 arrays, the vocabulary and the meta dict.

    Raises
    ------
    ExportError
        With one sentence naming the problem: not this format (magic), another
        format version, a cut file, a damaged header or data (CRC-32), or a
        header that does not describe a complete model.
    """
    data = bytes(data)
    if len(data) < _PRELUDE.size:
        raise ExportError(f"the file is {len(data)} bytes long, too short for a model export "
                          f"(at least {_PRELUDE.size}); it is cut or not a model file")
    magic, version, n, head_crc = _PRELUDE.unpack_from(data)
    if magic != MAGIC:
        raise ExportError(f"the file does not start with {MAGIC!r} (it starts with {magic!r}): "
                          f"it is not an rnn model export")
    if version != FORMAT_VERSION:
        raise ExportError(f"the file has format version {version}, this reader reads version "
                          f"{FORMAT_VERSION}; export the model again with this version of rnn")
    if n > _MAX_HEADER or _PRELUDE.size + n > len(data):
        raise ExportError(f"the header is said to be {n} bytes but the file has "
                          f"{len(data) - _PRELUDE.size} after the prelude: the file is cut")
    head = data[_PRELUDE.size:_PRELUDE.size + n]
    if _crc32(head) != head_crc:
        raise ExportError(f"the header's CRC-32 is {_crc32(head):08x}, the file says "
                          f"{head_crc:08x}: the file is damaged")
    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExportError(f"the header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise ExportError("the header is not a JSON object")
    cell = header.get("cell")
    if cell not in CELLS:
        raise ExportError(f"the header's cell is {cell!r}, not one of {sorted(CELLS)}")
    layers = _field(header, "layers", int, "a positive integer")
    K = _field(header, "K", int, "a positive integer")
    H = _field(header, "H", int, "a positive integer")
    codes = _field(header, "vocab", list, f"a list of K = {K} code points")
    try:
        vocab = Vocab([chr(c) for c in codes])
    except (TypeError, ValueError, OverflowError) as exc:
        raise ExportError(f"the header's vocab is not a list of distinct code points: {exc}") from None
    if vocab.size != K:
        raise ExportError(f"the header's vocab has {vocab.size} characters, its K is {K}")
    expected = param_shapes(K, H, cell=cell, layers=layers)
    listed = _field(header, "params", list, "a list of [name, shape] pairs")
    try:
        listed = [(str(name), tuple(int(s) for s in shape)) for name, shape in listed]
    except (TypeError, ValueError) as exc:
        raise ExportError(f"the header's params is not a list of [name, shape] pairs: {exc}") from None
    if sorted(listed) != sorted(expected.items()):
        raise ExportError(f"the header's params {listed} are not those of a {layers}-layer "
                          f"{cell!r} model with K = {K}, H = {H}: {sorted(expected.items())}")
    start = _PRELUDE.size + n + (-(_PRELUDE.size + n) % 4)
    body = data[start:]
    size = 4 * sum(math.prod(shape) for _, shape in listed)
    if header.get("data_bytes") != size or len(body) != size:
        raise ExportError(f"the weights take {size} bytes; the header says "
                          f"{header.get('data_bytes')!r} and the file holds {len(body)}: the "
                          f"file is cut or was changed")
    said = header.get("data_crc32")
    if _crc32(body) != said:
        said = f"{said:08x}" if isinstance(said, int) and not isinstance(said, bool) else repr(said)
        raise ExportError(f"the weights' CRC-32 is {_crc32(body):08x}, the header says {said}: "
                          f"the file is damaged")
    meta = header.get("meta", {})
    if not isinstance(meta, dict):
        raise ExportError(f"the header's meta must be a JSON object, got {type(meta).__name__}")
    params, offset = {}, 0
    for name, shape in listed:
        count = math.prod(shape)
        params[name] = np.frombuffer(body, dtype="<f4", count=count, offset=offset).reshape(shape).copy()
        offset += 4 * count
    bad = [name for name, a in params.items() if not np.isfinite(a).all()]
    if bad:
        raise ExportError(f"the weights {bad} hold NaN or infinite values")
    return Exported({name: params[name] for name in expected}, vocab, meta)


def save_export(path, params: dict, vocab: Vocab, meta: dict | None = None) -> int:
    """Write :func:`to_bytes` to ``path`` (atomically: a complete file or none).

    Returns
    -------
    size : int
        The number of bytes written.
    """
    from ._checks import atomic_write

    data = to_bytes(params, vocab, meta)
    atomic_write(path, lambda f: f.write(data))
    return len(data)


def load_export(path) -> Exported:
    """Read and check an export file (:func:`from_bytes`).

    Raises
    ------
    ExportError
        For a file that is not a usable export (the message names the path).
    ValueError
        For a path that is missing or not a regular file.
    """
    from ._checks import open_regular

    with open_regular(path, "model export", "pass the path of a file written by rnn export") as f:
        data = f.read()
    try:
        return from_bytes(data)
    except ExportError as exc:
        raise ExportError(f"{os.fspath(path)!r}: {exc}") from None
