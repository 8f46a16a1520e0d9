"""BAI2 bank and lockbox files -> payments, through the kept ``bai2`` parser (see docs/payment-files.md).

The ``bai2`` package reads the records (continuation records 88, availability fields, the trailing-``/``
quirks of real banks); this module checks every control total itself so that a total that does not tie is
refused naming its line, and decides what each transaction detail (16 record) is:

- a customer payment (:data:`PAYMENT_CODES`) or a returned item (:data:`RETURN_CODES`, e.g. 555 NSF): the
  account is the 16 record's customer reference number, the amount its amount [cents, no decimal point],
  the payment date the group's as-of date, the item id the bank reference (else one made from the group
  and the item's place in the account);
- anything else (a bank fee, a transfer...): ignored, with the type code and its name as the reason.
"""

from __future__ import annotations

import datetime as dt
import re

from bai2 import bai2 as bai2_io
from bai2.constants import GroupStatus, RecordCode, TypeCodeTransaction
from bai2.exceptions import IntegrityException, NotSupportedYetException, ParsingException

from workbench.ledger.payment_records import Control, Outcomes, PaymentFileError

#: detail type codes of one payer's remittance (BAI2 2005 code list)
PAYMENT_CODES = {
    "108": "Credit (Any Type)", "115": "Lockbox Deposit", "116": "Item in Lockbox Deposit",
    "142": "ACH Credit Received", "143": "Item in ACH Deposit", "147": "Individual Bank Card Deposit",
    "155": "Preauthorized Draft Credit", "156": "Item in PAC Deposit", "158": "Real Time Payment Credit",
    "165": "Preauthorized ACH Credit", "195": "Incoming Money Transfer",
}
#: detail type codes of a customer's payment coming back unpaid (NSF, stopped, account closed)
RETURN_CODES = {"555": "Deposited Item Returned", "557": "Individual ACH Return Item", "566": "Return Item"}
#: item codes: when an account section itemizes its lockbox deposits, the 115 deposit totals are not payments
ITEM_CODES = {"116", "143", "156"}
_RECORD_CODES = {c.value for c in RecordCode}


def read_bai2(path, data: bytes, outcomes: Outcomes) -> Control:
    """Read a BAI2 file's bytes into ``outcomes``; returns the checked controls. Refuses a file that cannot be
    read, or whose totals do not tie, with :class:`PaymentFileError` naming the line."""
    text = _decode(path, data)
    numbered = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines()) if line.strip()]
    for line_no, line in numbered:
        if line[:2] not in _RECORD_CODES or line[2:3] != ",":
            raise PaymentFileError(f"{path}: line {line_no}: {line[:20]!r} is not a BAI2 record (a record starts "
                                   "with 01, 02, 03, 16, 49, 88, 98 or 99 and a comma)")
    if numbered[0][1][:2] != "01":
        raise PaymentFileError(f"{path}: line {numbered[0][0]}: a BAI2 file starts with its 01 file header")
    try:
        parsed = bai2_io.parse_from_lines([line for _, line in numbered], check_integrity=False)
    except NotSupportedYetException as exc:
        raise PaymentFileError(f"{path}: {_where(exc, numbered)}{exc} (BAI2 version 2 with the 2005 type codes "
                               "is read)") from None
    except (ParsingException, IntegrityException, ValueError, IndexError, KeyError, TypeError,
            StopIteration, RuntimeError) as exc:
        raise PaymentFileError(f"{path}: not a readable BAI2 file: {_where(exc, numbered)}{exc or type(exc).__name__}"
                               ) from None
    return _walk(path, parsed, numbered, outcomes)


