"""Entry point of the frozen app: the same `lookalike` command, GUI when started without arguments."""

import multiprocessing
import sys

from desktop_app.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
