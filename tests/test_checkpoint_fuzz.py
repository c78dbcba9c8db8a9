"""Fuzzing rnn.checkpoint.load_checkpoint with damaged and crafted files.

A seeded generator turns valid checkpoints of every cell (stored and
deflated) into damaged or hostile ones: truncation, bit flips, missing,
extra, mis-shaped, object-dtype and non-.npy entries, huge or negative
declared shapes, compression bombs and lying zip directories, encrypted and
unknown-compression entries, unterminated or oversized .npy headers, bad or
deeply nested JSON, bad vocabularies and non-finite values. Every case must
end in the loader's own error (CheckpointError, one line naming the file),
or, for a harmless change (a flipped bit in a timestamp), in a consistent
checkpoint, within the time and memory bounds below.

RNN_FUZZ_CASES=N runs N cases instead of the default (e.g. 100000 for a long
run); the count is printed in pytest's summary.
"""

import io
import json
import os
import random
import struct
import tempfile
import time
import tracemalloc
import warnings
import zipfile
import zlib

import numpy as np

from rnn.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from rnn.data import Vocab
from rnn.model import CELLS, init_params, model_info, param_shapes
from rnn.optim import Adam

# --8<-- [start:cases]
DEFAULT_FUZZ_CASES = 300  # RNN_FUZZ_CASES=N for a longer run
SECONDS_PER_CASE = 5.0  # generous (a case takes milliseconds): catches hangs, not speed
PEAK_BYTES = 32 << 20  # what loading one of these files (all < 1 MB) may allocate
# --8<-- [end:cases]


def fuzz_cases() -> int:
    return int(os.environ.get("RNN_FUZZ_CASES", DEFAULT_FUZZ_CASES))


# ---------------------------------------------------------------- building archives

def npy(a) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def npy_raw(header: str, payload: bytes = b"", version=(1, 0)) -> bytes:
    """A .npy entry with any header text (crafted headers)."""
    h = header.encode("latin1")
    length = struct.pack("<H", len(h)) if version == (1, 0) else struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes(version) + length + h + payload


def build(members, method=zipfile.ZIP_STORED) -> bytes:
    """A zip of ``members``: a list of (name, bytes) or (name, bytes, method, flag_bits)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for m in members:
            name, data = m[0], m[1]
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.compress_type = m[2] if len(m) > 2 else method
            if len(m) > 3:
                info.flag_bits |= m[3]
            z.writestr(info, data)
    return buf.getvalue()


def patch_central(data: bytes, name: str, offset: int, fmt: str, value) -> bytes:
    """Overwrite a field of ``name``'s central-directory record (what readers trust)."""
    out = bytearray(data)
    pos = out.find(b"PK\x01\x02")
    while pos >= 0:
        n = struct.unpack_from("<H", out, pos + 28)[0]
        if out[pos + 46:pos + 46 + n].decode() == name:
            struct.pack_into(fmt, out, pos + offset, value)
        pos = out.find(b"PK\x01\x02", pos + 4)
    return bytes(out)


def base_members(cell: str, dtype) -> list:
    """The entries of a valid checkpoint of a small 2-layer model (name, bytes)."""
    vocab = Vocab.from_text("abcdef")
    params = init_params(6, 4, cell=cell, layers=2, seed=1, dtype=dtype)
    opt = Adam(0.01)
    opt.step(params, {k: np.ones_like(v) for k, v in params.items()})
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.npz")
        save_checkpoint(path, params=params, vocab=vocab, step=3,
                        config={"cell": cell, "hidden": 4, "layers": 2},
                        optim_state=opt.state_dict(),
                        rng_state=np.random.default_rng(0).bit_generator.state,
                        extra={"state": np.zeros((2, CELLS[cell].N_STATES, 3, 4), dtype),
                               "batcher.pos": np.array(8)})
        with zipfile.ZipFile(path) as z:
            return [(i.filename, z.read(i)) for i in z.infolist()]


BASES = [(cell, dtype) for cell in sorted(CELLS) for dtype in (np.float32, np.float64)]
_cache = {}


def base(rng):
    key = BASES[rng.randrange(len(BASES))]
    if key not in _cache:
        _cache[key] = base_members(*key)
    return list(_cache[key]), key[0]


