"""Monthly bills from NREL PySAM ``Utilityrate5``: the reference our billing engine must agree with.

PySAM's conventions (see ``docs/pysam-conventions.md``): one 365-day year whose 1 January is a Monday
(2018), no holidays, no DST, calendar-month bills, demand = the single largest step of net grid import.

``Utilityrate5`` takes load and generation as power [kW] per step, not metered energy. We give it
``load = delivered_kwh * steps_per_hour`` and ``gen = received_kwh * steps_per_hour``, so its per-step
grid power ``gen - load`` has import = delivered and export = received whenever a step has only one of
the two channels non-zero (PySAM nets the two channels inside a step; our engine does not).

The tariff goes through PySAM's own URDB converter (``PySAM.UtilityRateTools.URDBv8_to_ElectricityRates``)
so that the reference includes the converter's reading of URDB fields. Known converter defects can be
corrected with ``fix_converter=True`` (see :func:`electricity_rates_from_urdb`).
"""

from __future__ import annotations

import contextlib
import io
import json

import numpy as np

HOURS_PER_YEAR = 8760
MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)

#: Monthly charge components reported by ``Utilityrate5`` (``charge_w_sys_<name>_ym``), in $.
COMPONENTS = ("fixed", "minimum", "dc_fixed", "dc_tou", "ec")


def _pysam():
    """Import PySAM lazily: collecting works without it; tests/oracle/conftest.py then fails the oracle tests."""
    import PySAM.Utilityrate5 as utilityrate5

    try:
        from PySAM.UtilityRateTools import URDBv8_to_ElectricityRates
    except ImportError:  # older PySAM releases kept the converter in ResourceTools
        from PySAM.ResourceTools import URDBv8_to_ElectricityRates
    return utilityrate5, URDBv8_to_ElectricityRates


def urdb_item(source: dict) -> dict:
    """Return the URDB item from an item or from an API response ``{"items": [item]}``."""
    if "items" in source:
        (item,) = source["items"]
        return item
    return source


def electricity_rates_from_urdb(urdb: dict, *, fix_converter: bool = True) -> dict:
    """Convert a URDB v8 item to ``Utilityrate5.ElectricityRates`` inputs with PySAM's converter.

    The converter mutates its input (it adds 1 to every schedule entry in place), so it gets a copy
    made through JSON (``copy.deepcopy`` would keep rows that are one shared list shared, and the
    converter would add 1 to them once per alias). It also prints a notice for ratchets; that is swallowed.

    With ``fix_converter=True`` three converter defects are corrected, so that the reference means what
    the URDB fields say:

    * ``lookbackmonths`` is ignored by the converter, because ``[[0, 0]] * 12`` makes the twelve rows
      of ``ur_billing_demand_lookback_percentages`` one shared list; we rebuild the rows from
      ``lookbackmonths`` (a month flagged False gets 0 %).
    * the converter leaves column 2 of those rows ("also use the current month's actual peak") at 0,
      so the billing demand of a ratcheted month would be ``lookbackpercent`` x the largest peak of
      the window *including the current month*, never the current month's own peak at 100 %. URDB's
      meaning is ``max(current peak, lookbackpercent x peaks of the prior lookbackrange months)``;
      we set column 2 to 1 in every month.
    * ``lookbackmonths`` without ``lookbackrange`` leaves ``ur_billing_demand_lookback_period`` unset
      (PySAM then refuses to run); we use 11 months, the usual tariff wording ("the preceding eleven
      months").
    """
    _, convert = _pysam()
    urdb = json.loads(json.dumps(urdb_item(urdb)))
    with contextlib.redirect_stdout(io.StringIO()):
        rates = convert(urdb)
    if fix_converter and rates.get("ur_enable_billing_demand"):
        percent = float(urdb.get("lookbackpercent", 0.0)) * 100.0
        months = urdb.get("lookbackmonths") or [True] * 12
        rates["ur_billing_demand_lookback_percentages"] = [
            [percent if months[m] else 0.0, 1.0] for m in range(12)
        ]
        if not urdb.get("lookbackrange"):
            rates["ur_billing_demand_lookback_period"] = 11
    return rates


def _steps(values: np.ndarray | None, steps_per_hour: int, name: str) -> np.ndarray | None:
    if values is None:
        return None
    values = np.asarray(values, dtype=float)
    expected = HOURS_PER_YEAR * steps_per_hour
    if values.shape != (expected,):
        raise ValueError(
            f"{name} must hold one value per step of a 365-day year: expected {expected} values "
            f"({steps_per_hour} steps per hour), got shape {values.shape}"
        )
    return values


