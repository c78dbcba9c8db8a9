"""What the training loop shows and how it stops: a progress display and
signal handlers that turn Ctrl-C, SIGTERM and SIGHUP into "stop after this
step and save" (and into "stop now, clean up" during start-up).

The progress display is tqdm's bar if tqdm is installed, else one status line
on stderr (rewritten in place on a terminal, a line every 10 s otherwise).
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time

__all__ = ["format_time", "PlainProgress", "TqdmProgress", "make_progress", "SIGNALS",
           "signal_name", "Interrupted", "AbortOnSignal", "StopOnSignal"]


def format_time(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class PlainProgress:
    """One status line on stderr, rewritten in place (a line every 10 s if not a terminal)."""

    def __init__(self, total, unit):
        self.total, self.unit = total, unit
        self.stream = sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.width = 0
        self.last = -math.inf

    def update(self, n, postfix: dict, force=False):
        now = time.perf_counter()
        if not force and now - self.last < (0.25 if self.tty else 10.0):
            return
        self.last = now
        done = f"{n:.0f}/{self.total:.0f}{self.unit}" if self.total else f"{n:.0f}{self.unit}"
        line = f"{done} | " + " | ".join(f"{k} {v}" for k, v in postfix.items())
        if self.tty:
            self.stream.write("\r" + line.ljust(self.width))
            self.width = len(line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def write(self, msg):
        if self.tty and self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.width = 0
            self.last = -math.inf  # redraw on the next update
        print(msg, flush=True)

    def close(self):
        if self.tty and self.width:
            self.stream.write("\n")
            self.stream.flush()


class TqdmProgress:
    def __init__(self, tqdm, total, unit):
        # a fixed 20-character bar leaves room for the postfix on a narrow terminal
        self.bar = tqdm(total=total, unit=unit, leave=True,
                        bar_format="{percentage:3.0f}%|{bar:20}| {n:.0f}/{total:.0f}" + unit
                                   + " [{elapsed}<{remaining}{postfix}]")
        self.last = -math.inf

    def update(self, n, postfix: dict, force=False):
        now = time.perf_counter()
        if not force and now - self.last < 0.25:
            return
        self.last = now
        self.bar.n = min(n, self.bar.total)
        self.bar.set_postfix(postfix, refresh=False)
        self.bar.refresh()

    def write(self, msg):
        self.bar.write(msg)

    def close(self):
        self.bar.close()


def make_progress(enabled, total, unit):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return PlainProgress(total, unit)
    return TqdmProgress(tqdm, total, unit)


#: The signals a training run answers: Ctrl-C, ``kill`` and a closed terminal
#: (those this platform has).
SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                if hasattr(signal, name))


def signal_name(signum: int) -> str:
    """``"Ctrl-C"`` for SIGINT, else the signal's name (``"SIGTERM"``, ...)."""
    return "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name


class Interrupted(KeyboardInterrupt):
    """Stop at once because of a signal.

    A KeyboardInterrupt, so code that cleans up after Ctrl-C cleans up after
    SIGTERM and SIGHUP too. ``signum`` is the signal; the exit status of a
    program stopped by it is ``128 + signum`` (130 for Ctrl-C, 143 for
    SIGTERM, 129 for SIGHUP).
    """

    def __init__(self, signum: int, message: str = ""):
        super().__init__(message or f"{signal_name(signum)}: stopped")
        self.signum = signum


class _SignalHandlers:
    """Install ``self._handler`` for some signals while in a ``with`` block.

    Only in the main thread (the only one that receives signals), and not
    for a signal that is ignored when the block starts: a run started with
    ``nohup`` keeps ignoring SIGHUP, and a background job SIGINT. The
    previous handlers are restored on exit.
    """

    def __init__(self, signals):
        self.signals = tuple(signals)
        self.previous = {}

    def _handler(self, signum, frame):  # pragma: no cover - overridden
        raise NotImplementedError

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                if signal.getsignal(s) is not signal.SIG_IGN:
                    self.previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}
        return False


class AbortOnSignal(_SignalHandlers):
    """Turn any of ``signals`` into :class:`Interrupted` at once (for start-up,
    where there is no step to finish), so ``finally`` blocks clean up.

    Parameters
    ----------
    message : str
        Said by the exception, after the signal's name.
    signals : tuple of int, default :data:`SIGNALS`
    """

    def __init__(self, message: str, signals=SIGNALS):
        super().__init__(signals)
        self.message = message

    def _handler(self, signum, frame):
        raise Interrupted(signum, f"{signal_name(signum)}: {self.message}")


class StopOnSignal(_SignalHandlers):
    """Turn the first signal (Ctrl-C, SIGTERM, SIGHUP) into a request to stop
    after the current step.

    Stopping between steps guarantees the checkpoint never holds a
    half-applied update. A second signal raises :class:`Interrupted` (a
    KeyboardInterrupt) at once, except inside :meth:`deferred`, where it waits
    until the block ends (a checkpoint being written is finished first).

    Parameters
    ----------
    say : callable
        Receives the one-line message printed on the first signal.
    signals : tuple of int, default (signal.SIGINT,)

    Attributes
    ----------
    requested : bool
        A signal asked to stop.
    signum : int or None
        The first signal received.
    """

    def __init__(self, say, signals=(signal.SIGINT,)):
        super().__init__(signals)
        self.requested = False
        self.signum = None
        self.say = say
        self._deferring = False
        self._pending = None

    def _handler(self, signum, frame):
        if self.requested:
            if self._deferring:
                self._pending = signum
                return
            raise Interrupted(signum, f"{signal_name(signum)} again: stopped at once, without "
                                      f"saving")
        self.requested, self.signum = True, signum
        again = "Ctrl-C again" if signum == signal.SIGINT else "send it again"
        self.say(f"{signal_name(signum)}: stopping after this step and saving a checkpoint "
                 f"({again} to stop at once without saving)")

    @contextlib.contextmanager
    def deferred(self):
        """A block that a second signal does not cut short (it acts when the block ends)."""
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending is not None:
            signum, self._pending = self._pending, None
            raise Interrupted(signum, f"{signal_name(signum)} again: stopped at once after the "
                                      f"save in progress")
