"""Bill documents: the model refuses bills that do not add up, the HTML escapes and fetches nothing, the PDFs
hold what the customer must read (checked by extracting their text with pypdf), a run writes one PDF per bill
and a print file. Expected amounts are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt
import re
import time

import pandas as pd
import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from workbench.billing.cycle import run_cycle
from workbench.documents import (
    PRINT_FILE,
    SAMPLE_UTILITY,
    AccountInfo,
    BillDocument,
    Charge,
    bill_file_name,
    document_from_cycle,
    documents_from_cycle_output,
    render_bill_html,
    render_bill_pdf,
    usage_by_period,
    usage_chart,
    write_run_documents,
)
from workbench.documents.render import _document, _nice_top, charge_cells, money
from workbench.errors import BillingError, WorkbenchError
from workbench.sample import generate_sample_utility

# Hand calculation: customer charge $14.00 + 100 kWh x $0.198 = $19.80 + 200 kWh x $0.086 = $17.20
# + 6% tax on $51.00 = $3.06  ->  current charges $54.06 = 5406 cents.
# Previous balance $40.00 - payment $40.00 + adjustment -$5.00 + $54.06 = $49.06 due.
CHARGES = [
    {"description": "Customer charge", "quantity": 1, "unit": "month", "price": 14.0, "amount_cents": 1400},
    {"description": "Energy, winter on-peak", "quantity": 100, "unit": "kWh", "price": 0.198, "amount_cents": 1980},
    {"description": "Energy, winter off-peak", "quantity": 200, "unit": "kWh", "price": 0.086, "amount_cents": 1720},
    {"description": "Sales tax 6%", "quantity": 51.0, "unit": "$", "price": 0.06, "amount_cents": 306},
]


def make_doc(**changes) -> BillDocument:
    fields = dict(
        utility=SAMPLE_UTILITY, account_number="A1234567", customer_name="Grace Okafor",
        service_address="12 Oak St\nGreensboro, NC 27401", mailing_address="PO Box 9\nGreensboro, NC 27402",
        bill_id="B-2025-0001", bill_date=dt.date(2025, 2, 3), due_date=dt.date(2025, 2, 24),
        period_start=dt.date(2025, 1, 2), period_end=dt.date(2025, 2, 1), days=30, meter_number="M000777",
        multiplier=40.0, estimated=False, usage_by_period=[{"name": "Winter on-peak", "kwh": 100},
                                                           {"name": "Winter off-peak", "kwh": 200}],
        charges=CHARGES, previous_balance_cents=4000, payments_cents=4000, adjustments_cents=-500,
        current_charges_cents=5406, amount_due_cents=4906,
        usage_history=[{"month": f"{2024 + (m > 12)}-{(m - 1) % 12 + 1:02d}", "kwh": 250 + 10 * m}
                       for m in range(2, 15)],
        messages=["Thank you for your payment."])
    fields.update(changes)
    return BillDocument.model_validate(fields)


def pdf_text(path) -> tuple[str, int]:
    reader = PdfReader(str(path))
    return "\n".join(page.extract_text() for page in reader.pages), len(reader.pages)


def test_a_bill_whose_charges_do_not_add_up_is_refused():
    with pytest.raises(ValidationError, match="charges add up to 5406 cents but current charges are 5407"):
        make_doc(current_charges_cents=5407, amount_due_cents=4907)


def test_a_wrong_amount_due_is_refused():
    # 4000 - 4000 - 500 + 5406 = 4906, not 5406 (the adjustment forgotten)
    with pytest.raises(ValidationError, match="= 4906 cents, but the amount due is 5406"):
        make_doc(amount_due_cents=5406)


def test_money_is_integer_cents_and_finite():
    with pytest.raises(ValidationError):
        make_doc(amount_due_cents=49.06)
    with pytest.raises(ValidationError):
        make_doc(charges=[CHARGES[0] | {"quantity": float("nan")}] + CHARGES[1:])


def test_money_format():
    assert money(4906) == "$49.06" and money(-117) == "-$1.17" and money(123456789) == "$1,234,567.89"
    assert money(5) == "$0.05" and money(0) == "$0.00"


def test_customer_text_is_escaped():
    html = render_bill_html(make_doc(customer_name="<script>alert('x')</script>", messages=["<img src=x>"]))
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img src=x&gt;" in html


def test_html_is_self_contained():
    html = render_bill_html(make_doc())
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<(script|link|img|iframe)\b", html, re.I)
    assert not re.search(r"\b(src|href)\s*=|url\(|@import", html, re.I)
    assert html.count("<rect") == 13  # the 13-month chart is drawn inline


def test_pdf_renderer_fetches_nothing():
    # 192.0.2.1 is TEST-NET-1 (never routed): a fetch would hang until a connect timeout
    started = time.perf_counter()
    with pytest.raises(WorkbenchError, match="outside resource"):
        _document('<p>x</p><img src="http://192.0.2.1/logo.png">')
    with pytest.raises(WorkbenchError, match="outside resource"):
        _document('<link rel=stylesheet href="https://192.0.2.1/a.css"><p>x</p>')
    assert time.perf_counter() - started < 5


def test_pdf_reads_like_a_bill(tmp_path):
    path = render_bill_pdf(make_doc(), tmp_path / "bill.pdf")
    text, pages = pdf_text(path)
    assert pages == 1
    for needed in ("A1234567", "M000777", "Grace Okafor", "12 Oak St", "ACTUAL", "$49.06", "$54.06", "$40.00",
                   "-$5.00", "$19.80", "$17.20", "$3.06", "Feb 24, 2025", "Jan 2, 2025", "Feb 1, 2025",
                   "Winter on-peak", "Multiplier", "40"):
        assert needed in text, needed
    assert "ESTIMATED" not in text


def test_estimated_bill_says_so_prominently(tmp_path):
    text, _ = pdf_text(render_bill_pdf(make_doc(estimated=True, estimated_share=0.0333), tmp_path / "e.pdf"))
    assert "ESTIMATED BILL" in text and "3.3%" in text


def test_estimated_bill_with_a_tiny_share_never_says_zero_percent():
    # One estimated interval of a 32-day period: 1 / 3,072 = 0.03%, which "%.1f" printed as "0.0%" under
    # ESTIMATED BILL (a bill of the sample utility said "0.0% of this period's meter readings were estimated").
    html = render_bill_html(make_doc(estimated=True, estimated_share=1 / 3072))
    assert "0.0%" not in html and "Less than 0.1%" in html
    # and the other end: 3,071 of 3,072 estimated is not "100.0%"
    html = render_bill_html(make_doc(estimated=True, estimated_share=3071 / 3072))
    assert "100.0%" not in html and "More than 99.9%" in html
    html = render_bill_html(make_doc(estimated=True, estimated_share=1.0))
    assert "100.0%" in html


def test_usage_chart_title_of_one_month_is_singular():
    # a first bill has one month of history: "Your usage, last 1 months" read wrong on the sample's bills
    html = render_bill_html(make_doc(usage_history=[{"month": "2025-01", "kwh": 300}]))
    assert "last 1 months" not in html.lower() and "Your usage, last month" in html
    assert "Your usage, last 13 months" in render_bill_html(make_doc())


def test_credit_balance_says_no_payment_due():
    html = render_bill_html(make_doc(previous_balance_cents=0, payments_cents=6000, adjustments_cents=0,
                                     amount_due_cents=-594))  # 0 - 6000 + 5406 = -594
    assert "-$5.94" in html and "no payment is due" in html


@pytest.mark.slow
def test_run_documents_one_pdf_per_bill_and_a_print_file(tmp_path):
    docs = [make_doc(account_number=f"A00{i}", bill_id=f"B{i}") for i in range(3)]
    out = tmp_path / "docs"
    paths = write_run_documents(docs, out)
    assert [p.name for p in paths] == ["A000_B0.pdf", "A001_B1.pdf", "A002_B2.pdf", PRINT_FILE]
    for doc, path in zip(docs, paths, strict=False):
        text, pages = pdf_text(path)
        assert doc.account_number in text and pages == 1
    text, pages = pdf_text(paths[-1])
    assert pages == 3 and all(f"A00{i}" in text for i in range(3))
    # the same run again replaces its own output; a folder of someone else's files is refused
    assert write_run_documents(docs[:1], out)[0].exists() and not (out / "A001_B1.pdf").exists()
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep")
    with pytest.raises(WorkbenchError, match="did not write"):
        write_run_documents(docs, other)
    assert (other / "notes.txt").read_text() == "keep" and len(list(other.iterdir())) == 1


def test_two_bills_with_one_file_name_are_refused(tmp_path):
    with pytest.raises(WorkbenchError, match="bills 1 and 2"):
        write_run_documents([make_doc(), make_doc()], tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_file_names_cannot_leave_the_folder():
    assert bill_file_name(make_doc(account_number="../../etc", bill_id="x/y")) == "------etc_x-y.pdf"


def test_chart_scale_by_hand():
    assert (_nice_top(400), _nice_top(1000), _nice_top(1234), _nice_top(0)) == (500, 1000, 2000, 1.0)
    chart = usage_chart(make_doc(usage_history=[{"month": "2025-01", "kwh": 100},
                                                {"month": "2025-02", "kwh": 400}]).usage_history, "2025-02")
    # top gridline 500 kWh; the drawing area is base 100 - ceiling 14 = 86 px tall: 400 kWh -> 68.8 px
    assert [b["height"] for b in chart["bars"]] == [17.2, 68.8]
    assert [b["current"] for b in chart["bars"]] == [False, True]


# --- the builder from the cycle's tables (rows as bills.parquet / line_items.parquet hold them, in dollars)

BILL_ROW = {"meter": "M000043", "account": "A2457050", "customer_class": "RES", "cycle": 13, "rate_code": "RES-TOU",
            "period_start": dt.date(2025, 2, 19), "period_end": dt.date(2025, 3, 18), "days": 27,
            "delivered_kwh": 341.776, "received_kwh": 273.677, "billing_demand_kw": 3.496, "intervals": 2592,
            "missing_intervals": 0, "estimated_intervals": 96, "nem_program": "NEM2", "credit_earned": 1.17,
            "credit_applied": 1.17, "credit_carried": 0.0, "kwh_carried": 0.0, "true_up": False, "total": 38.69}
LINES = [(1, "Customer charge", "fixed", 1.0, "month", 14.0, 14.00),
         (2, "Energy, winter on-peak, block 1", "energy", 80.0, "kWh", 0.198, 15.84),
         (3, "Energy, winter on-peak, block 2", "energy", 7.336, "kWh", 0.198, 1.45),
         (4, "Power cost adjustment", "rider", 87.336, "kWh", 0.0035, 0.31),
         (5, "Sales tax 6%", "tax", 31.60, "$", 0.06, 1.90),
         (6, "Non-bypassable charges", "rider", 254.44, "kWh", 0.025, 6.36),
         (7, "Credits applied", "credit", 1.17, "$", -1.0, -1.17)]
# 14.00 + 15.84 + 1.45 + 0.31 + 1.90 + 6.36 - 1.17 = 38.69


def line_rows(meter="M000043"):
    return pd.DataFrame([{"meter": meter, "period_start": dt.date(2025, 2, 19), "line": n, "description": d,
                          "category": c, "quantity": q, "unit": u, "rate": r, "amount": a, "tariff_version": ""}
                         for n, d, c, q, u, r, a in LINES])


def test_document_from_cycle_rows():
    info = AccountInfo(customer_name="Mei Brown", service_address="3142 Lake Dr", multiplier=1)
    doc = document_from_cycle(pd.Series(BILL_ROW), line_rows(), info, [("2025-02", 537.1), ("2025-03", 341.8)],
                              previous_balance_cents=6319, payments_cents=6319)
    assert doc.current_charges_cents == 3869 and doc.amount_due_cents == 3869
    assert [c.amount_cents for c in doc.charges] == [1400, 1584, 145, 31, 190, 636, -117]
    assert [(p.name, p.kwh) for p in doc.usage_by_period] == [("Winter on-peak", 87.336)]  # blocks 1 + 2
    assert doc.estimated and doc.estimated_share == pytest.approx(96 / 2592)
    assert doc.nem_credits.credit_applied_cents == 117 and doc.nem_credits.program == "NEM2"
    assert doc.bill_id == "M000043-20250219" and doc.due_date == dt.date(2025, 4, 8)  # read date + 21 days
    assert doc.billing_demand_kw is None  # no demand charge on this rate: not printed


def test_builder_refuses_what_does_not_add_up():
    info = {"customer_name": "x", "service_address": "y"}
    with pytest.raises(ValidationError, match="charges add up to 3869 cents but current charges are 3870"):
        document_from_cycle(BILL_ROW | {"total": 38.70}, line_rows(), info)
    with pytest.raises(BillingError, match="belongs to meter M000044"):
        document_from_cycle(BILL_ROW, pd.concat([line_rows(), line_rows("M000044")]), info)
    bad = line_rows()
    bad.loc[0, "amount"] = 14.005
    with pytest.raises(BillingError, match="line 1: amount 14.005 is not a whole number of cents"):
        document_from_cycle(BILL_ROW, bad, info)


def test_usage_by_period_flat_and_tiered():
    rows = [{"description": "Energy, winter, block 1", "category": "energy", "unit": "kWh", "quantity": 640},
            {"description": "Energy, winter, block 2", "category": "energy", "unit": "kWh", "quantity": 376.161},
            {"description": "Energy adder", "category": "energy", "unit": "kWh", "quantity": 1016.161}]
    assert [(p.name, p.kwh) for p in usage_by_period(rows)] == [("Winter", 1016.161)]
    flat = [{"description": "Energy", "category": "energy", "unit": "kWh", "quantity": 12.5}]
    assert [(p.name, p.kwh) for p in usage_by_period(flat)] == [("All hours", 12.5)]


@pytest.mark.slow
def test_real_sample_utility_bills(tmp_path):
    """50 meters, two months of the sample utility, through the cycle, to PDFs a customer can read."""
    cube = tmp_path / "cube.zarr"
    generate_sample_utility(cube, n_meters=50, year=2025, seed=7, meter_chunk=50, progress=False, months=(1, 2))
    run_cycle(cube, "tariffs", tmp_path / "cycle", progress=False)
    bills = pd.read_parquet(tmp_path / "cycle" / "bills.parquet")
    items = pd.read_parquet(tmp_path / "cycle" / "line_items.parquet")
    docs = documents_from_cycle_output(tmp_path / "cycle")
    assert len(docs) == int(bills["bill_ready"].sum()) > 0
    by_rate = {}
    for doc in docs:  # one bill of each rate, plus a net-metered one when the sample has it
        by_rate.setdefault("NEM" if doc.nem_credits else doc.rate_code, doc)
    chosen = list(by_rate.values())
    paths = write_run_documents(chosen, tmp_path / "documents")
    for doc, path in zip(chosen, paths, strict=False):
        text, pages = pdf_text(path)
        assert pages == 1, path
        row = bills[(bills["meter"] == doc.meter_number)
                    & (pd.to_datetime(bills["period_start"]).dt.date == doc.period_start)].iloc[0]
        # the amounts as the cycle wrote them (dollars), printed the way a person writes money
        assert f"${row['total']:,.2f}" in text and row["account"] in text and row["meter"] in text
        for amount in items[(items["meter"] == row["meter"]) & (items["period_start"] == row["period_start"])]["amount"]:
            assert (f"-${-amount:,.2f}" if amount < 0 else f"${amount:,.2f}") in text
        assert "ACTUAL" in text or "ESTIMATED BILL" in text
    assert pdf_text(paths[-1])[1] == len(chosen)


def test_dollar_lines_read_as_money_and_percent():
    tax = Charge(description="Sales tax 6%", quantity=31.6, unit="$", price=0.06, amount_cents=190)
    credit = Charge(description="Credits applied", quantity=1.17, unit="$", price=-1.0, amount_cents=-117)
    energy = Charge(description="Energy", quantity=87.336, unit="kWh", price=0.0035, amount_cents=31)
    assert charge_cells(tax) == {"quantity": "$31.60", "unit": "", "price": "6%"}
    assert charge_cells(credit) == {"quantity": "", "unit": "", "price": ""}
    assert charge_cells(energy) == {"quantity": "87.336", "unit": "kWh", "price": "0.0035"}


def test_usage_history_of_a_meter_with_exactly_two_bills():
    # pandas took a list of two key arrays for ONE key when the frame had exactly two rows (ValueError)
    from workbench.documents.from_cycle import monthly_usage, usage_history
    bills = pd.DataFrame({"meter": ["M1", "M1"], "period_end": ["2025-01-31", "2025-02-28"],
                          "delivered_kwh": [310.5, 280.25]})
    assert monthly_usage(bills) == {"M1": {"2025-01": 310.5, "2025-02": 280.25}}
    history = usage_history(bills, "M1", dt.date(2025, 2, 28))
    assert [(m.month, m.kwh) for m in history] == [("2025-01", 310.5), ("2025-02", 280.25)]
    two_meters = pd.DataFrame({"meter": ["M1", "M2"], "period_end": ["2025-01-31", "2025-01-31"],
                               "delivered_kwh": [10.0, 20.0]})
    assert monthly_usage(two_meters) == {"M1": {"2025-01": 10.0}, "M2": {"2025-01": 20.0}}
