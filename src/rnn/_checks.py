"""Input validation shared by every public function.

Each check raises ``ValueError`` with a message that names the function, the
argument, what was expected and what was received, so a mistake is fixed in
one reading. One rule holds everywhere: ``True`` and ``False`` are not
numbers (``isinstance(True, int)`` is true in Python, but ``layers=True`` is
always a mistake).
"""

from __future__ import annotations

import math
import numbers
import os
import stat
import tempfile

import numpy as np

__all__ = ["as_float_array", "check_shape", "check_ids", "check_ids_1d", "check_int",
           "check_number", "check_file", "open_regular", "available_memory", "format_bytes",
           "check_cache", "add_to_last", "split_state_grad", "atomic_write"]


def as_float_array(func: str, name: str, a) -> np.ndarray:
    """Return ``a`` as a floating-point ndarray, or raise a clear error."""
    if not isinstance(a, np.ndarray):
        try:
            a = np.asarray(a)
        except Exception as exc:  # pragma: no cover - exotic inputs
            raise ValueError(f"{func}: {name} must be array-like, got {type(a).__name__}") from exc
    if a.dtype.kind != "f":  # float16, float32, float64, longdouble
        raise ValueError(
            f"{func}: {name} must be a floating-point array (float32 or float64), "
            f"got dtype {a.dtype}; convert it with {name}.astype(np.float64)"
        )
    return a


def check_shape(func: str, name: str, a: np.ndarray, expected: tuple, labels: str) -> None:
    """Check ``a.shape`` against ``expected``; ``None`` entries match any size.

    ``labels`` spells the expected shape in symbols, e.g. ``"(B, H)"``.
    """
    shape = tuple(a.shape)
    ok = len(shape) == len(expected) and all(
        e is None or e == s for e, s in zip(expected, shape)
    )
    if not ok:
        want = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ")"
        if len(expected) == 1:
            want = want[:-1] + ",)"
        raise ValueError(
            f"{func}: {name} must have shape {labels} = {want}, got {shape}"
        )


def check_ids(func: str, name: str, y, K: int) -> np.ndarray:
    """Return integer class ids ``y`` as an ndarray after checking range and dtype."""
    y = np.asarray(y)
    if y.dtype.kind not in "iu":  # signed or unsigned integers
        raise ValueError(
            f"{func}: {name} must hold integer class ids, got dtype {y.dtype}; "
            f"convert it with {name}.astype(np.int64)"
        )
    # one pass: read as unsigned, a negative id is larger than any valid one
    if y.size and y.view(f"u{y.itemsize}").max() >= K:
        raise ValueError(
            f"{func}: {name} holds ids in [{y.min()}, {y.max()}] but must lie in "
            f"[0, {K - 1}] for K = {K} classes"
        )
    return y


