"""The rate-case schedules, each a tidy pandas DataFrame built from a :class:`~workbench.filing.data.FilingData`.

Money is summed in integer cents from the engine's line items (every line of every bill is whole cents), so
each schedule cross-foots exactly: class summary revenue = proof of revenue = the customers' annual bills =
the billed revenue of ``workbench cycle`` for the same months (basis ``billed``).

- :func:`class_summary`: by class and rate: customers, bills, kWh, billing kW, revenue, average bill, ¢/kWh;
- :func:`proof_of_revenue`: by class, rate and line: billing units x price, present and proposed, with the
  difference between units x price and the billed revenue as its own line per rate;
- :func:`bill_frequency`: bills and kWh by usage block, class and season, cumulative shares;
- :func:`bill_impacts` / :func:`largest_increases`: the annual bill change across real customers;
- :func:`rate_mapping`: present rate to proposed rate, with counts;
- :func:`cost_of_service`: allocated cost against present and proposed revenue, parity (when a study is given).

Typical bills are in :mod:`workbench.filing.typical`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from workbench.engine.pricing import round_cents
from workbench.errors import WorkbenchError
from workbench.filing.data import FilingData

ROUNDING_LINE = "Rounding and proration (billed less units x price)"

#: Default bill-frequency block edges [kWh per bill] by class; the last block is open-ended.
DEFAULT_BLOCKS = {
    "RES": [0, 250, 500, 750, 1000, 1250, 1500, 2000, 2500, 3000, 5000],
    "SGS": [0, 500, 1000, 2000, 3000, 5000, 7500, 10000, 20000],
    "LGS": [0, 50_000, 100_000, 200_000, 300_000, 400_000, 500_000, 750_000, 1_000_000],
}
GENERIC_BLOCKS = [0, 500, 1000, 2500, 5000, 10_000, 25_000, 50_000, 100_000, 250_000]
SUMMER_MONTHS = (6, 7, 8, 9)

PERCENT_BANDS = [-10.0, -5.0, -2.0, 0.0, 2.0, 5.0, 10.0, 20.0]  # edges [%] of the annual bill change
DOLLAR_BANDS = [-100.0, -50.0, -20.0, 0.0, 20.0, 50.0, 100.0, 250.0]  # edges [$ per year]


def _cents(values) -> np.ndarray:
    return np.rint(np.asarray(values, dtype=float) * 100.0).astype(np.int64)


def _pct(change_cents, base_cents):
    base = np.asarray(base_cents, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(base != 0, 100.0 * np.asarray(change_cents, dtype=float) / base, np.nan)


def _has_demand(data: FilingData) -> set[str]:
    """The rate codes billed a demand line, to the customers on no program or to the net-metering customers."""
    settled = [] if data.nem_present is None else data.nem_present.parts
    return {code for part in [*data.present.parts, *settled]
            for code, cat in zip(part.lines["rate_code"], part.lines["category"], strict=True) if cat == "demand"}


def class_summary(data: FilingData) -> pd.DataFrame:
    """Customers, bills, kWh, billing kW and present/proposed revenue by class and rate.

    ``billing_kw`` is the sum over the test year's bills of each bill's maximum demand [kW] (before minimums
    and ratchets), for rates with a demand charge; 0 for the others. Net-metering customers are counted in
    their class and rate with their bills settled under their programs (kWh: delivered from the grid).
    """
    cust = data.all_customers
    keys = ["customer_class", "rate_code"]
    demand_codes = _has_demand(data)
    kw_rows = []
    nem_parts = {} if data.net_metering is None else {code: p.rcd for code, p in data.net_metering.parts.items()}
    for code, rcd in [*data.study.data.items(), *nem_parts.items()]:
        weight = rcd.weight(data.basis) * rcd.periods.valid
        kw = (rcd.det.peak_kw * weight).sum(axis=1) if code in demand_codes else np.zeros(len(rcd))
        kw_rows.append(pd.DataFrame({"meter": rcd.meters["meter"].to_numpy(), "billing_kw": kw}))
    kw = pd.concat(kw_rows, ignore_index=True)
    table = cust.merge(kw, on="meter", how="left")
    table["present_cents"] = _cents(table["annual_bill_present"])
    table["proposed_cents"] = _cents(table["annual_bill_proposed"])
    out = (table.groupby(keys, sort=True)
           .agg(customers=("meter", "size"), bills=("bills", "sum"), kwh=("kwh", "sum"),
                billing_kw=("billing_kw", "sum"), present_cents=("present_cents", "sum"),
                proposed_cents=("proposed_cents", "sum"))
           .reset_index().rename(columns={"customer_class": "class"}))
    out["present_revenue"] = out["present_cents"] / 100.0
    out["present_average_bill"] = (out["present_cents"] / out["bills"].where(out["bills"] > 0)).round() / 100.0
    out["present_cents_per_kwh"] = out["present_cents"] / out["kwh"].where(out["kwh"] > 0)
    out["proposed_revenue"] = out["proposed_cents"] / 100.0
    out["proposed_average_bill"] = (out["proposed_cents"] / out["bills"].where(out["bills"] > 0)).round() / 100.0
    out["proposed_cents_per_kwh"] = out["proposed_cents"] / out["kwh"].where(out["kwh"] > 0)
    out["change"] = (out["proposed_cents"] - out["present_cents"]) / 100.0
    out["change_pct"] = _pct(out["proposed_cents"] - out["present_cents"], out["present_cents"])
    return out.drop(columns=["present_cents", "proposed_cents"])


def _proof_side(components: pd.DataFrame) -> pd.DataFrame:
    """Per line: units, price, units x price in cents (half-up), and the billed cents of the line."""
    side = components.copy()
    side["billed_cents"] = _cents(side["revenue"])
    single = side["price"].notna()
    calc = np.where(single, round_cents((side["billing_units"] * side["price"].fillna(0.0)).to_numpy()) * 100.0,
                    side["billed_cents"])
    side["calc_cents"] = np.rint(calc).astype(np.int64)
    return side


def proof_of_revenue(data: FilingData) -> pd.DataFrame:
    """Billing units x present and proposed prices by class, rate and line, tied to the billed revenue.

    Each side has its own billing units (``billing_units`` present, ``proposed_billing_units``): they differ
    where the proposal changes them, e.g. a tax's taxed dollars or a block's kWh when its limits move; a line
    billed on one side only has no units on the other. A line with one price all year shows ``units x price`` rounded half-up to the cent; a line whose price
    varies between bills (two tariff versions in the year, a demand rate prorated across seasons) has no single
    price and shows its billed revenue. The bills round each line of each bill to the cent, so units x price
    differs from what was billed by those roundings (and, on the calendarized basis, by the proration): that
    difference is the line :data:`ROUNDING_LINE` of each class and rate, so every rate's lines add up to its
    billed revenue to the cent. The net-metering customers of each class, rate and program follow as one row of
    category :data:`NET_METERING` (their bills settled under the program), so a rate's rows add up to all of
    its bills, as ``workbench cycle`` bills them.
    """
    keys = ["rate_code", "customer_class", "component", "line", "category", "unit"]
    pres = _proof_side(data.present.components())
    prop = _proof_side(data.proposed.components())
    merged = pres[keys + ["billing_units", "price", "calc_cents", "billed_cents"]].merge(
        prop[keys + ["billing_units", "price", "calc_cents", "billed_cents"]], on=keys, how="outer",
        suffixes=("_present", "_proposed"), sort=False)
    for col in ("calc_cents_present", "calc_cents_proposed", "billed_cents_present", "billed_cents_proposed"):
        merged[col] = merged[col].fillna(0).astype(np.int64)
    rows = []
    for (code, cls), group in merged.groupby(["rate_code", "customer_class"], sort=True):
        for rec in group.itertuples(index=False):
            rows.append({"class": cls, "rate_code": code, "component": rec.line, "category": rec.category,
                         "billing_units": rec.billing_units_present, "unit": rec.unit,
                         "present_price": rec.price_present, "present_cents": rec.calc_cents_present,
                         "proposed_billing_units": rec.billing_units_proposed,
                         "proposed_price": rec.price_proposed, "proposed_cents": rec.calc_cents_proposed})
        diff_present = int(group["billed_cents_present"].sum() - group["calc_cents_present"].sum())
        diff_proposed = int(group["billed_cents_proposed"].sum() - group["calc_cents_proposed"].sum())
        rows.append({"class": cls, "rate_code": code, "component": ROUNDING_LINE, "category": "reconciliation",
                     "billing_units": np.nan, "unit": "", "present_price": np.nan, "present_cents": diff_present,
                     "proposed_billing_units": np.nan, "proposed_price": np.nan, "proposed_cents": diff_proposed})
    rows += _net_metering_rows(data)
    out = pd.DataFrame(rows)
    out["present_revenue"] = out["present_cents"] / 100.0
    out["proposed_revenue"] = out["proposed_cents"] / 100.0
    out["change"] = (out["proposed_cents"] - out["present_cents"]) / 100.0
    out["change_pct"] = _pct(out["proposed_cents"] - out["present_cents"], out["present_cents"])
    out.loc[out["category"] == "reconciliation", "change_pct"] = np.nan  # a % of a rounding says nothing
    out = out.sort_values(["class", "rate_code"], kind="stable", ignore_index=True)
    return out[["class", "rate_code", "component", "category", "billing_units", "unit", "present_price",
                "present_revenue", "proposed_billing_units", "proposed_price", "proposed_revenue", "change",
                "change_pct"]]


NET_METERING = "net metering"


def _net_metering_rows(data: FilingData) -> list[dict]:
    """One row per class, rate and program: its net-metering customers' bills settled under the program, with
    the present and the proposed book (billing units: customers; no price: credits and true-ups settle across
    bills, so their revenue is not units x a price)."""
    table = data.nem_tables.get("revenue")
    if table is None or table.empty:
        return []
    rows = []
    for rec in table.itertuples(index=False):
        n = int(rec.customers)
        rows.append({"class": rec.customer_class, "rate_code": rec.rate_code,
                     "component": f"Net-metering customers, program {rec.nem_program}: {n:,} customer"
                                  f"{'s' if n != 1 else ''}, bills settled under the program",
                     "category": NET_METERING, "billing_units": float(n), "unit": "customers",
                     "present_price": np.nan, "present_cents": int(_cents(rec.revenue_present)),
                     "proposed_billing_units": float(n), "proposed_price": np.nan,
                     "proposed_cents": int(_cents(rec.revenue_proposed))})
    return rows


def _season(month: np.ndarray) -> np.ndarray:
    return np.where(np.isin(month, SUMMER_MONTHS), "summer", "winter")


BILL_COLUMNS = ["class", "rate_code", "meter", "month", "season", "kwh", "received_kwh"]


def year_bills(data: FilingData) -> pd.DataFrame:
    """One row per bill of the test year (the bills whose period ends in it: the cycle's bills of its months) of
    the customers on no net-metering program: class, rate_code, meter, billing month (of the period's last
    day), season, kWh."""
    frames = [rate_code_bills(code, rcd) for code, rcd in data.study.data.items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BILL_COLUMNS)


def rate_code_bills(code: str, rcd) -> pd.DataFrame:
    """The test year's bills of one rate code's kept determinants (:func:`year_bills`), with ``received_kwh``."""
    m, b = np.nonzero(rcd.billed & rcd.periods.valid)
    last = rcd.periods.end[m, b] - np.timedelta64(1, "D")
    month = last.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return pd.DataFrame({"class": rcd.meters["customer_class"].to_numpy()[m], "rate_code": code,
                         "meter": rcd.meters["meter"].to_numpy()[m], "month": month, "season": _season(month),
                         "kwh": rcd.det.delivered_kwh[m, b], "received_kwh": rcd.det.received_kwh[m, b].sum(axis=-1)})


def bill_frequency(data: FilingData, blocks: dict | None = None) -> pd.DataFrame:
    """Bills and kWh by usage block [kWh per bill], class and season (summer: June to September billing months),
    of the customers on no net-metering program (:func:`workbench.filing.nem_schedules.nem_bill_frequency`
    has theirs).

    ``blocks``: class -> block edges (the first is the lowest usage, the last block is open-ended); defaults
    :data:`DEFAULT_BLOCKS`, else :data:`GENERIC_BLOCKS`. ``kwh``: the kWh of the bills in the block;
    ``kwh_in_block``: the kWh that all bills used inside the block's range (the blocking of usage, what a
    block rate prices); both add up to the class's billed kWh. Always the bills of the test year (the billed
    basis), whole bills.
    """
    return frequency_table(year_bills(data), ["class", "season"], blocks)


FREQUENCY_COLUMNS = ["block_low_kwh", "block_high_kwh", "bills", "kwh", "kwh_in_block", "bills_pct", "kwh_pct",
                     "cumulative_bills_pct", "cumulative_kwh_pct"]


def frequency_table(bills: pd.DataFrame, keys: list, blocks: dict | None = None, sums=()) -> pd.DataFrame:
    """Bills by block of ``kwh`` per bill within each group of ``keys`` (the first is the class, whose blocks
    apply); ``sums``: other columns of the bills summed per block (e.g. ``received_kwh``)."""
    blocks = {**DEFAULT_BLOCKS, **(blocks or {})}
    rows = []
    for group_key, group in bills.groupby(keys, sort=True):
        cls = group_key[0]
        edges = [float(e) for e in blocks.get(cls, GENERIC_BLOCKS)]
        if any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
            raise WorkbenchError(f"bill-frequency blocks of class {cls}: {edges}: the edges must increase")
        if group["kwh"].min() < edges[0]:
            edges = [min(0.0, float(np.floor(group["kwh"].min())))] + edges[1:]
        kwh = group["kwh"].to_numpy()
        which = np.searchsorted(np.asarray(edges), kwh, side="right") - 1
        for i, low in enumerate(edges):
            high = edges[i + 1] if i + 1 < len(edges) else math.inf
            sel = which == i
            rows.append({**dict(zip(keys, group_key, strict=True)), "block_low_kwh": low,
                         "block_high_kwh": np.nan if math.isinf(high) else high, "bills": int(sel.sum()),
                         "kwh": float(kwh[sel].sum()),
                         "kwh_in_block": float(np.clip(kwh - low, 0.0, high - low).sum()),
                         **{c: float(group[c].to_numpy()[sel].sum()) for c in sums}})
    out = pd.DataFrame(rows, columns=[*keys, *FREQUENCY_COLUMNS[:5], *sums])
    if out.empty:  # no bills: a test year of only net-metering customers
        return pd.DataFrame(columns=[*keys, *FREQUENCY_COLUMNS, *sums])
    grp = out.groupby(keys, sort=False)
    out["bills_pct"] = 100.0 * out["bills"] / grp["bills"].transform("sum")
    out["kwh_pct"] = 100.0 * out["kwh"] / grp["kwh"].transform("sum").where(lambda s: s != 0)
    out["cumulative_bills_pct"] = 100.0 * grp["bills"].cumsum() / grp["bills"].transform("sum")
    out["cumulative_kwh_pct"] = 100.0 * grp["kwh"].cumsum() / grp["kwh"].transform("sum").where(lambda s: s != 0)
    return out


def _band_labels(edges, unit):
    fmt = (lambda v: f"{v:g}%") if unit == "%" else (lambda v: f"${v:,.0f}")
    bands = [(-math.inf, edges[0], f"below {fmt(edges[0])}")]
    for low, high in zip(edges, edges[1:], strict=False):
        bands.append((low, high, f"{fmt(low)} to {fmt(high)}"))
    bands.append((edges[-1], math.inf, f"{fmt(edges[-1])} and above"))
    return bands


def bill_impacts(data: FilingData, percent_bands=None, dollar_bands=None) -> pd.DataFrame:
    """Customers by class in bands of their annual bill change, in % and in $ (a band holds low <= change < high;
    an unchanged bill, to the cent, is its own band ``no change``); net-metering customers included."""
    return impact_bands(data.all_customers, ["customer_class"], percent_bands, dollar_bands)


def impact_bands(cust: pd.DataFrame, keys: list, percent_bands=None, dollar_bands=None) -> pd.DataFrame:
    """Customers (``annual_bill_present``, ``annual_bill_proposed``) in bands of the change within each group of
    ``keys`` (the first is the class): ``class, [other keys], measure, band, low, high, customers, share_pct``."""
    cust = cust.copy()
    cust["change_cents"] = _cents(cust["annual_bill_proposed"]) - _cents(cust["annual_bill_present"])
    cust["pct"] = _pct(cust["change_cents"], _cents(cust["annual_bill_present"]))
    names = ["class", *keys[1:]]
    rows = []
    for measure, col, edges, unit in (("percent", "pct", percent_bands or PERCENT_BANDS, "%"),
                                      ("dollars", "change_cents", dollar_bands or DOLLAR_BANDS, "$")):
        scale = 1.0 if unit == "%" else 100.0
        for group_key, group in cust.groupby(keys, sort=True):
            where = dict(zip(names, group_key, strict=True))
            values = group[col].to_numpy(dtype=float)
            unchanged = group["change_cents"].to_numpy() == 0
            n = len(group)
            for order, (low, high, label) in enumerate(_band_labels(list(edges), unit)):
                sel = ~unchanged & (values >= low * scale) & (values < high * scale)
                if low <= 0 < high:  # the band starting at or holding zero: its unchanged customers are counted apart
                    rows.append({**where, "measure": measure, "band": "no change", "order": order - 0.5,
                                 "low": 0.0, "high": 0.0, "customers": int(unchanged.sum()),
                                 "share_pct": 100.0 * unchanged.sum() / n})
                rows.append({**where, "measure": measure, "band": label, "order": order,
                             "low": None if math.isinf(low) else low, "high": None if math.isinf(high) else high,
                             "customers": int(sel.sum()), "share_pct": 100.0 * sel.sum() / n})
    out = pd.DataFrame(rows, columns=[*names, "measure", "band", "order", "low", "high", "customers", "share_pct"])
    out = out.sort_values(["measure", *names, "order"], ascending=[False, *[True] * len(names), True],
                          ignore_index=True)
    return out.drop(columns="order")


def largest_increases(data: FilingData, n: int = 10) -> pd.DataFrame:
    """The ``n`` customers of each class with the largest annual bill increase in dollars (net-metering
    customers included)."""
    cust = data.all_customers.copy()
    cust["change"] = (_cents(cust["annual_bill_proposed"]) - _cents(cust["annual_bill_present"])) / 100.0
    cust = cust[cust["change"] > 0].sort_values(["customer_class", "change", "meter"], ascending=[True, False, True])
    top = cust.groupby("customer_class", sort=True).head(n)
    return pd.DataFrame({"class": top["customer_class"], "rate_code": top["rate_code"], "account": top["account"],
                         "meter": top["meter"], "bills": top["bills"], "kwh": top["kwh"],
                         "present_bill": top["annual_bill_present"], "proposed_bill": top["annual_bill_proposed"],
                         "change": top["change"], "change_pct": top["change_pct"]}).reset_index(drop=True)


def rate_mapping(data: FilingData, mapping: dict | None = None) -> pd.DataFrame:
    """Present rate -> proposed rate for every class and rate, with customers, bills, kWh and revenue.

    The proposed book prices each present rate code under the tariff of the same code (``mapping`` may name
    another code of the proposed book for the record; pricing is always under the same code in this version).
    """
    summary = class_summary(data)
    mapping = mapping or {}
    return pd.DataFrame({"class": summary["class"], "present_rate": summary["rate_code"],
                         "proposed_rate": [mapping.get(c, c) for c in summary["rate_code"]],
                         "customers": summary["customers"], "bills": summary["bills"], "kwh": summary["kwh"],
                         "present_revenue": summary["present_revenue"],
                         "proposed_revenue": summary["proposed_revenue"]})


COS_REQUIRED = ("class", "allocated_cost")


def read_cost_of_service(path) -> pd.DataFrame:
    """A cost-of-service result file (CSV): one row per class, at least ``class`` and ``allocated_cost`` [$], or
    the ``cos.csv`` of ``workbench design cos`` as it is (``total_cost``; its TOTAL row is left out); other
    columns (``revenue``, ``present_revenue``, ``parity``...) are kept for the record only."""
    try:
        table = pd.read_csv(path, dtype={"class": str})
    except (OSError, ValueError) as exc:
        raise WorkbenchError(f"--cost-of-service {path}: cannot be read as CSV ({exc})") from None
    if "allocated_cost" not in table.columns and "total_cost" in table.columns:  # `workbench design cos`'s cos.csv
        table = table.rename(columns={"total_cost": "allocated_cost"})
        table = table[table["class"] != "TOTAL"].reset_index(drop=True)
    missing = [c for c in COS_REQUIRED if c not in table.columns]
    if missing:
        raise WorkbenchError(f"--cost-of-service {path}: no column {missing[0]!r}; expected at least "
                             f"{', '.join(COS_REQUIRED)} (one row per class)")
    cost = pd.to_numeric(table["allocated_cost"], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(cost.to_numpy(dtype=float)) | (cost.to_numpy(dtype=float) <= 0))
    if len(bad):
        raise WorkbenchError(f"--cost-of-service {path}: row {bad[0] + 2}, field allocated_cost: "
                             f"{table['allocated_cost'].iloc[bad[0]]!r}; expected a positive amount in dollars")
    if table["class"].duplicated().any():
        raise WorkbenchError(f"--cost-of-service {path}: class {table['class'][table['class'].duplicated()].iloc[0]!r} "
                             "appears twice; expected one row per class")
    table["allocated_cost"] = cost
    return table


def cost_of_service(data: FilingData, study: pd.DataFrame) -> pd.DataFrame:
    """Allocated cost against the test year's present and proposed revenue by class.

    ``revenue_to_cost`` = revenue / allocated cost; ``parity`` = the class's revenue-to-cost ratio over the
    system's (1.00: the class pays its share of cost; the total row is 1 by construction). Classes of the study
    without revenue here (or of the filing without a cost) are an error: parity needs both.
    """
    summary = class_summary(data).groupby("class", sort=True)[["present_revenue", "proposed_revenue"]].sum()
    summary = summary.round(2)  # sums of whole cents: 8595372.12, not 8595372.120000001
    cost = study.set_index("class")["allocated_cost"]
    extra, missing = sorted(set(cost.index) - set(summary.index)), sorted(set(summary.index) - set(cost.index))
    if extra or missing:
        raise WorkbenchError(f"cost of service: classes {extra or missing} are in the "
                             f"{'cost-of-service file' if extra else 'filing'} but not in the "
                             f"{'filing' if extra else 'cost-of-service file'}; parity needs every class in both")
    out = summary.join(cost).reset_index()
    total_cost = out["allocated_cost"].sum()
    for side in ("present", "proposed"):
        out[f"{side}_revenue_to_cost"] = out[f"{side}_revenue"] / out["allocated_cost"]
        out[f"{side}_parity"] = out[f"{side}_revenue_to_cost"] / (out[f"{side}_revenue"].sum() / total_cost)
    return out[["class", "allocated_cost", "present_revenue", "present_revenue_to_cost", "present_parity",
                "proposed_revenue", "proposed_revenue_to_cost", "proposed_parity"]]
