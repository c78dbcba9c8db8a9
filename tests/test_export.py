"""rnn.export: the model file the interactive pages load.

The layout is checked byte by byte against the module's specification
(struct and zlib here, not the module's own helpers), every cell and depth
round-trips, and every kind of damage is one ExportError that names it.
"""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest

import rnn
from rnn.data import Vocab
from rnn.export import FORMAT_VERSION, MAGIC, ExportError, from_bytes, load_export, save_export, to_bytes
from rnn.model import CELLS, init_params, param_shapes

VOCAB = Vocab.from_text("To be, or not to be\n")


def model(cell="rnn", H=5, layers=1, seed=0):
    return init_params(VOCAB.size, H, cell=cell, layers=layers, seed=seed)


def parse(data: bytes):
    """The file split by its specification (module docstring), independently."""
    magic, version, n, head_crc = struct.unpack_from("<4sIII", data)
    head = data[16:16 + n]
    start = 16 + n + (-(16 + n) % 4)
    return magic, version, head_crc, head, json.loads(head), start, data[start:]


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("layers", [1, 2])
def test_round_trip_every_cell(cell, layers):
    params = model(cell, layers=layers)
    meta = {"steps": 3, "note": "ünïcode", "nested": {"a": [1, 2.5]}}
    back = from_bytes(to_bytes(params, VOCAB, meta))
    assert back.vocab.chars == VOCAB.chars
    assert back.meta == meta
    assert list(back.params) == list(params)
    for name, value in params.items():
        assert back.params[name].dtype == np.float32
        np.testing.assert_array_equal(back.params[name], value.astype(np.float32))
    assert rnn.model.model_info(back.params) == rnn.model.model_info(params)


def test_layout_matches_the_specification():
    params = model("gru", H=4)
    data = to_bytes(params, VOCAB, {"x": 1})
    magic, version, head_crc, head, header, start, body = parse(data)
    assert magic == MAGIC == b"RNNM" and version == FORMAT_VERSION == 1
    assert head_crc == zlib.crc32(head)
    assert start % 4 == 0 and set(data[16 + len(head):start]) <= {0}
    assert header["cell"] == "gru" and header["layers"] == 1
    assert header["K"] == VOCAB.size and header["H"] == 4
    assert header["vocab"] == [ord(c) for c in VOCAB.chars]
    shapes = param_shapes(VOCAB.size, 4, cell="gru")
    assert header["params"] == [[k, list(s)] for k, s in shapes.items()]
    assert header["data_bytes"] == len(body) == 4 * sum(int(np.prod(s)) for s in shapes.values())
    assert header["data_crc32"] == zlib.crc32(body)
    # the weights, little-endian float32 in header order, C order
    offset = 0
    for name, shape in shapes.items():
        count = int(np.prod(shape))
        got = np.frombuffer(body, "<f4", count, offset).reshape(shape)
        np.testing.assert_array_equal(got, params[name].astype(np.float32))
        offset += 4 * count


def rewrite(data: bytes, *, header=None, version=None, body=None) -> bytes:
    """The file with a changed header, version or body, every checksum made right again."""
    _, v, _, _, h, _, b = parse(data)
    h = header(h) if header else h
    b = body if body is not None else b
    if body is not None:
        h["data_bytes"], h["data_crc32"] = len(b), zlib.crc32(b)
    head = json.dumps(h).encode()
    pad = b"\0" * (-(16 + len(head)) % 4)
    return struct.pack("<4sIII", MAGIC, version or v, len(head), zlib.crc32(head)) + head + pad + b