def run_utilityrate5(
    urdb: dict,
    delivered_kwh: np.ndarray,
    received_kwh: np.ndarray | None = None,
    steps_per_hour: int = 4,
    metering_option: int | None = None,
    *,
    fix_converter: bool = True,
    yearzero_usage_peaks: np.ndarray | None = None,
    overrides: dict | None = None,
):
    """Run ``Utilityrate5`` for one year and return the executed model.

    Parameters
    ----------
    urdb
        URDB v8 item (or API response with one item).
    delivered_kwh, received_kwh
        Energy imported from / exported to the grid in each step of 2018. [kWh]
    steps_per_hour
        1 (hourly) to 60.
    metering_option
        ``ur_metering_option`` (0 NEM kWh rollover, 1 NEM $ rollover, 2 net billing, 3 net billing
        with $ carryover, 4 buy-all/sell-all); ``None`` keeps what the converter chose from
        ``dgrules`` (net metering when absent).
    yearzero_usage_peaks
        ``ur_yearzero_usage_peaks``: the 12 monthly peaks of the year before, used by ratchets in the
        first months [kW]. PySAM requires it whenever ratchets are on; ``None`` gives zeros, i.e. no
        demand history before 1 January (what our engine assumes when it has no earlier intervals).
    overrides
        Extra ``ElectricityRates`` inputs, applied last.
    """
    utilityrate5, _ = _pysam()
    delivered = _steps(delivered_kwh, steps_per_hour, "delivered_kwh")
    received = _steps(received_kwh, steps_per_hour, "received_kwh")
    if received is None:
        received = np.zeros_like(delivered)

    model = utilityrate5.new()
    model.Lifetime.analysis_period = 1
    model.Lifetime.inflation_rate = 0.0
    model.Lifetime.system_use_lifetime_output = 0
    model.SystemOutput.degradation = (0.0,)
    model.Load.load_escalation = (0.0,)
    model.ElectricityRates.rate_escalation = (0.0,)

    rates = electricity_rates_from_urdb(urdb, fix_converter=fix_converter)
    if metering_option is not None:
        rates["ur_metering_option"] = metering_option
    if yearzero_usage_peaks is None:
        yearzero_usage_peaks = np.zeros(12)
    rates["ur_yearzero_usage_peaks"] = [float(v) for v in yearzero_usage_peaks]
    rates.update(overrides or {})
    model.ElectricityRates.assign(rates)

    model.Load.load = tuple(delivered * steps_per_hour)
    model.SystemOutput.gen = tuple(received * steps_per_hour)
    model.execute(0)
    return model


def _year_one(model, name: str) -> np.ndarray:
    """Row for year 1 of a (years + 1) x 12 output."""
    return np.asarray(getattr(model.Outputs, name), dtype=float)[1]


def pysam_monthly_bills(
    urdb_item: dict,
    delivered_kwh: np.ndarray,
    received_kwh: np.ndarray | None = None,
    steps_per_hour: int = 4,
    metering_option: int | None = None,
    **kwargs,
) -> np.ndarray:
    """The 12 monthly bills with system for year 1 (``utility_bill_w_sys_ym[1]``). [$]

    Keyword arguments are passed to :func:`run_utilityrate5`.
    """
    model = run_utilityrate5(
        urdb_item, delivered_kwh, received_kwh, steps_per_hour, metering_option, **kwargs
    )
    return _year_one(model, "utility_bill_w_sys_ym")


def pysam_monthly_components(
    urdb_item: dict,
    delivered_kwh: np.ndarray,
    received_kwh: np.ndarray | None = None,
    steps_per_hour: int = 4,
    metering_option: int | None = None,
    **kwargs,
) -> dict[str, np.ndarray]:
    """Year-1 monthly bill and its components, each an array of 12 values. [$]

    Keys: ``bill`` and the :data:`COMPONENTS` (``fixed``, ``minimum``, ``dc_fixed`` = flat demand,
    ``dc_tou`` = TOU demand, ``ec`` = energy, net of credits), plus ``peak_kw`` (monthly peak of net
    grid import) and ``billing_demand_kw`` (what the flat demand charge was applied to; the monthly peak
    when no ratchet is enabled).
    """
    model = run_utilityrate5(
        urdb_item, delivered_kwh, received_kwh, steps_per_hour, metering_option, **kwargs
    )
    out = {"bill": _year_one(model, "utility_bill_w_sys_ym")}
    for name in COMPONENTS:
        out[name] = _year_one(model, f"charge_w_sys_{name}_ym")
    out["peak_kw"] = np.asarray(model.Outputs.year1_monthly_peak_w_system, dtype=float)
    try:
        out["billing_demand_kw"] = _year_one(model, "billing_demand_w_sys_ym")
    except Exception:  # only assigned when billing demand (ratchets) is enabled
        out["billing_demand_kw"] = out["peak_kw"].copy()
    return out
