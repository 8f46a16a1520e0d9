"""Past-due notices and payment arrangements (``ledger notices``, ``ledger arrange``) on a hand-built ledger, on
SQLite and on a real PostgreSQL server. Every expected amount and date is worked by hand in the comments."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pypdf
import pytest
from sqlalchemy import func, select

from tests._postgres import fresh_pg_url, pg_server  # noqa: F401  (fixtures)
from tests.hostile._cli import assert_ok, run_in_process
from tests.test_ledger import bills_of, pays
from workbench.documents.notice import NoticeDocument, render_notice_html
from workbench.ledger.accounts import load_accounts, read_accounts_csv
from workbench.ledger.arrangements import add_months, split_cents
from workbench.ledger.db import init_ledger, new_session
from workbench.ledger.models import CollectionNotice
from workbench.ledger.payments import apply_payments
from workbench.ledger.posting import post_bills

ACCOUNTS = """account_number,customer_name,service_address,mailing_address,meter_id,rate_code,customer_class,cycle,opening_balance,opening_date,deposit
C1,Ann Able,1 Elm St,,M1,RES,RES,1,,2025-01-01,
C2,Bob Best,2 Elm St,,M2,RES,RES,1,,2025-01-01,
C3,Cat Cole,3 Oak Ave,,M3,RES,RES,1,,2025-01-01,
C4,Dan Dorr,4 Oak Ave,,M4,RES,RES,1,,2025-01-01,
C5,Eve East,5 Pine Rd,,M5,RES,RES,1,,2025-01-01,
"""
RULES = """reminder: {past_due_days: 15}
final: {past_due_days: 45, min_past_due: 50.00, notice_days: 10}
protections:
  medical_certificates: {C3: 2025-12-31}
  moratorium: {months: %s, dates: %s}