def test_every_single_bit_flip_is_caught():
    """A flipped bit anywhere (prelude, header, padding excepted, weights) is refused."""
    data = to_bytes(model("rnn", H=2), VOCAB)
    _, _, _, head, _, start, _ = parse(data)
    padding = range(16 + len(head), start)
    for i in range(len(data)):
        if i in padding:
            continue
        for bit in (0, 7):
            damaged = bytearray(data)
            damaged[i] ^= 1 << bit
            with pytest.raises(ExportError):
                from_bytes(bytes(damaged))


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:10], "too short"),
    (lambda d: b"XXXX" + d[4:], "does not start with b'RNNM'"),
    (lambda d: d[:4] + struct.pack("<I", 2) + d[8:], "format version 2, this reader reads version 1"),
    (lambda d: d[:8] + struct.pack("<I", 10 ** 6) + d[12:], "the file is cut"),
    (lambda d: d[:20] + bytes([d[20] ^ 1]) + d[21:], "header's CRC-32"),
    (lambda d: d[:-4], "the file is cut or was changed"),
    (lambda d: d + b"\0\0\0\0", "the file is cut or was changed"),
    (lambda d: d[:-1] + bytes([d[-1] ^ 1]), "the weights' CRC-32"),
])
def test_damage_is_named(damage, message):
    data = to_bytes(model(), VOCAB)
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_bytes(damage(data))


@pytest.mark.parametrize("change, message", [
    (lambda h: dict(h, cell="transformer"), "cell is 'transformer'"),
    (lambda h: dict(h, H=6), "are not those of a 1-layer 'rnn' model"),
    (lambda h: dict(h, K=True), "'K' must be a positive integer"),
    (lambda h: dict(h, layers=0), "'layers' must be a positive integer"),
    (lambda h: dict(h, vocab=h["vocab"][:-1]), "vocab has"),
    (lambda h: dict(h, vocab=[h["vocab"][0]] * len(h["vocab"])), "distinct"),
    (lambda h: dict(h, params=h["params"][:-1]), "are not those of"),
    (lambda h: dict(h, meta=[1]), "meta must be a JSON object"),
])
def test_a_header_that_does_not_describe_the_model_is_refused(change, message):
    data = rewrite(to_bytes(model(), VOCAB), header=change)
    with pytest.raises(ExportError, match=message.replace("(", r"\(")):
        from_bytes(data)


def test_a_well_formed_file_of_another_version_is_refused():
    data = rewrite(to_bytes(model(), VOCAB), version=FORMAT_VERSION + 1)
    with pytest.raises(ExportError, match="format version 2"):
        from_bytes(data)


def test_non_finite_weights_are_refused_both_ways():
    params = model()
    params["W"] = params["W"].copy()
    params["W"][0, 0] = 1e39  # finite in float64, infinite in float32
    with pytest.raises(ValueError, match=r"params\['W'\] holds NaN or infinite"):
        to_bytes(params, VOCAB)
    data = to_bytes(model(), VOCAB)
    *_, start, body = parse(data)
    bad = bytearray(body)
    bad[:4] = struct.pack("<f", float("nan"))
    with pytest.raises(ExportError, match="NaN or infinite"):
        from_bytes(rewrite(data, body=bytes(bad)))


def test_writer_refuses_what_it_cannot_describe():
    with pytest.raises(ValueError, match="the vocabulary has"):
        to_bytes(model(), Vocab.from_text("ab"))
    with pytest.raises(ValueError, match="meta must be JSON"):
        to_bytes(model(), VOCAB, {"x": float("nan")})
    with pytest.raises(ValueError, match="vocab must be an rnn.data.Vocab"):
        to_bytes(model(), VOCAB.chars)


def test_save_and_load(tmp_path):
    path = tmp_path / "sub" / "m.bin"
    params = model("gru")
    size = save_export(path, params, VOCAB, {"a": 1})
    assert size == os.path.getsize(path)
    back = load_export(path)
    np.testing.assert_array_equal(back.params["W_z"], params["W_z"].astype(np.float32))
    assert [p.name for p in path.parent.iterdir()] == ["m.bin"]  # no temporary file left
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(ExportError, match=r"m\.bin'.*cut"):
        load_export(path)
    with pytest.raises(ValueError, match="does not exist"):
        load_export(tmp_path / "missing.bin")


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "m.bin"
    save_export(path, model(seed=1), VOCAB)
    before = path.read_bytes()

    def fail(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="disk full"):
        save_export(path, model(seed=2), VOCAB)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.bin"]
