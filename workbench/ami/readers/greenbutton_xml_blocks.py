"""Green Button XML, lxml engine: one IntervalBlock element parsed into a :class:`_ParsedBlock`.

:class:`_Xp` compiles the XPath expressions for one ESPI namespace; :func:`_parse_block` reads a regular
block (every reading has exactly one start, duration and value) with a few XPath calls and C-speed number
parsing, and hands any other block to :func:`_parse_block_slowly`, which reads it reading by reading and
names each reading it rejects.
"""

from __future__ import annotations

import warnings

import numpy as np
from lxml import etree

from workbench.ami.readers._result import NON_FINITE
from workbench.ami.readers.greenbutton_xml_espi import ESTIMATED_QUALITY_CODES, _int_or_none
from workbench.ami.readers.greenbutton_xml_pieces import _MISSING, _ParsedBlock


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

