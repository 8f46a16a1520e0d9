"""The steps of an audited cycle run, each a function the billing-cycle notebook calls in order.

1. :func:`readiness`: the cube's cycle and whether VEE validated it (the per-bill verdict comes with the bills);
2. :func:`bill`: the cycle's bills (:func:`workbench.billing.cycle.run_cycle`) into the run's ``cycle/`` folder,
   reused when an earlier execution of the same run finished it;
3. :func:`judge`: the exception rules (:mod:`workbench.runs.rules`) with the ledger's accounts and history;
4. :func:`post`: the bills that pass are posted, the others recorded as held with their reasons, in batches of
   ``batch_size`` bills, one ledger transaction each (:func:`workbench.ledger.posting.post_bills`). The
   ledger skips a bill it already has, so an execution killed at any point and run again posts every bill
   once: no duplicate, no gap;
5. :func:`accounting`: meters in = billed + held, bills = posted + held (+ already posted), revenue by class,
   and every bill of the cycle found in the ledger exactly once.

Bill documents (:mod:`workbench.runs.documents`) come last.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from workbench.billing.cube_source import open_run_cube
from workbench.billing.cycle import run_cycle
from workbench.billing.cycle_output import held_exceptions
from workbench.errors import WorkbenchError
from workbench.ledger.db import new_session, open_ledger, require_current
from workbench.ledger.posting import finish_run, post_bills, start_run
from workbench.runs import ledger_frames as lf
from workbench.runs.rules import Verdict, evaluate

#: test hook (docs/cycle-runs.md): ``<batch>@<flag file>`` pauses the run after that batch committed, having
#: created the flag file, so a test can kill it mid-posting
PAUSE_ENV = "WORKBENCH_TEST_PAUSE_AFTER_BATCH"


def readiness(cube, cycle: int) -> dict:
    """The cycle's meters in the cube and whether VEE ran on it (a cube never validated is a loud warning)."""
    ds = open_run_cube(cube)
    meters = int((ds["cycle"].values == int(cycle)).sum())
    validated = "vee_method" in ds.variables
    if meters == 0:
        raise WorkbenchError(f"{cube}: no meter is on bill cycle {cycle} (the cube's cycles: "
                             f"{sorted(set(int(c) for c in ds['cycle'].values))})")
    note = ("VEE validated the cube: bills on too many estimated or missing intervals are held" if validated else
            "WARNING: VEE never ran on this cube (no vee_method); only its quality flags judge bill-readiness")
    return {"meters_in_cycle": meters, "vee_validated": validated, "note": note}


@dataclass
class Billed:
    folder: Path
    bills: pd.DataFrame
    line_items: pd.DataFrame
    not_billed: pd.DataFrame  # the cycle's exceptions.csv: meters held without a bill, with the reason
    meters_in: int
    meters_billed: int
    reused: bool
    # bills whose period the cube's data end cuts short (the meter's next read date is after the data): not posted,
    # their meter's next run bills the whole period once it is read (posting the stub would skip the rest for good)
    not_yet_read: pd.DataFrame = field(default_factory=pd.DataFrame)


def bill(cube, tariffs, cycle: int, period: str, run_dir, *, progress=False) -> Billed:
    """Bill the cycle into ``run_dir/cycle`` (or reuse it when an earlier execution of this run finished it)."""
    folder = Path(run_dir) / "cycle"
    reused = (folder / "run.json").exists()
    if not reused:
        run_cycle(cube, tariffs, folder, cycles=[int(cycle)], period=period, progress=progress)
    run = json.loads((folder / "run.json").read_text())
    bills, items = pd.read_parquet(folder / "bills.parquet"), pd.read_parquet(folder / "line_items.parquet")
    unread = ~pd.to_datetime(bills["period_end"]).isin(cycle_read_dates(cube, cycle))
    if unread.any():
        cut = bills.loc[unread, ["meter", "period_start"]].assign(period_start=lambda f: pd.to_datetime(f["period_start"]))
        keys = pd.MultiIndex.from_frame(cut)
        items = items[~pd.MultiIndex.from_arrays([items["meter"], pd.to_datetime(items["period_start"])]).isin(keys)]
    return Billed(folder, bills[~unread].reset_index(drop=True), items.reset_index(drop=True),
                  held_exceptions(pd.read_csv(folder / "exceptions.csv", dtype=str)), int(run["meters_in"]), int(run["meters_billed"]),
                  reused, bills[unread].reset_index(drop=True))


def cycle_read_dates(cube, cycle: int) -> pd.DatetimeIndex:
    """The read dates of bill cycle ``cycle`` in the cube (a bill period ends on one of them once it is read)."""
    ds = open_run_cube(cube)
    ids = [int(c) for c in ds["cycle_id"].values]
    if int(cycle) not in ids:
        raise WorkbenchError(f"{cube}: bill cycle {cycle} has no read dates in the cube (cycles: {ids})")
    reads = ds["read_date"].values[ids.index(int(cycle))].astype("datetime64[D]")
    return pd.DatetimeIndex(reads[~np.isnat(reads)])


def ledger(db=None):
    """The ledger engine at ``db`` (or ``WORKBENCH_DB_URL``), refused unless ``workbench ledger init`` made it."""
    engine = open_ledger(db)
    require_current(engine)
    return engine


def judge(engine, bills: pd.DataFrame, rules=None) -> Verdict:
    """The exception rules over the cycle's bills, with the ledger's accounts, rates, exchanges and history."""
    with new_session(engine) as session:
        frames = {"history": lf.history(session), "accounts": lf.accounts(session), "rates": lf.rates(session),
                  "exchanges": lf.exchanges(session)}
    return evaluate(bills, config=rules, **frames)


