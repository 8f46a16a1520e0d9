"""Scan engine of the Green Button XML reader: the Python side of the byte-level reading.

Kept by hand on purpose: lxml alone builds an element for every IntervalReading, where this scanner reads
the plain ones straight from the bytes; anything it does not recognise still goes to lxml.

The file is read window by window into one buffer. In each window the numba kernel
(:func:`~workbench.kernels.greenbutton_xml_entries.scan_entries`) reads the run of plain IntervalBlock
entries it finds (:class:`Kernel`, :func:`runs`, :func:`parsed_run`), and stops at anything else. The
:class:`Splitter` then takes the next top-level item with regular expressions: it skips comments, CDATA
sections and processing instructions, checks that the next entry is a child of the root (so in the root's
namespace scope), finds the entry's end and resolves its prefix. That entry (a UsagePoint, MeterReading,
ReadingType..., or an IntervalBlock entry of another shape) is parsed on its own by lxml, hardened, with the
root's namespace declarations around it (:func:`parse_alone`), and read by the lxml engine's code, so both
engines give the same result. If the layout itself is unusual (an entry nested in another element or in
another entry, a prefix declared on an element around an entry...), the rest of the file is read by the
lxml engine (:class:`Fallback`), which skips the entries already read.

Nothing here checks well-formedness: ``greenbutton_xml_check`` does (before, or beside in a second process),
and nothing here expands an entity or fetches anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from lxml import etree

from workbench.ami.readers.greenbutton_xml_espi import _ENTRY, ATOM
from workbench.ami.readers.greenbutton_xml_hardened import _parser_kwargs
from workbench.ami.readers.greenbutton_xml_pieces import _ParsedBlock
from workbench.kernels.greenbutton_xml_entries import (  # noqa: F401 (STOP_*: why the scan stopped, for the reader)
    STOP_FULL,
    STOP_MORE,
    STOP_OTHER,
    STOP_UNUSUAL,
    scan_entries,
)

CHUNK_BYTES = 8 << 20
ATOM_B = ATOM.encode()
ESTIMATED_CODES = np.array([7, 8, 9])

_NAME = rb"[^\s<>/!?:=\"'&;]+"
_QNAME = rb"(?:" + _NAME + rb":)?" + _NAME
_ATTRS = rb"(?:\s+" + _QNAME + rb"\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))*+"
_COMMENT = rb"<!--(?:[^-]|-(?!-))*+-->"
_PI = rb"<\?(?:[^?]|\?(?!>))*+\?>"
_CDATA = rb"<!\[CDATA\[(?:[^\]]|\](?!\]>))*+\]\]>"
_MISC = rb"(?:\s|" + _COMMENT + rb"|" + _PI + rb")*+"

_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?(?:<\?xml(?=\s)(?P<decl>(?:[^?]|\?(?!>))*+)\?>)?"
    + _MISC
    + rb"<(?P<prefix>"
    + _NAME
    + rb":)?(?P<local>"
    + _NAME
    + rb")(?P<attrs>"
    + _ATTRS
    + rb")\s*(?P<empty>/?)>"
)
_ENCODING = re.compile(rb"encoding\s*=\s*[\"']([^\"']*)[\"']")
_NEXT = re.compile(rb"<(?:!--|!\[CDATA\[|\?|(" + _NAME + rb":)?entry(?=[\s/>]))")
_SPECIAL_END = {b"<!--": b"-->", b"<![CDATA[": b"]]>", b"<?": b"?>"}
_START_TAG = re.compile(rb"<(" + _NAME + rb":)?entry(" + _ATTRS + rb")\s*(/?)>")
_GAP_TOKEN = re.compile(
    rb"[^<]+|" + _COMMENT + rb"|" + _PI + rb"|" + _CDATA + rb"|<(/?)" + _QNAME + _ATTRS + rb"\s*(/?)>"
)
_ATTR = re.compile(rb"(" + _QNAME + rb")\s*=\s*(?:\"([^\"<]*)\"|'([^'<]*)')")
_WS_TO_SPACE = bytes.maketrans(b"\t\n\r", b"   ")


class Fallback(Exception):
    """The layout is beyond this engine: the lxml engine reads the rest (``entries_done`` are read)."""


class Unusual(Exception):
    """A namespace declaration the splitter does not resolve (an entity in it): lxml reads that entry."""


def _declarations(attrs: bytes) -> dict:
    """Namespace declarations among a start tag's attributes, keyed by prefix with its colon (b"" default)."""
    if b"xmlns" not in attrs:
        return {}
    out = {}
    for name, dq, sq in _ATTR.findall(attrs):
        if name == b"xmlns" or name.startswith(b"xmlns:"):
            value = dq or sq
            if b"&" in value:
                raise Unusual
            out[name[6:] + b":" if name != b"xmlns" else b""] = value.translate(_WS_TO_SPACE)
    return out


