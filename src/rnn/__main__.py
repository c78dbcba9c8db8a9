"""``python -m rnn``: the same as the ``rnn`` command (see :mod:`rnn.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
