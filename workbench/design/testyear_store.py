"""The kept test-year determinants on disk: one Parquet file per rate code and an identity record.

Layout of a determinants folder (written by :func:`workbench.design.testyear.build_test_year`)::

    identity.json          the inputs' identity: cube version, tariff book checksum, test year, basis, and per
                           rate code the schedule fingerprint (ToU hours, seasons, holidays, demand interval)
                           and the bucket labels of the determinant columns
    <RATE-CODE>.parquet    one row per meter and bill period the cycle would bill (every period of the cube,
                           so that ratchets and annual minimums see the months before the test year)
    excluded.csv           meters not in the study, each with the reason

Columns of a rate code's file: ``meter, account, customer_class, cycle, period_no, period_start, period_end``
(end exclusive), ``nominal_days, days, test_year_days`` (days of the period inside the test year), ``billed``
(the period's last day is in the test year: the bills ``workbench cycle --period YYYY-MM`` of the twelve
months bills), ``energy_kwh_<e>, received_kwh_<e>`` per energy bucket (season × ToU period, labels in the
identity), ``tou_peak_kw_<d>`` per demand bucket, ``peak_kw, cp_kw, rtp_cost`` and the interval counts.

:func:`load_rate_code` turns a file back into the engine's (meter, period) arrays, so a scenario is priced by
the engine's own :func:`workbench.engine.pricing.price` exactly as the cycle prices it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from workbench.calendar.periods import BillPeriods
from workbench.engine.pricing import Determinants
from workbench.errors import WorkbenchError

KIND = "test-year determinants"
IDENTITY = "identity.json"
BASES = ("billed", "calendarized")

_META = [("meter", pa.string()), ("account", pa.string()), ("customer_class", pa.string()), ("cycle", pa.int16()),
         ("period_no", pa.int16()), ("period_start", pa.date32()), ("period_end", pa.date32()),
         ("nominal_days", pa.int16()), ("days", pa.int16()), ("test_year_days", pa.int16()), ("billed", pa.bool_())]
#: a net-metering customer's program and settlement inputs, on every row ("" / 0 for the other customers)
_NEM = [("nem_program", pa.string()), ("pto_date", pa.string()), ("true_up_month", pa.int16()),
        ("opening_credit", pa.float64()), ("opening_kwh", pa.float64()), ("export_valued", pa.bool_()),
        ("export_credit", pa.float64())]
_SCALARS = ("peak_kw", "cp_kw", "rtp_cost")
_COUNTS = ("intervals", "missing_intervals", "estimated_intervals")


def schema(n_energy: int, n_demand: int, net_metering: bool = False) -> pa.Schema:
    """The Parquet schema of a rate code with ``n_energy`` energy and ``n_demand`` demand buckets; ``net_metering``:
    with the net-metering customers' settlement columns (as the scan writes them; a file without them is read as
    customers on no program)."""
    fields = list(_META)
    fields += [(f"energy_kwh_{e}", pa.float64()) for e in range(n_energy)]
    fields += [(f"received_kwh_{e}", pa.float64()) for e in range(n_energy)]
    fields += [(f"tou_peak_kw_{d}", pa.float64()) for d in range(n_demand)]
    fields += [(name, pa.float64()) for name in _SCALARS] + [(name, pa.int32()) for name in _COUNTS]
    return pa.schema(fields + (_NEM if net_metering else []))


def schedule_fingerprint(tariff) -> dict:
    """What of a tariff decides its determinants (a change of any needs a re-scan), as comparable text."""
    digest = hashlib.sha256()
    for array in (tariff.energy_grid, tariff.demand_grid, tariff.month_season):
        digest.update(np.ascontiguousarray(array).tobytes())
    if tariff.rtp_prices is not None:
        for array in tariff.rtp_prices:
            digest.update(np.ascontiguousarray(array).tobytes())
    return {"timezone": tariff.timezone, "holidays": tariff.holidays, "seasons": list(tariff.season_names),
            "tou_periods": list(tariff.tou_names), "demand_tou_periods": list(tariff.demand_tou_names),
            "demand_interval_minutes": tariff.demand_interval_minutes, "demand_method": tariff.demand_method,
            "coincident_peaks": [str(p) for p in tariff.coincident_peaks], "grids_sha256": digest.hexdigest()}


def book_checksum(tariffs_dir) -> str:
    """sha256 over the tariff book's YAML files and program files (names and bytes, in name order)."""
    digest = hashlib.sha256()
    root = Path(tariffs_dir)
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def chunk_table(meta: dict, periods: BillPeriods, det: Determinants, test_year: int, n_demand: int) -> pa.Table:
    """Rows (meter, valid period) of one rate code's meters in one chunk.

    ``meta``: per meter ``meter, account, customer_class, cycle`` and, for net-metering customers, the
    settlement's inputs (``nem_program, pto_date, true_up_month, opening_credit, opening_kwh``; absent: none)."""
    m, b = np.nonzero(periods.valid)
    first = np.datetime64(f"{test_year}-01-01", "D")
    end = np.datetime64(f"{test_year + 1}-01-01", "D")
    start, stop = periods.start[m, b], periods.end[m, b]
    inside = np.maximum((np.minimum(stop, end) - np.maximum(start, first)).astype(int), 0)
    last_day = stop - 1
    cols = {name: np.asarray(meta[name])[m] for name in ("meter", "account", "customer_class", "cycle")}
    cols.update(period_no=b.astype(np.int16), period_start=start, period_end=stop,
                nominal_days=periods.nominal_days[m, b].astype(np.int16), days=periods.days[m, b].astype(np.int16),
                test_year_days=inside.astype(np.int16), billed=(last_day >= first) & (last_day < end))
    for e in range(det.energy_kwh.shape[-1]):
        cols[f"energy_kwh_{e}"] = det.energy_kwh[m, b, e]
        cols[f"received_kwh_{e}"] = det.received_kwh[m, b, e]
    for d in range(n_demand):
        cols[f"tou_peak_kw_{d}"] = det.tou_peak_kw[m, b, d]
    for name in _SCALARS:
        cols[name] = getattr(det, name)[m, b]
    for i, name in enumerate(_COUNTS):
        cols[name] = det.counts[m, b, i].astype(np.int32)
    cols["meter"] = cols["meter"].astype(str)
    cols["account"] = cols["account"].astype(str)
    cols["customer_class"] = cols["customer_class"].astype(str)
    cols["cycle"] = cols["cycle"].astype(np.int16)
    n = len(m)
    nem = meta.get("nem_program")
    cols["nem_program"] = np.full(n, "", object) if nem is None else np.asarray(nem).astype(str)[m]
    cols["pto_date"] = np.full(n, "", object) if nem is None else np.asarray(meta["pto_date"]).astype(str)[m]
    for name, dtype in (("true_up_month", np.int16), ("opening_credit", float), ("opening_kwh", float)):
        cols[name] = np.zeros(n, dtype) if nem is None else np.asarray(meta[name]).astype(dtype)[m]
    credit = det.export_credit
    cols["export_valued"] = np.full(n, credit is not None)
    cols["export_credit"] = np.zeros(n) if credit is None else np.asarray(credit, float)[m, b]
    return pa.table(cols, schema=schema(det.energy_kwh.shape[-1], n_demand, net_metering=True))


