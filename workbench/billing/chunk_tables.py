"""The bills and line items of a meter chunk as Arrow tables: built once per chunk, not once per group.

A chunk bills in groups (one per rate code, program, PTO date and true-up month; about seven on the sample
utility). Each group's rows are kept as numpy columns (:func:`group_columns`); :class:`ChunkTables` joins the
groups, in the order they were added, and builds each table once. So the strings (meter ids, accounts, rate codes,
line descriptions...) are converted to Arrow once per chunk and gathered by index, and each table is one record
batch: a table of seven small batches cost three times as much to write as a resume part (Arrow IPC compresses
every buffer of every batch on its own). The rows and values are those of a table built per group and
concatenated.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from workbench.engine.bills import partial_share_text
from workbench.engine.pricing import billing_demand
from workbench.vee import ready_verdict

SCHEMAS = {
    "bills": pa.schema([
        ("meter", pa.string()), ("account", pa.string()), ("customer_class", pa.string()), ("cycle", pa.int16()),
        ("rate_code", pa.string()), ("period_start", pa.date32()), ("period_end", pa.date32()), ("days", pa.int16()),
        ("partial", pa.bool_()), ("delivered_kwh", pa.float64()), ("received_kwh", pa.float64()),
        ("peak_kw", pa.float64()), ("billing_demand_kw", pa.float64()), ("intervals", pa.int32()),
        ("missing_intervals", pa.int32()), ("estimated_intervals", pa.int32()), ("nem_program", pa.string()),
        ("credit_earned", pa.float64()), ("credit_applied", pa.float64()), ("credit_carried", pa.float64()),
        ("kwh_carried", pa.float64()), ("true_up", pa.bool_()), ("total", pa.float64()),
        # the NEM bank's other flows (workbench.nem.results.with_bank_flows): brought forward from the previous
        # bill + earned (banked) - applied (used) - settled at the true-up = carried, in $ and in kWh
        ("credit_brought", pa.float64()), ("credit_settled", pa.float64()), ("kwh_brought", pa.float64()),
        ("kwh_banked", pa.float64()), ("kwh_used", pa.float64()), ("kwh_settled", pa.float64()),
        # the VEE bill-ready verdict on the period's intervals (workbench.vee.ready_verdict): a bill that is not
        # ready is computed but held for review, with the reason
        ("bill_ready", pa.bool_()), ("hold_reason", pa.string()),
    ]),
    "line_items": pa.schema([
        ("meter", pa.string()), ("period_start", pa.date32()), ("line", pa.int16()), ("description", pa.string()),
        ("category", pa.string()), ("quantity", pa.float64()), ("unit", pa.string()), ("rate", pa.float64()),
        ("amount", pa.float64()), ("tariff_version", pa.string()),
    ]),
}

#: the bills' string columns taken from the chunk's per-meter attributes, gathered by the bill's meter row
METER_STRINGS = ("meter", "account", "customer_class")
#: the line items' string columns, one value per line item of the group's tariff
ITEM_STRINGS = {"description": "description", "category": "category", "unit": "unit", "tariff_version": "version"}
_BANK = ("credit_earned", "credit_applied", "credit_carried", "kwh_carried")
_FLOWS = ("credit_brought", "credit_settled", "kwh_brought", "kwh_banked", "kwh_used", "kwh_settled")


class GroupColumns:
    """One group's bills and line items as numpy columns (strings as row indices, see :class:`ChunkTables`)."""

    def __init__(self, bills: dict, lines: dict, items, rate_code: str, program_code: str):
        self.bills, self.lines, self.items = bills, lines, items
        self.rate_code, self.program_code = str(rate_code), str(program_code)

    @classmethod
    def empty(cls, rate_code: str, program_code: str) -> GroupColumns:
        """A group with no bill (every meter held)."""
        bills = {name: np.zeros(0) for name in ("meter_row", "total", "delivered_kwh")}
        bills["bill_ready"] = np.zeros(0, bool)
        return cls(bills, {"meter_row": np.zeros(0, np.int64), "amount": np.zeros(0)}, None, rate_code, program_code)

    @property
    def n_bills(self) -> int:
        return len(self.bills["total"])

    @property
    def n_lines(self) -> int:
        return len(self.lines["amount"])

    def counts(self) -> dict:
        """The group's bills, line items, kWh, revenue and bills held, as the run's done-marker counts them (the sums
        of the float64 columns, as Arrow would hand them back)."""
        return {"bills": self.n_bills, "line_items": self.n_lines,
                "kwh": float(np.asarray(self.bills["delivered_kwh"], np.float64).sum()),
                "revenue": float(np.asarray(self.bills["total"], np.float64).sum()),
                "bills_held": int((~np.asarray(self.bills["bill_ready"], bool)).sum())}


