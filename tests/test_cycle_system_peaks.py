"""``workbench cycle --system-peaks``: the peak file reaches every coincident-peak charge of the tariff book, the
cycle bills them as ``workbench bill`` does, and the file is part of the run (another file is another run)."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from workbench.ami.cube import open_cube
from workbench.billing import bill_series
from workbench.billing.cycle import run_cycle
from workbench.billing.cycle_plan import plan_cycle
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.sample import generate_sample_utility
from workbench.tariffs import load_tariff
from workbench.tariffs.system_peaks import read_system_peaks

pytestmark = pytest.mark.slow

CP_RATE = 4.00  # $/kW of demand at the system peak
PEAKS = ["2025-10-15 17:00", "2025-11-12 18:00"]  # local (America/New_York, the tariff's)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cp")
    cube = root / "cube.zarr"
    generate_sample_utility(cube, n_meters=40, year=2025, seed=5, meter_chunk=20, progress=False, months=(10, 11))
    book = root / "tariffs"
    shutil.copytree("tariffs", book)
    path = book / "GS-TOU-DEMAND.yaml"
    text = path.read_text()
    rider = "      - {type: rider, description: Power cost adjustment, rate: 0.0035}\n"
    assert rider in text
    path.write_text(text.replace(rider, rider + "      - {type: demand, description: Coincident-peak demand, "
                                 f"measure: coincident, rates: {CP_RATE}}}\n"))
    peaks = root / "peaks.csv"
    peaks.write_text("start,label\n" + "".join(f"{p},12CP\n" for p in PEAKS))
    out = root / "out"
    run_cycle(cube, book, out, progress=False, system_peaks=peaks)
    return cube, book, peaks, out


def test_cycle_bills_coincident_peaks_as_the_bill_command_does(setup):
    cube, book, peaks, out = setup
    ds = open_cube(cube, chunks=False)
    bills = pd.read_parquet(out / "bills.parquet")
    items = pd.read_parquet(out / "line_items.parquet")
    meters = np.flatnonzero(ds["rate_code"].values == "GS-TOU-DEMAND")
    assert len(meters)
    tariff = load_tariff(book / "GS-TOU-DEMAND.yaml", system_peaks=read_system_peaks(peaks))
    times = pd.DatetimeIndex(ds["time"].values).tz_localize("UTC").tz_convert(ds.attrs["timezone"])
    checked = 0
    for m in meters:
        meter = str(ds["meter"].values[m])
        reads = [pd.Timestamp(r).date() for r in ds["read_date"].sel(cycle_id=int(ds["cycle"].values[m])).values
                 if not np.isnat(r)]
        alone = bill_series(tariff, times, ds["delivered_kwh"].values[m], ds["received_kwh"].values[m],
                            read_dates=reads)
        mine = bills[bills.meter == meter].sort_values("period_start")
        assert len(alone) == len(mine)
        for bill, (_, row) in zip(alone, mine.iterrows(), strict=True):
            assert bill.total == pytest.approx(row.total, abs=1e-9)
            cp = items[(items.meter == meter) & (items.period_start == row.period_start)
                       & items.description.str.startswith("Coincident-peak demand")]
            # by hand: the 15-minute interval starting at each peak inside the period, kWh × 4 = kW, × $4.00;
            # a partial period (the cube's first or last, clipped) pays days / the read cycle's days of it
            start_day = pd.Timestamp(row.period_start).date()
            nominal = next(((b - a).days for a, b in zip(reads, reads[1:], strict=False) if a <= start_day < b),
                           int(row.days))
            share = row.days / nominal if row.days < nominal else 1.0
            expected = 0.0
            for p in PEAKS:
                start = pd.Timestamp(p, tz="America/New_York")
                if pd.Timestamp(row.period_start) <= start.tz_localize(None) < pd.Timestamp(row.period_end):
                    i = int(np.flatnonzero(times == start)[0])
                    kw = ds["delivered_kwh"].values[m][i] * 4
                    expected += round(kw * CP_RATE * share, 2)
            assert cp.amount.sum() == pytest.approx(expected, abs=0.005)
            checked += 1
    assert checked >= 2


def test_another_peak_file_is_another_run(setup, tmp_path):
    cube, book, peaks, out = setup
    other = tmp_path / "other.csv"
    other.write_text("start\n2025-10-16 17:00\n")
    same = plan_cycle(cube, book, tmp_path / "a", system_peaks=peaks)
    changed = plan_cycle(cube, book, tmp_path / "a", system_peaks=other)
    assert same.key != changed.key  # a resume never mixes chunks billed on other peaks
    assert same.inputs["system_peaks"]["sha256"] != changed.inputs["system_peaks"]["sha256"]
    with pytest.raises(WorkbenchError, match="system-peak file"):
        run_cycle(cube, book, out, progress=False, system_peaks=other)  # the output of the first file's run


def test_cycle_without_the_file_names_it(setup, tmp_path, capsys):
    cube, book, _, _ = setup
    assert main(["cycle", "--cube", str(cube), "--tariffs", str(book), "--out", str(tmp_path / "o"),
                 "--quiet"]) == 2
    assert "--system-peaks FILE" in capsys.readouterr().err