def raw_zip(entries) -> bytes:
    """A zip written by hand from (name, method, compressed bytes, crc, size) entries."""
    body, central = b"", b""
    for name, method, data, crc, size in entries:
        fname = name.encode()
        central += struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, method, 0, 0, crc,
                               len(data), size, len(fname), 0, 0, 0, 0, 0, len(body)) + fname
        body += struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, method, 0, 0, crc, len(data), size,
                            len(fname), 0) + fname + data
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central),
                      len(body), 0)
    return body + central + end


def deflated_zeros(header: str, n: int) -> tuple:
    """(deflated bytes, crc, size) of a .npy header followed by n zero bytes; made a
    megabyte at a time and cached (the CRC is right: only the loader's limits can stop it)."""
    key = (header, n)
    if key not in _cache:
        head = npy_raw(header)
        c, crc = zlib.compressobj(9, zlib.DEFLATED, -15), zlib.crc32(head)
        out, block = [c.compress(head)], bytes(1 << 20)
        for size in [1 << 20] * (n >> 20) + [n & ((1 << 20) - 1)]:
            out.append(c.compress(block[:size]))
            crc = zlib.crc32(block[:size], crc)
        out.append(c.flush())
        _cache[key] = (b"".join(out), crc, len(head) + n)
    return _cache[key]


def with_bomb(members, name: str, header: str, n: int) -> bytes:
    """``members`` stored as they are, and entry ``name`` replaced by a deflate bomb."""
    entries = [(m, zipfile.ZIP_STORED, d, zlib.crc32(d), len(d)) for m, d in members if m != name]
    return raw_zip(entries + [(name, zipfile.ZIP_DEFLATED, *deflated_zeros(header, n))])


def _replace(members, name, data):
    return [(n, data if n == name else d) for n, d in members]


def _pick(rng, members, prefix=""):
    names = [n for n, _ in members if n.startswith(prefix)]
    return names[rng.randrange(len(names))]


# ---------------------------------------------------------------- the mutations

def m_truncate(rng):
    data = build(base(rng)[0])
    return data[:rng.randrange(len(data))]


def m_bit_flips(rng):
    data = bytearray(build(base(rng)[0], rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])))
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    return bytes(data)


def m_drop_entry(rng):
    members, _ = base(rng)
    del members[rng.randrange(len(members))]
    return build(members)


def m_extra_entry(rng):
    members, _ = base(rng)
    name = rng.choice(["weights.npy", "param/Q.npy", "optim/m/Q.npy", "optim/velocity/U.npy",
                       "config2.npy", "extra/../../etc.npy"])
    return build(members + [(name, npy(np.zeros(3)))])


def m_misshaped(rng):
    members, _ = base(rng)
    name = _pick(rng, members, rng.choice(["param/", "optim/m/", "optim/v/"]))
    shape = tuple(rng.randint(0, 7) for _ in range(rng.randint(0, 3)))
    return build(_replace(members, name, npy(np.zeros(shape))))


def header(descr, shape) -> str:
    return f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape}, }}"


def crafted_entry(rng, prefix: str, text: str, payload: bytes) -> bytes:
    """A valid checkpoint with one entry (named ``prefix...``) replaced by a crafted .npy."""
    members, _ = base(rng)
    return build(_replace(members, _pick(rng, members, prefix), npy_raw(text, payload)))


def m_object_dtype(rng):
    payload = b"\x80\x04\x95" + os.urandom(40)  # the start of a pickle
    return crafted_entry(rng, "", header("|O", (2,)), payload)


def m_structured_dtype(rng):
    return crafted_entry(rng, "param/", header([("a", "<f8"), ("b", "|O")], (1,)), bytes(16))


def m_not_npy(rng):
    members, _ = base(rng)
    payload = rng.choice([b"hello, world\n", os.urandom(rng.randint(0, 200)), b"\x93NUMP"])
    return build(_replace(members, _pick(rng, members), payload))


def m_huge_shape(rng):
    dim = rng.choice([10 ** 6, 2 ** 31, 10 ** 12, 2 ** 62, 10 ** 30])
    shape = rng.choice([(dim,), (dim, dim), (6, dim), (dim, 4)])
    prefix = rng.choice(["param/", "optim/", "extra/", "vocab"])
    return crafted_entry(rng, prefix, header("<f8", shape), bytes(64))


def m_negative_shape(rng):
    return crafted_entry(rng, "param/", header("<f8", (-1, 4)), bytes(32))


