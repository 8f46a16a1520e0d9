"""Green Button XML, lxml engine: hardened iterparse of whole entries, XPath per IntervalBlock.

This is the reference engine (and the one used for files the byte scanner of ``_xmlscan.py`` does not take:
non-UTF-8 encodings, unusual nesting). It is also the scanner's fallback for single entries it cannot read
at C speed (comments or CDATA inside numbers, entity references, missing elements...): such an entry is
parsed here, on its own, with the same code.

Safety: the parser never loads a DTD, never touches the network, never resolves entities and keeps libxml2's
size limits (``huge_tree=False``). A document with a DOCTYPE (where ENTITY declarations live) is refused
before any content is read: Green Button feeds have none, and "billion laughs" and external-entity (XXE)
files need one.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from lxml import etree

from workbench.ami.readers._result import NON_FINITE
from workbench.ami.readers.greenbutton_xml_check import HARDENED
from workbench.ami.readers.greenbutton_xml_feed import (
    _CONTENT,
    _ENTRY,
    _LINK,
    _MISSING,
    _TITLE,
    ATOM,
    ESTIMATED_QUALITY_CODES,
    _Feed,
    _int_or_none,
    _ParsedBlock,
    _Pieces,
)
from workbench.errors import IntervalDataError

_PROLOG_SCAN_BYTES = 1 << 20


def _parser_kwargs() -> dict:
    return dict(HARDENED)


def _refuse_doctype_in_prolog(path: Path) -> None:
    """Refuse a DOCTYPE/ENTITY in the prolog before libxml2 sees it (UTF-8/ASCII files).

    The root element's docinfo is checked again during the parse, which also covers other encodings.
    """
    with open(path, "rb") as f:
        head = f.read(_PROLOG_SCAN_BYTES)
    for bom, codec in (
        (b"\xff\xfe\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff", "utf-32"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if head.startswith(bom):
            head = head[: len(head) - len(head) % 4].decode(codec, errors="ignore").encode("utf-8")
            break
    text = head.lstrip(b"\xef\xbb\xbf")
    pos = 0
    while True:
        lt = text.find(b"<", pos)
        if lt < 0:
            return
        if text.startswith(b"<?", lt):
            end = text.find(b"?>", lt)
            if end < 0:
                return
            pos = end + 2
        elif text.startswith(b"<!--", lt):
            end = text.find(b"-->", lt)
            if end < 0:
                return
            pos = end + 3
        elif text.startswith(b"<!", lt):
            _refuse(path, _line_of(text, lt))
        else:
            return  # the root element: the prolog is over


def _line_of(text: bytes, pos: int) -> int:
    return text.count(b"\n", 0, pos) + 1


def _refuse(path, line: int | None) -> None:
    where = f" (line {line})" if line else ""
    raise IntervalDataError(
        f"{path}: refused: the file declares a DOCTYPE{where}. Green Button feeds never need one, and a "
        "DOCTYPE is how entity-expansion ('billion laughs') and external-entity attacks are carried, so "
        "the file was not read. Ask the sender for a plain Green Button export."
    )


class _Xp:
    """Compiled XPath expressions for one ESPI namespace."""

    _cache: dict = {}

    def __new__(cls, ns: str):
        if ns in cls._cache:
            return cls._cache[ns]
        self = super().__new__(cls)
        nsmap = {"e": ns} if ns else None
        p = "e:" if ns else ""

        def xp(expr):
            return etree.XPath(expr.replace("E:", p), namespaces=nsmap, smart_strings=False)

        ir = "E:IntervalReading"
        regular = (
            f"{ir}[count(E:timePeriod)=1 and count(E:timePeriod/E:start)=1 and "
            "count(E:timePeriod/E:duration)=1 and count(E:value)=1 and "
            "count(E:timePeriod/E:start/node())=1 and count(E:timePeriod/E:duration/node())=1 and "
            "count(E:value/node())=1]"
        )
        # one call per block: "<readings> <regular readings> <ReadingQuality count> <block start>"
        self.meta = xp(
            f"concat(count({ir}), ' ', count({regular}), ' ', count({ir}/E:ReadingQuality), ' ', "
            "normalize-space(E:interval/E:start))"
        )
        self.n_readings = xp(f"count({ir})")
        self.n_regular = xp(
            f"count({ir}[count(E:timePeriod)=1 and count(E:timePeriod/E:start)=1 and "
            "count(E:timePeriod/E:duration)=1 and count(E:value)=1 and "
            "count(E:timePeriod/E:start/node())=1 and count(E:timePeriod/E:duration/node())=1 and "
            "count(E:value/node())=1])"
        )
        self.n_quality = xp(f"count({ir}/E:ReadingQuality)")
        self.n_one_quality = xp(
            f"count({ir}[count(E:ReadingQuality)=1 and count(E:ReadingQuality/E:quality)=1])"
        )
        self.starts = xp(f"{ir}/E:timePeriod/E:start/text()")
        self.durations = xp(f"{ir}/E:timePeriod/E:duration/text()")
        self.values = xp(f"{ir}/E:value/text()")
        self.qualities = xp(f"{ir}/E:ReadingQuality/E:quality/text()")
        self.readings = xp(ir)
        self.blocks = xp("E:IntervalBlock")
        self.block_start = xp("string(E:interval/E:start)")
        cls._cache[ns] = self
        self.ns = ns
        return self

    def tag(self, local: str) -> str:
        return f"{{{self.ns}}}{local}" if self.ns else local


def _numbers(strs: list[str], n: int) -> np.ndarray | None:
    """Parse ``n`` decimal texts at C speed; None if any is not a finite number (the slow path then names it)."""
    if len(strs) != n:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns on text it cannot read: we check the count instead
        try:
            out = np.fromstring(" ".join(strs), dtype=np.float64, sep=" ")
        except ValueError:  # numpy 2 raises on some text it cannot read ("1_0")
            return None
    if len(out) != n or not np.isfinite(out).all():
        return None
    return out


def _integers(strs: list[str], n: int) -> np.ndarray | None:
    out = _numbers(strs, n)
    if out is None or not (out == np.round(out)).all():
        return None
    return out.astype(np.int64)


def _quality_flags(codes_text: list[str]) -> tuple[np.ndarray, list[str]]:
    flags = np.zeros(len(codes_text), dtype=np.uint8)
    for i, text in enumerate(codes_text):
        for part in text.split(";"):
            code = _int_or_none(part)
            if code in ESTIMATED_QUALITY_CODES:
                flags[i] = 1
    return flags, codes_text


def _parse_block(blk, xp: _Xp, first_row: int, line_offset=0) -> _ParsedBlock:
    """Parse one IntervalBlock element: a few XPath calls and C-speed number parsing when it is regular
    (every reading has exactly one start, duration and value), else reading by reading."""
    n_text, regular_text, n_q_text, bs_text = (xp.meta(blk).split(" ", 3) + ["", "", ""])[:4]
    n, n_regular, n_q = int(float(n_text)), int(float(regular_text)), int(float(n_q_text))
    rows = np.arange(first_row, first_row + n, dtype=np.int64)
    bs = _int_or_none(bs_text)
    if n and n_regular == n:
        starts = _integers(xp.starts(blk), n)
        durations = _integers(xp.durations(blk), n) if starts is not None else None
        values = _numbers(xp.values(blk), n) if durations is not None else None
        if n_q == 0:
            quality, source_quality = np.zeros(n, np.uint8), None
        elif xp.n_one_quality(blk) == n:
            codes = [t.strip() for t in xp.qualities(blk)]
            quality, source_quality = _quality_flags(codes)
        else:
            quality = None
        if starts is not None and durations is not None and values is not None and quality is not None:
            return _ParsedBlock(rows, starts, durations, values, quality, source_quality, bs, {})
    return _parse_block_slowly(blk, xp, rows, bs, line_offset)


def _parse_block_slowly(
    blk, xp: _Xp, rows: np.ndarray, block_start: int | None, line_offset=0
) -> _ParsedBlock:
    """Reading by reading; ``line_offset`` (int, or a function giving it) corrects ``sourceline`` in
    reject messages when ``blk`` was parsed out of its file."""
    n = len(rows)
    starts = np.full(n, _MISSING, dtype=np.int64)
    durations = np.full(n, -1, dtype=np.int64)
    values = np.full(n, np.nan)
    quality = np.zeros(n, dtype=np.uint8)
    source_quality = [""] * n
    bad = {}
    t_tp, t_start, t_dur = xp.tag("timePeriod"), xp.tag("start"), xp.tag("duration")
    t_val, t_rq, t_q = xp.tag("value"), xp.tag("ReadingQuality"), xp.tag("quality")
    for i, r in enumerate(xp.readings(blk)):

        def raw(r=r):
            text = etree.tostring(r, encoding="unicode", with_tail=False)
            offset = line_offset() if callable(line_offset) else line_offset
            return f"line {r.sourceline + offset}: {text}"

        tp = r.find(t_tp)
        if tp is not None:
            s_text, d_text = tp.findtext(t_start), tp.findtext(t_dur)
            if s_text is not None:
                s = _int_or_none(s_text)
                if s is None:
                    bad[i] = (f"timePeriod start {s_text.strip()!r} is not epoch seconds", raw())
                    continue
                starts[i] = s
            if d_text is not None:
                d = _int_or_none(d_text)
                if d is None:
                    bad[i] = (f"timePeriod duration {d_text.strip()!r} is not a number of seconds", raw())
                    continue
                durations[i] = d
        v_text = r.findtext(t_val)
        if v_text is None or not v_text.strip():
            bad[i] = ("IntervalReading has no value", raw())
            continue
        try:
            v = float(v_text.strip())
        except ValueError:
            bad[i] = (f"value {v_text.strip()!r} is not a number", raw())
            continue
        if not np.isfinite(v):
            bad[i] = (NON_FINITE, raw())  # the boundary screen's reason, for every reader
            continue
        values[i] = v
        codes = [(q.text or "").strip() for rq in r.iter(t_rq) for q in rq.iter(t_q)]
        if codes:
            source_quality[i] = ";".join(codes)
            if any(_int_or_none(c) in ESTIMATED_QUALITY_CODES for c in codes):
                quality[i] = 1
    return _ParsedBlock(rows, starts, durations, values, quality, source_quality, block_start, bad)


def _links(entry) -> tuple[str | None, str | None, list[str]]:
    self_href = up_href = None
    related = []
    for link in entry.iterchildren(_LINK):
        rel, href = link.get("rel"), link.get("href")
        if href is None:
            continue
        href = href.strip()
        if rel == "self":
            self_href = href
        elif rel == "up":
            up_href = href
        elif rel == "related":
            related.append(href)
    return self_href, up_href, related


def _espi_resource(entry):
    content = entry.find(_CONTENT)
    if content is None:
        return None
    for child in content:
        if isinstance(child.tag, str):
            return child
    return None


def malformed(path, line: int | None, msg: str) -> IntervalDataError:
    where = f"at line {line}" if line else "at its start"
    return IntervalDataError(
        f"{path}: the Green Button XML is malformed {where}: {msg}. Nothing from this file was "
        "loaded; if the file was cut short in transfer, download it again."
    )


def _iter_entries(path: Path, check_root):
    """Yield each Atom entry (cleared after use) from a hardened iterparse; errors name file and line."""
    context = etree.iterparse(str(path), events=("end",), tag=_ENTRY, **_parser_kwargs())
    checked = False
    try:
        for _, entry in context:
            if not checked:
                check_root(entry.getroottree())
                checked = True
            yield entry
            entry.clear(keep_tail=False)
            parent = entry.getparent()
            if parent is not None:
                while entry.getprevious() is not None:
                    del parent[0]
        if not checked:
            check_root(context.root.getroottree())
    except etree.XMLSyntaxError as e:
        line, msg = e.lineno, (e.msg or str(e)).strip()
        fatals = [
            entry
            for entry in (e.error_log or [])
            if entry.level_name == "FATAL" and entry.filename == str(path)
        ]
        if fatals:  # libxml2's own (latest) fatal error is more precise than the summary exception
            line, msg = fatals[-1].line, fatals[-1].message.strip()
        raise malformed(path, line, msg) from None
    except OSError as e:
        raise IntervalDataError(f"{path}: cannot read the file: {e}") from None


def _root_checker(path: Path):
    def check(tree):
        docinfo = tree.docinfo
        if docinfo.doctype or tree.docinfo.internalDTD is not None or tree.docinfo.externalDTD is not None:
            _refuse(path, None)
        root = tree.getroot()
        if root is None or root.tag != f"{{{ATOM}}}feed":
            tag = "nothing" if root is None else f"<{etree.QName(root).localname}>"
            raise IntervalDataError(
                f"{path}: not a Green Button feed: the root element is {tag}, expected an Atom <feed> "
                f"({ATOM}). Export the data as Green Button 'Download My Data' XML."
            )

    return check


def _prescan(feed: _Feed, path: Path) -> None:
    for entry in _iter_entries(path, _root_checker(path)):
        res = _espi_resource(entry)
        if res is None:
            continue
        kind = etree.QName(res).localname
        if kind != "IntervalBlock":
            s, u, rel = _links(entry)
            feed.add_resource(kind, res, s, u, rel, entry.findtext(_TITLE))


class FeedReader:
    """The reading state of one feed (links, pending blocks, output, row ordinals), fed entry by entry.

    Both engines drive it: the lxml engine with every entry, the scan engine with runs of IntervalBlocks it
    parsed itself (:meth:`blocks`) and with the entries it hands over as lxml elements (:meth:`entry`).
    Every method that may emit batches is a generator.
    """

    def __init__(self, path: Path, tally, batch_rows: int, max_pending: int, meter_ids: dict | None):
        self.path, self.tally = path, tally
        self.feed = _Feed(path, tally, max_pending, meter_ids)
        self.out = _Pieces(str(path), batch_rows)
        self.next_row = 1  # ordinal of the next IntervalReading in the file
        self.entries_done = 0  # Atom entries read, in document (end-tag) order

    def entry(self, entry, line_offset=0):
        """One Atom entry element (hardened-parsed); ``line_offset`` (int, or a function giving it) corrects
        its ``sourceline`` in messages."""
        self.entries_done += 1
        res = _espi_resource(entry)
        if res is None:
            return
        kind = etree.QName(res).localname
        s, u, rel = _links(entry)
        if kind == "IntervalBlock":
            xp = _Xp(etree.QName(res).namespace or "")
            for blk in xp.blocks(res.getparent()):
                block = _parse_block(blk, xp, self.next_row, line_offset)
                yield from self.blocks(u, block)
            yield from self.check_pending()
        else:
            feed = self.feed
            feed.add_resource(kind, res, s, u, rel, entry.findtext(_TITLE))
            if kind in ("ReadingType", "MeterReading", "UsagePoint") and feed.pending:
                for b in feed.release():
                    yield from self.out.add(b)

    def blocks(self, up: str | None, block: _ParsedBlock):
        """Readings of one IntervalBlock (or of consecutive blocks with the same ``up`` link)."""
        self.next_row += len(block)
        self.tally.read += len(block)
        converted = self.feed.take_block(up, block)
        if converted is not None:
            yield from self.out.add(converted)

    def check_pending(self):
        """Past ``max_pending_readings`` held readings, learn every link of the file and go on."""
        feed = self.feed
        if feed.pending_rows <= feed.max_pending or feed.prescanned:
            return
        _prescan(feed, self.path)
        feed.prescanned = True
        for b in feed.release():
            yield from self.out.add(b)
        for up, blocks in list(feed.pending.items()):
            mr = feed.meter_reading_for_block(up or None)
            for block in blocks:
                feed.reject_unlinked(up, block, mr)
        feed.pending.clear()
        feed.pending_rows = 0

    def finish(self):
        for b in self.feed.finish():
            yield from self.out.add(b)
        self.tally.metadata.update(self.feed.metadata())
        yield from self.out.finish()


def lxml_entries(reader: FeedReader, skip_entries: int = 0):
    """The lxml engine: every entry of the file through ``reader`` (the first ``skip_entries`` skipped).
    The caller ends with ``reader.finish()``."""
    for i, entry in enumerate(_iter_entries(reader.path, _root_checker(reader.path))):
        if i >= skip_entries:
            yield from reader.entry(entry)
