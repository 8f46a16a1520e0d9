"""The sample utility's accounts file (docs/ledger.md layout): synthetic names and addresses, a few balances.

Written beside the meter registry by ``workbench sample --ami``: one row per meter of the registry (a meter
exchange gives its account two rows), with a made-up customer name, service and mailing address, and on
about one account in ten an opening balance carried from the "previous system" (some in credit), a deposit on
about one in twenty. Deterministic for a seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_FIRST = ("Ada", "Ben", "Cora", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena", "Milo", "Nia")
_LAST = ("Archer", "Baker", "Carver", "Dyer", "Fisher", "Glover", "Hunter", "Mason", "Porter", "Sawyer", "Turner")
_STREETS = ("Oak St", "Maple Ave", "Pine Rd", "Cedar Ln", "Elm St", "Birch Dr", "Walnut Way", "Poplar Ct")
_BUSINESS = ("Hardware", "Diner", "Dental", "Print Shop", "Bakery", "Garage", "Mill", "Cold Storage")
TOWN = "Piedmont, NC 27000"


def sample_accounts(registry: pd.DataFrame, *, seed: int = 7, opening_date: str = "2025-01-01") -> pd.DataFrame:
    """The accounts CSV rows for a sample registry frame (meter_id, service_point, account, customer_class,
    rate_code, cycle, nem_program, ct_ratio, pt_ratio)."""
    rng = np.random.default_rng(seed)
    accounts = registry["account"].astype(str)
    first_row = ~accounts.duplicated()
    n = len(registry)
    cls = registry["customer_class"].astype(str).to_numpy()
    person = [f"{_FIRST[a]} {_LAST[b]}" for a, b in zip(rng.integers(0, len(_FIRST), n), rng.integers(0, len(_LAST), n),
                                                     strict=True)]
    business = [f"{_LAST[b]} {_BUSINESS[k]}" for b, k in zip(rng.integers(0, len(_LAST), n),
                                                           rng.integers(0, len(_BUSINESS), n), strict=True)]
    number = rng.integers(10, 9999, n)
    street = rng.integers(0, len(_STREETS), n)
    service = [f"{number[i]} {_STREETS[street[i]]}, {TOWN}" for i in range(n)]
    balance = np.where(rng.random(n) < 0.1, np.round(rng.normal(60, 80, n), 2), 0.0)
    deposit = np.where(rng.random(n) < 0.05, 150.0, 0.0)
    frame = pd.DataFrame({
        "account_number": accounts,
        "customer_name": np.where(cls == "RES", person, business),
        "service_address": service,
        "mailing_address": np.where(rng.random(n) < 0.1, [f"PO Box {k}, {TOWN}" for k in number], ""),
        "meter_id": registry["meter_id"].astype(str),
        "service_point": registry["service_point"].astype(str),
        "rate_code": registry["rate_code"].astype(str),
        "customer_class": cls,
        "cycle": registry["cycle"].astype(int),
        "nem_program": registry["nem_program"].fillna("").astype(str),
        "multiplier": (registry["ct_ratio"].astype(float) * registry["pt_ratio"].astype(float)),
        "opening_balance": [f"{b:.2f}" if b and f else "" for b, f in zip(balance, first_row, strict=True)],
        "opening_date": opening_date,
        "deposit": [f"{d:.2f}" if d and f else "" for d, f in zip(deposit, first_row, strict=True)],
    })
    # every meter of one account shares its first row's name and service address (one customer, one premise)
    for name in ("customer_name", "service_address", "mailing_address"):
        frame[name] = frame.groupby("account_number")[name].transform("first")
    return frame
