"""In a billing cycle, a meter on a tariff that needs kVARh is held with the reason; the other meters bill."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from workbench.ami.cube import open_cube, write_cube
from workbench.billing.cycle import run_cycle
from workbench.sample import generate_sample_utility

PF_TARIFF = """code: GS-PF
name: General service with power-factor adjustment
timezone: America/Los_Angeles
sector: commercial
demand: {interval_minutes: 15}
versions:
  - effective: 2020-01-01
    charges:
      - {type: customer, amount: 20.0, per: month}
      - {type: energy, rates: 0.12}
      - {type: demand, rates: 12.0}
      - {type: power_factor, method: demand_multiplier, threshold: 0.9}
"""


@pytest.mark.slow
def test_meters_without_reactive_channel_go_to_exceptions(tmp_path):
    generate_sample_utility(tmp_path / "base.zarr", n_meters=40, year=2025, seed=3, meter_chunk=20, progress=False)
    ds = open_cube(tmp_path / "base.zarr", chunks=False)
    codes = ds["rate_code"].values.astype(object)
    codes[[1, 5]] = "GS-PF"
    ds = ds.assign_coords(rate_code=("meter", codes.astype(str)))
    write_cube(ds, tmp_path / "cube.zarr", meter_chunk=20)
    book = tmp_path / "tariffs"
    shutil.copytree("tariffs", book)
    (book / "GS-PF.yaml").write_text(PF_TARIFF)
    result = run_cycle(tmp_path / "cube.zarr", book, tmp_path / "out", progress=False)
    assert (result.meters_in, result.meters_billed, result.meters_held) == (40, 38, 2)
    held = pd.read_csv(tmp_path / "out" / "exceptions.csv")
    assert sorted(held.meter) == sorted(str(m) for m in ds["meter"].values[[1, 5]])
    assert held.reason.str.contains("needs the meter's reactive channel .kVARh reads.", regex=True).all()
    assert held.reason.str.contains("power-factor adjustment").all()
