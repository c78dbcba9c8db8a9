"""The output folder of a training run: one run at a time, nothing of
another run overwritten, no temporary file left behind.

:class:`RunFolder` is held (``with RunFolder(...) as folder:``) for the whole
of :func:`rnn.train.train`:

* **A lock.** The folder's lock file ``.rnn-train.lock`` is locked with
  ``fcntl.flock`` and holds the process id, host and start time of the run
  that holds it. A second run into the same folder is refused with a message
  naming the folder and that process. The operating system releases the lock
  when its process ends, however it ends, so a lock file left by a killed run
  is *stale*: the next run sees that nobody holds it, says so and takes it
  over. (On a system without ``fcntl``, such as Windows, the folder is not
  locked.)
* **A probe.** Creating and writing the lock file checks that the folder can
  be written, before any training, rather than at the first checkpoint.
* **Temporary files.** A checkpoint is written to a temporary file that
  replaces the real one only when complete (:func:`rnn.checkpoint.save_checkpoint`),
  and it deletes the temporary file on every error. Only a process killed
  outright (``kill -9``, a power cut) can leave one; the next run in the
  folder deletes it.
* **Ownership.** :meth:`RunFolder.check_owner` refuses to replace a
  checkpoint that belongs to another run (the run id in ``extra/run_id``
  differs, or the file is not a checkpoint) unless asked to.
"""

from __future__ import annotations

import os
import socket
import time

from .checkpoint import CheckpointError, load_checkpoint
from .run_state import run_id_of

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["RunFolder", "LOCK_NAME", "CHECKPOINT_NAME", "BEST_NAME"]

#: The lock file of a run folder.
LOCK_NAME = ".rnn-train.lock"
#: The latest checkpoint of a run, and the one with the best validation loss.
CHECKPOINT_NAME = "checkpoint.npz"
BEST_NAME = "best.npz"


class RunFolder:
    """The folder a run writes its checkpoints to, held while the run trains.

    Parameters
    ----------
    path : str
        The folder (``--out``); created if missing.

    Attributes
    ----------
    notes : list of str
        What :meth:`acquire` found and fixed (a stale lock taken over,
        temporary files deleted), for the run's log.
    """

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.lock_path = os.path.join(self.path, LOCK_NAME)
        self.notes = []
        self._fd = None
        self._created = []  # folders acquire() made, deepest first: removed again if left empty

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    def _unwritable(self, exc: OSError) -> ValueError:
        return ValueError(f"output folder {self.path!r} cannot be written ({exc.strerror or exc}); "
                          f"choose another folder with --out")

    def acquire(self) -> "RunFolder":
        """Create the folder, lock it, and delete temporary files a killed run left."""
        missing, folder = [], os.path.abspath(self.path)
        while not os.path.lexists(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        try:
            os.makedirs(self.path, exist_ok=True)
        except OSError as exc:
            raise self._unwritable(exc) from None
        self._created = missing
        if not os.path.isdir(self.path):
            raise ValueError(f"output folder {self.path!r} is a file; choose a folder with --out")
        while self._fd is None:
            try:
                fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise self._unwritable(exc) from None
            try:
                if self._lock(fd):
                    self._fd = fd
            finally:
                if self._fd is None:
                    os.close(fd)
        self._delete_temporaries()
        return self

    def _lock(self, fd: int) -> bool:
        """Lock ``fd``; False if the lock file was replaced meanwhile (try again)."""
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode("utf-8", "replace").strip() or "unknown"
                raise ValueError(f"output folder {self.path!r} is in use by another `rnn train` "
                                 f"({holder}); wait for it to finish, or choose another --out"
                                 ) from None
        try:
            if os.stat(self.lock_path).st_ino != os.fstat(fd).st_ino:
                return False  # the previous holder deleted the file after we opened it
        except FileNotFoundError:
            return False
        left = os.read(fd, 200).decode("utf-8", "replace").strip()
        if left:
            self.notes.append(f"took over the lock of {self.path} left by a run that is no longer "
                              f"running ({left})")
        me = (f"pid {os.getpid()} on {socket.gethostname()}, started "
              f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n").encode()
        try:
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            if os.write(fd, me) != len(me):
                raise OSError(28, "No space left on device")
            os.fsync(fd)
        except OSError as exc:
            raise self._unwritable(exc) from None
        return True

    def _delete_temporaries(self) -> None:
        for name in os.listdir(self.path):
            if name.endswith(".tmp") and name.startswith(
                    ("." + CHECKPOINT_NAME + ".", "." + BEST_NAME + ".")):
                try:
                    os.unlink(os.path.join(self.path, name))
                except OSError:
                    continue
                self.notes.append(f"deleted {name}, a temporary file left by a run that was "
                                  f"killed while saving")

    def release(self) -> None:
        """Delete the lock file and unlock (in that order, so no run locks a deleted file);
        remove the folders :meth:`acquire` created if nothing was written into them."""
        if self._fd is not None:
            try:
                os.unlink(self.lock_path)
            except OSError:
                pass
            os.close(self._fd)  # closing releases the flock
            self._fd = None
        for folder in self._created:  # a run that failed before writing leaves no empty folder
            try:
                os.rmdir(folder)
            except OSError:
                break  # not empty: it holds the run's checkpoints
        self._created = []

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()
        return False

    def check_owner(self, run_id: str | None, resume: str | None, overwrite: bool) -> list:
        """Refuse to replace a checkpoint of another run.

        A file in the folder (``checkpoint.npz``, ``best.npz``) may be
        replaced if it is the checkpoint being resumed, if it was written by
        the same run (same ``run_id``), or if ``overwrite`` is set.

        Returns
        -------
        names : list of str
            The files of another run that ``overwrite`` allows to replace.
        """
        foreign = []
        for name in (CHECKPOINT_NAME, BEST_NAME):
            target = self.file(name)
            if not os.path.lexists(target):
                continue
            if resume is not None and os.path.exists(resume) and os.path.samefile(target, resume):
                continue
            try:
                ckpt = load_checkpoint(target)
            except CheckpointError:
                whose = "a file that is not a readable rnn checkpoint"
            else:
                if run_id is not None and run_id_of(ckpt) == run_id:
                    continue
                whose = f"the checkpoint of another run (step {ckpt.step:,})"
            if overwrite:
                foreign.append(name)
                continue
            cont = "" if resume is not None else f"continue that run with --resume {target}, "
            raise ValueError(f"output folder {self.path!r} holds {name}, {whose}; {cont}choose "
                             f"another --out, or pass --overwrite (overwrite=True in Python) to "
                             f"replace it")
        return foreign

