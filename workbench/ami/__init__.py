"""AMI interval data: the interval cube store (``workbench.ami.cube``), readers, the meter registry.

The ingest is ``workbench.ami.ingest.ingest`` (not imported here: it pulls in numba and zarr).
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the names below, for readers and type checkers; at run time they load on first use
    from workbench.ami.cube import open_cube, write_cube
    from workbench.ami.cube_schema import QUALITY_ACTUAL, QUALITY_ESTIMATED, QUALITY_MISSING, validate_cube
    from workbench.ami.registry import MeterRegistry, load_registry, registry_from_cube, write_registry_csv
    from workbench.ami.registry_meter import Meter, RegistryError

# Each public name and the module that defines it. The package loads a module on first use of one of its names
# (PEP 562), so a bill run, which reads interval files (workbench.ami.readers) and plans from the cube's Zarr arrays
# (workbench.ami.cube_arrays), does not import xarray with workbench.ami.cube (~0.15 s of every one-shot command).
_HOMES = {
    "QUALITY_ACTUAL": "cube_schema",
    "QUALITY_ESTIMATED": "cube_schema",
    "QUALITY_MISSING": "cube_schema",
    "Meter": "registry_meter",
    "MeterRegistry": "registry",
    "RegistryError": "registry_meter",
    "load_registry": "registry",
    "open_cube": "cube",
    "registry_from_cube": "registry",
    "validate_cube": "cube_schema",
    "write_cube": "cube",
    "write_registry_csv": "registry",
}

__all__ = [
    "QUALITY_ACTUAL",
    "QUALITY_ESTIMATED",
    "QUALITY_MISSING",
    "Meter",
    "MeterRegistry",
    "RegistryError",
    "load_registry",
    "open_cube",
    "registry_from_cube",
    "validate_cube",
    "write_cube",
    "write_registry_csv",
]


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'workbench.ami' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"workbench.ami.{home}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
