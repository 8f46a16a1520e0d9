"""The bill document of a budget-billed account prints the installment due, not the receivable balance of
the actual charges (hand-checked amounts), and the 13-month history of a meter with two bills."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from workbench.documents import render_bill_html
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.posting import post_bills, start_run
from workbench.runs.documents import run_documents

ACCOUNTS = """account_number,customer_name,service_address,meter_id,rate_code,customer_class,opening_date,opening_balance,budget_installment,budget_settle_month
B1,Budget Customer,1 Level St,M-B1,RES,RES,2025-01-01,25.00,100.00,8
A1,Plain Customer,2 Plain St,M-A1,RES,RES,2025-01-01,0,,
"""


def _bill(account: str, meter: str, start: str, end: str, energy_kwh: float, energy_rate: float,
          energy_dollars: float):
    total = round(10.0 + energy_dollars, 2)
    bills = pd.DataFrame([{"account": account, "meter": meter, "customer_class": "RES", "rate_code": "RES",
                           "period_start": pd.Timestamp(start), "period_end": pd.Timestamp(end), "days": 28,
                           "delivered_kwh": energy_kwh, "total": total, "intervals": 672, "estimated_intervals": 0}])
    items = pd.DataFrame([
        {"meter": meter, "period_start": pd.Timestamp(start), "line": 1, "description": "Customer charge",
         "category": "fixed", "quantity": 1.0, "unit": "month", "rate": 10.0, "amount": 10.0},
        {"meter": meter, "period_start": pd.Timestamp(start), "line": 2, "description": "Energy",
         "category": "energy", "quantity": energy_kwh, "unit": "kWh", "rate": energy_rate, "amount": energy_dollars}])
    return bills, items


def _post_and_document(engine, key: str, bills, items):
    with new_session(engine) as session:
        run_id = start_run(session, 1, key, key)
        post_bills(session, run_id, bills, items)
    return {d.account_number: d for d in run_documents(engine, run_id, SimpleNamespace(bills=bills,
                                                                                        line_items=items))}


def test_budget_billed_bill_shows_the_installment_due_and_the_difference(tmp_path):
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    engine, _, _ = init_ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        session.commit()
    # February: actual charges 10.00 + 1,000 kWh x 0.12742 = 137.42 on both accounts
    b = [_bill("B1", "M-B1", "2025-02-01", "2025-02-28", 1000.0, 0.12742, 127.42),
         _bill("A1", "M-A1", "2025-02-01", "2025-02-28", 1000.0, 0.12742, 127.42)]
    docs = _post_and_document(engine, "2025-02", pd.concat([b[0][0], b[1][0]]), pd.concat([b[0][1], b[1][1]]))
    budget, plain = docs["B1"], docs["A1"]
    assert budget.current_charges_cents == 13742
    assert budget.previous_balance_cents == 2500           # the opening balance
    assert budget.budget.installment_cents == 10000
    assert budget.budget.deferred_cents == 3742            # 137.42 - 100.00, carried in the budget book
    assert budget.budget.settled_cents == 0
    assert budget.budget.balance_cents == 3742
    assert budget.budget.settle_month == 8
    assert budget.amount_due_cents == 12500                # 25.00 + the 100.00 installment, not 162.42
    assert plain.budget is None and plain.amount_due_cents == 13742
    # August, the settle-up month: actual 10.00 + 560 kWh x 0.125 = 80.00; the installment 100.00 is billed,
    # 20.00 less than the bill comes off the budget book (37.42 - 20.00 = 17.42), which then comes due
    bills, items = _bill("B1", "M-B1", "2025-08-01", "2025-08-31", 560.0, 0.125, 70.0)
    august = _post_and_document(engine, "2025-08", bills, items)["B1"]
    assert august.current_charges_cents == 8000
    assert august.previous_balance_cents == 12500
    assert august.budget.deferred_cents == -2000
    assert august.budget.settled_cents == 1742
    assert august.budget.balance_cents == 0
    assert august.amount_due_cents == 12500 + 10000 + 1742  # previous + installment + settle-up = 242.42
    assert [(m.month, m.kwh) for m in august.usage_history] == [("2025-02", 1000.0), ("2025-08", 560.0)]
    html = render_bill_html(august)
    assert "$242.42" in html and "Budget settle-up" in html and "$100.00" in html and "less than the installment" in html
    assert "$20.00" in html  # the difference, printed as a positive number of dollars below the installment