def m_consistent_huge_model(rng):
    """Every weight declares H = 10**6, consistently: a 6.6 KB file describing terabytes."""
    members, cell = base(rng)
    H = rng.choice([10 ** 5, 10 ** 6, 10 ** 9])
    shapes = param_shapes(6, H, cell=cell, layers=2)
    out = []
    for n, d in members:
        key = n[:-4]
        if key.startswith(("param/", "optim/m/", "optim/v/")):
            shape = shapes[key.split("/")[-1]]
            d = npy_raw(header("<f4", shape), bytes(64))
        elif key == "config":
            d = npy(np.array(json.dumps({"cell": cell, "hidden": H, "layers": 2})))
        out.append((n, d))
    return build(out)


def m_extra_bomb(rng):
    """A 100 MB extra/ entry of zeros, deflated to about 100 KB, in a valid checkpoint."""
    members, _ = base(rng)
    return with_bomb(members, "extra/bomb.npy", header("|u1", (104857600,)), 104857600)


def m_param_bomb(rng):
    """A weight that expands to 100 MB of zeros, declared with the small shape that fits
    the model (its data runs on past the header's size) or with the 100 MB it holds."""
    members, _ = base(rng)
    shape = rng.choice([(4, 4), (13107200,)])
    return with_bomb(members, "param/W.npy", header("<f8", shape), 104857600)


def m_lying_sizes(rng):
    members, _ = base(rng)
    method = rng.choice([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
    data = build(members, method)
    name = _pick(rng, members)
    field, fmt = rng.choice([(20, "<I"), (24, "<I")])  # compressed / uncompressed size
    return patch_central(data, name, field, fmt, rng.choice([0, 1, 2 ** 31, 2 ** 32 - 1]))


def m_encrypted(rng):
    members, _ = base(rng)
    return patch_central(build(members), _pick(rng, members), 8, "<H", rng.choice([0x1, 0x41]))


def m_compression_method(rng):
    members, _ = base(rng)
    name = _pick(rng, members)
    if rng.random() < 0.5:
        return build([(n, d, zipfile.ZIP_LZMA if n == name else zipfile.ZIP_STORED)
                      for n, d in members])
    return patch_central(build(members), name, 10, "<H", rng.choice([1, 6, 97, 99]))


def m_bad_header(rng):
    members, _ = base(rng)
    header = rng.choice([
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4,",  # unterminated
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 4), 'x': 1}",
        "['not', 'a', 'dict']",
        "{'descr': 'float128zz', 'fortran_order': False, 'shape': (4,), }",
        "{'descr': '<f8', 'fortran_order': 'yes', 'shape': (4,), }",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (4.5,), }",
        "{'descr': " + "(" * 3000 + "'<f8'" + ")" * 3000 + ", 'fortran_order': False, 'shape': ()}",
        "__import__('os').system('echo pwned')",
    ])
    version = rng.choice([(1, 0), (2, 0), (3, 0), (9, 9)])
    return build(_replace(members, _pick(rng, members), npy_raw(header, bytes(128), version)))


