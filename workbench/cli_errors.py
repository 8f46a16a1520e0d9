"""How the command line words the failures that reach :func:`workbench.cli.main` without a message of ours.

An ``OSError`` becomes ``<path>: <what>; <what to do>`` (the path from the exception, or from the file open in
the failing frames when a read or write carries none; a temporary copy beside an output is named by the
output's own name), a ``UnicodeDecodeError`` names the file that is not UTF-8.
"""

from __future__ import annotations

import errno
import io
import os
import re
import socket

from workbench.errors import WorkbenchError
from workbench.outputs import STAGING_PREFIX


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


# errno -> (what happened, what to do)
_OS_ADVICE = {
    errno.ENOENT: ("no such file or directory", "check the path"),
    errno.EACCES: ("permission denied", "check its permissions, or choose a path you can read and write"),
    errno.EPERM: ("operation not permitted", "check its permissions, or choose another path"),
    errno.EISDIR: ("is a directory, expected a file", "give the path of a file"),
    errno.ENOTDIR: ("a part of the path is not a directory", "check the path"),
    errno.ENOSPC: ("no space left on the device", "free some space or write to another disk"),
    errno.EDQUOT: ("disk quota exceeded", "free some space or write to another disk"),
    errno.EROFS: ("read-only file system", "write the output to a folder on a writable disk"),
    errno.EEXIST: ("already exists", "choose another path"),
    errno.ENOTEMPTY: ("directory not empty", "choose another path"),
    errno.ENAMETOOLONG: ("file name too long", "use a shorter path"),
    errno.ELOOP: ("too many levels of symbolic links", "check the symbolic links on the path"),
    errno.EMFILE: ("too many open files", "raise the limit (ulimit -n) or process fewer files at a time"),
    errno.EIO: ("input/output error", "check the disk or the network file system"),
    errno.EFBIG: ("file too large", "write to another file system"),
    errno.ENXIO: ("no such device", "check the path"),
    errno.ETXTBSY: ("file busy", "close the program using it and retry"),
    errno.ECONNREFUSED: ("connection refused", "check the address and that the server there runs"),
    errno.ETIMEDOUT: ("connection timed out", "check the address and the network"),
    errno.EHOSTUNREACH: ("host unreachable", "check the address and the network"),
    errno.EADDRINUSE: ("address already in use", "pick another port"),
    errno.EPIPE: ("broken pipe", "the other end closed the connection; retry"),
}


# the temporary names beside an output (workbench.outputs, workbench.ami.cube_store.atomic_directory): the user
# gave the final name, so the message names that one
_STAGING_NAMES = re.compile(r"\.(?P<a>.+)\.tmp-[0-9a-f]+|\.(?P<b>.+)\.[0-9a-f]{8}\.tmp|"
                            + re.escape(STAGING_PREFIX) + r"(?P<c>.+)-[0-9a-f]{8}")


def _user_path(name) -> str:
    path = os.fsdecode(name)
    head, _, base = path.rpartition(os.sep)
    match = _STAGING_NAMES.fullmatch(base)
    if not match:
        return path
    final = next(g for g in match.groups() if g)
    return f"{head}{os.sep if head or path.startswith(os.sep) else ''}{final} (writing its temporary copy {path})"


_NETWORK = {errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EHOSTUNREACH, errno.EADDRINUSE, errno.EPIPE}


def os_error_line(exc: OSError) -> str:
    """``<path>: <what>; <what to do>`` for an ``OSError`` (without the ``error: `` prefix)."""
    what, todo = _OS_ADVICE.get(exc.errno, (exc.strerror or type(exc).__name__, "check the path and retry"))
    if exc.filename is not None:
        path = _user_path(exc.filename)
        if exc.filename2 is not None:
            path = f"{path} -> {_user_path(exc.filename2)}"
        return f"{path}: {what}; {todo}"
    network = isinstance(exc, ConnectionError | TimeoutError) or exc.errno in _NETWORK
    where = None if network else _file_in_traceback(exc.__traceback__)
    if where is not None:
        return f"{_user_path(where)}: {what}; {todo}"
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG):
        return f"writing the output: {what}; {todo}"
    if exc.errno not in _OS_ADVICE:
        todo = "retry; if it persists, report it with the command and this line"
    return f"{one_line(str(exc)) or what}; {todo}"


def decode_error_line(exc: UnicodeDecodeError) -> str:
    """``<file>: not UTF-8 text ...; save it as UTF-8`` (the file found in the failing frames, if any)."""
    where = _file_in_traceback(exc.__traceback__)
    what = (f"not {exc.encoding.upper()} text (it holds the byte 0x{exc.object[exc.start]:02x}); "
            if exc.object and exc.start < len(exc.object) else f"not {exc.encoding} text; ")
    todo = "save it as UTF-8 (a spreadsheet's 'CSV UTF-8') and retry"
    return f"{where}: {what}{todo}" if where else f"an input file is {what}{todo}"


def _file_in_traceback(tb):
    """The name of the file being read or written where the exception rose (innermost frame holding one open).

    A read or write error carries no file name (only ``open`` does), so the open file objects of the failing
    frames tell which file it was; None if there is none.
    """
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in list(frame.f_locals.values()):
            if isinstance(value, io.IOBase) and isinstance(getattr(value, "name", None), str | bytes):
                return os.fsdecode(value.name)
    return None


def port_free(port: int) -> None:
    """Refuse ``--port`` if 127.0.0.1:port cannot be bound (before minutes of work that would then fail)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise WorkbenchError(f"--port {port}: cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                                 "pick another --port") from None


def int_range(option, value, low, high, what):
    """Refuse an integer option outside [low, high] (``high`` None: no upper bound), naming the option."""
    if value is None:
        return
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise WorkbenchError(f"{option}: {value} is out of range; expected {what}, {bound}")
