"""NEM 2.0 vs NEM 3.0 (Net Billing Tariff) impact study: scan once, price many.

Modelled rooftop PV (pvlib on the user's TMY3 or EPW weather and site, ``weather=Weather(...)``; by default the
TMY3 of Greensboro NC that ships with pvlib) is added to the load of customers without solar at a small grid of system sizes. Each customer's channels at each size are scanned
*once* into determinants (and, per export-value vintage, the per-bill export credits); every question after
that (a retail-rate multiplier, another size of the grid, another vintage, another class) is pricing on the
cached determinants.

Per customer and year the study reports:

bill_no_solar [$]
    Annual bill on the class's study tariff with the metered load and no PV.
bill_nem2, bill_nem3 [$]
    Annual bill with PV under NEM 2.0 (program ``NEM2``) and under NEM 3.0 (program ``NBT`` with the chosen
    export-value vintage and its first-year adder). Calendar-month bills; the system gets permission to
    operate (PTO) on the first day of the data, so the 12-month true-up falls on the last (December) bill.
savings_nem2, savings_nem3 [$/year]
    ``bill_no_solar - bill_nemX``.
payback_nem2, payback_nem3 [years]
    Simple payback ``system_cost / savings`` (``inf`` when the savings are not positive);
    ``system_cost = size_kw * 1000 * cost_per_watt`` [$].
export_share [-]
    ``received_kwh / pv_kwh``: the share of the PV generation that flows to the grid (0..1).
avoided_cost [$/year]
    Value to the utility of the customer's PV generation at avoided cost: every generated kWh, whether used
    on site (a kWh the utility no longer buys) or exported (a kWh it buys from the customer instead of the
    market), at that hour's export value of the vintage's Avoided Cost Calculator table, *without* the
    first-year adder (the adder is an incentive, not an avoided cost).
cost_shift_nem2, cost_shift_nem3 [$/year]
    The cost shift to non-participants: the utility revenue the participant no longer pays (its bill
    savings, which the utility must recover from everyone else) minus the costs the utility avoids
    (``avoided_cost``): ``cost_shift = savings - avoided_cost``. This is the ratepayer-impact (RIM)
    definition of the CPUC's NEM evaluations. A narrower variant values only the exports,
    ``export_cost_shift = savings - exported kWh at avoided cost`` (treating self-consumption as pure lost
    revenue); it is reported as ``export_cost_shift_nem2/3``.

Existing solar customers (a ``nem_program`` in the cube, or any received energy) keep their metered channels
at every size: their NEM 2.0 and NEM 3.0 bills are computed on what the meter recorded; their bill without
solar, PV generation, savings and cost shift are unknown (their gross load is not metered) and are NaN.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import workbench
from workbench.ami.cube import open_cube
from workbench.calendar.periods import BillPeriods, calendar_month_periods, periods_from_rows
from workbench.design.nem_summary import simple_payback, summarize  # noqa: F401 (the study's API)
from workbench.design.solar import TMY_FILE, PVSystem, Weather, add_pv, pv_kwh_per_kw, read_weather, tmy_path  # noqa: F401 (the study's API)
from workbench.engine.determinants import scan, schedule_arrays
from workbench.engine.pricing import Determinants, price
from workbench.errors import WorkbenchError
from workbench.nem import load_program
from workbench.nem.billing import Enrollment, bill_with_program
from workbench.nem.exports import export_prices, read_export_values
from workbench.nem.programs import Program
from workbench.sample import generate_sample_utility
from workbench.tariffs import load_tariff
from workbench.tariffs.compile import CompiledTariff

#: the sample utility's tariff book (repository ``tariffs/``)
TARIFF_BOOK = Path(workbench.__file__).resolve().parent.parent / "tariffs"
#: system sizes scanned by default [kW DC]; 0 is "no solar"
DEFAULT_SIZES = (0.0, 3.0, 5.0, 7.0, 10.0)
#: the study tariff of each customer class (both programs need a time-of-use rate)
CLASS_TARIFFS = {"RES": "RES-TOU", "SGS": "GS-TOU-DEMAND", "LGS": "LGS-TOU"}


class StudyError(WorkbenchError):
    """The study cannot run as asked (a size outside the scanned grid, an unknown class or vintage)."""


def export_value_series(program: Program, vintage: int, utc, local, step_minutes: int, pto_date=None,
                        adders: bool = True) -> np.ndarray:
    """(T,) export value [$/kWh] of ``program``'s ``vintage`` table at each interval, with its adders from PTO.

    Unlike ``workbench.nem.resolve.vintage_prices`` the vintage is chosen, not derived from the PTO year (a
    what-if: "a customer on the 2022 table"); the adders run ``years`` from ``pto_date`` exactly as there.
    """
    vintages = program.export_values.vintages if program.export_values else {}
    if vintage not in vintages:
        raise StudyError(f"program {program.code}: no export-value vintage {vintage} (vintages {sorted(vintages)})")
    values = read_export_values(vintages[vintage], base_dir=program.__dict__.get("_base_dir"))
    prices = export_prices(values, utc, local, step_minutes, vintages[vintage])
    if adders:
        start = np.datetime64(pto_date, "D") if pto_date is not None else np.asarray(utc[0]).astype("datetime64[D]")
        for adder in program.export_values.adders:
            until = start + np.timedelta64(int(round(adder.years * 365.25)), "D")
            prices = prices + np.where(utc < until, adder.rate, 0.0)
    return prices


def scale_energy_rates(tariff: CompiledTariff, multiplier: float) -> CompiledTariff:
    """A copy of ``tariff`` with every energy charge's rates (flat, ToU and block rates) × ``multiplier``.

    Fixed, demand, rider and tax charges are unchanged (taxes follow the energy charges they apply to).
    """
    if multiplier == 1.0:
        return tariff
    versions = [
        dataclasses.replace(version, charges=[
            dataclasses.replace(c, rates=c.rates * multiplier) if c.kind in ("energy", "energy_blocks") else c
            for c in version.charges
        ])
        for version in tariff.versions
    ]
    return dataclasses.replace(tariff, versions=versions)


def annual_total(items) -> np.ndarray:
    """(M,) the sum of each meter's bills [$] from line items (J, M, B)."""
    return np.asarray(items.total()).sum(axis=1)


