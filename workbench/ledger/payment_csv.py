"""The payment CSV layout (docs/payment-files.md) -> payments: one row per item, amounts in dollars.

Columns: ``item_id, account, amount, paid_on, kind`` required, ``reference``, ``check`` and
``original_item_id`` (a return's payment) optional, in any
order; an unknown column refuses the file (it catches a typo such as ``ammount``). A row that cannot be used
is rejected with its reason, never dropped: an amount that is not dollars with at most two decimals
(``12.3.4``, ``1e9``, ``12.345``, ``$5``), zero or negative, a date that is not ``YYYY-MM-DD`` or is after
today, an unknown kind, an empty account or item id, an item id seen before in the file, a row with more or
fewer fields than the header.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

from workbench.ledger.payment_records import KINDS, Control, Outcomes, PaymentFileError

REQUIRED = ("item_id", "account", "amount", "paid_on", "kind")
OPTIONAL = ("reference", "check", "original_item_id")
_DOLLARS = re.compile(r"(\d{1,12})(?:\.(\d{1,2}))?")


def is_payment_csv(text: str) -> bool:
    """Whether ``text``'s first line looks like this layout's header (it names item_id)."""
    return "item_id" in text.lstrip("\ufeff").split("\n", 1)[0].lower()


def dollars_to_cents(text: str) -> tuple[int | None, str]:
    """(cents, "") for an amount in dollars (digits, optionally '.' and one or two digits), else (None, why);
    a well-formed negative amount gives (its negative cents, why), so the rejected row keeps its amount."""
    value = text.strip()
    match = _DOLLARS.fullmatch(value)
    if match:
        whole, frac = match.groups()
        return int(whole) * 100 + int((frac or "0").ljust(2, "0")), ""
    negative = _DOLLARS.fullmatch(value[1:].strip()) if value.startswith("-") else None
    if negative:
        cents, _ = dollars_to_cents(value[1:])
        return -cents, f"negative amount {value!r}: a payment is more than $0.00 (a returned item has kind return)"
    if re.fullmatch(r"\d+\.\d{3,}", value):
        return None, f"amount {value!r} has more than two decimals: dollars and cents only"
    if not value:
        return None, "no amount"
    return None, f"amount {value!r} is not dollars and cents like 125.40"


def read_payment_csv(path, data: bytes, outcomes: Outcomes, *, expect_count=None, expect_amount_cents=None) -> Control:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PaymentFileError(f"{path}: byte {exc.start}: not UTF-8 text; save the payment CSV as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise PaymentFileError(f"{path}: empty file; a payment CSV starts with the header "
                               f"{','.join(REQUIRED)}") from None
    unknown = [h for h in header if h not in REQUIRED + OPTIONAL]
    missing = [h for h in REQUIRED if h not in header]
    if unknown or missing or len(set(header)) != len(header):
        what = (f"unknown column(s) {', '.join(unknown)}" if unknown else f"missing column(s) {', '.join(missing)}"
                if missing else "a column named twice")
        raise PaymentFileError(f"{path}: line 1 (header): {what}; expected {', '.join(REQUIRED)} and optionally "
                               f"{', '.join(OPTIONAL)} (see docs/payment-files.md)")
    rows = readable = 0
    try:
        for fields in reader:
            line = reader.line_num
            if not any(f.strip() for f in fields):
                continue  # a blank line is no record
            rows += 1
            raw = ",".join(fields)
            if len(fields) != len(header):
                outcomes.reject(line, f"{len(fields)} fields, the header has {len(header)}", raw)
                continue
            row = {name: value.strip() for name, value in zip(header, fields, strict=True)}
            cents, why = dollars_to_cents(row["amount"])
            common = {"item_id": row["item_id"], "account": row["account"], "amount_cents": cents}
            if cents is not None:
                readable += cents
            if why or cents is None:
                outcomes.reject(line, why, raw, **common)
                continue
            kind = row["kind"].lower()
            if kind not in KINDS:
                outcomes.reject(line, f"kind {row['kind']!r} is not payment or return", raw, **common)
                continue
            try:
                paid_on = dt.date.fromisoformat(row["paid_on"])
            except ValueError:
                outcomes.reject(line, f"paid_on {row['paid_on']!r} is not a date like 2025-11-03", raw, **common)
                continue
            reference = " ".join(x for x in (row.get("reference", ""), row.get("check", "")) if x)
            outcomes.offer(line, raw, item_id=row["item_id"], bank="", account=row["account"], amount_cents=cents,
                           paid_on=paid_on, kind=kind, reference=reference,
                           original_item_id=row.get("original_item_id", "") if kind == "return" else "")
    except csv.Error as exc:
        raise PaymentFileError(f"{path}: line {reader.line_num}: {exc}") from None
    checked = expect_count is not None or expect_amount_cents is not None
    if expect_count is not None and expect_count != rows:
        raise PaymentFileError(f"{path}: {rows} data rows, but the remittance advice says {expect_count}; "
                               "nothing was posted")
    if expect_amount_cents is not None and expect_amount_cents != readable:
        raise PaymentFileError(f"{path}: the rows add up to {readable} cents, but the remittance advice says "
                               f"{expect_amount_cents}; nothing was posted")
    return Control(count=rows, amount_cents=readable, detail_count=rows, detail_amount_cents=readable,
                   checked=checked, note="CSV: no trailer; the rows read" + (", checked against the expected "
                                                                             "totals" if checked else ""))
