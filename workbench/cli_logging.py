"""The command line's shared conventions: ``-v``/``-q`` on every subcommand, logging, progress bars, help layout.

Every subcommand (the built-in ones and each wing's, see :func:`workbench.cli_parser.build_parser`) takes
:func:`common_options`: ``-v/--verbose`` and ``-q/--quiet``, both countable. Their difference is the
*verbosity*, which sets what the ``workbench`` loggers print on stderr (the package logs through
``logging.getLogger(__name__)``; each message carries its own ``warning: ``/``note: `` prefix, so the text is
the same with or without this handler):

==========  =====================================================================================
``-qq``      errors only (the final ``error: ...`` line); warnings hidden too
``-q``       warnings (``warning: ...``), no notes, no progress bars
(none)       warnings and notes; progress bars when stderr is a terminal
``-v``       also the workbench's debug detail (timings, files, chunk by chunk)
``-vv``      also the debug output of the libraries underneath (dask, numba, zarr...)
==========  =====================================================================================

What a command prints on stdout (its result: bills, a summary) does not depend on ``-v``/``-q``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

#: the logger every workbench module's logger is under
LOGGER = "workbench"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Help with the description and epilog kept as written (examples), and ``(default: X)`` after an
    option's help where it has a default the help text does not already state."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if (default is None or default is argparse.SUPPRESS or isinstance(default, bool)
                or "default" in text.lower() or not action.option_strings or action.dest in ("verbose", "quiet")):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


def common_options() -> argparse.ArgumentParser:
    """The parent parser of every subcommand: ``-v/--verbose`` and ``-q/--quiet`` (countable).

    A wing may pass it in ``parents=[...]`` itself; :func:`workbench.cli_parser.build_parser` adds it to every
    subparser that lacks it.
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.workbench_common = True  # how build_parser sees a subparser already has these options
    group = parent.add_argument_group("output")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="more detail on stderr: -v the workbench's debug notes, -vv also its libraries'")
    group.add_argument("-q", "--quiet", action="count", default=0,
                       help="less on stderr: -q no progress bars or notes (warnings stay), -qq errors only")
    return parent


def verbosity(args) -> int:
    """``-v`` count minus ``-q`` count (0 when the parser had no such options)."""
    return int(getattr(args, "verbose", 0) or 0) - int(getattr(args, "quiet", 0) or 0)


def progress_wanted(args) -> bool:
    """Whether to draw progress bars: not with ``-q``, and only when stderr is a terminal."""
    return verbosity(args) >= 0 and _is_terminal(sys.stderr)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a test's capture, a redirected stream)."""

    def __init__(self):
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):  # StreamHandler.__init__ assigns it; the property always answers sys.stderr
        pass


def level_of(level: int) -> int:
    """The ``workbench`` loggers' level for a verbosity."""
    if level <= -2:
        return logging.ERROR
    if level == -1:
        return logging.WARNING
    if level == 0:
        return logging.INFO
    return logging.DEBUG


@contextmanager
def configured(level: int) -> Iterator[None]:
    """For the block: workbench log records at verbosity ``level`` go to stderr as their bare message.

    Restores the loggers as they were afterwards (a test or a notebook calling ``main`` twice is not left
    with the first call's handler or level).
    """
    logger = logging.getLogger(LOGGER)
    root = logging.getLogger()
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    saved = (logger.level, logger.propagate, root.level)
    logger.addHandler(handler)
    logger.setLevel(level_of(level))
    logger.propagate = False
    if level >= 2:  # the libraries' own debug output too, through the root logger
        root_handler = _StderrHandler()
        root_handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(root_handler)
        root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
        if level >= 2:
            root.removeHandler(root_handler)
            root.setLevel(saved[2])