def group_columns(ds, tariff, periods, det, items, mask, program_code="", extras=None,
                  vee_config=None) -> GroupColumns:
    """The bills (one per meter and period of ``mask``) and line items (every item with a quantity or an amount) of
    the meters ``ds`` (their per-meter attributes; ``"implausible"`` too when VEE withheld reads) on one tariff.

    The bills' ``meter_row`` and the lines' ``meter_row`` are rows of ``ds``; the lines' ``item`` indexes
    ``items``' strings."""
    m_idx, b_idx = np.nonzero(mask)
    counts = det.counts[m_idx, b_idx]
    implausible = None
    if "implausible" in ds:  # withheld reads per (meter, period): cumulative counts at the period bounds
        hit = ds["implausible"]
        cum = np.zeros((hit.shape[0], hit.shape[1] + 1), np.int64)
        np.cumsum(hit, axis=1, out=cum[:, 1:])
        lo, hi = periods.bounds[m_idx, b_idx], periods.bounds[m_idx, b_idx + 1]
        implausible = cum[m_idx, hi] - cum[m_idx, lo]
    ready, reason = ready_verdict(counts[:, 0] + counts[:, 1], counts[:, 2], counts[:, 1], vee_config,
                                  implausible=implausible)
    amounts = np.stack(items.amount) if items.amount else np.zeros((0,) + mask.shape)
    totals = np.round(amounts.sum(axis=0), 2)
    bd = billing_demand(tariff, det, periods)
    bills = {
        "meter_row": m_idx,
        "cycle": ds["cycle"].astype(np.int16)[m_idx],
        "period_start": periods.start[m_idx, b_idx],
        "period_end": periods.end[m_idx, b_idx],
        "days": periods.days[m_idx, b_idx].astype(np.int16),
        "partial": (periods.days < periods.nominal_days)[m_idx, b_idx],
        "delivered_kwh": det.energy_kwh.sum(axis=-1)[m_idx, b_idx],
        "received_kwh": det.received_kwh.sum(axis=-1)[m_idx, b_idx],
        "peak_kw": det.peak_kw[m_idx, b_idx],
        "billing_demand_kw": bd[m_idx, b_idx],
        "intervals": det.counts[m_idx, b_idx, 0].astype(np.int32),
        "missing_intervals": det.counts[m_idx, b_idx, 1].astype(np.int32),
        "estimated_intervals": det.counts[m_idx, b_idx, 2].astype(np.int32),
        **{name: (extras[name][m_idx, b_idx] if extras and name in extras else np.zeros(len(m_idx))) for name in _BANK},
        "true_up": (extras["true_up"][m_idx, b_idx] if extras and "true_up" in extras
                    else np.zeros(len(m_idx), bool)),
        "total": totals[m_idx, b_idx],
        **{name: (extras[name][m_idx, b_idx] if extras and name in extras else np.zeros(len(m_idx))) for name in _FLOWS},
        "bill_ready": ready,
        "hold_reason": reason,
    }
    # line items: every (item, meter, period) with a quantity or an amount
    qty = np.stack(items.quantity) if items.quantity else amounts
    rate = np.stack(items.rate) if items.rate else amounts
    keep = ((qty != 0) | (amounts != 0)) & mask[None]
    j, m, b = np.nonzero(keep)
    order = np.lexsort((j, b, m))
    j, m, b = j[order], m[order], b[order]
    line_no = np.zeros(len(j), np.int16)
    if len(j):
        new_bill = np.r_[True, (m[1:] != m[:-1]) | (b[1:] != b[:-1])]
        group_start = np.maximum.accumulate(np.where(new_bill, np.arange(len(j)), 0))
        line_no = (np.arange(len(j)) - group_start + 1).astype(np.int16)
    lines = {
        "meter_row": m,
        "period_start": periods.start[m, b],
        "line": line_no,
        "item": j,
        "quantity": np.round(qty[j, m, b], 6),
        "rate": np.round(rate[j, m, b], 6),
        "amount": amounts[j, m, b],
        "note": _prorated_notes(items, periods, j, m, b),
    }
    return GroupColumns(bills, lines, items, tariff.code, program_code)


