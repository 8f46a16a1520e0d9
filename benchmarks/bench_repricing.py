"""Re-pricing benchmarks on kept test-year determinants (the figures of issue 14's performance section).

    python -m benchmarks.bench_repricing DETERMINANTS TARIFFS

The kept customers are tiled to 500,000 (re-pricing) and 100,000 (the solve, the dashboard). Prints one line per
measure with the floor measured in the same run: one numpy pass that prices every kWh of the 500k customers
(kWh x price, rounded to the cent: what any re-pricing must at least do once).
"""

from __future__ import annotations

import argparse
import time

from benchmarks.bench_design import tile
from workbench.app.rates_app import create_app
from workbench.app.rates_store import RatesStore
from workbench.design.proposal import Proposal
from workbench.design.revreq import solve
from workbench.design.scenarios import Study
from workbench.engine.pricing import round_cents


def tiled(folder, customers: int, classes=None) -> tuple[Study, int]:
    study = Study(folder, classes=classes)
    n = sum(len(r) for r in study.data.values())
    times = -(-customers // n)
    study.data = {code: tile(r, times) for code, r in study.data.items()}
    return study, times


def timed(fn):
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("determinants")
    parser.add_argument("tariffs")
    args = parser.parse_args()
    base = Proposal.from_book(args.tariffs)

    study, times = tiled(args.determinants, 500_000)
    customers = sum(len(r) for r in study.data.values())
    kwh = [r.det.energy_kwh for r in study.data.values()]
    floor, _ = timed(lambda: [round_cents(k * 0.1234).sum() for k in kwh])
    cold, _ = timed(lambda: study.price(base.compile(), "present"))
    print(f"customers {customers:,} (x{times}); floor: one priced pass over every kWh {floor:.2f} s")
    print(f"cold pricing, every rate code: {cold:.2f} s (ratio {cold / floor:.1f})")
    for factor in (1.05, 1.06, 1.07):
        book = base.scale("RES-TOU", "Energy", factor).compile()
        took, priced = timed(lambda book=book: study.price(book, "proposed"))
        print(f"re-price after RES-TOU energy x{factor}: {took:.2f} s (ratio {took / floor:.2f}; "
              f"revenue ${priced.total_cents() / 100:,.2f})")
    every = base
    for code in study.rate_codes:
        every = every.set_customer_charge(code, 21.0, component=None) if code != "RTP" else every
    took, _ = timed(lambda: study.price(every.compile(), "every code"))
    print(f"re-price after a customer-charge change on every rate code but RTP: {took:.2f} s (ratio {took / floor:.2f})")

    res, times = tiled(args.determinants, 100_000, ["RES"])
    customers = sum(len(r) for r in res.data.values())
    present = res.price(res.present_book(), "present").total_cents() / 100
    took, sol = timed(lambda: solve(res, round(present * 1.07, 2), [(c, "Energy") for c in res.rate_codes]))
    print(f"solve, class RES, {customers:,} customers (x{times}): {took:.2f} s, {sol.evaluations} pricings, "
          f"residual {sol.residual:+.2f}")

    # the dashboard: one tariff (RES-TOU) with 100,000 customers
    tou = Study(args.determinants, classes=["RES"], rate_codes=["RES-TOU"])
    times = -(-100_000 // len(tou.data["RES-TOU"]))
    tou.data = {"RES-TOU": tile(tou.data["RES-TOU"], times)}
    customers = len(tou.data["RES-TOU"])
    store = RatesStore(args.determinants, customer_class="RES", rate_code="RES-TOU")
    store._studies["RES"] = tou
    store._present.clear()
    app = create_app(store=store)
    store._set_class()
    field = store.fields[1]
    views = app.views
    for value in (field.value * 1.1, field.value * 1.2):
        def redraw(value=value):
            store.set_price(field.component, field.where, value)  # re-price; the watchers rebuild the views
            return views["numbers"].text(), views["impacts"].plot(), views["typical"].frame()
        took, _ = timed(redraw)
        print(f"dashboard redraw after a price edit, {len(store.customers):,} RES-TOU customers (x{times}): "
              f"{took:.2f} s (re-price {store.reprice_ms / 1000:.2f} s)")


if __name__ == "__main__":
    main()
