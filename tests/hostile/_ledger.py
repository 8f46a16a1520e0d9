"""The ledger the hostile ledger-command tests start from: accounts loaded, one $100.00 January bill posted."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.posting import post_bills
from workbench.ledger.settings import set_nsf_fee

#: one residential account, A1 with meter M1
ONE_ACCOUNT = ("account_number,customer_name,service_address,meter_id,rate_code,customer_class,opening_date\n"
               "A1,Ann Able,1 Elm St,M1,RES,RES,2025-01-01\n")


def ledger_with_a_bill(tmp_path, accounts: str = ONE_ACCOUNT, nsf_fee_cents: int | None = 2500):
    """A SQLite ledger in ``tmp_path`` with ``accounts`` loaded and A1/M1 billed $100.00 for January 2025
    (energy, 500 kWh), the returned-payment fee set to ``nsf_fee_cents`` (None: none set); returns
    ``(url, engine)``."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    (tmp_path / "accounts.csv").write_text(accounts)
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        if nsf_fee_cents is not None:
            set_nsf_fee(session, nsf_fee_cents, "test setup")
        start, end = dt.date(2025, 1, 1), dt.date(2025, 1, 31)
        post_bills(session, None, pd.DataFrame([dict(
            meter="M1", account="A1", customer_class="RES", rate_code="RES", period_start=start, period_end=end,
            days=31, delivered_kwh=500.0, total=100.0)]), pd.DataFrame([dict(
                meter="M1", period_start=start, line=1, description="Energy", amount=100.0)]))
    return url, engine
