"""PySAM ``Utilityrate5``'s own net-metering / net-billing conventions (``ur_metering_option`` 0-4).

The worked examples of ``docs/pysam-nem-conventions.md``, asserted against PySAM itself (no engine needed),
so that a PySAM upgrade that changes a convention fails here first. Run with ``pytest -m oracle``.

Tariff T (docs section A): two ToU periods every day, p1 = 12-17 h, p0 = the other hours; monthly tiers at
300 kWh; rates p0 0.10 / 0.20, p1 0.30 / 0.50; sell p0 0.03 / 0.04, p1 0.05 / 0.06; $10/month fixed.
Load: 1 kWh delivered every hour; in export months hours 10-14 deliver 0 and receive X kWh
(hours 10-11 are p0, 12-14 are p1). E1: X = 3 (Apr), 5 (May, Jun). E2: X = 3 (Apr), 20 (May, Jun).
Months are 0-based indices below (3 = April).
"""

from __future__ import annotations

import numpy as np
import pytest

from .pysam_reference import MONTH_DAYS, run_utilityrate5

pytestmark = pytest.mark.oracle

HOUR_MONTH = np.repeat(np.arange(12), np.array(MONTH_DAYS) * 24)
HOUR_OF_DAY = np.tile(np.arange(24), 365)
APR, MAY, JUN, JUL, AUG, SEP, NOV, DEC = 3, 4, 5, 6, 7, 8, 10, 11
E1 = {APR: 3, MAY: 5, JUN: 5}
E2 = {APR: 3, MAY: 20, JUN: 20}


def tariff_t(**fields) -> dict:
    sched = [[0] * 12 + [1] * 6 + [0] * 6 for _ in range(12)]
    item = {
        "energyratestructure": [
            [{"rate": 0.10, "max": 300, "sell": 0.03}, {"rate": 0.20, "sell": 0.04}],
            [{"rate": 0.30, "max": 300, "sell": 0.05}, {"rate": 0.50, "sell": 0.06}],
        ],
        "energyweekdayschedule": sched,
        "energyweekendschedule": [row[:] for row in sched],
        "fixedchargefirstmeter": 10,
        "fixedchargeunits": "$/month",
    }
    item.update(fields)
    return item


def channels(exports: dict[int, float]):
    delivered, received = np.ones(8760), np.zeros(8760)
    for month, kwh in exports.items():
        sel = (HOUR_MONTH == month) & (HOUR_OF_DAY >= 10) & (HOUR_OF_DAY <= 14)
        delivered[sel], received[sel] = 0.0, kwh
    return delivered, received


def outputs(option: int, exports=E1, item=None, **overrides) -> dict[str, np.ndarray]:
    delivered, received = channels(exports)
    model = run_utilityrate5(item or tariff_t(), delivered, received, 1, option, overrides=overrides)
    names = (
        "utility_bill_w_sys_ym", "charge_w_sys_ec_ym", "charge_w_sys_ec_gross_ym", "charge_w_sys_minimum_ym",
        "nm_dollars_applied_ym", "excess_kwhs_earned_ym", "net_billing_credits_ym", "two_meter_sales_ym",
        "true_up_credits_ym",
    )  # fmt: skip
    out = {n.removesuffix("_ym"): np.asarray(getattr(model.Outputs, n), dtype=float)[1] for n in names}
    out["cumulative_kwh"] = np.asarray(model.Outputs.year1_monthly_cumulative_excess_generation, dtype=float)
    out["model"] = model
    return out


# ---------------------------------------------------------------------------------------------- option 0


