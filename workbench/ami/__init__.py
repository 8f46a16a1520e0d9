"""AMI interval data: the interval cube store (``workbench.ami.cube``), readers, the meter registry.

The ingest is ``workbench.ami.ingest.ingest`` (not imported here: it pulls in numba and zarr).
"""

from workbench.ami.cube import open_cube, write_cube
from workbench.ami.cube_schema import (
    QUALITY_ACTUAL,
    QUALITY_ESTIMATED,
    QUALITY_MISSING,
    validate_cube,
)
from workbench.ami.registry import MeterRegistry, load_registry, registry_from_cube, write_registry_csv
from workbench.ami.registry_meter import Meter, RegistryError

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
