"""Exception rules of a billing run: which of the cycle's bills a billing manager must look at before release.

Each rule is a pure function of data frames (the cycle's bills, the accounts' earlier posted bills, the
ledger's accounts, rate assignments and meter exchanges) returning one row per bill it flags: ``meter``,
``account``, ``period_start``, ``rule`` (a code below), ``reason`` (a sentence a billing manager can act on)
and ``hold`` (False when the site's rules file says to report the rule but not hold the bill). Thresholds are
:class:`~workbench.runs.config.RulesConfig` (``defaults.yaml``). :func:`evaluate` runs them all.

Codes: HIGH_OWN / LOW_OWN (kWh per day against the account's own earlier bills), HIGH_PEER / LOW_PEER
(robust z-score of log kWh per day within the same class and rate), ESTIMATED (the VEE bill-ready verdict, or
more estimated intervals than the site allows), ZERO_USE, NEGATIVE_TOTAL, NO_RATE / RATE_MISMATCH (rate
assignment in the ledger), METER_EXCHANGE, FIRST_BILL, FINAL_BILL. Meters the cycle could not bill at all
(a rate code not in the book...) are the cycle's own ``exceptions.csv``; the run reports them beside these.

Frames (dates as ``datetime64`` or ``datetime.date``; a bill period is ``[period_start, period_end)``):

- bills: meter, account, customer_class, rate_code, period_start, period_end, days, delivered_kwh,
  received_kwh, intervals, estimated_intervals, total, bill_ready, hold_reason (the cycle's bills.parquet)
- history: account, meter, period_start, period_end, days, delivered_kwh (earlier posted, not cancelled)
- accounts: account, status (active, inactive, closed), open_date, close_date (NaT while open)
- rates: account, rate_code, effective_from, effective_to (NaT: open-ended; exclusive)
- exchanges: meter, account, date (a meter set or removed on that day)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from workbench.runs.config import RulesConfig, load_rules_config

HOLD_COLUMNS = ["meter", "account", "period_start", "rule", "reason", "hold"]
KEY = ["meter", "period_start"]


def _dates(frame: pd.DataFrame, *names) -> pd.DataFrame:
    frame = frame.copy()
    for name in names:
        if name in frame:
            frame[name] = pd.to_datetime(frame[name])
    return frame


def _flag(bills: pd.DataFrame, mask, rule: str, reasons, hold: bool) -> pd.DataFrame:
    mask = np.asarray(mask, bool)
    rows = bills.loc[mask, ["meter", "account", "period_start"]].copy()
    rows["rule"] = rule
    rows["reason"] = list(np.asarray(reasons, dtype=object)[mask]) if not isinstance(reasons, str) else reasons
    rows["hold"] = hold
    return rows[HOLD_COLUMNS]


def kwh_per_day(frame: pd.DataFrame) -> pd.Series:
    """Delivered kWh per day of each bill [kWh/day] (NaN for a bill of no days)."""
    days = frame["days"].astype(float).where(frame["days"] > 0)
    return frame["delivered_kwh"].astype(float) / days


def own_history(bills, history, cfg: RulesConfig) -> pd.DataFrame:
    """HIGH_OWN / LOW_OWN: kWh/day against the median of the account's latest earlier bills."""
    rule = cfg.own_history
    if history is None or not len(history):
        return pd.DataFrame(columns=HOLD_COLUMNS)
    hist = _dates(history, "period_start")
    hist = hist.assign(rate=kwh_per_day(hist)).dropna(subset=["rate"]).sort_values("period_start", kind="stable")
    by_account = {a: (g["period_start"].to_numpy(), g["rate"].to_numpy()) for a, g in hist.groupby("account")}
    reference, count = [], []
    for account, start in zip(bills["account"], pd.to_datetime(bills["period_start"]).to_numpy(), strict=True):
        starts, rates = by_account.get(account, (np.array([], "datetime64[ns]"), np.array([])))
        earlier = rates[: np.searchsorted(starts, start, side="left")][-rule.bills:]
        count.append(len(earlier))
        reference.append(float(np.median(earlier)) if len(earlier) else np.nan)
    reference, count = np.asarray(reference), np.asarray(count)
    now = kwh_per_day(bills).to_numpy()
    judged = (count >= rule.min_bills) & (reference >= rule.min_kwh_per_day) & ~np.isnan(now)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = now / reference
    reasons = [f"{n:,.1f} kWh/day is {r:.2f} x the median {m:,.1f} kWh/day of the account's last {c} bills"
               for n, r, m, c in zip(now, ratio, reference, count, strict=True)]
    return pd.concat([_flag(bills, judged & (ratio > rule.high_ratio), "HIGH_OWN", reasons, rule.hold),
                      _flag(bills, judged & (ratio < rule.low_ratio), "LOW_OWN", reasons, rule.hold)])


