"""A bill run plans from the cube's Zarr arrays (``workbench.ami.cube_arrays``), not through xarray: the same layout
and values as xarray gives, and the same refusal, word for word, for a damaged cube.

Plausible one-line bugs each test catches: read dates' NaT padding decoded as a date
(`test_the_arrays_are_what_xarray_gives`), a check of ``validate_cube`` that the array view skips or words otherwise
(`test_a_damaged_cube_is_refused_with_xarray_s_message`), a time encoding xarray decodes another way taken as plain
(`test_another_time_encoding_is_left_to_xarray`).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import zarr

from workbench.ami.cube_arrays import CubeArrays, read_cube_arrays
from workbench.ami.cube_store import quiet_zarr
from workbench.billing.cube_source import open_plan_cube, open_run_cube
from workbench.errors import CubeError
from workbench.sample import generate_sample_utility


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=24, year=2025, seed=5, meter_chunk=8, progress=False, months=(10, 11))
    return path


@pytest.fixture
def copy(cube, tmp_path):
    target = tmp_path / "cube.zarr"
    shutil.copytree(cube, target)
    return target


def test_the_arrays_are_what_xarray_gives(cube):
    arrays, ds = open_plan_cube(cube), open_run_cube(cube, dask=False)
    assert isinstance(arrays, CubeArrays)
    assert set(arrays.coords) == set(ds.coords) and set(arrays.data_vars) == set(ds.data_vars)
    assert arrays.attrs == ds.attrs and dict(arrays.sizes) == dict(ds.sizes)
    for name, var in arrays.variables.items():
        theirs = ds[name].variable
        assert (var.dims, var.dtype, tuple(var.encoding["chunks"])) == (theirs.dims, theirs.dtype,
                                                                         tuple(theirs.encoding["chunks"])), name
        if var._values is not None:  # the small arrays (the interval data are not read)
            ours, want = var.values, theirs.values
            assert ours.dtype == want.dtype, name
            if ours.dtype.kind == "M":  # NaT compares unequal to itself: compare the integers
                np.testing.assert_array_equal(ours.view("i8"), want.view("i8"), err_msg=name)
            else:
                np.testing.assert_array_equal(ours, want, err_msg=name)
    assert np.isnat(arrays["read_date"].values).any()  # the padding of the cycles' read dates: NaT, as in xarray
    assert all(arrays[n]._values is None for n in ("delivered_kwh", "received_kwh", "quality"))


def _edit(path, attrs=None, arrays=None):
    with quiet_zarr():
        group = zarr.open_group(path, mode="a")
        group.attrs.update(attrs or {})
        for name, (index, value) in (arrays or {}).items():
            group[name][index] = value
        zarr.consolidate_metadata(path)


DAMAGE = {
    "no time zone": dict(attrs={"timezone": ""}),
    "unknown time zone": dict(attrs={"timezone": "Mars/Olympus_Mons"}),
    "step not an integer": dict(attrs={"step_minutes": "fifteen"}),
    "wrong step": dict(attrs={"step_minutes": 30}),
    "time not uniform": dict(arrays={"time": (5, 10_000)}),
    "duplicate meter": dict(arrays={"meter": (3, "M000002")}),
    "unknown class": dict(arrays={"customer_class": (0, "XYZ")}),
    "cycle without read dates": dict(arrays={"cycle": (0, 99)}),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_cube_is_refused_with_xarray_s_message(copy, damage):
    _edit(copy, **DAMAGE[damage])
    with pytest.raises(CubeError) as xarray_says:
        open_run_cube(copy, dask=False)
    with pytest.raises(CubeError) as plan_says:
        open_plan_cube(copy)
    assert str(plan_says.value) == str(xarray_says.value)
    assert str(plan_says.value).startswith(f"{copy}: interval cube: ")


@pytest.mark.parametrize("attrs", [{"calendar": "360_day"}, {"units": "minutes since 2025-10-01 04:00:00+02:00"},
                                   {"scale_factor": 2}])
def test_another_time_encoding_is_left_to_xarray(copy, attrs):
    """A calendar, reference or packing xarray decodes otherwise: not the plain layout, so the plan opens the cube
    through xarray, whatever xarray then makes of it."""
    with quiet_zarr():
        group = zarr.open_group(copy, mode="a")
        group["time"].attrs.update(attrs)
        zarr.consolidate_metadata(copy)
        assert read_cube_arrays(zarr.open_group(copy, mode="r")) is None
