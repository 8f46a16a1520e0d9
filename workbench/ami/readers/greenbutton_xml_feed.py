"""Green Button XML: link bookkeeping and conversion to the common schema, shared by both engines.

:class:`_Feed` keeps the feed's ReadingTypes, MeterReadings, UsagePoints and LocalTimeParameters (linked by
their hrefs, see ``greenbutton_xml.py``), converts parsed IntervalBlocks (:class:`_ParsedBlock`) into
:class:`_Piece` s once their ReadingType is known and holds them until then. The ESPI codes it checks are in
``greenbutton_xml_espi.py``; the block and piece containers, and :class:`_Pieces` that gathers pieces into
RecordBatches in READ_SCHEMA, in ``greenbutton_xml_pieces.py``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
from lxml import etree

from workbench.ami.readers._result import Tally, leading_reactive
from workbench.ami.readers.greenbutton_xml_espi import (
    _DELTA_ACCUMULATION,
    _FLOW_NAMES,
    FLOW_DELIVERED,
    FLOW_RECEIVED,
    KIND_DEMAND,
    UOM_VARH,
    UOM_W,
    UOM_WH,
    _int_or_none,
    meter_from_href,
)
from workbench.ami.readers.greenbutton_xml_pieces import _MISSING, _ParsedBlock, _Piece

DEFAULT_MAX_PENDING_READINGS = 2_000_000


def _child_fields(resource) -> dict[str, str]:
    out = {}
    for child in resource:
        if isinstance(child.tag, str) and len(child) == 0:
            out[etree.QName(child).localname] = (child.text or "").strip()
    return out


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
        elif uom == UOM_VARH and flow == FLOW_RECEIVED:
            whole = leading_reactive("VArh")
        elif uom not in (UOM_WH, UOM_VARH):
            whole = f"unit of measure code {rt.get('uom')!r} is not energy in Wh (uom 72) or VArh (uom 73)"
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
        channel = "reactive" if uom == UOM_VARH else "received" if flow == FLOW_RECEIVED else "delivered"
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