def hold_reasons(bills: pd.DataFrame, verdict: Verdict) -> pd.Series:
    """Per bill: ``RULE: reason; RULE: reason`` of the rules holding it, '' for a bill that passes."""
    holding = verdict.flags[verdict.flags["hold"]]
    text = (holding.assign(text=holding["rule"] + ": " + holding["reason"],
                           period_start=pd.to_datetime(holding["period_start"]))
            .groupby(["meter", "period_start"])["text"].agg("; ".join))
    keys = pd.MultiIndex.from_arrays([bills["meter"], pd.to_datetime(bills["period_start"])])
    return pd.Series(text.reindex(keys).fillna("").to_numpy(), index=bills.index)


@dataclass
class Posted:
    ledger_run_id: int
    batches: int
    posted: int = 0
    held: int = 0
    already: int = 0
    unknown_account: list = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


def post(engine, run_key: str, cycle: int, period: str, bills: pd.DataFrame, line_items: pd.DataFrame,
         verdict: Verdict, *, batch_size: int = 500, code_version: str = "", inputs_checksum: str = "",
         who: str = "run-cycle") -> Posted:
    """Post the bills in batches (one transaction each); held bills are recorded with their reasons."""
    started = time.perf_counter()
    if batch_size < 1:
        raise WorkbenchError(f"--batch-size {batch_size}: expected at least 1 bill per batch")
    bills = bills.assign(hold_reason=hold_reasons(bills, verdict)).sort_values(["account", "meter", "period_start"],
                                                                               ignore_index=True)
    items = line_items.assign(period_start=pd.to_datetime(line_items["period_start"]).dt.date)
    by_meter = items.groupby("meter", sort=False).indices
    pause = os.environ.get(PAUSE_ENV, "")
    with new_session(engine) as session:
        run_id = start_run(session, cycle, period, run_key, code_version, inputs_checksum)
        result = Posted(run_id, batches=int(np.ceil(len(bills) / batch_size)))
        for number, first in enumerate(range(0, len(bills), batch_size), start=1):
            batch = bills.iloc[first:first + batch_size]
            rows = np.concatenate([by_meter.get(m, np.zeros(0, int)) for m in batch["meter"].unique()] or [[]])
            outcome = post_bills(session, run_id, batch, items.iloc[rows.astype(int)], batch=f"{run_key}#{number}",
                                 who=who)
            result.posted += len(outcome.posted)
            result.held += len(outcome.held)
            result.already += len(outcome.already)
            result.unknown_account += [f"{a} {m} {s}" for a, m, s in outcome.unknown_account]
            _pause_hook(pause, number)
        finish_run(session, run_id)
    result.seconds = round(time.perf_counter() - started, 2)
    return result


def _pause_hook(setting: str, number: int) -> None:
    batch, _, flag = setting.partition("@")
    if setting and batch.strip() == str(number):
        Path(flag).write_text(str(os.getpid()))
        time.sleep(600)


def accounting(engine, billed: Billed, posted: Posted) -> dict:
    """The run's accounting; ``ties`` is False (with ``breaks`` saying why) when anything is unaccounted for."""
    bills = billed.bills
    keys = set(zip(bills["account"].astype(str), bills["meter"].astype(str),
                   pd.to_datetime(bills["period_start"]).dt.date, strict=True))
    with new_session(engine) as session:
        found = lf.bill_keys(session, bills["account"].unique())
        run = lf.run_bills(session, posted.ledger_run_id)
    found["period_start"] = pd.to_datetime(found["period_start"]).dt.date
    first_versions = found[found["version"] == 1]
    in_ledger = set(zip(first_versions["account"], first_versions["meter"], first_versions["period_start"], strict=True))
    breaks = []
    held_meters = len(billed.not_billed)
    if billed.meters_in != billed.meters_billed + held_meters:
        breaks.append(f"meters in {billed.meters_in} != billed {billed.meters_billed} + held {held_meters}")
    missing = keys - in_ledger
    missing_known = {k for k in missing if f"{k[0]} {k[1]} {k[2]}" not in set(posted.unknown_account)}
    if missing_known:
        breaks.append(f"{len(missing_known)} bills of the cycle are not in the ledger (a gap), e.g. "
                      f"{sorted(missing_known)[0]}")
    dup = first_versions.duplicated(["account", "meter", "period_start"]).sum()
    if dup:
        breaks.append(f"{dup} bills are in the ledger twice (duplicates)")
    if posted.unknown_account:
        breaks.append(f"{len(posted.unknown_account)} bills are of accounts not in the ledger "
                      f"(load them with `workbench ledger load-accounts`), e.g. {posted.unknown_account[0]}")
    status = found.merge(pd.DataFrame(list(keys), columns=["account", "meter", "period_start"]))
    current = status.sort_values("version").drop_duplicates(["account", "meter", "period_start"], keep="last")
    run = run.assign(dollars=run["total_cents"] / 100)
    by_class = (run.pivot_table(index="customer_class", columns="status", values="dollars", aggfunc="sum",
                                fill_value=0.0).round(2).reset_index())
    return {"meters_in": billed.meters_in, "meters_billed": billed.meters_billed, "meters_held": held_meters,
            "bills": len(bills), "posted_now": posted.posted, "held_now": posted.held, "already": posted.already,
            "status": current["status"].value_counts().to_dict(), "by_class": by_class, "ties": not breaks,
            "breaks": breaks}