def _decode(path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # a bank's free text in Latin-1; the codes and amounts are ASCII either way


def _where(exc, numbered) -> str:
    """'line N: ' for an error whose message quotes a token found in one record (a type code...), else ''."""
    quoted = re.findall(r"'([^']+)'", str(exc))
    for line_no, line in numbered:
        if quoted and f",{quoted[0]}," in f",{line[3:]},":
            return f"line {line_no}: "
    return ""


class _Lines:
    """Hands out the physical line numbers of the records in file order (blank lines skipped)."""

    def __init__(self, numbered):
        self.numbered = numbered
        self.used = 0

    def take(self, model) -> tuple[int, str]:
        rows = len(model.rows)
        first = self.numbered[self.used]
        self.used += rows
        return first[0], " | ".join(text for _, text in self.numbered[self.used - rows:self.used])

    def last(self) -> int:
        return self.numbered[self.used - 1][0]


def _tie(path, line, what, stated, found, unit=""):
    if stated is None or stated != found:
        raise PaymentFileError(f"{path}: line {line} ({what}): control {unit}{stated}, but the records add up to "
                               f"{unit}{found}; the file is refused, nothing was posted (ask the bank to resend it)")


def _walk(path, parsed, numbered, outcomes: Outcomes) -> Control:
    lines = _Lines(numbered)
    lines.take(parsed.header)
    file_total = summary_total = details = detail_cents = 0
    for group in parsed.children:
        group_line, _ = lines.take(group.header)
        status = group.header.group_status
        if status in (GroupStatus.deletion, GroupStatus.correction):
            raise PaymentFileError(f"{path}: line {group_line}: group status {status.value} ({status.name}): a "
                                   "deletion or correction of an earlier report cannot be posted automatically; "
                                   "reverse or post its items by hand")
        bank = group.header.originator_id or parsed.header.sender_id or ""
        as_of = group.header.as_of_date
        day = as_of.strftime("%Y%m%d") if as_of else "undated"
        group_total = 0
        for account in group.children:
            header_line, _ = lines.take(account.header)
            currency = account.header.currency or group.header.currency or "USD"
            summary = sum(s.amount or 0 for s in account.header.summary_items)
            codes = {d.type_code.code for d in account.children}
            itemized = bool(codes & ITEM_CODES)
            deposits = items = 0
            account_total = summary
            for n, detail in enumerate(account.children, start=1):
                line, raw = lines.take(detail)
                amount = detail.amount or 0
                account_total += amount
                details += 1
                detail_cents += amount
                code = detail.type_code.code
                if itemized and code == "115":
                    deposits += amount
                    outcomes.ignore(line, "type 115 Lockbox Deposit: the deposit total of items listed one by one "
                                    "in the same account", raw, amount_cents=amount)
                    continue
                if code in ITEM_CODES:
                    items += amount
                _detail(outcomes, line, raw, detail, amount, code, bank=bank, as_of=as_of, currency=currency,
                        status=status, fallback_id=f"{bank}/{day}/{account.header.customer_account_number}/{n}")
            trailer_line, _ = lines.take(account.trailer)
            _tie(path, trailer_line, f"49 account trailer of account {account.header.customer_account_number}",
                 account.trailer.account_control_total, account_total)
            records = len(account.header.rows) + sum(len(d.rows) for d in account.children) + len(account.trailer.rows)
            _tie(path, trailer_line, "49 account trailer, record count", account.trailer.number_of_records, records)
            if itemized and deposits and deposits != items:
                raise PaymentFileError(f"{path}: line {header_line}: account {account.header.customer_account_number}"
                                       f": lockbox deposits (115) total {deposits} cents but its items (116) total "
                                       f"{items}; which is the payments cannot be told, the file is refused")
            summary_total += summary
            group_total += account_total
        trailer_line, _ = lines.take(group.trailer)
        _tie(path, trailer_line, "98 group trailer", group.trailer.group_control_total, group_total)
        _tie(path, trailer_line, "98 group trailer, number of accounts", group.trailer.number_of_accounts,
             len(group.children))
        records = len(group.header.rows) + len(group.trailer.rows) + sum(
            len(a.header.rows) + sum(len(d.rows) for d in a.children) + len(a.trailer.rows) for a in group.children)
        _tie(path, trailer_line, "98 group trailer, record count", group.trailer.number_of_records, records)
        file_total += group_total
    trailer_line, _ = lines.take(parsed.trailer)
    _tie(path, trailer_line, "99 file trailer", parsed.trailer.file_control_total, file_total)
    _tie(path, trailer_line, "99 file trailer, number of groups", parsed.trailer.number_of_groups, len(parsed.children))
    _tie(path, trailer_line, "99 file trailer, record count", parsed.trailer.number_of_records, lines.used)
    if lines.used < len(numbered):
        raise PaymentFileError(f"{path}: line {numbered[lines.used][0]}: records after the 99 file trailer; "
                               "a BAI2 file ends with its trailer (two files joined into one?)")
    return Control(count=parsed.trailer.number_of_records, amount_cents=parsed.trailer.file_control_total,
                   detail_count=details, detail_amount_cents=parsed.trailer.file_control_total - summary_total,
                   checked=True, note="BAI2 file, group and account trailers checked")


def _detail(outcomes: Outcomes, line, raw, detail, amount, code, *, bank, as_of, currency, status, fallback_id):
    name = detail.type_code.description
    reference = (detail.customer_reference or "").strip()
    item_id = (detail.bank_reference or "").strip() or fallback_id
    if code in PAYMENT_CODES:
        kind = "payment"
    elif code in RETURN_CODES:
        kind = "return"
    else:
        side = "debit" if detail.type_code.transaction == TypeCodeTransaction.debit else "credit"
        return outcomes.ignore(line, f"type {code} {name} ({side}): not a customer payment or returned item",
                               raw, item_id=item_id, account=reference, amount_cents=amount)
    common = {"item_id": item_id, "account": reference, "amount_cents": amount}
    if status == GroupStatus.test_only:
        return outcomes.ignore(line, "group status 4 (test only): not real money", raw, **common)
    if currency != "USD":
        return outcomes.reject(line, f"currency {currency}: the ledger is kept in USD", raw, **common)
    if not isinstance(as_of, dt.date):
        return outcomes.reject(line, "the group (02) gives no as-of date", raw, **common)
    outcomes.offer(line, raw, item_id=item_id, bank=bank, account=reference, amount_cents=amount, paid_on=as_of,
                   kind=kind, reference=(detail.text or "").strip(), blank_account_ok=kind == "payment")
