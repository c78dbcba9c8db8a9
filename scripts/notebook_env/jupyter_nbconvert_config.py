# nbconvert configuration for the notebooks the site build executes
# (mkdocs-jupyter reads it: scripts/mkdocs_hooks.py puts this folder on
# JUPYTER_CONFIG_PATH for the build). Readers' own Jupyter setups are untouched.
import logging
import time

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

# Encrypt the connection to the kernel (CurveZMQ; the kernelspec of ipykernel
# declares support). Without it ipykernel 7 warns that the kernel "is running
# over TCP without encryption" for every notebook.
c.KernelManager.transport_encryption = "auto"

# Progress while a notebook runs (set on NotebookClient, the base class of
# ExecutePreprocessor, whose own section mkdocs-jupyter overwrites): a line when a cell finishes, at most one
# every few seconds, so a long build shows what it is doing.
_log = logging.getLogger("mkdocs.plugins.rnn.notebooks")
_state = {"cells": 0, "start": 0.0, "last": 0.0}
PROGRESS_EVERY = 5.0  # seconds


def _notebook_start(notebook, **kwargs):
    now = time.perf_counter()
    _state.update(cells=len(notebook.cells), start=now, last=now)


def _cell_executed(cell, cell_index, **kwargs):
    now = time.perf_counter()
    if now - _state["last"] >= PROGRESS_EVERY or cell_index + 1 == _state["cells"]:
        _state["last"] = now
        _log.info("  ... cell %d of %d done, %.0f s so far", cell_index + 1, _state["cells"], now - _state["start"])


c.NotebookClient.on_notebook_start = _notebook_start
c.NotebookClient.on_cell_executed = _cell_executed