def _prorated_notes(items, periods, j, m, b):
    """What each line's description says after it: ' (prorated 7/31 days)' on a partial period's demand line
    that pays its share (as ``workbench bill`` shows it), '' elsewhere; None when no line is so prorated."""
    prorated = np.asarray(items.prorated, bool)
    if not prorated.any() or not len(j):
        return None
    rows = np.flatnonzero(prorated[j] & (periods.proration[m, b] < 1.0))
    if not len(rows):
        return None
    notes = np.full(len(j), "", dtype=object)
    for r in rows:
        notes[r] = f" (prorated {partial_share_text(periods, m[r], b[r])})"
    return notes


class ChunkTables:
    """A chunk's groups (:func:`group_columns`), joined into its ``bills`` and ``line_items`` tables.

    ``meters``: the chunk's per-meter attributes (:data:`METER_STRINGS`), each converted to Arrow once; a group
    added with ``rows`` (its meters' rows in ``meters``) has its ``meter_row`` mapped through them."""

    def __init__(self, meters: dict):
        self.meters = meters
        self.groups: list[tuple[np.ndarray, GroupColumns]] = []
        self._strings = {}

    def _meter_strings(self, name: str) -> pa.Array:
        if name not in self._strings:
            self._strings[name] = pa.array(self.meters[name].astype(str))
        return self._strings[name]

    def add(self, rows: np.ndarray, group: GroupColumns) -> None:
        self.groups.append((np.asarray(rows), group))

    def tables(self) -> dict[str, pa.Table]:
        if not self.groups:
            return {name: schema.empty_table() for name, schema in SCHEMAS.items()}
        return {"bills": self._bills(), "line_items": self._lines()}

    def _joined(self, table: str, name: str) -> np.ndarray:
        return np.concatenate([getattr(group, table)[name] for _, group in self.groups])

    def _meter_rows(self, table: str) -> np.ndarray:
        return np.concatenate([rows[getattr(group, table)["meter_row"]] for rows, group in self.groups])

    def _per_group(self, values: list[str], table: str) -> pa.Array:
        """One string per group, repeated over the group's rows."""
        sizes = [group.n_bills if table == "bills" else group.n_lines for _, group in self.groups]
        return pa.array(values, pa.string()).take(np.repeat(np.arange(len(values)), sizes))

    def _bills(self) -> pa.Table:
        rows = self._meter_rows("bills")
        columns = {}
        for name in SCHEMAS["bills"].names:
            if name in METER_STRINGS:
                columns[name] = self._meter_strings(name).take(rows)
            elif name == "rate_code":
                columns[name] = self._per_group([g.rate_code for _, g in self.groups], "bills")
            elif name == "nem_program":
                columns[name] = self._per_group([g.program_code for _, g in self.groups], "bills")
            else:
                columns[name] = self._joined("bills", name)
        return pa.table(columns, schema=SCHEMAS["bills"])

    def _lines(self) -> pa.Table:
        rows = self._meter_rows("lines")
        offsets = np.cumsum([0] + [len(group.items.amount) for _, group in self.groups[:-1]])
        item = np.concatenate([group.lines["item"] + offset for (_, group), offset in zip(self.groups, offsets,
                                                                                         strict=True)])
        columns = {}
        for name in SCHEMAS["line_items"].names:
            if name == "meter":
                columns[name] = self._meter_strings("meter").take(rows)
            elif name in ITEM_STRINGS:
                values = [v for _, group in self.groups for v in getattr(group.items, ITEM_STRINGS[name])]
                columns[name] = pa.array(values, pa.string()).take(item)
                notes = [group.lines.get("note") for _, group in self.groups]
                if name == "description" and any(n is not None for n in notes):  # a partial period's demand line
                    notes = np.concatenate([n if n is not None else np.full(group.n_lines, "", dtype=object)
                                            for n, (_, group) in zip(notes, self.groups, strict=True)])
                    columns[name] = pc.binary_join_element_wise(columns[name], pa.array(notes, pa.string()), "")
            else:
                columns[name] = self._joined("lines", name)
        return pa.table(columns, schema=SCHEMAS["line_items"])


def tables(ds, tariff, periods, det, items, mask, program_code="", extras=None, vee_config=None):
    """``(bills, line_items)`` of one group of meters ``ds`` on one tariff (see :func:`group_columns`)."""
    chunk = ChunkTables(ds)
    chunk.add(np.arange(len(ds["meter"])), group_columns(ds, tariff, periods, det, items, mask, program_code, extras,
                                                         vee_config))
    built = chunk.tables()
    return built["bills"], built["line_items"]