def robust_z(values: np.ndarray) -> np.ndarray:
    """0.6745 (x - median) / MAD (Iglewicz and Hoaglin); NaN where the MAD is 0 or x is NaN."""
    values = np.asarray(values, float)
    median = np.nanmedian(values)
    mad = np.nanmedian(np.abs(values - median))
    if not np.isfinite(mad) or mad == 0:
        return np.full(len(values), np.nan)
    return 0.6745 * (values - median) / mad


def peers(bills, cfg: RulesConfig) -> pd.DataFrame:
    """HIGH_PEER / LOW_PEER: log kWh/day far from the bills of the same class and rate in this run."""
    rule = cfg.peers
    rate = kwh_per_day(bills)
    logged = np.log(rate.where(rate > 0))  # zero use is its own rule
    z = pd.Series(np.nan, index=bills.index)
    median = pd.Series(np.nan, index=bills.index)
    for _, index in bills.groupby(["customer_class", "rate_code"]).groups.items():
        if logged[index].notna().sum() >= rule.min_group:
            z[index] = robust_z(logged[index].to_numpy())
            median[index] = float(np.exp(np.nanmedian(logged[index])))
    reasons = [f"{r:,.1f} kWh/day against the median {m:,.1f} kWh/day of {c} {k} bills (robust z {v:+.1f})"
               for r, m, c, k, v in zip(rate, median, bills["customer_class"], bills["rate_code"], z, strict=True)]
    z = z.to_numpy()
    with np.errstate(invalid="ignore"):
        return pd.concat([_flag(bills, z > rule.max_robust_z, "HIGH_PEER", reasons, rule.hold),
                          _flag(bills, z < -rule.max_robust_z, "LOW_PEER", reasons, rule.hold)])


def estimated(bills, cfg: RulesConfig) -> pd.DataFrame:
    """ESTIMATED: the VEE verdict says not bill-ready, or the estimated share is over the site's maximum."""
    rule = cfg.estimated
    not_ready = ~bills["bill_ready"].astype(bool).to_numpy()
    share = (bills["estimated_intervals"] / bills["intervals"].where(bills["intervals"] > 0)).fillna(0).to_numpy()
    over = np.zeros(len(bills), bool) if rule.max_estimated_share is None else share > rule.max_estimated_share
    allowed = rule.max_estimated_share or 0.0
    reasons = [(f"not bill-ready (VEE): {why}" if not ready_flag else
                f"{s:.1%} of the intervals are estimated (the site allows {allowed:.1%})")
               for why, ready_flag, s in zip(bills["hold_reason"], ~not_ready, share, strict=True)]
    return _flag(bills, not_ready | over, "ESTIMATED", reasons, rule.hold)


def _status(bills, accounts) -> pd.Series:
    if accounts is None:
        return pd.Series("active", index=bills.index)
    status = accounts.drop_duplicates("account").set_index("account")["status"]
    return bills["account"].map(status).fillna("unknown")


