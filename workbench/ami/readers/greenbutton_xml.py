"""Green Button (NAESB ESPI) XML reader: streaming, hardened, two engines with one result.

The feed is an Atom ``<feed>`` of ``<entry>`` elements, each wrapping one ESPI resource in ``<content>``.
Resources link to each other through ``<link rel="self|up|related" href=...>`` hrefs, matched as opaque
strings:

- a ``MeterReading``'s ``related`` hrefs name its ``ReadingType`` (its ``self`` href) and its IntervalBlock
  collection (the ``up`` href of each of its ``IntervalBlock`` entries);
- a ``UsagePoint``'s ``related`` hrefs include the MeterReading collection (the MeterReading's ``up`` href).

Entries come in any order. IntervalBlocks whose ReadingType has not been seen yet are held, already parsed
into numpy arrays (~30 bytes per reading), up to ``max_pending_readings``; past that bound the file is
scanned once for its ReadingTypes/MeterReadings/UsagePoints (a second parse) and reading goes on with all
links known. Memory is therefore bounded by one entry (or one chunk of the file) plus one output batch plus
that bound.

Engines (``engine=``, internal: ``stream_file`` always uses "auto"):

- ``"lxml"`` (``greenbutton_xml_tree``): hardened ``iterparse`` of whole entries, XPath per IntervalBlock.
  The reference; about 75,000 readings/s.
- ``"scan"`` (``_xmlscan`` + ``workbench.kernels.greenbutton_xml(_entries)``): a byte-level splitter and a numba kernel read the
  IntervalBlocks; every other entry, and any block the kernel does not take, goes through the lxml engine's
  code, so the result is the same. Well-formedness and safety are checked by libxml2 without building a tree
  (``greenbutton_xml_check``): first for small files, in a second process beside the reading for files of
  ``PARALLEL_CHECK_BYTES`` or more (then a bad file raises once its reading is done, after batches may have
  been yielded: ``ReadStream``'s contract says to discard them).
- ``"auto"``: "scan" for UTF-8/ASCII files of ``SCAN_MIN_BYTES`` or more, else "lxml" (no JIT for small
  files).

Safety (both engines): nothing loads a DTD, touches the network or resolves entities; libxml2 keeps its size
and depth limits (``huge_tree=False``). A document with a DOCTYPE (where ENTITY declarations live) is
refused before any content is read: Green Button feeds have none, and "billion laughs" and external-entity
(XXE) files need one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from workbench.ami.readers import _xmlscan
from workbench.ami.readers._result import DEFAULT_BATCH_ROWS, ReadStream, collect
from workbench.ami.readers.greenbutton_xml_check import check_file
from workbench.ami.readers.greenbutton_xml_espi import ATOM, meter_from_href
from workbench.ami.readers.greenbutton_xml_feed import DEFAULT_MAX_PENDING_READINGS
from workbench.ami.readers.greenbutton_xml_hardened import _refuse, _refuse_doctype_in_prolog, malformed
from workbench.ami.readers.greenbutton_xml_tree import FeedReader, lxml_entries
from workbench.errors import IntervalDataError

SCAN_MIN_BYTES = 4 << 20  # smaller files: the lxml engine (reads them in well under a second)
PARALLEL_CHECK_BYTES = 32 << 20  # from this size the XML check runs in a second process
ENGINES = ("auto", "scan", "lxml")
_CHECK_SCRIPT = str(Path(__file__).with_name("greenbutton_xml_check.py"))


class _Check:
    """The libxml2 well-formedness and safety verdict on a file, in this process or in a second one."""

    def __init__(self, path: Path, parallel: bool):
        self.path, self.proc, self.verdict = path, None, None
        if parallel:
            try:
                self.proc = subprocess.Popen(
                    [sys.executable, "-P", _CHECK_SCRIPT, str(path)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:
                self.proc = None
        if self.proc is None:
            self.verdict = check_file(path)

    def raise_if_bad(self) -> None:
        if self.verdict is None:
            out, _ = self.proc.communicate()
            self.proc = None
            try:
                self.verdict = json.loads(out.decode("utf-8").strip().splitlines()[-1])
            except (ValueError, IndexError):  # the second process failed: check here
                self.verdict = check_file(self.path)
        v = self.verdict
        if v.get("ok"):
            return
        if v["error"] == "doctype":
            _refuse(self.path, None)
        if v["error"] == "os":
            raise IntervalDataError(f"{self.path}: cannot read the file: {v['msg']}")
        raise malformed(self.path, v.get("line"), v.get("msg", ""))

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class _Lines:
    """Line numbers of file offsets, counted only when asked for (a reject message of the lxml engine's
    code), forward from the last one asked for, with a second handle on the file."""

    def __init__(self, path: Path):
        self.path, self.file, self.line, self.pos = path, None, 1, 0  # line of offset ``pos``

    def at(self, offset: int) -> int:
        if self.file is None:
            self.file = open(self.path, "rb")  # noqa: SIM115 (closed by close())
        self.file.seek(self.pos)
        while self.pos < offset:
            chunk = self.file.read(min(1 << 20, offset - self.pos))
            if not chunk:
                break
            self.line += chunk.count(b"\n")
            self.pos += len(chunk)
        return self.line

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _scan_root(path: Path, engine: str) -> _xmlscan.Root | None:
    if engine == "lxml" or (engine == "auto" and path.stat().st_size < SCAN_MIN_BYTES):
        return None
    with open(path, "rb") as f:
        return _xmlscan.read_root(f.read(1 << 20))


def _not_a_feed(path: Path, local: str) -> IntervalDataError:
    return IntervalDataError(
        f"{path}: not a Green Button feed: the root element is <{local}>, expected an Atom <feed> "
        f"({ATOM}). Export the data as Green Button 'Download My Data' XML."
    )


def _scan_engine(path: Path, reader: FeedReader, root: _xmlscan.Root):
    parallel = path.stat().st_size >= PARALLEL_CHECK_BYTES and (os.cpu_count() or 1) > 1
    check = _Check(path, parallel)
    try:
        if not parallel:
            check.raise_if_bad()
        try:
            if not root.is_feed:
                raise _not_a_feed(path, root.local)
            try:
                yield from _scan_chunks(path, reader, root)
            except _xmlscan.Fallback:
                yield from lxml_entries(reader, reader.entries_done)
        except Exception:
            check.raise_if_bad()  # a malformed file explains any trouble reading it
            raise
        check.raise_if_bad()
        yield from reader.finish()
    finally:
        check.close()


def _scan_chunks(path: Path, reader: FeedReader, root: _xmlscan.Root):
    """The file read window by window into one buffer (what a window leaves unread, an entry cut at its
    end, moves to the front of the next one; the buffer doubles when one entry fills half of it)."""
    if root.empty:
        return
    splitter = _xmlscan.Splitter(root)
    kernel = _xmlscan.Kernel(root)
    lines = _Lines(path)
    try:
        with open(path, "rb") as f:
            buf = bytearray(_xmlscan.CHUNK_BYTES)
            base = 0  # file offset of buf[0]
            filled = _fill(f, buf, 0)
            pos = root.end
            while True:
                final = filled < len(buf)
                went_on = yield from _read_window(
                    reader, root, splitter, kernel, lines, buf, filled, base, pos, final
                )
                if final:
                    return
                rest = filled - went_on
                if 2 * rest > len(buf):
                    buf, old = bytearray(2 * len(buf)), buf
                    buf[:rest] = old[went_on:filled]
                else:
                    buf[:rest] = buf[went_on:filled]
                base += went_on
                filled = _fill(f, buf, rest)
                pos = 0
    finally:
        lines.close()


def _fill(f, buf: bytearray, start: int) -> int:
    """Read the file into ``buf[start:]``; the bytes in ``buf`` then (fewer than its size: the end of file)."""
    with memoryview(buf) as free:
        while start < len(buf):
            n = f.readinto(free[start:])
            if not n:
                break
            start += n
    return start


def _read_window(reader, root, splitter, kernel, lines, buf, hi: int, base: int, pos: int, final: bool):
    """Read the entries complete in ``buf[pos:hi]`` (``buf[0]`` is at file offset ``base``), in file order:
    runs of plain IntervalBlock entries read by the kernel, every other entry by the lxml engine's code.
    Returns the offset to go on from."""
    view = np.frombuffer(buf, dtype=np.uint8)[:hi]
    while True:
        stop = pos
        if splitter.depth == 0:  # at the root's children: the kernel may take entries from here
            table, readings, stop, reason = kernel.scan(view, pos, final)
            for up, lo, end, n_entries in _xmlscan.runs(buf, table):
                yield from reader.blocks(up, _xmlscan.parsed_run(readings, lo, end, reader.next_row))
                reader.entries_done += n_entries
                yield from reader.check_pending()
            if reason == _xmlscan.STOP_MORE:
                return stop
            if reason == _xmlscan.STOP_FULL and len(table):
                pos = stop
                continue
        entries, pos, fall_back = splitter.split(buf, stop, hi, final, limit=1)
        for e in entries:
            yield from _read_alone(reader, root, buf, e, lambda e=e: lines.at(base + e.start) - 1)
        if fall_back:
            raise _xmlscan.Fallback
        if not entries:
            return pos


def _read_alone(reader: FeedReader, root: _xmlscan.Root, buf, e: _xmlscan.Entry, line_offset):
    """One entry the kernel does not read, parsed alone by lxml and read by the lxml engine's code;
    ``line_offset()`` gives the line of its first byte, less one."""
    if e.kind == "empty":
        reader.entries_done += 1
        return
    wrapper = _xmlscan.parse_alone(root, bytes(buf[e.start : e.end]))
    found = _xmlscan.atom_entries(wrapper)
    if e.kind == "foreign":
        if found:  # an Atom entry inside some other "entry" element: left to the lxml engine
            raise _xmlscan.Fallback
        return
    if len(found) != 1 or found[0] is not wrapper[0]:
        raise _xmlscan.Fallback
    yield from reader.entry(found[0], line_offset)


def read_greenbutton_xml_batches(
    path,
    tally,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_pending_readings: int = DEFAULT_MAX_PENDING_READINGS,
    meter_ids: dict | None = None,
    engine: str = "auto",
):
    """Generator of READ_SCHEMA batches from one feed, reporting to ``tally`` (see :class:`ReadStream`)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    path = Path(path)
    if not path.exists():
        raise IntervalDataError(f"{path}: file not found")
    _refuse_doctype_in_prolog(path)
    reader = FeedReader(path, tally, batch_rows, max_pending_readings, meter_ids)
    root = _scan_root(path, engine)
    if root is None:
        _Check(path, parallel=False).raise_if_bad()  # clear refusals before libxml2 builds anything
        yield from lxml_entries(reader)
        yield from reader.finish()
    else:
        yield from _scan_engine(path, reader, root)


def stream_greenbutton_xml(
    path,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_pending_readings: int = DEFAULT_MAX_PENDING_READINGS,
    meter_ids: dict | None = None,
) -> ReadStream:
    """Stream a Green Button (ESPI) XML feed as batches of interval reads (see ``docs/readers.md``).

    Parameters
    ----------
    path : file of the feed.
    batch_rows : rows per output batch (bounds memory with ``max_pending_readings``).
    max_pending_readings : readings held while waiting for their ReadingType before the file is pre-scanned.
    meter_ids : optional map from UsagePoint href (or the meter id derived from it) to the utility's meter id.
    """
    return ReadStream(
        Path(path),
        "greenbutton_xml",
        lambda tally: read_greenbutton_xml_batches(
            path, tally, batch_rows=batch_rows, max_pending_readings=max_pending_readings, meter_ids=meter_ids
        ),
    )


def read_greenbutton_xml(path, **kwargs):
    """Read a whole Green Button XML feed into a :class:`ReadResult` (no partial result on error)."""
    return collect(stream_greenbutton_xml(path, **kwargs))


__all__ = ["read_greenbutton_xml", "stream_greenbutton_xml", "meter_from_href"]
