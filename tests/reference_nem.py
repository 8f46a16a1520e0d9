"""Slow, obviously-correct reference for net metering and net billing (``docs/net-metering.md``).

Built on ``reference.reference_bills`` (plain loops over intervals): the program changes which kWh the
retail tariff prices, then adds its own lines: non-bypassable charges, credits earned / applied / carried,
the true-up. Written from the program fields' documentation, not from ``workbench.nem``; it reads the
validated ``Program`` (pydantic data) only.

Conventions of the engine that the documentation leaves open, mirrored here on purpose (each is a choice,
not an accident; a test that relies on one says so):

- riders are on the kWh the tariff bills: under net metering the netted kWh (after banked kWh), not the
  delivered kWh; non-bypassable charges and net surplus use the delivered (metered) kWh;
- a net-surplus kWh earns the retail rate of its bucket in the tariff's *first* version (first block of
  blocked energy); the property tests only draw single-version tariffs under a program;
- the true-up bill is every bill whose last day is in the true-up month; the net surplus of the true-up year
  counts the bills since the previous true-up bill;
- credits are rounded to the cent when earned; the amounts they offset are the rounded line items.
"""

from __future__ import annotations

import datetime as dt

from reference import block_rates_of, cents, rate_of, reference_bills


def hourly_net(timestamps_utc, delivered, received):
    """``netting_interval: hourly``: net the channels within each UTC clock hour; the net goes, at the hour's
    last interval, to the channel it favours (a missing read counts 0)."""
    d = [0.0] * len(delivered)
    r = [0.0] * len(received)
    hours: dict[dt.datetime, list[int]] = {}
    for i, ts in enumerate(timestamps_utc):
        hours.setdefault(ts.replace(minute=0, second=0, microsecond=0), []).append(i)
    for members in hours.values():
        net = sum((0.0 if x != x else x) for x in (delivered[i] for i in members)) - sum(
            (0.0 if x != x else x) for x in (received[i] for i in members))
        d[members[-1]] = max(net, 0.0)
        r[members[-1]] = max(-net, 0.0)
    return d, r


def retail_rate(spec, season: str, period: str) -> float:
    """$/kWh of (season, period) in the first version: flat/ToU energy rates, or the first block's."""
    first = sorted(spec.versions, key=lambda v: v.effective)[0]
    total = 0.0
    for c in first.charges:
        if c.type == "energy" and c.rates is not None:
            total += rate_of(c.rates, season, period)
        elif c.type == "energy":
            total += block_rates_of(c.blocks.rates, season, period)[0]
    return total


