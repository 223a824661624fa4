"""Small helpers for the command-line entry points."""

from __future__ import annotations

import os
import sys


def stdout_closed() -> int:
    """Handle a BrokenPipeError from `... | head` closing stdout: stop quietly, return the exit code 141.

    stdout is pointed at /dev/null so that the interpreter's final flush does not raise again on the
    closed pipe.
    """
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 141