@dataclass
class RateCodeDeterminants:
    """One rate code's kept determinants as the engine's arrays over (meter, bill period).

    ``meters``: one row per meter (meter, account, customer_class, cycle), in file order. ``weight`` (M, B):
    the share of each period's bill that belongs to the test year on the chosen basis (billed: 1 or 0;
    calendarized: test-year days / days).
    """

    rate_code: str
    meters: pd.DataFrame
    periods: BillPeriods
    det: Determinants
    billed: np.ndarray
    test_year_days: np.ndarray

    def weight(self, basis: str) -> np.ndarray:
        if basis == "billed":
            return self.billed.astype(float)
        if basis == "calendarized":
            days = self.periods.days
            return np.divide(self.test_year_days, days, out=np.zeros(days.shape), where=days > 0)
        raise WorkbenchError(f"basis {basis!r}: expected one of {', '.join(BASES)}")

    def select(self, rows: np.ndarray, cols: np.ndarray | None = None) -> RateCodeDeterminants:
        """The meters ``rows`` (index array or mask) and bill periods ``cols`` (None: all)."""
        cols = slice(None) if cols is None else cols
        p = self.periods
        periods = BillPeriods(p.start[rows][:, cols], p.end[rows][:, cols], p.nominal_days[rows][:, cols],
                              np.zeros((0, 0), np.int64))
        det = Determinants(**{name: getattr(self.det, name)[rows][:, cols] for name in
                              ("energy_kwh", "received_kwh", "peak_kw", "tou_peak_kw", "cp_kw", "rtp_cost", "counts")})
        return RateCodeDeterminants(self.rate_code, self.meters.iloc[rows].reset_index(drop=True)
                                    if not isinstance(rows, slice) else self.meters, periods, det,
                                    self.billed[rows][:, cols], self.test_year_days[rows][:, cols])

    def __len__(self) -> int:
        return len(self.meters)


def read_identity(folder) -> dict:
    path = Path(folder) / IDENTITY
    if not path.is_file():
        what = (f"no {IDENTITY}; not" if Path(folder).is_dir() else
                "no such folder (relative to the working directory); expected" if not Path(folder).exists() else
                "a file, not a folder; expected")
        raise WorkbenchError(f"{folder}: {what} a test-year determinants folder (make one with "
                             "`workbench design determinants`)")
    return json.loads(path.read_text(encoding="utf-8"))