def test_option0_nets_per_period_and_banks_kwh_per_period():
    o = outputs(0, E1)
    ec = o["charge_w_sys_ec"]
    # Jan, no export: 744 kWh, proportional tiers (300, 444): 558/744*(30+88.8) + 186/744*(90+222)
    assert ec[0] == pytest.approx(167.10)
    # Apr: p0 net +300 -> 300 x 0.10; p1 net -180 goes to p1's bank, it does not offset p0
    assert ec[APR] == pytest.approx(30.00)
    # May: p0 +186 x 0.10 (p1 surplus 372 banked: 552); Jun: p0 +180 x 0.10 (bank 912)
    assert (ec[MAY], ec[JUN]) == pytest.approx((18.60, 18.00))
    # Jul, Aug: p1 186 covered by the p1 bank; p0 558 -> 300 x 0.1 + 258 x 0.2
    assert (ec[JUL], ec[AUG]) == pytest.approx((81.60, 81.60))
    assert ec[SEP] == pytest.approx(30 + 240 * 0.2)
    # Nov: bank 912-186-186-180-186 = 174 < 180 -> p1 billed 6 kWh; E = 546, tiers (300, 246)
    assert ec[NOV] == pytest.approx(540 / 546 * (30 + 246 * 0.2) + 6 / 546 * (90 + 246 * 0.5))
    assert ec[DEC] == pytest.approx(167.10)
    assert np.all(o["nm_dollars_applied"] == 0) and np.all(o["true_up_credits"] == 0)
    # month-level outputs: surplus of the month (May 6/day x 31, Jun 6/day x 30) and its running sum
    np.testing.assert_allclose(o["excess_kwhs_earned"][[APR, MAY, JUN]], [0, 186, 180])
    np.testing.assert_allclose(o["cumulative_kwh"][[APR, MAY, JUN, JUL]], [0, 186, 366, 0])
    tp = np.asarray(o["model"].Outputs.surplus_w_sys_ec_may_tp)  # row 2 = p1: bank 180 + 372 in tiers
    assert tp[2][3] == pytest.approx(552)


def test_option0_true_up_cashes_out_month_level_excess_at_yearend_rate():
    # E1, true-up in June: 366 kWh (month-level running excess) x 0.02 -- not the 912 kWh of p1's bank
    o = outputs(0, E1, ur_nm_credit_month=5, ur_nm_yearend_sell_rate=0.02)
    assert o["true_up_credits"][JUN] == pytest.approx(366 * 0.02)
    assert o["utility_bill_w_sys"][JUN] == pytest.approx(10 + 18 - 7.32)
    assert o["charge_w_sys_ec"][JUL] == pytest.approx(167.10)  # banks reset after the true-up
    # E2: 2511 + 2430 = 4941 kWh x 0.02 = 98.82, bill negative
    o = outputs(0, E2, ur_nm_credit_month=5, ur_nm_yearend_sell_rate=0.02)
    assert o["true_up_credits"][JUN] == pytest.approx(98.82)
    assert o["utility_bill_w_sys"][JUN] == pytest.approx(10 - 98.82)
    # rollover: the cash-out value becomes $ applied to July's energy charge instead of being paid
    o = outputs(0, E2, ur_nm_credit_month=5, ur_nm_yearend_sell_rate=0.02, ur_nm_credit_rollover=1)
    assert o["true_up_credits"][JUN] == 0 and o["nm_dollars_applied"][JUL] == pytest.approx(98.82)
    # default yearend rate 0: leftover kWh vanish
    assert np.all(outputs(0, E2, ur_nm_credit_month=5)["true_up_credits"] == 0)


def test_option0_rolls_a_periods_surplus_to_the_period_at_the_same_weekday_hour():
    # Jul-Dec bill periods p2 / p3 at the hours of p0 / p1 (same rates). PySAM lists each month's weekday periods
    # at 0, 5, 11 and 17 h ([p0, p0, p0, p1] then [p2, p2, p2, p3]) and moves p1's bank to p3 in July
    second_half = [[2] * 12 + [3] * 6 + [2] * 6 for _ in range(6)]
    first_half = [[0] * 12 + [1] * 6 + [0] * 6 for _ in range(6)]
    structure = tariff_t()["energyratestructure"]
    item = tariff_t(energyratestructure=structure + structure, energyweekdayschedule=first_half + second_half,
                    energyweekendschedule=[row[:] for row in first_half + second_half])
    ec = outputs(0, E1, item=item)["charge_w_sys_ec"]
    assert (ec[JUL], ec[AUG]) == pytest.approx((81.60, 81.60))  # p3 covered by p1's 912 kWh, as in tariff T


