"""A parallel run against a legacy billing system: its bills matched to the workbench's, differences explained.

The legacy file (docs/compare-bills.md) is a CSV with a header: ``account``, ``period`` (the bill month,
``YYYY-MM``: the month the bill period ends), ``total`` [$] and optionally one column per line-item category
(``energy``, ``demand``, ``fixed``, ``rider``, ``tax``, ``credit``, ... [$]). Bills are matched by account and
bill month (an account's bills of one month, several meters, are summed on both sides). A bill matches when its
total and every category the legacy file gives agree within the tolerance; otherwise the table says by how
much, category by category. Bills on one side only are listed as such. Nothing is dropped: legacy rows in =
matched + differing + legacy only; a malformed row is an error naming the row and the field.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import select

from workbench.errors import WorkbenchError
from workbench.ledger.db import new_session
from workbench.ledger.models import Account, Bill, BillLineItem

KEY = ["account", "period"]


def _money(text: str, where: str) -> float:
    text = (text or "").strip().replace(",", "").replace("$", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise WorkbenchError(f"{where}: {text!r} is not an amount in dollars (e.g. 125.40)") from None
    if not value.is_finite():
        raise WorkbenchError(f"{where}: {text!r} is not a finite amount")
    return float(value)


def legacy_bills(path) -> pd.DataFrame:
    """The legacy CSV as a frame: account, period, total and the category columns it has (checked row by row)."""
    path = Path(path)
    if not path.is_file():
        raise WorkbenchError(f"--legacy {path}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
        missing = [c for c in ("account", "period", "total") if c not in header]
        if missing:
            raise WorkbenchError(f"{path}: header lacks {', '.join(missing)}; expected account,period,total[,<category>...]")
        categories = [h for h in header if h not in ("account", "period", "total")]
        rows, seen = [], {}
        for n, raw in enumerate(reader, start=2):
            row = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k is not None}
            where = f"{path} row {n}"
            if not row["account"]:
                raise WorkbenchError(f"{where}: account is empty")
            try:
                period = pd.Period(row["period"], "M")
                if len(row["period"]) != 7:
                    raise ValueError
            except ValueError:
                raise WorkbenchError(f"{where}: period {row['period']!r} is not a bill month like 2025-11") from None
            key = (row["account"], str(period))
            if key in seen:
                raise WorkbenchError(f"{where}: account {key[0]} period {key[1]} again (first on row {seen[key]}); "
                                     "give one row per account and bill month")
            seen[key] = n
            out = {"account": key[0], "period": key[1], "total": _money(row["total"], f"{where}, total")}
            for c in categories:
                out[c] = _money(row[c], f"{where}, {c}") if row.get(c) else 0.0
            rows.append(out)
    return pd.DataFrame(rows, columns=KEY + ["total"] + categories)


def _by_category(bills: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """Bills (account, meter, period_start, period_end, total) + items (meter, period_start, category, amount)."""
    bills = bills.assign(period=pd.to_datetime(bills["period_end"]).sub(pd.Timedelta(days=1)).dt.to_period("M").astype(str),
                         period_start=pd.to_datetime(bills["period_start"]))
    items = items.assign(period_start=pd.to_datetime(items["period_start"]))
    cats = (items.pivot_table(index=["meter", "period_start"], columns="category", values="amount", aggfunc="sum",
                              fill_value=0.0).reset_index())
    merged = bills.merge(cats, on=["meter", "period_start"], how="left")
    value_columns = ["total"] + [c for c in cats.columns if c not in ("meter", "period_start")]
    out = merged.groupby(KEY)[value_columns].sum().reset_index()
    out["meters"] = merged.groupby(KEY).size().to_numpy()
    return out


def workbench_bills_from_dir(folder) -> pd.DataFrame:
    """The bills of a cycle output folder (every bill, held ones too), by account, bill month and category."""
    folder = Path(folder)
    try:
        bills = pd.read_parquet(folder / "bills.parquet")
        items = pd.read_parquet(folder / "line_items.parquet")
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"--bills {folder}: not a cycle output with bills.parquet and line_items.parquet "
                             f"({exc})") from None
    return _by_category(bills, items)


def workbench_bills_from_db(engine) -> pd.DataFrame:
    """The ledger's current bills (posted or held, the latest version; cancelled ones left out)."""
    with new_session(engine) as session:
        bills = pd.DataFrame(session.execute(
            select(Bill.id, Account.account_number, Bill.meter, Bill.period_start, Bill.period_end, Bill.total_cents)
            .join(Account, Account.id == Bill.account_id).where(Bill.status != "cancelled")).all(),
            columns=["bill_id", "account", "meter", "period_start", "period_end", "total_cents"])
        items = pd.DataFrame(session.execute(
            select(BillLineItem.bill_id, BillLineItem.category, BillLineItem.amount_cents)
            .join(Bill, Bill.id == BillLineItem.bill_id).where(Bill.status != "cancelled")).all(),
            columns=["bill_id", "category", "amount_cents"])
    bills["total"] = bills.pop("total_cents") / 100
    items = items.merge(bills[["bill_id", "meter", "period_start"]], on="bill_id")
    items["amount"] = items.pop("amount_cents") / 100
    return _by_category(bills, items)