def load_rate_code(folder, rate_code: str, classes=None, *, net_metering: bool = False) -> RateCodeDeterminants:
    """The kept determinants of ``rate_code`` (only the meters of ``classes`` if given) as (meter, period) arrays.

    ``net_metering``: False, the customers on no net-metering program (the rate-design study's); True, only the
    net-metering customers (settled under their program by :mod:`workbench.design.nem_revenue`)."""
    table, info = read_rate_code_table(folder, rate_code, classes, net_metering=net_metering)
    return from_table(rate_code, table, len(info["energy_buckets"]), len(info["demand_buckets"]))


def read_rate_code_table(folder, rate_code: str, classes=None, *, net_metering: bool = False):
    """The rows of ``rate_code``'s file (as :func:`load_rate_code` selects them) and its identity entry."""
    identity = read_identity(folder)
    info = identity["rate_codes"].get(rate_code)
    if info is None:
        raise WorkbenchError(f"{folder}: rate code {rate_code!r} has no determinants here; rate codes: "
                             f"{sorted(identity['rate_codes'])}")
    path = Path(folder) / info["file"]
    where = pc.field("customer_class").isin(list(classes)) if classes is not None else None
    kept = "nem_program" in pq.read_schema(path).names  # sets scanned before net metering was kept have none
    if kept:  # no program: "" (or null, in a file written without the column's values)
        none = (pc.field("nem_program") == "") | pc.field("nem_program").is_null()
        on_program = ~none if net_metering else none
        where = on_program if where is None else where & on_program
    table = pq.read_table(path, filters=where)
    return (table.slice(0, 0) if net_metering and not kept else table), info


def from_table(rate_code: str, table: pa.Table, n_energy: int, n_demand: int) -> RateCodeDeterminants:
    """Scatter rows (meter, period) into padded (M, B) arrays; meters keep their first-seen order."""
    meter_col = table.column("meter").to_numpy(zero_copy_only=False)
    codes, uniques = pd.factorize(meter_col)
    m = codes.astype(np.intp)
    b = table.column("period_no").to_numpy().astype(np.intp)
    n_m, n_b = len(uniques), (int(b.max()) + 1 if len(b) else 1)
    first_row = np.zeros(n_m, np.intp)
    first_row[m[::-1]] = np.arange(len(m))[::-1]
    meters = pd.DataFrame({name: table.column(name).to_numpy(zero_copy_only=False)[first_row]
                           for name in ("meter", "account", "customer_class", "cycle")})

    def grid(name, dtype=float, fill=0):
        out = np.full((n_m, n_b), fill, dtype=dtype)
        out[m, b] = table.column(name).to_numpy(zero_copy_only=False)
        return out

    start = table.column("period_start").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    end = table.column("period_end").to_numpy(zero_copy_only=False).astype("datetime64[D]")
    pad = end.max() if len(end) else np.datetime64("2000-01-01", "D")
    p_start = np.full((n_m, n_b), pad, dtype="datetime64[D]")
    p_end = p_start.copy()
    p_start[m, b], p_end[m, b] = start, end
    periods = BillPeriods(p_start, p_end, grid("nominal_days", int, 1), np.zeros((0, 0), np.int64))

    def stack(prefix, n):
        out = np.zeros((n_m, n_b, max(n, 1)))
        for k in range(n):
            out[m, b, k] = table.column(f"{prefix}_{k}").to_numpy()
        return out

    counts = np.zeros((n_m, n_b, 3), np.int64)
    for i, name in enumerate(_COUNTS):
        counts[m, b, i] = table.column(name).to_numpy()
    det = Determinants(energy_kwh=stack("energy_kwh", n_energy)[..., :n_energy],
                       received_kwh=stack("received_kwh", n_energy)[..., :n_energy], peak_kw=grid("peak_kw"),
                       tou_peak_kw=stack("tou_peak_kw", n_demand), cp_kw=grid("cp_kw"), rtp_cost=grid("rtp_cost"),
                       counts=counts)
    return RateCodeDeterminants(rate_code, meters, periods, det, grid("billed", bool, False),
                                grid("test_year_days", int, 0))


def excluded_note(folder, shown=None) -> str:
    """One line saying which meters the determinants leave out (``excluded.csv``: net-metering customers, meters
    the cycle holds), so a class's revenue is not read as the whole class's; '' when none are left out.
    ``shown``: the folder's name in the line (default ``folder``)."""
    path = Path(folder) / "excluded.csv"
    if not path.is_file():
        return ""
    table = pd.read_csv(path, dtype=str)
    if table.empty:
        return ""
    reasons = table["reason"].fillna("").str.split(":").str[0].value_counts()
    said = "; ".join(f"{n:,} {reason}" for reason, n in reasons.items())
    codes = ", ".join(sorted(table["rate_code"].dropna().unique()))
    return (f"{len(table):,} meters of the test year ({codes}) are not in these figures, their bills not in any "
            f"revenue here ({said}; listed in {Path(shown or folder) / 'excluded.csv'})")
