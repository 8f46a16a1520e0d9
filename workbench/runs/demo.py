"""The demo's lockbox file: payments for some of the bills a run posted (``make demo``).

``python -m workbench.runs.demo --db URL --out FILE --date YYYY-MM-DD`` writes a BAI2 file (through
:func:`workbench.ledger.payment_sample.write_bai2`) paying most posted bills in full, a few in part, one
more than due (a credit balance) and one to an account the ledger does not know (unapplied cash). The file
depends only on the ledger's bills and the date, so writing it again gives the same file, which the ledger
posts once.
"""

from __future__ import annotations

import argparse
import datetime as dt

from sqlalchemy import select

from workbench.ledger.db import new_session, open_ledger
from workbench.ledger.models import Account, Bill
from workbench.ledger.payment_sample import write_bai2


def demo_payments(engine, on: dt.date) -> list[tuple[str, int, str, dt.date]]:
    """(account, cents, item id, date) for the posted bills billed on or before ``on``, deterministic."""
    with new_session(engine) as session:
        rows = session.execute(select(Account.account_number, Bill.id, Bill.total_cents)
                               .join(Account, Account.id == Bill.account_id)
                               .where(Bill.status == "posted", Bill.bill_date <= on, Bill.total_cents > 0)
                               .order_by(Bill.id)).all()
    out = []
    for k, (account, bill_id, cents) in enumerate(rows):
        if k % 5 == 4:
            continue  # one in five not paid yet
        paid = cents // 2 if k % 7 == 3 else cents + 2500 if k % 11 == 5 else cents
        out.append((account, int(paid), f"DEMO{bill_id:08d}", on))
    out.append(("A-UNKNOWN", 4200, "DEMO-UNMATCHED", on))
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench.runs.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="ledger URL")
    parser.add_argument("--out", required=True, help="the BAI2 file to write")
    parser.add_argument("--date", required=True, help="payment date YYYY-MM-DD")
    args = parser.parse_args(argv)
    on = dt.date.fromisoformat(args.date)
    payments = demo_payments(open_ledger(args.db), on)
    write_bai2(args.out, payments, created=dt.datetime.combine(on, dt.time(9, 0)), file_id="1")
    print(f"{args.out}: {len(payments):,} payments, ${sum(p[1] for p in payments) / 100:,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