# ---------------------------------------------------------------------------------------------------------
# the scan (once)


@dataclass
class ClassScan:
    """The cached determinants of one customer class (M meters × B calendar-month bills)."""

    customer_class: str
    tariff: CompiledTariff
    periods: BillPeriods
    meter: np.ndarray  # (M,) meter ids
    account: np.ndarray  # (M,)
    existing_solar: np.ndarray  # (M,) bool: metered channels kept at every size
    determinants: dict = field(default_factory=dict)  # size -> Determinants
    export_credit: dict = field(default_factory=dict)  # (size, vintage) -> (M, B) [$] NBT credits incl. adders
    export_credit_no_adder: dict = field(default_factory=dict)  # (size, vintage) -> (M, B) [$] at avoided cost
    exported_avoided: dict = field(default_factory=dict)  # (size, vintage) -> (M,) [$] received kWh × ACC


def _stack(parts: list[Determinants]) -> Determinants:
    out = {}
    for name in Determinants.__dataclass_fields__:
        values = [getattr(p, name) for p in parts]
        out[name] = None if values[0] is None else np.concatenate(values, axis=0)
    return Determinants(**out)


@dataclass
class StudyData:
    """Determinants of every study customer at every size of the grid and every vintage, scanned once.

    Build with :meth:`from_cube` or :meth:`from_arrays`; ask with :meth:`price_case` (per customer) and
    :func:`summarize`. Re-pricing never touches interval data.
    """

    classes: dict[str, ClassScan]
    sizes: tuple[float, ...]  # [kW DC]
    vintages: tuple[int, ...]
    nem2: Program
    nbt: Program
    pto_date: np.datetime64
    pv_kwh_per_kw_year: float  # [kWh/kW] annual AC generation of 1 kW DC
    avoided_per_kw: dict[int, float]  # vintage -> [$/kW-year] generation of 1 kW DC at avoided cost
    scan_seconds: float = 0.0
    weather: Weather = Weather()  # noqa: RUF009 (frozen) where the PV is and the weather it sees
    _cache: dict = field(default_factory=dict, repr=False)

    # --- building -------------------------------------------------------------------------------------

    @classmethod
    def from_arrays(cls, utc, step_minutes: int, delivered, received, customer_class, *, timezone: str,
                    meter=None, account=None, existing_solar=None, **options) -> StudyData:
        """Scan in-memory channels: ``delivered``, ``received`` (M, T) [kWh per interval] on UTC starts ``utc``.

        ``customer_class`` (M,) class codes (keys of ``tariffs``); ``existing_solar`` (M,) bool, default: any
        received energy. Options: see :meth:`_build`.
        """
        delivered = np.asarray(delivered)
        received = np.zeros_like(delivered) if received is None else np.asarray(received)
        n = delivered.shape[0]
        meta = pd.DataFrame({
            "meter": np.asarray(meter if meter is not None else [f"M{i:06d}" for i in range(n)]).astype(str),
            "account": np.asarray(account if account is not None else [f"A{i:06d}" for i in range(n)]).astype(str),
            "customer_class": np.asarray(customer_class).astype(str),
            "existing_solar": (np.asarray(existing_solar, bool) if existing_solar is not None
                               else np.nansum(received, axis=1) > 0),
        })
        return cls._build(np.asarray(utc).astype("datetime64[m]"), int(step_minutes), timezone, meta,
                          lambda rows: (delivered[rows], received[rows]), **options)

    @classmethod
    def from_cube(cls, path, *, classes=None, **options) -> StudyData:
        """Scan the interval cube at ``path`` (read a meter chunk at a time); ``classes``: None = all present."""
        ds = open_cube(path)
        received_total = ds["received_kwh"].sum("time").values
        program = ds["nem_program"].values.astype(str)
        meta = pd.DataFrame({
            "meter": ds["meter"].values.astype(str),
            "account": ds["account"].values.astype(str),
            "customer_class": ds["customer_class"].values.astype(str),
            "existing_solar": (program != "") | (received_total > 0),
        })
        if classes is not None:
            meta = meta[meta["customer_class"].isin(list(classes))]
        utc = ds["time"].values.astype("datetime64[m]")
        step = int(ds.attrs.get("step_minutes") or (utc[1] - utc[0]).astype(int))

        def read(rows):
            sub = ds.isel(meter=np.asarray(rows))
            return sub["delivered_kwh"].values, sub["received_kwh"].values

        return cls._build(utc, step, ds.attrs["timezone"], meta, read, **options)

    @classmethod
    def _build(cls, utc, step_minutes, timezone, meta: pd.DataFrame, read: Callable, *, sizes=DEFAULT_SIZES,
               vintages=None, tariffs=None, nem2="NEM2", nbt="NBT", book=TARIFF_BOOK, pv_system=PVSystem(),  # noqa: B008 (frozen)
               weather=Weather(), chunk_meters: int = 512) -> StudyData:  # noqa: B008 (frozen)
        """The scan. ``tariffs``: class -> tariff (code in ``book``, path or CompiledTariff), default
        ``CLASS_TARIFFS``; ``nem2``/``nbt``: program codes in ``book/programs`` or Programs; ``vintages``:
        default all of the NBT program's; ``weather``: a :class:`Weather` (TMY3/EPW file, site);
        ``chunk_meters`` bounds memory (2 channels × chunk × T float32)."""
        started = time.perf_counter()
        book = Path(book)
        programs = {}
        for key, program in (("nem2", nem2), ("nbt", nbt)):
            programs[key] = program if isinstance(program, Program) else load_program(
                book / "programs" / f"{program}.yaml" if not str(program).endswith((".yaml", ".yml")) else program)
        nbt_program = programs["nbt"]
        vintages = tuple(sorted(vintages or nbt_program.export_values.vintages))
        sizes = tuple(sorted({float(s) for s in sizes} | {0.0}))
        pto = None  # PTO: the first local day of the data (new systems interconnect as the year starts)
        pv = pv_kwh_per_kw(utc, step_minutes, pv_system, weather)
        tariff_of = {**CLASS_TARIFFS, **(tariffs or {})}
        out, avoided_per_kw = {}, {}
        for class_code, rows in meta.groupby("customer_class", sort=True).groups.items():
            if class_code not in tariff_of:
                continue
            tariff = tariff_of[class_code]
            if not isinstance(tariff, CompiledTariff):
                path = Path(tariff) if str(tariff).endswith((".yaml", ".yml", ".json")) else book / f"{tariff}.yaml"
                tariff = load_tariff(path)
            tz = tariff.timezone or timezone
            schedule = schedule_arrays(tariff, utc, step_minutes, timezone=tz)
            day = schedule.local.day
            first, end = np.datetime64(int(day[0]), "D"), np.datetime64(int(day[-1]), "D") + 1
            pto = first
            sub = meta.loc[rows]
            positions = np.asarray(rows)  # meta's index: row positions in the source
            periods = periods_from_rows([calendar_month_periods(first, end)] * len(sub), day)
            # export values per interval: credited by NBT (with the adder from PTO) and the avoided cost (without)
            prices = {}
            for v in vintages:
                prices[("credit", v)] = export_value_series(nbt_program, v, utc, schedule.local, step_minutes, pto)
                prices[("acc", v)] = export_value_series(nbt_program, v, utc, schedule.local, step_minutes, pto,
                                                         adders=False)
                avoided_per_kw.setdefault(v, float(pv @ prices[("acc", v)]))
            # every meter has the same calendar-month periods: the export credits of each price series are
            # per-period sums of received kWh × price (numpy, no re-scan per vintage)
            keys = list(prices)
            edges = periods.bounds[0]
            if (np.diff(periods.bounds, axis=0) != 0).any() or (np.diff(edges) <= 0).any():
                raise StudyError("the study expects the same non-empty calendar-month bill periods for every meter")
            scanned = ClassScan(class_code, tariff, periods, sub["meter"].to_numpy(), sub["account"].to_numpy(),
                                sub["existing_solar"].to_numpy(bool))
            parts = {s: [] for s in sizes}
            valued = {s: [] for s in sizes}
            for lo in range(0, len(sub), chunk_meters):
                chunk = slice(lo, lo + chunk_meters)
                delivered, received = read(positions[chunk])
                existing = scanned.existing_solar[chunk]
                for s in sizes:
                    d, r = delivered, received
                    if s > 0:
                        d_pv, r_pv = add_pv(delivered, (pv * s).astype(delivered.dtype))
                        d = np.where(existing[:, None], delivered, d_pv)
                        r = np.where(existing[:, None], received, r_pv)
                    parts[s].append(scan(tariff, schedule, d, r, periods.bounds[chunk]))
                    r64 = np.nan_to_num(np.asarray(r[:, : edges[-1]], dtype=float))
                    valued[s].append(np.stack([np.add.reduceat(r64 * prices[key][: edges[-1]], edges[:-1], axis=1)
                                               for key in keys], axis=1))
            for s in sizes:
                scanned.determinants[s] = _stack(parts[s])
                per_key = np.concatenate(valued[s], axis=0)  # (M, keys, B)
                for k, (kind, v) in enumerate(keys):
                    if kind == "credit":
                        scanned.export_credit[(s, v)] = per_key[:, k]
                    else:
                        scanned.exported_avoided[(s, v)] = per_key[:, k].sum(axis=1)
                        scanned.export_credit_no_adder[(s, v)] = per_key[:, k]
            out[class_code] = scanned
        if not out:
            raise StudyError(f"no study customers: classes present {sorted(meta['customer_class'].unique())}, "
                             f"classes with a study tariff {sorted(tariff_of)}")
        return cls(out, sizes, vintages, programs["nem2"], nbt_program, pto, float(pv.sum()), avoided_per_kw,
                   time.perf_counter() - started, weather)

    # --- pricing (many) -------------------------------------------------------------------------------

    def _check(self, customer_class, size_kw, vintage):
        if customer_class not in self.classes:
            raise StudyError(f"customer class {customer_class!r} was not scanned (scanned: {sorted(self.classes)})")
        if float(size_kw) not in self.sizes:
            raise StudyError(f"system size {size_kw} kW is not on the scanned grid {list(self.sizes)} kW; "
                             "rebuild the StudyData with that size in `sizes`")
        if int(vintage) not in self.vintages:
            raise StudyError(f"export-value vintage {vintage} was not scanned (scanned: {list(self.vintages)})")

    def _no_solar(self, scanned: ClassScan, tariff, multiplier):
        # no-solar bills depend on class and rates only: a size or vintage change reuses them (dashboard
        # sessions share this cache across threads: read once, write whole values, never clear while reading)
        key = ("no_solar", scanned.customer_class, multiplier)
        bills = self._cache.get(key)
        if bills is None:
            bills = annual_total(price(tariff, scanned.determinants[0.0], scanned.periods))
            if len(self._cache) < 64:
                self._cache[key] = bills
        return bills

    def price_case(self, customer_class: str = "RES", size_kw: float = 5.0, vintage: int | None = None,
                   rate_multiplier: float = 1.0, cost_per_watt: float = 3.00,
                   first_year_adder: bool = True) -> pd.DataFrame:
        """Per-customer annual results of one case (pure pricing on the cached determinants).

        Parameters
        ----------
        customer_class : a scanned class code (RES, SGS, LGS)
        size_kw : system size on the scanned grid [kW DC]
        vintage : NBT export-value vintage (default: the latest scanned)
        rate_multiplier : factor on the tariff's energy rates [-]
        cost_per_watt : installed system cost [$/W DC]
        first_year_adder : credit NEM 3.0 exports with the program's first-year adder (ACC Plus, year one);
            False gives the bill of the years after (export values of the vintage only)

        Returns one row per customer: meter, account, customer_class, existing_solar, size_kw, pv_kwh,
        load_kwh, delivered_kwh, received_kwh, export_share, bill_no_solar, bill_nem2, bill_nem3, savings_nem2,
        savings_nem3, system_cost, payback_nem2, payback_nem3, avoided_cost, cost_shift_nem2, cost_shift_nem3,
        export_cost_shift_nem2, export_cost_shift_nem3 (see the module docstring for units and definitions).
        """
        vintage = self.vintages[-1] if vintage is None else int(vintage)
        size_kw = float(size_kw)
        self._check(customer_class, size_kw, vintage)
        scanned = self.classes[customer_class]
        existing = scanned.existing_solar
        tariff = scale_energy_rates(scanned.tariff, float(rate_multiplier))
        det = scanned.determinants[size_kw]
        credits = scanned.export_credit if first_year_adder else scanned.export_credit_no_adder
        det_nbt = dataclasses.replace(det, export_credit=credits[(size_kw, vintage)])
        enrollment = {p.code: Enrollment(p, self.pto_date) for p in (self.nem2, self.nbt)}
        no_solar = np.where(existing, np.nan, self._no_solar(scanned, tariff, float(rate_multiplier)))
        nem2 = annual_total(bill_with_program(tariff, det, scanned.periods, enrollment[self.nem2.code]).items)
        nem3 = annual_total(bill_with_program(tariff, det_nbt, scanned.periods, enrollment[self.nbt.code],
                                              export_valued=True).items)
        modelled = ~existing
        pv = np.where(modelled, size_kw * self.pv_kwh_per_kw_year, np.nan)
        received = det.received_kwh.sum(axis=(1, 2))
        savings2, savings3 = no_solar - nem2, no_solar - nem3
        cost = np.where(modelled, size_kw * 1000.0 * cost_per_watt, np.nan)
        avoided = np.where(modelled, size_kw * self.avoided_per_kw[vintage], np.nan)
        exported_avoided = np.where(modelled, scanned.exported_avoided[(size_kw, vintage)], np.nan)
        load = scanned.determinants[0.0].delivered_kwh.sum(axis=1)
        return pd.DataFrame({
            "meter": scanned.meter, "account": scanned.account, "customer_class": customer_class,
            "existing_solar": existing, "size_kw": np.where(modelled, size_kw, np.nan), "vintage": vintage,
            "pv_kwh": pv, "load_kwh": np.where(modelled, load, np.nan),
            "delivered_kwh": det.delivered_kwh.sum(axis=1), "received_kwh": received,
            "export_share": np.divide(received, pv, out=np.full_like(received, np.nan), where=pv > 0),
            "bill_no_solar": no_solar, "bill_nem2": nem2, "bill_nem3": nem3,
            "savings_nem2": savings2, "savings_nem3": savings3, "system_cost": cost,
            "payback_nem2": simple_payback(cost, savings2), "payback_nem3": simple_payback(cost, savings3),
            "avoided_cost": avoided,
            "cost_shift_nem2": savings2 - avoided, "cost_shift_nem3": savings3 - avoided,
            "export_cost_shift_nem2": savings2 - exported_avoided, "export_cost_shift_nem3": savings3 - exported_avoided,
        })

    def size_sweep(self, customer_class: str = "RES", vintage: int | None = None, rate_multiplier: float = 1.0,
                   cost_per_watt: float = 3.00, first_year_adder: bool = True) -> pd.DataFrame:
        """:func:`summarize` of the modelled participants at every size > 0 of the grid, one row per size."""
        rows = []
        for size in self.sizes:
            if size > 0:
                case = self.price_case(customer_class, size, vintage, rate_multiplier, cost_per_watt, first_year_adder)
                rows.append(summarize(case).loc["modelled PV"])
        return pd.DataFrame(rows).reset_index(drop=True)


def ensure_sample_cube(path, n_meters: int = 200, seed: int = 42) -> Path:
    """The sample utility's cube at ``path``, generated (``workbench.sample``) if it is not there yet."""
    path = Path(path)
    if not path.exists():
        generate_sample_utility(path, n_meters=n_meters, seed=seed, progress=False)
    return path