def check_ids_1d(func: str, ids) -> np.ndarray:
    """Return ``ids`` as a 1-D integer ndarray of shape (N,), or raise."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"{func}: ids must be a 1-D integer array of shape (N,), got dtype "
                         f"{ids.dtype} and shape {ids.shape}")
    return ids


def _bounds(low, high, low_open=False, high_open=False) -> str:
    """``">= 1"``, ``"> 0"``, ``"in [1, 3]"``, ``"in (0, 1)"``, ..."""
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
    if low is not None:
        return f"> {low:g}" if low_open else f">= {low:g}"
    if high is not None:
        return f"< {high:g}" if high_open else f"<= {high:g}"
    return ""


def check_int(func: str, name: str, v, *, low: int | None = 1, high: int | None = None,
              allow_none: bool = False):
    """Return ``v`` as an ``int`` after checking it is an integer in ``[low, high]``.

    Python and NumPy integers pass; bools, floats (even ``2.0``) and strings
    do not. ``None`` passes (and is returned) only with ``allow_none``.
    """
    if v is None and allow_none:
        return None
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral) or \
            (low is not None and v < low) or (high is not None and v > high):
        what = {(1, None): "a positive integer", (0, None): "a non-negative integer"}.get(
            (low, high), "an integer " + _bounds(low, high))
        raise ValueError(f"{func}: {name} must be {what.strip()}, got {v!r}")
    return int(v)


def check_number(func: str, name: str, v, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, allow_none: bool = False):
    """Return ``v`` as a ``float`` after checking it is a finite real number in range.

    ``low_open=True`` makes the lower bound strict (``v > low``), and
    ``high_open=True`` the upper one. Bools, strings, NaN and infinities do
    not pass.
    """
    if v is None and allow_none:
        return None
    ok = not isinstance(v, (bool, np.bool_)) and isinstance(v, numbers.Real) and math.isfinite(v)
    if ok and low is not None:
        ok = v > low if low_open else v >= low
    if ok and high is not None:
        ok = v < high if high_open else v <= high
    if not ok:
        bounds = _bounds(low, high, low_open, high_open)
        raise ValueError(f"{func}: {name} must be a finite number{' ' + bounds if bounds else ''}, "
                         f"got {v!r}")
    return float(v)


def _not_regular(what: str, shown: str, mode: int) -> ValueError:
    kind = ("a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a character device"
            if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
            else "a socket" if stat.S_ISSOCK(mode) else "not a regular file")
    return ValueError(f"{what} {shown!r} is {kind}, not a regular file; pass a file (reading "
                      f"it could block forever or never end)")


def check_file(path, what: str, directory_hint: str) -> str:
    """Return ``path`` as a str after checking it names an existing regular file.

    A folder, a device (``/dev/zero``, which never ends), a FIFO (which
    blocks until someone writes to it) and a socket are refused. ``what``
    names the file in the message (e.g. ``"data file"``); ``directory_hint``
    says what to pass instead of a folder.
    """
    shown = os.fspath(path)
    try:
        mode = os.stat(shown).st_mode
    except FileNotFoundError:
        raise ValueError(f"{what} {shown!r} does not exist; check the path "
                         f"(relative paths start at {os.getcwd()!r})") from None
    except OSError as exc:
        raise ValueError(f"cannot read {what} {shown!r}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise ValueError(f"{what} {shown!r} is a directory; {directory_hint}")
    if not stat.S_ISREG(mode):
        raise _not_regular(what, shown, mode)
    return shown


def open_regular(path, what: str, directory_hint: str):
    """Open a regular file for reading in binary mode, or raise a clear ValueError.

    Like :func:`check_file`, and race-free: the file is opened without
    blocking (a FIFO would otherwise wait for a writer) and checked again
    through the open descriptor, so a file swapped for a device in between
    is refused too.

    Returns
    -------
    file : binary file object (the caller closes it)
    """
    shown = check_file(path, what, directory_hint)
    try:
        fd = os.open(shown, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise ValueError(f"cannot read {what} {shown!r}: {exc.strerror or exc}; check that it "
                         f"is a readable file") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _not_regular(what, shown, mode)
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def available_memory() -> int | None:
    """Bytes of memory a new allocation can use now, or None if unknown.

    Linux's ``MemAvailable`` (free memory plus caches it can drop), else the
    physical memory size.
    """
    try:
        with open("/proc/meminfo", "rb") as f:
            for line in f:
                if line.startswith(b"MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def format_bytes(n: int) -> str:
    """``1536`` -> ``"1.5 KiB"``; any size, in the largest unit below 1024 of it."""
    n = float(n)
    units = ("bytes", "KiB", "MiB", "GiB", "TiB")
    for unit in units:
        if n < 1024:
            break
        n /= 1024
    else:
        unit = "PiB"
    return f"{n:,.0f} bytes" if unit == "bytes" else f"{n:,.1f} {unit}"


def check_cache(func: str, cache, cls, forward: str) -> None:
    """Check that ``cache`` is the ``cls`` named tuple a forward pass returned."""
    if not isinstance(cache, cls):
        raise ValueError(f"{func}: cache must be the {cls.__name__} returned by {forward}, "
                         f"got {type(cache).__name__}")


def add_to_last(func: str, dh: np.ndarray, dh_last, name: str = "dh_last") -> np.ndarray:
    """``dh`` (T, B, H) with ``dh_last`` (B, H) added to its last step (a copy), or ``dh``
    itself if ``dh_last`` is None: the gradient on the final state from outside the layer."""
    if dh_last is None:
        return dh
    dh_last = as_float_array(func, name, dh_last)
    check_shape(func, name, dh_last, dh.shape[1:], "(B, H)")
    dh = dh.copy()
    dh[-1] += dh_last
    return dh


def split_state_grad(func: str, dstate, S: int, B: int, H: int) -> tuple:
    """The S rows (B, H) of a gradient on a layer's final state (S, B, H), or S Nones."""
    if dstate is None:
        return (None,) * S
    dstate = as_float_array(func, "dstate", dstate)
    check_shape(func, "dstate", dstate, (S, B, H), "(S, B, H)")
    return tuple(dstate)


def atomic_write(path, write) -> None:
    """Write a file atomically: ``write(f)`` fills a temporary file in the same
    folder, which is flushed to disk and then renamed over ``path``.

    A crash or an exception in ``write`` leaves ``path`` as it was (the
    temporary file is removed); parent folders are created. The new file
    gets the mode a normal new file gets.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
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