def reference_nem_bills(spec, program, timestamps_utc, delivered, received, step_minutes=15, read_dates=None,
                        export_values=None, true_up_month=12, base_dir=None, opening_credit=0.0, opening_kwh=0.0):
    """Bills of a customer-generator: dicts as ``reference_bills``'s, plus credit lines (category ``credit``),
    ``credit_earned``, ``credit_applied``, ``credit_brought``, ``credit_carried``, ``kwh_brought`` and
    ``kwh_carried``. ``opening_credit`` [$] / ``opening_kwh``: the bank the customer brings into the first bill
    (docs/net-metering.md, "Opening bank")."""
    if program.netting_interval == "hourly":
        delivered, received = hourly_net(timestamps_utc, delivered, received)
    nbc = program.non_bypassable_rate
    state = {}

    def net(periods, dets):
        """Net metering: net kWh per (season, ToU period) over each bill period; kWh credits bank surplus."""
        # the bill that closes the relevant period: the last bill whose last day is in the true-up month
        last_days = [p_end - dt.timedelta(days=1) for _, p_end, _ in periods]
        true_up = [day.month == true_up_month and not (b + 1 < len(last_days) and
                                                       (last_days[b + 1].year, last_days[b + 1].month)
                                                       == (day.year, day.month))
                   for b, day in enumerate(last_days)]
        state["true_up"] = true_up
        bank = opening_kwh
        for b, det in enumerate(dets):
            det["gross_energy"] = dict(det["energy"])
            det["metered_kwh"] = det["delivered_kwh"]
            if program.kind != "net_metering":
                det["surplus"], det["kwh_cashed"], det["kwh_carried"] = {}, 0.0, 0.0
                continue
            keys = set(det["energy"]) | set(det["received"])
            billed = {k: max(det["energy"].get(k, 0.0) - det["received"].get(k, 0.0), 0.0) for k in keys}
            det["surplus"] = {k: max(det["received"].get(k, 0.0) - det["energy"].get(k, 0.0), 0.0) for k in keys}
            cashed = 0.0
            det["kwh_brought"] = bank
            if program.credits == "kwh":
                owed = sum(billed.values())
                used = min(bank, owed)
                for k in billed:  # banked kWh pay the net imports, each bucket in proportion
                    billed[k] = billed[k] * (1.0 - used / owed) if owed > 0 else billed[k]
                bank = bank - used + sum(det["surplus"].values())
                if true_up[b]:
                    cashed, bank = bank, 0.0
            det["energy"] = billed
            det["delivered_kwh"] = sum(billed.values())  # what riders are charged on
            det["kwh_cashed"], det["kwh_carried"] = cashed, bank

    bills = reference_bills(spec, timestamps_utc, delivered, received, step_minutes, read_dates=read_dates,
                            base_dir=base_dir, export_values=export_values, adjust=net)
    true_up = state["true_up"]
    balance = opening_credit
    year_start = 0  # first bill of the current true-up year
    for b, bill in enumerate(bills):
        lines = bill["lines"]
        brought = balance
        nbc_line = None
        if nbc:
            if program.non_bypassable_in_retail:  # only the imports that exports netted away
                charged = max(bill["metered_kwh"] - sum(bill["energy"].values()), 0.0)
            else:
                charged = bill["metered_kwh"]
            nbc_line = ("Non-bypassable charges", "rider", cents(charged * nbc))
        # what the bill's exports (or net surplus) earn
        if program.kind == "net_metering":
            earned = 0.0
            if program.credits == "dollars":
                for (season, period), kwh in bill["surplus"].items():
                    value = retail_rate(spec, season, period)
                    if nbc and program.non_bypassable_in_retail:
                        value = max(value - nbc, 0.0)
                    earned += kwh * value
        elif export_values is not None:
            earned = bill["export_credit"]
        else:
            earned = bill["received_kwh"] * program.export_rate
        earned = cents(earned)
        offsettable = max(sum(a for _, cat, a in lines if cat in program.offsets), 0.0)
        if nbc_line:
            lines.append(nbc_line)
        if program.kind == "buy_all_sell_all":
            lines.append(("Generation sold", "credit", -earned))
            applied = earned
        else:
            if program.apply_current_month:
                applied = min(balance + earned, offsettable)
                balance = balance + earned - applied
            else:
                applied = min(balance, offsettable)
                balance = balance - applied + earned
            lines.append(("Credits applied", "credit", -applied))
            if true_up[b] and program.true_up.leftover == "pay":
                lines.append(("Credit balance paid at true-up", "credit", -cents(balance * program.true_up.leftover_rate)))
                balance = 0.0
            elif true_up[b] and program.true_up.leftover == "forfeit":
                balance = 0.0
            if program.kind == "net_metering" and program.credits == "dollars" and program.true_up.surplus_rate \
                    and true_up[b]:
                net_kwh = sum(bills[k]["received_kwh"] - bills[k]["metered_kwh"] for k in range(year_start, b + 1))
                lines.append(("Net surplus compensation", "credit", -cents(max(net_kwh, 0.0) * program.true_up.surplus_rate)))
            if program.kind == "net_metering" and program.credits == "kwh":
                rate = program.true_up.kwh_rate if program.true_up.kwh_rate is not None else program.true_up.surplus_rate
                lines.append(("Banked kWh cashed out at true-up", "credit", -cents(bill["kwh_cashed"] * rate)))
        if program.true_up.fee and true_up[b]:
            lines.append(("True-up fee", "fixed", program.true_up.fee))
        if true_up[b]:
            year_start = b + 1
        bill.update(credit_earned=earned, credit_applied=applied, credit_brought=brought,
                    credit_carried=0.0 if program.kind == "buy_all_sell_all" else balance,
                    total=cents(sum(a for _, _, a in lines)))
    return bills