def test_option0_loses_the_surplus_of_a_period_at_none_of_the_rollover_hours():
    # p1 = 12-16 h: at none of 0, 5, 11, 17 h, so its surplus (hours 12-14 export) never reaches the next month
    sched = [[0] * 12 + [1] * 5 + [0] * 7 for _ in range(12)]
    o = outputs(0, E1, item=tariff_t(energyweekdayschedule=sched, energyweekendschedule=[r[:] for r in sched]))
    surplus_june = np.asarray(o["model"].Outputs.surplus_w_sys_ec_jun_tp)
    # p1's June surplus alone (13 kWh a day: 15 exported, 2 imported at 15-16 h), not June's + May's; last column = total
    assert surplus_june[2][-1] == pytest.approx(30 * 13)
    # July: 589 kWh p0 + 155 kWh p1 billed in full, tiers in proportion
    assert o["charge_w_sys_ec"][JUL] == pytest.approx(589 / 744 * (30 + 444 * 0.2) + 155 / 744 * (90 + 444 * 0.5))


def test_hourly_time_series_sell_rate_on_15_minute_steps_is_read_one_hour_ahead():
    # 1 kW load, 15-minute steps; on 1 January steps 44-55 (11:00-13:45) export 1, 2, ..., 12 kWh.
    # ts = 1 $/kWh in hour 12 only. PySAM prices the first step of hour h at ts[h] and the next three at
    # ts[h + 1]: steps 45-48 (2 + 3 + 4 + 5 = $14), not hour 12's steps 48-51 ($26)
    delivered, received = np.full(35040, 0.25), np.zeros(35040)
    delivered[44:56], received[44:56] = 0.0, np.arange(1.0, 13.0)
    ts = np.zeros(8760)
    ts[12] = 1.0
    model = run_utilityrate5(tariff_t(), delivered, received, 4, 2,
                             overrides={"ur_en_ts_sell_rate": 1, "ur_ts_sell_rate": tuple(ts)})
    assert np.asarray(model.Outputs.net_billing_credits_ym)[1][0] == pytest.approx(14.0)
    # given one value per step, each step takes its own value
    model = run_utilityrate5(tariff_t(), delivered, received, 4, 2,
                             overrides={"ur_en_ts_sell_rate": 1, "ur_ts_sell_rate": tuple(np.repeat(ts, 4))})
    assert np.asarray(model.Outputs.net_billing_credits_ym)[1][0] == pytest.approx(26.0)


def test_options_0_and_1_refuse_time_series_sell_rates():
    with pytest.raises(Exception, match="not compatible with net metering"):
        outputs(0, E1, ur_en_ts_sell_rate=1, ur_ts_sell_rate=tuple(np.full(8760, 0.05)))


# ---------------------------------------------------------------------------------------------- option 1


def test_option1_values_period_surplus_at_sell_and_applies_dollars_to_energy_only():
    o = outputs(1, E1)
    applied, gross = o["nm_dollars_applied"], o["charge_w_sys_ec_gross"]
    # Apr: p0 300 kWh -> $30; p1 surplus 180 x sell 0.05 = $9 applied the same month
    assert (gross[APR], applied[APR]) == pytest.approx((30.00, 9.00))
    # May: earned 300 x 0.05 + 72 x 0.06 = 19.32, applied 18.60 (= gross), 0.72 carried
    # Jun: earned 300 x 0.05 + 60 x 0.06 = 18.60, applied 18.00, 1.32 carried -> Jul
    np.testing.assert_allclose(applied[[MAY, JUN, JUL, AUG]], [18.60, 18.00, 1.32, 0.0], atol=1e-9)
    np.testing.assert_allclose(o["charge_w_sys_ec"][[MAY, JUN]], 0.0, atol=1e-9)
    # credits never reduce the fixed charge
    assert o["utility_bill_w_sys"][MAY] == pytest.approx(10.00)
    # the apply-current-month switch does not affect option 1
    same = outputs(1, E1, ur_nb_apply_credit_current_month=0)["nm_dollars_applied"]
    np.testing.assert_allclose(same, applied)