@dataclass
class Comparison:
    table: pd.DataFrame  # one row per account and bill month: status, totals, differences by category
    categories: list[str]
    tolerance: float
    other_months: int = 0  # the workbench's bills (by account and month) of months the legacy file does not give

    def counts(self) -> dict:
        return self.table["status"].value_counts().to_dict()

    def summary_text(self) -> str:
        t = self.table
        c = self.counts()
        both = t[t["status"].isin(["match", "differs"])]
        lines = [f"legacy bills {int(t['legacy_total'].notna().sum()):,}, workbench bills "
                 f"{int(t['workbench_total'].notna().sum()):,} (by account and bill month"
                 + (f"; {self.other_months:,} of months the legacy file does not give are left out)"
                    if self.other_months else ")"),
                 f"  matched within ${self.tolerance:.2f}: {c.get('match', 0):,}; differ: {c.get('differs', 0):,}; "
                 f"legacy only: {c.get('legacy_only', 0):,}; workbench only: {c.get('workbench_only', 0):,}",
                 f"  totals on bills in both: legacy ${both['legacy_total'].sum():,.2f}, workbench "
                 f"${both['workbench_total'].sum():,.2f}, difference ${both['diff_total'].sum():,.2f}"]
        for cat in self.categories:
            col = f"diff_{cat}"
            off = both[col].abs() > self.tolerance
            if off.any():
                lines.append(f"  {cat}: {int(off.sum()):,} bills differ, net ${both.loc[off, col].sum():,.2f}")
        worst = both.reindex(both["diff_total"].abs().sort_values(ascending=False).index).head(5)
        worst = worst[worst["diff_total"].abs() > self.tolerance]
        if len(worst):
            lines.append("  largest differences: " + "; ".join(
                f"{r.account} {r.period} ${r.diff_total:+,.2f}" for r in worst.itertuples()))
        return "\n".join(lines)


def compare_bills(legacy: pd.DataFrame, ours: pd.DataFrame, *, tolerance: float = 0.01) -> Comparison:
    """Match ``legacy`` and ``ours`` by account and bill month; differences (workbench - legacy) by category."""
    if not np.isfinite(tolerance) or tolerance < 0:
        raise WorkbenchError(f"--tolerance {tolerance}: expected dollars >= 0")
    categories = [c for c in legacy.columns if c not in KEY + ["total"]]
    # a parallel run compares the months the legacy file gives: the ledger's other months are not "workbench only"
    other_months = ~ours["period"].isin(set(legacy["period"]))
    ours = ours[~other_months]
    left = legacy.rename(columns={c: f"legacy_{c}" for c in ["total"] + categories})
    right = ours.rename(columns={c: f"workbench_{c}" for c in ours.columns if c not in KEY})
    table = left.merge(right, on=KEY, how="outer", indicator=True)
    for c in ["total"] + categories:
        wb = table[f"workbench_{c}"] if f"workbench_{c}" in table else pd.Series(0.0, index=table.index)
        table[f"workbench_{c}"] = wb.where(table["_merge"] != "left_only")
        if c != "total":
            table.loc[table["_merge"] == "both", f"workbench_{c}"] = table.loc[table["_merge"] == "both",
                                                                                f"workbench_{c}"].fillna(0.0)
        table[f"diff_{c}"] = (table[f"workbench_{c}"] - table[f"legacy_{c}"]).round(2)
    off = (table[[f"diff_{c}" for c in ["total"] + categories]].abs() > tolerance + 1e-9).any(axis=1)
    table["status"] = np.select([table["_merge"] == "left_only", table["_merge"] == "right_only", off],
                                ["legacy_only", "workbench_only", "differs"], "match")
    keep = KEY + ["status"] + [f"{side}_{c}" for c in ["total"] + categories for side in ("legacy", "workbench")] + \
        [f"diff_{c}" for c in ["total"] + categories]
    table = table[keep].sort_values(KEY, ignore_index=True)
    return Comparison(table, categories, tolerance, int(other_months.sum()))
