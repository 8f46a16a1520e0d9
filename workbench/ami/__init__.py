"""AMI interval data: the interval cube store (``workbench.ami.cube``), readers and VEE."""

from workbench.ami.cube import (
    QUALITY_ACTUAL,
    QUALITY_ESTIMATED,
    QUALITY_MISSING,
    open_cube,
    validate_cube,
    write_cube,
)

__all__ = [
    "QUALITY_ACTUAL",
    "QUALITY_ESTIMATED",
    "QUALITY_MISSING",
    "open_cube",
    "validate_cube",
    "write_cube",
]
