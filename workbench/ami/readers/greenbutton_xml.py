"""Green Button (NAESB ESPI) XML reader: streaming, hardened, vectorized per IntervalBlock.

The feed is an Atom ``<feed>`` of ``<entry>`` elements, each wrapping one ESPI resource in ``<content>``.
Resources link to each other through ``<link rel="self|up|related" href=...>`` hrefs, matched as opaque
strings:

- a ``MeterReading``'s ``related`` hrefs name its ``ReadingType`` (its ``self`` href) and its IntervalBlock
  collection (the ``up`` href of each of its ``IntervalBlock`` entries);
- a ``UsagePoint``'s ``related`` hrefs include the MeterReading collection (the MeterReading's ``up`` href).

Entries come in any order. IntervalBlocks whose ReadingType has not been seen yet are held, already parsed
into numpy arrays (~30 bytes per reading), up to ``max_pending_readings``; past that bound the file is
scanned once for its ReadingTypes/MeterReadings/UsagePoints (a second parse) and reading goes on with all
links known. Memory is therefore bounded by one entry plus one output batch plus that bound.

Safety: the parser never loads a DTD, never touches the network, never resolves entities and keeps libxml2's
size limits (``huge_tree=False``). A document with a DOCTYPE (where ENTITY declarations live) is refused
before any content is read: Green Button feeds have none, and "billion laughs" and external-entity (XXE)
files need one.
"""

from __future__ import annotations

import re
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
from lxml import etree

from workbench.ami.readers._result import (
    DEFAULT_BATCH_ROWS,
    BatchBuffer,
    ReadStream,
    Tally,
    dict_const,
    dict_from_codes,
    make_batch,
)
from workbench.errors import IntervalDataError

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
_ENTRY = f"{{{ATOM}}}entry"
_LINK = f"{{{ATOM}}}link"
_CONTENT = f"{{{ATOM}}}content"
_TITLE = f"{{{ATOM}}}title"

FLOW_DELIVERED = 1  # forward: energy delivered to the customer
FLOW_RECEIVED = 19  # reverse: energy received from the customer
UOM_WH = 72
UOM_W = 38
KIND_DEMAND = 8
#: QualityOfReading codes that mean "not an actual read": 7 manually edited, 8 estimated using a
#: reference day, 9 estimated using linear interpolation
ESTIMATED_QUALITY_CODES = frozenset({7, 8, 9})
#: accumulationBehaviour codes accepted as interval energy: absent/0 "none", 4 deltaData
_DELTA_ACCUMULATION = frozenset({0, 4})
_FLOW_NAMES = {4: "net", 20: "total", 0: "none"}

DEFAULT_MAX_PENDING_READINGS = 2_000_000
_PROLOG_SCAN_BYTES = 1 << 20