def m_long_header(rng):
    members, _ = base(rng)
    claimed = rng.choice([20_000, 2 ** 31, 2 ** 32 - 1])
    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", claimed) + b"{" * 100
    return build(_replace(members, _pick(rng, members), data))


def m_bad_json(rng):
    members, _ = base(rng)
    key = rng.choice(["config", "rng"])
    text = rng.choice(["{not json", "[1, 2, 3]", '"a string"', "", "null",
                       "[" * 100_000 + "]" * 100_000, '{"a": ' * 50_000 + "1" + "}" * 50_000,
                       json.dumps({"x": "y" * 1_100_000}), "{\"a\": NaN}"])
    value = np.array(text) if rng.random() < 0.8 else np.array([text, text])
    return build(_replace(members, key + ".npy", npy(value)))


def m_bad_vocab(rng):
    members, _ = base(rng)
    vocab = rng.choice([np.array([97, 98, 99, 100, 101, 101], np.int32),  # a duplicate
                        np.array([-1, 98, 99, 100, 101, 102], np.int64),
                        np.array([97, 98, 99, 100, 101, 0x110000], np.int64),
                        np.arange(97, 103, dtype=np.float64),
                        np.arange(97, 103, dtype=np.int32).reshape(2, 3),
                        np.zeros(0, np.int32),
                        np.arange(97, 110, dtype=np.int32),  # K disagrees with V
                        np.array("abcdef")])
    return build(_replace(members, "vocab.npy", npy(vocab)))


def m_bad_scalars(rng):
    members, _ = base(rng)
    key, value = rng.choice([("step", np.array(-5)), ("step", np.array([1, 2])),
                             ("step", np.array(2.5)), ("format", np.array("rnn-checkpoint-v9")),
                             ("format", np.array(1)), ("format", np.array("x" * 5000)),
                             ("optim/step", np.array("three"))])
    return build(_replace(members, key + ".npy", npy(value)))


def m_non_finite(rng):
    members, _ = base(rng)
    name = _pick(rng, members, rng.choice(["param/", "optim/m/", "optim/v/"]))
    with zipfile.ZipFile(io.BytesIO(build(members))) as z:
        a = np.load(io.BytesIO(z.read(name)), allow_pickle=False).copy()
    a.flat[rng.randrange(a.size)] = rng.choice([np.nan, np.inf, -np.inf])
    return build(_replace(members, name, npy(a)))


def m_duplicate_entry(rng):
    members, _ = base(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        return build(members + [members[rng.randrange(len(members))]])


def m_not_a_zip(rng):
    return rng.choice([b"", b"step: 100\nloss: 1.5\n", os.urandom(rng.randint(1, 3000)),
                       npy(np.arange(5.0)), b"PK\x03\x04" + os.urandom(100),
                       b"PK\x05\x06" + bytes(18)])


def m_harmless(rng):
    """Changes a valid loader must accept: big-endian weights, Fortran order, deflate."""
    members, _ = base(rng)
    name = _pick(rng, members, "param/")
    with zipfile.ZipFile(io.BytesIO(build(members))) as z:
        a = np.load(io.BytesIO(z.read(name)), allow_pickle=False)
    a = rng.choice([a.astype(a.dtype.newbyteorder(">")), np.asfortranarray(a)])
    return build(_replace(members, name, npy(a)), zipfile.ZIP_DEFLATED)


MUTATIONS = [m_truncate, m_bit_flips, m_drop_entry, m_extra_entry, m_misshaped, m_object_dtype,
             m_structured_dtype, m_not_npy, m_huge_shape, m_consistent_huge_model,
             m_negative_shape, m_extra_bomb, m_param_bomb, m_lying_sizes, m_encrypted,
             m_compression_method, m_bad_header, m_long_header, m_bad_json, m_bad_vocab,
             m_bad_scalars, m_non_finite, m_duplicate_entry, m_not_a_zip, m_harmless]


# ---------------------------------------------------------------- the test

def check_loaded(ckpt):
    """A file the loader accepted must be a consistent, finite checkpoint."""
    cell, layers, K, H = model_info(ckpt.params)
    assert K == ckpt.vocab.size
    assert all(np.isfinite(v).all() for v in ckpt.params.values())


def test_fuzzed_checkpoints_end_in_the_loaders_error(tmp_path, terminal_summary):
    n = fuzz_cases()
    outcomes = {"refused": 0, "loaded": 0}
    kinds_seen = set()
    slowest, peak_max = 0.0, 0
    for i in range(n):
        rng = random.Random(i)
        mutate = MUTATIONS[i % len(MUTATIONS)]
        path = tmp_path / f"case{i % 7}.npz"
        path.write_bytes(mutate(rng))
        tracemalloc.start()  # counts NumPy's arrays too
        t0 = time.perf_counter()
        try:
            ckpt = load_checkpoint(path)
        except CheckpointError as exc:
            ckpt, msg = None, str(exc)
        finally:
            seconds = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if ckpt is None:
            assert str(path) in msg and "\n" not in msg, (mutate.__name__, i, msg)
            assert "allow_pickle" not in msg and "reading it failed" not in msg, \
                (mutate.__name__, i, msg)  # a specific message, never the catch-all
            outcomes["refused"] += 1
        else:
            check_loaded(ckpt)
            outcomes["loaded"] += 1
        assert seconds < SECONDS_PER_CASE, (mutate.__name__, i, seconds)
        assert peak < PEAK_BYTES, (mutate.__name__, i, peak)
        slowest, peak_max = max(slowest, seconds), max(peak_max, peak)
        kinds_seen.add(mutate.__name__)
    assert len(kinds_seen) == min(n, len(MUTATIONS))
    terminal_summary.append(
        f"checkpoint fuzz: {n} cases of {len(MUTATIONS)} kinds (RNN_FUZZ_CASES={n}): "
        f"{outcomes['refused']} refused with CheckpointError, {outcomes['loaded']} harmless ones "
        f"loaded; slowest {slowest * 1e3:.0f} ms, peak {peak_max / 2 ** 20:.1f} MiB")
