"""Revenue assurance: every kWh the meters recorded in the cube, tied to a bill, a hold or an explanation.

For one bill month (the bill periods, by each meter's cycle read dates, that end in it) the cube's delivered
energy per meter is set against the ledger (:func:`assure`):

- ``billed``: a posted bill of the meter and period (its kWh);
- ``held``: a held bill (in the ledger, out of the journal, waiting for review);
- ``held_no_bill``: a cycle run could not bill the meter and held it without a bill, with the reason (the
  run's ``cycle/exceptions.csv``, read from the runs folder given: e.g. an exporter on no net-metering program);
- ``no_account``: the meter's account is not in the ledger; ``no_cycle``: the meter has no bill cycle;
  ``no_rate``: the ledger assigns the account no rate on the period;
- ``inactive``: energy on a meter whose account is closed;
- ``unbilled``: an active, set-up account with energy and no bill for the period: **unexplained**.

Every explanation but ``billed`` is revenue at risk, estimated at the average $/kWh of the month's posted bills
of the same class. ``unexplained_kwh`` (the goal: zero) is the energy of ``unbilled`` meters plus what a bill
leaves out of its period's energy. Gaps and overlaps between an account's consecutive posted bills are listed
too. CSV files: ``assure-meters.csv`` (one row per meter), ``assure-periods.csv`` (gaps and overlaps).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from workbench.ami.cube_calendar import cube_periods
from workbench.billing.cube_source import open_run_cube
from workbench.billing.cycle_output import held_exceptions
from workbench.errors import WorkbenchError
from workbench.ledger.db import new_session, open_ledger, require_current
from workbench.ledger.models import Account, Bill
from workbench.outputs import atomic_write_text
from workbench.runs import ledger_frames as lf

TOLERANCE_KWH = 0.01  #: a bill may differ from the cube by float rounding, not more


def cube_energy(cube, period: str, chunk: int = 2000) -> pd.DataFrame:
    """Per meter: account, cycle, rate_code, customer_class, period_start, period_end and delivered kWh of the
    bill period (by its cycle's read dates) that ends in ``period``; meters without one are left out."""
    ds = open_run_cube(cube)
    periods = cube_periods(ds)
    month = np.datetime64(period, "M")
    ends_in = periods.valid & ((periods.end - 1).astype("datetime64[M]") == month)
    m_idx, b_idx = np.nonzero(ends_in)
    kwh = np.zeros(len(m_idx))
    for lo in range(0, ds.sizes["meter"], chunk):
        hi = min(lo + chunk, ds.sizes["meter"])
        sel = (m_idx >= lo) & (m_idx < hi)
        if not sel.any():
            continue
        values = np.nan_to_num(ds["delivered_kwh"][lo:hi].values.astype(np.float64))
        cum = np.concatenate([np.zeros((hi - lo, 1)), np.cumsum(values, axis=1)], axis=1)
        rows = m_idx[sel] - lo
        kwh[sel] = cum[rows, periods.bounds[m_idx[sel], b_idx[sel] + 1]] - cum[rows, periods.bounds[m_idx[sel], b_idx[sel]]]
    coord = {name: ds[name].values for name in ("meter", "account", "cycle", "rate_code", "customer_class")}
    return pd.DataFrame({"meter": coord["meter"][m_idx].astype(str), "account": coord["account"][m_idx].astype(str),
                         "cycle": coord["cycle"][m_idx].astype(int), "rate_code": coord["rate_code"][m_idx].astype(str),
                         "customer_class": coord["customer_class"][m_idx].astype(str),
                         "period_start": periods.start[m_idx, b_idx].astype("datetime64[D]").astype(object),
                         "period_end": periods.end[m_idx, b_idx].astype("datetime64[D]").astype(object),
                         "cube_kwh": kwh.round(3)})


def _ledger_bills(session) -> pd.DataFrame:
    q = (select(Account.account_number, Bill.meter, Bill.period_start, Bill.period_end, Bill.status, Bill.version,
                Bill.delivered_kwh, Bill.total_cents, Bill.customer_class).join(Account, Account.id == Bill.account_id)
         .where(Bill.status != "cancelled"))
    frame = pd.DataFrame(session.execute(q).all(), columns=["account", "meter", "period_start", "period_end", "status",
                                                           "version", "kwh", "total_cents", "customer_class"])
    return frame.sort_values("version").drop_duplicates(["account", "meter", "period_start"], keep="last")


def period_breaks(bills: pd.DataFrame) -> pd.DataFrame:
    """Gaps and overlaps between consecutive posted bills of each account and meter."""
    posted = bills[bills["status"] == "posted"].sort_values(["account", "meter", "period_start"])
    rows = []
    for (account, meter), g in posted.groupby(["account", "meter"]):
        ends, starts = list(g["period_end"]), list(g["period_start"])
        for prev_end, start in zip(ends[:-1], starts[1:], strict=True):
            if start != prev_end:
                days = (pd.Timestamp(start) - pd.Timestamp(prev_end)).days
                rows.append({"account": account, "meter": meter, "previous_end": prev_end, "next_start": start,
                             "kind": "gap" if days > 0 else "overlap", "days": abs(days)})
    return pd.DataFrame(rows, columns=["account", "meter", "previous_end", "next_start", "kind", "days"])


@dataclass
class Assurance:
    meters: pd.DataFrame
    breaks: pd.DataFrame
    period: str

    @property
    def unexplained_kwh(self) -> float:
        return round(float(self.meters["unexplained_kwh"].sum()), 3)

    def totals(self) -> pd.DataFrame:
        return (self.meters.groupby("explanation").agg(meters=("meter", "size"), kwh=("cube_kwh", "sum"),
                                                       revenue_at_risk=("revenue_at_risk", "sum"))
                .round(2).reset_index())

    def summary_text(self) -> str:
        m = self.meters
        lines = [f"revenue assurance, bill month {self.period}: {len(m):,} meters, {m['cube_kwh'].sum():,.1f} kWh "
                 "in the cube",
                 f"  billed {m['billed_kwh'].sum():,.1f} kWh, held {m['held_kwh'].sum():,.1f} kWh"]
        for row in self.totals().itertuples():
            lines.append(f"  {row.explanation}: {row.meters:,} meters, {row.kwh:,.1f} kWh"
                         + (f", est. ${row.revenue_at_risk:,.2f} at risk" if row.explanation != "billed" else ""))
        if len(self.breaks):
            lines.append(f"  bill periods: {int((self.breaks['kind'] == 'gap').sum())} gaps, "
                         f"{int((self.breaks['kind'] == 'overlap').sum())} overlaps")
        lines.append(f"  unexplained kWh: {self.unexplained_kwh:,.3f} (goal: 0)")
        return "\n".join(lines)

    def write(self, out_dir) -> list[Path]:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = [out / "assure-meters.csv", out / "assure-periods.csv", out / "assure-totals.csv"]
        for frame, path in zip((self.meters, self.breaks, self.totals()), paths, strict=True):
            atomic_write_text(path, frame.to_csv(index=False))
        return paths


def runs_not_billed(runs_dir, period: str) -> set[str]:
    """The meters the cycle runs of ``period`` under ``runs_dir`` held without a bill (their exceptions.csv)."""
    meters: set[str] = set()
    for path in sorted(Path(runs_dir).glob(f"cycle*-{period}-*/cycle/exceptions.csv")):
        meters.update(held_exceptions(pd.read_csv(path, dtype=str))["meter"].dropna())
    return meters


def assure(engine, cube, period: str, cycles=None, not_billed=()) -> Assurance:
    """Tie the cube's energy of bill month ``period`` (YYYY-MM) to the ledger's bills, holds and explanations
    (``cycles``: only the meters of those bill cycles, e.g. the cycles run so far this month; ``not_billed``:
    meters a cycle run held without a bill, see :func:`runs_not_billed`)."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", str(period)):
        raise WorkbenchError(f"--period {period!r}: expected a bill month like 2025-11")
    energy = cube_energy(cube, period)
    if cycles:
        energy = energy[energy["cycle"].isin([int(c) for c in cycles])].reset_index(drop=True)
    with new_session(engine) as session:
        bills, accounts, rates = _ledger_bills(session), lf.accounts(session), lf.rates(session)
    bills["period_start"] = pd.to_datetime(bills["period_start"]).dt.date
    energy["period_start"] = pd.to_datetime(energy["period_start"]).dt.date
    key = ["meter", "period_start"]
    merged = energy.merge(bills[key + ["status", "kwh"]], on=key, how="left")
    merged["billed_kwh"] = merged["kwh"].where(merged["status"] == "posted", 0.0).fillna(0.0)
    merged["held_kwh"] = merged["kwh"].where(merged["status"] == "held", 0.0).fillna(0.0)
    status = accounts.set_index("account")["status"]
    last_day = pd.to_datetime(merged["period_end"]) - pd.Timedelta(days=1)
    rated = set()
    r = rates.assign(effective_from=pd.to_datetime(rates["effective_from"]), effective_to=pd.to_datetime(rates["effective_to"]))
    by_account = {a: g for a, g in r.groupby("account")}
    for account, day in zip(merged["account"], last_day, strict=True):
        g = by_account.get(account)
        if g is not None and len(g[(g["effective_from"] <= day) & (g["effective_to"].isna() | (g["effective_to"] > day))]):
            rated.add(account)
    acct_status = merged["account"].map(status)
    explanation = np.select(
        [merged["status"] == "posted", merged["status"] == "held", acct_status.isna(), merged["cycle"] <= 0,
         ~merged["account"].isin(rated), acct_status != "active", merged["cube_kwh"] <= 0,
         merged["meter"].isin(set(not_billed))],
        ["billed", "held", "no_account", "no_cycle", "no_rate", "inactive", "no_energy", "held_no_bill"], "unbilled")
    merged["explanation"] = explanation
    short = (merged["cube_kwh"] - merged["billed_kwh"] - merged["held_kwh"]).where(merged["status"].notna(), 0.0)
    merged["unexplained_kwh"] = np.where(explanation == "unbilled", merged["cube_kwh"],
                                         np.where(short.abs() > TOLERANCE_KWH, short, 0.0)).round(3)
    posted = bills[bills["status"] == "posted"]
    per_kwh = (posted.groupby("customer_class")["total_cents"].sum() / 100
               / posted.groupby("customer_class")["kwh"].sum().replace(0, np.nan))
    rate = merged["customer_class"].map(per_kwh).fillna(per_kwh.mean() if len(per_kwh) else 0.0)
    at_risk = np.where(explanation == "billed", 0.0, merged["cube_kwh"] - merged["billed_kwh"])
    merged["revenue_at_risk"] = (np.clip(at_risk, 0, None) * rate).round(2)
    columns = ["meter", "account", "cycle", "rate_code", "customer_class", "period_start", "period_end", "cube_kwh",
               "billed_kwh", "held_kwh", "explanation", "unexplained_kwh", "revenue_at_risk"]
    return Assurance(merged[columns].sort_values("meter", ignore_index=True), period_breaks(bills), period)


def assure_command(args) -> int:
    """``workbench ledger assure``: print the summary, write the CSVs; exit 1 while any kWh is unexplained."""
    engine = open_ledger(args.db)
    require_current(engine)
    runs = getattr(args, "runs", None)
    result = assure(engine, args.cube, args.period, getattr(args, "cycle", None),
                    runs_not_billed(runs, args.period) if runs else ())
    print(result.summary_text())
    print("CSV: " + ", ".join(str(p) for p in result.write(args.out)))
    return 0 if result.unexplained_kwh == 0 else 1