def _parser_kwargs() -> dict:
    return dict(
        resolve_entities=False,
        load_dtd=False,
        no_network=True,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


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


def _refuse(path: Path, line: int | None) -> None:
    where = f" (line {line})" if line else ""
    raise IntervalDataError(
        f"{path}: refused: the file declares a DOCTYPE{where}. Green Button feeds never need one, and a "
        "DOCTYPE is how entity-expansion ('billion laughs') and external-entity attacks are carried, so "
        "the file was not read. Ask the sender for a plain Green Button export."
    )


@dataclass
class _ParsedBlock:
    """One IntervalBlock, parsed but not yet converted (its ReadingType may still be unknown)."""

    rows: np.ndarray  # int64 IntervalReading ordinals
    starts: np.ndarray  # int64 epoch seconds; _MISSING where the reading had no timePeriod/start
    durations: np.ndarray  # int64 seconds; -1 where missing
    values: np.ndarray  # float64; NaN where missing or not a number
    quality: np.ndarray  # uint8 0/1
    source_quality: list | None  # per-reading code strings, or None when the block has no ReadingQuality
    block_start: int | None  # interval/start of the block, to derive starts
    bad: dict  # position -> (reason, raw): readings rejected while parsing

    def __len__(self):
        return len(self.rows)


_MISSING = np.iinfo(np.int64).min


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


def _int_or_none(text) -> int | None:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            return None
        return int(f) if f.is_integer() else None


def _numbers(strs: list[str], n: int) -> np.ndarray | None:
    """Parse ``n`` decimal texts at C speed; None if any is not a finite number (the slow path then names it)."""
    if len(strs) != n:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numpy warns on text it cannot read: we check the count instead
        out = np.fromstring(" ".join(strs), dtype=np.float64, sep=" ")
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


def _parse_block(blk, xp: _Xp, first_row: int) -> _ParsedBlock:
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
    return _parse_block_slowly(blk, xp, rows, bs)


def _parse_block_slowly(blk, xp: _Xp, rows: np.ndarray, block_start: int | None) -> _ParsedBlock:
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
        raw = lambda r=r: f"line {r.sourceline}: " + etree.tostring(r, encoding="unicode", with_tail=False)  # noqa: E731
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
            bad[i] = (f"value {v_text.strip()!r} is not a finite number", raw())
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


_PREFIX = re.compile(r"^[a-z][a-z0-9+.-]*://[^/]*", re.I)


def meter_from_href(href: str) -> str:
    """A UsagePoint href as a meter id: without scheme/host, ESPI resource root or leading slash."""
    h = _PREFIX.sub("", href.strip())
    cut = h.find("/resource/")
    if cut >= 0:
        h = h[cut + len("/resource/") :]
    return h.strip("/") or href


def _child_fields(resource) -> dict[str, str]:
    out = {}
    for child in resource:
        if isinstance(child.tag, str) and len(child) == 0:
            out[etree.QName(child).localname] = (child.text or "").strip()
    return out


@dataclass
class _Piece:
    """Converted reads of one IntervalBlock (numpy), gathered into batches by :class:`_Pieces`."""

    meter: str
    channel: str
    start_us: np.ndarray
    seconds: np.ndarray
    kwh: np.ndarray
    quality: np.ndarray
    source_quality: list | None
    rows: np.ndarray

    @property
    def num_rows(self) -> int:
        return len(self.rows)


class _Pieces:
    """Gathers many small block pieces into one RecordBatch (per-batch Arrow overhead, not per block)."""

    GATHER_ROWS = 65_536

    def __init__(self, source: str, batch_rows: int):
        self.source = source
        self.out = BatchBuffer(batch_rows)
        self.gather = min(batch_rows, self.GATHER_ROWS)
        self.pieces: list[_Piece] = []
        self.rows = 0

    def add(self, piece):
        if piece is None or piece.num_rows == 0:
            return
        self.pieces.append(piece)
        self.rows += piece.num_rows
        if self.rows >= self.gather:
            yield from self._flush()

    def _flush(self):
        ps, self.pieces, self.rows = self.pieces, [], 0
        if not ps:
            return
        lengths = np.array([p.num_rows for p in ps])
        meters = sorted({p.meter for p in ps})
        meter_code = {m: i for i, m in enumerate(meters)}
        channels = ["delivered", "received"]
        if all(p.source_quality is None for p in ps):
            sq = dict_const("", int(lengths.sum()))
        else:
            codes = []
            for p in ps:
                codes.extend(p.source_quality if p.source_quality is not None else [""] * p.num_rows)
            sq = pa.array(codes, pa.string()).dictionary_encode()
        batch = make_batch(
            meter=dict_from_codes(np.repeat([meter_code[p.meter] for p in ps], lengths), meters),
            channel=dict_from_codes(np.repeat([channels.index(p.channel) for p in ps], lengths), channels),
            start_us=np.concatenate([p.start_us for p in ps]),
            seconds=np.concatenate([p.seconds for p in ps]),
            kwh=np.concatenate([p.kwh for p in ps]),
            quality=np.concatenate([p.quality for p in ps]),
            source_quality=sq,
            source=self.source,
            row=np.concatenate([p.rows for p in ps]),
        )
        yield from self.out.add(batch)

    def finish(self):
        yield from self._flush()
        yield from self.out.finish()


class _Feed:
    """Link bookkeeping and emission for one feed."""

    def __init__(self, path: Path, tally: Tally, max_pending: int, meter_ids: dict | None):
        self.path, self.tally, self.max_pending = path, tally, max_pending
        self.meter_ids = meter_ids or {}
        self.reading_types: dict[str, dict] = {}  # self href -> fields
        self.meter_readings: dict[str, dict] = {}  # self href -> {"up", "related"}
        self.mr_by_related: dict[str, list[str]] = defaultdict(list)  # related href -> MR self hrefs
        self.mr_by_self: dict[str, str] = {}
        self.usage_points: dict[str, dict] = {}  # self href -> info
        self.up_by_related: dict[str, str] = {}  # related href -> UsagePoint self href
        self.local_time: dict[str, dict] = {}
        self.pending: dict[str, list[_ParsedBlock]] = defaultdict(list)  # block up href -> blocks
        self.pending_rows = 0
        self.prescanned = False

    # -- metadata resources -------------------------------------------------------------------------
    def add_resource(self, kind: str, resource, self_href, up_href, related, title) -> None:
        if kind == "ReadingType":
            if self_href:
                self.reading_types[self_href] = _child_fields(resource) | {"_up": up_href}
        elif kind == "MeterReading":
            if self_href and self_href not in self.meter_readings:
                self.meter_readings[self_href] = {"up": up_href, "related": related}
                for r in related:
                    self.mr_by_related[r].append(self_href)
        elif kind == "UsagePoint":
            if self_href and self_href not in self.usage_points:
                kind_el = resource.find(f"{{{etree.QName(resource).namespace}}}ServiceCategory")
                service_kind = None
                if kind_el is not None and len(kind_el):
                    service_kind = (kind_el[0].text or "").strip()
                self.usage_points[self_href] = {
                    "href": self_href,
                    "title": title,
                    "service_kind": service_kind,
                    "related": related,
                }
                for r in related:
                    self.up_by_related[r] = self_href
        elif kind == "LocalTimeParameters":
            if self_href:
                self.local_time[self_href] = _child_fields(resource)

    # -- resolution ---------------------------------------------------------------------------------
    def meter_reading_for_block(self, block_up: str | None) -> str | None:
        if block_up is None:
            return None
        mrs = self.mr_by_related.get(block_up)
        return mrs[0] if mrs else None

    def reading_type_for(self, mr_href: str) -> dict | None:
        for r in self.meter_readings[mr_href]["related"]:
            if r in self.reading_types:
                return self.reading_types[r]
        for rt in self.reading_types.values():  # ReadingType whose 'up' names the MeterReading
            if rt.get("_up") == mr_href:
                return rt
        return None

    def meter_for(self, mr_href: str) -> str:
        mr = self.meter_readings[mr_href]
        up_href = self.up_by_related.get(mr["up"]) if mr["up"] else None
        if up_href is None:
            base = mr["up"] or mr_href
            up_href = re.sub(r"/MeterReading(/[^/]*)?/?$", "", base)
        meter = meter_from_href(up_href)
        return str(self.meter_ids.get(up_href, self.meter_ids.get(meter, meter)))

    # -- emission -----------------------------------------------------------------------------------
    def convert(self, mr_href: str, rt: dict, block: _ParsedBlock) -> pa.RecordBatch | None:
        tally, meter = self.tally, self.meter_for(mr_href)
        n = len(block)
        ok = np.ones(n, dtype=bool)
        reasons: dict[int, tuple[str, str]] = dict(block.bad)
        for i in block.bad:
            ok[i] = False

        flow = _int_or_none(rt.get("flowDirection"))
        uom = _int_or_none(rt.get("uom"))
        kind = _int_or_none(rt.get("kind"))
        power = _int_or_none(rt.get("powerOfTenMultiplier")) or 0
        accumulation = _int_or_none(rt.get("accumulationBehaviour"))
        interval_length = _int_or_none(rt.get("intervalLength"))
        whole = None
        if flow not in (None, FLOW_DELIVERED, FLOW_RECEIVED):
            whole = (
                f"flowDirection {flow} ({_FLOW_NAMES.get(flow, 'unknown')}) is neither delivered (1) nor "
                "received (19)"
            )
        elif kind == KIND_DEMAND or uom == UOM_W:
            whole = "demand readings are not energy"
        elif uom is None:
            whole = "the ReadingType has no uom (unit of measure): expected 72 (Wh)"
        elif uom != UOM_WH:
            whole = f"unit of measure code {rt.get('uom')!r} is not energy in Wh (uom 72)"
        elif accumulation not in (None, *_DELTA_ACCUMULATION):
            whole = f"accumulationBehaviour {accumulation} is a register reading, not interval energy (4)"
        elif abs(power) > 18:
            whole = f"powerOfTenMultiplier {power} is out of range"
        if whole is not None:
            tally.reject_many(
                block.rows,
                meter,
                f"ReadingType {self._rt_href(mr_href)}: {whole}",
                pa.array(block.values).cast(pa.string()),
            )
            return None

        durations = block.durations.copy()
        if (durations < 0).any():
            if interval_length is None or interval_length <= 0:
                for i in np.flatnonzero((durations < 0) & ok):
                    ok[i] = False
                    reasons[i] = ("no timePeriod duration and the ReadingType has no intervalLength", "")
            else:
                durations[durations < 0] = interval_length
        starts = block.starts.copy()
        missing = np.flatnonzero(starts == _MISSING)
        for i in missing:  # rare: derive from the previous reading or the block's interval start
            if i > 0 and starts[i - 1] != _MISSING and durations[i - 1] > 0:
                starts[i] = starts[i - 1] + durations[i - 1]
            elif i == 0 and block.block_start is not None:
                starts[i] = block.block_start
            elif ok[i]:
                ok[i] = False
                reasons[i] = ("IntervalReading has no timePeriod start and none can be derived", "")
        bad_dur = ok & ((durations <= 0) | (durations > 2**31 - 1))
        for i in np.flatnonzero(bad_dur):
            ok[i] = False
            reasons[i] = (f"interval duration {durations[i]} s is not a positive length of time", "")
        bad_start = ok & ((starts < -(2**40)) | (starts > 2**40))
        for i in np.flatnonzero(bad_start):
            ok[i] = False
            reasons[i] = (f"timePeriod start {starts[i]} is not a plausible epoch time", "")

        if reasons:
            idx = sorted(reasons)
            raws = [
                reasons[i][1]
                or f"start={block.starts[i]} duration={block.durations[i]} value={block.values[i]:g}"
                for i in idx
            ]
            tally.reject_many(block.rows[idx], meter, [reasons[i][0] for i in idx], raws)
        if not ok.any():
            return None
        sel = None if ok.all() else np.flatnonzero(ok)

        def take(a):
            return a if sel is None else a[sel]

        kwh = take(block.values) * (10.0**power / 1000.0)
        sq = (
            None
            if block.source_quality is None
            else list(take(np.asarray(block.source_quality, dtype=object)))
        )
        channel = "received" if flow == FLOW_RECEIVED else "delivered"
        return _Piece(
            meter,
            channel,
            take(starts) * 1_000_000,
            take(durations),
            kwh,
            take(block.quality),
            sq,
            take(block.rows),
        )

    def _rt_href(self, mr_href: str) -> str:
        for r in self.meter_readings[mr_href]["related"]:
            if r in self.reading_types:
                return r
        return "(linked by 'up')"

    def take_block(self, block_up: str | None, block: _ParsedBlock):
        """Convert now if the MeterReading and ReadingType are known, else hold the block."""
        mr = self.meter_reading_for_block(block_up)
        if mr is not None:
            rt = self.reading_type_for(mr)
            if rt is not None:
                return self.convert(mr, rt, block)
        if self.prescanned:  # every link of the file is known: this block can never be resolved
            self.reject_unlinked(block_up, block, mr)
            return None
        self.pending[block_up or ""].append(block)
        self.pending_rows += len(block)
        return None

    def reject_unlinked(self, block_up, block: _ParsedBlock, mr: str | None) -> None:
        if mr is None:
            reason = f"IntervalBlock (up {block_up!r}) belongs to no MeterReading in the feed"
            meter = None
        else:
            reason = f"MeterReading {mr} has no ReadingType in the feed (units and direction unknown)"
            meter = self.meter_for(mr)
        raws = pa.array(block.values).cast(pa.string())
        self.tally.reject_many(block.rows, meter, reason, raws)

    def release(self):
        """Convert every held block whose links are now complete."""
        for up in list(self.pending):
            mr = self.meter_reading_for_block(up or None)
            if mr is None:
                continue
            rt = self.reading_type_for(mr)
            if rt is None:
                continue
            for block in self.pending.pop(up):
                self.pending_rows -= len(block)
                out = self.convert(mr, rt, block)
                if out is not None:
                    yield out

    def finish(self):
        yield from self.release()
        for up, blocks in self.pending.items():
            mr = self.meter_reading_for_block(up or None)
            for block in blocks:
                self.reject_unlinked(up, block, mr)
        self.pending.clear()
        self.pending_rows = 0

    def metadata(self) -> dict:
        ups = {}
        for href, info in self.usage_points.items():
            meter = str(
                self.meter_ids.get(href, self.meter_ids.get(meter_from_href(href), meter_from_href(href)))
            )
            ltp = next((self.local_time[r] for r in info["related"] if r in self.local_time), None)
            ups[meter] = {
                "href": href,
                "title": info["title"],
                "service_kind": info["service_kind"],
                "local_time_parameters": ltp,
            }
        return {
            "usage_points": ups,
            "local_time_parameters": dict(self.local_time),
            "reading_types": {
                h: {k: v for k, v in rt.items() if k != "_up"} for h, rt in self.reading_types.items()
            },
        }


def _espi_resource(entry):
    content = entry.find(_CONTENT)
    if content is None:
        return None
    for child in content:
        if isinstance(child.tag, str):
            return child
    return None


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
        where = f"at line {line}" if line else "at its start"
        raise IntervalDataError(
            f"{path}: the Green Button XML is malformed {where}: {msg}. Nothing from this file was "
            "loaded; if the file was cut short in transfer, download it again."
        ) from None
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


def read_greenbutton_xml_batches(
    path,
    tally: Tally,
    *,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_pending_readings: int = DEFAULT_MAX_PENDING_READINGS,
    meter_ids: dict | None = None,
):
    path = Path(path)
    if not path.exists():
        raise IntervalDataError(f"{path}: file not found")
    _refuse_doctype_in_prolog(path)
    feed = _Feed(path, tally, max_pending_readings, meter_ids)
    out = _Pieces(str(path), batch_rows)
    next_row = 1
    for entry in _iter_entries(path, _root_checker(path)):
        res = _espi_resource(entry)
        if res is None:
            continue
        kind = etree.QName(res).localname
        s, u, rel = _links(entry)
        if kind == "IntervalBlock":
            xp = _Xp(etree.QName(res).namespace or "")
            parent = res.getparent()
            for blk in xp.blocks(parent):
                block = _parse_block(blk, xp, next_row)
                next_row += len(block)
                tally.read += len(block)
                converted = feed.take_block(u, block)
                if converted is not None:
                    yield from out.add(converted)
            if feed.pending_rows > feed.max_pending and not feed.prescanned:
                _prescan(feed, path)
                feed.prescanned = True
                for b in feed.release():
                    yield from out.add(b)
                for up, blocks in list(feed.pending.items()):
                    mr = feed.meter_reading_for_block(up or None)
                    for block in blocks:
                        feed.reject_unlinked(up, block, mr)
                feed.pending.clear()
                feed.pending_rows = 0
        else:
            feed.add_resource(kind, res, s, u, rel, entry.findtext(_TITLE))
            if kind in ("ReadingType", "MeterReading", "UsagePoint") and feed.pending:
                for b in feed.release():
                    yield from out.add(b)
    for b in feed.finish():
        yield from out.add(b)
    tally.metadata.update(feed.metadata())
    yield from out.finish()


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
    from workbench.ami.readers._result import collect

    return collect(stream_greenbutton_xml(path, **kwargs))


__all__ = ["read_greenbutton_xml", "stream_greenbutton_xml", "meter_from_href"]