def _resolve(prefix: bytes, *scopes: dict) -> bytes | None:
    for scope in scopes:
        if prefix in scope:
            return scope[prefix]
    return None


@dataclass
class Root:
    """The root start tag: where entries begin, and its namespace declarations."""

    end: int  # offset just past the root start tag
    empty: bool  # <feed/>
    is_feed: bool
    local: str
    scope: dict  # prefix -> namespace
    declarations: bytes  # the xmlns attributes, for the lxml wrapper of single entries
    atom_prefix: bytes  # the root's prefix, with its colon (b"" for the default namespace)


def read_root(head: bytes) -> Root | None:
    """The root element of a UTF-8 (or ASCII) feed from the file's first bytes; None: not for this engine
    (another encoding, a DOCTYPE, a root start tag out of reach...)."""
    m = _PROLOG.match(head)
    if m is None:
        return None
    decl = m["decl"] or b""
    enc = _ENCODING.search(decl)
    if enc and enc.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
        return None
    attrs = m["attrs"]
    try:
        scope = {b"xml:": b"http://www.w3.org/XML/1998/namespace"} | _declarations(attrs)
    except Unusual:
        return None
    prefix = m["prefix"] or b""
    declarations = b"".join(
        b" " + a.group(0).translate(_WS_TO_SPACE)
        for a in _ATTR.finditer(attrs)
        if a.group(1) == b"xmlns" or a.group(1).startswith(b"xmlns:")
    )
    return Root(
        end=m.end(),
        empty=bool(m["empty"]),
        is_feed=m["local"] == b"feed" and _resolve(prefix, scope) == ATOM_B,
        local=m["local"].decode("utf-8", "replace"),
        scope=scope,
        declarations=declarations,
        atom_prefix=prefix,
    )


@dataclass
class Entry:
    """One top-level element named ``entry``, as the splitter found it."""

    start: int  # offset of '<'
    end: int  # offset past its end tag
    kind: str  # "lxml": an Atom entry, for lxml; "empty": <entry/>; "foreign": not in the Atom namespace


