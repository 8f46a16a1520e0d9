"""The run's exception rules on small frames whose verdicts are worked out by hand in the comments."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from workbench.errors import WorkbenchError
from workbench.runs import rules
from workbench.runs.config import load_rules_config

CFG = load_rules_config()
D = dt.date


def _bills(**columns) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"meter": [f"M{i}" for i in range(n)], "account": [f"A{i}" for i in range(n)],
            "customer_class": ["RES"] * n, "rate_code": ["RES-FLAT"] * n, "period_start": [D(2025, 10, 1)] * n,
            "period_end": [D(2025, 11, 1)] * n, "days": [31] * n, "delivered_kwh": [310.0] * n,
            "received_kwh": [0.0] * n, "intervals": [2976] * n, "estimated_intervals": [0] * n,
            "total": [40.0] * n, "bill_ready": [True] * n, "hold_reason": [""] * n}
    base.update(columns)
    return pd.DataFrame(base)


def _history(account, meter, kwh_per_day, n=4):
    # n earlier 30-day bills ending before 2025-10-01
    starts = [D(2025, 10, 1) - dt.timedelta(days=30 * (k + 1)) for k in range(n)]
    return pd.DataFrame({"account": account, "meter": meter, "period_start": starts,
                         "period_end": [s + dt.timedelta(days=30) for s in starts], "days": 30,
                         "delivered_kwh": [kwh_per_day * 30] * n})


def test_own_history_high_and_low():
    # history 10 kWh/day. A0: 31 kWh/day = 3.1x > 2.5 -> HIGH_OWN; A1: 2.5 kWh/day = 0.25x < 0.3 -> LOW_OWN;
    # A2: 24.8 kWh/day = 2.48x, not over; A3 has only 2 earlier bills (< min_bills 3): not judged
    bills = _bills(delivered_kwh=[961.0, 77.5, 768.8, 9999.0])
    history = pd.concat([_history("A0", "M0", 10), _history("A1", "M1", 10), _history("A2", "M2", 10),
                         _history("A3", "M3", 10, n=2)])
    flags = rules.own_history(bills, history, CFG)
    assert sorted(zip(flags.account, flags.rule, strict=True)) == [("A0", "HIGH_OWN"), ("A1", "LOW_OWN")]
    assert "3.10 x the median 10.0 kWh/day" in flags[flags.account == "A0"].reason.iloc[0]


def test_own_history_ignores_later_bills_and_small_references():
    # a later bill (after this period) is not history; a 1 kWh/day reference is below min_kwh_per_day 2
    later = _history("A0", "M0", 10).assign(period_start=D(2025, 12, 1))
    tiny = _history("A1", "M1", 1)
    flags = rules.own_history(_bills(delivered_kwh=[961.0, 961.0]), pd.concat([later, tiny]), CFG)
    assert flags.empty


def test_robust_z_by_hand():
    # values 1..5 and 100: median 4.5? no: [1,2,3,4,5,100] median 3.5, |dev| = 2.5,1.5,.5,.5,1.5,96.5 -> MAD 1.5
    z = rules.robust_z(np.array([1, 2, 3, 4, 5, 100.0]))
    assert z[-1] == pytest.approx(0.6745 * 96.5 / 1.5)
    assert z[0] == pytest.approx(0.6745 * -2.5 / 1.5)
    assert np.isnan(rules.robust_z(np.array([2.0, 2, 2, 2]))).all()  # MAD 0: cannot judge


def test_peers_flag_the_outlier_of_its_group_only():
    # 11 RES bills at 10 kWh/day spread by +-1, one at 200 kWh/day; a group of 3 LGS bills is too small to judge
    kwh = [31 * v for v in (9, 9.5, 10, 10, 10.5, 11, 9.8, 10.2, 10, 9.9, 200)] + [31 * 5000] * 2 + [31.0]
    classes = ["RES"] * 11 + ["LGS"] * 3
    flags = rules.peers(_bills(delivered_kwh=kwh, customer_class=classes), CFG)
    assert list(flags.meter) == ["M10"] and list(flags.rule) == ["HIGH_PEER"]


def test_estimated_zero_negative():
    bills = _bills(bill_ready=[False, True, True, True], hold_reason=["5.0% of intervals estimated", "", "", ""],
                   delivered_kwh=[310.0, 0.0, 310.0, 0.0], received_kwh=[0.0, 0.0, 0.0, 12.0],
                   total=[40.0, 12.0, -0.01, 0.0], estimated_intervals=[149, 0, 60, 0])
    est = rules.estimated(bills, CFG)
    assert list(est.meter) == ["M0"] and "5.0% of intervals estimated" in est.reason.iloc[0]
    assert list(rules.zero_use(bills, None, CFG).meter) == ["M1"]  # M3 received energy: not zero use
    assert list(rules.negative_total(bills, CFG).meter) == ["M2"]
    # a site maximum of 1% estimated also holds M2 (60 of 2976 = 2.0%)
    site = CFG.model_copy(update={"estimated": CFG.estimated.model_copy(update={"max_estimated_share": 0.01})})
    assert list(rules.estimated(bills, site).meter) == ["M0", "M2"]
    closed = pd.DataFrame({"account": ["A1"], "status": ["closed"]})
    assert rules.zero_use(bills, closed, CFG).empty  # zero use on a closed account is no exception


def test_missing_rate_and_mismatch():
    rates = pd.DataFrame({"account": ["A0", "A1", "A1"], "rate_code": ["RES-FLAT", "RES-FLAT", "RES-TOU"],
                          "effective_from": [D(2020, 1, 1), D(2020, 1, 1), D(2025, 10, 15)],
                          "effective_to": [None, D(2025, 10, 15), None]})
    # the period's last day is 2025-10-31: A0 on RES-FLAT (fine), A1 moved to RES-TOU (mismatch), A2 none
    flags = rules.missing_rate(_bills(delivered_kwh=[1.0, 1.0, 1.0]), rates, CFG)
    assert sorted(zip(flags.account, flags.rule, strict=True)) == [("A1", "RATE_MISMATCH"), ("A2", "NO_RATE")]


def test_meter_exchange_first_final():
    exchanges = pd.DataFrame({"meter": ["M0", "M1"], "account": ["A0", "A1"], "date": [D(2025, 10, 20), D(2025, 11, 1)]})
    history = _history("A2", "OLD", 10)
    flags = rules.meter_exchange(_bills(delivered_kwh=[1.0, 1.0, 1.0]), history, exchanges, CFG)
    # M0 exchanged within [10-01, 11-01); M1's exchange is on the (exclusive) end date; A2 changed meters
    assert list(flags.meter) == ["M0", "M2"] and "OLD" in flags.reason.iloc[1]
    accounts = pd.DataFrame({"account": ["A0", "A1", "A2"], "status": ["active", "closed", "active"],
                             "open_date": [D(2025, 10, 5), D(2010, 1, 1), D(2010, 1, 1)],
                             "close_date": [None, D(2025, 11, 1), None]})
    ff = rules.first_and_final(_bills(delivered_kwh=[1.0, 1.0, 1.0]), accounts, CFG)
    assert sorted(zip(ff.account, ff.rule, strict=True)) == [("A0", "FIRST_BILL"), ("A1", "FINAL_BILL")]


def test_evaluate_report_only_rules_do_not_hold(tmp_path):
    site = tmp_path / "rules.yaml"
    site.write_text("negative_total:\n  hold: false\n")
    bills = _bills(total=[40.0, -5.0], delivered_kwh=[0.0, 310.0])
    verdict = rules.evaluate(bills, config=site)
    assert list(verdict.flags.rule) == ["ZERO_USE", "NEGATIVE_TOTAL"]
    assert list(verdict.held(bills)) == [True, False]  # NEGATIVE_TOTAL reported but not held
    assert any("own_history" in n for n in verdict.not_judged)


def test_rules_file_errors_name_the_field(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("peers:\n  max_robust_z: -1\n")
    with pytest.raises(WorkbenchError, match=r"rules.yaml: peers.max_robust_z"):
        load_rules_config(bad)
    bad.write_text("peer:\n  hold: false\n")
    with pytest.raises(WorkbenchError, match="unknown rule 'peer'"):
        load_rules_config(bad)
