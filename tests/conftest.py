"""Fixtures shared by several test modules, and the order xdist workers take the files in.

Under pytest-xdist (``make test``), the workers are handed the heavy test files first. ``make test`` runs
``-n logical --dist loadfile --no-loadscope-reorder``: each file goes whole to one worker (its module fixtures are
built once), in collection order. A file of minutes (the audited cycle runs, the notebooks, the filing) handed out
last would keep one worker busy while the other sits idle, so on a worker the files holding a slow, notebook,
oracle or ui test are collected first, each file's own order kept. A plain ``pytest`` (one process, no xdist
worker) keeps the usual order.
"""

from __future__ import annotations

import pytest

from workbench.sample import generate_sample_utility

HEAVY = ("slow", "notebook", "oracle", "ui")
#: the small cube of the cycle tests: 60 meters in chunks of 12 (five chunks), October and November 2025
CYCLE_METERS, CYCLE_CHUNK = 60, 12


def pytest_collection_modifyitems(config, items):
    if not hasattr(config, "workerinput"):
        return
    heavy = {item.path for item in items if any(item.get_closest_marker(mark) for mark in HEAVY)}
    items.sort(key=lambda item: item.path not in heavy)  # a stable sort: a file's tests stay in their order


@pytest.fixture(scope="session")
def cycle_cube(tmp_path_factory):
    """A 60-meter sample cube of October-November 2025 in five meter chunks, generated once per session (per
    worker); tests read it and never write to it (a test that damages a cube copies it first)."""
    path = tmp_path_factory.mktemp("cycle-cube") / "cube.zarr"
    generate_sample_utility(path, n_meters=CYCLE_METERS, year=2025, seed=5, meter_chunk=CYCLE_CHUNK, progress=False,
                            months=(10, 11))
    return path
