"""Errors for people.

Every error the workbench raises on bad input is a :class:`WorkbenchError`. Its message names the file, the
field or row, what was found and what was expected, so a billing manager can act on it. The command line
prints the message (no traceback) and exits with status 2.
"""


class WorkbenchError(Exception):
    """Bad input or configuration, explained in the message."""


class TariffError(WorkbenchError):
    """A tariff file is invalid (unknown field, overlapping ToU hours, non-monotonic tiers...)."""


class IntervalDataError(WorkbenchError):
    """Interval data cannot be used as given (non-uniform step, duplicates, missing offset...)."""


class CubeError(WorkbenchError):
    """The interval cube on disk does not follow docs/cube.md."""


class BillingError(WorkbenchError):
    """Bills cannot be computed (no tariff for a rate code, no bill periods in the data...)."""
