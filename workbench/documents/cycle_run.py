"""The bill documents of a whole cycle output folder, and made-up customers for the sample utility.

:func:`documents_from_cycle_output` reads ``bills.parquet`` and ``line_items.parquet`` of a ``workbench cycle``
output and builds one :class:`~workbench.documents.model.BillDocument` per bill-ready bill, with the usage
chart from the same bills. Customer names and addresses come from ``account_info`` (a mapping account ->
:class:`~workbench.documents.from_cycle.AccountInfo`, or a function of the bill row as a dict); without it, from
:func:`sample_account_info`, which invents a stable name and address per account for the synthetic sample
utility (it has no customer records).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from workbench.documents.from_cycle import (
    SAMPLE_UTILITY,
    AccountInfo,
    document_from_cycle,
    history_window,
    monthly_usage,
)
from workbench.documents.model import BillDocument, Utility
from workbench.errors import BillingError

_FIRST = ("Alex", "Maria", "James", "Linda", "Robert", "Aisha", "David", "Mei", "Carlos", "Grace", "Samuel", "Priya")
_LAST = ("Johnson", "Garcia", "Williams", "Nguyen", "Brown", "Patel", "Davis", "Okafor", "Miller", "Lee", "Moore")
_STREETS = ("Oak St", "Maple Ave", "Pine Ridge Rd", "Elm Ct", "Battleground Ave", "Friendly Ave", "Lake Dr")
_BUSINESS = ("Hardware", "Bakery", "Dental Clinic", "Auto Repair", "Cold Storage", "Print Works", "Mill")


def sample_account_info(account: str, customer_class: str = "RES", multiplier: float = 1.0) -> AccountInfo:
    """A made-up customer for a sample-utility account: the same account always gets the same one."""
    h = zlib.crc32(account.encode())
    last = _LAST[h % len(_LAST)]
    name = (f"{_FIRST[(h >> 4) % len(_FIRST)]} {last}" if customer_class == "RES"
            else f"{last} {_BUSINESS[(h >> 4) % len(_BUSINESS)]} LLC")
    street = f"{100 + h % 8900} {_STREETS[(h >> 8) % len(_STREETS)]}"
    address = f"{street}\nGreensboro, NC 274{(h >> 12) % 90 + 10:02d}"
    return AccountInfo(customer_name=name, service_address=address, mailing_address=address,
                       multiplier=multiplier)


def documents_from_cycle_output(cycle_dir, *, account_info: Mapping | Callable | None = None,
                                multipliers: Mapping[str, float] | None = None,
                                utility: Utility = SAMPLE_UTILITY, bill_ready_only: bool = True,
                                limit: int | None = None) -> list[BillDocument]:
    """One bill document per bill of the cycle output in ``cycle_dir`` (held bills left out unless asked).

    ``multipliers``: meter -> multiplier (the cube's ``multiplier`` coordinate); 1 when not given.
    ``limit``: only the first ``limit`` bills (by meter and period), for a quick look.
    """
    cycle_dir = Path(cycle_dir)
    try:
        bills = pd.read_parquet(cycle_dir / "bills.parquet")
        items = pd.read_parquet(cycle_dir / "line_items.parquet")
    except (OSError, ValueError) as exc:
        raise BillingError(f"{cycle_dir}: not a bill cycle output with bills.parquet and line_items.parquet "
                           f"({exc})") from None
    chosen = bills[bills["bill_ready"]] if bill_ready_only and "bill_ready" in bills else bills
    chosen = chosen.sort_values(["meter", "period_start"], kind="stable")
    if limit is not None:
        chosen = chosen.head(limit)
    lines: dict[tuple, list[dict]] = {}
    for item in items.to_dict("records"):  # plain rows once: pandas per bill costs more than the bill
        lines.setdefault((item["meter"], item["period_start"]), []).append(item)
    usage = monthly_usage(bills)
    docs = []
    for row in chosen.to_dict("records"):
        mult = float((multipliers or {}).get(row['meter'], 1.0))
        if account_info is None:
            info = sample_account_info(str(row['account']), str(row['customer_class']), mult)
        elif callable(account_info):
            info = account_info(row)
        else:
            info = account_info[row['account']]
        own = lines.get((row['meter'], row['period_start']))
        if own is None:
            raise BillingError(f"{cycle_dir / 'line_items.parquet'}: no line items for meter {row['meter']}, period "
                               f"starting {row['period_start']}; the cycle output is incomplete")
        history = history_window(usage.get(str(row['meter']), {}), pd.Timestamp(row['period_end']).date())
        docs.append(document_from_cycle(row, own, info, history, utility=utility))
    return docs