"""
# January bills (bill date 2025-01-31) are due 21 days later, 2025-02-21; on 2025-04-07 they are
# 7 (Feb 22-28) + 31 (March) + 7 = 45 days past due. The February bill of C5 is due 2025-03-21: 17 days.
AS_OF = dt.date(2025, 4, 7)
DISCONNECT = dt.date(2025, 4, 17)  # 2025-04-07 + 10 notice days


@pytest.fixture(params=["sqlite", "postgresql"])
def wb(request, tmp_path, capsys):
    url = (f"sqlite:///{tmp_path / 'ledger.sqlite'}" if request.param == "sqlite"
           else request.getfixturevalue("fresh_pg_url"))
    (tmp_path / "accounts.csv").write_text(ACCOUNTS)
    engine, _, _ = init_ledger(url)
    with new_session(engine) as session:
        load_accounts(session, read_accounts_csv(tmp_path / "accounts.csv"))
        post_bills(session, None, *bills_of(dt.date(2025, 1, 1), dt.date(2025, 1, 31), [
            ("C1", "M1", "RES", "RES", [("Energy", 100.00)]),    # final: 45 days, $100.00 >= $50
            ("C2", "M2", "RES", "RES", [("Energy", 40.00)]),     # reminder: 45 days but $40.00 < $50
            ("C3", "M3", "RES", "RES", [("Energy", 120.00)]),    # medical certificate: reminder, final withheld
            ("C4", "M4", "RES", "RES", [("Energy", 80.00)])]))   # paid in full: not past due
        post_bills(session, None, *bills_of(dt.date(2025, 2, 1), dt.date(2025, 2, 28), [
            ("C5", "M5", "RES", "RES", [("Energy", 90.00)])]))   # 17 days past due: reminder
        apply_payments(session, pays(("p4", "C4", 8000, dt.date(2025, 2, 20))))

    def rules(months="[12, 1, 2]", dates="[]"):
        path = tmp_path / f"rules-{len(list(tmp_path.glob('rules-*')))}.yaml"
        path.write_text(RULES % (months, dates))
        return path

    def run(*args, ok=True):
        out = run_in_process([*args, "--db", url], capsys)
        if ok:
            assert_ok(out)
        return out

    run.engine, run.rules, run.tmp = engine, rules, tmp_path
    yield run
    engine.dispose()


def _listing(out_dir) -> pd.DataFrame:
    return pd.read_csv(out_dir / "notices.csv", dtype=str, keep_default_na=False).set_index("account")


def _notices(engine) -> list[tuple]:
    with new_session(engine) as session:
        return sorted(session.execute(select(CollectionNotice.kind, CollectionNotice.past_due_cents,
                                             CollectionNotice.disconnect_on)).all())


def test_who_gets_which_notice_and_no_duplicate_on_a_rerun(wb):
    out = wb.tmp / "n1"
    wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", out)
    table = _listing(out)
    assert sorted(table.index) == ["C1", "C2", "C3", "C5"]  # every past-due account, C4 paid
    assert table.loc["C1", "notice"] == "final" and table.loc["C1", "disconnect_on"] == str(DISCONNECT)
    assert table.loc["C1", "past_due"] == "100.00" and table.loc["C1", "days_past_due"] == "45"
    assert table.loc["C2", "notice"] == "reminder" and table.loc["C2", "past_due"] == "40.00"
    assert table.loc["C3", "notice"] == "reminder"
    assert table.loc["C3", "withheld"] == "medical certificate valid through 2025-12-31"
    assert table.loc["C5", "notice"] == "reminder" and table.loc["C5", "days_past_due"] == "17"
    assert _notices(wb.engine) == [("final", 10000, DISCONNECT), ("reminder", 4000, None),
                                   ("reminder", 9000, None), ("reminder", 12000, None)]
    # HTML for every notice, PDFs (default: every notice) with the account and the amount
    assert len(list(out.glob("*.html"))) == 4
    [final_pdf] = out.glob("final-C1-*.pdf")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(final_pdf).pages)
    assert "C1" in text and "$100.00" in text and "Apr 17, 2025" in text

    # the same day again, and a week later: nothing issued twice for the same past-due bill
    wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "n2")
    later = wb("ledger", "notices", "--as-of", AS_OF + dt.timedelta(days=7), "--rules", wb.rules(),
               "--out", wb.tmp / "n3")
    assert "issued 0 final (disconnect) and 0 reminder" in later.stdout
    assert len(_notices(wb.engine)) == 4
    again = _listing(wb.tmp / "n3")
    assert again.loc["C1", "note"].startswith("final notice already sent")
    # C2 is now 52 days past due but still under $50: its reminder was sent, nothing new
    assert again.loc["C2", "note"].startswith("reminder already sent")


def test_notice_ids_in_the_list_are_whole_numbers_when_some_rows_have_none(wb):
    # 2025-03-18: the January bills are 25 days past due: C1, C2, C3 get reminders (C5's bill is not yet due).
    # On 2025-04-07 C1 gets its final notice and C5 a reminder; C2's and C3's reminders were sent: no notice id.
    # notices.csv wrote the new ids as 5.0 and 6.0 (a float column once a row had none): not the ledger's ids.
    wb("ledger", "notices", "--as-of", dt.date(2025, 3, 18), "--rules", wb.rules(), "--out", wb.tmp / "m1")
    out = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "m2")
    table = _listing(wb.tmp / "m2")
    with new_session(wb.engine) as session:
        ids = dict(session.execute(select(CollectionNotice.kind, CollectionNotice.id)
                                   .where(CollectionNotice.notice_date == AS_OF)).all())
    assert table.loc["C1", "notice"] == "final" and table.loc["C1", "notice_id"] == str(ids["final"])
    assert table.loc["C5", "notice"] == "reminder" and table.loc["C5", "notice_id"] == str(ids["reminder"])
    assert table.loc["C2", "notice_id"] == "" and table.loc["C3", "notice_id"] == ""
    assert ".0 " not in out.stdout and "NaN" not in out.stdout


def test_a_medical_certificate_for_no_account_of_the_ledger_is_warned(wb):
    # "C03" for C3: the certificate protected no one and C3 got a final notice, with nothing said
    rules = wb.tmp / "typo.yaml"
    rules.write_text((RULES % ("[]", "[]")).replace("C3: 2025-12-31", "C03: 2025-12-31"))
    out = wb("ledger", "notices", "--as-of", AS_OF, "--rules", rules, "--out", wb.tmp / "typo", "--dry-run")
    assert "medical_certificates names 1 account(s) not in the ledger (C03): they protect no one" in out.stderr
    assert "not in the ledger" not in wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out",
                                         wb.tmp / "fine", "--dry-run").stderr


def test_dry_run_records_and_writes_nothing(wb):
    out = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "dry", "--dry-run")
    assert "would issue 1 final (disconnect) and 3 reminder" in out.stdout
    assert _notices(wb.engine) == [] and not (wb.tmp / "dry").exists()
    # the ids the rolled-back run took are no notices' ids: none printed; an empty date is blank, not "None"
    header = out.stdout.splitlines()[1]
    assert "disconnect_on" in header and "notice_id" not in header
    assert "None" not in out.stdout and "<NA>" not in out.stdout and "NaN" not in out.stdout


def test_moratorium_withholds_the_final_notice(wb):
    """The disconnection date 2025-04-17 falls in April, a moratorium month here; and on a listed date."""
    for months, dates, reason in (("[4]", "[]", "falls in a moratorium month (April)"),
                                  ("[]", "[2025-04-17]", "is a moratorium date")):
        out = wb.tmp / f"m{months}{len(dates)}"
        said = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(months, dates), "--out", out, "--dry-run")
        assert f"disconnection date 2025-04-17 {reason}" in said.stdout
    # a real run with the April moratorium: C1 gets a reminder, its final is withheld with the reason
    wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules("[4]"), "--out", wb.tmp / "m")
    table = _listing(wb.tmp / "m")
    assert table.loc["C1", "notice"] == "reminder"
    assert table.loc["C1", "withheld"] == "disconnection date 2025-04-17 falls in a moratorium month (April)"
    wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules("[]", "[2025-04-17]"), "--out", wb.tmp / "d")
    assert _listing(wb.tmp / "d").loc["C1", "note"] == "reminder already sent for this past-due charge"
    assert _listing(wb.tmp / "d").loc["C1", "withheld"] == "disconnection date 2025-04-17 is a moratorium date"


def test_installments_add_up_by_largest_remainder():
    assert split_cents(10000, 3) == [3334, 3333, 3333]
    assert split_cents(1000, 7) == [143] * 6 + [142]  # 1000 = 7 x 142 + 6
    assert split_cents(2, 5) == [1, 1, 0, 0, 0]
    assert add_months(dt.date(2025, 1, 31), 1) == dt.date(2025, 2, 28)
    assert add_months(dt.date(2025, 11, 30), 3) == dt.date(2026, 2, 28)


def test_arrangement_protects_until_an_installment_is_missed(wb):
    # C1's $100.00 past due on 2025-04-07, in 3 installments due 04-10, 05-10, 06-10: 33.34, 33.33, 33.33
    made = wb("ledger", "arrange", "--account", "C1", "--installments", "3", "--start", "2025-04-10",
              "--who", "jdoe", "--why", "hardship, agreed by phone", "--on", AS_OF)
    assert "past-due balance 100.00" in made.stdout
    assert "due 2025-04-10  33.34" in made.stdout and "due 2025-06-10  33.33" in made.stdout
    wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "a1")
    row = _listing(wb.tmp / "a1").loc["C1"]
    assert row["notice"] == "" and row["note"].startswith("payment arrangement 1 in good standing")
    # pays the first installment (33.34) on 04-09; on 05-12 the second (due 05-10) is missed:
    # past due 66.66 > not-yet-due 33.33 -> broken, and C1 gets its final notice
    with new_session(wb.engine) as session:
        apply_payments(session, pays(("q1", "C1", 3334, dt.date(2025, 4, 9))))
    listed = wb("ledger", "arrange", "list", "--as-of", "2025-04-20")
    assert "good standing" in listed.stdout
    listed = wb("ledger", "arrange", "list", "--as-of", "2025-05-12")
    assert "broken (behind 33.33)" in listed.stdout
    wb("ledger", "notices", "--as-of", "2025-05-12", "--rules", wb.rules(), "--out", wb.tmp / "a2")
    row = _listing(wb.tmp / "a2").loc["C1"]
    assert row["notice"] == "final" and row["past_due"] == "66.66" and row["disconnect_on"] == "2025-05-22"


def test_rerun_and_arrangement_on_the_ledger_counts(wb):
    """A second arrangement while the first is in good standing is refused; nothing is written."""
    wb("ledger", "arrange", "--account", "C2", "--installments", "2", "--start", "2025-04-10", "--who", "a",
       "--why", "b", "--on", AS_OF)
    out = wb("ledger", "arrange", "--account", "C2", "--installments", "4", "--start", "2025-04-10", "--who", "a",
             "--why", "b", "--on", AS_OF, ok=False)
    assert out.status == 2 and "in good standing" in out.stderr
    with new_session(wb.engine) as session:
        assert session.scalar(select(func.count()).select_from(CollectionNotice)) == 0


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_the_final_notice_states_the_reconnection_fee(wb):
    # with the utility's fee (35.00) and when it is due (20 days after reconnection) set, C1's final notice states
    # both; the reminders (C2, C3, C5) say nothing of reconnection
    wb("ledger", "settings", "--reconnect-fee", "3500", "--fee-due-days", "20", "--who", "ana")
    out = wb.tmp / "n1"
    said = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", out, "--pdfs", "0")
    assert "reconnection fee" not in said.stderr  # set: no warning
    [final] = out.glob("final-C1-*.html")
    assert ("If your service is disconnected, a reconnection fee of $35.00 is charged when it is reconnected, due "
            "20 days after reconnection (with your next bill), in addition to the past-due amount.") in _text(
                final.read_text())
    for reminder in out.glob("reminder-*.html"):
        assert "reconnect" not in reminder.read_text().lower()


def test_final_notices_with_no_reconnection_fee_set_are_warned_of(wb):
    # no fee set: C1's final notice states none, and the run says so in one line on stderr (dry run and real)
    dry = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "d", "--dry-run")
    said = [line for line in dry.stderr.splitlines() if "reconnection fee" in line]
    assert said == ["warning: 1 final notice(s) would state no reconnection fee: this ledger has none set; set the "
                    "utility's fee with `workbench ledger settings --reconnect-fee CENTS --who NAME` (0: no charge, "
                    "and the notice says so) before issuing final notices"]
    out = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "n", "--pdfs", "0")
    assert "warning: 1 final notice(s) state no reconnection fee" in out.stderr
    # a fee of 0 is a setting (the notice says there is no charge): no warning; nor when no final notice is issued
    wb("ledger", "settings", "--reconnect-fee", "0", "--who", "ana")
    quiet = wb("ledger", "notices", "--as-of", AS_OF, "--rules", wb.rules(), "--out", wb.tmp / "z", "--dry-run")
    assert "reconnection fee" not in quiet.stderr


def test_the_final_notice_fee_due_at_reconnection_or_none_set():
    doc = NoticeDocument("final", 7, "C1", "Ann Able", "", "1 Elm St", AS_OF, 10000, 45, DISCONNECT,
                         reconnect_fee_cents=3500, reconnect_fee_due_days=0)
    assert ("a reconnection fee of $35.00 is charged when it is reconnected, and is due on the day of "
            "reconnection, in addition") in _text(render_notice_html(doc))
    doc.reconnect_fee_due_days = None  # the fee set, when it is due not set: the fee alone
    assert "charged when it is reconnected, in addition to the past-due amount." in _text(render_notice_html(doc))
    doc.reconnect_fee_cents = 0
    assert "There is no charge for reconnecting your service." in _text(render_notice_html(doc))
    doc.reconnect_fee_cents = None  # the ledger has no fee set: nothing is stated (not a made-up amount)
    assert "reconnect" not in render_notice_html(doc).lower()
