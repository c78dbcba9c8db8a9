"""The package as published: one version, its metadata, the command line."""

import subprocess
import sys
from importlib.metadata import metadata, version

import rnn

DIST = "rnn-from-scratch"  # the PyPI name `rnn` belongs to an unrelated project


def test_one_version_everywhere():
    assert version(DIST) == rnn.__version__
    out = subprocess.run([sys.executable, "-m", "rnn", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == f"rnn {rnn.__version__}"


def test_metadata():
    meta = metadata(DIST)
    assert meta["License-Expression"] == "MIT"
    assert meta["Author"] == "The rnn authors"
    assert "Topic :: Scientific/Engineering :: Artificial Intelligence" in meta.get_all("Classifier")
    assert meta["Requires-Python"] == ">=3.11"
    # numpy is the only dependency of the maths; torch is an extra
    requires = meta.get_all("Requires-Dist")
    assert {r.split(";")[0].strip() for r in requires if "extra ==" not in r} == {"numpy", "threadpoolctl"}
    assert any(r.startswith("torch==2.13.0") and 'extra == "torch"' in r for r in requires)