class Splitter:
    """Cuts a chunk of bytes into top-level entries, checking the layout between them."""

    def __init__(self, root: Root):
        self.root = root
        self.depth = 0  # elements open around the current offset, below the root
        self._ends: dict[bytes, re.Pattern] = {}

    def split(self, buf, pos: int, hi: int, final: bool, limit: int = 1 << 62):
        """(up to ``limit`` entries complete in ``buf[pos:hi]``, offset to go on from, fall back after them?).

        ``buf`` is bytes-like; ``final``: ``hi`` is the end of the file. The text between entries is walked
        as it comes (``depth`` carries over from one call to the next), so a long stretch without entries
        does not have to fit in one window.
        """
        entries = []
        gap = pos  # start of the text since the last entry
        search = pos
        while True:
            m = _NEXT.search(buf, search, hi)
            if m is None or m.group(0) in _SPECIAL_END:
                end = -1
                if m is not None:  # a comment, CDATA section or processing instruction between entries
                    token = m.group(0)
                    end = buf.find(_SPECIAL_END[token], m.end(), hi)
                    if end >= 0:
                        search = end + len(_SPECIAL_END[token])
                        continue
                if final:
                    return entries, hi, m is not None  # (an unclosed comment at the end: lxml says why)
                reached = self._walk_gap(buf, gap, m.start() if m is not None else hi, complete=False)
                return entries, (gap if reached < 0 else reached), reached < 0
            s = m.start()
            if self._walk_gap(buf, gap, s, complete=True) < 0 or self.depth:
                return entries, gap, True  # the entry is not a child of the root
            tag = _START_TAG.match(buf, s, hi)
            if tag is None:
                if buf.find(b">", s, hi) < 0 and not final:
                    return entries, s, False
                return entries, s, True
            if tag.group(3):
                entries.append(self._classify_empty(buf, s, tag))
                gap = search = tag.end()
            else:
                qname = (tag.group(1) or b"") + b"entry"
                end = self._end_of(buf, tag.end(), hi, qname)
                if end is None:  # not before hi
                    return entries, s, final
                if end < 0:  # an entry inside an entry
                    return entries, s, True
                end = buf.find(b">", end, hi) + 1
                entries.append(self._classify(buf, s, tag, end))
                gap = search = end
            if len(entries) >= limit:
                return entries, gap, False

    def _end_of(self, buf, pos: int, hi: int, qname: bytes) -> int | None:
        """Offset of the entry's end tag; None if not before ``hi``; -1 if another ``qname`` opens first."""
        pattern = self._ends.get(qname)
        if pattern is None:
            q = re.escape(qname)
            pattern = re.compile(rb"<(?:!--|!\[CDATA\[|\?)|</" + q + rb"\s*>|<" + q + rb"(?=[\s/>])")
            self._ends[qname] = pattern
        while True:
            m = pattern.search(buf, pos, hi)
            if m is None:
                return None
            token = m.group(0)
            if token in _SPECIAL_END:
                end = buf.find(_SPECIAL_END[token], m.end(), hi)
                if end < 0:
                    return None
                pos = end + len(_SPECIAL_END[token])
            elif token.startswith(b"</"):
                return m.start()
            else:
                return -1

    def _walk_gap(self, buf, lo: int, hi: int, complete: bool) -> int:
        """Walk the text between entries, ``buf[lo:hi]``, keeping the element ``depth`` (0: the next entry
        is a child of the root, in the root's namespace scope). Returns the offset reached (short of a tag
        cut by ``hi`` unless ``complete``), or -1 if the text is not what it should be."""
        if buf.find(b"<", lo, hi) < 0:
            return hi
        pos = lo
        while pos < hi:
            t = _GAP_TOKEN.match(buf, pos, hi)
            if t is None:
                return -1 if complete else pos
            if t.group(0)[:1] == b"<" and t.group(0)[1:2] not in (b"!", b"?"):
                self.depth += -1 if t.group(1) else 0 if t.group(2) else 1
                if self.depth < 0:  # the root's end tag: only the epilogue is left
                    return hi
            pos = t.end()
        return pos

    def _namespace_of(self, tag) -> tuple[bytes | None, dict]:
        scope = _declarations(tag.group(2))
        return _resolve(tag.group(1) or b"", scope, self.root.scope), scope

    def _classify_empty(self, buf, s, tag) -> Entry:
        try:
            ns, _ = self._namespace_of(tag)
        except Unusual:
            return Entry(s, tag.end(), "lxml")
        return Entry(s, tag.end(), "empty" if ns == ATOM_B else "foreign")

    def _classify(self, buf: bytes, s: int, tag, end_hi: int) -> Entry:
        try:
            ns, _ = self._namespace_of(tag)
        except Unusual:
            return Entry(s, end_hi, "lxml")
        return Entry(s, end_hi, "lxml" if ns == ATOM_B else "foreign")


