"""Bills as text, the way a rate analyst reads them at a terminal."""

from __future__ import annotations


def bills_as_text(tariff, bills, register: bool = False) -> str:
    """``register``: the bills are of monthly register reads (no interval data: no peak demand is shown)."""
    lines = [f"Tariff {tariff.code}: {tariff.name}"]
    if register:
        lines.append("Monthly register reads: each bill period is one reading; no interval data, no peak demand")
    estimated = [b for b in bills if b.estimated_intervals]
    if estimated:
        lines.append(f"*** ESTIMATED: {len(estimated)} of {len(bills)} bills include estimated intervals "
                     f"({sum(b.estimated_intervals for b in estimated):,} in all); not every kWh was read ***")
    grand = 0.0
    for bill in bills:
        flag = " (partial period)" if bill.partial else ""
        lines.append("")
        lines.append(f"Bill period {bill.start} to {bill.end} (end exclusive), {bill.days} days{flag}")
        peak = "" if register else f", peak demand {bill.peak_kw:,.3f} kW"
        lines.append(f"  delivered {bill.delivered_kwh:,.3f} kWh{peak}"
                     + (f", received {bill.received_kwh:,.3f} kWh" if bill.received_kwh else ""))
        if bill.estimated_intervals or bill.missing_intervals:
            lines.append(f"  *** ESTIMATED BILL: {bill.estimated_intervals} estimated, {bill.missing_intervals} missing "
                         "intervals ***")
        for li in bill.line_items:
            lines.append(f"  {li.description[:46]:<46} {li.quantity:>14,.3f} {li.unit:<6} x {li.rate:>10.5f} "
                         f"= {li.amount:>11,.2f}")
        lines.append(f"  {'Total':<46} {'':>14} {'':<6}   {'':>10}   {bill.total:>11,.2f}")
        lines.extend(_bank_lines(bill))
        if bill.true_up:
            lines.append("  This bill carries the annual true-up.")
        grand += bill.total
    lines.append("")
    lines.append(f"{len(bills)} bill{'' if len(bills) == 1 else 's'}, total ${grand:,.2f}")
    return "\n".join(lines)


def _bank_lines(bill) -> list[str]:
    """The net-metering bank as a sum the reader can check: brought forward (an opening balance on the first
    bill) + earned - applied - settled at true-up = carried forward, in $ and in kWh; nothing when empty."""
    dollars = (bill.credit_brought, bill.credit_earned, bill.credit_applied, bill.credit_settled, bill.credit_carried)
    kwh = (bill.kwh_brought, bill.kwh_banked, bill.kwh_used, bill.kwh_settled, bill.kwh_carried)
    lines = []
    if any(dollars):
        lines.append("  Credits: brought forward ${:,.2f} + earned ${:,.2f} - applied ${:,.2f} - settled at true-up "
                     "${:,.2f} = carried forward ${:,.2f}".format(*dollars))
    if any(kwh):
        lines.append("  Banked kWh: brought forward {:,.3f} + banked {:,.3f} - used {:,.3f} - settled at true-up "
                     "{:,.3f} = carried forward {:,.3f}".format(*kwh))
    return lines
