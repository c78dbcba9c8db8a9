"""What the training loop shows and how it stops: a progress display and a
signal handler that turns Ctrl-C into "stop after this step and save".

The progress display is tqdm's bar if tqdm is installed, else one status line
on stderr (rewritten in place on a terminal, a line every 10 s otherwise).
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time

__all__ = ["format_time", "PlainProgress", "TqdmProgress", "make_progress", "StopOnSignal"]


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


class StopOnSignal:
    """Turn the first Ctrl-C (SIGINT) into a request to stop after the current step.

    Stopping between steps guarantees the checkpoint never holds a
    half-applied update. A second Ctrl-C raises KeyboardInterrupt at once.
    Only active in the main thread (the only one that receives signals);
    the previous handlers are restored on exit.

    Parameters
    ----------
    say : callable
        Receives the one-line message printed on the first signal.
    signals : tuple of int, default (signal.SIGINT,)
    """

    def __init__(self, say, signals=(signal.SIGINT,)):
        self.requested = False
        self.say = say
        self.signals = tuple(signals)
        self.previous = {}

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.say("Ctrl-C: stopping after this step and saving a checkpoint (Ctrl-C again to abort "
                 "without saving)")

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for s in self.signals:
                self.previous[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc):
        for s, handler in self.previous.items():
            signal.signal(s, handler)
        self.previous = {}
        return False