def parsed_run(arrays, lo: int, hi: int, first_row: int) -> _ParsedBlock:
    """Slots ``lo:hi`` of the kernel's output as one parsed block (copies: it may wait for its ReadingType)."""
    durations, starts, values, codes, digits = (a[lo:hi] for a in arrays)
    n = hi - lo
    if (codes < 0).all():
        quality, source_quality = np.zeros(n, np.uint8), None
    else:
        quality = np.isin(codes, ESTIMATED_CODES).astype(np.uint8)
        key = np.where(codes < 0, -1, codes * 16 + digits)
        labels, index = np.unique(key, return_inverse=True)
        text = np.array([f"{k >> 4:0{k & 15}d}" if k >= 0 else "" for k in labels.tolist()], dtype=object)
        source_quality = text[index]
    return _ParsedBlock(
        rows=np.arange(first_row, first_row + n, dtype=np.int64),
        starts=starts.copy(),
        durations=durations.copy(),
        values=values.copy(),
        quality=quality,
        source_quality=source_quality,
        block_start=None,
        bad={},
    )


def parse_alone(root: Root, region: bytes):
    """One top-level element of the feed parsed by itself (hardened lxml), in the root's namespace scope;
    returns the wrapper element. Raises Fallback if lxml cannot read it alone."""
    parser = etree.XMLParser(**_parser_kwargs())
    try:
        wrapper = etree.fromstring(b"<w" + root.declarations + b">" + region + b"</w>", parser)
    except etree.XMLSyntaxError:
        raise Fallback from None
    if any(e.level_name in ("ERROR", "FATAL") for e in parser.error_log):
        raise Fallback  # e.g. a prefix declared on an element around the entry
    return wrapper


def atom_entries(wrapper) -> list:
    return list(wrapper.iter(_ENTRY))


class Kernel:
    """The kernel's output arrays for one feed, reused window after window (about 0.4 bytes per byte of
    window; doubled when one entry does not fit)."""

    def __init__(self, root: Root):
        self.atom_prefix = np.frombuffer(root.atom_prefix, dtype=np.uint8).copy()
        self._allocate(0, 0)

    def _allocate(self, n_entries: int, n_readings: int) -> None:
        self.entries = np.empty((n_entries, 6), np.int64)
        self.readings = (
            np.empty(n_readings, np.int64),  # durations [s]
            np.empty(n_readings, np.int64),  # starts [epoch s]
            np.empty(n_readings, np.float64),  # values as written
            np.empty(n_readings, np.int64),  # quality codes, -1: none
            np.empty(n_readings, np.int64),  # digits of the quality codes
        )

    def scan(self, view: np.ndarray, pos: int, final: bool):
        """(entries table, reading arrays, stop offset, STOP_* reason) of the plain entries in
        ``view[pos:]`` (offsets are offsets in ``view``); STOP_FULL only after at least one entry."""
        want = (view.size - pos) // 128 + 16  # a reading takes 100 bytes or more
        if len(self.readings[0]) < want:
            self._allocate(want // 4, want)
        while True:
            n, _, stop, reason = scan_entries(
                view, pos, final, self.atom_prefix, self.entries, *self.readings
            )
            if reason != STOP_FULL or n:
                return self.entries[:n], self.readings, stop, reason
            self._allocate(2 * len(self.entries) + 16, 2 * len(self.readings[0]) + 16)


def runs(buf: bytes, table: np.ndarray):
    """Consecutive kernel-read entries with the same ``up`` href: (up, first slot, end slot, entries)."""
    out = []
    previous = object()
    for _start, _end, up_lo, up_hi, lo, hi in table.tolist():
        up = buf[up_lo:up_hi] if up_lo >= 0 else None
        if up == previous:
            out[-1][2] = hi
            out[-1][3] += 1
        else:
            out.append([up, lo, hi, 1])
            previous = up
    for run in out:
        if run[0] is not None:
            run[0] = run[0].translate(_WS_TO_SPACE).decode("utf-8", "replace").strip()
    return out
