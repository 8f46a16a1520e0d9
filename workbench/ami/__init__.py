"""AMI interval data: the interval cube store (``workbench.ami.cube``), readers, the meter registry.

The ingest is ``workbench.ami.ingest.ingest`` (not imported here: it pulls in numba and zarr).
"""

from workbench.ami.cube import (
    QUALITY_ACTUAL,
    QUALITY_ESTIMATED,
    QUALITY_MISSING,
    open_cube,
    validate_cube,
    write_cube,
)
from workbench.ami.registry import (
    Meter,
    MeterRegistry,
    RegistryError,
    load_registry,
    registry_from_cube,
    write_registry_csv,
)

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