def zero_use(bills, accounts, cfg: RulesConfig) -> pd.DataFrame:
    """ZERO_USE: no energy delivered or received in the period on an active account."""
    none = (bills["delivered_kwh"] == 0) & (bills["received_kwh"] == 0) & (_status(bills, accounts) == "active")
    reason = "no energy delivered or received in the bill period on an active account"
    return _flag(bills, none, "ZERO_USE", reason, cfg.zero_use.hold)


def negative_total(bills, cfg: RulesConfig) -> pd.DataFrame:
    """NEGATIVE_TOTAL: the bill's total is below the site's floor (default $0)."""
    below = cfg.negative_total.below
    reasons = [f"the total ${t:,.2f} is below ${below:,.2f}" for t in bills["total"]]
    return _flag(bills, bills["total"] < below, "NEGATIVE_TOTAL", reasons, cfg.negative_total.hold)


def missing_rate(bills, rates, cfg: RulesConfig) -> pd.DataFrame:
    """NO_RATE / RATE_MISMATCH: the ledger's rate assignment in force on the period's last day."""
    rates = _dates(rates, "effective_from", "effective_to").dropna(subset=["effective_from"])
    last_day = pd.to_datetime(bills["period_end"]) - pd.Timedelta(days=1)
    # the latest assignment starting on or before the last day, per account (merge_asof), if it has not ended
    left = pd.DataFrame({"account": bills["account"].astype(str), "day": last_day.astype("datetime64[ns]"),
                         "row": np.arange(len(bills))}).sort_values("day")
    right = rates.assign(account=rates["account"].astype(str),
                         effective_from=rates["effective_from"].astype("datetime64[ns]")).sort_values("effective_from")
    hit = pd.merge_asof(left, right, left_on="day", right_on="effective_from", by="account", direction="backward")
    live = hit["effective_to"].isna() | (hit["effective_to"] > hit["day"])
    hit["rate_code"] = hit["rate_code"].where(live & hit["rate_code"].notna(), None)
    assigned = np.asarray(hit.sort_values("row")["rate_code"].to_numpy(), dtype=object)
    assigned = np.asarray([None if (a is None or (isinstance(a, float) and np.isnan(a))) else str(a) for a in assigned],
                          dtype=object)
    none = np.asarray([a is None for a in assigned])
    other = ~none & (assigned != bills["rate_code"].to_numpy())
    reasons = [f"the ledger assigns the account no rate on {d.date()}" if a is None else
               f"the ledger assigns rate {a} on {d.date()}; the meter was billed on {c}"
               for a, d, c in zip(assigned, last_day, bills["rate_code"], strict=True)]
    hold = cfg.missing_rate.hold
    return pd.concat([_flag(bills, none, "NO_RATE", reasons, hold), _flag(bills, other, "RATE_MISMATCH", reasons, hold)])


def meter_exchange(bills, history, exchanges, cfg: RulesConfig) -> pd.DataFrame:
    """METER_EXCHANGE: a meter set or removed within the period, or a meter other than the last bill's."""
    start, end = pd.to_datetime(bills["period_start"]), pd.to_datetime(bills["period_end"])
    reasons = np.full(len(bills), "", dtype=object)
    if exchanges is not None and len(exchanges):
        ex = _dates(exchanges, "date")
        by_meter = {m: g for m, g in ex.groupby("meter")}
        by_account = {a: g for a, g in ex.groupby("account")}
        for i, (meter, account, s, e) in enumerate(zip(bills["meter"], bills["account"], start, end, strict=True)):
            for g in (by_meter.get(meter), by_account.get(account)):
                hit = None if g is None else g[(g["date"] >= s) & (g["date"] < e)]
                if hit is not None and len(hit) and not reasons[i]:
                    reasons[i] = (f"meter {hit['meter'].iloc[0]} set or removed on {hit['date'].iloc[0].date()}, "
                                  "within the period")
    if history is not None and len(history):
        hist = _dates(history, "period_start").sort_values("period_start", kind="stable")
        last = {a: (g["period_start"].to_numpy(), g["meter"].to_numpy()) for a, g in hist.groupby("account")}
        for i, (meter, account, s) in enumerate(zip(bills["meter"], bills["account"], start.to_numpy(), strict=True)):
            starts, meters = last.get(account, (np.array([], "datetime64[ns]"), np.array([])))
            k = np.searchsorted(starts, s, side="left")
            if not reasons[i] and k and meters[k - 1] != meter:
                reasons[i] = f"the last bill was on meter {meters[k - 1]}, this one on meter {meter}"
    return _flag(bills, reasons != "", "METER_EXCHANGE", reasons, cfg.meter_exchange.hold)