def test_option1_splits_surplus_into_tiers_proportionally_and_pays_balance_at_true_up():
    o = outputs(1, E2, ur_nm_credit_month=5, ur_nm_yearend_sell_rate=0.02)
    # May surplus 2511 kWh -> tiers (300, 2211), shared p0 744 / p1 1767
    tp = np.asarray(o["model"].Outputs.surplus_w_sys_ec_may_tp)
    assert tp[1][1] == pytest.approx(300 * 744 / 2511) and tp[2][2] == pytest.approx(2211 * 1767 / 2511)
    may = (300 * 0.03 + 2211 * 0.04) * 744 / 2511 + (300 * 0.05 + 2211 * 0.06) * 1767 / 2511
    jun = (300 * 0.03 + 2130 * 0.04) * 720 / 2430 + (300 * 0.05 + 2130 * 0.06) * 1710 / 2430
    assert may + jun == pytest.approx(261.18)
    # paid at face value (the 0.02 yearend rate is ignored), bill negative, nothing left for July
    assert o["true_up_credits"][JUN] == pytest.approx(may + jun)
    assert o["utility_bill_w_sys"][JUN] == pytest.approx(10 - 261.18)
    assert o["nm_dollars_applied"][JUL] == 0
    # QUIRK: rollover = 1 pays the balance AND rolls it into July/August
    q = outputs(1, E2, ur_nm_credit_month=5, ur_nm_credit_rollover=1)
    assert q["true_up_credits"][JUN] == pytest.approx(261.18)
    np.testing.assert_allclose(q["nm_dollars_applied"][[JUL, AUG]], [167.10, 94.08])


# ---------------------------------------------------------------------------------------------- option 2


def test_option2_chronological_tiers_for_imports_and_exports():
    o = outputs(2, E1)
    gross, credits = o["charge_w_sys_ec_gross"], o["net_billing_credits"]
    # Jan: 24 kWh/day, tier bound 300 reached on day 13 at 12:00 -> p0 228 / p1 72 in tier 1
    assert gross[0] == pytest.approx(228 * 0.1 + 72 * 0.3 + 330 * 0.2 + 114 * 0.5)  # 167.40
    # Apr imports 19 kWh/day: tier 1 = p0 252 / p1 48, tier 2 = p0 228 / p1 42
    assert gross[APR] == pytest.approx(252 * 0.1 + 48 * 0.3 + 228 * 0.2 + 42 * 0.5)  # 106.20
    # Apr exports 15 kWh/day, own counter passes 300 after day 20 -> p0 120 / p1 180 then p0 60 / p1 90
    assert credits[APR] == pytest.approx(120 * 0.03 + 180 * 0.05 + 60 * 0.04 + 90 * 0.06)  # 20.40
    assert o["charge_w_sys_ec"][APR] == pytest.approx(106.20 - 20.40)


def test_option2_credits_are_uncapped_same_month_and_never_carried():
    o = outputs(2, E2, ur_nm_credit_month=5, ur_nm_yearend_sell_rate=0.02, ur_nm_credit_rollover=1)
    # May: exports 100 kWh/day, counter 300 after day 3: p0 120 / p1 180, then p0 1120 / p1 1680
    assert o["net_billing_credits"][MAY] == pytest.approx(120 * 0.03 + 180 * 0.05 + 1120 * 0.04 + 1680 * 0.06)
    assert o["charge_w_sys_ec"][MAY] == pytest.approx(110.90 - 158.20)  # negative energy charge
    assert o["utility_bill_w_sys"][MAY] == pytest.approx(10 - 47.30)  # offsets the fixed charge too
    assert o["charge_w_sys_ec"][JUL] == pytest.approx(167.40)  # nothing carried
    assert np.all(o["true_up_credits"] == 0)


def test_option2_minimum_top_up_is_capped_at_the_minimum():
    o = outputs(2, {MAY: 20}, item=tariff_t(mincharge=50, minchargeunits="$/month"))
    # pre-minimum bill 10 - 47.30 < 0: top-up = 50 (not 87.30), bill 12.70
    assert o["charge_w_sys_minimum"][MAY] == pytest.approx(50.0)
    assert o["utility_bill_w_sys"][MAY] == pytest.approx(12.70)


def test_time_series_sell_rate_replaces_sell_without_tiers():
    ts = np.where((HOUR_OF_DAY >= 12) & (HOUR_OF_DAY <= 14), 0.07, 0.01)
    for option, name in ((2, "net_billing_credits"), (4, "two_meter_sales")):
        o = outputs(option, E2, ur_en_ts_sell_rate=1, ur_ts_sell_rate=tuple(ts))
        # Apr: 30 days x (6 kWh x 0.01 + 9 kWh x 0.07); May 31 x (40 x 0.01 + 60 x 0.07)
        np.testing.assert_allclose(o[name][[APR, MAY]], [30 * 0.69, 31 * 4.6])


