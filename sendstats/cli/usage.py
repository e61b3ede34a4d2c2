"""The error for a command line that names something that does not exist (exit status 2).

Kept in its own small module so any command can raise it without importing the heavier
error classes of :mod:`sendstats.cli.errors`.
"""

from __future__ import annotations


class UsageError(ValueError):
    """A command-line argument is wrong: unknown release, a date before the data, no LAs...

    The message says what to fix; the CLI prints it on one line and exits with status 2.
    """
