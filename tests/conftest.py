"""Fixtures shared by several test modules."""

from __future__ import annotations

import pytest

from workbench.sample import generate_sample_utility

#: the small cube of the cycle tests: 60 meters in chunks of 12 (five chunks), October and November 2025
CYCLE_METERS, CYCLE_CHUNK = 60, 12


@pytest.fixture(scope="session")
def cycle_cube(tmp_path_factory):
    """A 60-meter sample cube of October-November 2025 in five meter chunks, generated once per session; tests
    read it and never write to it (a test that damages a cube copies it first)."""
    path = tmp_path_factory.mktemp("cycle-cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=CYCLE_METERS, year=2025, seed=5, meter_chunk=CYCLE_CHUNK, progress=False,
                            months=(10, 11))
    return path