# ---------------------------------------------------------------------------------------------- option 3


def test_option3_default_applies_credits_next_month_capped_at_energy_charge():
    o = outputs(3, E2)
    applied = o["net_billing_credits"]  # option 3: credits APPLIED, not earned
    # earned Apr 20.40, May 158.20, Jun 153.00; gross May 110.90, Jun 106.20, Jul 167.40, Aug 167.40
    np.testing.assert_allclose(applied[[APR, MAY, JUN, JUL, AUG, SEP]], [0, 20.40, 106.20, 167.40, 37.60, 0])
    assert o["charge_w_sys_ec"][AUG] == pytest.approx(167.40 - 37.60)
    assert o["utility_bill_w_sys"][JUN] == pytest.approx(10.0)  # never below the fixed charge


def test_option3_true_up_pays_balance_at_face_value_or_forfeits_it():
    o = outputs(3, E2, ur_nm_credit_month=5, ur_nm_yearend_sell_rate=0.02)
    # balance after June: 158.20 - 106.20 carried + June's own 153.00 earned
    assert o["true_up_credits"][JUN] == pytest.approx(52.00 + 153.00)
    assert o["utility_bill_w_sys"][JUN] == pytest.approx(10 - 205.00)
    assert o["charge_w_sys_ec"][JUL] == pytest.approx(167.40)
    expired = outputs(3, E2, ur_nm_credit_month=5, ur_nb_credit_expire=1)
    assert expired["true_up_credits"][JUN] == 0 and expired["utility_bill_w_sys"][JUN] == pytest.approx(10.0)
    # the setting issue 5 mirrors: credits usable in the month earned
    cur = outputs(3, E2, ur_nm_credit_month=5, ur_nb_apply_credit_current_month=1)
    np.testing.assert_allclose(cur["net_billing_credits"][[APR, MAY, JUN]], [20.40, 110.90, 106.20])
    assert cur["true_up_credits"][JUN] == pytest.approx(158.20 - 110.90 + 153.00 - 106.20)  # 94.10


# ---------------------------------------------------------------------------------------------- option 4


def test_option4_buys_all_delivered_and_sells_all_received():
    o = outputs(4, E2, item=tariff_t(mincharge=50, minchargeunits="$/month"))
    assert o["two_meter_sales"][APR] == pytest.approx(20.40)
    assert o["two_meter_sales"][MAY] == pytest.approx(158.20)
    assert o["charge_w_sys_ec"][MAY] == pytest.approx(110.90 - 158.20)
    # the minimum applies to the buy meter only (10 + 110.90 >= 50): no top-up, bill negative
    assert o["charge_w_sys_minimum"][MAY] == 0
    assert o["utility_bill_w_sys"][MAY] == pytest.approx(10 - 47.30)
    assert np.all(o["excess_kwhs_earned"] == 0) and np.all(o["net_billing_credits"] == 0)


# ---------------------------------------------------------------------------------------------- converter


@pytest.mark.parametrize(
    ("dgrules", "option"),
    [
        (None, 0),
        ("Net Metering", 0),
        ("Net Billing Instantaneous", 2),
        ("Net Billing Hourly", 3),
        ("Buy All Sell All", 4),
    ],
)
def test_converter_maps_dgrules_and_sell(dgrules, option):
    from .pysam_reference import electricity_rates_from_urdb

    item = tariff_t() if dgrules is None else tariff_t(dgrules=dgrules)
    rates = electricity_rates_from_urdb(item)
    assert rates["ur_metering_option"] == option
    # (period, tier, max, unit, buy, sell), 1-based
    assert [tuple(r) for r in rates["ur_ec_tou_mat"]] == [
        (1, 1, 300, 0, 0.10, 0.03), (1, 2, 1e38, 0, 0.20, 0.04),
        (2, 1, 300, 0, 0.30, 0.05), (2, 2, 1e38, 0, 0.50, 0.06),
    ]  # fmt: skip


def test_converter_leaves_unknown_dgrules_to_the_ssc_default():
    from .pysam_reference import electricity_rates_from_urdb

    assert "ur_metering_option" not in electricity_rates_from_urdb(tariff_t(dgrules="Net Billing"))
