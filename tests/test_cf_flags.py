"""The cube's CF flag attributes are numbers (``flag_values: [0, 1, 2]``), and a cube written with the older
string form (``"0 1 2"``) still opens and reads the same."""

from __future__ import annotations

import json

import pytest

from workbench.ami.cube import open_cube
from workbench.ami.cube_schema import cf_flag_values
from workbench.sample import generate_sample_utility
from workbench.vee.rules import FLAG_ATTRS, METHOD_ATTRS


@pytest.fixture(scope="module")
def cube(tmp_path_factory):
    path = tmp_path_factory.mktemp("cf") / "cube.zarr"
    generate_sample_utility(path, n_meters=3, year=2025, seed=3, meter_chunk=3, progress=False, months=(11, 11))
    return path


def test_quality_flag_values_are_numbers_on_disk(cube):
    meta = json.loads((cube / "quality" / "zarr.json").read_text())
    assert meta["attributes"]["flag_values"] == [0, 1, 2]
    assert meta["attributes"]["flag_meanings"] == "actual estimated missing"


def test_vee_flag_attributes_are_numbers():
    assert all(isinstance(v, int) for v in METHOD_ATTRS["flag_values"])
    assert all(isinstance(v, int) for v in FLAG_ATTRS["flag_masks"])
    assert len(METHOD_ATTRS["flag_values"]) == len(METHOD_ATTRS["flag_meanings"].split())


def test_older_string_flag_values_still_read(cube):
    meta_path = cube / "quality" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["attributes"]["flag_values"] = "0 1 2"  # as cubes before the numeric form were written
    meta_path.write_text(json.dumps(meta))
    ds = open_cube(cube)
    assert cf_flag_values(ds["quality"].attrs) == [0, 1, 2]
    assert cf_flag_values({"flag_values": [0, 1, 2]}) == [0, 1, 2]
    assert cf_flag_values({}) == []