def first_and_final(bills, accounts, cfg: RulesConfig) -> pd.DataFrame:
    """FIRST_BILL (the account opened within the period) and FINAL_BILL (it closes within or at its end)."""
    acc = _dates(accounts.drop_duplicates("account"), "open_date", "close_date").set_index("account")
    start, end = pd.to_datetime(bills["period_start"]), pd.to_datetime(bills["period_end"])
    opened = bills["account"].map(acc["open_date"]) if "open_date" in acc else pd.Series(pd.NaT, index=bills.index)
    closed = bills["account"].map(acc["close_date"]) if "close_date" in acc else pd.Series(pd.NaT, index=bills.index)
    first = (opened >= start).to_numpy()
    final = ((closed >= start) & (closed <= end)).to_numpy()
    first_reasons = [f"first bill: the account opened on {d.date()}" if pd.notna(d) else "" for d in opened]
    final_reasons = [f"final bill: the account closes on {d.date()}" if pd.notna(d) else "" for d in closed]
    return pd.concat([_flag(bills, first, "FIRST_BILL", first_reasons, cfg.first_bill.hold),
                      _flag(bills, final, "FINAL_BILL", final_reasons, cfg.final_bill.hold)])


@dataclass
class Verdict:
    """What the rules found: one row per (bill, rule) in ``flags``; ``not_judged`` says which rules lacked data."""

    flags: pd.DataFrame
    not_judged: list[str] = field(default_factory=list)

    def held(self, bills: pd.DataFrame) -> np.ndarray:
        """Bool per bill of ``bills``: some rule holds it."""
        holding = self.flags[self.flags["hold"].astype(bool)]
        keys = set(zip(holding["meter"], pd.to_datetime(holding["period_start"]), strict=True))
        return np.asarray([k in keys for k in zip(bills["meter"], pd.to_datetime(bills["period_start"]), strict=True)],
                          bool)

    def reasons(self) -> pd.DataFrame:
        """One row per held bill: its rules joined with '+' and their reasons joined with '; '."""
        holding = self.flags[self.flags["hold"].astype(bool)]
        return (holding.groupby(["meter", "account", "period_start"], sort=True)
                .agg(rules=("rule", "+".join), reasons=("reason", "; ".join)).reset_index())


def evaluate(bills, history=None, accounts=None, rates=None, exchanges=None, config=None) -> Verdict:
    """Run every rule over the cycle's ``bills`` (see the module docstring for the frames)."""
    cfg = config if isinstance(config, RulesConfig) else load_rules_config(config)
    bills = bills.reset_index(drop=True)
    parts = [own_history(bills, history, cfg), peers(bills, cfg), estimated(bills, cfg),
             zero_use(bills, accounts, cfg), negative_total(bills, cfg), meter_exchange(bills, history, exchanges, cfg)]
    not_judged = []
    if history is None:
        not_judged.append("own_history (no earlier bills given)")
    if rates is None:
        not_judged.append("missing_rate (no rate assignments given)")
    else:
        parts.append(missing_rate(bills, rates, cfg))
    if accounts is None:
        not_judged.append("first_bill, final_bill (no accounts given)")
    else:
        parts.append(first_and_final(bills, accounts, cfg))
    parts = [p for p in parts if len(p)]
    flags = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=HOLD_COLUMNS)
    flags["hold"] = flags["hold"].astype(bool)
    return Verdict(flags.sort_values(["meter", "period_start", "rule"], ignore_index=True), not_judged)
